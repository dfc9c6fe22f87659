//! The write turn every writing actor shares: judge the idempotency key, apply, append the
//! idempotency record and the operation log's lines to the change, submit it to the journal
//! as one, and answer with the ticket the reply waits on. Every actor (ledger, scheduler,
//! directory, closings) writes through one [`Writer`], so every write is idempotent, logged
//! and acknowledged the same way.

use std::sync::Arc;

use super::idempotency::{IdemTable, Who};
use super::registry::Registry;
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::clock::Clock;
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{IdempotencyKey, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::oplog::Audit;
use crate::storage::codec::OutcomeRec;
use crate::storage::{JournalLog, Storage, Ticket, Write};

/// An actor's journal origin, the idempotency keys it wrote that are not durable yet, and
/// where its writes go in the operation log.
pub struct Writer {
    storage: Storage,
    clock: Arc<dyn Clock>,
    log: JournalLog,
    idem: IdemTable,
    /// The store whose operation log lists this actor's writes (None: the chain's).
    store: Option<StoreId>,
}

impl Writer {
    pub fn new(registry: &Registry, log: JournalLog, store: Option<StoreId>) -> Writer {
        Writer {
            storage: registry.storage.clone(),
            clock: registry.clock.clone(),
            log,
            idem: IdemTable::default(),
            store,
        }
    }

    /// Highest submission of this actor known to be on disk.
    pub fn durable(&self) -> u64 {
        self.log.durable()
    }

    /// The submission the next [`Writer::submit`] makes: what an actor files its in-flight
    /// state under until it is durable.
    pub fn next_seq(&self) -> u64 {
        self.log.next_seq()
    }

    /// A ticket for submission `seq` (0: already durable).
    pub fn ticket(&self, seq: u64) -> Ticket {
        self.log.ticket(seq)
    }

    /// A ticket for everything submitted so far: what a read or a barrier waits for.
    pub fn ticket_for_latest(&self) -> Ticket {
        self.log.ticket_for_latest()
    }

    /// Forgets the keys that are durable by now, and returns the watermark, for the actor
    /// to prune its own in-flight state with.
    pub fn prune(&mut self) -> u64 {
        let durable = self.log.durable();
        self.idem.prune(durable);
        durable
    }

    /// The prologue of every write: `Some` answer for a repeat of `key` (with a ticket for
    /// when the first one is durable), `None` for a fresh key, an error for a key used by a
    /// different request.
    pub fn replay(
        &mut self,
        key: &IdempotencyKey,
        request: &Request,
    ) -> Result<Option<Durable<Outcome>>, ActorError> {
        self.prune();
        self.idem.replay(&self.storage, &self.log, key, request)
    }

    /// The idempotency record and operation-log lines of one write made at `now`, to go into
    /// the next submission; the outcome answers repeats until that submission is durable.
    /// For a submission that holds several writes (a batch); otherwise use a `commit`.
    pub fn record(
        &mut self,
        now: Timestamp,
        key: IdempotencyKey,
        request: Request,
        outcome: &Outcome,
        audit: &Audit,
    ) -> Vec<Write> {
        let seq = self.log.next_seq();
        let who = Who {
            audit,
            store: self.store,
        };
        self.idem.record(seq, now, key, request, outcome, who)
    }

    /// The epilogue of a write: `writes` with the write's idempotency record and
    /// operation-log lines, submitted as one.
    pub fn commit(
        &mut self,
        key: IdempotencyKey,
        request: Request,
        audit: &Audit,
        outcome: Outcome,
        writes: Vec<Write>,
    ) -> Durable<Outcome> {
        let stored = OutcomeRec::from(&outcome);
        let who = Who {
            audit,
            store: self.store,
        };
        self.commit_as(key, request, who, outcome, stored, writes)
    }

    /// [`Writer::commit`] of a write judged by its fingerprint.
    pub fn commit_meta(
        &mut self,
        meta: WriteMeta,
        outcome: Outcome,
        writes: Vec<Write>,
    ) -> Durable<Outcome> {
        let store = self.store;
        self.commit_meta_in(meta, store, outcome, writes)
    }

    /// [`Writer::commit_meta`] listed in the operation log of `store`, not the actor's.
    pub fn commit_meta_in(
        &mut self,
        meta: WriteMeta,
        store: Option<StoreId>,
        outcome: Outcome,
        writes: Vec<Write>,
    ) -> Durable<Outcome> {
        let stored = OutcomeRec::from(&outcome);
        let who = Who {
            audit: &meta.audit,
            store,
        };
        let request = Request::Fingerprint(meta.fingerprint);
        self.commit_as(meta.key, request, who, outcome, stored, writes)
    }

    /// [`Writer::commit_meta`] with the idempotency record's outcome stored as `stored`: a
    /// reference to a record of the same submission that holds the same answer.
    pub fn commit_meta_stored_as(
        &mut self,
        meta: WriteMeta,
        outcome: Outcome,
        stored: OutcomeRec,
        writes: Vec<Write>,
    ) -> Durable<Outcome> {
        let who = Who {
            audit: &meta.audit,
            store: self.store,
        };
        let request = Request::Fingerprint(meta.fingerprint);
        self.commit_as(meta.key, request, who, outcome, stored, writes)
    }

    fn commit_as(
        &mut self,
        key: IdempotencyKey,
        request: Request,
        who: Who<'_>,
        outcome: Outcome,
        stored: OutcomeRec,
        mut writes: Vec<Write>,
    ) -> Durable<Outcome> {
        let now = self.clock.now();
        writes.extend(IdemTable::writes_as(
            now, &key, &request, &outcome, stored, who,
        ));
        self.idem
            .remember(self.log.next_seq(), key, request, &outcome);
        let ticket = self.log.submit(writes);
        Durable {
            value: outcome,
            ticket,
        }
    }

    /// Submits `writes` as one; with nothing to write, a ticket for what is in flight.
    pub fn submit(&mut self, writes: Vec<Write>) -> Ticket {
        if writes.is_empty() {
            self.log.ticket_for_latest()
        } else {
            self.log.submit(writes)
        }
    }
}

/// An actor that writes through a [`Writer`], for [`turn`].
pub trait Writes {
    fn writer(&mut self) -> &mut Writer;
    /// Forgets the actor's own in-flight state that is durable by `durable`.
    fn prune_pending(&mut self, _durable: u64) {}
}

/// The prologue of every write: the actor forgets what is durable, then the key is judged
/// (see [`Writer::replay`]). For a write that [`turn`] can't run in one closure.
pub fn begin<A: Writes>(
    actor: &mut A,
    key: &IdempotencyKey,
    request: &Request,
) -> Result<Option<Durable<Outcome>>, ActorError> {
    let durable = actor.writer().durable();
    actor.prune_pending(durable);
    actor.writer().replay(key, request)
}

/// [`begin`] for a write judged by its fingerprint.
pub fn begin_meta<A: Writes>(
    actor: &mut A,
    meta: &WriteMeta,
) -> Result<Option<Durable<Outcome>>, ActorError> {
    begin(
        actor,
        &meta.key,
        &Request::Fingerprint(meta.fingerprint.clone()),
    )
}

/// One fingerprinted write from start to end. A repeat of the key answers the first
/// outcome. For a fresh key `apply` runs: an `Err` refuses and records nothing; an outcome
/// (a rejection included) is recorded with its writes in one submission.
pub fn turn<A: Writes>(
    actor: &mut A,
    meta: WriteMeta,
    apply: impl FnOnce(&mut A) -> Result<(Outcome, Vec<Write>), ActorError>,
) -> WriteResult {
    if let Some(answer) = begin_meta(actor, &meta)? {
        return Ok(answer);
    }
    let (outcome, writes) = apply(actor)?;
    Ok(actor.writer().commit_meta(meta, outcome, writes))
}

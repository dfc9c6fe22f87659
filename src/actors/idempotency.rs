//! Each writing actor's idempotency table: keys of its writes that are not durable yet, in
//! memory; everything older on disk. One implementation for every actor.

use super::pending::Pending;
use super::{ActorError, Durable};
use crate::domain::idempotency::{judge, Outcome, Replay, Request};
use crate::domain::ids::IdempotencyKey;
use crate::domain::ids::StoreId;
use crate::domain::ledger::Timestamp;
use crate::domain::oplog::{Audit, OpRecord};
use crate::storage::codec::OutcomeRec;
use crate::storage::{oplog, JournalLog, Storage, Write};

/// Who wrote, and the store of the actor that applied it, for the operation log.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub audit: &'a Audit,
    pub store: Option<StoreId>,
}

#[derive(Default)]
pub struct IdemTable {
    pending: Pending<IdempotencyKey, (Request, Outcome)>,
}

impl IdemTable {
    pub fn prune(&mut self, durable: u64) {
        self.pending.prune(durable);
    }

    /// `Some` answer for a repeat (with a ticket for when the first one is durable), `None`
    /// for a fresh key, an error for a key used by a different request.
    pub fn replay(
        &self,
        storage: &Storage,
        log: &JournalLog,
        key: &IdempotencyKey,
        request: &Request,
    ) -> Result<Option<Durable<Outcome>>, ActorError> {
        let (stored, seq) = match self.pending.get(key) {
            Some((seq, (r, o))) => (Some((r.clone(), o.clone())), seq),
            None => (storage.idempotency(key)?, 0),
        };
        match judge(stored.as_ref().map(|(r, o)| (r, o)), request) {
            Replay::Fresh => Ok(None),
            Replay::Repeat(value) => Ok(Some(Durable {
                value: *value,
                ticket: log.ticket(seq),
            })),
            Replay::Conflict => Err(ActorError::IdempotencyConflict),
        }
    }

    /// The idempotency record and the operation log's lines to write with the change; the
    /// outcome is remembered until submission `seq` is durable.
    pub fn record(
        &mut self,
        seq: u64,
        now: Timestamp,
        key: IdempotencyKey,
        request: Request,
        outcome: &Outcome,
        who: Who<'_>,
    ) -> Vec<Write> {
        let writes = Self::writes(now, &key, &request, outcome, who);
        self.remember(seq, key, request, outcome);
        writes
    }

    /// Remembers `outcome` under `key` until submission `seq` is durable.
    pub fn remember(&mut self, seq: u64, key: IdempotencyKey, request: Request, outcome: &Outcome) {
        self.pending.insert(seq, key, (request, outcome.clone()));
    }

    /// The same writes with nothing remembered, for a change that another actor submits
    /// while this one waits for it to be durable.
    pub fn writes(
        now: Timestamp,
        key: &IdempotencyKey,
        request: &Request,
        outcome: &Outcome,
        who: Who<'_>,
    ) -> Vec<Write> {
        Self::writes_as(now, key, request, outcome, outcome.into(), who)
    }

    /// [`IdemTable::writes`] with the outcome stored as `stored`: a reference to a record of
    /// the same batch that holds the same answer, so it is not written twice.
    pub fn writes_as(
        now: Timestamp,
        key: &IdempotencyKey,
        request: &Request,
        outcome: &Outcome,
        stored: OutcomeRec,
        who: Who<'_>,
    ) -> Vec<Write> {
        let rec = OpRecord::new(
            who.audit,
            now,
            who.store,
            key.client_part(),
            request,
            outcome,
        );
        let mut writes = oplog::writes(&rec);
        writes.push(crate::storage::idempotency_write(key, now, request, stored));
        writes
    }
}

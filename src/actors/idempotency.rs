//! Each writing actor's idempotency table: keys of its writes that are not durable yet, in
//! memory; everything older on disk. One implementation for every actor.

use super::pending::Pending;
use super::{ActorError, Durable};
use crate::domain::idempotency::{judge, Outcome, Replay, Request};
use crate::domain::ids::IdempotencyKey;
use crate::domain::ledger::Timestamp;
use crate::storage::codec::{self, IdemRec};
use crate::storage::{keys, JournalLog, Storage, Write};

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

    /// The idempotency record to write with the change, remembered until submission `seq`
    /// is durable.
    pub fn record(
        &mut self,
        seq: u64,
        now: Timestamp,
        key: IdempotencyKey,
        request: Request,
        outcome: &Outcome,
    ) -> Write {
        let write = Self::write(now, &key, &request, outcome);
        self.pending.insert(seq, key, (request, outcome.clone()));
        write
    }

    /// The idempotency record alone, for a write that another actor submits while this one
    /// waits for it to be durable (so no pending entry is needed).
    pub fn write(
        now: Timestamp,
        key: &IdempotencyKey,
        request: &Request,
        outcome: &Outcome,
    ) -> Write {
        Write::put_idem(
            keys::idem(key),
            codec::encode(&IdemRec::new(now, request, outcome)),
        )
    }
}

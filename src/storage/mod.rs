//! Durable state: the RocksDB key layout, the versioned value codec, the group-commit
//! journal (the only writer) and the read side used by recovery and by durable reads.

pub mod bulk_messages;
pub mod closing;
pub mod codec;
pub mod completion;
pub mod counter;
pub mod db;
pub mod directory_writes;
pub mod follow_ups;
pub mod homes;
pub mod journal;
pub mod keys;
pub mod ledger_writes;
pub mod member_sessions;
pub mod members;
pub mod membership_reads;
pub mod notify;
pub mod oplog;
pub mod order_index;
pub mod recycle;
pub mod refund_requests;
pub mod schedule_codec;
pub mod schedule_reads;
pub mod schedule_writes;
pub mod staff;
pub mod stock;
pub mod waitlist;

pub use db::{Storage, StorageError};
pub use journal::{Durability, Journal, JournalLog, Ticket, Write};

/// The write that records `id` as the highest of `kind` issued in `scope`: it goes in the
/// same batch as the object that takes the id.
pub fn id_mark_write(kind: keys::IdKind, scope: u64, id: u64) -> Write {
    Write::put(keys::id_mark(kind, scope), id.to_be_bytes().to_vec())
}

/// The idempotency record of `key`, in CF `idem`: the request's fingerprint and the
/// outcome as stored (`stored` may refer to a record of the same batch).
pub fn idempotency_write(
    key: &crate::domain::ids::IdempotencyKey,
    now: crate::domain::ledger::Timestamp,
    request: &crate::domain::idempotency::Request,
    stored: codec::OutcomeRec,
) -> Write {
    Write::put_idem(
        keys::idem(key),
        codec::encode(&codec::IdemRec::stored_as(now, request, stored)),
    )
}

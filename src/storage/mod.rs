//! Durable state: the RocksDB key layout, the versioned value codec, the group-commit
//! journal (the only writer) and the read side used by recovery and by durable reads.

pub mod closing;
pub mod codec;
pub mod counter;
pub mod db;
pub mod journal;
pub mod keys;
pub mod membership_reads;
pub mod notify;
pub mod oplog;
pub mod recycle;
pub mod schedule_codec;
pub mod schedule_reads;

pub use db::{Storage, StorageError};
pub use journal::{Journal, JournalLog, Ticket, Write};

//! The pure domain: rules and types, with no actix, warp, RocksDB, tokio or system clock.

pub mod access;
pub mod booking;
pub mod calendar;
pub mod hours;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod member;
pub mod money;
pub mod planning;
pub mod recurrence;

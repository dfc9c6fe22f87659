//! The pure domain: rules and types, with no actix, warp, RocksDB, tokio or system clock.

pub mod access;
pub mod agenda;
pub mod appointments;
pub mod booking;
pub mod calendar;
pub mod checkout;
pub mod closing;
pub mod counter;
pub mod coupon;
pub mod follow_up;
pub mod gift;
pub mod hours;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod levels;
pub mod member;
pub mod member_fields;
pub mod membership;
pub mod money;
pub mod notify;
pub mod oplog;
pub mod planning;
pub mod recurrence;
pub mod recycle;
pub mod staff;

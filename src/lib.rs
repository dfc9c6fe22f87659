//! chainstore: a scheduling and stored-value ledger server for chains of stores.
//!
//! Layout (see ARCHITECTURE.md for the map):
//! - [`domain`]: pure rules and types; no actix, warp, RocksDB or system clock.
//! - [`storage`]: RocksDB key layout, value codec, the group-commit journal, durable reads.
//! - [`actors`]: the store ledger actors and the directory; they own all mutable state.
//! - [`api`]: warp routes, wire types, and the one error-to-HTTP mapping.
//! - [`server`]: start-up and shut-down.

pub mod actors;
pub mod api;
pub mod clock;
pub mod config;
pub mod domain;
pub mod server;
pub mod storage;

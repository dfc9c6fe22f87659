//! Integration tests: the real server binary on a loopback port with a temporary RocksDB.
//! One test binary with modules keeps link time down.

mod access;
mod backup;
mod bad_input;
mod batch;
mod bulk_messages;
mod closing;
mod contract;
mod crash;
mod front_desk;
mod fuzz_contract;
mod generated_client;
mod harness;
mod home_move;
mod idempotency;
mod imports;
mod ledger;
mod lifecycle;
mod loadtest;
mod member_channel;
mod members;
mod membership;
mod notify;
mod openapi;
mod operability;
mod plan_cards_gifts;
mod powercut;
mod price_list;
mod recycle;
mod refund_requests;
mod roles;
mod scheduling;
mod staff;
mod waitlist;
mod workload;

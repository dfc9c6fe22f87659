//! Time comes in through this trait so that tests can move it without sleeping.

use chrono::{SubsecRound, Utc};

use crate::domain::ledger::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Microsecond precision: what the journal stores, so a replay renders identically.
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(6)
    }
}

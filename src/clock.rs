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

/// A clock that stands still until told to move: for tests, so they never sleep for time
/// to pass. Enabled only by the `--manual-clock` start-up flag.
#[derive(Debug)]
pub struct ManualClock {
    micros: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            micros: std::sync::atomic::AtomicI64::new(start.timestamp_micros()),
        }
    }

    pub fn set(&self, to: Timestamp) {
        self.micros
            .store(to.timestamp_micros(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let us = self.micros.load(std::sync::atomic::Ordering::SeqCst);
        chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
    }
}

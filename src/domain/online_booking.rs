//! What a store lets members do from their own channel (网上预约): whether they may book
//! online, how far ahead and with how much notice, and until when they may cancel.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::ledger::Timestamp;

/// Longest notice or cancellation window: a week.
pub const WINDOW_MINUTES_MAX: u32 = 7 * 24 * 60;
/// Furthest a store may open its calendar to members.
pub const HORIZON_DAYS_MAX: u32 = 365;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineBooking {
    pub enabled: bool,
    /// Least notice for a booking a member makes.
    pub lead_minutes: u32,
    /// How far ahead a member may book.
    pub horizon_days: u32,
    /// A member may cancel until this long before the start; after that, only staff.
    pub cancel_window_minutes: u32,
}

impl Default for OnlineBooking {
    fn default() -> Self {
        OnlineBooking {
            enabled: true,
            lead_minutes: 30,
            horizon_days: 30,
            cancel_window_minutes: 120,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnlineError {
    #[error("this store does not take bookings from members online")]
    Disabled,
    #[error("online bookings start at least {0} minutes from now")]
    TooSoon(u32),
    #[error("online bookings are open for the next {0} days only")]
    TooFar(u32),
    #[error("this service is booked at the counter (service plans), not online")]
    PlanService,
    #[error("the cancellation window has passed: online cancellation closes {0} minutes before the start; call the store")]
    WindowPassed(u32),
    #[error("notice and cancellation windows are at most {WINDOW_MINUTES_MAX} minutes, the horizon 1 to {HORIZON_DAYS_MAX} days")]
    Invalid,
}

impl OnlineBooking {
    pub fn check(&self) -> Result<(), OnlineError> {
        let ok = self.lead_minutes <= WINDOW_MINUTES_MAX
            && self.cancel_window_minutes <= WINDOW_MINUTES_MAX
            && (1..=HORIZON_DAYS_MAX).contains(&self.horizon_days);
        if ok {
            Ok(())
        } else {
            Err(OnlineError::Invalid)
        }
    }

    /// May a member book a visit starting at `start`, asked at `now`?
    pub fn may_book(&self, start: Timestamp, now: Timestamp) -> Result<(), OnlineError> {
        if !self.enabled {
            return Err(OnlineError::Disabled);
        }
        if start < now + Duration::minutes(i64::from(self.lead_minutes)) {
            return Err(OnlineError::TooSoon(self.lead_minutes));
        }
        if start > now + Duration::days(i64::from(self.horizon_days)) {
            return Err(OnlineError::TooFar(self.horizon_days));
        }
        Ok(())
    }

    /// May a member cancel their visit starting at `start`, asked at `now`?
    pub fn may_cancel(&self, start: Timestamp, now: Timestamp) -> Result<(), OnlineError> {
        if now + Duration::minutes(i64::from(self.cancel_window_minutes)) > start {
            return Err(OnlineError::WindowPassed(self.cancel_window_minutes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn members_book_inside_the_notice_and_horizon_and_cancel_before_the_window() {
        let p = OnlineBooking::default();
        assert_eq!(p.may_book(t(29), t(0)), Err(OnlineError::TooSoon(30)));
        assert_eq!(p.may_book(t(30), t(0)), Ok(()));
        assert_eq!(
            p.may_book(t(30 * 24 * 60 + 1), t(0)),
            Err(OnlineError::TooFar(30))
        );
        assert_eq!(p.may_cancel(t(120), t(0)), Ok(()));
        assert_eq!(
            p.may_cancel(t(119), t(0)),
            Err(OnlineError::WindowPassed(120))
        );
        let off = OnlineBooking {
            enabled: false,
            ..p.clone()
        };
        assert_eq!(off.may_book(t(60), t(0)), Err(OnlineError::Disabled));
        let bad = OnlineBooking {
            horizon_days: 0,
            ..p
        };
        assert_eq!(bad.check(), Err(OnlineError::Invalid));
    }
}

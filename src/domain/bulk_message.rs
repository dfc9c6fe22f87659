//! Bulk messages (群发): one text, rendered for each member a filter finds, queued in the
//! notification outbox of the member's home store. Who is reached besides the search's own
//! filter (birthday this month, count-card sessions running low) is decided here, and so is
//! the run's tally.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ledger::Account;
use super::member::Member;

/// Most members one request of a run looks at: the run goes on page after page.
pub const BULK_MESSAGE_PAGE_MAX: usize = 200;
/// Messages of one page written at once: the outbox is fed, not flooded.
pub const BULK_MESSAGE_IN_FLIGHT: usize = 16;

/// Who of the members found is messaged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    /// Only members whose birthday falls in the month of `today`.
    pub birthday_this_month: bool,
    /// Only members holding a count card, usable today, with fewer sessions left than this.
    pub sessions_below: Option<u32>,
}

/// Why a member found is not messaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NoBirthdayThisMonth,
    SessionsNotLow,
}

impl Skip {
    pub fn name(self) -> &'static str {
        match self {
            Skip::NoBirthdayThisMonth => "no_birthday_this_month",
            Skip::SessionsNotLow => "sessions_not_low",
        }
    }
}

impl Audience {
    /// Whether `member` (with `account`) is messaged on `today`, their home store's date.
    pub fn admits(&self, member: &Member, account: &Account, today: NaiveDate) -> Result<(), Skip> {
        if self.birthday_this_month
            && member
                .profile
                .birthday
                .is_none_or(|b| b.month() != today.month())
        {
            return Err(Skip::NoBirthdayThisMonth);
        }
        if let Some(below) = self.sessions_below {
            let low = account.membership.count_cards.iter().any(|c| {
                c.remaining > 0 && c.remaining < below && c.expires_on.is_none_or(|d| d >= today)
            });
            if !low {
                return Err(Skip::SessionsNotLow);
            }
        }
        Ok(())
    }
}

/// A run's tally: messages queued, members skipped by the audience, and writes that failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tally {
    pub sent: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{MemberId, Name, Phone, StoreId};
    use crate::domain::membership::{CardId, CountCard};
    use crate::domain::money::Money;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn member(birthday: Option<NaiveDate>) -> Member {
        let mut m = Member {
            id: MemberId::new(StoreId::new(1).unwrap(), 1),
            phone: Phone::new("13800000001").unwrap(),
            name: Name::new("Li", "name").unwrap(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            profile: Default::default(),
        };
        m.profile.birthday = birthday;
        m
    }

    fn card(remaining: u32, expires_on: Option<NaiveDate>) -> CountCard {
        CountCard {
            id: CardId(1),
            service: crate::domain::booking::ServiceId(1),
            total: 10,
            remaining,
            expires_on,
            price: Money::ZERO,
            sold_at: StoreId::new(1).unwrap(),
        }
    }

    #[test]
    fn the_audience_keeps_birthdays_this_month_and_cards_running_low() {
        let m = member(Some(day(3, 9)));
        let mut account = Account::open(m.id);
        let all = Audience::default();
        assert_eq!(all.admits(&m, &account, day(3, 1)), Ok(()));
        let birthdays = Audience {
            birthday_this_month: true,
            ..Audience::default()
        };
        assert_eq!(birthdays.admits(&m, &account, day(3, 31)), Ok(()));
        assert_eq!(
            birthdays.admits(&m, &account, day(4, 1)),
            Err(Skip::NoBirthdayThisMonth)
        );
        assert_eq!(
            birthdays.admits(&member(None), &account, day(3, 1)),
            Err(Skip::NoBirthdayThisMonth)
        );
        let low = Audience {
            sessions_below: Some(3),
            ..Audience::default()
        };
        assert_eq!(
            low.admits(&m, &account, day(3, 1)),
            Err(Skip::SessionsNotLow)
        );
        account.membership.count_cards = vec![card(5, None), card(0, None)];
        assert_eq!(
            low.admits(&m, &account, day(3, 1)),
            Err(Skip::SessionsNotLow)
        );
        account
            .membership
            .count_cards
            .push(card(2, Some(day(2, 28))));
        assert_eq!(
            low.admits(&m, &account, day(3, 1)),
            Err(Skip::SessionsNotLow),
            "an expired card is no reminder"
        );
        account
            .membership
            .count_cards
            .push(card(2, Some(day(3, 1))));
        assert_eq!(low.admits(&m, &account, day(3, 1)), Ok(()));
    }
}

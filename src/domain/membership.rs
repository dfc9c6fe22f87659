//! A member's holdings besides stored value: level, points (积分), count cards (次卡),
//! coupons, and the physical card's state (挂失). Plain data and rules; the ledger actor
//! of the member's home store owns it, inside the member's [`super::ledger::Account`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::booking::ServiceId;
use super::coupon::{Coupon, CouponCode, CouponError, TemplateId, COUPONS_HELD_MAX};
use super::ids::StoreId;
use super::levels::{LevelId, Totals};
use super::money::Money;

pub const COUNT_CARDS_MAX: usize = 64;
pub const SESSIONS_MAX: u32 = 10_000;
pub const POINTS_MAX: i64 = 1_000_000_000_000;
pub const REASON_LEN_MAX: usize = 200;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct CardId(pub u32);

/// A package of sessions of one service (次卡).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CountCard {
    pub id: CardId,
    pub service: ServiceId,
    pub total: u32,
    pub remaining: u32,
    /// Last day it can be used, inclusive, in the store's time zone.
    #[schema(value_type = Option<String>, format = Date)]
    pub expires_on: Option<NaiveDate>,
    pub price: Money,
    pub sold_at: StoreId,
}

impl CountCard {
    /// What `sessions` of the card are worth: its price shared by its sessions, rounded
    /// down (so what is settled or refunded never exceeds what was paid).
    pub fn value_of(&self, sessions: u32) -> Money {
        if self.total == 0 {
            return Money::ZERO;
        }
        super::money::pro_rata(
            self.price,
            i64::from(sessions.min(self.total)),
            i64::from(self.total),
        )
    }

    pub fn usable(&self, today: NaiveDate) -> Result<(), MemberError> {
        if self.expires_on.is_some_and(|d| today > d) {
            return Err(MemberError::CardExpired(self.id.0));
        }
        if self.remaining == 0 {
            return Err(MemberError::NotEnoughSessions {
                card: self.id.0,
                remaining: 0,
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MemberError {
    #[error("the member's card is locked (reported lost); unlock it or replace it first")]
    Locked,
    #[error("card {0} was replaced; use the member's current card")]
    CardReplaced(String),
    #[error("count card {0} not found")]
    CardNotFound(u32),
    #[error("count card {0} has expired")]
    CardExpired(u32),
    #[error("count card {card} has {remaining} sessions left")]
    NotEnoughSessions { card: u32, remaining: u32 },
    #[error("count card {card} is for service {service}, not this one")]
    WrongService { card: u32, service: u64 },
    #[error("the member has {COUNT_CARDS_MAX} count cards already")]
    TooManyCards,
    #[error("sessions must be between 1 and {SESSIONS_MAX}")]
    BadSessions,
    #[error("insufficient points: {points} held, {requested} requested")]
    InsufficientPoints { points: i64, requested: i64 },
    #[error("points would exceed {POINTS_MAX}")]
    PointsOverflow,
    #[error("{0}")]
    Coupon(#[from] CouponError),
    #[error("the card is not locked")]
    NotLocked,
    #[error("the card is already locked")]
    AlreadyLocked,
    #[error("level {0} is not defined")]
    LevelNotFound(u16),
    #[error("the member is at level {0} already")]
    LevelUnchanged(u16),
    #[error("count card {card} was sold at store {sold_at}: refund its cash there")]
    CardRefundElsewhere { card: u32, sold_at: u32 },
}

/// Card number shown to the member: `<member id>-<generation>`. Replacing the card makes
/// a new generation; the old number stops working.
pub fn card_number(member: super::ids::MemberId, generation: u32) -> String {
    format!("{member}-{generation}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub level: LevelId,
    pub points: i64,
    pub totals: Totals,
    /// The current card's generation, from 1.
    pub card_generation: u32,
    pub locked: bool,
    /// Numbers for count cards and coupons, from 1.
    pub next_number: u32,
    /// Sequence of the newest activity record; 0 before the first.
    pub last_activity: u64,
    pub count_cards: Vec<CountCard>,
    pub coupons: Vec<Coupon>,
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            level: LevelId(0),
            points: 0,
            totals: Totals::default(),
            card_generation: 1,
            locked: false,
            next_number: 1,
            last_activity: 0,
            count_cards: Vec::new(),
            coupons: Vec::new(),
        }
    }
}

impl Membership {
    pub fn check(&self) -> bool {
        self.points >= 0
            && self.card_generation >= 1
            && self.count_cards.len() <= COUNT_CARDS_MAX
            && self.count_cards.iter().all(|c| c.remaining <= SESSIONS_MAX)
    }

    /// Nothing may be taken from a locked card.
    pub fn may_spend(&self) -> Result<(), MemberError> {
        if self.locked {
            return Err(MemberError::Locked);
        }
        Ok(())
    }

    pub fn number(&mut self) -> u32 {
        let n = self.next_number;
        self.next_number = self.next_number.saturating_add(1);
        n
    }

    pub fn card(&self, id: CardId) -> Result<&CountCard, MemberError> {
        self.count_cards
            .iter()
            .find(|c| c.id == id)
            .ok_or(MemberError::CardNotFound(id.0))
    }

    fn card_mut(&mut self, id: CardId) -> Result<&mut CountCard, MemberError> {
        self.count_cards
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(MemberError::CardNotFound(id.0))
    }

    pub fn add_card(&mut self, card: CountCard) -> Result<(), MemberError> {
        if !(1..=SESSIONS_MAX).contains(&card.total) || card.remaining != card.total {
            return Err(MemberError::BadSessions);
        }
        // Spent, expired cards make room for new ones.
        if self.count_cards.len() >= COUNT_CARDS_MAX {
            self.count_cards.retain(|c| c.remaining > 0);
        }
        if self.count_cards.len() >= COUNT_CARDS_MAX {
            return Err(MemberError::TooManyCards);
        }
        self.count_cards.push(card);
        Ok(())
    }

    /// Takes `n` sessions of `card` (计次消费); `service` must match when given.
    pub fn consume(
        &mut self,
        id: CardId,
        n: u32,
        service: Option<ServiceId>,
        today: NaiveDate,
    ) -> Result<u32, MemberError> {
        self.may_spend()?;
        let card = self.card_mut(id)?;
        if service.is_some_and(|s| s != card.service) {
            return Err(MemberError::WrongService {
                card: id.0,
                service: card.service.0,
            });
        }
        card.usable(today)?;
        if n == 0 || n > SESSIONS_MAX {
            return Err(MemberError::BadSessions);
        }
        if card.remaining < n {
            return Err(MemberError::NotEnoughSessions {
                card: id.0,
                remaining: card.remaining,
            });
        }
        card.remaining -= n;
        Ok(card.remaining)
    }

    /// Gives sessions back or adds new ones (增加计次); the total grows with additions.
    /// Ends a card by refunding what is left: its sessions go to zero. Returns the card as
    /// it was.
    pub fn refund_card(&mut self, id: CardId) -> Result<CountCard, MemberError> {
        self.may_spend()?;
        let card = self.card_mut(id)?;
        if card.remaining == 0 {
            return Err(MemberError::NotEnoughSessions {
                card: id.0,
                remaining: 0,
            });
        }
        let before = card.clone();
        card.remaining = 0;
        Ok(before)
    }

    pub fn add_sessions(&mut self, id: CardId, n: u32, returned: bool) -> Result<u32, MemberError> {
        let card = self.card_mut(id)?;
        let remaining = card
            .remaining
            .checked_add(n)
            .filter(|_| n > 0)
            .ok_or(MemberError::BadSessions)?;
        let total = if returned {
            card.total
        } else {
            card.total.checked_add(n).ok_or(MemberError::BadSessions)?
        };
        if remaining > total || total > SESSIONS_MAX {
            return Err(MemberError::BadSessions);
        }
        card.total = total;
        card.remaining = remaining;
        Ok(card.remaining)
    }

    /// Adds (or, negative, takes) points; never below zero.
    pub fn add_points(&mut self, delta: i64) -> Result<i64, MemberError> {
        let after = self
            .points
            .checked_add(delta)
            .filter(|p| *p <= POINTS_MAX)
            .ok_or(MemberError::PointsOverflow)?;
        if after < 0 {
            return Err(MemberError::InsufficientPoints {
                points: self.points,
                requested: -delta,
            });
        }
        self.points = after;
        if delta > 0 {
            self.totals.points_earned = self.totals.points_earned.saturating_add(delta);
        }
        Ok(after)
    }

    pub fn issue_coupon(
        &mut self,
        template: TemplateId,
        code: CouponCode,
    ) -> Result<(), MemberError> {
        if self.coupons.len() >= COUPONS_HELD_MAX {
            return Err(CouponError::TooMany.into());
        }
        self.coupons.push(Coupon { code, template });
        Ok(())
    }

    /// Takes an unused coupon out of the member's hands; the secret must match.
    pub fn take_coupon(&mut self, code: &CouponCode) -> Result<Coupon, MemberError> {
        let i = self
            .coupons
            .iter()
            .position(|c| c.code == *code)
            .ok_or(CouponError::NotFound)?;
        Ok(self.coupons.remove(i))
    }

    pub fn coupon(&self, code: &CouponCode) -> Result<&Coupon, MemberError> {
        Ok(self
            .coupons
            .iter()
            .find(|c| c.code == *code)
            .ok_or(CouponError::NotFound)?)
    }
}

/// One line of a member's activity history besides stored value: points, sessions,
/// coupons, level and card events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Activity {
    Points {
        delta: i64,
        after: i64,
        reason: String,
    },
    Sessions {
        card: CardId,
        delta: i64,
        remaining: u32,
        reason: String,
    },
    CardSold(CountCard),
    CouponIssued {
        code: String,
        template: TemplateId,
    },
    CouponRedeemed {
        code: String,
        template: TemplateId,
        discount: Money,
    },
    CouponRestored {
        code: String,
    },
    LevelChanged {
        from: LevelId,
        to: LevelId,
    },
    Locked,
    Unlocked,
    CardReplaced {
        old: String,
        new: String,
    },
    GiftExchanged {
        store: StoreId,
        gift: u32,
        quantity: u32,
        points: i64,
    },
    /// Set by hand (更换会员等级), with the reason given.
    LevelSet {
        from: LevelId,
        to: LevelId,
        reason: String,
    },
    /// The sessions left were refunded (退次卡): what they were worth.
    CardRefunded {
        card: CardId,
        sessions: u32,
        amount: Money,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityRecord {
    pub seq: u64,
    pub store: StoreId,
    #[schema(value_type = String, format = DateTime)]
    pub at: super::ledger::Timestamp,
    pub activity: Activity,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn card(expires: Option<NaiveDate>) -> CountCard {
        CountCard {
            id: CardId(1),
            service: ServiceId(5),
            total: 2,
            remaining: 2,
            expires_on: expires,
            price: Money::from_minor(100),
            sold_at: StoreId::new(1).unwrap(),
        }
    }

    #[test]
    fn sessions_never_go_below_zero_and_expiry_is_inclusive() {
        let mut m = Membership::default();
        m.add_card(card(Some(today()))).unwrap();
        assert_eq!(m.consume(CardId(1), 1, Some(ServiceId(5)), today()), Ok(1));
        assert!(matches!(
            m.consume(CardId(1), 2, None, today()),
            Err(MemberError::NotEnoughSessions { remaining: 1, .. })
        ));
        assert!(matches!(
            m.consume(CardId(1), 1, Some(ServiceId(6)), today()),
            Err(MemberError::WrongService { .. })
        ));
        assert_eq!(
            m.consume(CardId(1), 1, None, today().succ_opt().unwrap()),
            Err(MemberError::CardExpired(1))
        );
        assert_eq!(m.consume(CardId(1), 1, None, today()), Ok(0));
        assert!(m.consume(CardId(1), 1, None, today()).is_err());
        assert_eq!(m.add_sessions(CardId(1), 3, false), Ok(3));
        assert_eq!(m.card(CardId(1)).unwrap().total, 5);
    }

    #[test]
    fn locked_card_spends_nothing_and_points_stay_non_negative() {
        let mut m = Membership::default();
        m.add_card(card(None)).unwrap();
        m.locked = true;
        assert_eq!(
            m.consume(CardId(1), 1, None, today()),
            Err(MemberError::Locked)
        );
        assert_eq!(m.add_points(10), Ok(10));
        assert!(m.add_points(-11).is_err());
        assert_eq!(m.points, 10);
        assert_eq!(m.add_points(-10), Ok(0));
        assert_eq!(m.totals.points_earned, 10);
    }
}

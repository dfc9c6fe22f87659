//! Electronic coupons (电子优惠券): HQ's templates, the coupons issued to members, and the
//! rules of redeeming one. A coupon's code names its owner, so the POS needs no lookup to
//! reach the actor that holds it; a random part makes codes unguessable.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ids::{MemberId, StoreId};
use super::money::{Money, Rate};

pub const COUPON_STORES_MAX: usize = 256;
/// Unused coupons a member may hold at once.
pub const COUPONS_HELD_MAX: usize = 100;

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
pub struct TemplateId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CouponValue {
    /// A fixed amount off, never more than the bill.
    AmountOff(Money),
    /// A share of the bill off, rounded down.
    PercentOff(Rate),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CouponTemplate {
    pub id: TemplateId,
    pub name: String,
    pub value: CouponValue,
    /// The bill (after the level discount) must reach this.
    pub min_spend: Money,
    /// Stores where it can be redeemed; empty means every store of the chain.
    pub stores: Vec<StoreId>,
    /// First and last valid day, inclusive, in the redeeming store's time zone.
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CouponError {
    #[error("coupon not found")]
    NotFound,
    #[error("coupon is not valid on this day")]
    OutsidePeriod,
    #[error("coupon is not valid in this store")]
    WrongStore,
    #[error("the bill of {bill} is below the coupon's minimum spend of {min_spend}")]
    BelowMinimum { bill: Money, min_spend: Money },
    #[error("coupon template is invalid: {0}")]
    BadTemplate(String),
    #[error("the member already holds {COUPONS_HELD_MAX} unused coupons")]
    TooMany,
}

impl CouponTemplate {
    pub fn validated(mut self) -> Result<CouponTemplate, CouponError> {
        match self.value {
            CouponValue::AmountOff(m) if m.minor() <= 0 => {
                return Err(CouponError::BadTemplate(
                    "amount off must be positive".into(),
                ))
            }
            CouponValue::PercentOff(r) if r == Rate::ZERO => {
                return Err(CouponError::BadTemplate(
                    "percent off must be positive".into(),
                ))
            }
            _ => {}
        }
        if self.min_spend.is_negative() {
            return Err(CouponError::BadTemplate(
                "minimum spend can't be negative".into(),
            ));
        }
        if self.valid_until < self.valid_from {
            return Err(CouponError::BadTemplate(
                "valid_until is before valid_from".into(),
            ));
        }
        if self.stores.len() > COUPON_STORES_MAX {
            return Err(CouponError::BadTemplate("too many stores".into()));
        }
        self.stores.sort();
        self.stores.dedup();
        Ok(self)
    }

    /// Checks where and when, then returns what the coupon takes off `bill`.
    pub fn discount(
        &self,
        store: StoreId,
        today: NaiveDate,
        bill: Money,
    ) -> Result<Money, CouponError> {
        if today < self.valid_from || today > self.valid_until {
            return Err(CouponError::OutsidePeriod);
        }
        if !self.stores.is_empty() && self.stores.binary_search(&store).is_err() {
            return Err(CouponError::WrongStore);
        }
        if bill < self.min_spend {
            return Err(CouponError::BelowMinimum {
                bill,
                min_spend: self.min_spend,
            });
        }
        Ok(match self.value {
            CouponValue::AmountOff(m) => m.min(bill),
            CouponValue::PercentOff(r) => r.of(bill),
        })
    }
}

/// A coupon issued to a member and not used yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: CouponCode,
    pub template: TemplateId,
}

/// `<member id>-<number>-<secret>`: the owner, the member's coupon number, and six random
/// digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CouponCode {
    pub member: MemberId,
    pub number: u32,
    pub secret: u32,
}

pub const COUPON_SECRET_MODULUS: u32 = 1_000_000;

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:06}", self.member, self.number, self.secret)
    }
}

impl FromStr for CouponCode {
    type Err = CouponError;
    fn from_str(s: &str) -> Result<Self, CouponError> {
        let mut parts = s.split('-');
        let (Some(m), Some(n), Some(x), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CouponError::NotFound);
        };
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(m) || !digits(n) || x.len() != 6 || !digits(x) {
            return Err(CouponError::NotFound);
        }
        let member = m
            .parse::<u64>()
            .ok()
            .and_then(|m| MemberId::parse(m).ok())
            .ok_or(CouponError::NotFound)?;
        Ok(CouponCode {
            member,
            number: n.parse().map_err(|_| CouponError::NotFound)?,
            secret: x.parse().map_err(|_| CouponError::NotFound)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn template(value: CouponValue, stores: Vec<StoreId>) -> CouponTemplate {
        CouponTemplate {
            id: TemplateId(1),
            name: "t".into(),
            value,
            min_spend: Money::from_minor(10_000),
            stores,
            valid_from: day(1),
            valid_until: day(30),
        }
        .validated()
        .unwrap()
    }

    #[test]
    fn valid_on_its_last_day_not_the_day_after() {
        let s = StoreId::new(1).unwrap();
        let t = template(CouponValue::AmountOff(Money::from_minor(2_000)), vec![]);
        let bill = Money::from_minor(10_000);
        assert_eq!(t.discount(s, day(30), bill), Ok(Money::from_minor(2_000)));
        assert_eq!(
            t.discount(s, day(30).succ_opt().unwrap(), bill),
            Err(CouponError::OutsidePeriod)
        );
        assert!(matches!(
            t.discount(s, day(2), Money::from_minor(9_999)),
            Err(CouponError::BelowMinimum { .. })
        ));
    }

    #[test]
    fn store_list_and_percent() {
        let s1 = StoreId::new(1).unwrap();
        let s2 = StoreId::new(2).unwrap();
        let t = template(CouponValue::PercentOff(Rate::new(1_500).unwrap()), vec![s2]);
        assert_eq!(
            t.discount(s1, day(3), Money::from_minor(10_001)),
            Err(CouponError::WrongStore)
        );
        assert_eq!(
            t.discount(s2, day(3), Money::from_minor(10_001)),
            Ok(Money::from_minor(1_500))
        );
    }

    #[test]
    fn code_round_trips_and_garbage_is_not_found() {
        let c = CouponCode {
            member: MemberId::new(StoreId::new(3).unwrap(), 7),
            number: 12,
            secret: 42,
        };
        assert_eq!(c.to_string().parse::<CouponCode>(), Ok(c));
        for bad in [
            "",
            "1-2",
            "x-1-000001",
            "12884901895-1-12345",
            "12884901895-1-1234567",
        ] {
            assert!(bad.parse::<CouponCode>().is_err(), "{bad}");
        }
    }
}

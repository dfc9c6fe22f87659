//! Money in integer minor units (fen / cents). No floats anywhere near it.

use std::fmt;

/// Largest amount a single operation may move: 1,000,000,000.00 in major units.
pub const AMOUNT_MAX_MINOR: i64 = 100_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a positive integer number of minor units, got {0}")]
    NotPositive(i64),
    #[error("amount {0} exceeds the per-operation maximum of {AMOUNT_MAX_MINOR} minor units")]
    TooLarge(i64),
    #[error("arithmetic overflow")]
    Overflow,
    #[error("a rate is 0 to 10000 basis points, got {0}")]
    RateOutOfRange(u16),
}

/// A signed quantity of minor units. Account balances use this type.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Money {
        Money(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A strictly positive amount, bounded by [`AMOUNT_MAX_MINOR`]: what an operation moves.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Amount(i64);

impl TryFrom<i64> for Amount {
    type Error = MoneyError;
    fn try_from(minor: i64) -> Result<Self, MoneyError> {
        Amount::new(minor)
    }
}

impl From<Amount> for i64 {
    fn from(a: Amount) -> i64 {
        a.0
    }
}

impl Amount {
    pub fn new(minor: i64) -> Result<Amount, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive(minor));
        }
        if minor > AMOUNT_MAX_MINOR {
            return Err(MoneyError::TooLarge(minor));
        }
        Ok(Amount(minor))
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub const fn money(self) -> Money {
        Money(self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `total * part / whole` rounded down, in exact integer arithmetic. Unwinding a share of an
/// earlier movement with a cumulative `part` never adds up to more than `total`, and
/// `part == whole` gives back exactly `total`.
pub fn pro_rata(total: Money, part: i64, whole: i64) -> Money {
    assert!(
        whole > 0 && (0..=whole).contains(&part),
        "pro_rata share out of range"
    );
    let share = i128::from(total.0) * i128::from(part) / i128::from(whole);
    // |share| <= |total|, so it fits.
    Money(share as i64)
}

/// A rate in basis points, 0 to 10,000 (0% to 100%).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct Rate(u16);

impl Rate {
    pub const FULL: Rate = Rate(10_000);
    pub const ZERO: Rate = Rate(0);

    pub fn new(bp: u16) -> Result<Rate, MoneyError> {
        if bp > 10_000 {
            return Err(MoneyError::RateOutOfRange(bp));
        }
        Ok(Rate(bp))
    }

    pub const fn bp(self) -> u16 {
        self.0
    }

    /// `amount * rate`, rounded down: what a percentage discount takes off, or a share.
    pub fn of(self, amount: Money) -> Money {
        Money((i128::from(amount.0) * i128::from(self.0) / 10_000) as i64)
    }
}

impl TryFrom<u16> for Rate {
    type Error = MoneyError;
    fn try_from(bp: u16) -> Result<Self, MoneyError> {
        Rate::new(bp)
    }
}

impl From<Rate> for u16 {
    fn from(r: Rate) -> u16 {
        r.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_rejects_zero_negative_and_huge() {
        assert_eq!(Amount::new(0), Err(MoneyError::NotPositive(0)));
        assert_eq!(Amount::new(-5), Err(MoneyError::NotPositive(-5)));
        assert_eq!(
            Amount::new(AMOUNT_MAX_MINOR + 1),
            Err(MoneyError::TooLarge(AMOUNT_MAX_MINOR + 1))
        );
        assert_eq!(Amount::new(1).map(Amount::minor), Ok(1));
    }

    #[test]
    fn pro_rata_shares_add_up_exactly() {
        let total = Money::from_minor(1_000);
        let mut given = Money::ZERO;
        for part in 1..=3 {
            let cum = pro_rata(total, part, 3);
            assert!(cum >= given);
            given = cum;
        }
        assert_eq!(given, total);
        assert_eq!(
            Rate::new(1_250).unwrap().of(Money::from_minor(999)).minor(),
            124
        );
        assert!(Rate::new(10_001).is_err());
    }

    #[test]
    fn money_arithmetic_is_checked() {
        assert_eq!(
            Money::from_minor(i64::MAX).checked_add(Money::from_minor(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_minor(i64::MIN).checked_sub(Money::from_minor(1)),
            Err(MoneyError::Overflow)
        );
    }
}

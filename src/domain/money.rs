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
}

/// A signed quantity of minor units. Account balances use this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

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

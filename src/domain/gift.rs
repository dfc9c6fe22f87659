//! Gifts (礼品) that members take for points (积分兑换). HQ defines each gift and what it
//! costs in points; each store holds its own stock, which never goes below zero.

use serde::{Deserialize, Serialize};

use super::ids::Name;

pub const GIFTS_MAX: usize = 10_000;
/// Most units of one gift in one exchange.
pub const EXCHANGE_QUANTITY_MAX: u32 = 100;
/// Most units of one gift a store can hold.
pub const STOCK_MAX: i64 = 1_000_000_000;
/// Most points one unit of a gift can cost.
pub const GIFT_POINTS_MAX: i64 = 100_000_000;

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
pub struct GiftId(pub u32);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gift {
    pub id: GiftId,
    /// Validated as a [`Name`] when the gift is made.
    pub name: String,
    /// Points one unit costs, > 0.
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GiftError {
    #[error("gift {0} not found")]
    NotFound(u32),
    #[error("gift {gift}: {stock} in stock, {requested} requested")]
    OutOfStock {
        gift: u32,
        stock: i64,
        requested: u32,
    },
    #[error("quantity must be between 1 and {EXCHANGE_QUANTITY_MAX}")]
    BadQuantity,
    #[error("stock would leave 0..={STOCK_MAX}")]
    BadStock,
    #[error("a gift costs between 1 and {GIFT_POINTS_MAX} points")]
    BadPoints,
}

impl Gift {
    pub fn new(id: GiftId, name: Name, points: i64) -> Result<Gift, GiftError> {
        if !(1..=GIFT_POINTS_MAX).contains(&points) {
            return Err(GiftError::BadPoints);
        }
        Ok(Gift {
            id,
            name: name.as_str().to_owned(),
            points,
        })
    }

    /// Points `quantity` units cost.
    pub fn cost(&self, quantity: u32) -> Result<i64, GiftError> {
        if !(1..=EXCHANGE_QUANTITY_MAX).contains(&quantity) {
            return Err(GiftError::BadQuantity);
        }
        // Both bounded: at most 100 * 10^8, far inside i64.
        Ok(self.points * i64::from(quantity))
    }
}

/// Stock after `delta` units come in (positive) or go out (negative): never below zero.
pub fn move_stock(gift: GiftId, stock: i64, delta: i64) -> Result<i64, GiftError> {
    debug_assert!((0..=STOCK_MAX).contains(&stock));
    let after = stock.checked_add(delta).ok_or(GiftError::BadStock)?;
    if after < 0 {
        return Err(GiftError::OutOfStock {
            gift: gift.0,
            stock,
            requested: u32::try_from(-delta).unwrap_or(u32::MAX),
        });
    }
    if after > STOCK_MAX {
        return Err(GiftError::BadStock);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cost_and_limits() {
        let g = Gift::new(GiftId(1), Name::new("Mug", "gift name").unwrap(), 250).unwrap();
        assert_eq!(g.cost(4), Ok(1_000));
        assert_eq!(g.cost(0), Err(GiftError::BadQuantity));
        assert_eq!(
            g.cost(EXCHANGE_QUANTITY_MAX + 1),
            Err(GiftError::BadQuantity)
        );
        assert!(Gift::new(GiftId(2), Name::new("Free", "gift name").unwrap(), 0).is_err());
    }

    proptest! {
        /// Whatever sequence of stock movements is tried, accepted ones keep stock in range and
        /// refused ones change nothing.
        #[test]
        fn stock_never_negative(moves in proptest::collection::vec(-50i64..50, 0..200)) {
            let mut stock = 0i64;
            for d in moves {
                match move_stock(GiftId(1), stock, d) {
                    Ok(after) => { prop_assert_eq!(after, stock + d); stock = after; }
                    Err(_) => prop_assert!(stock + d < 0),
                }
                prop_assert!(stock >= 0);
            }
        }
    }
}

//! Stock (库存) of the price list's products, per store: what sales and returns move, what
//! receipts (入库), adjustments and counts (盘点) change, and the per-item day figures that
//! sales statistics and movement reports read. Stock never goes below zero unless the
//! product allows it.

use serde::{Deserialize, Serialize};

use super::checkout::{Item, Order};
use super::money::{pro_rata, Money};
use super::price_list::ItemId;

/// Most units of one product a store can hold, or move in one line.
pub const STOCK_MAX: i64 = 1_000_000_000;
/// Lines of one receipt, adjustment or count.
pub const MOVE_LINES_MAX: usize = 200;
pub const NOTE_LEN_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StockError {
    #[error("item {item}: {stock} in stock, {requested} requested")]
    OutOfStock {
        item: u32,
        stock: i64,
        requested: i64,
    },
    #[error("stock would leave its range (at most {STOCK_MAX})")]
    OutOfRange,
    #[error("item {0} is not a stocked product")]
    NotProduct(u32),
}

/// Stock after `delta` units move: a decrease below zero is refused unless `negative_ok`.
pub fn moved(item: ItemId, stock: i64, delta: i64, negative_ok: bool) -> Result<i64, StockError> {
    let after = stock.checked_add(delta).ok_or(StockError::OutOfRange)?;
    if !(-STOCK_MAX..=STOCK_MAX).contains(&after) {
        return Err(StockError::OutOfRange);
    }
    if delta < 0 && after < 0 && !negative_ok {
        return Err(StockError::OutOfStock {
            item: item.0,
            stock,
            requested: -delta,
        });
    }
    Ok(after)
}

/// What a stock write does: receive goods, correct the stock, or set it to a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    /// 入库: units in.
    Receipt,
    /// Units in or out with a reason (breakage, samples).
    Adjustment,
    /// 盘点: the counted stock replaces the expected one; the variance is the adjustment.
    Count,
}

/// One line of a count's variance report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Variance {
    pub item: ItemId,
    pub expected: i64,
    pub counted: i64,
    /// counted - expected: negative is a loss.
    pub variance: i64,
    /// The variance at the item's list price.
    pub value: Money,
}

impl Variance {
    pub fn of(item: ItemId, expected: i64, counted: i64, price: Money) -> Variance {
        let variance = counted - expected;
        let value = Money::from_minor(
            i64::try_from(i128::from(variance) * i128::from(price.minor())).unwrap_or(i64::MAX),
        );
        Variance {
            item,
            expected,
            counted,
            variance,
            value,
        }
    }
}

/// One line of a stock write as answered: the change and the stock after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockLine {
    pub item: ItemId,
    pub delta: i64,
    /// The store's stock after the write (reservations of sales in flight taken out).
    pub after: i64,
    /// For a count: what was expected, what was counted.
    pub variance: Option<Variance>,
}

/// A receipt, adjustment or count at a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockMove {
    pub store: super::ids::StoreId,
    pub kind: MoveKind,
    pub note: String,
    pub lines: Vec<StockLine>,
    #[schema(value_type = String, format = DateTime)]
    pub at: super::ledger::Timestamp,
}

impl StockMove {
    /// The figures the move adds for each item.
    pub fn figures(&self) -> impl Iterator<Item = (ItemId, ItemFigures)> + '_ {
        self.lines.iter().map(move |l| {
            let mut f = ItemFigures::default();
            match self.kind {
                MoveKind::Receipt => f.received = l.delta,
                MoveKind::Adjustment | MoveKind::Count => f.adjusted = l.delta,
            }
            (l.item, f)
        })
    }
}

/// Per item and day at a store: sales, returns and stock movements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemFigures {
    pub sold: i64,
    /// What the sales took in, after level prices and coupons (the order's payable,
    /// shared by list value, as returns unwind it).
    pub sales: i64,
    pub returned: i64,
    pub returns: i64,
    pub received: i64,
    /// Adjustments and count variances, signed.
    pub adjusted: i64,
    /// Units sent to other stores (调拨), and received from them.
    pub transferred_out: i64,
    pub transferred_in: i64,
}

impl ItemFigures {
    pub fn to_vec(self) -> Vec<i64> {
        vec![
            self.sold,
            self.sales,
            self.returned,
            self.returns,
            self.received,
            self.adjusted,
            self.transferred_out,
            self.transferred_in,
        ]
    }

    pub fn from_slice(v: &[i64]) -> ItemFigures {
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        ItemFigures {
            sold: at(0),
            sales: at(1),
            returned: at(2),
            returns: at(3),
            received: at(4),
            adjusted: at(5),
            transferred_out: at(6),
            transferred_in: at(7),
        }
    }

    pub fn add(&mut self, o: &ItemFigures) {
        self.sold += o.sold;
        self.sales += o.sales;
        self.returned += o.returned;
        self.returns += o.returns;
        self.received += o.received;
        self.adjusted += o.adjusted;
        self.transferred_out += o.transferred_out;
        self.transferred_in += o.transferred_in;
    }

    pub fn is_zero(&self) -> bool {
        *self == ItemFigures::default()
    }

    /// Net units out through the counter.
    pub fn net_sold(&self) -> i64 {
        self.sold - self.returned
    }
}

/// What each money line of a paid order took in: the payable shared by list value (the
/// last money line takes the rounding), the same shares returns unwind by.
pub fn line_takings(order: &Order) -> Vec<Money> {
    let list = order.pricing.list.minor();
    let payable = order.pricing.payable;
    let money: Vec<usize> = (0..order.lines.len())
        .filter(|i| order.lines[*i].card.is_none())
        .collect();
    let mut out = vec![Money::ZERO; order.lines.len()];
    if list <= 0 {
        return out;
    }
    let mut before = 0i64;
    for i in money {
        let l = &order.lines[i];
        let value = l.unit_price.minor() * i64::from(l.quantity);
        let upto = pro_rata(payable, before + value, list).minor();
        let from = pro_rata(payable, before, list).minor();
        out[i] = Money::from_minor(upto - from);
        before += value;
    }
    out
}

/// What `quantities` of each line took in (a sale: every unit) or give back (a return),
/// rounded down per line.
pub fn takings_of(order: &Order, quantities: &[u32]) -> Vec<i64> {
    let takings = line_takings(order);
    order
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let q = quantities.get(i).copied().unwrap_or(0).min(line.quantity);
            if line.quantity == 0 {
                0
            } else {
                pro_rata(takings[i], i64::from(q), i64::from(line.quantity)).minor()
            }
        })
        .collect()
}

/// The item figures and product stock moves of a sale (`quantities`: every line's) or a
/// return (`quantities`: the units returned per line), catalog lines only.
pub fn of_order(order: &Order, quantities: &[u32], sale: bool) -> Vec<(ItemId, bool, ItemFigures)> {
    let amounts = takings_of(order, quantities);
    let mut out: Vec<(ItemId, bool, ItemFigures)> = Vec::new();
    for (i, line) in order.lines.iter().enumerate() {
        let Item::Priced(p) = &line.item else {
            continue;
        };
        let q = quantities.get(i).copied().unwrap_or(0).min(line.quantity);
        if q == 0 {
            continue;
        }
        let amount = amounts[i];
        let mut f = ItemFigures::default();
        if sale {
            f.sold = i64::from(q);
            f.sales = amount;
        } else {
            f.returned = i64::from(q);
            f.returns = amount;
        }
        match out.iter_mut().find(|(id, _, _)| *id == p.id) {
            Some(o) => o.2.add(&f),
            None => out.push((p.id, p.product, f)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_never_below_zero_unless_allowed() {
        let i = ItemId(1);
        assert_eq!(moved(i, 3, -3, false), Ok(0));
        assert!(matches!(
            moved(i, 3, -4, false),
            Err(StockError::OutOfStock { requested: 4, .. })
        ));
        assert_eq!(moved(i, 3, -4, true), Ok(-1));
        // Stock already below zero can still be received.
        assert_eq!(moved(i, -1, 2, false), Ok(1));
        assert_eq!(moved(i, STOCK_MAX, 1, false), Err(StockError::OutOfRange));
    }

    fn priced_order(lines: &[(i64, u32, bool)], payable: i64) -> Order {
        use super::super::checkout::{OrderLine, Pricing};
        use super::super::price_list::catalog_line;
        let lines: Vec<OrderLine> = lines
            .iter()
            .enumerate()
            .map(|(i, &(price, q, card))| {
                let mut l = catalog_line(
                    ItemId(i as u32 % 3 + 1),
                    Some(Money::from_minor(price)),
                    q,
                    card.then_some(super::super::membership::CardId(1)),
                );
                if let Item::Priced(p) = &mut l.item {
                    p.product = true;
                }
                l
            })
            .collect();
        let list = super::super::checkout::money_list(&lines);
        Order {
            id: super::super::checkout::OrderId(1),
            store: super::super::ids::StoreId::new(1).unwrap(),
            member: None,
            lines,
            coupon: None,
            status: super::super::checkout::OrderStatus::Paid,
            pricing: Pricing {
                list,
                member_price: list,
                coupon_off: Money::ZERO,
                payable: Money::from_minor(payable.min(list.minor())),
            },
            payment: Default::default(),
            deduction: None,
            points_earned: 0,
            returned: Default::default(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            paid_at: None,
        }
    }

    proptest::proptest! {
        /// The takings of an order's lines add up to what was paid, and a sale returned
        /// whole, in any number of parts, nets every item's figures to zero.
        #[test]
        fn takings_add_up_and_returns_unwind_them(
            lines in proptest::collection::vec((0i64..100_000, 1u32..20, proptest::bool::weighted(0.2)), 1..8),
            payable in 0i64..1_000_000,
            cut in 0u32..20,
        ) {
            let o = priced_order(&lines, payable);
            let takings = line_takings(&o);
            let total: i64 = takings.iter().map(|m| m.minor()).sum();
            if o.pricing.list.minor() > 0 {
                proptest::prop_assert_eq!(total, o.pricing.payable.minor());
            }
            proptest::prop_assert!(takings.iter().all(|m| m.minor() >= 0));
            let all: Vec<u32> = o.lines.iter().map(|l| l.quantity).collect();
            let first: Vec<u32> = all.iter().map(|q| (*q).min(cut)).collect();
            let rest: Vec<u32> = all.iter().zip(&first).map(|(q, f)| q - f).collect();
            let mut net: std::collections::BTreeMap<ItemId, (i64, i64)> = Default::default();
            for (q, sale) in [(&all, true), (&first, false), (&rest, false)] {
                for (item, _, f) in of_order(&o, q, sale) {
                    let e = net.entry(item).or_default();
                    e.0 += f.sold - f.returned;
                    e.1 += f.sales - f.returns;
                }
            }
            // Units net to zero exactly; takings to within the rounding of two returns.
            for (_, (units, takings)) in net {
                proptest::prop_assert_eq!(units, 0);
                proptest::prop_assert!((0..=2 * 8).contains(&takings), "takings left {}", takings);
            }
        }
    }

    #[test]
    fn variance_is_counted_less_expected() {
        let v = Variance::of(ItemId(1), 10, 7, Money::from_minor(250));
        assert_eq!((v.variance, v.value.minor()), (-3, -750));
    }
}

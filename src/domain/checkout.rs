//! Checkout (消费收银) and returns (退货): pricing an order, checking its split payment,
//! and unwinding a share of it. Pure arithmetic over lines and amounts; the member's
//! account is changed by the ledger functions the actor calls with these results.
//!
//! Pricing: lines paid by a count card cost sessions, not money. The other lines' list
//! value gets the member's level price, then one coupon off; what is left (`payable`) is
//! paid by stored value, points (at the chain's point value) and external tenders, which
//! must add up to it exactly.
//!
//! Returns unwind in proportion to the list value returned, cumulatively: each component
//! (stored value, its bonus part, points paid, each tender, points earned) gives back
//! `component * returned_so_far / list` minus what it gave back before, rounded down, so
//! the parts never exceed the whole and the last return gives back exactly the rest.

use serde::{Deserialize, Serialize};

use super::booking::ServiceId;
use super::coupon::{CouponCode, TemplateId};
use super::ids::{EntrySeq, MemberId, StoreId};
use super::ledger::{TenderKind, Timestamp};
use super::levels::LevelRules;
use super::membership::CardId;
use super::money::{pro_rata, Money, AMOUNT_MAX_MINOR};
use super::price_list::{ItemId, PricedItem};

pub const ORDER_LINES_MAX: usize = 100;
pub const QUANTITY_MAX: u32 = 999;
pub const TENDERS_MAX: usize = 8;
pub const SKU_LEN_MAX: usize = 64;
/// Orders held (挂单) at one store at once.
pub const HELD_ORDERS_MAX: usize = 200;

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
pub struct OrderId(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Item {
    /// A service at a price typed at the counter.
    Service(ServiceId),
    /// A product by SKU at a price typed at the counter.
    Product(String),
    /// An item of the price list (价目表), priced by the server unless `typed`.
    Priced(Box<PricedItem>),
}

impl Item {
    /// The service a line sells, which a count card of that service may pay for.
    pub fn service(&self) -> Option<ServiceId> {
        match self {
            Item::Service(s) => Some(*s),
            Item::Priced(p) => p.service,
            Item::Product(_) => None,
        }
    }

    /// Whether the price was typed at the counter rather than taken from the price list.
    pub fn typed(&self) -> bool {
        match self {
            Item::Priced(p) => p.typed,
            Item::Service(_) | Item::Product(_) => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub item: Item,
    pub unit_price: Money,
    pub quantity: u32,
    /// Paid by sessions of this count card instead of money.
    pub card: Option<CardId>,
}

impl OrderLine {
    fn value(&self) -> Money {
        Money::from_minor(self.unit_price.minor() * i64::from(self.quantity))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    pub stored_value: Money,
    pub points: i64,
    pub tenders: Vec<(TenderKind, Money)>,
}

impl Payment {
    pub fn tenders_total(&self) -> Money {
        Money::from_minor(self.tenders.iter().map(|(_, m)| m.minor()).sum())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pricing {
    /// List value of the lines paid with money.
    pub list: Money,
    pub member_price: Money,
    pub coupon_off: Money,
    pub payable: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CheckoutError {
    #[error("an order has 1 to {ORDER_LINES_MAX} lines, quantities 1 to {QUANTITY_MAX}, prices not negative, SKUs of 1 to {SKU_LEN_MAX} characters")]
    BadLines,
    #[error("a line paid by count card must be a service")]
    CardLineNotService,
    #[error("the order's total is too large")]
    TooLarge,
    #[error("the payment adds up to {paid}, but {payable} is due")]
    PaymentMismatch { paid: Money, payable: Money },
    #[error("at most {TENDERS_MAX} tenders, each positive; stored value and points not negative")]
    BadTenders,
    #[error("a walk-in customer can pay only with external tenders")]
    WalkInNeedsTenders,
    #[error("order {0} not found")]
    NotFound(u64),
    #[error("order {0} is not held")]
    NotHeld(u64),
    #[error("order {0} is not paid")]
    NotPaid(u64),
    #[error("return line {line}: at most {left} left to return")]
    ReturnTooLarge { line: usize, left: u32 },
    #[error("a return names 1 to {ORDER_LINES_MAX} lines of the order, each once")]
    BadReturn,
    #[error("this store already holds {HELD_ORDERS_MAX} orders")]
    TooManyHeld,
    #[error("stored value may pay at most {cap} of this order: some items can't be paid with it")]
    StoredValueNotAllowed { cap: Money },
}

pub fn validate_lines(lines: &[OrderLine]) -> Result<(), CheckoutError> {
    if lines.is_empty() || lines.len() > ORDER_LINES_MAX {
        return Err(CheckoutError::BadLines);
    }
    for l in lines {
        let bad_sku = matches!(&l.item, Item::Product(s)
            if s.is_empty() || s.chars().count() > SKU_LEN_MAX || s.chars().any(char::is_control));
        if bad_sku
            || !(1..=QUANTITY_MAX).contains(&l.quantity)
            || l.unit_price.is_negative()
            || l.unit_price.minor() > AMOUNT_MAX_MINOR
        {
            return Err(CheckoutError::BadLines);
        }
        if l.card.is_some() && l.item.service().is_none() {
            return Err(CheckoutError::CardLineNotService);
        }
    }
    let total: i64 = lines.iter().map(|l| l.value().minor()).sum();
    if total > AMOUNT_MAX_MINOR {
        return Err(CheckoutError::TooLarge);
    }
    Ok(())
}

/// Sessions each count card pays for: (card, service, sessions).
pub fn sessions_used(lines: &[OrderLine]) -> Vec<(CardId, ServiceId, u32)> {
    let mut used: Vec<(CardId, ServiceId, u32)> = Vec::new();
    for l in lines {
        if let (Some(card), Some(s)) = (l.card, l.item.service()) {
            match used.iter_mut().find(|(c, sv, _)| *c == card && *sv == s) {
                Some(u) => u.2 += l.quantity,
                None => used.push((card, s, l.quantity)),
            }
        }
    }
    used
}

/// The list value of the lines paid with money.
pub fn money_list(lines: &[OrderLine]) -> Money {
    Money::from_minor(
        lines
            .iter()
            .filter(|l| l.card.is_none())
            .map(|l| l.value().minor())
            .sum(),
    )
}

/// What a member's level makes of the money lines, and the parts of it the rules of the
/// price list single out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberTotals {
    pub member_price: Money,
    /// The value coupons apply to (and whose minimum spend they check).
    pub coupon_base: Money,
    /// The value stored value may not pay for.
    pub no_stored_value: Money,
    /// Points the lines with their own points per unit earn.
    pub fixed_points: i64,
    /// The value that earns points at the level's rate.
    pub rate_base: Money,
}

/// Prices the money lines for a member: a catalog line at its level price (会员价) if HQ set
/// one and the price was not typed, else the level's discount unless the item is excluded
/// from it; the typed lines of old (service or SKU) together at the level's discount, as
/// before the price list. Each catalog line records what it came to.
pub fn member_totals(
    lines: &mut [OrderLine],
    rules: &LevelRules,
    level_price: impl Fn(ItemId) -> Option<Money>,
    level_discount: impl Fn(ItemId) -> bool,
) -> Result<MemberTotals, CheckoutError> {
    let mut t = MemberTotals::default();
    let mut typed_list = 0i64;
    let add = |a: Money, b: Money| a.checked_add(b).map_err(|_| CheckoutError::TooLarge);
    for l in lines.iter_mut().filter(|l| l.card.is_none()) {
        let value = l.value();
        let Item::Priced(p) = &mut l.item else {
            typed_list += value.minor();
            continue;
        };
        let explicit = level_price(p.id).filter(|_| !p.typed);
        let member = match explicit {
            Some(unit) => Money::from_minor(unit.minor() * i64::from(l.quantity)),
            None if level_discount(p.id) => rules.member_price(value),
            None => value,
        };
        p.member_value = member;
        t.member_price = add(t.member_price, member)?;
        if p.coupon_ok {
            t.coupon_base = add(t.coupon_base, member)?;
        }
        if !p.stored_value_ok {
            t.no_stored_value = add(t.no_stored_value, member)?;
        }
        match p.points_each {
            Some(each) => t.fixed_points += each * i64::from(l.quantity),
            None => t.rate_base = add(t.rate_base, member)?,
        }
    }
    let typed = rules.member_price(Money::from_minor(typed_list));
    t.member_price = add(t.member_price, typed)?;
    t.coupon_base = add(t.coupon_base, typed)?;
    t.rate_base = add(t.rate_base, typed)?;
    Ok(t)
}

/// Points a member earns for paying `paid` of an order: each line's own points per unit,
/// and the level's rate on the rest's share of what was paid.
pub fn points_earned(t: &MemberTotals, rules: &LevelRules, paid: Money) -> i64 {
    let at_rate = if t.member_price.minor() > 0 {
        pro_rata(
            paid,
            t.rate_base.minor().min(t.member_price.minor()),
            t.member_price.minor(),
        )
    } else {
        Money::ZERO
    };
    t.fixed_points + rules.points_for(at_rate)
}

/// Checks that the payment covers `payable` exactly.
pub fn check_payment(
    payable: Money,
    pay: &Payment,
    point_value: Money,
    walk_in: bool,
) -> Result<(), CheckoutError> {
    if pay.tenders.len() > TENDERS_MAX
        || pay
            .tenders
            .iter()
            .any(|(_, m)| m.minor() <= 0 || m.minor() > AMOUNT_MAX_MINOR)
        || pay.stored_value.is_negative()
        || pay.points < 0
    {
        return Err(CheckoutError::BadTenders);
    }
    if walk_in && (pay.stored_value != Money::ZERO || pay.points != 0) {
        return Err(CheckoutError::WalkInNeedsTenders);
    }
    let paid = i128::from(pay.stored_value.minor())
        + i128::from(pay.points) * i128::from(point_value.minor())
        + i128::from(pay.tenders_total().minor());
    if paid != i128::from(payable.minor()) {
        return Err(CheckoutError::PaymentMismatch {
            paid: Money::from_minor(paid.clamp(0, i128::from(i64::MAX)) as i64),
            payable,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum OrderStatus {
    Held,
    Paid,
}

/// What has been given back so far by returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Returned {
    pub quantities: Vec<u32>,
    /// List value of the money lines returned.
    pub list: Money,
    pub stored_value: Money,
    pub points: i64,
    pub tenders: Vec<Money>,
    pub points_earned: i64,
    /// Earned points the member had already spent, so could not be taken back.
    pub points_unrecovered: i64,
    pub coupon_restored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    /// Where it was sold.
    pub store: StoreId,
    pub member: Option<MemberId>,
    pub lines: Vec<OrderLine>,
    pub coupon: Option<(CouponCode, TemplateId)>,
    pub status: OrderStatus,
    pub pricing: Pricing,
    pub payment: Payment,
    /// The stored-value deduction that paid it, if any.
    pub deduction: Option<EntrySeq>,
    pub points_earned: i64,
    pub returned: Returned,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<Timestamp>,
}

/// What one return gives back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnPlan {
    pub stored_value: Money,
    pub points: i64,
    pub tenders: Vec<(TenderKind, Money)>,
    pub sessions: Vec<(CardId, u32)>,
    /// Earned points to take back.
    pub points_earned: i64,
    pub restore_coupon: bool,
    pub returned: Returned,
}

fn share(total: i64, part: Money, whole: Money, before: Money) -> i64 {
    if whole.minor() == 0 {
        return 0;
    }
    let t = Money::from_minor(total);
    pro_rata(t, part.minor(), whole.minor()).minor()
        - pro_rata(t, before.minor(), whole.minor()).minor()
}

/// Plans returning `quantities` of `lines` (line index, quantity) of a paid order.
pub fn plan_return(
    order: &Order,
    quantities: &[(usize, u32)],
) -> Result<ReturnPlan, CheckoutError> {
    if order.status != OrderStatus::Paid {
        return Err(CheckoutError::NotPaid(order.id.0));
    }
    if quantities.is_empty() || quantities.len() > ORDER_LINES_MAX {
        return Err(CheckoutError::BadReturn);
    }
    let mut r = order.returned.clone();
    r.quantities.resize(order.lines.len(), 0);
    r.tenders.resize(order.payment.tenders.len(), Money::ZERO);
    let mut seen = vec![false; order.lines.len()];
    let mut sessions: Vec<(CardId, u32)> = Vec::new();
    let mut list_back = Money::ZERO;
    for &(i, q) in quantities {
        let line = order.lines.get(i).ok_or(CheckoutError::BadReturn)?;
        if seen[i] || q == 0 {
            return Err(CheckoutError::BadReturn);
        }
        seen[i] = true;
        let left = line.quantity - r.quantities[i];
        if q > left {
            return Err(CheckoutError::ReturnTooLarge { line: i, left });
        }
        r.quantities[i] += q;
        match line.card {
            Some(card) => match sessions.iter_mut().find(|(c, _)| *c == card) {
                Some(s) => s.1 += q,
                None => sessions.push((card, q)),
            },
            None => {
                list_back =
                    Money::from_minor(list_back.minor() + line.unit_price.minor() * i64::from(q))
            }
        }
    }
    let whole = order.pricing.list;
    let before = r.list;
    r.list = Money::from_minor(before.minor() + list_back.minor());
    let pay = &order.payment;
    let stored_value = share(pay.stored_value.minor(), r.list, whole, before);
    let points = share(pay.points, r.list, whole, before);
    let points_earned = share(order.points_earned, r.list, whole, before);
    let mut tenders = Vec::new();
    for (k, (kind, amount)) in pay.tenders.iter().enumerate() {
        let back = share(amount.minor(), r.list, whole, before);
        r.tenders[k] = Money::from_minor(r.tenders[k].minor() + back);
        if back > 0 {
            tenders.push((*kind, Money::from_minor(back)));
        }
    }
    r.stored_value = Money::from_minor(r.stored_value.minor() + stored_value);
    r.points += points;
    r.points_earned += points_earned;
    let all_back = order
        .lines
        .iter()
        .zip(&r.quantities)
        .all(|(l, q)| *q == l.quantity);
    let restore_coupon = all_back && order.coupon.is_some() && !r.coupon_restored;
    r.coupon_restored |= restore_coupon;
    debug_assert!(r.stored_value <= pay.stored_value && r.points <= pay.points);
    Ok(ReturnPlan {
        stored_value: Money::from_minor(stored_value),
        points,
        tenders,
        sessions,
        points_earned,
        restore_coupon,
        returned: r,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn line(price: i64, qty: u32, card: Option<u32>) -> OrderLine {
        OrderLine {
            item: Item::Service(ServiceId(1)),
            unit_price: Money::from_minor(price),
            quantity: qty,
            card: card.map(CardId),
        }
    }

    fn order(lines: Vec<OrderLine>, pay: Payment, earned: i64) -> Order {
        let list = money_list(&lines);
        Order {
            id: OrderId(1),
            store: StoreId::new(1).unwrap(),
            member: None,
            lines,
            coupon: None,
            status: OrderStatus::Paid,
            pricing: Pricing {
                list,
                member_price: list,
                coupon_off: Money::ZERO,
                payable: list,
            },
            payment: pay,
            deduction: None,
            points_earned: earned,
            returned: Returned::default(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            paid_at: None,
        }
    }

    #[test]
    fn payment_must_add_up() {
        let pay = Payment {
            stored_value: Money::from_minor(500),
            points: 100,
            tenders: vec![(TenderKind::Cash, Money::from_minor(400))],
        };
        assert!(check_payment(Money::from_minor(1_000), &pay, Money::from_minor(1), false).is_ok());
        assert!(
            check_payment(Money::from_minor(1_001), &pay, Money::from_minor(1), false).is_err()
        );
        assert_eq!(
            check_payment(Money::from_minor(1_000), &pay, Money::from_minor(1), true),
            Err(CheckoutError::WalkInNeedsTenders)
        );
    }

    #[test]
    fn returns_are_bounded_and_sessions_come_back() {
        let pay = Payment {
            stored_value: Money::from_minor(1_000),
            points: 0,
            tenders: vec![(TenderKind::Cash, Money::from_minor(1))],
        };
        let mut o = order(vec![line(334, 3, None), line(5_000, 2, Some(7))], pay, 10);
        let p = plan_return(&o, &[(0, 1), (1, 1)]).unwrap();
        assert_eq!(p.stored_value.minor(), 333);
        assert_eq!(p.sessions, vec![(CardId(7), 1)]);
        assert!(!p.restore_coupon);
        o.returned = p.returned;
        assert!(matches!(
            plan_return(&o, &[(1, 2)]),
            Err(CheckoutError::ReturnTooLarge { left: 1, .. })
        ));
        let p = plan_return(&o, &[(0, 2), (1, 1)]).unwrap();
        assert_eq!(p.returned.stored_value.minor(), 1_000);
        assert_eq!(p.returned.tenders, vec![Money::from_minor(1)]);
        assert_eq!(p.returned.points_earned, 10);
    }

    proptest! {
        /// Level prices, exclusions, coupons' base, stored value's limit and fixed points
        /// combine without exceeding the whole: each part is at most the member price, which
        /// is never above the list, and without catalog rules it is the level discount of
        /// the list as before.
        #[test]
        fn member_totals_stay_within_the_order(
            lines in proptest::collection::vec(
                (0i64..100_000, 1u32..10, proptest::option::of(0i64..100_000),
                 any::<bool>(), any::<bool>(), any::<bool>(), proptest::option::of(0i64..100), any::<bool>()),
                1..8),
            rate in 0u16..=10_000,
        ) {
            use super::super::levels::{LevelRules, UpgradeRule};
            use super::super::price_list::catalog_line;
            let rules = LevelRules {
                price_rate: super::super::money::Rate::new(rate).unwrap(),
                points_per_yuan: 1,
                recharge_tiers: Vec::new(),
                upgrade: UpgradeRule::default(),
            };
            let mut order_lines = Vec::new();
            let mut explicit = std::collections::BTreeMap::new();
            let mut no_discount = std::collections::BTreeSet::new();
            for (i, &(price, q, level_price, discount, coupon_ok, sv_ok, points, legacy)) in lines.iter().enumerate() {
                if legacy {
                    order_lines.push(line(price, q, None));
                    continue;
                }
                let id = ItemId(i as u32 + 1);
                let mut l = catalog_line(id, Some(Money::from_minor(price)), q, None);
                if let Item::Priced(p) = &mut l.item {
                    p.typed = false;
                    p.coupon_ok = coupon_ok;
                    p.stored_value_ok = sv_ok;
                    p.points_each = points;
                }
                // An explicit level price applies only below the list price here.
                if let Some(lp) = level_price.filter(|lp| *lp <= price) {
                    explicit.insert(id, Money::from_minor(lp));
                }
                if !discount {
                    no_discount.insert(id);
                }
                order_lines.push(l);
            }
            let t = member_totals(
                &mut order_lines,
                &rules,
                |id| explicit.get(&id).copied(),
                |id| !no_discount.contains(&id),
            ).unwrap();
            let list = money_list(&order_lines);
            prop_assert!(t.member_price <= list);
            prop_assert!(t.coupon_base <= t.member_price);
            prop_assert!(t.no_stored_value <= t.member_price);
            prop_assert!(t.rate_base <= t.member_price);
            prop_assert!(points_earned(&t, &rules, t.member_price) >= t.fixed_points);
            if explicit.is_empty() && no_discount.is_empty() && lines.iter().all(|l| l.7) {
                prop_assert_eq!(t.member_price, rules.member_price(list));
            }
        }

        /// Any sequence of partial returns gives back at most what was paid, and exactly
        /// that once everything is returned.
        #[test]
        fn returns_never_exceed_payment(
            prices in proptest::collection::vec((0i64..10_000, 1u32..5), 1..6),
            sv in 0i64..100_000, cash in 1i64..100_000, earned in 0i64..1_000,
            picks in proptest::collection::vec((0usize..6, 1u32..5), 0..12),
        ) {
            let lines: Vec<_> = prices.iter().map(|&(p, q)| line(p, q, None)).collect();
            let pay = Payment {
                stored_value: Money::from_minor(sv),
                points: 0,
                tenders: vec![(TenderKind::WeChatPay, Money::from_minor(cash))],
            };
            let mut o = order(lines.clone(), pay, earned);
            let mut back = (0i64, 0i64, 0i64);
            let apply = |o: &mut Order, q: &[(usize, u32)], back: &mut (i64, i64, i64)| {
                if let Ok(p) = plan_return(o, q) {
                    back.0 += p.stored_value.minor();
                    back.1 += p.tenders.iter().map(|t| t.1.minor()).sum::<i64>();
                    back.2 += p.points_earned;
                    o.returned = p.returned;
                }
            };
            for (i, q) in picks {
                apply(&mut o, &[(i, q)], &mut back);
                prop_assert!(back.0 <= sv && back.1 <= cash && back.2 <= earned);
            }
            let rest: Vec<_> = (0..lines.len())
                .map(|i| (i, lines[i].quantity - o.returned.quantities.get(i).copied().unwrap_or(0)))
                .filter(|(_, q)| *q > 0)
                .collect();
            if !rest.is_empty() {
                apply(&mut o, &rest, &mut back);
            }
            if money_list(&lines).minor() > 0 {
                prop_assert_eq!(back, (sv, cash, earned));
            }
        }
    }
}

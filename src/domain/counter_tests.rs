//! Model-based property test of `counter::apply`: random sequences of every counter
//! operation on one account, against a plain model of what each should do to stored value,
//! points and sessions, with the ledger's invariants checked after every step.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;

use super::*;
use crate::domain::checkout::{Item, OrderId, OrderLine, OrderStatus, Payment, Pricing, Returned};
use crate::domain::gift::{Gift, GiftId};
use crate::domain::ids::{MemberId, Name};
use crate::domain::ledger::{Account, EntryKind, StoreBook, TenderKind};
use crate::domain::levels::{Level, LevelId, LevelRules, RechargeTier, UpgradeRule};
use crate::domain::money::{Amount, Money, Rate};

const GIFT_POINTS: i64 = 10;

fn store() -> StoreId {
    StoreId::new(1).unwrap()
}

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    let rules = |bp, ppy, bonus, upgrade| LevelRules {
        price_rate: Rate::new(bp).unwrap(),
        points_per_yuan: ppy,
        recharge_tiers: vec![RechargeTier {
            min: Money::from_minor(1_000),
            bonus: Money::from_minor(bonus),
        }],
        upgrade,
    };
    c.levels
        .put(Level {
            id: LevelId(0),
            name: "basic".into(),
            rules: rules(10_000, 1, 100, UpgradeRule::default()),
        })
        .unwrap();
    c.levels
        .put(Level {
            id: LevelId(1),
            name: "gold".into(),
            rules: rules(
                9_000,
                2,
                200,
                UpgradeRule {
                    recharged: Some(Money::from_minor(5_000)),
                    spent: None,
                    points: None,
                },
            ),
        })
        .unwrap();
    let gift = Gift::new(GiftId(1), Name::new("Mug", "gift").unwrap(), GIFT_POINTS).unwrap();
    c.gifts.insert(gift.id, gift);
    c
}

#[derive(Debug, Clone)]
enum Op {
    Recharge(i64),
    Deduct(i64),
    Refund(usize, Option<i64>),
    BuyCard {
        sessions: u32,
        price: i64,
        stored_value: bool,
    },
    Consume(u32, u32),
    AddSessions(u32, u32),
    Points(i64),
    Exchange(u32),
    Lock,
    Unlock,
    Checkout {
        price: i64,
        quantity: u32,
        card: Option<u32>,
        cash: bool,
    },
    Return(usize, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..3_000).prop_map(Op::Recharge),
        3 => (1i64..1_500).prop_map(Op::Deduct),
        1 => (0usize..30, proptest::option::of(1i64..800)).prop_map(|(i, a)| Op::Refund(i, a)),
        1 => (1u32..12, 0i64..2_000, any::<bool>())
            .prop_map(|(sessions, price, stored_value)| Op::BuyCard { sessions, price, stored_value }),
        1 => (1u32..4, 1u32..4).prop_map(|(c, n)| Op::Consume(c, n)),
        1 => (1u32..4, 1u32..4).prop_map(|(c, n)| Op::AddSessions(c, n)),
        1 => (-300i64..300).prop_map(Op::Points),
        1 => (1u32..5).prop_map(Op::Exchange),
        1 => Just(Op::Lock),
        2 => Just(Op::Unlock),
        2 => (1i64..800, 1u32..4, proptest::option::of(1u32..4), any::<bool>())
            .prop_map(|(price, quantity, card, cash)| Op::Checkout { price, quantity, card, cash }),
        1 => (0usize..10, 1u32..3).prop_map(|(i, q)| Op::Return(i, q)),
    ]
}

/// The model: what each holding should be, computed without `apply`.
#[derive(Debug, Default)]
struct Model {
    balance: i64,
    points: i64,
    sessions: BTreeMap<u32, i64>,
    locked: bool,
}

fn order(id: u64, line: OrderLine) -> Order {
    Order {
        id: OrderId(id),
        store: store(),
        member: None,
        lines: vec![line],
        coupon: None,
        status: OrderStatus::Held,
        pricing: Pricing::default(),
        payment: Payment::default(),
        deduction: None,
        points_earned: 0,
        returned: Returned::default(),
        created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        paid_at: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn counter_operations_agree_with_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let catalog = catalog();
        let ctx = Ctx {
            store: store(),
            now: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            today: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            catalog: &catalog,
        };
        let member = MemberId::new(store(), 1);
        let mut account = Account::open(member);
        account.membership.level = LevelId(0);
        let mut book = StoreBook::default();
        let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
        let mut orders: Vec<Order> = Vec::new();
        let mut model = Model::default();
        let mut next_order = 1;
        for op in ops {
            let rules = catalog.levels.rules(store(), account.membership.level).clone();
            let before = account.clone();
            let counter_op = match op.clone() {
                Op::Recharge(a) => CounterOp::Recharge { amount: Amount::new(a).unwrap(), tender: TenderKind::Cash },
                Op::Deduct(a) => CounterOp::Deduct { amount: Amount::new(a).unwrap() },
                Op::Refund(i, a) => {
                    let Some(e) = entries.values().nth(i).copied() else { continue };
                    CounterOp::Refund { deduction: e, amount: a.map(|a| Amount::new(a).unwrap()) }
                }
                Op::BuyCard { sessions, price, stored_value } => CounterOp::BuyCard {
                    service: ServiceId(7),
                    sessions,
                    price: Money::from_minor(price),
                    expires_on: None,
                    paid_with: if stored_value { PaidWith::StoredValue } else { PaidWith::Tender(TenderKind::Cash) },
                },
                Op::Consume(c, n) => CounterOp::Consume { card: CardId(c), sessions: n, service: None, reason: "visit".into() },
                Op::AddSessions(c, n) => CounterOp::AddSessions { card: CardId(c), sessions: n, reason: "gift".into() },
                Op::Points(d) => CounterOp::Points { delta: d, reason: "staff".into() },
                Op::Exchange(q) => CounterOp::ExchangeGift { gift: GiftId(1), quantity: q },
                Op::Lock => CounterOp::Lock,
                Op::Unlock => CounterOp::Unlock,
                Op::Checkout { price, quantity, card, cash } => {
                    let line = OrderLine {
                        item: Item::Service(ServiceId(7)),
                        unit_price: Money::from_minor(price),
                        quantity,
                        card: card.map(CardId),
                    };
                    let o = order(next_order, line);
                    next_order += 1;
                    let payable = if card.is_some() { 0 } else { rules.member_price(Money::from_minor(price * i64::from(quantity))).minor() };
                    let payment = if cash {
                        Payment { stored_value: Money::ZERO, points: 0, tenders: vec![(TenderKind::Cash, Money::from_minor(payable))] }
                    } else {
                        Payment { stored_value: Money::from_minor(payable), points: 0, tenders: Vec::new() }
                    };
                    CounterOp::Checkout { order: o, coupon: None, payment }
                }
                Op::Return(i, q) => {
                    let Some(o) = orders.get(i).cloned() else { continue };
                    let deduction = o.deduction.and_then(|s| entries.get(&s.0).copied());
                    CounterOp::Return { order: o, deduction, lines: vec![(0, q)] }
                }
            };
            let result = apply(&account, &ctx, counter_op);
            // What the model expects of the simple operations.
            let expect_ok = match &op {
                Op::Recharge(_) => Some(true),
                Op::Deduct(a) => Some(!model.locked && model.balance >= *a),
                Op::Points(d) => Some(model.points + d >= 0),
                Op::Exchange(q) => Some(!model.locked && model.points >= GIFT_POINTS * i64::from(*q)),
                Op::Consume(c, n) => Some(!model.locked && model.sessions.get(c).is_some_and(|s| *s >= i64::from(*n))),
                Op::AddSessions(c, _) => Some(model.sessions.contains_key(c)),
                Op::Lock => Some(!model.locked),
                Op::Unlock => Some(model.locked),
                _ => None,
            };
            if let Some(ok) = expect_ok {
                prop_assert_eq!(result.is_ok(), ok, "{:?} -> {:?}", op, result.as_ref().err());
            }
            let Ok(fx) = result else {
                continue;
            };
            match &op {
                Op::Recharge(a) => {
                    model.balance += a + rules.bonus_for(Money::from_minor(*a)).minor();
                }
                Op::Deduct(a) => {
                    model.balance -= a;
                    model.points += rules.points_for(Money::from_minor(*a));
                }
                Op::Points(d) => model.points += d,
                Op::Exchange(q) => model.points -= GIFT_POINTS * i64::from(*q),
                Op::Consume(c, n) => *model.sessions.get_mut(c).unwrap() -= i64::from(*n),
                Op::AddSessions(c, n) => *model.sessions.get_mut(c).unwrap() += i64::from(*n),
                Op::Lock => model.locked = true,
                Op::Unlock => model.locked = false,
                Op::BuyCard { sessions, price, stored_value } => {
                    if *stored_value {
                        model.balance -= price;
                    }
                    model.points += rules.points_for(Money::from_minor(*price));
                    let id = fx.answer.card.unwrap().0;
                    model.sessions.insert(id, i64::from(*sessions));
                }
                Op::Refund(..) => {
                    let e = fx.answer.entry.unwrap();
                    let is_refund = matches!(e.kind, EntryKind::Refund { .. });
                    prop_assert!(is_refund);
                    model.balance += e.amount.minor();
                }
                Op::Checkout { card, price, quantity, .. } => {
                    let o = fx.order.clone().unwrap();
                    model.balance -= o.payment.stored_value.minor();
                    model.points += o.points_earned;
                    if let Some(c) = card {
                        *model.sessions.get_mut(c).unwrap() -= i64::from(*quantity);
                        prop_assert_eq!(o.pricing.list, Money::ZERO);
                    } else {
                        prop_assert_eq!(o.pricing.list.minor(), price * i64::from(*quantity));
                    }
                    orders.push(o);
                }
                Op::Return(i, _) => {
                    let o = fx.order.clone().unwrap();
                    let r = &o.returned;
                    // Never more back than was paid, cumulatively.
                    prop_assert!(r.stored_value <= o.payment.stored_value);
                    prop_assert!(r.tenders.iter().map(|m| m.minor()).sum::<i64>() <= o.payment.tenders_total().minor());
                    let back_sv = r.stored_value.minor() - orders[*i].returned.stored_value.minor();
                    model.balance += back_sv;
                    model.points -= r.points_earned - orders[*i].returned.points_earned
                        - (r.points_unrecovered - orders[*i].returned.points_unrecovered);
                    if let Some(c) = o.lines[0].card {
                        let back = i64::from(r.quantities[0]) - orders[*i].returned.quantities.first().map_or(0, |q| i64::from(*q));
                        *model.sessions.get_mut(&c.0).unwrap() += back;
                    }
                    orders[*i] = o;
                }
            }
            for e in &fx.entries {
                if matches!(e.kind, EntryKind::Deduction { .. }) {
                    entries.insert(e.seq.0, *e);
                }
            }
            for t in &fx.transfers {
                book.apply(t).unwrap();
            }
            account = fx.account;
            let m = &account.membership;
            prop_assert!(account.check());
            prop_assert!(!account.balance.is_negative());
            prop_assert_eq!(account.balance.minor(), model.balance, "balance after {:?}", op);
            prop_assert_eq!(m.points, model.points, "points after {:?}", op);
            prop_assert_eq!(m.locked, model.locked);
            for c in &m.count_cards {
                prop_assert_eq!(i64::from(c.remaining), model.sessions[&c.id.0]);
            }
            // Double entry: the member's stored value and every store account sum to zero.
            let stores: i64 = book.iter().map(|(_, v)| v.minor()).sum();
            prop_assert_eq!(stores + account.balance.minor(), 0);
            prop_assert!(m.level >= before.membership.level, "levels only go up");
        }
    }
}

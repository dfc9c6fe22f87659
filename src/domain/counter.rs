//! Counter operations on one member's account: every membership product in one place, as
//! one pure function from (account, context, operation) to the effects the actor writes.
//! After every operation the member's level is re-evaluated: it only goes up, and each
//! change is recorded.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::booking::ServiceId;
use super::checkout::{
    self, check_payment, money_list, plan_return, sessions_used, validate_lines, CheckoutError,
    Order, OrderStatus, Payment, Pricing,
};
use super::coupon::{CouponCode, CouponError, CouponTemplate, TemplateId};
use super::gift::{Gift, GiftError, GiftId};
use super::ids::StoreId;
use super::ledger::{
    self, Account, AccountRef, Entry, LedgerError, Posted, StoreAccountKind, TenderKind, Timestamp,
    Transfer,
};
use super::levels::{LevelCatalog, LevelId, LevelRules};
use super::membership::{card_number, Activity, ActivityRecord, CardId, CountCard, MemberError};
use super::money::{Amount, Money};

/// What HQ has defined for the whole chain, as counter operations read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub levels: LevelCatalog,
    pub coupons: BTreeMap<TemplateId, CouponTemplate>,
    pub gifts: BTreeMap<GiftId, Gift>,
    /// What one point is worth when paying with points.
    pub point_value: Money,
    /// Member notification templates (an event without one sends nothing).
    pub templates: BTreeMap<super::notify::EventKind, super::notify::MessageTemplate>,
    /// Where the courier delivers notifications; none: they stay in the outbox.
    pub webhook: Option<String>,
    /// Member fields the chain defines, by id.
    pub member_fields: BTreeMap<u16, super::member_fields::FieldDef>,
    /// The chain's employees (员工).
    pub staff: super::staff::Staff,
    /// Roles HQ defined, by name (the built-in five are not here).
    pub roles: BTreeMap<String, super::access::RoleDef>,
    /// The price list (价目表).
    pub prices: std::sync::Arc<super::price_list::PriceList>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            levels: LevelCatalog::default(),
            coupons: BTreeMap::new(),
            gifts: BTreeMap::new(),
            point_value: Money::from_minor(1),
            templates: BTreeMap::new(),
            webhook: None,
            member_fields: BTreeMap::new(),
            staff: super::staff::Staff::default(),
            roles: BTreeMap::new(),
            prices: Default::default(),
        }
    }
}

/// A change to HQ's catalog: a level, a store's override of a level, a coupon template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum CatalogChange {
    Level(super::levels::Level),
    Override {
        store: StoreId,
        level: super::levels::LevelId,
        rules: super::levels::LevelRules,
    },
    CouponTemplate(super::coupon::CouponTemplate),
    Gift(Gift),
    MessageTemplate(super::notify::MessageTemplate),
    Webhook(Option<String>),
    MemberField(super::member_fields::FieldDef),
    /// A role HQ defined or changed (权限设置).
    #[schema(value_type = Object)]
    Role(super::access::RoleDef),
    /// A role HQ removed, by name.
    RoleRemoved(String),
    /// An item of the price list, defined or changed (its version set by the change).
    Item(Box<super::price_list::PriceItem>),
    /// A store's price or availability of an item.
    ItemOverride {
        item: super::price_list::ItemId,
        store: StoreId,
        store_item: super::price_list::StoreItem,
    },
}

pub struct Ctx<'a> {
    /// Where the operation happens.
    pub store: StoreId,
    pub now: Timestamp,
    /// Today in that store's time zone: expiry and validity dates are checked against it.
    pub today: NaiveDate,
    pub catalog: &'a Catalog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaidWith {
    StoredValue,
    Tender(TenderKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterOp {
    Recharge {
        amount: Amount,
        tender: TenderKind,
    },
    /// What a member brings from another system at import (期初): stored value (of which
    /// `bonus` was bonus) out of the home store's equity, points, count cards with their
    /// sessions left, a level.
    Opening {
        balance: Option<Amount>,
        bonus: Money,
        points: i64,
        cards: Vec<(ServiceId, u32, Option<NaiveDate>)>,
        level: Option<LevelId>,
    },
    Deduct {
        amount: Amount,
    },
    Refund {
        deduction: Entry,
        amount: Option<Amount>,
    },
    RefundRecharge {
        recharge: Entry,
        amount: Amount,
    },
    BuyCard {
        service: ServiceId,
        sessions: u32,
        price: Money,
        expires_on: Option<NaiveDate>,
        paid_with: PaidWith,
    },
    Consume {
        card: CardId,
        sessions: u32,
        service: Option<ServiceId>,
        reason: String,
    },
    AddSessions {
        card: CardId,
        sessions: u32,
        reason: String,
    },
    Points {
        delta: i64,
        reason: String,
    },
    IssueCoupon {
        template: TemplateId,
        secret: u32,
    },
    RedeemCoupon {
        code: CouponCode,
        bill: Money,
    },
    Lock,
    Unlock,
    ReplaceCard,
    /// A level set by hand, whatever the totals say; level 0 is the base.
    SetLevel {
        level: LevelId,
        reason: String,
    },
    /// Points for gifts (积分兑换); the gift store's stock is the caller's to check.
    ExchangeGift {
        gift: GiftId,
        quantity: u32,
    },
    /// Pays `order` (new, or held and resumed).
    Checkout {
        order: Order,
        coupon: Option<CouponCode>,
        payment: Payment,
    },
    Return {
        order: Order,
        /// The stored-value deduction that paid the order, if any.
        deduction: Option<Entry>,
        lines: Vec<(usize, u32)>,
    },
    /// 换货: a return of `lines` of `order` and the sale of `new_order`, in one write.
    Exchange {
        order: Order,
        deduction: Option<Entry>,
        lines: Vec<(usize, u32)>,
        new_order: Box<Order>,
        payment: Payment,
    },
    /// 退次卡: the value of the sessions left back to stored value (through the deduction
    /// that paid for the card) or in a tender at the store that sold it.
    RefundCard {
        card: CardId,
        deduction: Option<Entry>,
        tender: Option<TenderKind>,
    },
}

impl CounterOp {
    /// Whether the member came to a counter for it (到店): what a store's last-visit date
    /// counts. Adjustments made for them (points, sessions, coupons, level, lock) and
    /// balances brought from another system don't.
    pub fn is_visit(&self) -> bool {
        match self {
            CounterOp::Recharge { .. }
            | CounterOp::Deduct { .. }
            | CounterOp::Refund { .. }
            | CounterOp::RefundRecharge { .. }
            | CounterOp::BuyCard { .. }
            | CounterOp::Consume { .. }
            | CounterOp::RedeemCoupon { .. }
            | CounterOp::ExchangeGift { .. }
            | CounterOp::ReplaceCard
            | CounterOp::Checkout { .. }
            | CounterOp::Return { .. }
            | CounterOp::Exchange { .. }
            | CounterOp::RefundCard { .. } => true,
            CounterOp::Opening { .. }
            | CounterOp::AddSessions { .. }
            | CounterOp::Points { .. }
            | CounterOp::IssueCoupon { .. }
            | CounterOp::Lock
            | CounterOp::Unlock
            | CounterOp::SetLevel { .. } => false,
        }
    }
}

/// What a counter operation answers, and what its idempotency key remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub account: Account,
    pub entry: Option<Entry>,
    pub order: Option<Order>,
    pub coupon: Option<CouponCode>,
    pub card: Option<CardId>,
    pub discount: Option<Money>,
}

/// Everything one operation changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effects {
    pub account: Account,
    /// New entries, and earlier entries whose `refunded` grew.
    pub entries: Vec<Entry>,
    pub activities: Vec<ActivityRecord>,
    pub order: Option<Order>,
    /// Every double-entry transfer, the entries' included.
    pub transfers: Vec<Transfer>,
    pub answer: Answer,
    /// Holdings brought from another system (`CounterOp::Opening`): no day figures, no
    /// notifications.
    pub migration: bool,
    /// Count-card sessions used (or returned) away from the store that sold the card: what
    /// that store owes the one that served (跨店结算), by activity.
    pub card_settlements: Vec<CardSettlement>,
    /// An exchange's returned order (`order` is the new sale).
    pub returned_order: Option<Order>,
}

/// What the store that sold a count card owes the store where its sessions were used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardSettlement {
    pub owing: StoreId,
    pub owed: StoreId,
    pub amount: Money,
    /// The activity line of the sessions.
    pub activity: u64,
    pub at: Timestamp,
}

struct Fx<'a, 'c> {
    ctx: &'a Ctx<'c>,
    acct: Account,
    entries: Vec<Entry>,
    main_entry: Option<Entry>,
    activities: Vec<ActivityRecord>,
    transfers: Vec<Transfer>,
    settlements: Vec<CardSettlement>,
}

impl Fx<'_, '_> {
    fn rules(&self) -> &LevelRules {
        self.ctx
            .catalog
            .levels
            .rules(self.ctx.store, self.acct.membership.level)
    }

    fn post(&mut self, p: Posted) {
        self.transfers.extend(p.entry.transfers());
        self.acct = p.account;
        if let Some(u) = p.updated_deduction {
            self.entries.push(u);
        }
        self.entries.push(p.entry);
        self.main_entry = Some(p.entry);
    }

    fn note(&mut self, activity: Activity) {
        let m = &mut self.acct.membership;
        m.last_activity += 1;
        self.activities.push(ActivityRecord {
            seq: m.last_activity,
            store: self.ctx.store,
            at: self.ctx.now,
            activity,
        });
    }

    fn points(&mut self, delta: i64, reason: String) -> Result<(), LedgerError> {
        if delta != 0 {
            let after = self.acct.membership.add_points(delta)?;
            self.note(Activity::Points {
                delta,
                after,
                reason,
            });
        }
        Ok(())
    }

    /// Notes sessions used (negative) or given back; `settle`: used or returned at a store
    /// (not given), settled with the store that sold the card when that is another.
    fn sessions(&mut self, card: CardId, delta: i64, remaining: u32, reason: String, settle: bool) {
        let store = self.ctx.store;
        let away = (settle && delta != 0)
            .then(|| self.acct.membership.card(card).ok())
            .flatten()
            .filter(|c| c.sold_at != store)
            .map(|c| {
                (
                    c.sold_at,
                    c.value_of(u32::try_from(delta.unsigned_abs()).unwrap_or(u32::MAX)),
                )
            });
        if let Some((sold_at, value)) = away {
            let value = value.minor();
            self.settlements.push(CardSettlement {
                owing: sold_at,
                owed: store,
                amount: Money::from_minor(if delta < 0 { value } else { -value }),
                activity: self.acct.membership.last_activity + 1,
                at: self.ctx.now,
            });
        }
        self.note(Activity::Sessions {
            card,
            delta,
            remaining,
            reason,
        });
    }

    fn store_transfer(&mut self, from: StoreAccountKind, to: StoreAccountKind, amount: Money) {
        let s = self.ctx.store;
        self.transfers.extend(Transfer::of(
            AccountRef::Store(s, from),
            AccountRef::Store(s, to),
            amount,
        ));
    }

    fn add_spent(&mut self, amount: Money) -> Result<(), LedgerError> {
        let t = &mut self.acct.membership.totals;
        t.spent = t.spent.checked_add(amount)?.max(Money::ZERO);
        Ok(())
    }

    fn upgrade(&mut self) {
        let m = &self.acct.membership;
        if let Some(to) = self
            .ctx
            .catalog
            .levels
            .upgrade(self.ctx.store, m.level, &m.totals)
        {
            let from = m.level;
            self.acct.membership.level = to;
            self.note(Activity::LevelChanged { from, to });
        }
    }
}

fn template<'a>(ctx: &'a Ctx<'_>, id: TemplateId) -> Result<&'a CouponTemplate, LedgerError> {
    ctx.catalog
        .coupons
        .get(&id)
        .ok_or(LedgerError::from(CouponError::NotFound))
}

pub fn apply(account: &Account, ctx: &Ctx<'_>, op: CounterOp) -> Result<Effects, LedgerError> {
    let mut fx = Fx {
        ctx,
        acct: account.clone(),
        entries: Vec::new(),
        main_entry: None,
        activities: Vec::new(),
        transfers: Vec::new(),
        settlements: Vec::new(),
    };
    let mut answer_order = None;
    let mut returned_order = None;
    let (mut coupon, mut card, mut discount) = (None, None, None);
    let mut manual_level = false;
    let migration = matches!(op, CounterOp::Opening { .. });
    let visit = op.is_visit();
    let (store, now, today) = (ctx.store, ctx.now, ctx.today);
    match op {
        CounterOp::Opening {
            balance,
            bonus,
            points,
            cards,
            level,
        } => {
            if let Some(amount) = balance {
                let p = ledger::opening(&fx.acct, store, amount, bonus, now)?;
                fx.post(p);
            }
            fx.points(points, "opening balance".to_owned())?;
            for (service, sessions, expires_on) in cards {
                if sessions == 0 {
                    return Err(MemberError::BadSessions.into());
                }
                let new = CountCard {
                    id: CardId(fx.acct.membership.number()),
                    service,
                    total: sessions,
                    remaining: sessions,
                    expires_on,
                    price: Money::ZERO,
                    sold_at: store,
                };
                fx.acct.membership.add_card(new.clone())?;
                fx.note(Activity::CardSold(new));
            }
            if let Some(level) = level.filter(|l| *l != fx.acct.membership.level) {
                if level != LevelId(0) && ctx.catalog.levels.level(level).is_none() {
                    return Err(MemberError::LevelNotFound(level.0).into());
                }
                let from = fx.acct.membership.level;
                fx.acct.membership.level = level;
                fx.note(Activity::LevelSet {
                    from,
                    to: level,
                    reason: "opening balance".to_owned(),
                });
                manual_level = true;
            }
        }
        CounterOp::Recharge { amount, tender } => {
            let bonus = fx.rules().bonus_for(amount.money());
            let p = ledger::recharge(&fx.acct, store, amount, bonus, tender, now)?;
            fx.post(p);
        }
        CounterOp::Deduct { amount } => {
            let p = ledger::deduct(&fx.acct, store, amount, now)?;
            let earned = fx.rules().points_for(amount.money());
            let seq = p.entry.seq.0;
            fx.post(p);
            fx.points(earned, format!("deduction {seq}"))?;
        }
        CounterOp::Refund { deduction, amount } => {
            let p = ledger::refund(&fx.acct, &deduction, amount, now)?;
            fx.post(p);
        }
        CounterOp::RefundRecharge { recharge, amount } => {
            let p = ledger::refund_recharge(&fx.acct, &recharge, amount, now)?;
            fx.post(p);
        }
        CounterOp::BuyCard {
            service,
            sessions,
            price,
            expires_on,
            paid_with,
        } => {
            if price.is_negative() || expires_on.is_some_and(|d| d < today) {
                return Err(MemberError::BadSessions.into());
            }
            let id = CardId(fx.acct.membership.number());
            let new = CountCard {
                id,
                service,
                total: sessions,
                remaining: sessions,
                expires_on,
                price,
                sold_at: store,
            };
            fx.acct.membership.add_card(new.clone())?;
            match paid_with {
                PaidWith::StoredValue => {
                    if let Ok(amount) = Amount::new(price.minor()) {
                        let p = ledger::deduct(&fx.acct, store, amount, now)?;
                        fx.post(p);
                    }
                }
                PaidWith::Tender(kind) => {
                    fx.store_transfer(
                        StoreAccountKind::Tender(kind),
                        StoreAccountKind::Revenue,
                        price,
                    );
                    fx.add_spent(price)?;
                }
            }
            let earned = fx.rules().points_for(price);
            fx.note(Activity::CardSold(new));
            fx.points(earned, format!("count card {}", id.0))?;
            card = Some(id);
        }
        CounterOp::Consume {
            card: id,
            sessions,
            service,
            reason,
        } => {
            let left = fx.acct.membership.consume(id, sessions, service, today)?;
            fx.sessions(id, -i64::from(sessions), left, reason, true);
            card = Some(id);
        }
        CounterOp::AddSessions {
            card: id,
            sessions,
            reason,
        } => {
            let left = fx.acct.membership.add_sessions(id, sessions, false)?;
            fx.sessions(id, i64::from(sessions), left, reason, false);
            card = Some(id);
        }
        CounterOp::Points { delta, reason } => fx.points(delta, reason)?,
        CounterOp::IssueCoupon {
            template: t,
            secret,
        } => {
            let tpl = template(ctx, t)?;
            if today > tpl.valid_until {
                return Err(CouponError::OutsidePeriod.into());
            }
            let code = CouponCode {
                member: fx.acct.member,
                number: fx.acct.membership.number(),
                secret,
            };
            fx.acct.membership.issue_coupon(t, code)?;
            fx.note(Activity::CouponIssued {
                code: code.to_string(),
                template: t,
            });
            coupon = Some(code);
        }
        CounterOp::RedeemCoupon { code, bill } => {
            fx.acct.membership.may_spend()?;
            let held = *fx.acct.membership.coupon(&code)?;
            let off = template(ctx, held.template)?.discount(store, today, bill)?;
            fx.acct.membership.take_coupon(&code)?;
            fx.note(Activity::CouponRedeemed {
                code: code.to_string(),
                template: held.template,
                discount: off,
            });
            coupon = Some(code);
            discount = Some(off);
        }
        CounterOp::ExchangeGift { gift, quantity } => {
            fx.acct.membership.may_spend()?;
            let g = ctx
                .catalog
                .gifts
                .get(&gift)
                .ok_or(GiftError::NotFound(gift.0))?;
            let points = g.cost(quantity)?;
            fx.points(-points, format!("gift {} x {quantity}", gift.0))?;
            fx.note(Activity::GiftExchanged {
                store,
                gift: gift.0,
                quantity,
                points,
            });
        }
        CounterOp::Lock => {
            if fx.acct.membership.locked {
                return Err(MemberError::AlreadyLocked.into());
            }
            fx.acct.membership.locked = true;
            fx.note(Activity::Locked);
        }
        CounterOp::SetLevel { level, reason } => {
            if level != LevelId(0) && ctx.catalog.levels.level(level).is_none() {
                return Err(MemberError::LevelNotFound(level.0).into());
            }
            let from = fx.acct.membership.level;
            if from == level {
                return Err(MemberError::LevelUnchanged(level.0).into());
            }
            fx.acct.membership.level = level;
            fx.note(Activity::LevelSet {
                from,
                to: level,
                reason,
            });
            manual_level = true;
        }
        CounterOp::Unlock => {
            if !fx.acct.membership.locked {
                return Err(MemberError::NotLocked.into());
            }
            fx.acct.membership.locked = false;
            fx.note(Activity::Unlocked);
        }
        CounterOp::ReplaceCard => {
            let m = &mut fx.acct.membership;
            let old = card_number(fx.acct.member, m.card_generation);
            m.card_generation = m
                .card_generation
                .checked_add(1)
                .ok_or(LedgerError::Overflow)?;
            m.locked = false;
            let new = card_number(fx.acct.member, m.card_generation);
            fx.note(Activity::CardReplaced { old, new });
        }
        CounterOp::Checkout {
            order,
            coupon: code,
            payment,
        } => {
            let order = checkout_member(&mut fx, order, code, payment)?;
            coupon = order.coupon.map(|c| c.0);
            discount = Some(order.pricing.coupon_off);
            answer_order = Some(order);
        }
        CounterOp::Return {
            order,
            deduction,
            lines,
        } => answer_order = Some(return_member(&mut fx, order, deduction, &lines)?),
        CounterOp::Exchange {
            order,
            deduction,
            lines,
            new_order,
            payment,
        } => {
            returned_order = Some(return_member(&mut fx, order, deduction, &lines)?);
            answer_order = Some(checkout_member(&mut fx, *new_order, None, payment)?);
        }
        CounterOp::RefundCard {
            card: id,
            deduction,
            tender,
        } => {
            let c = fx.acct.membership.refund_card(id)?;
            let amount = c.value_of(c.remaining);
            match (deduction, tender) {
                (Some(d), None) => {
                    if let Ok(a) = Amount::new(amount.minor()) {
                        let p = ledger::refund(&fx.acct, &d, Some(a), now)?;
                        fx.post(p);
                    }
                }
                (None, Some(kind)) if store == c.sold_at => {
                    fx.store_transfer(
                        StoreAccountKind::Revenue,
                        StoreAccountKind::Tender(kind),
                        amount,
                    );
                    fx.add_spent(Money::ZERO.checked_sub(amount)?)?;
                }
                (None, Some(_)) => {
                    return Err(MemberError::CardRefundElsewhere {
                        card: id.0,
                        sold_at: c.sold_at.get(),
                    }
                    .into())
                }
                _ => return Err(MemberError::BadSessions.into()),
            }
            fx.note(Activity::CardRefunded {
                card: id,
                sessions: c.remaining,
                amount,
            });
            card = Some(id);
        }
    }
    // A level set by hand stands until the next operation that earns an upgrade.
    if !manual_level {
        fx.upgrade();
    }
    assert!(
        fx.acct.check(),
        "a counter operation broke an account invariant"
    );
    if visit {
        fx.acct.last_visit = Some(now);
    }
    let answer = Answer {
        account: fx.acct.clone(),
        entry: fx.main_entry,
        order: answer_order.clone(),
        coupon,
        card,
        discount,
    };
    Ok(Effects {
        account: fx.acct,
        entries: fx.entries,
        activities: fx.activities,
        order: answer_order,
        transfers: fx.transfers,
        answer,
        migration,
        card_settlements: fx.settlements,
        returned_order,
    })
}

fn checkout_member(
    fx: &mut Fx<'_, '_>,
    mut order: Order,
    code: Option<CouponCode>,
    payment: Payment,
) -> Result<Order, LedgerError> {
    let ctx = fx.ctx;
    ctx.catalog
        .prices
        .price_lines(ctx.store, &mut order.lines)?;
    validate_lines(&order.lines)?;
    let uses_account = code.is_some()
        || payment.stored_value != Money::ZERO
        || payment.points != 0
        || order.lines.iter().any(|l| l.card.is_some());
    if uses_account {
        fx.acct.membership.may_spend()?;
    }
    let label = format!("order {}", order.id.0);
    for (id, service, n) in sessions_used(&order.lines) {
        let left = fx
            .acct
            .membership
            .consume(id, n, Some(service), ctx.today)?;
        fx.sessions(id, -i64::from(n), left, label.clone(), true);
    }
    let list = money_list(&order.lines);
    let prices = &ctx.catalog.prices;
    let totals = checkout::member_totals(
        &mut order.lines,
        fx.rules(),
        |id| prices.level_price(id, fx.acct.membership.level),
        |id| prices.level_discount(id),
    )?;
    let member_price = totals.member_price;
    let mut coupon_off = Money::ZERO;
    if let Some(code) = code {
        let held = *fx.acct.membership.coupon(&code)?;
        coupon_off =
            template(ctx, held.template)?.discount(ctx.store, ctx.today, totals.coupon_base)?;
        fx.acct.membership.take_coupon(&code)?;
        fx.note(Activity::CouponRedeemed {
            code: code.to_string(),
            template: held.template,
            discount: coupon_off,
        });
        order.coupon = Some((code, held.template));
    }
    let payable = member_price.checked_sub(coupon_off)?;
    check_payment(payable, &payment, ctx.catalog.point_value, false)?;
    let cap = payable
        .checked_sub(totals.no_stored_value)?
        .max(Money::ZERO);
    if payment.stored_value > cap {
        return Err(CheckoutError::StoredValueNotAllowed { cap }.into());
    }
    fx.points(-payment.points, label.clone())?;
    if let Ok(amount) = Amount::new(payment.stored_value.minor()) {
        let p = ledger::deduct(&fx.acct, ctx.store, amount, ctx.now)?;
        order.deduction = Some(p.entry.seq);
        fx.post(p);
    }
    for (kind, amount) in &payment.tenders {
        fx.store_transfer(
            StoreAccountKind::Tender(*kind),
            StoreAccountKind::Revenue,
            *amount,
        );
    }
    fx.add_spent(payment.tenders_total())?;
    let paid = payment.stored_value.checked_add(payment.tenders_total())?;
    let earned = checkout::points_earned(&totals, fx.rules(), paid);
    fx.points(earned, label)?;
    order.status = OrderStatus::Paid;
    order.pricing = Pricing {
        list,
        member_price,
        coupon_off,
        payable,
    };
    order.payment = payment;
    order.points_earned = earned;
    order.paid_at = Some(ctx.now);
    Ok(order)
}

fn return_member(
    fx: &mut Fx<'_, '_>,
    mut order: Order,
    deduction: Option<Entry>,
    lines: &[(usize, u32)],
) -> Result<Order, LedgerError> {
    let plan = plan_return(&order, lines)?;
    let label = format!("return of order {}", order.id.0);
    if let Ok(amount) = Amount::new(plan.stored_value.minor()) {
        let d = deduction.ok_or(CheckoutError::NotPaid(order.id.0))?;
        let p = ledger::refund(&fx.acct, &d, Some(amount), fx.ctx.now)?;
        fx.post(p);
    }
    fx.points(plan.points, label.clone())?;
    for (kind, amount) in &plan.tenders {
        fx.store_transfer(
            StoreAccountKind::Revenue,
            StoreAccountKind::Tender(*kind),
            *amount,
        );
        fx.add_spent(Money::ZERO.checked_sub(*amount)?)?;
    }
    for (id, n) in &plan.sessions {
        let left = fx.acct.membership.add_sessions(*id, *n, true)?;
        fx.sessions(*id, i64::from(*n), left, label.clone(), true);
    }
    let take = plan.points_earned.min(fx.acct.membership.points);
    fx.points(-take, label)?;
    let mut returned = plan.returned;
    returned.points_unrecovered += plan.points_earned - take;
    if plan.restore_coupon {
        if let Some((code, template)) = order.coupon {
            fx.acct
                .membership
                .coupons
                .push(super::coupon::Coupon { code, template });
            fx.note(Activity::CouponRestored {
                code: code.to_string(),
            });
        }
    }
    order.returned = returned;
    Ok(order)
}

/// A walk-in customer's order: external tenders only, no level, no coupon.
pub fn checkout_walk_in(
    ctx: &Ctx<'_>,
    mut order: Order,
    payment: Payment,
) -> Result<(Order, Vec<Transfer>), LedgerError> {
    ctx.catalog
        .prices
        .price_lines(ctx.store, &mut order.lines)?;
    validate_lines(&order.lines)?;
    if order.lines.iter().any(|l| l.card.is_some()) {
        return Err(CheckoutError::WalkInNeedsTenders.into());
    }
    let list = money_list(&order.lines);
    check_payment(list, &payment, ctx.catalog.point_value, true)?;
    let s = ctx.store;
    let transfers = payment
        .tenders
        .iter()
        .filter_map(|(k, m)| {
            Transfer::of(
                AccountRef::Store(s, StoreAccountKind::Tender(*k)),
                AccountRef::Store(s, StoreAccountKind::Revenue),
                *m,
            )
        })
        .collect();
    order.status = OrderStatus::Paid;
    order.pricing = Pricing {
        list,
        member_price: list,
        coupon_off: Money::ZERO,
        payable: list,
    };
    order.payment = payment;
    order.paid_at = Some(ctx.now);
    Ok((order, transfers))
}

/// A walk-in customer's exchange (换货): the return of `lines` of `order` and the sale of
/// `new_order`, their transfers together.
pub fn exchange_walk_in(
    ctx: &Ctx<'_>,
    order: &Order,
    lines: &[(usize, u32)],
    new_order: Order,
    payment: Payment,
) -> Result<(Order, Order, Vec<Transfer>), LedgerError> {
    let (returned, mut transfers) = return_walk_in(order, lines)?;
    let (sold, more) = checkout_walk_in(ctx, new_order, payment)?;
    transfers.extend(more);
    Ok((returned, sold, transfers))
}

/// A walk-in customer's return: tenders back in proportion.
pub fn return_walk_in(
    order: &Order,
    lines: &[(usize, u32)],
) -> Result<(Order, Vec<Transfer>), LedgerError> {
    let plan = checkout::plan_return(order, lines)?;
    let s = order.store;
    let transfers = plan
        .tenders
        .iter()
        .filter_map(|(k, m)| {
            Transfer::of(
                AccountRef::Store(s, StoreAccountKind::Revenue),
                AccountRef::Store(s, StoreAccountKind::Tender(*k)),
                *m,
            )
        })
        .collect();
    let mut order = order.clone();
    order.returned = plan.returned;
    Ok((order, transfers))
}

#[cfg(test)]
#[path = "counter_tests.rs"]
mod tests;

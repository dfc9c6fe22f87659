//! Counter messages of a store's ledger actor: member operations (count cards, points,
//! coupons, card loss, checkout, returns, recharge refunds) and walk-in orders. The rules
//! are in `domain::counter`; here they meet the orders and entries they name.

use actix::fut::{ready, ActorFutureExt, WrapFuture};
use actix::{AsyncContext, Context, Handler, Message, ResponseActFuture};

use super::stock::{
    self, ExpectProducts, ProductsArrived, ReleaseProducts, ReserveProducts, Units,
};
use super::store_ledger::StoreLedger;
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::checkout::{
    CheckoutError, Item, Order, OrderId, OrderLine, OrderStatus, Payment, Pricing, Returned,
};
use crate::domain::counter::{self, CounterOp, Ctx};
use crate::domain::coupon::CouponCode;
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{EntrySeq, MemberId, StoreId};
use crate::domain::ledger::LedgerError;
use crate::domain::money::Amount;

// Requests travel once through a mailbox; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum MemberRequest {
    /// An operation that names nothing but the member's own holdings.
    Op(CounterOp),
    RefundRecharge {
        recharge: EntrySeq,
        amount: Amount,
    },
    /// Pay new `lines`, or the held order `resume`.
    Checkout {
        resume: Option<OrderId>,
        lines: Vec<OrderLine>,
        coupon: Option<CouponCode>,
        payment: Payment,
    },
    Return {
        order: OrderId,
        lines: Vec<(usize, u32)>,
    },
    Hold {
        lines: Vec<OrderLine>,
    },
    /// 退次卡 through the deduction that paid for the card, or in a tender.
    RefundCard {
        card: crate::domain::membership::CardId,
        deduction: Option<EntrySeq>,
        tender: Option<crate::domain::ledger::TenderKind>,
    },
}

/// A write on a member's account, sent to the member's home ledger.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct MemberWrite {
    pub meta: WriteMeta,
    pub member: MemberId,
    /// Where it happens.
    pub store: StoreId,
    /// The card generation presented, when the member was named by card number.
    pub card: Option<u32>,
    pub request: MemberRequest,
}

/// A walk-in customer's order at this store: pay, hold or return.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct WalkInWrite {
    pub meta: WriteMeta,
    pub request: MemberRequest,
}

impl StoreLedger {
    fn new_order(
        &mut self,
        store: StoreId,
        member: Option<MemberId>,
        lines: Vec<OrderLine>,
    ) -> Result<Order, ActorError> {
        if self.next_order == u32::MAX {
            return Err(ActorError::Exhausted("order ids"));
        }
        let id = OrderId((u64::from(self.home.get()) << 32) | u64::from(self.next_order));
        self.next_order += 1;
        Ok(Order {
            id,
            store,
            member,
            lines,
            coupon: None,
            status: OrderStatus::Held,
            pricing: Pricing::default(),
            payment: Payment::default(),
            deduction: None,
            points_earned: 0,
            returned: Returned::default(),
            created_at: self.registry.clock.now(),
            paid_at: None,
        })
    }

    /// The held order `id` of `member` (None for walk-ins) at `store`.
    fn held(
        &self,
        id: OrderId,
        member: Option<MemberId>,
        store: StoreId,
    ) -> Result<Order, ActorError> {
        let order = self.order(id)?;
        if order.member != member || order.store != store {
            return Err(ActorError::NotFound(format!("order {}", id.0)));
        }
        Ok(order)
    }

    fn paid_order_of(&self, id: OrderId, member: Option<MemberId>) -> Result<Order, ActorError> {
        let order = self.order(id)?;
        if order.member != member {
            return Err(ActorError::NotFound(format!("order {}", id.0)));
        }
        Ok(order)
    }

    /// Writes a held order under its key; nothing about money changes.
    fn hold(
        &mut self,
        meta: WriteMeta,
        store: StoreId,
        member: Option<MemberId>,
        lines: Vec<OrderLine>,
    ) -> WriteResult {
        super::writer::turn(self, meta, |me| {
            let mut lines = lines;
            me.registry
                .catalog()
                .prices
                .price_lines(store, &mut lines)?;
            crate::domain::checkout::validate_lines(&lines)
                .map_err(|e| ActorError::Invalid(e.to_string()))?;
            let max = crate::domain::checkout::HELD_ORDERS_MAX;
            me.holds_in_flight.prune(me.writer.durable());
            let in_flight = me.holds_in_flight.values().filter(|s| **s == store).count();
            let held = me.registry.storage.held_count(store, max)? + in_flight;
            let seq = me.writer.next_seq();
            let mut writes = Vec::with_capacity(3);
            let outcome = if held >= max {
                Outcome::Rejected(CheckoutError::TooManyHeld.into())
            } else {
                let order = me.new_order(store, member, lines)?;
                me.holds_in_flight.insert(seq, order.id, store);
                me.put_order(seq, &order, &mut writes);
                Outcome::Order(Box::new(order))
            };
            Ok((outcome, writes))
        })
    }
}

/// The product stock a sale or return moves, at the store where the order is sold.
#[derive(Debug, Clone)]
pub(super) struct StockPlan {
    store: StoreId,
    units: Units,
    sale: bool,
}

impl StoreLedger {
    /// What `request` would move of `store`'s products (none for other writes, or orders
    /// without products).
    fn stock_plan(
        &self,
        request: &MemberRequest,
        store: StoreId,
        member: Option<MemberId>,
    ) -> Result<Option<StockPlan>, ActorError> {
        let catalog = self.registry.catalog();
        let is_product = |l: &OrderLine| match &l.item {
            Item::Priced(p) => catalog.prices.item(p.id).is_some_and(|i| i.is_product()),
            _ => false,
        };
        let priced_id = |l: &OrderLine| match &l.item {
            Item::Priced(p) => Some(p.id),
            _ => None,
        };
        let (store, units, sale) = match request {
            MemberRequest::Checkout { resume, lines, .. } => {
                let held;
                let lines = match resume {
                    Some(id) => {
                        held = self.held(*id, member, store)?;
                        &held.lines
                    }
                    None => lines,
                };
                let units = lines
                    .iter()
                    .filter(|l| is_product(l))
                    .filter_map(|l| priced_id(l).map(|id| (id, l.quantity)));
                (store, stock::merged(units), true)
            }
            MemberRequest::Return { order, lines } => {
                let order = self.paid_order_of(*order, member)?;
                let units = lines.iter().filter_map(|&(i, q)| {
                    let l = order.lines.get(i)?;
                    match &l.item {
                        Item::Priced(p) if p.product => Some((p.id, q)),
                        _ => None,
                    }
                });
                (order.store, stock::merged(units), false)
            }
            _ => return Ok(None),
        };
        Ok((!units.is_empty()).then_some(StockPlan { store, units, sale }))
    }

    /// The writes of an accepted sale or return beyond the order: the stock it moves, the
    /// item figures, and this ledger's view of its own store's stock.
    fn order_effects(
        &mut self,
        order: &Order,
        returned: Option<&[(usize, u32)]>,
        plan: Option<&StockPlan>,
        writes: &mut Vec<crate::storage::Write>,
    ) {
        let quantities: Vec<u32> = match returned {
            None => order.lines.iter().map(|l| l.quantity).collect(),
            Some(r) => {
                let mut q = vec![0; order.lines.len()];
                for &(i, n) in r {
                    if let Some(slot) = q.get_mut(i) {
                        *slot += n;
                    }
                }
                q
            }
        };
        let now = self.registry.clock.now();
        let day = self.registry.business_day(order.store, now);
        let event = crate::storage::order_index::OrderEvent {
            order: order.id.0,
            store: order.store.get(),
            member: order.member.map(|m| m.get()),
            at_us: now.timestamp_micros(),
            ret: returned.is_some(),
            amount: crate::domain::stock::takings_of(order, &quantities)
                .iter()
                .sum(),
            units: quantities.iter().sum(),
        };
        writes.extend(crate::storage::order_index::event_writes(
            &event,
            self.writer.next_seq(),
        ));
        for (item, _, f) in crate::domain::stock::of_order(order, &quantities, returned.is_none()) {
            writes.push(crate::storage::stock::figures_write(
                order.store,
                day,
                item,
                &f,
            ));
        }
        if let Some(p) = plan {
            let sign = if p.sale { -1 } else { 1 };
            for &(item, n) in &p.units {
                writes.push(crate::storage::stock::stock_write(
                    p.store,
                    item,
                    sign * i64::from(n),
                ));
            }
            if !p.sale && p.store == self.home {
                self.add_loaded(&p.units);
            }
        }
    }

    /// Gives back what a sale reserved when it was not written.
    fn release_plan(&mut self, plan: Option<&StockPlan>, ctx: &mut Context<Self>) {
        let Some(p) = plan.filter(|p| p.sale) else {
            return;
        };
        if p.store == self.home {
            if let Err(e) = self.give_products(&p.units) {
                tracing::error!(store = %self.home, error = %e, "stock reservation not given back");
            }
        } else if let Some(addr) = self.registry.store(p.store) {
            let give_back = addr.send(ReleaseProducts {
                units: p.units.clone(),
            });
            ctx.spawn(give_back.into_actor(self).map(|_, _, _| ()));
        }
    }

    /// Tells the selling store, once the return is durable, that its units are back.
    fn announce_return(&mut self, plan: Option<&StockPlan>, ctx: &mut Context<Self>) {
        let Some(p) = plan.filter(|p| !p.sale && p.store != self.home) else {
            return;
        };
        let Some(addr) = self.registry.store(p.store) else {
            return;
        };
        let ticket = self.writer.ticket_for_latest();
        let units = p.units.clone();
        ctx.spawn(
            async move {
                if ticket.durable().await.is_ok() {
                    addr.do_send(ProductsArrived { units });
                }
            }
            .into_actor(self),
        );
    }

    /// A member write once the stock it moves at another store is reserved or expected.
    fn member_write(
        &mut self,
        msg: MemberWrite,
        plan: Option<StockPlan>,
        ctx: &mut Context<Self>,
    ) -> WriteResult {
        self.prune();
        let MemberWrite {
            mut meta,
            member,
            store,
            card,
            request,
        } = msg;
        // A return happens where the order was sold.
        let store = match &request {
            MemberRequest::Return { order, .. } => self
                .paid_order_of(*order, Some(member))
                .map(|o| o.store)
                .unwrap_or(store),
            _ => store,
        };
        // A return no employee is named for is taken back from whoever sold the order.
        if let (MemberRequest::Return { order, .. }, None) = (&request, meta.audit.employee) {
            meta.audit.employee = self.seller(*order)?;
        }
        let returned = match &request {
            MemberRequest::Return { lines, .. } => Some(lines.clone()),
            _ => None,
        };
        let key = meta.key;
        let fingerprint = Request::Fingerprint(meta.fingerprint);
        let mut writes = Vec::with_capacity(8);
        let outcome = self.apply_member(
            key,
            &meta.audit,
            fingerprint,
            member,
            store,
            card,
            |me: &mut StoreLedger, _| {
                Ok(match request {
                    MemberRequest::Op(op) => op,
                    MemberRequest::RefundRecharge { recharge, amount } => {
                        CounterOp::RefundRecharge {
                            recharge: me.entry(member, recharge)?,
                            amount,
                        }
                    }
                    MemberRequest::Checkout {
                        resume,
                        lines,
                        coupon,
                        payment,
                    } => {
                        let order = match resume {
                            Some(id) => {
                                let held = me.held(id, Some(member), store)?;
                                if held.status != OrderStatus::Held {
                                    return Err(ActorError::Invalid(
                                        CheckoutError::NotHeld(id.0).to_string(),
                                    ));
                                }
                                held
                            }
                            None => me.new_order(store, Some(member), lines)?,
                        };
                        CounterOp::Checkout {
                            order,
                            coupon,
                            payment,
                        }
                    }
                    MemberRequest::Return { order, lines } => {
                        let order = me.paid_order_of(order, Some(member))?;
                        let deduction = order
                            .deduction
                            .map(|seq| me.entry(member, seq))
                            .transpose()?;
                        CounterOp::Return {
                            order,
                            deduction,
                            lines,
                        }
                    }
                    MemberRequest::RefundCard {
                        card,
                        deduction,
                        tender,
                    } => CounterOp::RefundCard {
                        card,
                        deduction: deduction.map(|s| me.entry(member, s)).transpose()?,
                        tender,
                    },
                    MemberRequest::Hold { .. } => unreachable!("handled before"),
                })
            },
            &mut writes,
        );
        let order = match &outcome {
            Ok(Outcome::Counter(a)) if !writes.is_empty() => a.order.clone(),
            _ => None,
        };
        match &order {
            Some(o) => self.order_effects(o, returned.as_deref(), plan.as_ref(), &mut writes),
            None => self.release_plan(plan.as_ref(), ctx),
        }
        let value = outcome?;
        let ticket = self.writer.submit(writes);
        if order.is_some() {
            self.announce_return(plan.as_ref(), ctx);
        }
        Ok(Durable { value, ticket })
    }
}

impl Handler<MemberWrite> for StoreLedger {
    type Result = ResponseActFuture<Self, WriteResult>;

    fn handle(&mut self, msg: MemberWrite, ctx: &mut Context<Self>) -> Self::Result {
        self.prune();
        if let MemberRequest::Hold { lines } = msg.request {
            let result = self
                .owns(msg.member)
                .and_then(|()| self.hold(msg.meta, msg.store, Some(msg.member), lines));
            return Box::pin(ready(result));
        }
        // A repeat reserves nothing.
        let request = Request::Fingerprint(msg.meta.fingerprint.clone());
        match self.writer.replay(&msg.meta.key, &request) {
            Ok(Some(answer)) => return Box::pin(ready(Ok(answer))),
            Err(e) => return Box::pin(ready(Err(e))),
            Ok(None) => {}
        }
        if let Err(e) = self.owns(msg.member) {
            return Box::pin(ready(Err(e)));
        }
        let plan = match self.stock_plan(&msg.request, msg.store, Some(msg.member)) {
            Ok(p) => p,
            Err(e) => return Box::pin(ready(Err(e))),
        };
        let Some(p) = plan else {
            return Box::pin(ready(self.member_write(msg, None, ctx)));
        };
        if p.store == self.home {
            let items: Vec<_> = p.units.iter().map(|(i, _)| *i).collect();
            let ready_ = if p.sale {
                self.take_products(&p.units)
            } else {
                self.expect_products(&items)
            };
            if let Err(e) = ready_ {
                return Box::pin(ready(Err(e)));
            }
            return Box::pin(ready(self.member_write(msg, Some(p), ctx)));
        }
        let Some(addr) = self.registry.store(p.store) else {
            return Box::pin(ready(Err(ActorError::StoreNotFound(p.store.get()))));
        };
        let ask = if p.sale {
            let f = addr.send(ReserveProducts {
                units: p.units.clone(),
            });
            Box::pin(f) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>
        } else {
            let items = p.units.iter().map(|(i, _)| *i).collect();
            Box::pin(addr.send(ExpectProducts { items }))
        };
        Box::pin(ask.into_actor(self).map(move |reply, act, ctx| {
            reply.unwrap_or(Err(ActorError::Unavailable))?;
            act.member_write(msg, Some(p), ctx)
        }))
    }
}

impl Handler<WalkInWrite> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, mut msg: WalkInWrite, actx: &mut Context<Self>) -> WriteResult {
        self.prune();
        if let (MemberRequest::Return { order, .. }, None) = (&msg.request, msg.meta.audit.employee)
        {
            msg.meta.audit.employee = self.seller(*order)?;
        }
        let store = self.home;
        let plan = match &msg.request {
            MemberRequest::Hold { .. } => None,
            r => self.stock_plan(r, store, None)?,
        };
        let returned = match &msg.request {
            MemberRequest::Return { lines, .. } => Some(lines.clone()),
            _ => None,
        };
        let (lines, resume, payment, ret) = match msg.request {
            MemberRequest::Hold { lines } => return self.hold(msg.meta, store, None, lines),
            MemberRequest::Checkout {
                resume,
                lines,
                payment,
                coupon: None,
            } => (lines, resume, Some(payment), None),
            MemberRequest::Return { order, lines } => {
                (Vec::new(), None, None, Some((order, lines)))
            }
            _ => {
                return Err(ActorError::Invalid(
                    "a walk-in customer pays with external tenders only".into(),
                ))
            }
        };
        let request = Request::Fingerprint(msg.meta.fingerprint);
        if let Some(answer) = self.writer.replay(&msg.meta.key, &request)? {
            return Ok(answer);
        }
        // A walk-in order is sold here: the stock is this ledger's own.
        if let Some(p) = &plan {
            if p.sale {
                self.take_products(&p.units)?;
            } else {
                let items: Vec<_> = p.units.iter().map(|(i, _)| *i).collect();
                self.expect_products(&items)?;
            }
        }
        let (catalog, now, today) = self.ctx_parts(store);
        let ctx = Ctx {
            store,
            now,
            today,
            catalog: &catalog,
        };
        let sale = ret.is_none();
        let employee = msg.meta.audit.employee;
        let mut writes = Vec::with_capacity(6);
        // Every early return gives the reservation back (below).
        let run = |me: &mut StoreLedger, writes: &mut Vec<crate::storage::Write>| {
            let result = match (payment, ret) {
                (Some(payment), _) => {
                    let order = match resume {
                        Some(id) => me.held(id, None, store)?,
                        None => me.new_order(store, None, lines)?,
                    };
                    if order.status != OrderStatus::Held {
                        return Err(ActorError::Invalid(
                            CheckoutError::NotHeld(order.id.0).to_string(),
                        ));
                    }
                    counter::checkout_walk_in(&ctx, order, payment)
                }
                (None, Some((id, lines))) => {
                    let order = me.paid_order_of(id, None)?;
                    counter::return_walk_in(&order, &lines)
                }
                (None, None) => unreachable!("one of the two is set"),
            };
            let seq = me.writer.next_seq();
            Ok(match result {
                Ok((order, transfers)) => {
                    let sold = sale.then_some(&order);
                    let deltas =
                        crate::domain::closing::of_walk_in(sold, &transfers, now, |s, at| {
                            me.registry.business_day(s, at)
                        });
                    match me.registry.closed_in(&deltas) {
                        Some((s, day)) => Outcome::Rejected(LedgerError::DayClosed {
                            store: s.get(),
                            day,
                        }),
                        None => {
                            writes.extend(crate::storage::closing::figure_writes(&deltas));
                            me.transfer(&transfers, writes)?;
                            let sold = sale.then_some(order.id);
                            me.credit(seq, employee, &deltas, sold, writes);
                            me.put_order(seq, &order, writes);
                            Outcome::Order(Box::new(order))
                        }
                    }
                }
                Err(e) => Outcome::Rejected(e),
            })
        };
        let outcome = run(self, &mut writes);
        match &outcome {
            Ok(Outcome::Order(o)) => {
                let o = o.clone();
                self.order_effects(&o, returned.as_deref(), plan.as_ref(), &mut writes);
            }
            _ => self.release_plan(plan.as_ref(), actx),
        }
        let outcome = outcome?;
        let (key, audit) = (msg.meta.key, &msg.meta.audit);
        writes.extend(self.writer.record(now, key, request, &outcome, audit));
        let ticket = self.writer.submit(writes);
        Ok(Durable {
            value: outcome,
            ticket,
        })
    }
}

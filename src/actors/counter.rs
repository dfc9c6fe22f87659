//! Counter messages of a store's ledger actor: member operations (count cards, points,
//! coupons, card loss, checkout, returns, recharge refunds) and walk-in orders. The rules
//! are in `domain::counter`; here they meet the orders and entries they name.

use actix::fut::{ready, ActorFutureExt, WrapFuture};
use actix::{AsyncContext, Context, Handler, Message, ResponseActFuture};

use super::refund_requests::Approval;
use super::stock::{self, ProductsArrived, ReleaseProducts, ReserveProducts, Units};
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
    /// Refund a deduction (`None`: what is left of it).
    Refund {
        deduction: EntrySeq,
        amount: Option<Amount>,
    },
    /// Approve a refund request: its grant is posted in the same write (退款审核).
    ApproveRefund {
        id: crate::domain::refund_request::RefundRequestId,
        amount: Option<Amount>,
        lines: Option<Vec<(usize, u32)>>,
        note: Option<String>,
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
    /// 换货: return `lines` of `order` and sell `new_lines`, paid by `payment`, in one write.
    Exchange {
        order: OrderId,
        lines: Vec<(usize, u32)>,
        new_lines: Vec<OrderLine>,
        payment: Payment,
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

/// The product stock a sale, return or exchange moves, at the store where the order is
/// sold: units taken (sold) and given back (returned).
#[derive(Debug, Clone)]
pub(super) struct StockPlan {
    store: StoreId,
    take: Units,
    give: Units,
}

impl StockPlan {
    fn give_items(&self) -> Vec<crate::domain::price_list::ItemId> {
        self.give.iter().map(|(i, _)| *i).collect()
    }
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
        if !matches!(
            request,
            MemberRequest::Checkout { .. }
                | MemberRequest::Return { .. }
                | MemberRequest::Exchange { .. }
        ) {
            return Ok(None);
        }
        let catalog = self.registry.catalog();
        let sold = |lines: &[OrderLine]| {
            stock::merged(lines.iter().filter_map(|l| match &l.item {
                Item::Priced(p) if catalog.prices.item(p.id).is_some_and(|i| i.is_product()) => {
                    Some((p.id, l.quantity))
                }
                _ => None,
            }))
        };
        let returned = |order: &Order, lines: &[(usize, u32)]| {
            stock::merged(
                lines
                    .iter()
                    .filter_map(|&(i, q)| match &order.lines.get(i)?.item {
                        Item::Priced(p) if p.product => Some((p.id, q)),
                        _ => None,
                    }),
            )
        };
        let plan = match request {
            MemberRequest::Checkout { resume, lines, .. } => {
                let take = match resume {
                    Some(id) => sold(&self.held(*id, member, store)?.lines),
                    None => sold(lines),
                };
                StockPlan {
                    store,
                    take,
                    give: Vec::new(),
                }
            }
            MemberRequest::Return { order, lines } => {
                let order = self.paid_order_of(*order, member)?;
                StockPlan {
                    store: order.store,
                    take: Vec::new(),
                    give: returned(&order, lines),
                }
            }
            MemberRequest::Exchange {
                order,
                lines,
                new_lines,
                ..
            } => {
                let order = self.paid_order_of(*order, member)?;
                StockPlan {
                    store: order.store,
                    take: sold(new_lines),
                    give: returned(&order, lines),
                }
            }
            _ => return Ok(None),
        };
        Ok((!plan.take.is_empty() || !plan.give.is_empty()).then_some(plan))
    }

    /// The writes of an accepted sale or return beyond the order: its index lines and item
    /// figures.
    fn order_effects(
        &mut self,
        order: &Order,
        returned: Option<&[(usize, u32)]>,
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
    }

    /// The stock writes of an accepted plan, and this ledger's view of its own store.
    fn stock_effects(&mut self, plan: Option<&StockPlan>, writes: &mut Vec<crate::storage::Write>) {
        let Some(p) = plan else { return };
        for (units, sign) in [(&p.take, -1), (&p.give, 1)] {
            for &(item, n) in units {
                writes.push(crate::storage::stock::stock_write(
                    p.store,
                    item,
                    sign * i64::from(n),
                ));
            }
        }
        if p.store == self.home {
            // Loaded before (`expect_products`), and submitted after this: counted once.
            self.add_loaded(&p.give);
        }
    }

    /// Gives back what a sale reserved when it was not written.
    fn release_plan(&mut self, plan: Option<&StockPlan>, ctx: &mut Context<Self>) {
        let Some(p) = plan.filter(|p| !p.take.is_empty()) else {
            return;
        };
        if p.store == self.home {
            if let Err(e) = self.give_products(&p.take) {
                tracing::error!(store = %self.home, error = %e, "stock reservation not given back");
            }
        } else if let Some(addr) = self.registry.store(p.store) {
            let give_back = addr.send(ReleaseProducts {
                units: p.take.clone(),
            });
            ctx.spawn(give_back.into_actor(self).map(|_, _, _| ()));
        }
    }

    /// Tells the selling store, once the return is durable, that its units are back.
    fn announce_return(&mut self, plan: Option<&StockPlan>, ctx: &mut Context<Self>) {
        let Some(p) = plan.filter(|p| !p.give.is_empty() && p.store != self.home) else {
            return;
        };
        let Some(addr) = self.registry.store(p.store) else {
            return;
        };
        let ticket = self.writer.ticket_for_latest();
        let units = p.give.clone();
        ctx.spawn(
            async move {
                if ticket.durable().await.is_ok() {
                    addr.do_send(ProductsArrived { units });
                }
            }
            .into_actor(self),
        );
    }

    /// Takes a plan's units at this store, and loads the items it will give back; none or
    /// all.
    fn prepare_local(&mut self, p: &StockPlan) -> Result<(), ActorError> {
        self.expect_products(&p.give_items())?;
        self.take_products(&p.take)
    }

    /// A member write once the stock it moves at another store is reserved or expected.
    fn member_write(
        &mut self,
        msg: MemberWrite,
        plan: Option<StockPlan>,
        approval: Option<Approval>,
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
        let (returned, exchanged) = match &request {
            MemberRequest::Return { lines, .. } => (Some(lines.clone()), None),
            MemberRequest::Exchange { order, lines, .. } => (None, Some((*order, lines.clone()))),
            _ => (None, None),
        };
        let key = meta.key;
        let fingerprint = Request::Fingerprint(meta.fingerprint);
        let mut writes = Vec::with_capacity(8);
        let approving = approval.as_ref().map(|a| a.id);
        let outcome = self.apply_member(
            key,
            &meta.audit,
            fingerprint,
            member,
            store,
            card,
            |me: &mut StoreLedger, _| {
                // Decided while this approval waited for another store's stock: nothing.
                if let Some(id) = approving {
                    me.refund_request(id, member)?.ensure_pending()?;
                }
                Ok(match request {
                    MemberRequest::Op(op) => op,
                    MemberRequest::Refund { deduction, amount } => CounterOp::Refund {
                        deduction: me.entry(member, deduction)?,
                        amount,
                    },
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
                    MemberRequest::Exchange {
                        order,
                        lines,
                        new_lines,
                        payment,
                    } => {
                        let order = me.paid_order_of(order, Some(member))?;
                        let deduction = order
                            .deduction
                            .map(|seq| me.entry(member, seq))
                            .transpose()?;
                        let new_order =
                            Box::new(me.new_order(order.store, Some(member), new_lines)?);
                        CounterOp::Exchange {
                            order,
                            deduction,
                            lines,
                            new_order,
                            payment,
                        }
                    }
                    MemberRequest::Hold { .. } | MemberRequest::ApproveRefund { .. } => {
                        unreachable!("handled before")
                    }
                })
            },
            &mut writes,
        );
        let order = match &outcome {
            Ok(Outcome::Counter(a)) if !writes.is_empty() => a.order.clone(),
            _ => None,
        };
        // Written only when the refund was (a repeat of the key writes nothing).
        if let (Some(a), Ok(Outcome::Counter(answer))) = (approval, &outcome) {
            if !writes.is_empty() {
                let entry = answer.entry.map(|e| e.seq);
                writes.extend(self.approve(member, a, entry, meta.audit.credential.0));
            }
        }
        match &order {
            Some(o) => {
                if let Some((id, lines)) = &exchanged {
                    // Written just now: the pending copy, returned.
                    if let Ok(back) = self.order(*id) {
                        self.order_effects(&back, Some(lines), &mut writes);
                    }
                }
                self.order_effects(o, returned.as_deref(), &mut writes);
                self.stock_effects(plan.as_ref(), &mut writes);
            }
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

    fn handle(&mut self, mut msg: MemberWrite, ctx: &mut Context<Self>) -> Self::Result {
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
        let mut approval = None;
        if let MemberRequest::ApproveRefund {
            id,
            amount,
            lines,
            note,
        } = &mut msg.request
        {
            let (id, amount, lines, note) = (*id, *amount, lines.take(), note.take());
            match self.approval(msg.member, id, amount, lines, note) {
                Ok((a, request)) => {
                    approval = Some(a);
                    msg.request = request;
                }
                Err(e) => return Box::pin(ready(Err(e))),
            }
        }
        let plan = match self.stock_plan(&msg.request, msg.store, Some(msg.member)) {
            Ok(p) => p,
            Err(e) => return Box::pin(ready(Err(e))),
        };
        let Some(p) = plan else {
            return Box::pin(ready(self.member_write(msg, None, approval, ctx)));
        };
        if p.store == self.home {
            if let Err(e) = self.prepare_local(&p) {
                return Box::pin(ready(Err(e)));
            }
            return Box::pin(ready(self.member_write(msg, Some(p), approval, ctx)));
        }
        let Some(addr) = self.registry.store(p.store) else {
            return Box::pin(ready(Err(ActorError::StoreNotFound(p.store.get()))));
        };
        let ask = addr.send(ReserveProducts {
            units: p.take.clone(),
            expect: p.give_items(),
        });
        Box::pin(ask.into_actor(self).map(move |reply, act, ctx| {
            reply.unwrap_or(Err(ActorError::Unavailable))?;
            act.member_write(msg, Some(p), approval, ctx)
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
        let request = match msg.request {
            MemberRequest::Hold { lines } => return self.hold(msg.meta, store, None, lines),
            MemberRequest::Checkout {
                coupon: Some(_), ..
            }
            | MemberRequest::Op(_)
            | MemberRequest::RefundRecharge { .. }
            | MemberRequest::Refund { .. }
            | MemberRequest::ApproveRefund { .. }
            | MemberRequest::RefundCard { .. } => {
                return Err(ActorError::Invalid(
                    "a walk-in customer pays with external tenders only".into(),
                ))
            }
            r => r,
        };
        let fingerprint = Request::Fingerprint(msg.meta.fingerprint);
        if let Some(answer) = self.writer.replay(&msg.meta.key, &fingerprint)? {
            return Ok(answer);
        }
        // A walk-in order is sold here: the stock is this ledger's own.
        if let Some(p) = &plan {
            self.prepare_local(p)?;
        }
        let (catalog, now, today) = self.ctx_parts(store);
        let ctx = Ctx {
            store,
            now,
            today,
            catalog: &catalog,
        };
        let employee = msg.meta.audit.employee;
        let mut writes = Vec::with_capacity(6);
        // (the order answered, an exchange's returned order and its lines, a return's lines)
        type Done = (
            Order,
            Option<(Order, Vec<(usize, u32)>)>,
            Option<Vec<(usize, u32)>>,
        );
        let mut done: Option<Done> = None;
        // Every early return gives the reservation back (below).
        let run = |me: &mut StoreLedger,
                   writes: &mut Vec<crate::storage::Write>,
                   done: &mut Option<Done>| {
            let (result, back, ret_lines) = match request {
                MemberRequest::Checkout {
                    resume,
                    lines,
                    payment,
                    ..
                } => {
                    let order = match resume {
                        Some(id) => me.held(id, None, store)?,
                        None => me.new_order(store, None, lines)?,
                    };
                    if order.status != OrderStatus::Held {
                        return Err(ActorError::Invalid(
                            CheckoutError::NotHeld(order.id.0).to_string(),
                        ));
                    }
                    (counter::checkout_walk_in(&ctx, order, payment), None, None)
                }
                MemberRequest::Return { order, lines } => {
                    let order = me.paid_order_of(order, None)?;
                    (counter::return_walk_in(&order, &lines), None, Some(lines))
                }
                MemberRequest::Exchange {
                    order,
                    lines,
                    new_lines,
                    payment,
                } => {
                    let order = me.paid_order_of(order, None)?;
                    let new_order = me.new_order(store, None, new_lines)?;
                    match counter::exchange_walk_in(&ctx, &order, &lines, new_order, payment) {
                        Ok((back, sold, transfers)) => {
                            (Ok((sold, transfers)), Some((back, lines)), None)
                        }
                        Err(e) => (Err(e), None, None),
                    }
                }
                _ => unreachable!("refused above"),
            };
            let sale = ret_lines.is_none();
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
                            if let Some((b, _)) = &back {
                                me.put_order(seq, b, writes);
                            }
                            *done = Some((order.clone(), back, ret_lines));
                            Outcome::Order(Box::new(order))
                        }
                    }
                }
                Err(e) => Outcome::Rejected(e),
            })
        };
        let outcome = run(self, &mut writes, &mut done);
        match done {
            Some((order, back, ret_lines)) => {
                if let Some((b, lines)) = back {
                    self.order_effects(&b, Some(&lines), &mut writes);
                }
                self.order_effects(&order, ret_lines.as_deref(), &mut writes);
                self.stock_effects(plan.as_ref(), &mut writes);
            }
            None => self.release_plan(plan.as_ref(), actx),
        }
        let outcome = outcome?;
        let (key, audit) = (msg.meta.key, &msg.meta.audit);
        writes.extend(self.writer.record(now, key, fingerprint, &outcome, audit));
        let ticket = self.writer.submit(writes);
        Ok(Durable {
            value: outcome,
            ticket,
        })
    }
}

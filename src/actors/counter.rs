//! Counter messages of a store's ledger actor: member operations (count cards, points,
//! coupons, card loss, checkout, returns, recharge refunds) and walk-in orders. The rules
//! are in `domain::counter`; here they meet the orders and entries they name.

use actix::{Context, Handler, Message};

use super::store_ledger::StoreLedger;
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::checkout::{
    CheckoutError, Order, OrderId, OrderLine, OrderStatus, Payment, Pricing, Returned,
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

impl Handler<MemberWrite> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: MemberWrite, _ctx: &mut Context<Self>) -> WriteResult {
        self.prune();
        let MemberWrite {
            mut meta,
            member,
            store,
            card,
            request,
        } = msg;
        if let MemberRequest::Hold { lines } = request {
            self.owns(member)?;
            return self.hold(meta, store, Some(member), lines);
        }
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
        let key = meta.key;
        let fingerprint = Request::Fingerprint(meta.fingerprint);
        let mut writes = Vec::with_capacity(8);
        let value = self.apply_member(
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
                    MemberRequest::Hold { .. } => unreachable!("handled above"),
                })
            },
            &mut writes,
        )?;
        let ticket = self.writer.submit(writes);
        Ok(Durable { value, ticket })
    }
}

impl Handler<WalkInWrite> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, mut msg: WalkInWrite, _ctx: &mut Context<Self>) -> WriteResult {
        self.prune();
        if let (MemberRequest::Return { order, .. }, None) = (&msg.request, msg.meta.audit.employee)
        {
            msg.meta.audit.employee = self.seller(*order)?;
        }
        let store = self.home;
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
        let (catalog, now, today) = self.ctx_parts(store);
        let ctx = Ctx {
            store,
            now,
            today,
            catalog: &catalog,
        };
        let sale = ret.is_none();
        let result = match (payment, ret) {
            (Some(payment), _) => {
                let order = match resume {
                    Some(id) => self.held(id, None, store)?,
                    None => self.new_order(store, None, lines)?,
                };
                if order.status != OrderStatus::Held {
                    return Err(ActorError::Invalid(
                        CheckoutError::NotHeld(order.id.0).to_string(),
                    ));
                }
                counter::checkout_walk_in(&ctx, order, payment)
            }
            (None, Some((id, lines))) => {
                let order = self.paid_order_of(id, None)?;
                counter::return_walk_in(&order, &lines)
            }
            (None, None) => unreachable!("one of the two is set"),
        };
        let seq = self.writer.next_seq();
        let mut writes = Vec::with_capacity(6);
        let outcome = match result {
            Ok((order, transfers)) => {
                let sold = sale.then_some(&order);
                let deltas = crate::domain::closing::of_walk_in(sold, &transfers, now, |s, at| {
                    self.registry.business_day(s, at)
                });
                match self.registry.closed_in(&deltas) {
                    Some((s, day)) => Outcome::Rejected(LedgerError::DayClosed {
                        store: s.get(),
                        day,
                    }),
                    None => {
                        writes.extend(crate::storage::closing::figure_writes(&deltas));
                        self.transfer(&transfers, &mut writes)?;
                        let sold = sale.then_some(order.id);
                        self.credit(seq, msg.meta.audit.employee, &deltas, sold, &mut writes);
                        self.put_order(seq, &order, &mut writes);
                        Outcome::Order(Box::new(order))
                    }
                }
            }
            Err(e) => Outcome::Rejected(e),
        };
        let (key, audit) = (msg.meta.key, &msg.meta.audit);
        writes.extend(self.writer.record(now, key, request, &outcome, audit));
        let ticket = self.writer.submit(writes);
        Ok(Durable {
            value: outcome,
            ticket,
        })
    }
}

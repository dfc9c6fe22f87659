//! Gift stock and points exchange (积分兑换) in the ledger actors.
//!
//! A store's ledger owns its gift stock. An exchange is handled by the member's home
//! ledger: it first reserves the units at the gift store (in memory, never below zero),
//! then takes the points and writes the stock's decrement as a merge operand, both in its
//! one journal submission. Operands commute, so the stock on disk is right whichever
//! ledger's batch lands first. A refused or repeated exchange gives its reservation back.
//! The home ledger never blocks its mailbox while it waits for the gift store, so two
//! ledgers exchanging each other's gifts cannot deadlock.

use actix::fut::{ready, ActorFutureExt, WrapFuture};
use actix::{AsyncContext, Context, Handler, Message, ResponseActFuture};

use super::store_ledger::StoreLedger;
use super::{ActorError, Durable, WriteMeta, WriteResult};
use crate::domain::counter::CounterOp;
use crate::domain::gift::{move_stock, GiftError, GiftId};
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::LedgerError;
use crate::storage::ledger_writes;

/// Takes `quantity` units out of this store's stock until the exchange is written or given
/// back.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct ReserveGift {
    pub gift: GiftId,
    pub quantity: u32,
}

/// Gives back a reservation whose exchange was not written.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReleaseGift {
    pub gift: GiftId,
    pub quantity: u32,
}

/// Units in (positive) or out (negative) of this store's stock: delivery, breakage, count.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct MoveStock {
    pub meta: WriteMeta,
    pub gift: GiftId,
    pub delta: i64,
}

/// A member takes `quantity` of `gift` at `store` for points. Sent to the home ledger.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct ExchangeGift {
    pub meta: WriteMeta,
    pub member: MemberId,
    pub store: StoreId,
    /// The card generation presented, when the member was named by card number.
    pub card: Option<u32>,
    pub gift: GiftId,
    pub quantity: u32,
}

impl StoreLedger {
    /// This store's stock of `gift` as its ledger sees it: disk, less what is reserved.
    fn stock(&mut self, gift: GiftId) -> Result<i64, ActorError> {
        if !self.registry.catalog().gifts.contains_key(&gift) {
            return Err(LedgerError::from(GiftError::NotFound(gift.0)).into());
        }
        if let Some(s) = self.gift_stock.get(&gift) {
            return Ok(*s);
        }
        let s = self.registry.storage.gift_stock(self.home, gift)?;
        self.gift_stock.insert(gift, s);
        Ok(s)
    }

    fn reserve(&mut self, gift: GiftId, quantity: u32) -> Result<(), ActorError> {
        let s = self.stock(gift)?;
        let after = move_stock(gift, s, -i64::from(quantity)).map_err(LedgerError::from)?;
        self.gift_stock.insert(gift, after);
        Ok(())
    }

    fn release(&mut self, gift: GiftId, quantity: u32) {
        if let Some(s) = self.gift_stock.get_mut(&gift) {
            *s += i64::from(quantity);
        }
    }

    /// Second half of an exchange, once the units are reserved at the gift store.
    fn finish_exchange(
        &mut self,
        msg: ExchangeGift,
        reserved: Result<(), ActorError>,
        ctx: &mut Context<Self>,
    ) -> WriteResult {
        reserved?;
        self.prune();
        let (gift, quantity, store) = (msg.gift, msg.quantity, msg.store);
        let mut writes = Vec::with_capacity(6);
        let outcome = self.apply_member(
            msg.meta.key,
            &msg.meta.audit,
            Request::Fingerprint(msg.meta.fingerprint),
            msg.member,
            store,
            msg.card,
            |_, _| Ok(CounterOp::ExchangeGift { gift, quantity }),
            &mut writes,
        );
        // Fresh and accepted: the idempotency record and the effects were appended.
        let taken = matches!(outcome, Ok(Outcome::Counter(_))) && !writes.is_empty();
        if taken {
            writes.push(ledger_writes::gift_stock(
                store,
                gift.0,
                -i64::from(quantity),
            ));
        } else if store == self.home {
            self.release(gift, quantity);
        } else if let Some(addr) = self.registry.store(store) {
            let give_back = addr.send(ReleaseGift { gift, quantity });
            ctx.spawn(give_back.into_actor(self).map(|_, _, _| ()));
        }
        let value = outcome?;
        let ticket = self.writer.submit(writes);
        Ok(Durable { value, ticket })
    }
}

impl Handler<ReserveGift> for StoreLedger {
    type Result = Result<(), ActorError>;

    fn handle(&mut self, msg: ReserveGift, _: &mut Context<Self>) -> Self::Result {
        self.reserve(msg.gift, msg.quantity)
    }
}

impl Handler<ReleaseGift> for StoreLedger {
    type Result = ();

    fn handle(&mut self, msg: ReleaseGift, _: &mut Context<Self>) {
        self.release(msg.gift, msg.quantity);
    }
}

impl Handler<MoveStock> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: MoveStock, _: &mut Context<Self>) -> WriteResult {
        let (home, gift, delta) = (self.home, msg.gift, msg.delta);
        super::writer::turn(self, msg.meta, |me| {
            let before = me.stock(gift)?;
            let after = move_stock(gift, before, delta).map_err(LedgerError::from)?;
            me.gift_stock.insert(gift, after);
            let outcome = Outcome::GiftStock {
                store: home,
                gift,
                // What is on the shelf: reservations in flight are still there.
                stock: after,
            };
            Ok((
                outcome,
                vec![ledger_writes::gift_stock(home, gift.0, delta)],
            ))
        })
    }
}

impl Handler<ExchangeGift> for StoreLedger {
    type Result = ResponseActFuture<Self, WriteResult>;

    fn handle(&mut self, msg: ExchangeGift, _: &mut Context<Self>) -> Self::Result {
        self.prune();
        let request = Request::Fingerprint(msg.meta.fingerprint.clone());
        match self.writer.replay(&msg.meta.key, &request) {
            Ok(Some(answer)) => return Box::pin(ready(Ok(answer))),
            Err(e) => return Box::pin(ready(Err(e))),
            Ok(None) => {}
        }
        if let Err(e) = self.owns(msg.member) {
            return Box::pin(ready(Err(e)));
        }
        if msg.store == self.home {
            let reserved = self.reserve(msg.gift, msg.quantity);
            return Box::pin(
                ready(())
                    .into_actor(self)
                    .map(move |_, act, ctx| act.finish_exchange(msg, reserved, ctx)),
            );
        }
        let Some(gift_store) = self.registry.store(msg.store) else {
            return Box::pin(ready(Err(ActorError::StoreNotFound(msg.store.get()))));
        };
        let ask = gift_store.send(ReserveGift {
            gift: msg.gift,
            quantity: msg.quantity,
        });
        Box::pin(ask.into_actor(self).map(move |reply, act, ctx| {
            let reserved = reply.unwrap_or(Err(ActorError::Unavailable));
            act.finish_exchange(msg, reserved, ctx)
        }))
    }
}

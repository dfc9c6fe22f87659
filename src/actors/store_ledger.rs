//! The ledger actor of one store: it alone owns the accounts of the members homed there,
//! wherever they spend (stored value, bonus, points, count cards, coupons, level, card),
//! their orders, the walk-in orders sold at the store, and the store-side balances those
//! touched. Every operation becomes one journal submission with its idempotency record.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use super::pending::Pending;
use super::registry::Registry;
use super::writer::{Writer, Writes};
use super::{ActorError, Durable, WriteResult};
use crate::domain::checkout::{Order, OrderId};
use crate::domain::closing::{self, Deltas};
use crate::domain::counter::{self, Catalog, CounterOp, Ctx, Effects};
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, StoreId};
use crate::domain::ledger::{
    Account, Entry, EntryKind, LedgerCommand, LedgerError, StoreAccount, StoreBook, Timestamp,
    Transfer,
};
use crate::domain::membership::{card_number, MemberError};
use crate::domain::money::Money;
use crate::domain::notify::{self, Notification, NotificationId, Source};
use crate::domain::oplog::Audit;
use crate::domain::recycle::{BinEntry, BinKind};
use crate::domain::staff::EmployeeId;
use crate::storage::notify::notification_writes;
use crate::storage::recycle::bin_write;
use crate::storage::{ledger_writes, Write};

/// Apply one recharge, deduction or refund under an idempotency key.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct ApplyLedger {
    pub key: IdempotencyKey,
    pub command: LedgerCommand,
    pub audit: Audit,
}

pub struct StoreLedger {
    pub(super) home: StoreId,
    pub(super) registry: Arc<Registry>,
    /// Journal origin and idempotency keys in flight.
    pub(super) writer: Writer,
    /// Accounts loaded so far; loaded lazily from disk, then owned here.
    accounts: FxHashMap<MemberId, Account>,
    book: StoreBook,
    /// Entries written or changed but not durable yet.
    entries: Pending<(MemberId, EntrySeq), Entry>,
    /// Orders written or changed but not durable yet.
    pub(super) orders: Pending<OrderId, Order>,
    pub(super) next_order: u32,
    /// Gift stock of this store: disk less reservations in flight; loaded on first use.
    pub(super) gift_stock: HashMap<crate::domain::gift::GiftId, i64>,
    /// Last sequence of this ledger's notification ids.
    last_notification: u32,
    /// Members binned but not durably gone yet: the disk still holds their account, and
    /// reloading it would let a write land on a member the bin already holds.
    binned: Pending<MemberId, ()>,
    /// Orders this actor held, by selling store, not durable yet: with the store's held
    /// index on disk they make the count that `HELD_ORDERS_MAX` bounds.
    pub(super) holds_in_flight: Pending<OrderId, StoreId>,
    /// Who sold each order paid here, not durable yet: its returns are taken back from them.
    sellers: Pending<OrderId, EmployeeId>,
    /// Members released to another home whose move the registry doesn't name yet.
    moving: FxHashMap<MemberId, StoreId>,
    /// This store's product stock, loaded on first use (`actors::stock`).
    pub(super) products: super::stock::ProductStock,
    /// Refund requests written or decided here, not durable yet.
    pub(super) refunds: Pending<
        crate::domain::refund_request::RefundRequestId,
        crate::domain::refund_request::RefundRequest,
    >,
    /// The last refund request sequence issued here; read from disk on first use.
    pub(super) last_refund: Option<u32>,
}

impl Actor for StoreLedger {
    type Context = Context<Self>;
}

impl StoreLedger {
    pub fn new(
        home: StoreId,
        registry: Arc<Registry>,
        book: Vec<(StoreAccount, Money)>,
        next_order: u32,
        last_notification: u32,
    ) -> StoreLedger {
        let writer = Writer::new(&registry, registry.journal.log_for(home.get()), Some(home));
        StoreLedger {
            home,
            registry,
            writer,
            accounts: FxHashMap::default(),
            book: StoreBook::from_balances(book),
            entries: Pending::default(),
            orders: Pending::default(),
            next_order,
            gift_stock: HashMap::new(),
            last_notification,
            binned: Pending::default(),
            holds_in_flight: Pending::default(),
            sellers: Pending::default(),
            moving: FxHashMap::default(),
            products: Default::default(),
            refunds: Pending::default(),
            last_refund: None,
        }
    }

    /// Whether this ledger owns the member's account now; a request that reached it during
    /// or after a move changes nothing.
    pub(super) fn owns(&self, member: MemberId) -> Result<(), ActorError> {
        if self.moving.contains_key(&member) || self.registry.home_of(member) != self.home {
            return Err(ActorError::MemberMoved(member.get()));
        }
        Ok(())
    }

    /// The member is moving to `to`: its account leaves memory, and this ledger refuses it
    /// until the registry names the new home.
    pub(super) fn release_member(&mut self, member: MemberId, to: StoreId) {
        if self.accounts.remove(&member).is_some() {
            self.registry.gauges.accounts.dec();
        }
        self.moving.insert(member, to);
    }

    /// The registry names the member's new home.
    pub(super) fn forget_member(&mut self, member: MemberId) {
        self.moving.remove(&member);
    }

    /// The member's account, if this ledger owns it ([`StoreLedger::owns`]).
    pub(super) fn account(&mut self, member: MemberId) -> Result<Option<Account>, ActorError> {
        self.owns(member)?;
        if let Some(a) = self.accounts.get(&member) {
            return Ok(Some(a.clone()));
        }
        self.binned.prune(self.writer.durable());
        if self.binned.get(&member).is_some() {
            return Ok(None);
        }
        let loaded = self.registry.storage.account(member)?;
        if let Some(a) = &loaded {
            self.accounts.insert(member, a.clone());
            self.registry.gauges.accounts.inc();
        }
        Ok(loaded)
    }

    pub(super) fn entry(&self, member: MemberId, seq: EntrySeq) -> Result<Entry, ActorError> {
        if let Some((_, e)) = self.entries.get(&(member, seq)) {
            return Ok(*e);
        }
        self.registry
            .storage
            .entry(member, seq)?
            .ok_or(ActorError::EntryNotFound(member.get(), seq.0))
    }

    pub(super) fn order(&self, id: OrderId) -> Result<Order, ActorError> {
        if let Some((_, o)) = self.orders.get(&id) {
            return Ok(o.clone());
        }
        self.registry
            .storage
            .order(id)?
            .ok_or_else(|| ActorError::NotFound(format!("order {}", id.0)))
    }

    pub(super) fn ctx_parts(&self, store: StoreId) -> (Arc<Catalog>, Timestamp, chrono::NaiveDate) {
        let now = self.registry.clock.now();
        let today = now
            .with_timezone(&self.registry.time_zone(store))
            .date_naive();
        (self.registry.catalog(), now, today)
    }

    /// Applies one counter operation under its key, appending its writes to `writes`,
    /// which the caller submits as one journal entry. A repeat of a known key appends
    /// nothing and answers the first outcome. `card` is the card generation presented, if
    /// the member was identified by card number. `build` turns the loaded account into the
    /// operation (loading what it names); its errors refuse without recording.
    #[allow(clippy::too_many_arguments)] // one call shape shared by every member write
    pub(super) fn apply_member(
        &mut self,
        key: IdempotencyKey,
        audit: &Audit,
        request: Request,
        member: MemberId,
        store: StoreId,
        card: Option<u32>,
        build: impl FnOnce(&mut Self, &Account) -> Result<CounterOp, ActorError>,
        writes: &mut Vec<Write>,
    ) -> Result<Outcome, ActorError> {
        if let Some(answer) = self.writer.replay(&key, &request)? {
            return Ok(answer.value);
        }
        if !self.registry.has_store(store) {
            return Err(ActorError::StoreNotFound(store.get()));
        }
        let account = self
            .account(member)?
            .ok_or(ActorError::MemberNotFound(member.get()))?;
        let seq = self.writer.next_seq();
        let (catalog, now, today) = self.ctx_parts(store);
        let result = match card {
            Some(g) if g != account.membership.card_generation => Err(LedgerError::Member(
                MemberError::CardReplaced(card_number(member, g)),
            )),
            _ => {
                let op = build(self, &account)?;
                let ctx = Ctx {
                    store,
                    now,
                    today,
                    catalog: &catalog,
                };
                counter::apply(&account, &ctx, op)
            }
        };
        let outcome = match result {
            Ok(fx) => {
                let deltas = self.figures(&fx, &account, now);
                match self.registry.closed_in(&deltas) {
                    Some((s, day)) => Outcome::Rejected(LedgerError::DayClosed {
                        store: s.get(),
                        day,
                    }),
                    None => {
                        let entry = fx.answer.entry;
                        let sold = fx
                            .order
                            .as_ref()
                            .filter(|o| o.paid_at == Some(now))
                            .map(|o| o.id);
                        let out = self.write_effects(seq, &account, fx, &deltas, writes)?;
                        self.credit(seq, audit.employee, &deltas, sold, writes);
                        match (out, entry) {
                            // The plain ledger routes answer (and remember) just the entry
                            // they posted.
                            (_, Some(e)) if matches!(request, Request::Ledger(_)) => {
                                Outcome::Posted(e)
                            }
                            (other, _) => other,
                        }
                    }
                }
            }
            Err(rejection) => Outcome::Rejected(rejection),
        };
        writes.extend(self.writer.record(now, key, request, &outcome, audit));
        Ok(outcome)
    }

    /// Credits `employee` (when a write names one) with the write's figures, and records who
    /// sold the order it paid, in the same write.
    pub(super) fn credit(
        &mut self,
        seq: u64,
        employee: Option<EmployeeId>,
        deltas: &Deltas,
        sold: Option<OrderId>,
        writes: &mut Vec<Write>,
    ) {
        let Some(e) = employee else { return };
        writes.extend(crate::storage::staff::figure_writes(e, deltas));
        if let Some(order) = sold {
            writes.push(crate::storage::staff::seller_write(order, e));
            self.sellers.insert(seq, order, e);
        }
    }

    /// Who sold `order`, if a seller was named.
    pub(super) fn seller(&self, order: OrderId) -> Result<Option<EmployeeId>, ActorError> {
        if let Some((_, e)) = self.sellers.get(&order) {
            return Ok(Some(*e));
        }
        Ok(self.registry.storage.seller(order)?)
    }

    /// What `fx`, applied at `now` to `before`, adds to the day figures of its stores.
    pub(super) fn figures(&self, fx: &Effects, before: &Account, now: Timestamp) -> Deltas {
        closing::of_effects(fx, before.last_entry, now, |s, at| {
            self.registry.business_day(s, at)
        })
    }

    /// Appends the writes of `fx` and its figures, and takes its state as this actor's.
    pub(super) fn write_effects(
        &mut self,
        seq: u64,
        before: &Account,
        fx: Effects,
        deltas: &Deltas,
        writes: &mut Vec<Write>,
    ) -> Result<Outcome, ActorError> {
        writes.extend(crate::storage::closing::figure_writes(deltas));
        self.notify(&fx, before, writes);
        let member = fx.account.member;
        writes.push(ledger_writes::account(&fx.account));
        for e in &fx.entries {
            writes.push(ledger_writes::entry(member, e));
            let new = e.seq > before.last_entry;
            if let Some(owed) = e.owed_by(self.home).filter(|_| new) {
                writes.push(ledger_writes::settlement(self.home, member, e, owed));
            }
            if matches!(
                e.kind,
                EntryKind::Deduction { .. } | EntryKind::Recharge { .. }
            ) {
                self.entries.insert(seq, (member, e.seq), *e);
            }
        }
        for a in &fx.activities {
            writes.push(ledger_writes::activity(member, a));
        }
        for s in &fx.card_settlements {
            writes.push(ledger_writes::card_settlement(member, s));
        }
        if let Some(order) = &fx.order {
            self.put_order(seq, order, writes);
        }
        if let Some(order) = &fx.returned_order {
            self.put_order(seq, order, writes);
        }
        self.transfer(&fx.transfers, writes)?;
        self.accounts.insert(member, fx.account);
        Ok(Outcome::Counter(Box::new(fx.answer)))
    }

    /// Renders the notifications `fx` calls for into the outbox, in the same submission.
    fn notify(&mut self, fx: &Effects, before: &Account, writes: &mut Vec<Write>) {
        let catalog = self.registry.catalog();
        if catalog.templates.is_empty() || fx.migration {
            return;
        }
        let now = self.registry.clock.now();
        for (store, template, vars) in notify::for_effects(fx, before.last_entry, &catalog) {
            let Some(n) = self
                .last_notification
                .checked_add(1)
                .filter(|n| *n <= crate::domain::notify::SEQ_MAX)
            else {
                tracing::error!(store = %self.home, "notification ids of this ledger are exhausted");
                return;
            };
            self.last_notification = n;
            let id = NotificationId::new(self.home, Source::Ledger, n);
            let note = Notification::new(id, fx.account.member, store, template, &vars, now);
            writes.extend(notification_writes(&note, None));
        }
    }

    pub(super) fn put_order(&mut self, seq: u64, order: &Order, writes: &mut Vec<Write>) {
        writes.extend(ledger_writes::order(order));
        self.orders.insert(seq, order.id, order.clone());
    }

    /// Applies store-side transfers to the book and appends the changed balances.
    pub(super) fn transfer(
        &mut self,
        transfers: &[Transfer],
        writes: &mut Vec<Write>,
    ) -> Result<(), ActorError> {
        for t in transfers {
            let changed = self
                .book
                .apply(t)
                .map_err(|_| ActorError::Invalid("store balance overflow".into()))?;
            for ((store, kind), balance) in changed {
                writes.push(ledger_writes::book_balance(self.home, store, kind, balance));
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        key: IdempotencyKey,
        audit: &Audit,
        command: LedgerCommand,
        writes: &mut Vec<Write>,
    ) -> Result<Outcome, ActorError> {
        let member = command.member();
        let store = match &command {
            LedgerCommand::Recharge { store, .. } | LedgerCommand::Deduct { store, .. } => *store,
            LedgerCommand::Refund { .. } => self.home,
        };
        let request = Request::Ledger(command.clone());
        self.apply_member(
            key,
            audit,
            request,
            member,
            store,
            None,
            |me: &mut StoreLedger, _| {
                Ok(match command {
                    LedgerCommand::Recharge { amount, tender, .. } => {
                        CounterOp::Recharge { amount, tender }
                    }
                    LedgerCommand::Deduct { amount, .. } => CounterOp::Deduct { amount },
                    LedgerCommand::Refund {
                        deduction, amount, ..
                    } => CounterOp::Refund {
                        deduction: me.entry(member, deduction)?,
                        amount,
                    },
                })
            },
            writes,
        )
    }

    pub(super) fn prune(&mut self) {
        let durable = self.writer.prune();
        self.prune_pending(durable);
    }
}

impl Handler<ApplyLedger> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: ApplyLedger, _ctx: &mut Context<Self>) -> WriteResult {
        self.prune();
        let mut writes = Vec::with_capacity(5);
        let value = self.apply(msg.key, &msg.audit, msg.command, &mut writes)?;
        let ticket = self.writer.submit(writes);
        Ok(Durable { value, ticket })
    }
}

/// Many independent operations for members of this store: each succeeds or fails on its
/// own, and all their writes go to the journal as one submission.
#[derive(Debug, Message)]
#[rtype(result = "Durable<Vec<Result<Outcome, ActorError>>>")]
pub struct ApplyLedgerBatch {
    pub ops: Vec<(IdempotencyKey, LedgerCommand)>,
    pub audit: Audit,
}

impl Handler<ApplyLedgerBatch> for StoreLedger {
    type Result = actix::MessageResult<ApplyLedgerBatch>;

    fn handle(&mut self, msg: ApplyLedgerBatch, _ctx: &mut Context<Self>) -> Self::Result {
        self.prune();
        let mut writes = Vec::with_capacity(msg.ops.len() * 4);
        let results = msg
            .ops
            .into_iter()
            .map(|(key, command)| self.apply(key, &msg.audit, command, &mut writes))
            .collect();
        let ticket = self.writer.submit(writes);
        actix::MessageResult(Durable {
            value: results,
            ticket,
        })
    }
}

impl Handler<super::closing::Barrier> for StoreLedger {
    type Result = actix::MessageResult<super::closing::Barrier>;

    fn handle(&mut self, _: super::closing::Barrier, _: &mut Self::Context) -> Self::Result {
        actix::MessageResult(self.writer.ticket_for_latest())
    }
}

/// Move a member of this store to the recycle bin: only with nothing of value left. Sent by
/// the directory, which owns the member's records and hands over the latest (`None`: gone).
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct BinMember {
    pub meta: super::WriteMeta,
    pub member: MemberId,
    pub record: Option<crate::domain::member::Member>,
}

impl Writes for StoreLedger {
    fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }

    fn prune_pending(&mut self, durable: u64) {
        self.entries.prune(durable);
        self.orders.prune(durable);
        self.sellers.prune(durable);
        self.refunds.prune(durable);
    }
}

impl Handler<BinMember> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: BinMember, _ctx: &mut Context<Self>) -> WriteResult {
        let (member, home, credential) = (msg.member, self.home, msg.meta.audit.credential.0);
        let record = msg.record;
        super::writer::turn(self, msg.meta, |me| {
            let not_found = || ActorError::MemberNotFound(member.get());
            let account = me.account(member)?.ok_or_else(not_found)?;
            let record = record.ok_or_else(not_found)?;
            crate::domain::recycle::check_member_empty(&account)?;
            let (held, mut writes) = ledger_writes::binned_member(&record, &account);
            let bin = BinEntry::new(
                BinKind::Member,
                member.get(),
                format!("{} {}", record.name.as_str(), record.phone.as_str()),
                me.registry.clock.now(),
                credential,
            )
            .in_store(home)
            .holding(held);
            writes.push(bin_write(&bin));
            if me.accounts.remove(&member).is_some() {
                me.registry.gauges.accounts.dec();
            }
            me.binned.insert(me.writer.next_seq(), member, ());
            Ok((Outcome::Binned(BinKind::Member, member.get()), writes))
        })
    }
}

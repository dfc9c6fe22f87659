//! Product stock (库存) in the ledger actors.
//!
//! A store's ledger owns its products' stock: it loads an item's units from disk on first
//! use and from then on changes them in memory before each write that moves them, so what
//! it holds is the disk plus its own writes in flight, less units other ledgers reserved.
//!
//! A member's sale at another store goes to the member's home ledger, which first reserves
//! the units at the selling store (never below zero unless the product allows it), then
//! writes the sale with the stock's decrement as a merge operand; a refusal or a repeat
//! gives the units back. A member's return at another store first asks the selling store to
//! load the items (`ReserveProducts::expect`, so a later load from disk cannot already
//! count the return), writes the increment, and once it is durable tells the store
//! (`ProductsArrived`). Until then the store counts fewer units than it has, never more: a
//! sale is never made from units whose write is not durable.

use std::collections::{HashMap, HashSet};

use actix::{Context, Handler, Message};

use super::store_ledger::StoreLedger;
use super::{ActorError, WriteMeta, WriteResult};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::StoreId;
use crate::domain::price_list::{ItemId, PriceError};
use crate::domain::stock::ItemFigures;
use crate::domain::stock::{
    moved, MoveKind, StockError, StockLine, StockMove, Variance, MOVE_LINES_MAX, STOCK_MAX,
};
use crate::domain::transfer::{Transfer, TransferError, TransferId, TransferLine};
use crate::storage::stock as stock_writes;

/// Units of products: item and count.
pub type Units = Vec<(ItemId, u32)>;

/// Takes units out of this store's stock for another ledger's sale, until it is written or
/// given back; and loads the items that ledger is about to return here (`expect`), so that
/// the return is added once, when it arrives.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct ReserveProducts {
    pub units: Units,
    pub expect: Vec<ItemId>,
}

/// Gives back a reservation whose sale was not written.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReleaseProducts {
    pub units: Units,
}

/// Another ledger's return to this store is durable.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ProductsArrived {
    pub units: Units,
}

/// A receipt (入库), adjustment or count (盘点) at this store. For a count, each line's
/// number is what was counted; otherwise the units in (positive) or out.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct MoveProducts {
    pub meta: WriteMeta,
    pub kind: MoveKind,
    pub lines: Vec<(ItemId, i64)>,
    pub note: String,
}

/// Sends products to another store (调拨): out of this store's stock now.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct SendTransfer {
    pub meta: WriteMeta,
    pub to: StoreId,
    pub lines: Vec<TransferLine>,
    pub note: String,
}

/// Takes a transfer sent to this store into its stock, once.
#[derive(Debug, Message)]
#[rtype(result = "WriteResult")]
pub struct ReceiveTransfer {
    pub meta: WriteMeta,
    pub id: TransferId,
}

/// Each item's stock as its store's ledger holds it, once loaded; the transfers it sent
/// and received.
#[derive(Debug, Default)]
pub struct ProductStock {
    units: HashMap<ItemId, i64>,
    /// The last transfer sequence this store issued, loaded on first use.
    last_transfer: Option<u32>,
    /// Transfers received since start (on disk: `u` keys): a second receipt is refused.
    received: HashSet<TransferId>,
}

/// Sums the units of each item (a sale may name an item on several lines).
pub fn merged(units: impl IntoIterator<Item = (ItemId, u32)>) -> Units {
    let mut out: Units = Vec::new();
    for (item, n) in units {
        match out.iter_mut().find(|(i, _)| *i == item) {
            Some(u) => u.1 = u.1.saturating_add(n),
            None => out.push((item, n)),
        }
    }
    out
}

impl StoreLedger {
    /// Whether `item` is a product of the price list, and whether it may go below zero.
    fn product(&self, item: ItemId) -> Result<bool, ActorError> {
        let catalog = self.registry.catalog();
        let i = catalog
            .prices
            .item(item)
            .ok_or(PriceError::NotFound(item.0))?;
        if !i.is_product() {
            return Err(StockError::NotProduct(item.0).into());
        }
        Ok(i.negative_stock_ok)
    }

    fn units(&mut self, item: ItemId) -> Result<i64, ActorError> {
        if let Some(n) = self.products.units.get(&item) {
            return Ok(*n);
        }
        let n = self.registry.storage.product_stock(self.home, item)?;
        self.products.units.insert(item, n);
        Ok(n)
    }

    /// Takes every line's units, or none: refused below zero unless the product allows it.
    pub(super) fn take_products(&mut self, units: &[(ItemId, u32)]) -> Result<(), ActorError> {
        let mut after = Vec::with_capacity(units.len());
        for &(item, n) in units {
            let negative_ok = self.product(item)?;
            let now = self.units(item)?;
            after.push((item, moved(item, now, -i64::from(n), negative_ok)?));
        }
        for (item, n) in after {
            self.products.units.insert(item, n);
        }
        Ok(())
    }

    /// Puts units back: a reservation released, or a return this ledger writes here (its
    /// write is submitted after this, so it lands before any sale that counts it).
    pub(super) fn give_products(&mut self, units: &[(ItemId, u32)]) -> Result<(), ActorError> {
        for &(item, n) in units {
            let now = self.units(item)?;
            self.products
                .units
                .insert(item, now.saturating_add(i64::from(n)));
        }
        Ok(())
    }

    /// Loads the items now: a write about to add to them is not on disk yet.
    pub(super) fn expect_products(&mut self, items: &[ItemId]) -> Result<(), ActorError> {
        for &item in items {
            self.units(item)?;
        }
        Ok(())
    }

    /// Adds units to items already loaded ([`StoreLedger::expect_products`]).
    pub(super) fn add_loaded(&mut self, units: &[(ItemId, u32)]) {
        for &(item, n) in units {
            if let Some(s) = self.products.units.get_mut(&item) {
                *s = s.saturating_add(i64::from(n));
            }
        }
    }

    fn move_products(
        &mut self,
        msg: &MoveProducts,
    ) -> Result<(Outcome, Vec<crate::storage::Write>), ActorError> {
        if msg.lines.is_empty() || msg.lines.len() > MOVE_LINES_MAX {
            return Err(ActorError::Invalid(format!(
                "a stock write has 1 to {MOVE_LINES_MAX} lines"
            )));
        }
        let catalog = self.registry.catalog();
        let mut lines: Vec<StockLine> = Vec::with_capacity(msg.lines.len());
        for &(item, n) in &msg.lines {
            if lines.iter().any(|l| l.item == item) {
                return Err(ActorError::Invalid(format!(
                    "item {} is named twice",
                    item.0
                )));
            }
            let negative_ok = self.product(item)?;
            let now = self.units(item)?;
            let (delta, variance) = match msg.kind {
                MoveKind::Receipt if (1..=STOCK_MAX).contains(&n) => (n, None),
                MoveKind::Adjustment if n != 0 && n.abs() <= STOCK_MAX => (n, None),
                MoveKind::Count if (0..=STOCK_MAX).contains(&n) => {
                    let price = catalog
                        .prices
                        .store_price(item, self.home)
                        .or_else(|_| catalog.prices.item(item).map(|i| i.price).ok_or(()))
                        .unwrap_or_default();
                    (n - now, Some(Variance::of(item, now, n, price)))
                }
                _ => {
                    return Err(ActorError::Invalid(match msg.kind {
                        MoveKind::Receipt => "a receipt takes 1 or more units".into(),
                        MoveKind::Adjustment => "an adjustment moves units in or out: not 0".into(),
                        MoveKind::Count => "a count is 0 or more units".into(),
                    }))
                }
            };
            // A count sets what is there, even below zero's rule: it is what was found.
            let after = moved(item, now, delta, negative_ok || msg.kind == MoveKind::Count)?;
            lines.push(StockLine {
                item,
                delta,
                after,
                variance,
            });
        }
        let now = self.registry.clock.now();
        let day = self.registry.count_day(self.home, now);
        let m = StockMove {
            store: self.home,
            kind: msg.kind,
            note: msg.note.clone(),
            lines,
            at: now,
        };
        let mut writes = Vec::with_capacity(m.lines.len() * 2);
        for l in &m.lines {
            self.products.units.insert(l.item, l.after);
            if l.delta != 0 {
                writes.push(stock_writes::stock_write(self.home, l.item, l.delta));
            }
        }
        for (item, f) in m.figures().filter(|(_, f)| !f.is_zero()) {
            writes.push(stock_writes::figures_write(self.home, day, item, &f));
        }
        Ok((Outcome::StockMoved(Box::new(m)), writes))
    }
}

impl Handler<ReserveProducts> for StoreLedger {
    type Result = Result<(), ActorError>;

    fn handle(&mut self, msg: ReserveProducts, _: &mut Context<Self>) -> Self::Result {
        self.expect_products(&msg.expect)?;
        self.take_products(&msg.units)
    }
}

impl Handler<ReleaseProducts> for StoreLedger {
    type Result = ();

    fn handle(&mut self, msg: ReleaseProducts, _: &mut Context<Self>) {
        // The units were taken from a loaded entry, so giving back reads no disk.
        if let Err(e) = self.give_products(&msg.units) {
            tracing::error!(store = %self.home, error = %e, "a stock reservation could not be given back");
        }
    }
}

impl Handler<ProductsArrived> for StoreLedger {
    type Result = ();

    fn handle(&mut self, msg: ProductsArrived, _: &mut Context<Self>) {
        self.add_loaded(&msg.units);
    }
}

impl Handler<MoveProducts> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: MoveProducts, _: &mut Context<Self>) -> WriteResult {
        let meta = msg.meta.clone();
        super::writer::turn(self, meta, |me| me.move_products(&msg))
    }
}

impl StoreLedger {
    fn send_transfer(
        &mut self,
        msg: &SendTransfer,
    ) -> Result<(Outcome, Vec<crate::storage::Write>), ActorError> {
        if !self.registry.has_store(msg.to) {
            return Err(ActorError::StoreNotFound(msg.to.get()));
        }
        let last = match self.products.last_transfer {
            Some(l) => l,
            None => self.registry.storage.last_transfer_seq(self.home)?,
        };
        let seq = last
            .checked_add(1)
            .ok_or(ActorError::Exhausted("transfer ids"))?;
        let now = self.registry.clock.now();
        let t = Transfer::new(
            TransferId::new(self.home, seq),
            msg.to,
            msg.lines.clone(),
            msg.note.clone(),
            now,
        )?;
        self.take_products(&t.units())?;
        self.products.last_transfer = Some(seq);
        let day = self.registry.count_day(self.home, now);
        let mut writes: Vec<crate::storage::Write> = stock_writes::transfer_writes(&t).into();
        for l in &t.lines {
            let q = i64::from(l.quantity);
            writes.push(stock_writes::stock_write(self.home, l.item, -q));
            let f = ItemFigures {
                transferred_out: q,
                ..ItemFigures::default()
            };
            writes.push(stock_writes::figures_write(self.home, day, l.item, &f));
        }
        Ok((Outcome::Transfer(Box::new(t)), writes))
    }

    fn receive_transfer(
        &mut self,
        id: TransferId,
    ) -> Result<(Outcome, Vec<crate::storage::Write>), ActorError> {
        let not_found = || ActorError::NotFound(format!("transfer {}", id.0));
        // Only what the sender wrote durably can be received.
        let mut t = self.registry.storage.transfer(id)?.ok_or_else(not_found)?;
        if t.to != self.home {
            return Err(not_found());
        }
        if self.products.received.contains(&id) {
            return Err(TransferError::AlreadyReceived(id.0).into());
        }
        let now = self.registry.clock.now();
        t.receive(now)?;
        let items: Vec<ItemId> = t.lines.iter().map(|l| l.item).collect();
        self.expect_products(&items)?;
        self.add_loaded(&t.units());
        self.products.received.insert(id);
        let day = self.registry.count_day(self.home, now);
        let mut writes = vec![stock_writes::received_write(&t)];
        for l in &t.lines {
            let q = i64::from(l.quantity);
            writes.push(stock_writes::stock_write(self.home, l.item, q));
            let f = ItemFigures {
                transferred_in: q,
                ..ItemFigures::default()
            };
            writes.push(stock_writes::figures_write(self.home, day, l.item, &f));
        }
        Ok((Outcome::Transfer(Box::new(t)), writes))
    }
}

impl Handler<SendTransfer> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: SendTransfer, _: &mut Context<Self>) -> WriteResult {
        let meta = msg.meta.clone();
        super::writer::turn(self, meta, |me| me.send_transfer(&msg))
    }
}

impl Handler<ReceiveTransfer> for StoreLedger {
    type Result = WriteResult;

    fn handle(&mut self, msg: ReceiveTransfer, _: &mut Context<Self>) -> WriteResult {
        let (meta, id) = (msg.meta, msg.id);
        super::writer::turn(self, meta, |me| me.receive_transfer(id))
    }
}

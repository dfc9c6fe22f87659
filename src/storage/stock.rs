//! The price list's history, product stock and per-item figures on disk. The items
//! themselves are catalog records (`Z i`, `Z s`, loaded with the catalog).
//!
//! | tag | key                                | value                                   |
//! |-----|------------------------------------|-----------------------------------------|
//! | `k` | item (4), version (8)              | ItemVersion: the item or a store's override as of that version |
//! | `w` | store (4), item (4)                | product stock i64, by merge (`counter`) |
//! | `s` | day (4), store (4), item (4)       | ItemFigures `Vec<i64>`, by merge        |
//! | `q` | transfer id (8) = from << 32 \| seq | Transfer as sent (调拨), by the sender |
//! | `u` | transfer id (8)                    | received at µs, by the receiver        |
//! | `v` | to store (4), transfer id (8)      | (empty): transfers to a store          |
//!
//! Stock keys are store first, so a store's stock list is one scan and an item's stock across
//! the chain is one point read per store.

use std::collections::BTreeMap;

use chrono::Datelike;
use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, keys, Write};
use crate::domain::closing::BusinessDay;
use crate::domain::ids::StoreId;
use crate::domain::price_list::{ItemId, PriceItem, StoreItem};
use crate::domain::stock::ItemFigures;
use crate::domain::transfer::{Transfer, TransferId};

pub const TAG_ITEM_HISTORY: u8 = b'k';
pub const TAG_PRODUCT_STOCK: u8 = b'w';
pub const TAG_ITEM_FIGURES: u8 = b's';
pub const TAG_TRANSFER: u8 = b'q';
pub const TAG_TRANSFER_RECEIVED: u8 = b'u';
pub const TAG_TRANSFER_IN: u8 = b'v';

/// A transfer as sent, and its place in the receiving store's list.
pub fn transfer_writes(t: &Transfer) -> [Write; 2] {
    let mut incoming = vec![TAG_TRANSFER_IN];
    incoming.extend_from_slice(&t.to.get().to_be_bytes());
    incoming.extend_from_slice(&t.id.0.to_be_bytes());
    [
        Write::put(keys::id8(TAG_TRANSFER, t.id.0), codec::encode(t)),
        Write::put(incoming, Vec::new()),
    ]
}

/// The receiving store took a transfer in.
pub fn received_write(t: &Transfer) -> Write {
    let at = t.received_at.map_or(0, |a| a.timestamp_micros());
    Write::put(keys::id8(TAG_TRANSFER_RECEIVED, t.id.0), codec::encode(&at))
}

/// One version of the price list, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemVersion {
    Item(PriceItem),
    Store(u32, StoreItem),
}

fn day_bytes(day: BusinessDay) -> [u8; 4] {
    (day.num_days_from_ce().max(0) as u32).to_be_bytes()
}

fn history_key(item: ItemId, version: u64) -> Vec<u8> {
    let mut k = vec![TAG_ITEM_HISTORY];
    k.extend_from_slice(&item.0.to_be_bytes());
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn stock_key(store: StoreId, item: ItemId) -> Vec<u8> {
    let mut k = vec![TAG_PRODUCT_STOCK];
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&item.0.to_be_bytes());
    k
}

/// An item's definition: the catalog record and its history line, in one batch.
pub fn item_writes(item: &PriceItem) -> [Write; 2] {
    [
        Write::put(keys::catalog_item(item.id.0), codec::encode(item)),
        Write::put(
            history_key(item.id, item.version),
            codec::encode(&ItemVersion::Item(item.clone())),
        ),
    ]
}

/// A store's override: the catalog record and its history line.
pub fn store_item_writes(item: ItemId, store: StoreId, o: &StoreItem) -> [Write; 2] {
    [
        Write::put(keys::catalog_store_item(item.0, store), codec::encode(o)),
        Write::put(
            history_key(item, o.version),
            codec::encode(&ItemVersion::Store(store.get(), *o)),
        ),
    ]
}

/// Units of `item` in or out of `store`'s stock.
pub fn stock_write(store: StoreId, item: ItemId, delta: i64) -> Write {
    Write::merge(stock_key(store, item), super::counter::operand(delta))
}

pub fn figures_write(store: StoreId, day: BusinessDay, item: ItemId, f: &ItemFigures) -> Write {
    let mut k = vec![TAG_ITEM_FIGURES];
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&item.0.to_be_bytes());
    Write::merge(k, codec::encode(&f.to_vec()))
}

impl Storage {
    /// A transfer as sent, with its receipt if the receiving store wrote one (durable).
    pub fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, StorageError> {
        let Some(mut t) = self.get_rec::<Transfer>(&keys::id8(TAG_TRANSFER, id.0))? else {
            return Ok(None);
        };
        if let Some(at) = self.get_rec::<i64>(&keys::id8(TAG_TRANSFER_RECEIVED, id.0))? {
            t.received_at = chrono::DateTime::from_timestamp_micros(at);
        }
        Ok(Some(t))
    }

    pub fn last_transfer_seq(&self, from: StoreId) -> Result<u32, StorageError> {
        self.last_store_seq(TAG_TRANSFER, from)
    }

    /// Transfers a store sent (`incoming` false) or was sent, newest first, before `before`.
    pub fn store_transfers(
        &self,
        store: StoreId,
        incoming: bool,
        before: Option<TransferId>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StorageError> {
        let mut ids = Vec::new();
        if incoming {
            let mut prefix = vec![TAG_TRANSFER_IN];
            prefix.extend_from_slice(&store.get().to_be_bytes());
            let mut start = prefix.clone();
            start.extend_from_slice(&before.map_or(u64::MAX, |b| b.0).to_be_bytes());
            for kv in self
                .db()
                .iterator(IteratorMode::From(&start, Direction::Reverse))
            {
                let (key, _) = kv?;
                if key.len() != 13 || !key.starts_with(&prefix) || ids.len() >= limit {
                    break;
                }
                let id = u64::from_be_bytes(key[5..13].try_into().unwrap_or([0; 8]));
                if before.is_none_or(|b| id < b.0) {
                    ids.push(TransferId(id));
                }
            }
        } else {
            let low = TransferId::new(store, 0).0;
            let high = before.map_or(TransferId::new(store, u32::MAX).0, |b| b.0);
            let start = keys::id8(TAG_TRANSFER, high);
            for kv in self
                .db()
                .iterator(IteratorMode::From(&start, Direction::Reverse))
            {
                let (key, _) = kv?;
                if key.len() != 9 || key[0] != TAG_TRANSFER || ids.len() >= limit {
                    break;
                }
                let id = u64::from_be_bytes(key[1..9].try_into().unwrap_or([0; 8]));
                if id <= low {
                    break;
                }
                if before.is_none_or(|b| id < b.0) {
                    ids.push(TransferId(id));
                }
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.transfer(id)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Units of `item` at `store`, durable.
    pub fn product_stock(&self, store: StoreId, item: ItemId) -> Result<i64, StorageError> {
        self.get_rec(&stock_key(store, item))
            .map(|v| v.unwrap_or(0))
    }

    /// Every product `store` has stock records of, by item, from `after` on, at most `limit`.
    pub fn store_stock(
        &self,
        store: StoreId,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<(ItemId, i64)>, StorageError> {
        let prefix = {
            let mut k = vec![TAG_PRODUCT_STOCK];
            k.extend_from_slice(&store.get().to_be_bytes());
            k
        };
        let start = match after {
            Some(a) => stock_key(store, ItemId(a.0.saturating_add(1))),
            None => prefix.clone(),
        };
        let mut out = Vec::new();
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = kv?;
            if key.len() != 9 || !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let item = ItemId(u32::from_be_bytes([key[5], key[6], key[7], key[8]]));
            out.push((item, decode_at(&key, &value)?));
        }
        Ok(out)
    }

    /// An item's history, newest first, at most `limit` versions before `before`.
    pub fn item_history(
        &self,
        item: ItemId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, ItemVersion)>, StorageError> {
        let start = history_key(item, before.unwrap_or(u64::MAX));
        let prefix = &start[..5];
        let mut out = Vec::new();
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Reverse))
        {
            let (key, value) = kv?;
            if key.len() != 13 || !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            let v = u64::from_be_bytes(key[5..13].try_into().unwrap_or([0; 8]));
            if before.is_some_and(|b| v >= b) {
                continue;
            }
            out.push((v, decode_at(&key, &value)?));
        }
        Ok(out)
    }

    /// Item figures over `[from, to]`, of one store or the chain, by item, store and day.
    pub fn item_figures(
        &self,
        store: Option<StoreId>,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<BTreeMap<(ItemId, StoreId, BusinessDay), ItemFigures>, StorageError> {
        let mut start = vec![TAG_ITEM_FIGURES];
        start.extend_from_slice(&day_bytes(from));
        let last = day_bytes(to);
        let mut out: BTreeMap<(ItemId, StoreId, BusinessDay), ItemFigures> = BTreeMap::new();
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = kv?;
            if key.len() != 13 || key[0] != TAG_ITEM_FIGURES || key[1..5] > last[..] {
                break;
            }
            let s = u32::from_be_bytes([key[5], key[6], key[7], key[8]]);
            if store.is_some_and(|st| st.get() != s) {
                continue;
            }
            let Ok(sid) = StoreId::new(s) else { continue };
            let item = ItemId(u32::from_be_bytes([key[9], key[10], key[11], key[12]]));
            let days = u32::from_be_bytes([key[1], key[2], key[3], key[4]]);
            let Some(day) = i32::try_from(days)
                .ok()
                .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
            else {
                continue;
            };
            let v: Vec<i64> = decode_at(&key, &value)?;
            out.entry((item, sid, day))
                .or_default()
                .add(&ItemFigures::from_slice(&v));
        }
        Ok(out)
    }
}

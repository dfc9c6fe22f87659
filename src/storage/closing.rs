//! Day figures, sealed closings and each store's closing mode on disk.
//!
//! | tag | key                          | value                                   |
//! |-----|------------------------------|-----------------------------------------|
//! | `T` | day (4), store (4)           | figures `Vec<i64>`, by merge (`counter`) |
//! | `U` | store (4), day (4)           | ClosingRec, written once                |
//! | `J` | store (4)                    | closing mode: 1 = manual                |
//! | `t` | day (4), store (4), service (8) | ServiceFigures `Vec<i64>`, by merge  |
//!
//! Days are `num_days_from_ce` as big-endian u32, so key order is day order; `T` puts the day
//! first so that a chain-wide range is one scan.

use chrono::{Datelike, NaiveDate};
use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use std::collections::HashMap;

use crate::domain::booking::ServiceId;
use crate::domain::closing::{BusinessDay, ClosedBy, Closing, DayFigures, Deltas, ServiceFigures};
use crate::domain::ids::StoreId;
use crate::domain::ledger::Timestamp;

pub const TAG_FIGURES: u8 = b'T';
pub const TAG_CLOSING: u8 = b'U';
pub const TAG_CLOSING_MODE: u8 = b'J';
pub const TAG_SERVICE_FIGURES: u8 = b't';

fn day_bytes(day: BusinessDay) -> [u8; 4] {
    (day.num_days_from_ce().max(0) as u32).to_be_bytes()
}

fn day_from(bytes: &[u8]) -> Option<BusinessDay> {
    let n = u32::from_be_bytes(bytes.try_into().ok()?);
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

pub fn figures_key(store: StoreId, day: BusinessDay) -> Vec<u8> {
    let mut k = vec![TAG_FIGURES];
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

pub fn service_figures_write(
    store: StoreId,
    day: BusinessDay,
    service: ServiceId,
    f: ServiceFigures,
) -> Write {
    let mut k = vec![TAG_SERVICE_FIGURES];
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&service.0.to_be_bytes());
    Write::merge(k, codec::encode(&f.to_vec()))
}

pub fn closing_key(store: StoreId, day: BusinessDay) -> Vec<u8> {
    let mut k = vec![TAG_CLOSING];
    k.extend_from_slice(&store.get().to_be_bytes());
    k.extend_from_slice(&day_bytes(day));
    k
}

pub fn mode_key(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_CLOSING_MODE];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

/// Whether `store` closes its days by hand (else at the end of each business day).
pub fn mode_write(store: StoreId, manual: bool) -> Write {
    Write::put(mode_key(store), codec::encode(&u8::from(manual)))
}

/// The merge writes that add `deltas` to their days' figures.
pub fn figure_writes(deltas: &Deltas) -> impl Iterator<Item = Write> + '_ {
    deltas
        .iter()
        .filter(|(_, f)| !f.is_zero())
        .map(|((store, day), f)| {
            Write::merge(
                figures_key(*store, *day),
                codec::encode(&f.as_slice().to_vec()),
            )
        })
}

/// Merge operator for `T` keys: element-wise sums. Operands may differ in length (a later
/// version adds figures); an overflow or an undecodable operand fails the merge.
pub fn add_vectors<'a>(
    existing: Option<&[u8]>,
    operands: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Vec<u8>> {
    let mut total: Vec<i64> = match existing {
        Some(v) => codec::decode(v).ok()?,
        None => Vec::new(),
    };
    for op in operands {
        let delta: Vec<i64> = codec::decode(op).ok()?;
        if delta.len() > total.len() {
            total.resize(delta.len(), 0);
        }
        for (t, d) in total.iter_mut().zip(delta) {
            *t = t.checked_add(d)?;
        }
    }
    Some(codec::encode(&total))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClosingRec {
    pub figures: Vec<i64>,
    pub sealed_at_us: i64,
    pub by: ClosedBy,
}

pub fn closing_write(c: &Closing) -> Write {
    let rec = ClosingRec {
        figures: c.figures.as_slice().to_vec(),
        sealed_at_us: c.sealed_at.timestamp_micros(),
        by: c.by,
    };
    Write::put(closing_key(c.store, c.day), codec::encode(&rec))
}

fn closing_from(store: StoreId, day: BusinessDay, rec: ClosingRec) -> Closing {
    Closing {
        store,
        day,
        figures: DayFigures::from_slice(&rec.figures),
        sealed_at: Timestamp::from_timestamp_micros(rec.sealed_at_us).unwrap_or_default(),
        by: rec.by,
    }
}

impl Storage {
    pub fn day_figures(
        &self,
        store: StoreId,
        day: BusinessDay,
    ) -> Result<DayFigures, StorageError> {
        let v: Option<Vec<i64>> = self.get_rec(&figures_key(store, day))?;
        Ok(v.map(|v| DayFigures::from_slice(&v)).unwrap_or_default())
    }

    /// Every store's figures for the days in `[from, to]`, day by day: one scan.
    pub fn figures_range(
        &self,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<(BusinessDay, StoreId, DayFigures)>, StorageError> {
        let mut start = vec![TAG_FIGURES];
        start.extend_from_slice(&day_bytes(from));
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator(IteratorMode::From(&start, Direction::Forward)) {
            let (key, value) = item?;
            if key.len() != 9 || key[0] != TAG_FIGURES {
                break;
            }
            let Some(day) = day_from(&key[1..5]) else {
                break;
            };
            if day > to {
                break;
            }
            let store = u32::from_be_bytes([key[5], key[6], key[7], key[8]]);
            let Ok(store) = StoreId::new(store) else {
                continue;
            };
            let v: Vec<i64> = decode_at(&key, &value)?;
            out.push((day, store, DayFigures::from_slice(&v)));
        }
        Ok(out)
    }

    /// Per-service figures over `[from, to]`, of one store or every store.
    pub fn service_totals(
        &self,
        store: Option<StoreId>,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<HashMap<ServiceId, ServiceFigures>, StorageError> {
        let mut start = vec![TAG_SERVICE_FIGURES];
        start.extend_from_slice(&day_bytes(from));
        let db = self.db();
        let mut out: HashMap<ServiceId, ServiceFigures> = HashMap::new();
        for item in db.iterator(IteratorMode::From(&start, Direction::Forward)) {
            let (key, value) = item?;
            if key.len() != 17 || key[0] != TAG_SERVICE_FIGURES {
                break;
            }
            match day_from(&key[1..5]) {
                Some(day) if day <= to => {}
                _ => break,
            }
            let s = u32::from_be_bytes([key[5], key[6], key[7], key[8]]);
            if store.is_some_and(|st| st.get() != s) {
                continue;
            }
            let service = u64::from_be_bytes(key[9..17].try_into().unwrap_or([0; 8]));
            let v: Vec<i64> = decode_at(&key, &value)?;
            out.entry(ServiceId(service))
                .or_default()
                .add(&ServiceFigures::from_slice(&v));
        }
        Ok(out)
    }

    pub fn closing(
        &self,
        store: StoreId,
        day: BusinessDay,
    ) -> Result<Option<Closing>, StorageError> {
        Ok(self
            .get_rec::<ClosingRec>(&closing_key(store, day))?
            .map(|r| closing_from(store, day, r)))
    }

    /// A store's sealed days in `[from, to]`, oldest first, at most `limit`.
    pub fn closings(
        &self,
        store: StoreId,
        from: BusinessDay,
        to: BusinessDay,
        limit: usize,
    ) -> Result<Vec<Closing>, StorageError> {
        let start = closing_key(store, from);
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator(IteratorMode::From(&start, Direction::Forward)) {
            let (key, value) = item?;
            if out.len() >= limit || key.len() != 9 || key[..5] != start[..5] {
                break;
            }
            let Some(day) = day_from(&key[5..9]) else {
                break;
            };
            if day > to {
                break;
            }
            out.push(closing_from(store, day, decode_at(&key, &value)?));
        }
        Ok(out)
    }

    /// The latest sealed day of a store before `day`.
    pub fn last_closed_before(
        &self,
        store: StoreId,
        day: BusinessDay,
    ) -> Result<Option<BusinessDay>, StorageError> {
        let upper = closing_key(store, day);
        let db = self.db();
        for item in db.iterator(IteratorMode::From(&upper, Direction::Reverse)) {
            let (key, _) = item?;
            if key.len() != 9 || key[..5] != upper[..5] {
                return Ok(None);
            }
            match day_from(&key[5..9]) {
                Some(d) if d < day => return Ok(Some(d)),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    pub fn manual_closing(&self, store: StoreId) -> Result<bool, StorageError> {
        Ok(self.get_rec::<u8>(&mode_key(store))? == Some(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::closing::Figure;

    /// The journal folds a batch's operands of one key into one; the sums stay right.
    #[tokio::test]
    async fn figures_merged_in_one_batch_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), std::time::Duration::from_secs(86_400)).unwrap();
        let (journal, threads) = super::super::journal::Journal::start_joinable(storage.db());
        let mut log = journal.log();
        let store = StoreId::new(3).unwrap();
        let day: BusinessDay = "2026-03-07".parse().unwrap();
        let mut tickets = Vec::new();
        for amount in [100, 250, 50] {
            let mut d = Deltas::default();
            d.add(store, day, Figure::Deductions, 1);
            d.add(store, day, Figure::Deducted, amount);
            let mut writes: Vec<Write> = figure_writes(&d).collect();
            writes.push(Write::put(vec![b'A', amount as u8], vec![1]));
            tickets.push(log.submit(writes));
        }
        for t in tickets {
            t.durable().await.unwrap();
        }
        let f = storage.day_figures(store, day).unwrap();
        assert_eq!(
            (f.get(Figure::Deductions), f.get(Figure::Deducted)),
            (3, 400)
        );
        // The journal's thread ends before the test: see `journal::tests::stop`.
        drop((journal, log));
        for t in threads {
            t.join().unwrap();
        }
    }
}

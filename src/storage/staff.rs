//! What employees are credited with, on disk. Employee records themselves are catalog items
//! (`Z e`, `directory_writes::employee`).
//!
//! | tag | key                                   | value                                 |
//! |-----|---------------------------------------|---------------------------------------|
//! | `e` | employee (4), day (4), store (4)      | day figures `Vec<i64>`, by merge      |
//! | `a` | order id (8)                          | employee (4): who sold it (导购)        |
//!
//! An employee's figures are the day figures (`domain::closing`) of the writes credited to
//! them, added in the same write: so a period's commission basis is one scan.

use chrono::{Datelike, NaiveDate};
use rocksdb::{Direction, IteratorMode};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use crate::domain::checkout::OrderId;
use crate::domain::closing::{BusinessDay, DayFigures, Deltas};
use crate::domain::ids::StoreId;
use crate::domain::staff::EmployeeId;

pub const TAG_EMPLOYEE_FIGURES: u8 = b'e';
pub const TAG_SELLER: u8 = b'a';

fn day_bytes(day: BusinessDay) -> [u8; 4] {
    (day.num_days_from_ce().max(0) as u32).to_be_bytes()
}

fn figures_key(employee: EmployeeId, day: BusinessDay, store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_EMPLOYEE_FIGURES];
    k.extend_from_slice(&employee.0.to_be_bytes());
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

/// The merge writes that credit `employee` with `deltas`.
pub fn figure_writes(employee: EmployeeId, deltas: &Deltas) -> impl Iterator<Item = Write> + '_ {
    deltas
        .iter()
        .filter(|(_, f)| !f.is_zero())
        .map(move |((store, day), f)| {
            Write::merge(
                figures_key(employee, *day, *store),
                codec::encode(&f.as_slice().to_vec()),
            )
        })
}

fn seller_key(order: OrderId) -> Vec<u8> {
    let mut k = vec![TAG_SELLER];
    k.extend_from_slice(&order.0.to_be_bytes());
    k
}

/// Who sold `order`: its returns are taken back from them.
pub fn seller_write(order: OrderId, employee: EmployeeId) -> Write {
    Write::put(seller_key(order), codec::encode(&employee.0))
}

impl Storage {
    /// `employee`'s figures for the days in `[from, to]`, by day and store: one scan.
    pub fn employee_figures(
        &self,
        employee: EmployeeId,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<(BusinessDay, StoreId, DayFigures)>, StorageError> {
        let mut start = vec![TAG_EMPLOYEE_FIGURES];
        start.extend_from_slice(&employee.0.to_be_bytes());
        let prefix = start.clone();
        start.extend_from_slice(&day_bytes(from));
        let mut out = Vec::new();
        for item in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if key.len() != 13 || !key.starts_with(&prefix) {
                break;
            }
            let n = u32::from_be_bytes([key[5], key[6], key[7], key[8]]);
            let Some(day) = i32::try_from(n)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt)
            else {
                break;
            };
            if day > to {
                break;
            }
            let Ok(store) = StoreId::new(u32::from_be_bytes([key[9], key[10], key[11], key[12]]))
            else {
                continue;
            };
            let v: Vec<i64> = decode_at(&key, &value)?;
            out.push((day, store, DayFigures::from_slice(&v)));
        }
        Ok(out)
    }

    pub fn seller(&self, order: OrderId) -> Result<Option<EmployeeId>, StorageError> {
        Ok(self.get_rec::<u32>(&seller_key(order))?.map(EmployeeId))
    }
}

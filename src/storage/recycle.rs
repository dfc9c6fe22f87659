//! The recycle bin on disk.
//!
//! | tag | key                | value                                            |
//! |-----|--------------------|--------------------------------------------------|
//! | `b` | kind (1), id (8)   | BinRec: who deleted it when, and its records as they were |
//!
//! Deleting moves an object's records into its bin entry (or, for a service, flags it);
//! restoring puts them back; both in one submission by the object's owner.

use serde::{Deserialize, Serialize};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use crate::domain::ids::StoreId;
use crate::domain::ledger::Timestamp;
use crate::domain::recycle::{BinEntry, BinKind};

pub const TAG_BIN: u8 = b'b';

pub fn bin_key(kind: BinKind, id: u64) -> Vec<u8> {
    let mut k = vec![TAG_BIN, kind as u8];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BinRec {
    store: Option<u32>,
    label: String,
    deleted_at_us: i64,
    deleted_by: u64,
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

pub fn bin_write(e: &BinEntry) -> Write {
    let rec = BinRec {
        store: e.store.map(StoreId::get),
        label: e.label.clone(),
        deleted_at_us: e.deleted_at.timestamp_micros(),
        deleted_by: e.deleted_by,
        records: e.records.clone(),
    };
    Write::put(bin_key(e.kind, e.id), codec::encode(&rec))
}

fn from_rec(key: &[u8], rec: BinRec) -> Result<BinEntry, StorageError> {
    let bad = || super::db::corrupt(key, codec::CodecError::Invalid("bin entry".into()));
    let kind = *BinKind::ALL
        .iter()
        .find(|k| **k as u8 == key[1])
        .ok_or_else(bad)?;
    Ok(BinEntry {
        kind,
        id: u64::from_be_bytes(key[2..10].try_into().map_err(|_| bad())?),
        store: rec.store.map(StoreId::new).transpose().map_err(|_| bad())?,
        label: rec.label,
        deleted_at: Timestamp::from_timestamp_micros(rec.deleted_at_us).ok_or_else(bad)?,
        deleted_by: rec.deleted_by,
        records: rec.records,
    })
}

impl Storage {
    pub fn bin_entry(&self, kind: BinKind, id: u64) -> Result<Option<BinEntry>, StorageError> {
        let key = bin_key(kind, id);
        match self.get_rec::<BinRec>(&key)? {
            Some(rec) => from_rec(&key, rec).map(Some),
            None => Ok(None),
        }
    }

    /// Bin entries of `kind` (or every kind), in kind and id order.
    pub fn bin_entries(&self, kind: Option<BinKind>) -> Result<Vec<BinEntry>, StorageError> {
        let prefix = match kind {
            Some(k) => vec![TAG_BIN, k as u8],
            None => vec![TAG_BIN],
        };
        let mut out = Vec::new();
        for item in self.db().prefix_iterator(&prefix) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            if key.len() != 10 {
                continue;
            }
            out.push(from_rec(&key, decode_at(&key, &value)?)?);
        }
        Ok(out)
    }
}

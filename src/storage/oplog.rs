//! The operation log on disk: one record per write under its store and time, and two
//! indexes (by credential, by object) that point at it. All three are written in the
//! write's own journal submission. Keys (tag `Q`), times in µs big-endian so that a reverse
//! scan is newest first; `uniq` is the first 8 bytes of SHA-256 of the idempotency key:
//!
//! | `Q s` store (4, 0 = chain) at (8) uniq (8) | OpRecord |
//! | `Q p` credential (8) at (8) uniq (8)       | the `Q s` key |
//! | `Q o` object length (1) object at (8) uniq (8) | the `Q s` key |

use std::borrow::Cow;

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codec::{self, CodecError};
use super::db::{corrupt, decode_at, Storage, StorageError};
use super::journal::Write;
use crate::domain::ids::StoreId;
use crate::domain::oplog::OpRecord;

pub const TAG_OPLOG: u8 = b'Q';
/// Longest object name indexed; longer ones (never made by the server) are not indexed.
pub const OBJECT_LEN_MAX: usize = 64;

/// Which records to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpFilter {
    /// A store's records; `None` for chain-wide operations.
    Store(Option<StoreId>),
    Credential(u64),
    Object(String),
}

fn prefix(filter: &OpFilter) -> Vec<u8> {
    let mut k = vec![TAG_OPLOG];
    match filter {
        OpFilter::Store(s) => {
            k.push(b's');
            k.extend_from_slice(&s.map_or(0, |s| s.get()).to_be_bytes());
        }
        OpFilter::Credential(c) => {
            k.push(b'p');
            k.extend_from_slice(&c.to_be_bytes());
        }
        OpFilter::Object(o) => {
            k.push(b'o');
            k.push(o.len() as u8);
            k.extend_from_slice(o.as_bytes());
        }
    }
    k
}

/// A record as stored: the time in µs, not chrono's RFC 3339 text, which was formatted on
/// every write (8% of a ledger actor's time in the batch benchmark).
#[derive(Serialize, Deserialize)]
struct OpRec<'a> {
    at_us: i64,
    credential: u64,
    role: Cow<'a, str>,
    store: Option<StoreId>,
    operation: Cow<'a, str>,
    objects: Cow<'a, [String]>,
    result: Cow<'a, str>,
    idempotency_key: Cow<'a, str>,
}

impl<'a> From<&'a OpRecord> for OpRec<'a> {
    fn from(r: &'a OpRecord) -> Self {
        OpRec {
            at_us: r.at.timestamp_micros(),
            credential: r.credential,
            role: Cow::Borrowed(&r.role),
            store: r.store,
            operation: Cow::Borrowed(&r.operation),
            objects: Cow::Borrowed(&r.objects),
            result: Cow::Borrowed(&r.result),
            idempotency_key: Cow::Borrowed(&r.idempotency_key),
        }
    }
}

impl TryFrom<OpRec<'_>> for OpRecord {
    type Error = CodecError;

    fn try_from(r: OpRec<'_>) -> Result<Self, CodecError> {
        Ok(OpRecord {
            at: chrono::DateTime::from_timestamp_micros(r.at_us)
                .ok_or_else(|| CodecError::Invalid(format!("time {} µs", r.at_us)))?,
            credential: r.credential,
            role: r.role.into_owned(),
            store: r.store,
            operation: r.operation.into_owned(),
            objects: r.objects.into_owned(),
            result: r.result.into_owned(),
            idempotency_key: r.idempotency_key.into_owned(),
        })
    }
}

fn decode_record(key: &[u8], bytes: &[u8]) -> Result<OpRecord, StorageError> {
    decode_at::<OpRec<'static>>(key, bytes)?
        .try_into()
        .map_err(|e| corrupt(key, e))
}

/// Where a record sits in every listing: its time and its key's hash.
pub type Cursor = [u8; 16];

/// The writes that log `rec`: the record and its index entries.
pub fn writes(rec: &OpRecord) -> Vec<Write> {
    let mut suffix = Vec::with_capacity(16);
    suffix.extend_from_slice(&(rec.at.timestamp_micros().max(0) as u64).to_be_bytes());
    suffix.extend_from_slice(&Sha256::digest(rec.idempotency_key.as_bytes())[..8]);
    let mut primary = prefix(&OpFilter::Store(rec.store));
    primary.extend_from_slice(&suffix);
    let mut out = Vec::with_capacity(2 + rec.objects.len());
    let mut by_credential = prefix(&OpFilter::Credential(rec.credential));
    by_credential.extend_from_slice(&suffix);
    out.push(Write::put(by_credential, primary.clone()));
    for o in rec.objects.iter().filter(|o| o.len() <= OBJECT_LEN_MAX) {
        let mut k = prefix(&OpFilter::Object(o.clone()));
        k.extend_from_slice(&suffix);
        out.push(Write::put(k, primary.clone()));
    }
    out.push(Write::put(primary, codec::encode(&OpRec::from(rec))));
    out
}

impl Storage {
    /// Records matching `filter` in `[from_us, to_us)`, newest first, strictly before
    /// `before` when given.
    pub fn oplog(
        &self,
        filter: &OpFilter,
        from_us: u64,
        to_us: u64,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<(Cursor, OpRecord)>, StorageError> {
        let prefix = prefix(filter);
        let mut start = prefix.clone();
        match before {
            Some(c) => start.extend_from_slice(&c),
            None => start.extend_from_slice(&to_us.to_be_bytes()),
        }
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator(IteratorMode::From(&start, Direction::Reverse)) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let Some(cursor) = key
                .get(prefix.len()..)
                .and_then(|s| Cursor::try_from(s).ok())
            else {
                continue;
            };
            // The seek lands on `start` itself when it exists: it is not before itself.
            if key.as_ref() >= start.as_slice() {
                continue;
            }
            let at = u64::from_be_bytes(cursor[..8].try_into().unwrap_or_default());
            if at < from_us {
                break;
            }
            let rec = match filter {
                OpFilter::Store(_) => decode_record(&key, &value)?,
                _ => match db.get_pinned(&value)? {
                    Some(v) => decode_record(&value, &v)?,
                    None => continue,
                },
            };
            out.push((cursor, rec));
        }
        Ok(out)
    }
}

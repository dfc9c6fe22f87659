//! The notification outbox on disk.
//!
//! | tag | key                              | value            |
//! |-----|----------------------------------|------------------|
//! | `n` | notification id (8) = store << 32 \| seq | NotificationRec |
//! | `o` | next attempt µs (8), id (8)      | (empty): due     |
//! | `Z` | `n` event (1) / `w`              | template / webhook URL (catalog) |
//!
//! A notification is written with the change that caused it, in the same submission, so only
//! durable changes are ever announced. The courier reads the `o` index in time order.

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::db::{decode_at, Storage, StorageError};
use super::keys::TAG_CATALOG;
use super::{codec, Write};
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::notify::{Delivery, EventKind, Notification, NotificationId, Source};

pub const TAG_NOTIFICATION: u8 = b'n';
pub const TAG_DUE: u8 = b'o';

pub fn notification_key(id: NotificationId) -> Vec<u8> {
    let mut k = vec![TAG_NOTIFICATION];
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

fn due_key(at: Timestamp, id: NotificationId) -> Vec<u8> {
    let mut k = vec![TAG_DUE];
    k.extend_from_slice(&(at.timestamp_micros().max(0) as u64).to_be_bytes());
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

pub fn template_key(event: EventKind) -> Vec<u8> {
    vec![TAG_CATALOG, b'n', event as u8]
}

pub fn webhook_key() -> Vec<u8> {
    vec![TAG_CATALOG, b'w']
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NotificationRec {
    member: u64,
    event: EventKind,
    text: String,
    created_at_us: i64,
    attempts: u32,
    delivery: Delivery,
    last_error: Option<String>,
}

/// The writes of `n`, replacing `before` (its previous version) if any.
pub fn notification_writes(n: &Notification, before: Option<&Notification>) -> Vec<Write> {
    let mut writes = Vec::with_capacity(3);
    if let Some(Delivery::Pending { next_at }) = before.map(|b| b.delivery) {
        writes.push(Write::delete(due_key(next_at, n.id)));
    }
    if let Delivery::Pending { next_at } = n.delivery {
        writes.push(Write::put(due_key(next_at, n.id), Vec::new()));
    }
    let rec = NotificationRec {
        member: n.member.get(),
        event: n.event,
        text: n.text.clone(),
        created_at_us: n.created_at.timestamp_micros(),
        attempts: n.attempts,
        delivery: n.delivery,
        last_error: n.last_error.clone(),
    };
    writes.push(Write::put(notification_key(n.id), codec::encode(&rec)));
    writes
}

fn from_rec(key: &[u8], id: u64, rec: NotificationRec) -> Result<Notification, StorageError> {
    let bad = || super::db::corrupt(key, codec::CodecError::Invalid("notification".into()));
    Ok(Notification {
        id: NotificationId(id),
        member: MemberId::parse(rec.member).map_err(|_| bad())?,
        store: StoreId::new((id >> 32) as u32).map_err(|_| bad())?,
        event: rec.event,
        text: rec.text,
        created_at: Timestamp::from_timestamp_micros(rec.created_at_us).ok_or_else(bad)?,
        attempts: rec.attempts,
        delivery: rec.delivery,
        last_error: rec.last_error,
    })
}

impl Storage {
    pub fn notification(&self, id: NotificationId) -> Result<Option<Notification>, StorageError> {
        let key = notification_key(id);
        match self.get_rec::<NotificationRec>(&key)? {
            Some(rec) => from_rec(&key, id.0, rec).map(Some),
            None => Ok(None),
        }
    }

    /// Notifications whose next attempt is due at `now`, soonest first.
    pub fn due_notifications(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<NotificationId>, StorageError> {
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator(IteratorMode::From(&[TAG_DUE], Direction::Forward)) {
            let (key, _) = item?;
            if key.len() != 17 || key[0] != TAG_DUE || out.len() >= limit {
                break;
            }
            let at = u64::from_be_bytes(key[1..9].try_into().unwrap_or([0xff; 8]));
            if at > now.timestamp_micros().max(0) as u64 {
                break;
            }
            out.push(NotificationId(u64::from_be_bytes(
                key[9..17].try_into().unwrap_or([0; 8]),
            )));
        }
        Ok(out)
    }

    /// A store's notifications in id order after `after`, at most `limit`.
    pub fn notifications_of_store(
        &self,
        store: StoreId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Notification>, StorageError> {
        let first = (u64::from(store.get()) << 32) | after.map_or(0, |a| (a & 0xffff_ffff) + 1);
        let start = notification_key(NotificationId(first));
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator(IteratorMode::From(&start, Direction::Forward)) {
            let (key, value) = item?;
            if key.len() != 9 || key[..5] != start[..5] || out.len() >= limit {
                break;
            }
            let id = u64::from_be_bytes(key[1..9].try_into().unwrap_or([0; 8]));
            out.push(from_rec(&key, id, decode_at(&key, &value)?)?);
        }
        Ok(out)
    }

    /// The last sequence `source` used for the notifications of `store`.
    pub fn last_notification_seq(
        &self,
        store: StoreId,
        source: Source,
    ) -> Result<u32, StorageError> {
        let upper = NotificationId::new(store, source, crate::domain::notify::SEQ_MAX);
        let db = self.db();
        let mut it = db.iterator(IteratorMode::From(
            &notification_key(upper),
            Direction::Reverse,
        ));
        if let Some(item) = it.next() {
            let (key, _) = item?;
            if key.len() == 9 && key[0] == TAG_NOTIFICATION {
                let id = NotificationId(u64::from_be_bytes(key[1..9].try_into().unwrap_or([0; 8])));
                if id.0 >> 32 == u64::from(store.get()) {
                    let (s, n) = id.seq();
                    if s == source {
                        return Ok(n);
                    }
                }
            }
        }
        Ok(0)
    }
}

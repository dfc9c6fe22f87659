//! Where orders are found: each sale and each return of an order gets an index line by
//! selling store and time, and one by member and time, written with the order in the same
//! batch. Search walks one of them in time order and reads the orders it names.
//!
//! | tag | key                                                         | value      |
//! |-----|-------------------------------------------------------------|------------|
//! | `x` | store (4), at µs (8), order (8), event (1), seq (8)         | OrderEvent |
//! | `y` | member (8), at µs (8), order (8), event (1), seq (8)        | OrderEvent |
//!
//! `event` is `s` for a sale, `r` for a return; `seq` is the writing actor's submission
//! sequence, so two returns of one order in the same microsecond keep a line each.

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use crate::domain::checkout::OrderId;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::money::Money;

pub const TAG_STORE_ORDERS: u8 = b'x';
pub const TAG_MEMBER_ORDERS: u8 = b'y';

/// One sale or return as the index keeps it: enough for a list without reading the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order: u64,
    pub store: u32,
    pub member: Option<u64>,
    pub at_us: i64,
    pub ret: bool,
    /// The sale's payable, or what the return gave back (stored value, points at their value
    /// excluded, and tenders).
    pub amount: i64,
    /// Units sold or returned.
    pub units: u32,
}

fn suffix(k: &mut Vec<u8>, e: &OrderEvent, seq: u64) {
    k.extend_from_slice(&(e.at_us.max(0) as u64).to_be_bytes());
    k.extend_from_slice(&e.order.to_be_bytes());
    k.push(if e.ret { b'r' } else { b's' });
    k.extend_from_slice(&seq.to_be_bytes());
}

/// The index lines of a sale or return.
pub fn event_writes(e: &OrderEvent, seq: u64) -> Vec<Write> {
    let value = codec::encode(e);
    let mut by_store = vec![TAG_STORE_ORDERS];
    by_store.extend_from_slice(&e.store.to_be_bytes());
    suffix(&mut by_store, e, seq);
    let mut out = vec![Write::put(by_store, value.clone())];
    if let Some(m) = e.member {
        let mut by_member = vec![TAG_MEMBER_ORDERS];
        by_member.extend_from_slice(&m.to_be_bytes());
        suffix(&mut by_member, e, seq);
        out.push(Write::put(by_member, value));
    }
    out
}

/// Which index a search walks.
#[derive(Debug, Clone, Copy)]
pub enum OrdersOf {
    Store(StoreId),
    Member(MemberId),
}

impl OrdersOf {
    fn prefix(self) -> Vec<u8> {
        match self {
            OrdersOf::Store(s) => {
                let mut k = vec![TAG_STORE_ORDERS];
                k.extend_from_slice(&s.get().to_be_bytes());
                k
            }
            OrdersOf::Member(m) => {
                let mut k = vec![TAG_MEMBER_ORDERS];
                k.extend_from_slice(&m.get().to_be_bytes());
                k
            }
        }
    }
}

/// A page of index lines: the events and, when the walk stopped early, where to go on.
pub struct EventPage {
    pub events: Vec<OrderEvent>,
    /// Hex of the last key looked at: the next page starts after it.
    pub next_after: Option<String>,
}

impl Storage {
    /// Index lines of `of` in `[from, to)`, newest first, from before the cursor `after`
    /// (a key's hex), keeping those `keep` accepts: at most `limit` kept, at most `budget`
    /// looked at.
    #[allow(clippy::too_many_arguments)] // one walk, its bounds and its filter
    pub fn order_events(
        &self,
        of: OrdersOf,
        from: Timestamp,
        to: Timestamp,
        after: Option<&str>,
        limit: usize,
        budget: usize,
        mut keep: impl FnMut(&OrderEvent) -> Result<bool, StorageError>,
    ) -> Result<EventPage, StorageError> {
        let prefix = of.prefix();
        let mut low = prefix.clone();
        low.extend_from_slice(&(from.timestamp_micros().max(0) as u64).to_be_bytes());
        let mut high = prefix.clone();
        high.extend_from_slice(&(to.timestamp_micros().max(0) as u64).to_be_bytes());
        let start = match after
            .filter(|h| h.len() <= 128)
            .and_then(|h| hex::decode(h).ok())
        {
            Some(k) if k.starts_with(&prefix) && k < high => k,
            _ => high.clone(),
        };
        let mut events = Vec::new();
        let mut seen = 0;
        let mut last: Option<Vec<u8>> = None;
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Reverse))
        {
            let (key, value) = kv?;
            if !key.starts_with(&prefix) || key[..] < low[..] {
                return Ok(EventPage {
                    events,
                    next_after: None,
                });
            }
            if key[..] >= start[..] {
                continue;
            }
            if events.len() == limit || seen == budget {
                return Ok(EventPage {
                    events,
                    next_after: last.map(hex::encode),
                });
            }
            seen += 1;
            last = Some(key.to_vec());
            let e: OrderEvent = decode_at(&key, &value)?;
            if keep(&e)? {
                events.push(e);
            }
        }
        Ok(EventPage {
            events,
            next_after: None,
        })
    }
}

impl OrderEvent {
    pub fn id(&self) -> OrderId {
        OrderId(self.order)
    }

    pub fn amount(&self) -> Money {
        Money::from_minor(self.amount)
    }
}

//! Transfers of products between stores (调拨): out of one store's stock when sent, in
//! transit until the other store receives them, then in its stock.

use serde::{Deserialize, Serialize};

use super::ids::StoreId;
use super::ledger::Timestamp;
use super::price_list::ItemId;
use super::stock::{MOVE_LINES_MAX, NOTE_LEN_MAX, STOCK_MAX};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct TransferId(pub u64);

impl TransferId {
    /// Ids carry the sending store: `from << 32 | seq`.
    pub fn new(from: StoreId, seq: u32) -> TransferId {
        TransferId((u64::from(from.get()) << 32) | u64::from(seq))
    }

    pub fn from_store(self) -> Option<StoreId> {
        StoreId::new((self.0 >> 32) as u32).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferLine {
    pub item: ItemId,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    pub id: TransferId,
    pub from: StoreId,
    pub to: StoreId,
    pub lines: Vec<TransferLine>,
    pub note: String,
    #[schema(value_type = String, format = DateTime)]
    pub sent_at: Timestamp,
    /// When the receiving store took the goods in; none: in transit.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub received_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TransferError {
    #[error("a transfer goes to another store, with 1 to {MOVE_LINES_MAX} lines of distinct items, 1 to {STOCK_MAX} units each, and a note of at most {NOTE_LEN_MAX} characters")]
    Invalid,
    #[error("transfer {0} was received already")]
    AlreadyReceived(u64),
}

impl Transfer {
    pub fn new(
        id: TransferId,
        to: StoreId,
        lines: Vec<TransferLine>,
        note: String,
        now: Timestamp,
    ) -> Result<Transfer, TransferError> {
        let from = id.from_store().ok_or(TransferError::Invalid)?;
        let distinct = lines
            .iter()
            .enumerate()
            .all(|(i, l)| lines[..i].iter().all(|o| o.item != l.item));
        let ok = from != to
            && !lines.is_empty()
            && lines.len() <= MOVE_LINES_MAX
            && distinct
            && lines
                .iter()
                .all(|l| l.quantity >= 1 && i64::from(l.quantity) <= STOCK_MAX)
            && note.chars().count() <= NOTE_LEN_MAX
            && !note.chars().any(char::is_control);
        if !ok {
            return Err(TransferError::Invalid);
        }
        Ok(Transfer {
            id,
            from,
            to,
            lines,
            note,
            sent_at: now,
            received_at: None,
        })
    }

    /// The goods arrive: once.
    pub fn receive(&mut self, now: Timestamp) -> Result<(), TransferError> {
        if self.received_at.is_some() {
            return Err(TransferError::AlreadyReceived(self.id.0));
        }
        self.received_at = Some(now);
        Ok(())
    }

    pub fn units(&self) -> Vec<(ItemId, u32)> {
        self.lines.iter().map(|l| (l.item, l.quantity)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_is_checked_and_received_once() {
        let a = StoreId::new(1).unwrap();
        let b = StoreId::new(2).unwrap();
        let now = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let line = |i, q| TransferLine {
            item: ItemId(i),
            quantity: q,
        };
        let id = TransferId::new(a, 1);
        assert!(Transfer::new(id, a, vec![line(1, 1)], String::new(), now).is_err());
        assert!(Transfer::new(id, b, vec![line(1, 1), line(1, 2)], String::new(), now).is_err());
        assert!(Transfer::new(id, b, vec![line(1, 0)], String::new(), now).is_err());
        let mut t = Transfer::new(id, b, vec![line(1, 3)], "to B".into(), now).unwrap();
        assert_eq!(t.from, a);
        t.receive(now).unwrap();
        assert_eq!(t.receive(now), Err(TransferError::AlreadyReceived(id.0)));
    }
}

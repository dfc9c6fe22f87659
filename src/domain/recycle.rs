//! The recycle bin (数据回收站): deleted members, services, resources, gifts and coupon
//! templates wait here, out of every normal listing, and can be restored until the chain's
//! retention period has passed; then they are purged.

use serde::{Deserialize, Serialize};

use super::ids::StoreId;
use super::ledger::{Account, Timestamp};

/// Longest retention a chain may configure.
pub const RETENTION_DAYS_MAX: u32 = 3_650;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BinKind {
    Member,
    Service,
    Resource,
    Gift,
    CouponTemplate,
}

impl BinKind {
    pub const ALL: [BinKind; 5] = [
        BinKind::Member,
        BinKind::Service,
        BinKind::Resource,
        BinKind::Gift,
        BinKind::CouponTemplate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BinKind::Member => "member",
            BinKind::Service => "service",
            BinKind::Resource => "resource",
            BinKind::Gift => "gift",
            BinKind::CouponTemplate => "coupon_template",
        }
    }

    pub fn parse(s: &str) -> Option<BinKind> {
        BinKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Members and resources belong to a store; the rest to the whole chain.
    pub fn store_scoped(self) -> bool {
        matches!(self, BinKind::Member | BinKind::Resource)
    }
}

/// One deleted object: what it was, who deleted it when, and its record to put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinEntry {
    pub kind: BinKind,
    pub id: u64,
    pub store: Option<StoreId>,
    /// What people recognise it by (name, phone).
    pub label: String,
    pub deleted_at: Timestamp,
    pub deleted_by: u64,
    /// The object's stored records, as they were, in the owner's own encoding.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecycleError {
    #[error("the recycle bin keeps objects {0} days; this one can no longer be restored")]
    Expired(u32),
    #[error("a member can be deleted only with nothing left: no stored value, points or sessions")]
    NotEmpty,
    #[error("phone number {0} now belongs to another member")]
    PhoneTaken(String),
}

impl BinEntry {
    /// An entry of a chain-wide object with nothing to put back but a flag.
    pub fn new(
        kind: BinKind,
        id: u64,
        label: impl Into<String>,
        deleted_at: Timestamp,
        deleted_by: u64,
    ) -> BinEntry {
        BinEntry {
            kind,
            id,
            store: None,
            label: label.into(),
            deleted_at,
            deleted_by,
            records: Vec::new(),
        }
    }

    pub fn in_store(self, store: StoreId) -> BinEntry {
        BinEntry {
            store: Some(store),
            ..self
        }
    }

    /// The records that restoring puts back, as (key, value).
    pub fn holding(self, records: Vec<(Vec<u8>, Vec<u8>)>) -> BinEntry {
        BinEntry { records, ..self }
    }

    pub fn purge_at(&self, retention_days: u32) -> Timestamp {
        self.deleted_at + chrono::Duration::days(i64::from(retention_days))
    }

    pub fn expired(&self, retention_days: u32, now: Timestamp) -> bool {
        now >= self.purge_at(retention_days)
    }

    pub fn check_restore(&self, retention_days: u32, now: Timestamp) -> Result<(), RecycleError> {
        if self.expired(retention_days, now) {
            return Err(RecycleError::Expired(retention_days));
        }
        Ok(())
    }
}

/// A member may go to the bin only when deleting loses nothing of value: no stored value,
/// no points, no unused sessions.
pub fn check_member_empty(a: &Account) -> Result<(), RecycleError> {
    let sessions: u32 = a.membership.count_cards.iter().map(|c| c.remaining).sum();
    if a.balance.minor() != 0 || a.membership.points != 0 || sessions != 0 {
        return Err(RecycleError::NotEmpty);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::MemberId;

    #[test]
    fn entries_restore_until_the_retention_ends() {
        let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let e = BinEntry {
            kind: BinKind::Gift,
            id: 1,
            store: None,
            label: "Mug".into(),
            deleted_at: at,
            deleted_by: 0,
            records: Vec::new(),
        };
        let day = chrono::Duration::days(1);
        assert!(e.check_restore(30, at + day * 29).is_ok());
        assert_eq!(
            e.check_restore(30, at + day * 30),
            Err(RecycleError::Expired(30))
        );
        for k in BinKind::ALL {
            assert_eq!(BinKind::parse(k.name()), Some(k));
        }
    }

    #[test]
    fn only_empty_members_go_to_the_bin() {
        let member = MemberId::parse((1u64 << 32) | 1).unwrap();
        let mut a = Account::open(member);
        assert!(check_member_empty(&a).is_ok());
        a.membership.points = 5;
        assert_eq!(check_member_empty(&a), Err(RecycleError::NotEmpty));
    }
}

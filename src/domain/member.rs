//! Members and stores as the domain sees them.

use super::ids::{MemberId, Name, Phone, StoreId};
use super::ledger::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub phone: Phone,
    pub name: Name,
    pub created_at: Timestamp,
}

impl Member {
    pub fn home_store(&self) -> StoreId {
        self.id.home_store()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub id: StoreId,
    pub name: Name,
    /// IANA time zone name, validated at the edge with chrono-tz.
    pub time_zone: chrono_tz::Tz,
    pub created_at: Timestamp,
}

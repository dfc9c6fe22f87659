//! Waitlist entries (候补) on disk, one record each, written by their store's scheduler.
//!
//! | tag | key                            | value     |
//! |-----|--------------------------------|-----------|
//! | `5` | entry id (8) = store << 32 \| seq | WaitEntry |

use super::db::{Storage, StorageError};
use super::{codec, keys, Write};
use crate::domain::ids::StoreId;
use crate::domain::waitlist::WaitEntry;

pub const TAG_WAITLIST: u8 = b'5';

pub fn entry(e: &WaitEntry) -> Write {
    Write::put(keys::id8(TAG_WAITLIST, e.id.0), codec::encode(e))
}

impl Storage {
    /// Every waitlist entry of `store`, in id order: its scheduler's at start-up.
    pub fn waitlist_of(&self, store: StoreId) -> Result<Vec<WaitEntry>, StorageError> {
        self.scan_store(TAG_WAITLIST, store)
    }
}

//! Members whose home store is not the store that registered them (会员转店).
//!
//! | tag | key                      | value   |
//! |-----|--------------------------|---------|
//! | `j` | home (4), member id (8)  | (empty) |
//!
//! A member id carries the store that registered it; a `j` key says the member has lived
//! elsewhere since. The keys are few (moves are rare), so the server reads them all at start
//! into the registry, and a search of one home's members walks its `j` keys before its own
//! id range.

use rocksdb::{Direction, IteratorMode};

use super::db::{corrupt, Storage, StorageError};
use super::Write;
use crate::domain::ids::{MemberId, StoreId};

pub const TAG_HOME: u8 = b'j';

/// The bytes every `j` key of `home` starts with.
pub fn home_prefix(home: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_HOME];
    k.extend_from_slice(&home.get().to_be_bytes());
    k
}

fn home_key(home: StoreId, member: MemberId) -> Vec<u8> {
    let mut k = home_prefix(home);
    k.extend_from_slice(&member.get().to_be_bytes());
    k
}

/// The writes that move `member`'s home from `from` to `to`.
pub fn moved(member: MemberId, from: StoreId, to: StoreId) -> Vec<Write> {
    let mut writes = Vec::with_capacity(2);
    if from != member.origin() {
        writes.push(Write::delete(home_key(from, member)));
    }
    if to != member.origin() {
        writes.push(Write::put(home_key(to, member), Vec::new()));
    }
    writes
}

/// The member a `j` key names.
pub fn member_of(key: &[u8]) -> Option<MemberId> {
    let raw = key.get(5..13)?.try_into().ok()?;
    MemberId::parse(u64::from_be_bytes(raw)).ok()
}

impl Storage {
    /// Every member living away from the store that registered them, with their home.
    pub fn homes(&self) -> Result<Vec<(MemberId, StoreId)>, StorageError> {
        let mut homes = Vec::new();
        for item in self
            .db()
            .iterator(IteratorMode::From(&[TAG_HOME], Direction::Forward))
        {
            let (key, _) = item?;
            if key.first() != Some(&TAG_HOME) {
                break;
            }
            let bad = || corrupt(&key, super::codec::CodecError::Invalid("home key".into()));
            let home = key
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .and_then(|s| StoreId::new(s).ok())
                .ok_or_else(bad)?;
            homes.push((member_of(&key).ok_or_else(bad)?, home));
        }
        Ok(homes)
    }
}

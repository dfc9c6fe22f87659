//! Follow-up records (`r`: member, seq) and each store's due index (`d`: home store, day,
//! member -> seq of the follow-up that set the day). A member has at most one due key: the
//! follow-up that records a new one deletes the one before.

use chrono::{Datelike, NaiveDate};
use rocksdb::{Direction, IteratorMode};

use super::codec::{self, CodecError};
use super::db::{corrupt, Storage, StorageError};
use super::journal::Write;
use crate::domain::follow_up::FollowUp;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::member::Member;

pub const TAG_FOLLOW_UP: u8 = b'r';
pub const TAG_FOLLOW_UP_DUE: u8 = b'd';

fn record_key(member: MemberId, seq: u64) -> Vec<u8> {
    let mut k = vec![TAG_FOLLOW_UP];
    k.extend_from_slice(&member.get().to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn due_prefix(store: StoreId) -> Vec<u8> {
    let mut k = vec![TAG_FOLLOW_UP_DUE];
    k.extend_from_slice(&store.get().to_be_bytes());
    k
}

/// Days from 0001-01-01: positive for every date the server accepts, so byte order is date
/// order.
fn day_bytes(day: NaiveDate) -> [u8; 4] {
    u32::try_from(day.num_days_from_ce())
        .unwrap_or(0)
        .to_be_bytes()
}

fn due_key(store: StoreId, day: NaiveDate, member: MemberId) -> Vec<u8> {
    let mut k = due_prefix(store);
    k.extend_from_slice(&day_bytes(day));
    k.extend_from_slice(&member.get().to_be_bytes());
    k
}

/// `f` recorded after `before` (the member's latest, if any): its record, and the member's
/// due key in `home`'s list moved to `f`'s next date (or removed).
pub fn recorded(before: Option<&FollowUp>, f: &FollowUp, home: StoreId) -> Vec<Write> {
    let mut writes = vec![Write::put(record_key(f.member, f.seq), codec::encode(f))];
    if let Some(day) = before.and_then(|b| b.next_on) {
        writes.push(Write::delete(due_key(home, day, f.member)));
    }
    if let Some(day) = f.next_on {
        writes.push(Write::put(
            due_key(home, day, f.member),
            f.seq.to_be_bytes().to_vec(),
        ));
    }
    writes
}

/// The due key of a member whose latest follow-up is `latest`, moved from `from`'s list to
/// `to`'s with the member's home.
pub fn rehomed(latest: Option<&FollowUp>, from: StoreId, to: StoreId) -> Vec<Write> {
    match latest.and_then(|f| f.next_on.map(|day| (f, day))) {
        Some((f, day)) => vec![
            Write::delete(due_key(from, day, f.member)),
            Write::put(due_key(to, day, f.member), f.seq.to_be_bytes().to_vec()),
        ],
        None => Vec::new(),
    }
}

/// One page of a store's due list and where the next starts.
#[derive(Debug)]
pub struct DuePage {
    /// Each member due, with the latest follow-up, which set the date.
    pub due: Vec<(Member, FollowUp)>,
    pub next: Option<Vec<u8>>,
}

impl Storage {
    /// A member's follow-ups, newest first, older than `before` (a seq).
    pub fn follow_ups(
        &self,
        member: MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<FollowUp>, StorageError> {
        let start = match before {
            Some(0) => return Ok(Vec::new()),
            Some(s) => record_key(member, s - 1),
            None => record_key(member, u64::MAX),
        };
        self.newest_first(&start[..9], &start, limit)
    }

    pub fn latest_follow_up(&self, member: MemberId) -> Result<Option<FollowUp>, StorageError> {
        Ok(self.follow_ups(member, None, 1)?.pop())
    }

    /// Members of `store` due on or before `on`, earliest date first, after the key `after`.
    pub fn due_follow_ups(
        &self,
        store: StoreId,
        on: NaiveDate,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<DuePage, StorageError> {
        let prefix = due_prefix(store);
        let end = {
            let mut k = prefix.clone();
            k.extend_from_slice(&day_bytes(on));
            k.extend_from_slice(&u64::MAX.to_be_bytes());
            k
        };
        let start = match after {
            Some(a) if a.starts_with(&prefix) => a.to_vec(),
            Some(_) => {
                return Ok(DuePage {
                    due: Vec::new(),
                    next: None,
                })
            }
            None => prefix.clone(),
        };
        let mut due = Vec::new();
        let mut next = None;
        let mut last: Option<Vec<u8>> = None;
        for item in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) || key[..] > end[..] {
                break;
            }
            if after == Some(&key[..]) {
                continue;
            }
            if due.len() == limit {
                next = last;
                break;
            }
            last = Some(key.to_vec());
            let bad = || corrupt(&key, CodecError::Invalid("follow-up due index".into()));
            let member = key
                .get(key.len() - 8..)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(bad)?;
            let seq = <[u8; 8]>::try_from(&value[..])
                .map(u64::from_be_bytes)
                .map_err(|_| bad())?;
            let member = MemberId::parse(member).map_err(|e| corrupt(&key, e.into()))?;
            let rkey = record_key(member, seq);
            let f: FollowUp = self.get_rec(&rkey)?.ok_or_else(bad)?;
            // A binned member's due key stays until its next follow-up; the list skips it.
            if let Some(m) = self.member(member)? {
                due.push((m, f));
            }
        }
        Ok(DuePage { due, next })
    }
}

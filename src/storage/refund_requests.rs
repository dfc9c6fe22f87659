//! Refund requests (退款审核) on disk: each request by id, each member's requests, and the
//! ones still waiting for a decision, written together by `records`.
//!
//! | tag | key                              | value                  |
//! |-----|----------------------------------|------------------------|
//! | `1` | request id (8) = store << 32 \| seq | RefundRequest       |
//! | `2` | member (8), request id (8)       | (empty): the member's  |
//! | `3` | member (8), request id (8)       | (empty): still pending |

use rocksdb::{Direction, IteratorMode};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::refund_request::{Filter, RefundRequest, RefundRequestId, State};

pub const TAG_REFUND_REQUEST: u8 = b'1';
pub const TAG_MEMBER_REFUNDS: u8 = b'2';
pub const TAG_PENDING_REFUNDS: u8 = b'3';

fn request_key(id: RefundRequestId) -> Vec<u8> {
    let mut k = vec![TAG_REFUND_REQUEST];
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

fn member_key(tag: u8, member: MemberId, id: u64) -> Vec<u8> {
    let mut k = vec![tag];
    k.extend_from_slice(&member.get().to_be_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The request and its index lines: the pending line goes with the decision.
pub fn records(r: &RefundRequest) -> Vec<Write> {
    let pending = member_key(TAG_PENDING_REFUNDS, r.member, r.id.0);
    vec![
        Write::put(request_key(r.id), codec::encode(r)),
        Write::put(member_key(TAG_MEMBER_REFUNDS, r.member, r.id.0), Vec::new()),
        match r.state {
            State::Pending => Write::put(pending, Vec::new()),
            _ => Write::delete(pending),
        },
    ]
}

/// One page of requests, newest first; `next` is the cursor of the page after.
#[derive(Debug, Default)]
pub struct RefundPage {
    pub requests: Vec<RefundRequest>,
    pub next: Option<u64>,
}

impl Storage {
    pub fn refund_request(
        &self,
        id: RefundRequestId,
    ) -> Result<Option<RefundRequest>, StorageError> {
        self.get_rec(&request_key(id))
    }

    /// The ids in an index of `member`, newest first, below `before`.
    fn member_index(
        &self,
        tag: u8,
        member: MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<u64>, bool), StorageError> {
        let prefix = &member_key(tag, member, 0)[..9];
        let start = member_key(tag, member, before.unwrap_or(u64::MAX));
        let mut ids = Vec::new();
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Reverse))
        {
            let (key, _) = kv?;
            if !key.starts_with(prefix) || key.len() != 17 {
                break;
            }
            if key[..] >= start[..] {
                continue;
            }
            if ids.len() == limit {
                return Ok((ids, true));
            }
            let mut raw = [0; 8];
            raw.copy_from_slice(&key[9..]);
            ids.push(u64::from_be_bytes(raw));
        }
        Ok((ids, false))
    }

    fn requests_of(&self, ids: &[u64]) -> Result<Vec<RefundRequest>, StorageError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.refund_request(RefundRequestId(*id))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// `member`'s requests waiting for a decision (at most `limit`).
    pub fn pending_refund_requests(
        &self,
        member: MemberId,
        limit: usize,
    ) -> Result<Vec<RefundRequest>, StorageError> {
        let (ids, _) = self.member_index(TAG_PENDING_REFUNDS, member, None, limit)?;
        self.requests_of(&ids)
    }

    /// A page of `member`'s requests, newest first.
    pub fn member_refund_requests(
        &self,
        member: MemberId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<RefundPage, StorageError> {
        let (ids, more) = self.member_index(TAG_MEMBER_REFUNDS, member, before, limit)?;
        let next = more.then(|| ids.last().copied()).flatten();
        Ok(RefundPage {
            requests: self.requests_of(&ids)?,
            next,
        })
    }

    /// A page of the requests `store` issued that `filter` keeps, newest first, looking at
    /// no more than `budget` requests: a page may be short, and `next` goes on from where
    /// it stopped.
    pub fn store_refund_requests(
        &self,
        store: StoreId,
        filter: &Filter,
        before: Option<u64>,
        limit: usize,
        budget: usize,
    ) -> Result<RefundPage, StorageError> {
        let low = RefundRequestId::new(store, 0);
        let high = RefundRequestId::new(store, u32::MAX);
        let start = request_key(RefundRequestId(before.unwrap_or(high.0).min(high.0)));
        let bottom = request_key(low);
        let mut page = RefundPage::default();
        let mut seen = 0;
        let mut last = None;
        for kv in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Reverse))
        {
            let (key, value) = kv?;
            if key.len() != 9 || key[0] != TAG_REFUND_REQUEST || key[..] <= bottom[..] {
                return Ok(page);
            }
            if before.is_some() && key[..] >= start[..] {
                continue;
            }
            if page.requests.len() == limit || seen == budget {
                page.next = last;
                return Ok(page);
            }
            seen += 1;
            let r: RefundRequest = decode_at(&key, &value)?;
            last = Some(r.id.0);
            if filter.keeps(&r) {
                page.requests.push(r);
            }
        }
        Ok(page)
    }

    /// The highest sequence `store` issued, 0 for none.
    pub fn last_refund_request_seq(&self, store: StoreId) -> Result<u32, StorageError> {
        let page = self.store_refund_requests(store, &Filter::default(), None, 1, 1)?;
        Ok(page.requests.first().map_or(0, |r| r.id.seq()))
    }
}

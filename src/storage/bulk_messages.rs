//! Bulk-message runs (群发) on disk: each page's tally, by run and page, so a run's report
//! is the sum of its pages and a retried page counts once.
//!
//! | tag | key                                     | value |
//! |-----|-----------------------------------------|-------|
//! | `4` | run (the scoped idempotency key), NUL, page cursor | Tally |

use rocksdb::{Direction, IteratorMode};

use super::db::{decode_at, Storage, StorageError};
use super::{codec, Write};
use crate::domain::bulk_message::Tally;

pub const TAG_BULK_PAGE: u8 = b'4';

fn run_prefix(run: &str) -> Vec<u8> {
    let mut k = vec![TAG_BULK_PAGE];
    k.extend_from_slice(run.as_bytes());
    k.push(0);
    k
}

pub fn page(run: &str, page: &str, tally: &Tally) -> Write {
    let mut k = run_prefix(run);
    k.extend_from_slice(page.as_bytes());
    Write::put(k, codec::encode(tally))
}

impl Storage {
    /// A run's tally over its pages, and how many pages it has; none for an unknown run.
    pub fn bulk_run(&self, run: &str) -> Result<Option<(Tally, u64)>, StorageError> {
        let prefix = run_prefix(run);
        let mut total = Tally::default();
        let mut pages = 0;
        for kv in self
            .db()
            .iterator(IteratorMode::From(&prefix, Direction::Forward))
        {
            let (key, value) = kv?;
            if !key.starts_with(&prefix) {
                break;
            }
            let t: Tally = decode_at(&key, &value)?;
            total.add(&t);
            pages += 1;
        }
        Ok((pages > 0).then_some((total, pages)))
    }
}

//! Opening RocksDB, and every read of durable state: recovery at start-up, lazy loads by
//! actors, and the reads the API serves straight from disk (history, audit).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rocksdb::compaction_filter::Decision;
use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, Direction, IteratorMode, Options, DB};

use super::codec::{self, AccountRec, CodecError, EntryRec, IdemRec, OutcomeRec, StoreRec};
use super::keys::{self, CF_IDEM};
use super::schedule_codec::PlanRec;
use crate::domain::idempotency::{Outcome, Request};
use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, Phone, StoreId};
use crate::domain::ledger::{Account, Entry, StoreAccount, StoreAccountKind};
use crate::domain::member::Store;
use crate::domain::money::Money;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("corrupt value under key {key:?}: {source}")]
    Corrupt { key: Vec<u8>, source: CodecError },
}

/// Read access to the durable state. All writes go through the journal.
#[derive(Clone)]
pub struct Storage {
    db: Arc<DB>,
}

/// The account stored under `key`, in either of its formats.
pub(crate) fn account_at(key: &[u8], bytes: &[u8]) -> Result<Account, StorageError> {
    AccountRec::decode(bytes)
        .and_then(Account::try_from)
        .map_err(|e| corrupt(key, e))
}

pub(crate) fn decode_at<T: serde::de::DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StorageError> {
    codec::decode(bytes).map_err(|source| StorageError::Corrupt {
        key: key.to_vec(),
        source,
    })
}

pub(crate) fn corrupt(key: &[u8], source: CodecError) -> StorageError {
    StorageError::Corrupt {
        key: key.to_vec(),
        source,
    }
}

/// Level-0 files before a compaction starts. Most keys (accounts, members, idempotency keys)
/// are spread over the whole key space, so every L0 compaction rewrites most of the next
/// level; waiting for more files rewrites it less often.
const L0_COMPACTION_TRIGGER: i32 = 8;
/// Memtable size of each column family. The journal thread's memtable inserts are skip-list
/// walks bound by cache misses; a 16 MiB skip list costs a quarter less per key than the
/// default 64 MiB (pos, wrk: journal CPU 19 -> 14 us a request), at the price of more,
/// smaller flushes.
const MEMTABLE_BYTES: usize = 16 << 20;

/// Share of a memtable's size spent on its bloom filter. New idempotency keys and accounts
/// not yet loaded are looked up and missed on every write; without a filter each miss walks
/// the memtable's skip list.
const MEMTABLE_BLOOM_RATIO: f64 = 0.02;

fn tune_column_family(opts: &mut Options) {
    opts.set_memtable_whole_key_filtering(true);
    opts.set_write_buffer_size(MEMTABLE_BYTES);
    opts.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
    opts.set_level_zero_file_num_compaction_trigger(L0_COMPACTION_TRIGGER);
    opts.set_level_zero_slowdown_writes_trigger(L0_COMPACTION_TRIGGER * 3);
    opts.set_level_zero_stop_writes_trigger(L0_COMPACTION_TRIGGER * 5);
}

impl Storage {
    /// Opens (or creates) the database. Idempotency records older than `idem_retention`
    /// are dropped lazily, by a compaction filter, so they live at least that long.
    pub fn open(path: &Path, idem_retention: Duration) -> Result<Storage, StorageError> {
        Storage::open_with_clock(path, idem_retention, Arc::new(crate::clock::SystemClock))
    }

    /// As `open`, judging the age of idempotency records by `clock`, the clock that stamps
    /// them: a record must never look older than it is (a test's clock stands in the past).
    pub fn open_with_clock(
        path: &Path,
        idem_retention: Duration,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<Storage, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        // One journal thread writes (`journal::LANES`): the skip list's plain insert is
        // cheaper than its concurrent one, and there is no second writer to pipeline with.
        opts.set_allow_concurrent_memtable_write(false);
        opts.set_enable_pipelined_write(false);
        // Bloom filters: most idempotency lookups and many account lookups are misses.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        let mut default_opts = Options::default();
        tune_column_family(&mut default_opts);
        default_opts.set_block_based_table_factory(&table);
        default_opts.set_merge_operator_associative(
            super::counter::MERGE_OPERATOR_NAME,
            super::counter::add_i64,
        );
        let mut idem_opts = Options::default();
        tune_column_family(&mut idem_opts);
        idem_opts.set_block_based_table_factory(&table);
        let retention_us = i64::try_from(idem_retention.as_micros()).unwrap_or(i64::MAX);
        idem_opts.set_compaction_filter(
            "idem_retention",
            move |_level: u32, _key: &[u8], value: &[u8]| {
                let now_us = clock.now().timestamp_micros();
                match codec::decode::<IdemRec>(value) {
                    Ok(rec) if now_us.saturating_sub(rec.at_us) > retention_us => Decision::Remove,
                    _ => Decision::Keep,
                }
            },
        );
        let cfs = vec![
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, default_opts),
            ColumnFamilyDescriptor::new(CF_IDEM, idem_opts),
        ];
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Storage { db: Arc::new(db) })
    }

    /// A consistent copy of the whole database in `dir` (which must not exist), made while
    /// the journal keeps writing: SST files are hard-linked, the memtable is flushed first.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StorageError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    pub fn db(&self) -> Arc<DB> {
        self.db.clone()
    }

    /// Records under `prefix`, from the key `start` (included) down, at most `limit`: the
    /// newest-first pages (activity, follow-ups) whose keys end in a sequence.
    pub(crate) fn newest_first<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<T>, StorageError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(start, Direction::Reverse))
        {
            let (key, value) = item?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push(decode_at(&key, &value)?);
        }
        Ok(out)
    }

    pub(crate) fn get_rec<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        match self.db.get_pinned(key)? {
            Some(bytes) => decode_at(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The highest id of `kind` ever issued in `scope` (0 if none, or if written before
    /// marks existed: callers take the larger of this and the highest key present).
    pub fn id_mark(&self, kind: keys::IdKind, scope: u64) -> Result<u64, StorageError> {
        let key = keys::id_mark(kind, scope);
        match self.db.get_pinned(&key)? {
            Some(bytes) => {
                let raw: [u8; 8] = bytes.as_ref().try_into().map_err(|_| {
                    corrupt(&key, super::codec::CodecError::Invalid("id mark".into()))
                })?;
                Ok(u64::from_be_bytes(raw))
            }
            None => Ok(0),
        }
    }

    pub fn store(&self, id: StoreId) -> Result<Option<Store>, StorageError> {
        let key = keys::store(id);
        self.get_rec::<StoreRec>(&key)?
            .map(|r| r.try_into().map_err(|e| corrupt(&key, e)))
            .transpose()
    }

    /// Every store, in id order.
    pub fn stores(&self) -> Result<Vec<Store>, StorageError> {
        let mut out = Vec::new();
        for item in self.db.prefix_iterator([keys::TAG_STORE]) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_STORE) {
                break;
            }
            let rec: StoreRec = decode_at(&key, &value)?;
            out.push(rec.try_into().map_err(|e| corrupt(&key, e))?);
        }
        Ok(out)
    }

    /// A page of stores in id order, strictly after `after`.
    pub fn stores_page(&self, after: u32, limit: usize) -> Result<Vec<Store>, StorageError> {
        let Ok(first) = StoreId::new(after.saturating_add(1)) else {
            return Ok(Vec::new());
        };
        let start = keys::store(first);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_STORE) || out.len() >= limit {
                break;
            }
            let rec: StoreRec = decode_at(&key, &value)?;
            out.push(rec.try_into().map_err(|e| corrupt(&key, e))?);
        }
        Ok(out)
    }

    pub fn member_by_phone(&self, phone: &Phone) -> Result<Option<MemberId>, StorageError> {
        let key = keys::phone(phone);
        match self.db.get_pinned(&key)? {
            None => Ok(None),
            Some(bytes) => {
                let raw: [u8; 8] = bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| corrupt(&key, CodecError::Invalid("phone index".into())))?;
                MemberId::parse(u64::from_be_bytes(raw))
                    .map(Some)
                    .map_err(|e| corrupt(&key, e.into()))
            }
        }
    }

    /// The highest member sequence issued at `store`, 0 if none.
    pub fn last_member_seq(&self, store: StoreId) -> Result<u32, StorageError> {
        let upper = keys::member_upper_bound(store);
        let mut it = self
            .db
            .iterator(IteratorMode::From(&upper, Direction::Reverse));
        match it.next().transpose()? {
            Some((key, _))
                if key.len() == 9
                    && key[0] == keys::TAG_MEMBER
                    && key.as_ref() < upper.as_slice() =>
            {
                let raw = u64::from_be_bytes(key[1..9].try_into().expect("length checked"));
                let id = MemberId::parse(raw).map_err(|e| corrupt(&key, e.into()))?;
                Ok(if id.origin() == store { id.seq() } else { 0 })
            }
            _ => Ok(0),
        }
    }

    pub fn account(&self, id: MemberId) -> Result<Option<Account>, StorageError> {
        let key = keys::account(id);
        match self.db.get_pinned(&key)? {
            Some(bytes) => account_at(&key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the member has an account, without decoding it.
    pub fn has_account(&self, id: MemberId) -> Result<bool, StorageError> {
        Ok(self.db.get_pinned(keys::account(id))?.is_some())
    }

    pub fn entry(&self, member: MemberId, seq: EntrySeq) -> Result<Option<Entry>, StorageError> {
        let key = keys::entry(member, seq);
        self.get_rec::<EntryRec>(&key)?
            .map(|r| r.try_into().map_err(|e| corrupt(&key, e)))
            .transpose()
    }

    /// A page of a member's entries, newest first, strictly older than `before`.
    pub fn entries_page(
        &self,
        member: MemberId,
        before: Option<EntrySeq>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let prefix = keys::entry_prefix(member);
        let start = match before {
            Some(EntrySeq(0)) => return Ok(Vec::new()),
            Some(EntrySeq(s)) => keys::entry(member, EntrySeq(s - 1)),
            None => keys::entry(member, EntrySeq(u64::MAX)),
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        for item in self
            .db
            .iterator(IteratorMode::From(&start, Direction::Reverse))
        {
            let (key, value) = item?;
            if !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let rec: EntryRec = decode_at(&key, &value)?;
            out.push(rec.try_into().map_err(|e| corrupt(&key, e))?);
        }
        Ok(out)
    }

    /// The store-side balances held by `home`'s actor.
    pub fn book(&self, home: StoreId) -> Result<Vec<(StoreAccount, Money)>, StorageError> {
        let prefix = keys::book_prefix(home);
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(&prefix) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            let (_, store, kind) = keys::parse_book(&key)
                .ok_or_else(|| corrupt(&key, CodecError::Invalid("book key".into())))?;
            let balance: i64 = decode_at(&key, &value)?;
            out.push(((store, kind), Money::from_minor(balance)));
        }
        Ok(out)
    }

    pub fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<(Request, Outcome)>, StorageError> {
        let cf = self
            .db
            .cf_handle(CF_IDEM)
            .expect("idem column family exists once opened");
        let k = keys::idem(key);
        match self.db.get_pinned_cf(cf, &k)? {
            None => Ok(None),
            Some(bytes) => {
                let rec: IdemRec = decode_at(&k, &bytes)?;
                if let OutcomeRec::PlanAsBooked(id) = rec.outcome {
                    let request = rec.request.try_into().map_err(|e| corrupt(&k, e))?;
                    let plan_key = keys::id8(keys::TAG_PLAN, id);
                    let Some(plan) = self.get_rec::<PlanRec>(&plan_key)? else {
                        return Err(corrupt(&k, CodecError::Invalid(format!("no plan {id}"))));
                    };
                    let (plan, booked) = plan.into_parts().map_err(|e| corrupt(&plan_key, e))?;
                    return Ok(Some((request, Outcome::Plan(plan, booked))));
                }
                rec.into_domain().map(Some).map_err(|e| corrupt(&k, e))
            }
        }
    }

    /// Audit: every member balance and every store-side balance on disk, summed.
    /// Both scans read one snapshot: a batch landing between them would otherwise be
    /// counted on one side only, and the sum would not be zero.
    pub fn trial_balance(&self) -> Result<TrialBalance, StorageError> {
        let mut tb = TrialBalance::default();
        let snapshot = self.db.snapshot();
        let prefix = |tag: u8| snapshot.iterator(IteratorMode::From(&[tag], Direction::Forward));
        for item in prefix(keys::TAG_ACCOUNT) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_ACCOUNT) {
                break;
            }
            let rec = AccountRec::decode(&value).map_err(|e| corrupt(&key, e))?;
            tb.members = tb.members.saturating_add(i128::from(rec.balance));
            tb.member_accounts += 1;
        }
        for item in prefix(keys::TAG_BOOK) {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_BOOK) {
                break;
            }
            let (_, _, kind) = keys::parse_book(&key)
                .ok_or_else(|| corrupt(&key, CodecError::Invalid("book key".into())))?;
            let balance: i64 = decode_at(&key, &value)?;
            match kind {
                StoreAccountKind::Tender(_) => tb.store_tenders += i128::from(balance),
                StoreAccountKind::Revenue => tb.store_revenue += i128::from(balance),
                StoreAccountKind::Promotion => tb.store_promotion += i128::from(balance),
                StoreAccountKind::Equity => tb.store_equity += i128::from(balance),
            }
        }
        Ok(tb)
    }
}

/// Sums over the whole ledger; members + tenders + revenue + promotion is always zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrialBalance {
    pub member_accounts: u64,
    pub members: i128,
    pub store_tenders: i128,
    pub store_revenue: i128,
    pub store_promotion: i128,
    pub store_equity: i128,
}

impl TrialBalance {
    pub fn sum(&self) -> i128 {
        self.members
            + self.store_tenders
            + self.store_revenue
            + self.store_promotion
            + self.store_equity
    }
}

//! The records that make up a member, and how members are found.
//!
//! A member is its record (`M`), its phone's claim (`P`), its profile (`Q`, absent while
//! empty), and one search-index key per name (`J`) and tag (`T`). Every write of a member
//! (register, edit, bin, restore) goes through [`records`], so the indexes can't drift from
//! the records they point at.
//!
//! Search walks one index in key order and filters what it finds, within a budget of keys
//! per request: a page may come back short with a cursor to go on from, never slow.

use chrono::NaiveDate;
use std::collections::{BinaryHeap, HashMap};

use rocksdb::{Direction, IteratorMode};
use serde::{Deserialize, Serialize};

use super::codec::{self, CodecError, MemberRec};
use super::db::{corrupt, Storage, StorageError};
use super::journal::Write;
use super::keys;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::{Account, Timestamp};
use crate::domain::member::{name_key, Gender, Member, Profile, Tag};
use crate::domain::member_fields::FieldValue;

pub const TAG_PROFILE: u8 = b'p';
pub const TAG_NAME_INDEX: u8 = b'i';
pub const TAG_TAG_INDEX: u8 = b'g';

/// Index keys looked at per search request, matching or not.
pub const SEARCH_SCAN_BUDGET: usize = 20_000;

/// The bare tag of the name index, present once every member has its name key: members
/// registered before the index existed get theirs at the first start that finds it absent.
const NAME_INDEX_COMPLETE: &[u8] = &[TAG_NAME_INDEX];
/// Name keys written per batch while filling the index in.
const NAME_INDEX_BATCH: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileRec {
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub notes: String,
    pub tags: Vec<String>,
    pub fields: Vec<(u16, FieldValue)>,
}

impl From<&Profile> for ProfileRec {
    fn from(p: &Profile) -> Self {
        ProfileRec {
            gender: p.gender,
            birthday: p.birthday,
            notes: p.notes.clone(),
            tags: p.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            fields: p.fields.iter().map(|(k, v)| (*k, v.clone())).collect(),
        }
    }
}

impl TryFrom<ProfileRec> for Profile {
    type Error = CodecError;
    fn try_from(r: ProfileRec) -> Result<Self, CodecError> {
        let tags = r
            .tags
            .iter()
            .map(|t| Tag::new(t).map_err(|e| CodecError::Invalid(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Profile {
            gender: r.gender,
            birthday: r.birthday,
            notes: r.notes,
            tags,
            fields: r.fields.into_iter().collect(),
        })
    }
}

fn profile_key(id: MemberId) -> Vec<u8> {
    keys::id8(TAG_PROFILE, id.get())
}

/// `tag`, the text, NUL, then the member id: the text's matches are contiguous.
fn text_index_key(tag: u8, text: &str, id: MemberId) -> Vec<u8> {
    let mut k = Vec::with_capacity(text.len() + 10);
    k.push(tag);
    k.extend_from_slice(text.as_bytes());
    k.push(0);
    k.extend_from_slice(&id.get().to_be_bytes());
    k
}

/// Every key and value `m` is made of, its account aside.
pub fn records(m: &Member) -> Vec<(Vec<u8>, Vec<u8>)> {
    let id = m.id;
    let mut out = vec![
        (keys::member(id), codec::encode(&MemberRec::from(m))),
        (keys::phone(&m.phone), id.get().to_be_bytes().to_vec()),
        (
            text_index_key(TAG_NAME_INDEX, &name_key(m.name.as_str()), id),
            Vec::new(),
        ),
    ];
    if !m.profile.is_empty() {
        out.push((
            profile_key(id),
            codec::encode(&ProfileRec::from(&m.profile)),
        ));
    }
    for t in &m.profile.tags {
        out.push((text_index_key(TAG_TAG_INDEX, t.as_str(), id), Vec::new()));
    }
    out
}

/// The member that [`records`] made (a recycle-bin entry holds them), other keys aside.
pub fn member_of_records(records: &[(Vec<u8>, Vec<u8>)]) -> Result<Member, CodecError> {
    let (_, mvalue) = records
        .iter()
        .find(|(k, _)| k.first() == Some(&keys::TAG_MEMBER))
        .ok_or_else(|| CodecError::Invalid("no member record".into()))?;
    let rec: MemberRec = codec::decode(mvalue)?;
    let id = MemberId::parse(rec.id)?;
    let pkey = profile_key(id);
    let profile = match records.iter().find(|(k, _)| *k == pkey) {
        Some((_, v)) => codec::decode::<ProfileRec>(v)?.try_into()?,
        None => Profile::default(),
    };
    Member::try_from((rec, profile))
}

/// A new member's records.
pub fn registered(m: &Member) -> Vec<Write> {
    records(m)
        .into_iter()
        .map(|(k, v)| Write::put(k, v))
        .collect()
}

/// `old` becoming `new`: its records put, and the keys only `old` had deleted.
pub fn edited(old: &Member, new: &Member) -> Vec<Write> {
    let now = records(new);
    let mut writes: Vec<Write> = records(old)
        .into_iter()
        .filter(|(k, _)| !now.iter().any(|(n, _)| n == k))
        .map(|(k, _)| Write::delete(k))
        .collect();
    writes.extend(now.into_iter().map(|(k, v)| Write::put(k, v)));
    writes
}

/// Where a search starts and in which order its hits come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberIndex {
    /// Phone numbers starting with these characters, in phone order.
    PhonePrefix(String),
    /// Names starting with this text (any case), in name order.
    NamePrefix(String),
    /// Members with this tag, in id order.
    Tag(Tag),
    /// Members of one home store, in id (registration) order.
    Home(StoreId),
    /// Every member, in id order.
    All,
}

impl MemberIndex {
    /// The key ranges the index walks, in order: each is the bytes its keys start with. A
    /// home's members are those who moved in (`storage::homes`), then those it registered.
    fn segments(&self) -> Vec<Vec<u8>> {
        match self {
            MemberIndex::PhonePrefix(p) => vec![[&[keys::TAG_PHONE], p.as_bytes()].concat()],
            MemberIndex::NamePrefix(n) => {
                vec![[&[TAG_NAME_INDEX], name_key(n).as_bytes()].concat()]
            }
            MemberIndex::Tag(t) => vec![[&[TAG_TAG_INDEX], t.as_str().as_bytes(), &[0]].concat()],
            MemberIndex::Home(s) => {
                let mut k = vec![keys::TAG_MEMBER];
                k.extend_from_slice(&s.get().to_be_bytes());
                vec![super::homes::home_prefix(*s), k]
            }
            MemberIndex::All => vec![vec![keys::TAG_MEMBER]],
        }
    }

    /// The member a key of this index points at.
    fn member_of(&self, key: &[u8], value: &[u8]) -> Option<u64> {
        let tail: &[u8] = match self {
            MemberIndex::PhonePrefix(_) => value,
            MemberIndex::Home(_) if key.first() == Some(&super::homes::TAG_HOME) => {
                return super::homes::member_of(key).map(MemberId::get)
            }
            _ => key.get(key.len().checked_sub(8)?..)?,
        };
        Some(u64::from_be_bytes(tail.try_into().ok()?))
    }
}

/// What a hit must also satisfy; each field present narrows.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub phone_prefix: Option<String>,
    pub name_prefix: Option<String>,
    pub tag: Option<Tag>,
    pub home: Option<StoreId>,
    pub level: Option<u16>,
    pub balance_min: Option<i64>,
    pub balance_max: Option<i64>,
    pub registered_from: Option<Timestamp>,
    pub registered_before: Option<Timestamp>,
    /// Last visit at or after this.
    pub visited_from: Option<Timestamp>,
    /// Last visit before this, or never (members lapsed since).
    pub visited_before: Option<Timestamp>,
    /// A member field and the value it must have (a number as its digits).
    pub field: Option<(u16, String)>,
}

impl MemberFilter {
    /// Whether member `m` with account `a`, living at `home`, passes.
    pub fn admits(&self, m: &Member, a: &Account, home: StoreId) -> bool {
        let balance = a.balance.minor();
        let name = self.name_prefix.as_deref().map(name_key);
        self.phone_prefix
            .as_deref()
            .is_none_or(|p| m.phone.as_str().starts_with(p))
            && name.is_none_or(|n| name_key(m.name.as_str()).starts_with(&n))
            && self.tag.as_ref().is_none_or(|t| m.profile.tags.contains(t))
            && self.home.is_none_or(|h| home == h)
            && self.level.is_none_or(|l| a.membership.level.0 == l)
            && self.balance_min.is_none_or(|b| balance >= b)
            && self.balance_max.is_none_or(|b| balance <= b)
            && self.registered_from.is_none_or(|t| m.created_at >= t)
            && self.registered_before.is_none_or(|t| m.created_at < t)
            && self
                .visited_from
                .is_none_or(|t| a.last_visit.is_some_and(|v| v >= t))
            && self
                .visited_before
                .is_none_or(|t| a.last_visit.is_none_or(|v| v < t))
            && self
                .field
                .as_ref()
                .is_none_or(|(id, want)| match m.profile.fields.get(id) {
                    Some(crate::domain::member_fields::FieldValue::Text(t)) => t == want,
                    Some(crate::domain::member_fields::FieldValue::Number(n)) => {
                        want.parse::<i64>() == Ok(*n)
                    }
                    None => false,
                })
    }
}

/// What a sorted search orders by; each ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOrder {
    Balance { descending: bool },
    LastVisit { descending: bool },
    Registered { descending: bool },
}

impl MemberOrder {
    /// `balance`, `last_visit` or `registered`, with a leading `-` for descending.
    pub fn parse(s: &str) -> Option<MemberOrder> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, s),
        };
        Some(match name {
            "balance" => MemberOrder::Balance { descending },
            "last_visit" => MemberOrder::LastVisit { descending },
            "registered" => MemberOrder::Registered { descending },
            _ => return None,
        })
    }

    /// Where a member stands in this order: never visited comes before any visit.
    fn cursor(self, m: &Member, a: &Account) -> SortCursor {
        let (value, descending) = match self {
            MemberOrder::Balance { descending } => (a.balance.minor(), descending),
            MemberOrder::LastVisit { descending } => (
                a.last_visit.map_or(i64::MIN, |t| t.timestamp_micros()),
                descending,
            ),
            MemberOrder::Registered { descending } => (m.created_at.timestamp_micros(), descending),
        };
        let rank = if descending {
            -i128::from(value)
        } else {
            i128::from(value)
        };
        SortCursor {
            rank,
            member: m.id.get(),
        }
    }
}

/// A place in a sorted search: the sort value (negated when descending), then the member
/// id, so that equal values keep one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortCursor {
    rank: i128,
    member: u64,
}

impl SortCursor {
    pub fn to_bytes(self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..16].copy_from_slice(&self.rank.to_be_bytes());
        b[16..].copy_from_slice(&self.member.to_be_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<SortCursor> {
        Some(SortCursor {
            rank: i128::from_be_bytes(b.get(..16)?.try_into().ok()?),
            member: u64::from_be_bytes(b.get(16..24)?.try_into().ok()?),
        })
        .filter(|_| b.len() == 24)
    }
}

/// One page of a sorted search, and where the next starts.
#[derive(Debug)]
pub struct SortedPage {
    pub members: Vec<(Member, Account)>,
    pub next: Option<SortCursor>,
}

/// One page of a search: the hits, and where to go on from when the index may hold more.
#[derive(Debug)]
pub struct MemberPage {
    pub members: Vec<(Member, Account)>,
    /// The last index key looked at; the next page starts after it.
    pub next: Option<Vec<u8>>,
}

impl Storage {
    /// The batches that give every member its name key, the last one marking the index
    /// complete; none once it is. Puts only, so a start cut short is simply done again.
    pub fn name_index_backfill(&self) -> Result<Vec<Vec<Write>>, StorageError> {
        if self.db().get_pinned(NAME_INDEX_COMPLETE)?.is_some() {
            return Ok(Vec::new());
        }
        let (mut batches, mut batch) = (Vec::new(), Vec::new());
        let start = [keys::TAG_MEMBER];
        for item in self
            .db()
            .iterator(IteratorMode::From(&start, Direction::Forward))
        {
            let (key, value) = item?;
            if key.first() != Some(&keys::TAG_MEMBER) {
                break;
            }
            if key.len() != 9 {
                continue;
            }
            let rec: MemberRec = codec::decode(&value).map_err(|e| corrupt(&key, e))?;
            let id = MemberId::parse(rec.id).map_err(|e| corrupt(&key, e.into()))?;
            batch.push(Write::put(
                text_index_key(TAG_NAME_INDEX, &name_key(&rec.name), id),
                Vec::new(),
            ));
            if batch.len() == NAME_INDEX_BATCH {
                batches.push(std::mem::take(&mut batch));
            }
        }
        batch.push(Write::put(NAME_INDEX_COMPLETE.to_vec(), Vec::new()));
        batches.push(batch);
        Ok(batches)
    }

    /// A member with its profile.
    pub fn member(&self, id: MemberId) -> Result<Option<Member>, StorageError> {
        let key = keys::member(id);
        let Some(rec) = self.get_rec::<MemberRec>(&key)? else {
            return Ok(None);
        };
        let pkey = profile_key(id);
        let profile = match self.get_rec::<ProfileRec>(&pkey)? {
            Some(p) => p.try_into().map_err(|e| corrupt(&pkey, e))?,
            None => Profile::default(),
        };
        Member::try_from((rec, profile))
            .map(Some)
            .map_err(|e| corrupt(&key, e))
    }

    /// Up to `limit` members found by `index` that `filter` admits, after the index key
    /// `after`, looking at no more than [`SEARCH_SCAN_BUDGET`] keys. `home_of` names each
    /// member's home store (`Registry::home_of`).
    pub fn search_members(
        &self,
        index: &MemberIndex,
        filter: &MemberFilter,
        after: Option<&[u8]>,
        limit: usize,
        home_of: &dyn Fn(MemberId) -> StoreId,
    ) -> Result<MemberPage, StorageError> {
        let mut members = Vec::new();
        let walked = self.walk(index, after, home_of, |m, a, home| {
            if filter.admits(&m, &a, home) {
                members.push((m, a));
            }
            members.len() < limit
        })?;
        Ok(MemberPage {
            members,
            next: walked,
        })
    }

    /// The members `index` and `filter` find, in `order`, from after `after`: the whole
    /// set is looked at, so `None` when it is more than [`SEARCH_SCAN_BUDGET`] keys.
    pub fn sorted_members(
        &self,
        index: &MemberIndex,
        filter: &MemberFilter,
        order: MemberOrder,
        after: Option<SortCursor>,
        limit: usize,
        home_of: &dyn Fn(MemberId) -> StoreId,
    ) -> Result<Option<SortedPage>, StorageError> {
        // The `limit + 1` first after the cursor; one more than a page says there are more.
        let mut best: BinaryHeap<(SortCursor, MemberId)> = BinaryHeap::new();
        let mut found = HashMap::new();
        let walked = self.walk(index, None, home_of, |m, a, home| {
            if !filter.admits(&m, &a, home) {
                return true;
            }
            let at = order.cursor(&m, &a);
            if after.is_some_and(|c| at <= c) {
                return true;
            }
            if best.len() <= limit || best.peek().is_some_and(|(worst, _)| at < *worst) {
                best.push((at, m.id));
                found.insert(m.id, (m, a));
                if best.len() > limit + 1 {
                    if let Some((_, out)) = best.pop() {
                        found.remove(&out);
                    }
                }
            }
            true
        })?;
        if walked.is_some() {
            return Ok(None);
        }
        let mut ranked = best.into_sorted_vec();
        let next = (ranked.len() > limit).then(|| ranked[limit - 1].0);
        ranked.truncate(limit);
        let members = ranked
            .into_iter()
            .filter_map(|(_, id)| found.remove(&id))
            .collect();
        Ok(Some(SortedPage { members, next }))
    }

    /// Walks `index` from after the key `after`, handing each live member and its home to
    /// `visit` until it answers false or [`SEARCH_SCAN_BUDGET`] keys were looked at: then
    /// the last key looked at, where a next page starts; `None` once the index is done.
    fn walk(
        &self,
        index: &MemberIndex,
        after: Option<&[u8]>,
        home_of: &dyn Fn(MemberId) -> StoreId,
        mut visit: impl FnMut(Member, Account, StoreId) -> bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let segments = index.segments();
        // A cursor from another index is not ours to follow.
        let first = match after {
            Some(a) => match segments.iter().position(|p| a.starts_with(p)) {
                Some(i) => i,
                None => return Ok(None),
            },
            None => 0,
        };
        let (mut looked, mut last) = (0usize, None);
        for (i, prefix) in segments.iter().enumerate().skip(first) {
            let start = match after {
                Some(a) if i == first => a.to_vec(),
                _ => prefix.clone(),
            };
            for item in self
                .db()
                .iterator(IteratorMode::From(&start, Direction::Forward))
            {
                let (key, value) = item?;
                if !key.starts_with(prefix) {
                    break;
                }
                if after == Some(&key[..]) {
                    continue;
                }
                if looked >= SEARCH_SCAN_BUDGET {
                    return Ok(last);
                }
                looked += 1;
                last = Some(key.to_vec());
                if key.first() == Some(&keys::TAG_MEMBER) && key.len() != 9 {
                    continue;
                }
                let raw = index
                    .member_of(&key, &value)
                    .ok_or_else(|| corrupt(&key, CodecError::Invalid("member index".into())))?;
                let id = MemberId::parse(raw).map_err(|e| corrupt(&key, e.into()))?;
                let home = home_of(id);
                if matches!(index, MemberIndex::Home(s) if *s != home) {
                    continue;
                }
                // An index key and its record are written in one batch; both or neither.
                let (Some(member), Some(account)) = (self.member(id)?, self.account(id)?) else {
                    continue;
                };
                if !visit(member, account, home) {
                    return Ok(Some(key.to_vec()));
                }
            }
        }
        Ok(None)
    }
}

/// The phone a search by prefix may start from: digits, with an optional leading `+`.
pub fn phone_prefix(raw: &str) -> Option<String> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let ok = !raw.is_empty()
        && raw.len() <= crate::domain::ids::PHONE_LEN_MAX + 1
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{Name, Phone};

    fn member(seq: u32, name: &str) -> Member {
        Member {
            id: MemberId::new(StoreId::new(1).unwrap(), seq),
            phone: Phone::new(&format!("1380000{seq:04}")).unwrap(),
            name: Name::new(name, "member name").unwrap(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            profile: Profile::default(),
        }
    }

    /// Members written before the name index existed are found by name after one backfill,
    /// and the next start finds nothing to do.
    #[tokio::test]
    async fn the_name_index_is_filled_in_once() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), std::time::Duration::from_secs(86_400)).unwrap();
        let (journal, threads) = super::super::journal::Journal::start_joinable(storage.db());
        let mut log = journal.log();
        let old: Vec<Member> = (1..=3).map(|i| member(i, &format!("Old {i}"))).collect();
        // As the server registered a member before the index: no name key.
        let writes = old
            .iter()
            .flat_map(super::super::directory_writes::member_registered)
            .filter(|w| w.key[0] != TAG_NAME_INDEX)
            .collect();
        log.submit(writes).durable().await.unwrap();
        let search = |storage: &Storage| {
            storage
                .search_members(
                    &MemberIndex::NamePrefix("old".into()),
                    &MemberFilter::default(),
                    None,
                    10,
                    &MemberId::origin,
                )
                .unwrap()
                .members
                .len()
        };
        assert_eq!(search(&storage), 0);
        for batch in storage.name_index_backfill().unwrap() {
            log.submit(batch).durable().await.unwrap();
        }
        assert_eq!(search(&storage), 3);
        let keys = storage
            .db()
            .prefix_iterator([TAG_NAME_INDEX])
            .filter_map(Result::ok)
            .take_while(|(k, _)| k[0] == TAG_NAME_INDEX)
            .count();
        assert_eq!(keys, 3 + 1, "a name key each and the marker");
        assert!(storage.name_index_backfill().unwrap().is_empty());
        drop((journal, log));
        for t in threads {
            t.join().unwrap();
        }
    }
}

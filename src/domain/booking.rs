//! Services, bookings (appointments and plan occurrences) and their life cycle.

use chrono::Duration;

use super::calendar::BookingId;
use super::ids::{MemberId, Name, StoreId};
use super::ledger::Timestamp;
use rustc_hash::FxHashMap;

pub const RESOURCE_KINDS_MAX: usize = 4;

/// The resources of one booking, inline up to `RESOURCE_KINDS_MAX`: a plan makes 99
/// bookings, and a heap vector each was an allocation and a free per occurrence.
pub type ResourceIds = smallvec::SmallVec<[ResourceId; RESOURCE_KINDS_MAX]>;
pub const SERVICE_DURATION_MAX_MINUTES: u32 = 24 * 60;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct ServiceId(pub u64);

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ResourceId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingMode {
    Appointment,
    ServicePlan,
}

/// A kind of service resource, such as "therapist" or "room": a short lowercase word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKind(String);

impl ResourceKind {
    pub const LEN_MAX: usize = 32;

    pub fn new(raw: &str) -> Option<ResourceKind> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::LEN_MAX
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        ok.then(|| ResourceKind(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: Name,
    pub duration_minutes: u32,
    pub mode: BookingMode,
    /// One resource of each kind is booked for every appointment or occurrence.
    pub resource_kinds: Vec<ResourceKind>,
    /// Appointments start `pending` and wait for staff approval.
    pub requires_review: bool,
}

impl Service {
    pub fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.duration_minutes))
    }
}

/// A service resource (服务资源): a staff member, a room, a machine, in one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: ResourceId,
    pub store: StoreId,
    pub name: Name,
    pub kind: ResourceKind,
    pub capacity: u32,
    pub working_hours: super::hours::WeeklyHours,
    pub days_off: super::hours::DateSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// Holds its slot, waiting for staff approval.
    Pending,
    Confirmed,
    CheckedIn,
    Completed,
    Cancelled,
    Rejected,
    NoShow,
}

impl BookingStatus {
    /// Whether the booking still occupies its slot on the calendar.
    pub fn holds_slot(self) -> bool {
        !matches!(self, BookingStatus::Cancelled | BookingStatus::Rejected)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            BookingStatus::Completed
                | BookingStatus::Cancelled
                | BookingStatus::Rejected
                | BookingStatus::NoShow
        )
    }

    /// Every status, in life-cycle order.
    pub const ALL: [BookingStatus; 7] = [
        BookingStatus::Pending,
        BookingStatus::Confirmed,
        BookingStatus::CheckedIn,
        BookingStatus::Completed,
        BookingStatus::Cancelled,
        BookingStatus::Rejected,
        BookingStatus::NoShow,
    ];

    /// The status named `name` (as [`BookingStatus::as_str`] spells it).
    pub fn parse(name: &str) -> Option<BookingStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Pending => "pending",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::CheckedIn => "checked_in",
            BookingStatus::Completed => "completed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Rejected => "rejected",
            BookingStatus::NoShow => "no_show",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    Approve,
    Reject,
    CheckIn,
    Complete,
    Cancel,
    NoShow,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Approve => "approve",
            Transition::Reject => "reject",
            Transition::CheckIn => "check_in",
            Transition::Complete => "complete",
            Transition::Cancel => "cancel",
            Transition::NoShow => "no_show",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("can't {} a booking that is {}", .transition.as_str(), .from.as_str())]
pub struct TransitionError {
    pub from: BookingStatus,
    pub transition: Transition,
}

/// The appointment life cycle. Completing straight from confirmed is allowed (staff who
/// skip check-in, and plan occurrences completing by themselves).
pub fn transition(from: BookingStatus, t: Transition) -> Result<BookingStatus, TransitionError> {
    use BookingStatus as S;
    use Transition as T;
    let to = match (from, t) {
        (S::Pending, T::Approve) => S::Confirmed,
        (S::Pending, T::Reject) => S::Rejected,
        (S::Confirmed, T::CheckIn) => S::CheckedIn,
        (S::Confirmed | S::CheckedIn, T::Complete) => S::Completed,
        (S::Pending | S::Confirmed, T::Cancel) => S::Cancelled,
        (S::Confirmed, T::NoShow) => S::NoShow,
        _ => {
            return Err(TransitionError {
                from,
                transition: t,
            })
        }
    };
    Ok(to)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingOrigin {
    Appointment,
    Plan { plan: PlanId, index: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: BookingId,
    pub store: StoreId,
    pub member: MemberId,
    pub service: ServiceId,
    pub resources: ResourceIds,
    pub start: Timestamp,
    pub end: Timestamp,
    pub status: BookingStatus,
    pub origin: BookingOrigin,
    /// Set once the reminder event for this booking was emitted.
    pub reminded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub id: PlanId,
    pub store: StoreId,
    pub member: MemberId,
    pub service: ServiceId,
    pub resources: ResourceIds,
    pub occurrences: Vec<BookingId>,
    pub created_at: Timestamp,
    /// A count card (次卡) of the member that pays one session per completed occurrence.
    pub count_card: Option<super::membership::CardId>,
}

/// A plan's status, derived from its occurrences.
pub fn plan_status(statuses: &[BookingStatus]) -> &'static str {
    if statuses.iter().any(|s| !s.is_final()) {
        "active"
    } else if statuses.iter().all(|s| *s == BookingStatus::Cancelled) {
        "cancelled"
    } else {
        "finished"
    }
}

/// Rows of a `BookingTable`'s first chunk (log2); each next chunk is twice the last.
const FIRST_CHUNK_LOG2: u32 = 6;

/// A booking as its table holds it, 56 bytes instead of a `Booking`'s 120: the id and the
/// store are where the row sits, the resources an index into the table's interned sets (a
/// plan's occurrences share one), times in µs. A plans run adds ~450,000 bookings per
/// second, and first touching that memory was a quarter of the actor threads' time.
#[derive(Debug, Clone, Copy)]
struct Row {
    member: MemberId,
    service: ServiceId,
    start_us: i64,
    end_us: i64,
    plan: PlanId,
    index: u32,
    resources: u32,
    status: BookingStatus,
    in_plan: bool,
    reminded: bool,
}

/// A store's bookings by id. The store makes its booking ids as `store << 32 | seq` with
/// `seq` counting up from 1, so a table indexed by `seq` holds them: no hashing (a hash
/// map's rehash was 8% of the plan benchmark), in chunks of doubling size, so growing never
/// copies what is there. A chunk is reserved whole but filled as ids come (they come in
/// order), so pages not yet needed are never touched.
#[derive(Debug, Clone)]
pub struct BookingTable {
    store: StoreId,
    chunks: Vec<Vec<Option<Row>>>,
    len: usize,
    /// The distinct resource sets of the store's bookings, and their indexes.
    sets: Vec<ResourceIds>,
    set_index: FxHashMap<ResourceIds, u32>,
}

impl BookingTable {
    pub fn new(store: StoreId) -> BookingTable {
        BookingTable {
            store,
            chunks: Vec::new(),
            len: 0,
            sets: Vec::new(),
            set_index: FxHashMap::default(),
        }
    }

    /// (chunk, slot) of `id`.
    fn row(&self, id: BookingId) -> Option<(usize, usize)> {
        if id.0 >> 32 != u64::from(self.store.get()) {
            return None;
        }
        let row = usize::try_from(id.0 & u64::from(u32::MAX))
            .ok()?
            .checked_sub(1)?;
        // Chunk k holds rows [first·(2^k - 1), first·(2^(k+1) - 1)).
        let x = row + (1 << FIRST_CHUNK_LOG2);
        let log2 = x.ilog2();
        Some(((log2 - FIRST_CHUNK_LOG2) as usize, x - (1 << log2)))
    }

    pub fn get(&self, id: &BookingId) -> Option<Booking> {
        let (chunk, slot) = self.row(*id)?;
        let r = self.chunks.get(chunk)?.get(slot)?.as_ref()?;
        Some(self.booking(*id, r))
    }

    fn booking(&self, id: BookingId, r: &Row) -> Booking {
        Booking {
            id,
            store: self.store,
            member: r.member,
            service: r.service,
            resources: self.sets[r.resources as usize].clone(),
            start: instant(r.start_us),
            end: instant(r.end_us),
            status: r.status,
            origin: if r.in_plan {
                BookingOrigin::Plan {
                    plan: r.plan,
                    index: r.index,
                }
            } else {
                BookingOrigin::Appointment
            },
            reminded: r.reminded,
        }
    }

    /// The booking `id`.
    ///
    /// # Panics
    /// When there is no such booking, like a map's index.
    pub fn expect(&self, id: &BookingId) -> Booking {
        self.get(id)
            .unwrap_or_else(|| panic!("no booking {}", id.0))
    }

    fn intern(&mut self, resources: &ResourceIds) -> u32 {
        if let Some(last) = self.sets.last().filter(|s| *s == resources) {
            debug_assert_eq!(
                self.set_index.get(last),
                Some(&(self.sets.len() as u32 - 1))
            );
            return self.sets.len() as u32 - 1;
        }
        if let Some(i) = self.set_index.get(resources) {
            return *i;
        }
        let i = u32::try_from(self.sets.len()).expect("fewer resource sets than bookings");
        self.sets.push(resources.clone());
        self.set_index.insert(resources.clone(), i);
        i
    }

    /// Inserts or replaces `b`; returns whether it replaced one.
    ///
    /// # Panics
    /// When `b`'s id is not one of this store's: the scheduler makes every id itself.
    pub fn insert(&mut self, b: Booking) -> bool {
        let (chunk, slot) = self
            .row(b.id)
            .unwrap_or_else(|| panic!("booking {} is not store {}'s", b.id.0, self.store.get()));
        while self.chunks.len() <= chunk {
            let size = 1 << (FIRST_CHUNK_LOG2 as usize + self.chunks.len());
            self.chunks.push(Vec::with_capacity(size));
        }
        let (plan, index, in_plan) = match b.origin {
            BookingOrigin::Plan { plan, index } => (plan, index, true),
            BookingOrigin::Appointment => (PlanId(0), 0, false),
        };
        let row = Row {
            member: b.member,
            service: b.service,
            start_us: b.start.timestamp_micros(),
            end_us: b.end.timestamp_micros(),
            plan,
            index,
            resources: self.intern(&b.resources),
            status: b.status,
            in_plan,
            reminded: b.reminded,
        };
        let rows = &mut self.chunks[chunk];
        if rows.len() <= slot {
            rows.resize(slot, None);
            rows.push(Some(row));
            self.len += 1;
            return false;
        }
        let replaced = rows[slot].replace(row).is_some();
        if !replaced {
            self.len += 1;
        }
        replaced
    }

    pub fn values(&self) -> impl Iterator<Item = Booking> + '_ {
        self.chunks.iter().enumerate().flat_map(move |(k, rows)| {
            let first = (1usize << (FIRST_CHUNK_LOG2 as usize + k)) - (1 << FIRST_CHUNK_LOG2);
            rows.iter().enumerate().filter_map(move |(i, r)| {
                let seq = (first + i + 1) as u64;
                let id = BookingId(u64::from(self.store.get()) << 32 | seq);
                r.as_ref().map(|r| self.booking(id, r))
            })
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An instant from µs that a `Timestamp` gave: every booking time is a whole minute.
fn instant(us: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_micros(us).expect("made from a valid time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_cycle() {
        use BookingStatus as S;
        use Transition as T;
        assert_eq!(transition(S::Pending, T::Approve), Ok(S::Confirmed));
        assert_eq!(transition(S::Confirmed, T::CheckIn), Ok(S::CheckedIn));
        assert_eq!(transition(S::CheckedIn, T::Complete), Ok(S::Completed));
        assert!(transition(S::Cancelled, T::Complete).is_err());
        assert!(transition(S::Completed, T::Cancel).is_err());
        assert!(transition(S::Pending, T::CheckIn).is_err());
        assert!(!S::Cancelled.holds_slot());
        assert!(S::Pending.holds_slot());
    }

    fn booking(store: StoreId, seq: u64, variant: u8) -> Booking {
        let start = chrono::DateTime::from_timestamp(1_700_000_000 + seq as i64 * 3_600, 0)
            .expect("in range");
        let resources: ResourceIds = (0..u64::from(variant % 3) + 1)
            .map(|r| ResourceId(r + u64::from(variant % 2)))
            .collect();
        Booking {
            id: BookingId(u64::from(store.get()) << 32 | seq),
            store,
            member: MemberId::new(store, 1 + u32::from(variant)),
            service: ServiceId(7),
            resources,
            start,
            end: start + Duration::minutes(45),
            status: if variant.is_multiple_of(4) {
                BookingStatus::Cancelled
            } else {
                BookingStatus::Confirmed
            },
            origin: if variant.is_multiple_of(5) {
                BookingOrigin::Appointment
            } else {
                BookingOrigin::Plan {
                    plan: PlanId(u64::from(variant)),
                    index: u32::from(variant) * 3,
                }
            },
            reminded: variant % 2 == 1,
        }
    }

    proptest::proptest! {
        /// The compact table gives back exactly what went in, whatever the order of ids
        /// (gaps, replacements, ids far ahead), like a map would.
        #[test]
        fn table_is_a_map(ops in proptest::collection::vec((1u64..700, 0u8..40), 0..300)) {
            let store = StoreId::new(3).expect("valid");
            let mut table = BookingTable::new(store);
            let mut model = std::collections::BTreeMap::new();
            for (seq, variant) in ops {
                let b = booking(store, seq, variant);
                let replaced = table.insert(b.clone());
                proptest::prop_assert_eq!(replaced, model.insert(b.id, b).is_some());
            }
            proptest::prop_assert_eq!(table.len(), model.len());
            for (id, b) in &model {
                proptest::prop_assert_eq!(table.get(id), Some(b.clone()));
            }
            let all: Vec<Booking> = table.values().collect();
            proptest::prop_assert_eq!(all, model.into_values().collect::<Vec<_>>());
            let other = BookingId(u64::from(store.get() + 1) << 32 | 1);
            proptest::prop_assert!(table.get(&other).is_none());
        }
    }

    #[test]
    fn kinds_are_plain_words() {
        assert!(ResourceKind::new("therapist").is_some());
        assert!(ResourceKind::new("Room 1").is_none());
        assert!(ResourceKind::new("").is_none());
    }

    #[test]
    fn booking_table_holds_a_stores_bookings_by_id() {
        let store = StoreId::new(7).expect("valid store");
        let id = |seq: u64| BookingId((7 << 32) | seq);
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("valid time");
        let booking = |seq: u64, status: BookingStatus| Booking {
            id: id(seq),
            store,
            member: MemberId::new(store, 1),
            service: ServiceId(1),
            resources: smallvec::smallvec![ResourceId(1)],
            start: at,
            end: at + Duration::minutes(30),
            status,
            origin: BookingOrigin::Appointment,
            reminded: false,
        };
        let mut t = BookingTable::new(store);
        assert!(t.is_empty());
        assert!(!t.insert(booking(3, BookingStatus::Pending)));
        assert!(!t.insert(booking(1, BookingStatus::Pending)));
        assert!(t.insert(booking(3, BookingStatus::Confirmed)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.expect(&id(3)).status, BookingStatus::Confirmed);
        assert!(t.get(&id(2)).is_none(), "a gap holds nothing");
        assert!(t.get(&id(0)).is_none());
        assert!(t.get(&id(9)).is_none());
        assert!(
            t.get(&BookingId((8 << 32) | 1)).is_none(),
            "another store's id"
        );
        let seqs: Vec<u64> = t.values().map(|b| b.id.0 & 0xffff_ffff).collect();
        assert_eq!(seqs, vec![1, 3]);
        let far = 5 << FIRST_CHUNK_LOG2;
        assert!(!t.insert(booking(far, BookingStatus::Pending)));
        assert_eq!(t.expect(&id(far)).id, id(far), "two chunks on");
        assert!(t.get(&id(far + 1)).is_none());
        assert!(t.get(&id(far << 10)).is_none());
        for seq in 1..=far {
            let (chunk, slot) = t.row(id(seq)).expect("this store's");
            assert!(slot < 1 << (FIRST_CHUNK_LOG2 as usize + chunk), "row {seq}");
        }
        let rows: std::collections::BTreeSet<_> = (1..=far).map(|s| t.row(id(s))).collect();
        assert_eq!(rows.len() as u64, far, "one slot per row");
        let seqs: Vec<u64> = t.values().map(|b| b.id.0 & 0xffff_ffff).collect();
        assert_eq!(seqs, vec![1, 3, far]);
        assert_eq!(t.len(), 3);
    }
}

//! Waitlists (候补): members waiting for a slot that is full. When a booking on it frees
//! the slot, the first in line gets an offer that holds the slot under the booking id it
//! will have; accepted before it expires, it becomes that booking; expired or declined, the
//! next in line gets the slot. One store's waitlist belongs to its scheduler.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::agenda::Agenda;
use super::booking::{ResourceId, ServiceId};
use super::calendar::BookingId;
use super::ids::{MemberId, StoreId};
use super::ledger::Timestamp;

/// Most members waiting for one slot (service, resources and start).
pub const WAITLIST_PER_SLOT_MAX: usize = 20;
/// Most open entries (waiting or offered) one member holds in one store.
pub const WAITLIST_PER_MEMBER_MAX: usize = 10;
/// Entries offered a freed slot in one go: the first in line of each slot it overlaps.
pub const OFFER_CANDIDATES_MAX: usize = 64;
/// Longest an offer may hold a slot (`scheduling.waitlist_offer_minutes`).
pub const OFFER_HOLD_MINUTES_MAX: u32 = 7 * 24 * 60;

/// The store that keeps the entry in the high 32 bits, its sequence in the low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WaitId(pub u64);

impl WaitId {
    pub fn new(store: StoreId, seq: u32) -> WaitId {
        WaitId((u64::from(store.get()) << 32) | u64::from(seq))
    }

    pub fn store_raw(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn seq(self) -> u32 {
        self.0 as u32
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitState {
    Waiting,
    /// The slot is held for the member under `booking` until `expires`.
    Offered {
        booking: BookingId,
        at: Timestamp,
        expires: Timestamp,
    },
    /// The offer became the booking `booking`.
    Accepted {
        booking: BookingId,
        at: Timestamp,
    },
    /// The offer ran out unanswered; the slot went to the next in line.
    Expired {
        booking: BookingId,
        at: Timestamp,
    },
    /// Left the line (an offer held, declined).
    Withdrawn {
        at: Timestamp,
        offer: Option<BookingId>,
    },
}

/// What a client sees of an entry's state: `lapsed` is a waiting entry whose slot began
/// before any offer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WaitlistState)]
pub enum StateKind {
    Waiting,
    Offered,
    Accepted,
    Expired,
    Withdrawn,
    Lapsed,
}

impl StateKind {
    pub const ALL: [StateKind; 6] = [
        StateKind::Waiting,
        StateKind::Offered,
        StateKind::Accepted,
        StateKind::Expired,
        StateKind::Withdrawn,
        StateKind::Lapsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Waiting => "waiting",
            StateKind::Offered => "offered",
            StateKind::Accepted => "accepted",
            StateKind::Expired => "expired",
            StateKind::Withdrawn => "withdrawn",
            StateKind::Lapsed => "lapsed",
        }
    }

    pub fn parse(raw: &str) -> Option<StateKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEntry {
    pub id: WaitId,
    pub member: MemberId,
    pub service: ServiceId,
    pub resources: Vec<ResourceId>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub joined_at: Timestamp,
    /// Joined by the member from their own channel.
    pub online: bool,
    pub state: WaitState,
}

impl WaitEntry {
    pub fn kind(&self, now: Timestamp) -> StateKind {
        match self.state {
            WaitState::Waiting if self.start <= now => StateKind::Lapsed,
            WaitState::Waiting => StateKind::Waiting,
            WaitState::Offered { .. } => StateKind::Offered,
            WaitState::Accepted { .. } => StateKind::Accepted,
            WaitState::Expired { .. } => StateKind::Expired,
            WaitState::Withdrawn { .. } => StateKind::Withdrawn,
        }
    }

    /// Still in line or holding an offer, for a slot not begun.
    pub fn is_open(&self, now: Timestamp) -> bool {
        matches!(self.kind(now), StateKind::Waiting | StateKind::Offered)
    }

    /// The booking id the entry's offer holds the slot under, while it does.
    pub fn held(&self) -> Option<BookingId> {
        match self.state {
            WaitState::Offered { booking, .. } => Some(booking),
            _ => None,
        }
    }

    /// Any booking id the entry took (offered, accepted, expired or declined): never reused.
    pub fn booking_id(&self) -> Option<BookingId> {
        match self.state {
            WaitState::Offered { booking, .. }
            | WaitState::Accepted { booking, .. }
            | WaitState::Expired { booking, .. } => Some(booking),
            WaitState::Withdrawn { offer, .. } => offer,
            WaitState::Waiting => None,
        }
    }

    fn same_slot(&self, other: &WaitEntry) -> bool {
        self.service == other.service && self.start == other.start && {
            let mut a = self.resources.clone();
            let mut b = other.resources.clone();
            a.sort();
            b.sort();
            a == b
        }
    }

    /// Whether a slot `[start, end)` freed on `resources` could be this entry's.
    fn wants(&self, resources: &[ResourceId], start: Timestamp, end: Timestamp) -> bool {
        self.start < end && start < self.end && self.resources.iter().any(|r| resources.contains(r))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error("the slot has begun or is in the past")]
    Past,
    #[error("the slot has room: book it instead of waiting")]
    SlotFree,
    #[error("the member already waits for this slot (entry {0})")]
    AlreadyWaiting(u64),
    #[error("{WAITLIST_PER_SLOT_MAX} members already wait for this slot")]
    SlotFull,
    #[error(
        "the member already has {WAITLIST_PER_MEMBER_MAX} open waitlist entries in this store"
    )]
    TooMany,
    #[error("waitlist entry {0} has no offer to accept: it is {1}")]
    NotOffered(u64, &'static str),
    #[error("the offer of waitlist entry {0} expired")]
    OfferExpired(u64),
    #[error("waitlist entry {0} is {1} already")]
    Closed(u64, &'static str),
}

/// What freeing a slot on the calendar means for the waitlist: who gets an offer first.
#[derive(Debug, Clone)]
pub struct Freed {
    pub resources: Vec<ResourceId>,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Freed {
    pub fn of(b: &super::booking::Booking) -> Freed {
        Freed {
            resources: b.resources.to_vec(),
            start: b.start,
            end: b.end,
        }
    }
}

/// One store's waitlist: every entry by id (the order members joined in), and when offers
/// run out.
#[derive(Debug, Default)]
pub struct Waitlist {
    entries: BTreeMap<WaitId, WaitEntry>,
    /// Entries in state `Waiting`: what a freed slot looks through.
    waiting: BTreeSet<WaitId>,
    expiries: Agenda<WaitId>,
}

impl Waitlist {
    /// The entries as recovered from disk.
    pub fn from_entries(entries: impl IntoIterator<Item = WaitEntry>) -> Waitlist {
        let mut w = Waitlist::default();
        for e in entries {
            w.put(e);
        }
        w
    }

    /// Inserts or replaces an entry, keeping the expiries right.
    pub fn put(&mut self, e: WaitEntry) {
        if let WaitState::Offered { expires, .. } = e.state {
            self.expiries.add(expires, e.id);
        }
        if e.state == WaitState::Waiting {
            self.waiting.insert(e.id);
        } else {
            self.waiting.remove(&e.id);
        }
        self.entries.insert(e.id, e);
    }

    pub fn get(&self, id: WaitId) -> Option<&WaitEntry> {
        self.entries.get(&id)
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &WaitEntry> {
        self.entries.values()
    }

    /// Entries after `after` in id order.
    pub fn entries_after(&self, after: Option<WaitId>) -> impl Iterator<Item = &WaitEntry> {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.entries.range((from, Bound::Unbounded)).map(|(_, e)| e)
    }

    /// The highest sequence an entry took.
    pub fn last_seq(&self) -> u32 {
        self.entries.keys().next_back().map_or(0, |id| id.seq())
    }

    /// The highest booking id any entry took, so the scheduler never issues it again.
    pub fn last_booking_id(&self) -> Option<BookingId> {
        self.entries
            .values()
            .filter_map(WaitEntry::booking_id)
            .max()
    }

    /// The offers holding slots now: the calendar holds them like bookings.
    pub fn holds(&self) -> impl Iterator<Item = (BookingId, &WaitEntry)> {
        self.entries.values().filter_map(|e| Some((e.held()?, e)))
    }

    /// Checks `e` (state `Waiting`) may join: a slot not begun, the member not already in
    /// its line, room in the line and in the member's entries.
    pub fn check_join(&self, e: &WaitEntry, now: Timestamp) -> Result<(), WaitError> {
        if e.start <= now {
            return Err(WaitError::Past);
        }
        let mut in_line = 0;
        let mut mine = 0;
        for o in self.entries.values().filter(|o| o.is_open(now)) {
            let same = o.same_slot(e);
            if o.member == e.member {
                if same {
                    return Err(WaitError::AlreadyWaiting(o.id.0));
                }
                mine += 1;
            }
            in_line += usize::from(same && o.state == WaitState::Waiting);
        }
        if in_line >= WAITLIST_PER_SLOT_MAX {
            return Err(WaitError::SlotFull);
        }
        if mine >= WAITLIST_PER_MEMBER_MAX {
            return Err(WaitError::TooMany);
        }
        Ok(())
    }

    /// Who may take a slot freed on `freed`: waiting entries for slots not begun that
    /// overlap it on one of its resources, first joined first, at most
    /// [`OFFER_CANDIDATES_MAX`].
    pub fn candidates(&self, freed: &[Freed], now: Timestamp) -> Vec<WaitId> {
        self.waiting
            .iter()
            .map(|id| &self.entries[id])
            .filter(|e| e.start > now)
            .filter(|e| freed.iter().any(|f| e.wants(&f.resources, f.start, f.end)))
            .map(|e| e.id)
            .take(OFFER_CANDIDATES_MAX)
            .collect()
    }

    /// Every entry still waiting for a slot not begun, first joined first (at start-up: a
    /// slot freed just before a crash has not been offered yet).
    pub fn waiting(&self, now: Timestamp) -> Vec<WaitId> {
        self.waiting
            .iter()
            .map(|id| &self.entries[id])
            .filter(|e| e.start > now)
            .map(|e| e.id)
            .collect()
    }

    /// The offer `id` would get now: the slot held until `hold` from now, never past its
    /// start. `None` when the entry is not waiting or its slot is too close to offer.
    pub fn offer(
        &self,
        id: WaitId,
        booking: BookingId,
        now: Timestamp,
        hold: Duration,
    ) -> Option<WaitEntry> {
        let e = self.entries.get(&id)?;
        let expires = (now + hold).min(e.start);
        (e.state == WaitState::Waiting && expires > now).then(|| WaitEntry {
            state: WaitState::Offered {
                booking,
                at: now,
                expires,
            },
            ..e.clone()
        })
    }

    /// Accepting `id`'s offer: the entry as accepted.
    pub fn accept(&self, id: WaitId, now: Timestamp) -> Result<WaitEntry, WaitError> {
        let e = self.open(id, now)?;
        match e.state {
            WaitState::Offered {
                booking, expires, ..
            } if now < expires => Ok(WaitEntry {
                state: WaitState::Accepted { booking, at: now },
                ..e.clone()
            }),
            WaitState::Offered { .. } => Err(WaitError::OfferExpired(id.0)),
            _ => Err(WaitError::NotOffered(id.0, e.kind(now).as_str())),
        }
    }

    /// Leaving the line, or declining the offer held.
    pub fn withdraw(&self, id: WaitId, now: Timestamp) -> Result<WaitEntry, WaitError> {
        let e = self.open(id, now)?;
        Ok(WaitEntry {
            state: WaitState::Withdrawn {
                at: now,
                offer: e.held(),
            },
            ..e.clone()
        })
    }

    fn open(&self, id: WaitId, now: Timestamp) -> Result<&WaitEntry, WaitError> {
        let e = self
            .entries
            .get(&id)
            .ok_or(WaitError::Closed(id.0, "unknown"))?;
        match e.state {
            WaitState::Waiting | WaitState::Offered { .. } => Ok(e),
            _ => Err(WaitError::Closed(id.0, e.kind(now).as_str())),
        }
    }

    /// Offers whose time ran out by `now`, as expired (at most `max`; the rest stay due).
    pub fn take_expired(&mut self, now: Timestamp, max: usize) -> Vec<WaitEntry> {
        let mut out = Vec::new();
        for (at, id) in self.expiries.take_due(now, max) {
            match self.entries.get(&id).map(|e| &e.state) {
                Some(WaitState::Offered {
                    booking, expires, ..
                }) if *expires == at => {
                    let booking = *booking;
                    let e = &self.entries[&id];
                    out.push(WaitEntry {
                        state: WaitState::Expired { booking, at: now },
                        ..e.clone()
                    });
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn at(min: i64) -> Timestamp {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).expect("in range")
    }

    fn store() -> StoreId {
        StoreId::new(4).expect("valid")
    }

    fn entry(seq: u32, member: u32, start: i64, resource: u64) -> WaitEntry {
        WaitEntry {
            id: WaitId::new(store(), seq),
            member: MemberId::new(store(), member),
            service: ServiceId(1),
            resources: vec![ResourceId(resource)],
            start: at(start),
            end: at(start + 60),
            joined_at: at(0),
            online: false,
            state: WaitState::Waiting,
        }
    }

    #[test]
    fn first_in_line_first_offered() {
        let mut w = Waitlist::default();
        for (seq, member) in [(1, 7), (2, 8), (3, 9)] {
            let e = entry(seq, member, 600, 1);
            w.check_join(&e, at(0)).expect("room");
            w.put(e);
        }
        w.put(entry(4, 10, 900, 1));
        let freed = [Freed {
            resources: vec![ResourceId(1), ResourceId(2)],
            start: at(630),
            end: at(690),
        }];
        let ids: Vec<u32> = w
            .candidates(&freed, at(1))
            .iter()
            .map(|i| i.seq())
            .collect();
        assert_eq!(ids, vec![1, 2, 3], "overlapping, in joining order");
        let other = [Freed {
            resources: vec![ResourceId(2)],
            ..freed[0].clone()
        }];
        assert!(w.candidates(&other, at(1)).is_empty(), "another resource");
        assert_eq!(
            w.check_join(&entry(5, 7, 600, 1), at(0)),
            Err(WaitError::AlreadyWaiting(WaitId::new(store(), 1).0))
        );
        assert_eq!(
            w.check_join(&entry(5, 7, 0, 1), at(0)),
            Err(WaitError::Past)
        );
    }

    #[test]
    fn an_offer_is_accepted_in_time_or_expires() {
        let mut w = Waitlist::default();
        w.put(entry(1, 7, 600, 1));
        let id = WaitId::new(store(), 1);
        let b = BookingId(99);
        assert!(matches!(
            w.accept(id, at(1)),
            Err(WaitError::NotOffered(_, "waiting"))
        ));
        let offered = w
            .offer(id, b, at(10), Duration::minutes(30))
            .expect("waiting");
        w.put(offered);
        assert_eq!(w.holds().count(), 1);
        assert_eq!(w.last_booking_id(), Some(b));
        assert!(w.take_expired(at(39), 10).is_empty());
        let accepted = w.accept(id, at(39)).expect("in time");
        assert_eq!(accepted.kind(at(39)), StateKind::Accepted);
        let expired = w.take_expired(at(40), 10);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].kind(at(40)), StateKind::Expired);
        w.put(expired[0].clone());
        assert!(matches!(w.accept(id, at(41)), Err(WaitError::Closed(..))));
        assert_eq!(
            w.last_booking_id(),
            Some(b),
            "an expired offer's id stays taken"
        );
        // An offer never holds past the slot's start.
        w.put(entry(2, 8, 600, 1));
        let late = w
            .offer(
                WaitId::new(store(), 2),
                BookingId(100),
                at(590),
                Duration::minutes(30),
            )
            .expect("waiting");
        assert!(matches!(late.state, WaitState::Offered { expires, .. } if expires == at(600)));
        assert!(w
            .offer(
                WaitId::new(store(), 2),
                BookingId(100),
                at(600),
                Duration::minutes(30)
            )
            .is_none());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Join(u32, i64),
        Offer(usize),
        Accept(usize),
        Withdraw(usize),
        Pass(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u32..6, 0i64..4).prop_map(|(m, s)| Op::Join(m, 100 + s * 60)),
            (0usize..40).prop_map(Op::Offer),
            (0usize..40).prop_map(Op::Accept),
            (0usize..40).prop_map(Op::Withdraw),
            (1i64..50).prop_map(Op::Pass),
        ]
    }

    proptest! {
        /// Whatever members do and however time passes: entries only move forward
        /// (waiting, offered, then one final state), an acceptance comes only from an
        /// offer still in time, offers go first joined first, and no member waits twice
        /// for one slot.
        #[test]
        fn entries_only_move_forward(ops in proptest::collection::vec(op(), 1..120)) {
            let mut w = Waitlist::default();
            let mut now = 0i64;
            let mut seq = 0u32;
            let mut booking = 0u64;
            for op in ops {
                let before: BTreeMap<WaitId, WaitEntry> =
                    w.entries().map(|e| (e.id, e.clone())).collect();
                match op {
                    Op::Join(member, start) => {
                        let e = entry(seq + 1, member, start, 1);
                        if w.check_join(&e, at(now)).is_ok() {
                            seq += 1;
                            w.put(e);
                        }
                    }
                    Op::Offer(i) => {
                        let freed = [Freed { resources: vec![ResourceId(1)], start: at(0), end: at(1_000) }];
                        let c = w.candidates(&freed, at(now));
                        let waiting = w.waiting(at(now));
                        prop_assert_eq!(&c, &waiting);
                        prop_assert!(c.windows(2).all(|p| p[0] < p[1]));
                        if let Some(id) = c.get(i % c.len().max(1)) {
                            booking += 1;
                            if let Some(o) = w.offer(*id, BookingId(booking), at(now), Duration::minutes(30)) {
                                w.put(o);
                            }
                        }
                    }
                    Op::Accept(i) => {
                        if let Some(id) = before.keys().nth(i % before.len().max(1)) {
                            let was = before[id].clone();
                            match w.accept(*id, at(now)) {
                                Ok(e) => {
                                    let in_time = matches!(was.state, WaitState::Offered { expires, .. } if at(now) < expires);
                                    prop_assert!(in_time);
                                    w.put(e);
                                }
                                Err(_) => {
                                    let in_time = matches!(was.state, WaitState::Offered { expires, .. } if at(now) < expires);
                                    prop_assert!(!in_time);
                                }
                            }
                        }
                    }
                    Op::Withdraw(i) => {
                        if let Some(id) = before.keys().nth(i % before.len().max(1)) {
                            if let Ok(e) = w.withdraw(*id, at(now)) {
                                w.put(e);
                            }
                        }
                    }
                    Op::Pass(m) => {
                        now += m;
                        for e in w.take_expired(at(now), usize::MAX) {
                            w.put(e);
                        }
                    }
                }
                for e in w.entries() {
                    let rank = |s: &WaitState| match s {
                        WaitState::Waiting => 0,
                        WaitState::Offered { .. } => 1,
                        _ => 2,
                    };
                    if let Some(old) = before.get(&e.id) {
                        prop_assert!(rank(&old.state) <= rank(&e.state));
                        if rank(&old.state) == 2 {
                            prop_assert_eq!(&old.state, &e.state);
                        }
                        if let WaitState::Accepted { .. } = e.state {
                            let offered = matches!(old.state, WaitState::Offered { .. } | WaitState::Accepted { .. });
                            prop_assert!(offered);
                        }
                    }
                }
                let open: Vec<_> = w.entries().filter(|e| e.is_open(at(now))).collect();
                for (i, a) in open.iter().enumerate() {
                    for b in &open[i + 1..] {
                        prop_assert!(!(a.member == b.member && a.same_slot(b)));
                    }
                }
            }
        }
    }
}

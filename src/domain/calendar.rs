//! A service resource's calendar: bookings as time intervals, checked against the resource's
//! capacity (1 therapist, 3 beds, a class of 20), its working hours and its days off.

use chrono::{DateTime, Duration, NaiveDateTime};
use chrono_tz::Tz;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::hours::{DateSet, WeeklyHours};
use super::ledger::Timestamp;

/// No booking is longer than this; it bounds how far back an overlap search looks.
pub const BOOKING_DURATION_MAX_MINUTES: i64 = 24 * 60;
pub const CAPACITY_MAX: u32 = 1_000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct BookingId(pub u64);

/// Why a resource can't take a booking at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotConflict {
    DayOff,
    OutsideWorkingHours,
    /// Full: these bookings already fill the resource's capacity somewhere in the interval.
    Booked(Vec<BookingId>),
}

/// A time as µs since the epoch: plain integers compare and hash fast.
type Micros = i64;

fn micros(t: Timestamp) -> Micros {
    t.timestamp_micros()
}

fn instant(us: Micros) -> Timestamp {
    DateTime::from_timestamp_micros(us).expect("made by `micros` from a valid time")
}

const DAY_MICROS: Micros = 86_400_000_000;

/// The UTC day an instant falls on; the calendar's buckets.
fn day(us: Micros) -> i64 {
    us.div_euclid(DAY_MICROS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    start: Micros,
    id: BookingId,
    end: Micros,
}

impl Slot {
    fn overlaps(&self, start: Micros, end: Micros) -> bool {
        self.start < end && self.end > start
    }

    /// The days a slot touches: one, or two for a booking across midnight (UTC).
    fn days(&self) -> std::ops::RangeInclusive<i64> {
        day(self.start)..=day(self.end - 1)
    }
}

/// Slots of one day; a resource rarely has more than a handful a day.
type Bucket = SmallVec<[Slot; 4]>;

/// Bookings bucketed by UTC day, each bucket in start order. A booking is in every day it
/// touches (at most two: none is longer than a day), so whether a slot fits reads one
/// bucket, found by hash: a plan's 99 checks and inserts no longer walk an ordered tree
/// whose nodes, over a thousand resources' calendars, are mostly out of cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    capacity: u32,
    days: FxHashMap<i64, Bucket>,
    len: usize,
}

impl Calendar {
    pub fn new(capacity: u32) -> Calendar {
        assert!((1..=CAPACITY_MAX).contains(&capacity));
        Calendar {
            capacity,
            days: FxHashMap::default(),
            len: 0,
        }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn set_capacity(&mut self, capacity: u32) {
        assert!((1..=CAPACITY_MAX).contains(&capacity));
        self.capacity = capacity;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bookings overlapping `[start, end)`, as (id, start, end), in start order.
    pub fn overlapping(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Vec<(BookingId, Timestamp, Timestamp)> {
        self.overlaps(micros(start), micros(end))
            .into_iter()
            .map(|s| (s.id, instant(s.start), instant(s.end)))
            .collect()
    }

    /// Each overlapping slot once, in start order.
    fn overlaps(&self, start: Micros, end: Micros) -> Vec<Slot> {
        if end <= start {
            return Vec::new();
        }
        let (first, last) = (day(start), day(end - 1));
        let mut out: Vec<Slot> = Vec::new();
        let mut take = |d: i64, bucket: &Bucket| {
            // A slot across midnight is in two buckets: count it in the first one read.
            out.extend(
                bucket
                    .iter()
                    .filter(|s| s.overlaps(start, end) && (d == first || day(s.start) == d)),
            );
        };
        // A wide range over a sparse calendar: walk the buckets, not the days.
        if u64::try_from(last - first).map_or(true, |n| n >= self.days.len() as u64) {
            let mut days: Vec<(&i64, &Bucket)> = self
                .days
                .iter()
                .filter(|(d, _)| (first..=last).contains(*d))
                .collect();
            days.sort_unstable_by_key(|(d, _)| **d);
            for (d, bucket) in days {
                take(*d, bucket);
            }
        } else {
            for d in first..=last {
                if let Some(bucket) = self.days.get(&d) {
                    take(d, bucket);
                }
            }
        }
        if first != last {
            out.sort_unstable();
        }
        out
    }

    /// The most bookings in force at any instant of `[start, end)`.
    pub fn peak_load(&self, start: Timestamp, end: Timestamp) -> u32 {
        peak(
            &self.overlaps(micros(start), micros(end)),
            micros(start),
            micros(end),
        )
    }

    /// Whether one more booking fits in `[start, end)`; if not, the bookings in the way.
    pub fn check(&self, start: Timestamp, end: Timestamp) -> Result<(), SlotConflict> {
        let (start, end) = (micros(start), micros(end));
        let (first, last) = (day(start), day(end - 1));
        if first == last {
            return match self.days.get(&first) {
                Some(bucket) => fits(self.capacity, bucket, start, end),
                None => Ok(()),
            };
        }
        fits(self.capacity, &self.overlaps(start, end), start, end)
    }

    /// [`Calendar::check`], then [`Calendar::insert`] if it fits, finding the day once.
    pub fn try_insert(
        &mut self,
        id: BookingId,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<(), SlotConflict> {
        let slot = Slot {
            start: micros(start),
            id,
            end: micros(end),
        };
        if day(slot.start) != day(slot.end - 1) {
            self.check(start, end)?;
            self.insert(id, start, end);
            return Ok(());
        }
        let bucket = self.days.entry(day(slot.start)).or_default();
        fits(self.capacity, bucket, slot.start, slot.end)?;
        place(bucket, slot);
        self.len += 1;
        Ok(())
    }

    pub fn insert(&mut self, id: BookingId, start: Timestamp, end: Timestamp) {
        debug_assert!(end > start);
        debug_assert!(end - start <= Duration::minutes(BOOKING_DURATION_MAX_MINUTES));
        let slot = Slot {
            start: micros(start),
            id,
            end: micros(end),
        };
        for d in slot.days() {
            place(self.days.entry(d).or_default(), slot);
        }
        self.len += 1;
    }

    pub fn remove(&mut self, id: BookingId, start: Timestamp) -> bool {
        let start = micros(start);
        let Some(bucket) = self.days.get_mut(&day(start)) else {
            return false;
        };
        let Some(at) = bucket.iter().position(|s| s.id == id && s.start == start) else {
            return false;
        };
        let slot = bucket[at];
        for d in slot.days() {
            if let Some(bucket) = self.days.get_mut(&d) {
                bucket.retain(|s| *s != slot);
                if bucket.is_empty() {
                    self.days.remove(&d);
                }
            }
        }
        self.len -= 1;
        true
    }

    /// True when a booking ends after `now`: a resource with one can't be deleted.
    pub fn has_bookings_after(&self, now: Timestamp) -> bool {
        let now = micros(now);
        self.days.values().flatten().any(|s| s.end > now)
    }

    /// Every booking in time order.
    pub fn iter(&self) -> impl Iterator<Item = (BookingId, Timestamp, Timestamp)> + '_ {
        let mut days: Vec<(&i64, &Bucket)> = self.days.iter().collect();
        days.sort_unstable_by_key(|(d, _)| **d);
        days.into_iter()
            .flat_map(|(d, bucket)| bucket.iter().filter(move |s| day(s.start) == *d))
            .map(|s| (s.id, instant(s.start), instant(s.end)))
    }
}

/// Keeps the bucket in start order, and a booking in it once.
fn place(bucket: &mut Bucket, slot: Slot) {
    match bucket.binary_search(&slot) {
        Ok(_) => panic!("booking {:?} inserted twice", slot.id),
        Err(at) => bucket.insert(at, slot),
    }
}

/// Whether one more booking fits in `[start, end)` beside `slots` (any superset of those
/// overlapping it); if not, the overlapping ones.
fn fits(capacity: u32, slots: &[Slot], start: Micros, end: Micros) -> Result<(), SlotConflict> {
    let cap = capacity as usize;
    let overlapping = || slots.iter().filter(|s| s.overlaps(start, end));
    // Fewer overlapping bookings than places fit whatever their times: no sweep needed.
    if overlapping().take(cap).count() < cap {
        return Ok(());
    }
    let inside: Vec<Slot> = overlapping().copied().collect();
    if peak(&inside, start, end) < capacity {
        return Ok(());
    }
    Err(SlotConflict::Booked(inside.iter().map(|s| s.id).collect()))
}

/// The most of `slots` (all overlapping `[start, end)`) in force at any instant of it.
fn peak(slots: &[Slot], start: Micros, end: Micros) -> u32 {
    let mut edges: Vec<(Micros, i32)> = Vec::with_capacity(slots.len() * 2);
    for s in slots {
        edges.push((s.start.max(start), 1));
        edges.push((s.end.min(end), -1));
    }
    // Ends sort before starts at the same instant: back-to-back bookings don't overlap.
    edges.sort_unstable();
    let (mut load, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        load += d;
        peak = peak.max(load);
    }
    peak as u32
}

/// Everything a resource needs to judge a slot: its hours, days off, calendar and zone.
#[derive(Debug, Clone)]
pub struct ResourceSchedule {
    pub time_zone: Tz,
    pub working_hours: WeeklyHours,
    pub days_off: DateSet,
    pub calendar: Calendar,
}

impl ResourceSchedule {
    pub fn check(&self, start: Timestamp, end: Timestamp) -> Result<(), SlotConflict> {
        self.check_hours(start, end)?;
        self.calendar.check(start, end)
    }

    /// [`ResourceSchedule::check`], then the booking placed on the calendar if it fits.
    /// `local` is `start` and `end` on the resource's clock, when the caller has them.
    pub fn try_insert(
        &mut self,
        id: BookingId,
        start: Timestamp,
        end: Timestamp,
        local: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Result<(), SlotConflict> {
        let local = local.unwrap_or_else(|| self.local(start, end));
        debug_assert_eq!(local, self.local(start, end));
        self.check_local_hours(start, end, local)?;
        self.calendar.try_insert(id, start, end)
    }

    fn local(&self, start: Timestamp, end: Timestamp) -> (NaiveDateTime, NaiveDateTime) {
        (
            start.with_timezone(&self.time_zone).naive_local(),
            end.with_timezone(&self.time_zone).naive_local(),
        )
    }

    fn check_hours(&self, start: Timestamp, end: Timestamp) -> Result<(), SlotConflict> {
        self.check_local_hours(start, end, self.local(start, end))
    }

    fn check_local_hours(
        &self,
        start: Timestamp,
        end: Timestamp,
        (ls, le): (NaiveDateTime, NaiveDateTime),
    ) -> Result<(), SlotConflict> {
        if self.days_off.contains(ls.date()) {
            return Err(SlotConflict::DayOff);
        }
        if end <= start || !self.working_hours.covers_local(ls, le) {
            return Err(SlotConflict::OutsideWorkingHours);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn at(min: i64) -> Timestamp {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn capacity_three_takes_three_and_refuses_the_fourth() {
        let mut c = Calendar::new(3);
        for i in 0..3 {
            assert!(c.check(at(0), at(60)).is_ok());
            c.insert(BookingId(i), at(i as i64 * 10), at(60 + i as i64 * 10));
        }
        assert_eq!(
            c.check(at(30), at(40)),
            Err(SlotConflict::Booked(vec![
                BookingId(0),
                BookingId(1),
                BookingId(2)
            ]))
        );
        // Back to back is not an overlap.
        assert!(c.check(at(80), at(90)).is_ok());
        assert!(c.check(at(-60), at(0)).is_ok());
    }

    #[test]
    fn removal_frees_the_slot() {
        let mut c = Calendar::new(1);
        c.insert(BookingId(1), at(0), at(60));
        assert!(c.check(at(30), at(90)).is_err());
        assert!(c.remove(BookingId(1), at(0)));
        assert!(c.check(at(30), at(90)).is_ok());
        assert!(!c.has_bookings_after(at(0)));
    }

    #[test]
    fn a_booking_across_midnight_counts_once_on_both_days() {
        let midnight = DateTime::from_timestamp(1_800_057_600, 0).unwrap();
        assert_eq!(midnight.timestamp() % 86_400, 0);
        let h = |n: i64| midnight + Duration::hours(n);
        let mut c = Calendar::new(1);
        c.insert(BookingId(7), h(-2), h(2));
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.overlapping(h(-3), h(3)),
            vec![(BookingId(7), h(-2), h(2))]
        );
        assert!(c.check(h(1), h(3)).is_err());
        assert!(c.check(h(-3), h(-1)).is_err());
        assert_eq!(c.iter().count(), 1);
        assert!(c.remove(BookingId(7), h(-2)));
        assert!(c.is_empty());
        assert!(c.check(h(1), h(3)).is_ok());
        assert!(c.try_insert(BookingId(8), h(-1), h(1)).is_ok());
        assert!(c.try_insert(BookingId(9), h(0), h(1)).is_err());
    }

    proptest! {
        /// Against a plain list of bookings: what overlaps, what fits, time order, across
        /// midnights, removals and capacities.
        #[test]
        fn same_answers_as_a_plain_list(
            cap in 1u32..4,
            ops in proptest::collection::vec((0i64..6_000, 1i64..1_440, any::<bool>()), 1..80),
            probe in (0i64..6_000, 1i64..3_000),
        ) {
            let mut c = Calendar::new(cap);
            let mut list: Vec<(BookingId, Timestamp, Timestamp)> = Vec::new();
            for (i, (s, len, remove)) in ops.iter().enumerate() {
                if *remove && !list.is_empty() {
                    let (id, start, _) = list.remove(i % list.len());
                    prop_assert!(c.remove(id, start));
                    continue;
                }
                let (id, start, end) = (BookingId(i as u64), at(*s), at(s + len));
                let brute = (*s..s + len).all(|m| {
                    list.iter().filter(|(_, s, e)| *s <= at(m) && at(m) < *e).count() < cap as usize
                });
                prop_assert_eq!(c.peak_load(start, end) < cap, brute);
                prop_assert_eq!(c.check(start, end).is_ok(), brute);
                prop_assert_eq!(c.try_insert(id, start, end).is_ok(), brute);
                if brute {
                    list.push((id, start, end));
                }
            }
            list.sort_by_key(|(id, s, _)| (*s, *id));
            prop_assert_eq!(c.len(), list.len());
            prop_assert_eq!(c.iter().collect::<Vec<_>>(), list.clone());
            let (from, to) = (at(probe.0), at(probe.0 + probe.1));
            let want: Vec<_> = list.iter().filter(|(_, s, e)| *s < to && *e > from).copied().collect();
            prop_assert_eq!(c.overlapping(from, to), want);
        }

        /// Inserting only what `check` allows never puts more than `capacity` bookings on
        /// any instant, checked against a brute-force minute-by-minute count.
        #[test]
        fn never_over_capacity(cap in 1u32..4, reqs in proptest::collection::vec((0i64..200, 1i64..90), 1..60)) {
            let mut c = Calendar::new(cap);
            for (i, (s, len)) in reqs.iter().enumerate() {
                if c.check(at(*s), at(s + len)).is_ok() {
                    c.insert(BookingId(i as u64), at(*s), at(s + len));
                }
            }
            for minute in -10..300 {
                let load = c.iter().filter(|(_, s, e)| *s <= at(minute) && at(minute) < *e).count();
                prop_assert!(load as u32 <= cap);
            }
        }
    }
}

//! A service resource's calendar: bookings as time intervals, checked against the resource's
//! capacity (1 therapist, 3 beds, a class of 20), its working hours and its days off.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration};
use chrono_tz::Tz;

use super::hours::{DateSet, WeeklyHours};
use super::ledger::Timestamp;

/// No booking is longer than this; it bounds how far back an overlap search looks.
pub const BOOKING_DURATION_MAX_MINUTES: i64 = 24 * 60;
pub const CAPACITY_MAX: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookingId(pub u64);

/// Why a resource can't take a booking at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotConflict {
    DayOff,
    OutsideWorkingHours,
    /// Full: these bookings already fill the resource's capacity somewhere in the interval.
    Booked(Vec<BookingId>),
}

/// A time as µs since the epoch: the tree compares plain integers, and a node holds more
/// keys per cache line than with chrono's three-field times (a plan's 99 inserts and
/// checks walk the tree 99 times).
type Micros = i64;

fn micros(t: Timestamp) -> Micros {
    t.timestamp_micros()
}

fn instant(us: Micros) -> Timestamp {
    DateTime::from_timestamp_micros(us).expect("made by `micros` from a valid time")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    capacity: u32,
    /// (start, id) -> end.
    slots: BTreeMap<(Micros, BookingId), Micros>,
}

impl Calendar {
    pub fn new(capacity: u32) -> Calendar {
        assert!((1..=CAPACITY_MAX).contains(&capacity));
        Calendar {
            capacity,
            slots: BTreeMap::new(),
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
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bookings overlapping `[start, end)`, as (id, start, end).
    pub fn overlapping(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Vec<(BookingId, Timestamp, Timestamp)> {
        self.overlaps(micros(start), micros(end))
            .map(|(id, s, e)| (id, instant(s), instant(e)))
            .collect()
    }

    fn overlaps(
        &self,
        start: Micros,
        end: Micros,
    ) -> impl Iterator<Item = (BookingId, Micros, Micros)> + '_ {
        let from = start.saturating_sub(BOOKING_DURATION_MAX_MINUTES * 60_000_000);
        self.slots
            .range((from, BookingId(0))..(end, BookingId(0)))
            .filter(move |(_, e)| **e > start)
            .map(|((s, id), e)| (*id, *s, *e))
    }

    /// The most bookings in force at any instant of `[start, end)`.
    pub fn peak_load(&self, start: Timestamp, end: Timestamp) -> u32 {
        self.peak(micros(start), micros(end))
    }

    fn peak(&self, start: Micros, end: Micros) -> u32 {
        let mut edges: Vec<(Micros, i32)> = Vec::new();
        for (_, s, e) in self.overlaps(start, end) {
            edges.push((s.max(start), 1));
            edges.push((e.min(end), -1));
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

    /// Whether one more booking fits in `[start, end)`; if not, the bookings in the way.
    pub fn check(&self, start: Timestamp, end: Timestamp) -> Result<(), SlotConflict> {
        // Fewer overlapping bookings than places fit whatever their times: no sweep needed.
        let (start, end) = (micros(start), micros(end));
        let cap = self.capacity as usize;
        if self.overlaps(start, end).take(cap).count() < cap
            || self.peak(start, end) < self.capacity
        {
            return Ok(());
        }
        Err(SlotConflict::Booked(
            self.overlaps(start, end).map(|(id, _, _)| id).collect(),
        ))
    }

    pub fn insert(&mut self, id: BookingId, start: Timestamp, end: Timestamp) {
        debug_assert!(end > start);
        debug_assert!(end - start <= Duration::minutes(BOOKING_DURATION_MAX_MINUTES));
        let previous = self.slots.insert((micros(start), id), micros(end));
        assert!(previous.is_none(), "booking {id:?} inserted twice");
    }

    pub fn remove(&mut self, id: BookingId, start: Timestamp) -> bool {
        self.slots.remove(&(micros(start), id)).is_some()
    }

    /// True when a booking ends after `now`: a resource with one can't be deleted.
    pub fn has_bookings_after(&self, now: Timestamp) -> bool {
        let now = micros(now);
        self.slots.values().any(|end| *end > now)
    }

    /// Every booking in time order.
    pub fn iter(&self) -> impl Iterator<Item = (BookingId, Timestamp, Timestamp)> + '_ {
        self.slots
            .iter()
            .map(|((s, id), e)| (*id, instant(*s), instant(*e)))
    }
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
        let ls = start.with_timezone(&self.time_zone).naive_local();
        if self.days_off.contains(ls.date()) {
            return Err(SlotConflict::DayOff);
        }
        let le = end.with_timezone(&self.time_zone).naive_local();
        if end <= start || !self.working_hours.covers_local(ls, le) {
            return Err(SlotConflict::OutsideWorkingHours);
        }
        self.calendar.check(start, end)
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

    proptest! {
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

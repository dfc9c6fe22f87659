//! A store's appointment list, as the front desk reads it: bookings (appointments and plan
//! occurrences) filtered by time, status, resource, service, member and origin, in start
//! order, a page at a time.

use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use rustc_hash::FxHashMap;

use super::booking::{Booking, BookingOrigin, BookingStatus, ResourceId, ServiceId};
use super::calendar::BookingId;
use super::ids::MemberId;
use super::ledger::Timestamp;

/// Most appointments one page holds.
pub const APPOINTMENTS_PAGE_MAX: usize = 500;
/// A page's size when the request names none.
pub const APPOINTMENTS_PAGE_DEFAULT: usize = 100;
/// Longest span of days one listing may cover.
pub const APPOINTMENT_DAYS_MAX: i64 = 366;

/// Where a booking came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    Appointment,
    Plan,
}

/// What the list keeps; `None` keeps all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppointmentFilter {
    /// Bookings that start in `[from, to)`.
    pub starts: Option<(Timestamp, Timestamp)>,
    pub status: Option<BookingStatus>,
    pub resource: Option<ResourceId>,
    pub service: Option<ServiceId>,
    pub member: Option<MemberId>,
    pub origin: Option<OriginKind>,
}

impl AppointmentFilter {
    pub fn matches(&self, b: &Booking) -> bool {
        self.starts
            .is_none_or(|(from, to)| from <= b.start && b.start < to)
            && self.status.is_none_or(|s| s == b.status)
            && self.resource.is_none_or(|r| b.resources.contains(&r))
            && self.service.is_none_or(|s| s == b.service)
            && self.member.is_none_or(|m| m == b.member)
            && self.origin.is_none_or(|o| {
                matches!(
                    (o, b.origin),
                    (OriginKind::Appointment, BookingOrigin::Appointment)
                        | (OriginKind::Plan, BookingOrigin::Plan { .. })
                )
            })
    }
}

/// A place in the list's order (start, then id): a page resumes after it. Rendered as
/// `<start in µs since the epoch>.<booking id>`; clients pass it back as they got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    start_us: i64,
    id: BookingId,
}

impl Cursor {
    pub fn of(b: &Booking) -> Cursor {
        Cursor {
            start_us: b.start.timestamp_micros(),
            id: b.id,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.start_us, self.id.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a page cursor this list made")]
pub struct BadCursor;

impl FromStr for Cursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Cursor, BadCursor> {
        let (start, id) = s.split_once('.').ok_or(BadCursor)?;
        let start_us: i64 = start.parse().map_err(|_| BadCursor)?;
        DateTime::from_timestamp_micros(start_us).ok_or(BadCursor)?;
        Ok(Cursor {
            start_us,
            id: BookingId(id.parse().map_err(|_| BadCursor)?),
        })
    }
}

/// The first `limit` bookings of `all` that `filter` keeps, in (start, id) order, after
/// `after`; and the cursor of the last one when the page is full (there may be more). Holds
/// at most `limit` bookings while it reads, whatever `all` holds.
pub fn page(
    all: impl Iterator<Item = Booking>,
    filter: &AppointmentFilter,
    after: Option<Cursor>,
    limit: usize,
) -> (Vec<Booking>, Option<Cursor>) {
    assert!((1..=APPOINTMENTS_PAGE_MAX).contains(&limit));
    // A max-heap of the best `limit` so far: a newcomer replaces the greatest.
    let mut best: BinaryHeap<ByCursor> = BinaryHeap::with_capacity(limit + 1);
    for b in all {
        let at = Cursor::of(&b);
        if after.is_some_and(|a| at <= a) || !filter.matches(&b) {
            continue;
        }
        if best.len() == limit && best.peek().is_some_and(|top| at >= top.0) {
            continue;
        }
        best.push(ByCursor(at, b));
        if best.len() > limit {
            best.pop();
        }
    }
    let kept: Vec<Booking> = best.into_sorted_vec().into_iter().map(|e| e.1).collect();
    let next = (kept.len() == limit)
        .then(|| kept.last().map(Cursor::of))
        .flatten();
    (kept, next)
}

/// A booking ordered by its place in the list alone.
struct ByCursor(Cursor, Booking);

impl PartialEq for ByCursor {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for ByCursor {}

impl PartialOrd for ByCursor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByCursor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

/// A store's bookings by the UTC day they start on, so that a listing of a few days reads
/// those days' bookings, not all of them. Never shrinks: a booking moved to another day is
/// also still under its old one, so a reader checks each booking it is given.
#[derive(Debug, Default)]
pub struct DayIndex {
    days: FxHashMap<i64, Vec<BookingId>>,
}

impl DayIndex {
    pub fn add(&mut self, id: BookingId, start: Timestamp) {
        let day = start.timestamp_micros().div_euclid(DAY_MICROS);
        self.days.entry(day).or_default().push(id);
    }

    /// Each booking that may start in `[from, to)`, once.
    pub fn candidates(&self, from: Timestamp, to: Timestamp) -> Vec<BookingId> {
        let first = from.timestamp_micros().div_euclid(DAY_MICROS);
        let last = (to.timestamp_micros() - 1).div_euclid(DAY_MICROS);
        let mut ids: Vec<BookingId> = if last - first < self.days.len() as i64 {
            (first..=last)
                .filter_map(|d| self.days.get(&d))
                .flatten()
                .copied()
                .collect()
        } else {
            self.days
                .iter()
                .filter(|(d, _)| (first..=last).contains(*d))
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The instants local days `from..=to` of `tz` span: `[first day's start, day after last's
/// start)`. A day starts at its first local time that exists (midnight, unless a
/// daylight-saving change skips it).
pub fn local_days(tz: Tz, from: NaiveDate, to: NaiveDate) -> Option<(Timestamp, Timestamp)> {
    let next = to.succ_opt()?;
    Some((day_start(tz, from)?, day_start(tz, next)?))
}

fn day_start(tz: Tz, date: NaiveDate) -> Option<Timestamp> {
    // No zone skips more than a few hours at once; step by a quarter hour until one exists.
    (0..4 * 24).find_map(|q| {
        let t = NaiveTime::from_hms_opt(q / 4, (q % 4) * 15, 0)?;
        super::hours::local_to_utc(tz, date.and_time(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::StoreId;
    use proptest::prelude::*;

    fn booking(seq: u32, start_min: i64, status: BookingStatus, member: u32) -> Booking {
        let store = StoreId::new(1).unwrap();
        let start = DateTime::from_timestamp(1_772_870_400 + start_min * 60, 0).unwrap();
        Booking {
            id: BookingId((1u64 << 32) | u64::from(seq)),
            store,
            member: MemberId::new(store, member),
            service: ServiceId(1 + u64::from(seq % 3)),
            resources: [ResourceId(10 + u64::from(seq % 2))].into_iter().collect(),
            start,
            end: start + chrono::Duration::minutes(30),
            status,
            origin: if seq.is_multiple_of(4) {
                BookingOrigin::Plan {
                    plan: crate::domain::booking::PlanId(1),
                    index: seq,
                }
            } else {
                BookingOrigin::Appointment
            },
            reminded: false,
        }
    }

    fn statuses() -> impl Strategy<Value = BookingStatus> {
        prop_oneof![
            Just(BookingStatus::Pending),
            Just(BookingStatus::Confirmed),
            Just(BookingStatus::Cancelled),
            Just(BookingStatus::Completed),
        ]
    }

    proptest! {
        /// Paging through with any page size yields exactly the filtered list, in order,
        /// each booking once: a plain filter and sort is the model.
        #[test]
        fn pages_walk_the_filtered_list_once_in_order(
            rows in prop::collection::vec((0i64..2_000, statuses(), 1u32..4), 0..120),
            limit in 1usize..12,
            status in prop::option::of(statuses()),
            member in prop::option::of(1u32..4),
            window in prop::option::of((0i64..2_000, 0i64..2_000)),
        ) {
            let all: Vec<Booking> = rows
                .iter()
                .enumerate()
                .map(|(i, (m, s, who))| booking(i as u32 + 1, *m, *s, *who))
                .collect();
            let at = |m: i64| DateTime::from_timestamp(1_772_870_400 + m * 60, 0).unwrap();
            let filter = AppointmentFilter {
                starts: window.map(|(a, b)| (at(a.min(b)), at(a.max(b)))),
                status,
                member: member.map(|m| MemberId::new(StoreId::new(1).unwrap(), m)),
                ..AppointmentFilter::default()
            };
            let mut model: Vec<Booking> = all.iter().filter(|b| filter.matches(b)).cloned().collect();
            model.sort_by_key(Cursor::of);
            let mut got = Vec::new();
            let mut after = None;
            loop {
                let (p, next) = page(all.iter().cloned(), &filter, after, limit);
                prop_assert!(p.len() <= limit);
                got.extend(p);
                match next {
                    Some(c) => {
                        prop_assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
                        after = Some(c);
                    }
                    None => break,
                }
            }
            prop_assert_eq!(got, model);
        }
    }

    #[test]
    fn the_day_index_finds_a_days_bookings_moved_or_not() {
        // Minutes from a UTC midnight: the index's days.
        let at = |m: i64| DateTime::from_timestamp(1_772_841_600 + m * 60, 0).unwrap();
        let mut index = DayIndex::default();
        for (seq, minute) in [(1u64, 0i64), (2, 60), (3, 24 * 60), (4, 3 * 24 * 60)] {
            index.add(BookingId(seq), at(minute));
        }
        // Booking 1 moved to the third day, and back.
        index.add(BookingId(1), at(2 * 24 * 60));
        index.add(BookingId(1), at(30));
        let ids = |from: i64, to: i64| -> Vec<u64> {
            index
                .candidates(at(from), at(to))
                .into_iter()
                .map(|b| b.0)
                .collect()
        };
        assert_eq!(ids(0, 24 * 60), vec![1, 2]);
        assert_eq!(ids(24 * 60, 3 * 24 * 60), vec![1, 3]);
        assert_eq!(ids(0, 400 * 24 * 60), vec![1, 2, 3, 4]);
        assert_eq!(ids(5 * 24 * 60, 6 * 24 * 60), Vec::<u64>::new());
    }

    #[test]
    fn filters_by_resource_service_and_origin() {
        let all: Vec<Booking> = (1..=8)
            .map(|i| booking(i, i as i64 * 30, BookingStatus::Confirmed, 1))
            .collect();
        let f = AppointmentFilter {
            resource: Some(ResourceId(11)),
            origin: Some(OriginKind::Appointment),
            ..AppointmentFilter::default()
        };
        let (p, next) = page(all.iter().cloned(), &f, None, 10);
        let seqs: Vec<u64> = p.iter().map(|b| b.id.0 & 0xffff_ffff).collect();
        assert_eq!(seqs, vec![1, 3, 5, 7]);
        assert_eq!(next, None);
        let f = AppointmentFilter {
            service: Some(ServiceId(1)),
            origin: Some(OriginKind::Plan),
            ..AppointmentFilter::default()
        };
        let (p, _) = page(all.iter().cloned(), &f, None, 10);
        assert!(p
            .iter()
            .all(|b| b.service == ServiceId(1) && matches!(b.origin, BookingOrigin::Plan { .. })));
    }

    #[test]
    fn a_day_without_midnight_starts_at_its_first_hour() {
        // Santiago skipped from 00:00 to 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let (from, to) = local_days(tz, day, day).unwrap();
        assert_eq!(
            from.with_timezone(&tz).time(),
            NaiveTime::from_hms_opt(1, 0, 0).unwrap()
        );
        assert_eq!((to - from).num_hours(), 23);
    }

    #[test]
    fn cursors_refuse_what_they_did_not_make() {
        for bad in ["", "12", "x.1", "1.x", "1.2.3", "99999999999999999999.1"] {
            assert_eq!(bad.parse::<Cursor>(), Err(BadCursor), "{bad}");
        }
    }
}

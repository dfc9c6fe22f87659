//! Judging a set of occurrences before anything is booked: the store's own rules here, the
//! resources' answers merged in, and one report naming every failing occurrence.

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;

use super::booking::ResourceId;
use super::calendar::{BookingId, SlotConflict};
use super::hours::StoreHours;
use super::ledger::Timestamp;
use super::recurrence::Occurrence;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The local start time falls in a daylight-saving gap.
    NonexistentLocalTime,
    InThePast,
    StoreClosed,
    OutsideBusinessHours,
    ResourceDayOff(ResourceId),
    OutsideWorkingHours(ResourceId),
    Booked {
        resource: ResourceId,
        bookings: Vec<BookingId>,
    },
}

impl Reason {
    pub fn from_slot(resource: ResourceId, conflict: SlotConflict) -> Reason {
        match conflict {
            SlotConflict::DayOff => Reason::ResourceDayOff(resource),
            SlotConflict::OutsideWorkingHours => Reason::OutsideWorkingHours(resource),
            SlotConflict::Booked(bookings) => Reason::Booked { resource, bookings },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceFailure {
    pub index: usize,
    pub local: NaiveDateTime,
    pub reasons: Vec<Reason>,
}

/// An occurrence with its UTC interval, ready to be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub index: usize,
    pub local: NaiveDateTime,
    /// `end` on the store's clock, so that resources (in the store's zone) need not look it up.
    pub local_end: NaiveDateTime,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Applies the store's rules to every occurrence. Returns the slots to reserve and the
/// failures so far; resource conflicts are added later by [`merge`].
pub fn check_store_rules(
    occurrences: &[Occurrence],
    duration: Duration,
    tz: Tz,
    hours: &StoreHours,
    now: Timestamp,
) -> (Vec<Slot>, Vec<OccurrenceFailure>) {
    let mut slots = Vec::with_capacity(occurrences.len());
    let mut failures = Vec::new();
    for o in occurrences {
        let Some(start) = o.start else {
            failures.push(OccurrenceFailure {
                index: o.index,
                local: o.local,
                reasons: vec![Reason::NonexistentLocalTime],
            });
            continue;
        };
        let end = start + duration;
        let local_end = end.with_timezone(&tz).naive_local();
        let mut reasons = Vec::new();
        if start < now {
            reasons.push(Reason::InThePast);
        }
        // `o.local` is `start` on the store's clock: one time zone lookup, not three.
        if hours.closed.contains(o.local.date()) {
            reasons.push(Reason::StoreClosed);
        } else if end <= start || !hours.business.covers_local(o.local, local_end) {
            reasons.push(Reason::OutsideBusinessHours);
        }
        if reasons.is_empty() {
            slots.push(Slot {
                index: o.index,
                local: o.local,
                local_end,
                start,
                end,
            });
        } else {
            failures.push(OccurrenceFailure {
                index: o.index,
                local: o.local,
                reasons,
            });
        }
    }
    (slots, failures)
}

/// Adds resources' conflicts (per slot index) to the report, one entry per occurrence,
/// in occurrence order.
pub fn merge(
    mut failures: Vec<OccurrenceFailure>,
    slots: &[Slot],
    conflicts: impl IntoIterator<Item = (ResourceId, usize, SlotConflict)>,
) -> Vec<OccurrenceFailure> {
    for (resource, index, conflict) in conflicts {
        let reason = Reason::from_slot(resource, conflict);
        match failures.iter_mut().find(|f| f.index == index) {
            Some(f) => f.reasons.push(reason),
            None => {
                let local = slots
                    .iter()
                    .find(|s| s.index == index)
                    .map(|s| s.local)
                    .expect("conflicts name reserved slots");
                failures.push(OccurrenceFailure {
                    index,
                    local,
                    reasons: vec![reason],
                });
            }
        }
    }
    failures.sort_by_key(|f| f.index);
    failures
}

pub const AVAILABILITY_DAYS_MAX: i64 = 31;
pub const AVAILABILITY_SLOTS_MAX: usize = 5_000;
pub const AVAILABILITY_STEP_MINUTES_MIN: u32 = 5;

/// A start time at which the service can be booked, with one free resource of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeStart {
    pub local: NaiveDateTime,
    pub start: Timestamp,
    pub resources: Vec<ResourceId>,
}

/// Free start times for a service of `duration` on the local dates `from..=to`, stepping
/// `step` through the store's business hours; each needs one free resource per kind.
#[allow(clippy::too_many_arguments)]
pub fn free_starts(
    tz: Tz,
    hours: &StoreHours,
    duration: Duration,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    step: Duration,
    now: Timestamp,
    kinds: &[Vec<(ResourceId, super::calendar::ResourceSchedule)>],
) -> Vec<FreeStart> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= to && out.len() < AVAILABILITY_SLOTS_MAX {
        if !hours.closed.contains(day) {
            for &(open, close) in hours.business.windows(day) {
                let mut t = day.and_time(open);
                while t + duration <= day.and_time(close) + Duration::microseconds(1)
                    && out.len() < AVAILABILITY_SLOTS_MAX
                {
                    if let Some(start) = super::hours::local_to_utc(tz, t) {
                        let end = start + duration;
                        let picked: Option<Vec<ResourceId>> = kinds
                            .iter()
                            .map(|candidates| {
                                candidates
                                    .iter()
                                    .find(|(_, s)| s.check(start, end).is_ok())
                                    .map(|(id, _)| *id)
                            })
                            .collect();
                        if let (true, Some(resources)) = (start >= now, picked) {
                            out.push(FreeStart {
                                local: t,
                                start,
                                resources,
                            });
                        }
                    }
                    t += step;
                }
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hours::local_to_utc;
    use crate::domain::recurrence::{expand, Repeat};

    #[test]
    fn gap_and_past_and_closed_are_reported_per_occurrence() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let dt = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let occ = expand(
            &Repeat::Daily {
                firsts: vec![dt("2026-03-06T02:30")],
                count: 4,
            },
            tz,
        )
        .unwrap();
        let mut hours = StoreHours::default();
        hours.closed = crate::domain::hours::DateSet::new([dt("2026-03-09T00:00").date()]).unwrap();
        let now = local_to_utc(tz, dt("2026-03-06T12:00")).unwrap();
        let (slots, failures) = check_store_rules(&occ, Duration::minutes(30), tz, &hours, now);
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0].index, 2);
        // Resources take the slot's local times as given: they must be start and end's.
        assert_eq!(
            slots[0].local,
            slots[0].start.with_timezone(&tz).naive_local()
        );
        assert_eq!(
            slots[0].local_end,
            slots[0].end.with_timezone(&tz).naive_local()
        );
        let summary: Vec<_> = failures
            .iter()
            .map(|f| (f.index, f.reasons.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, vec![Reason::InThePast]),
                (3, vec![Reason::NonexistentLocalTime]),
                (4, vec![Reason::StoreClosed])
            ]
        );
        let merged = merge(failures, &slots, [(ResourceId(9), 2, SlotConflict::DayOff)]);
        assert_eq!(
            merged.iter().map(|f| f.index).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }
}

//! Opening hours: a store's business hours and a resource's working hours, both weekly
//! windows in the store's local time, plus dates when it is closed or off.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::ledger::Timestamp;

pub const WINDOWS_PER_DAY_MAX: usize = 8;
/// "24:00": the close of a window that runs to midnight.
pub const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999) {
    Some(t) => t,
    None => panic!("valid time"),
};
pub const CLOSED_DATES_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("a window must start before it ends ({0} - {1})")]
    EmptyWindow(NaiveTime, NaiveTime),
    #[error("at most {WINDOWS_PER_DAY_MAX} windows per day")]
    TooManyWindows,
    #[error("windows of one day overlap")]
    Overlap,
    #[error("at most {CLOSED_DATES_MAX} dates")]
    TooManyDates,
}

/// Open windows per weekday (index 0 = Monday), each `[open, close)` in local time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklyHours {
    days: [Vec<(NaiveTime, NaiveTime)>; 7],
}

impl WeeklyHours {
    pub fn new(days: [Vec<(NaiveTime, NaiveTime)>; 7]) -> Result<WeeklyHours, HoursError> {
        let mut days = days;
        for windows in &mut days {
            if windows.len() > WINDOWS_PER_DAY_MAX {
                return Err(HoursError::TooManyWindows);
            }
            windows.sort();
            for &(open, close) in windows.iter() {
                if open >= close {
                    return Err(HoursError::EmptyWindow(open, close));
                }
            }
            if windows.windows(2).any(|w| w[0].1 > w[1].0) {
                return Err(HoursError::Overlap);
            }
        }
        Ok(WeeklyHours { days })
    }

    /// Open every day around the clock: the default until hours are set.
    pub fn always() -> WeeklyHours {
        let all = vec![(NaiveTime::MIN, END_OF_DAY)];
        WeeklyHours {
            days: std::array::from_fn(|_| all.clone()),
        }
    }

    pub fn days(&self) -> &[Vec<(NaiveTime, NaiveTime)>; 7] {
        &self.days
    }

    pub fn windows(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        &self.days[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether a span lies inside one window of its local day, given its start `ls` and end
    /// `le` on the store's wall clock (callers convert once and reuse them: time zone lookups
    /// showed in the plan profiles; they also check that the span's instants are ordered).
    /// A booking may end at midnight but not run past it.
    pub fn covers_local(&self, ls: NaiveDateTime, le: NaiveDateTime) -> bool {
        let end_time = if le.date() == ls.date() {
            le.time()
        } else if Some(le.date()) == ls.date().succ_opt() && le.time() == NaiveTime::MIN {
            END_OF_DAY
        } else {
            return false;
        };
        self.windows(ls.date())
            .iter()
            .any(|&(open, close)| open <= ls.time() && end_time <= close)
    }
}

/// Dates (local) when a store is closed or a resource is off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DateSet(BTreeSet<NaiveDate>);

impl DateSet {
    pub fn new(dates: impl IntoIterator<Item = NaiveDate>) -> Result<DateSet, HoursError> {
        let set: BTreeSet<NaiveDate> = dates.into_iter().collect();
        if set.len() > CLOSED_DATES_MAX {
            return Err(HoursError::TooManyDates);
        }
        Ok(DateSet(set))
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.0.contains(&date)
    }

    pub fn iter(&self) -> impl Iterator<Item = &NaiveDate> {
        self.0.iter()
    }
}

/// A store's opening: weekly business hours and closed dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHours {
    pub business: WeeklyHours,
    pub closed: DateSet,
}

impl Default for StoreHours {
    fn default() -> Self {
        StoreHours {
            business: WeeklyHours::always(),
            closed: DateSet::default(),
        }
    }
}

/// Minutes a resource can work on `date`: its own windows within the store's business
/// hours, none on the store's closed dates or the resource's days off. The denominator of
/// utilisation.
pub fn working_minutes(
    store: &StoreHours,
    working: &WeeklyHours,
    days_off: &DateSet,
    date: NaiveDate,
) -> i64 {
    if store.closed.contains(date) || days_off.contains(date) {
        return 0;
    }
    let mut micros = 0i64;
    for (s1, e1) in store.business.windows(date) {
        for (s2, e2) in working.windows(date) {
            let (start, end) = ((*s1).max(*s2), (*e1).min(*e2));
            if end > start {
                micros += (end - start).num_microseconds().unwrap_or(0);
            }
        }
    }
    // END_OF_DAY is a microsecond short of midnight: round to the nearest minute.
    (micros + 30_000_000) / 60_000_000
}

/// The UTC instant of a local date and time in `tz`; `None` when that local time does not
/// exist (the hour skipped by a daylight-saving change). An ambiguous time (the repeated
/// hour) resolves to its first occurrence.
pub fn local_to_utc(tz: Tz, local: chrono::NaiveDateTime) -> Option<Timestamp> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(tz: Tz, s: &str) -> Timestamp {
        local_to_utc(
            tz,
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap(),
        )
        .unwrap()
    }

    /// The span `[start, end)` as the slot checks see it.
    fn covers(h: &WeeklyHours, tz: Tz, start: Timestamp, end: Timestamp) -> bool {
        end > start
            && h.covers_local(
                start.with_timezone(&tz).naive_local(),
                end.with_timezone(&tz).naive_local(),
            )
    }

    #[test]
    fn covers_respects_windows_in_local_time() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let mut days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        days[5] = vec![(t(9, 0), t(12, 0)), (t(13, 0), t(18, 0))]; // Saturday
        let h = WeeklyHours::new(days).unwrap();
        // 2026-03-07 is a Saturday.
        assert!(covers(
            &h,
            tz,
            utc(tz, "2026-03-07T09:00"),
            utc(tz, "2026-03-07T10:00")
        ));
        assert!(covers(
            &h,
            tz,
            utc(tz, "2026-03-07T11:00"),
            utc(tz, "2026-03-07T12:00")
        ));
        assert!(!covers(
            &h,
            tz,
            utc(tz, "2026-03-07T11:30"),
            utc(tz, "2026-03-07T12:30")
        ));
        assert!(!covers(
            &h,
            tz,
            utc(tz, "2026-03-08T10:00"),
            utc(tz, "2026-03-08T11:00")
        ));
        assert!(covers(
            &WeeklyHours::always(),
            tz,
            utc(tz, "2026-03-08T23:00"),
            utc(tz, "2026-03-09T00:00")
        ));
    }

    #[test]
    fn rejects_bad_windows() {
        let mut days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        days[0] = vec![(t(10, 0), t(9, 0))];
        assert!(WeeklyHours::new(days.clone()).is_err());
        days[0] = vec![(t(9, 0), t(12, 0)), (t(11, 0), t(13, 0))];
        assert_eq!(WeeklyHours::new(days), Err(HoursError::Overlap));
    }

    #[test]
    fn skipped_local_time_does_not_exist() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let gap = NaiveDateTime::parse_from_str("2026-03-08T02:30", "%Y-%m-%dT%H:%M").unwrap();
        assert_eq!(local_to_utc(tz, gap), None);
    }

    #[test]
    fn working_minutes_intersect_store_and_resource_hours() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(); // a Monday
        let mut store_days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        store_days[0] = vec![(t(9, 0), t(21, 0))];
        let store = StoreHours {
            business: WeeklyHours::new(store_days).unwrap(),
            closed: DateSet::default(),
        };
        let mut res_days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        res_days[0] = vec![(t(8, 0), t(12, 0)), (t(13, 0), t(23, 0))];
        let res = WeeklyHours::new(res_days).unwrap();
        assert_eq!(
            working_minutes(&store, &res, &DateSet::default(), day),
            3 * 60 + 8 * 60
        );
        let off = DateSet::new([day]).unwrap();
        assert_eq!(working_minutes(&store, &res, &off, day), 0);
        let always = StoreHours::default();
        assert_eq!(
            working_minutes(&always, &WeeklyHours::always(), &DateSet::default(), day),
            1440
        );
        assert_eq!(
            working_minutes(&store, &res, &DateSet::default(), day.succ_opt().unwrap()),
            0
        );
    }
}

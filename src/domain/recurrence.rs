//! Service-plan recurrence: weekly, daily or an explicit list, expanded in the store's local
//! time so that 10:00 stays 10:00 across a daylight-saving change.

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;

use super::hours::local_to_utc;
use super::ledger::Timestamp;

pub const OCCURRENCES_MAX: usize = 99;
/// First times of a weekly or daily plan (e.g. Saturday 10:00 and Wednesday 19:00).
pub const FIRST_TIMES_MAX: usize = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// Every week from each first time; `count` occurrences in all, in time order.
    Weekly {
        firsts: Vec<NaiveDateTime>,
        count: usize,
    },
    /// Every day from each first time; `count` occurrences in all, in time order.
    Daily {
        firsts: Vec<NaiveDateTime>,
        count: usize,
    },
    /// Exactly these local start times.
    Custom { starts: Vec<NaiveDateTime> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("a plan has 1 to {OCCURRENCES_MAX} occurrences, not {0}")]
    Count(usize),
    #[error("give 1 to {FIRST_TIMES_MAX} first times, not {0}")]
    FirstTimes(usize),
    #[error("the same start time is listed twice: {0}")]
    Duplicate(NaiveDateTime),
}

/// One occurrence: its 1-based position, local start, and UTC start (`None` when the local
/// time falls in a daylight-saving gap and so does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub index: usize,
    pub local: NaiveDateTime,
    pub start: Option<Timestamp>,
}

pub fn expand(repeat: &Repeat, tz: Tz) -> Result<Vec<Occurrence>, RecurrenceError> {
    let locals: Vec<NaiveDateTime> = match repeat {
        Repeat::Weekly { firsts, count } => periodic(firsts, *count, Duration::weeks(1))?,
        Repeat::Daily { firsts, count } => periodic(firsts, *count, Duration::days(1))?,
        Repeat::Custom { starts } => {
            if starts.is_empty() || starts.len() > OCCURRENCES_MAX {
                return Err(RecurrenceError::Count(starts.len()));
            }
            let mut sorted = starts.clone();
            sorted.sort();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(RecurrenceError::Duplicate(w[0]));
            }
            sorted
        }
    };
    Ok(locals
        .into_iter()
        .enumerate()
        .map(|(i, local)| Occurrence {
            index: i + 1,
            local,
            start: local_to_utc(tz, local),
        })
        .collect())
}

fn periodic(
    firsts: &[NaiveDateTime],
    count: usize,
    period: Duration,
) -> Result<Vec<NaiveDateTime>, RecurrenceError> {
    if count == 0 || count > OCCURRENCES_MAX {
        return Err(RecurrenceError::Count(count));
    }
    if firsts.is_empty() || firsts.len() > FIRST_TIMES_MAX {
        return Err(RecurrenceError::FirstTimes(firsts.len()));
    }
    let mut all = Vec::with_capacity(firsts.len() * count);
    for first in firsts {
        let mut t = *first;
        for _ in 0..count {
            all.push(t);
            t += period;
        }
    }
    all.sort();
    if let Some(w) = all.windows(2).find(|w| w[0] == w[1]) {
        return Err(RecurrenceError::Duplicate(w[0]));
    }
    all.truncate(count);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn weekly_two_first_times_interleave() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let r = Repeat::Weekly {
            firsts: vec![dt("2026-03-07T10:00"), dt("2026-03-11T19:00")],
            count: 5,
        };
        let occ = expand(&r, tz).unwrap();
        let locals: Vec<_> = occ.iter().map(|o| o.local).collect();
        assert_eq!(
            locals,
            [
                dt("2026-03-07T10:00"),
                dt("2026-03-11T19:00"),
                dt("2026-03-14T10:00"),
                dt("2026-03-18T19:00"),
                dt("2026-03-21T10:00")
            ]
        );
        assert_eq!(occ[4].index, 5);
    }

    #[test]
    fn local_time_is_kept_across_dst() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // Clocks go forward on 2026-03-29: 10:00 is 09:00 UTC before, 08:00 UTC after.
        let r = Repeat::Weekly {
            firsts: vec![dt("2026-03-21T10:00")],
            count: 3,
        };
        let occ = expand(&r, tz).unwrap();
        let utc: Vec<_> = occ
            .iter()
            .map(|o| o.start.unwrap().format("%H:%M").to_string())
            .collect();
        assert_eq!(utc, ["09:00", "09:00", "08:00"]);
    }

    #[test]
    fn limits() {
        let tz: Tz = "UTC".parse().unwrap();
        let f = vec![dt("2026-01-01T10:00")];
        assert!(expand(
            &Repeat::Daily {
                firsts: f.clone(),
                count: 0
            },
            tz
        )
        .is_err());
        assert!(expand(
            &Repeat::Daily {
                firsts: f.clone(),
                count: 100
            },
            tz
        )
        .is_err());
        assert_eq!(
            expand(
                &Repeat::Daily {
                    firsts: f.clone(),
                    count: 99
                },
                tz
            )
            .unwrap()
            .len(),
            99
        );
        assert_eq!(
            expand(
                &Repeat::Daily {
                    firsts: f,
                    count: 1
                },
                tz
            )
            .unwrap()
            .len(),
            1
        );
        assert!(expand(&Repeat::Custom { starts: vec![] }, tz).is_err());
        let dup = vec![dt("2026-01-01T10:00"), dt("2026-01-01T10:00")];
        assert!(matches!(
            expand(&Repeat::Custom { starts: dup }, tz),
            Err(RecurrenceError::Duplicate(_))
        ));
    }

    proptest! {
        /// Any valid weekly plan: exactly `count` occurrences, strictly increasing, numbered
        /// 1..=count, every one on a weekday of some first time at that first time's clock time.
        #[test]
        fn weekly_expansion_shape(day_offsets in proptest::collection::btree_set(0i64..7, 1..4), hour in 6u32..22, count in 1usize..=99) {
            let tz: Tz = "America/New_York".parse().unwrap();
            let base = dt("2026-01-05T00:00");
            let firsts: Vec<_> = day_offsets.iter().map(|d| base + Duration::days(*d) + Duration::hours(i64::from(hour))).collect();
            let occ = expand(&Repeat::Weekly { firsts: firsts.clone(), count }, tz).unwrap();
            prop_assert_eq!(occ.len(), count);
            for (i, o) in occ.iter().enumerate() {
                prop_assert_eq!(o.index, i + 1);
                prop_assert_eq!(o.local.time(), firsts[0].time());
                prop_assert!(o.start.is_some());
            }
            prop_assert!(occ.windows(2).all(|w| w[0].local < w[1].local));
        }
    }
}

//! When the scheduler must act on something next (a plan whose occurrence is due for its
//! reminder or completion): instants bucketed by hour. Adding is a push; entries are never
//! removed on change. Whoever takes due entries checks each against its object as it is now
//! and drops stale ones.

use std::collections::BTreeMap;

use super::ledger::Timestamp;

const BUCKET_SECONDS: i64 = 3_600;

#[derive(Debug)]
pub struct Agenda<K> {
    buckets: BTreeMap<i64, Vec<(Timestamp, K)>>,
}

impl<K> Default for Agenda<K> {
    fn default() -> Self {
        Agenda {
            buckets: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Copy> Agenda<K> {
    pub fn add(&mut self, at: Timestamp, id: K) {
        self.buckets
            .entry(at.timestamp().div_euclid(BUCKET_SECONDS))
            .or_default()
            .push((at, id));
    }

    /// Entries at or before `now`, earliest first, at most `max`; the rest stay.
    pub fn take_due(&mut self, now: Timestamp, max: usize) -> Vec<(Timestamp, K)> {
        let last = now.timestamp().div_euclid(BUCKET_SECONDS);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(mut entry) = self.buckets.first_entry() else {
                break;
            };
            if *entry.key() > last {
                break;
            }
            let bucket = entry.get_mut();
            bucket.sort_unstable();
            let due = bucket.partition_point(|(at, _)| *at <= now);
            let take = due.min(max - out.len());
            out.extend(bucket.drain(..take));
            if bucket.is_empty() {
                entry.remove();
            } else {
                // Not due yet, or over `max`: nothing later can be taken in this call.
                break;
            }
        }
        out
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::BookingId;
    use chrono::DateTime;
    use proptest::prelude::*;

    fn at(s: i64) -> Timestamp {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn takes_what_is_due_in_order_and_keeps_the_rest() {
        let mut a = Agenda::default();
        a.add(at(7_300), BookingId(3));
        a.add(at(10), BookingId(1));
        a.add(at(3_700), BookingId(2));
        a.add(at(20), BookingId(4));
        assert_eq!(a.take_due(at(5), 10), vec![]);
        assert_eq!(
            a.take_due(at(3_700), 2),
            vec![(at(10), BookingId(1)), (at(20), BookingId(4))]
        );
        assert_eq!(a.take_due(at(3_700), 10), vec![(at(3_700), BookingId(2))]);
        assert_eq!(a.len(), 1);
        assert_eq!(a.take_due(at(99_999), 10), vec![(at(7_300), BookingId(3))]);
        assert!(a.is_empty());
    }

    proptest! {
        /// Taking in steps of any size yields exactly the due entries, each once, in order.
        #[test]
        fn same_as_sorting_everything(
            entries in proptest::collection::vec((-10_000i64..20_000, 0u64..50), 0..200),
            now in -10_000i64..20_000,
            step in 1usize..40,
        ) {
            let mut a = Agenda::default();
            for (s, id) in &entries {
                a.add(at(*s), BookingId(*id));
            }
            let mut taken = Vec::new();
            loop {
                let got = a.take_due(at(now), step);
                prop_assert!(got.len() <= step);
                if got.is_empty() {
                    break;
                }
                taken.extend(got);
            }
            let mut want: Vec<(Timestamp, BookingId)> = entries
                .iter()
                .filter(|(s, _)| *s <= now)
                .map(|(s, id)| (at(*s), BookingId(*id)))
                .collect();
            want.sort_unstable();
            prop_assert_eq!(taken, want);
            prop_assert_eq!(a.len(), entries.len() - entries.iter().filter(|(s, _)| *s <= now).count());
        }
    }
}

//! When a member is reminded of an appointment or a plan occurrence: a lead time set per
//! store, and per service in that store, over the chain's default; and a same-day reminder
//! (当日提醒) at a local time of the day of the visit, when that comes before the lead.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::booking::ServiceId;
use super::ledger::Timestamp;

/// Longest lead time: a week.
pub const LEAD_MINUTES_MAX: u32 = 7 * 24 * 60;
/// Most services with a lead time of their own in one store.
pub const SERVICE_LEADS_MAX: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderPolicy {
    /// Minutes before the start; `None`: the chain's default.
    pub lead_minutes: Option<u32>,
    /// A local time on the day of the visit at which its reminder goes, when that is
    /// earlier than the lead time gives and still before the start.
    pub same_day_at: Option<NaiveTime>,
    /// Lead times of services in this store, over the store's.
    pub service_leads: BTreeMap<ServiceId, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReminderError {
    #[error("a lead time is at most {LEAD_MINUTES_MAX} minutes")]
    LeadTooLong,
    #[error("at most {SERVICE_LEADS_MAX} services with their own lead time")]
    TooManyServices,
}

impl ReminderPolicy {
    pub fn check(&self) -> Result<(), ReminderError> {
        let leads = self.lead_minutes.iter().chain(self.service_leads.values());
        if leads.into_iter().any(|m| *m > LEAD_MINUTES_MAX) {
            return Err(ReminderError::LeadTooLong);
        }
        if self.service_leads.len() > SERVICE_LEADS_MAX {
            return Err(ReminderError::TooManyServices);
        }
        Ok(())
    }

    /// When the reminder of a visit of `service` starting at `start` is due, in a store of
    /// zone `tz`, the chain's default lead being `default_lead`.
    pub fn due(
        &self,
        start: Timestamp,
        service: ServiceId,
        tz: Tz,
        default_lead: Duration,
    ) -> Timestamp {
        let lead = self
            .service_leads
            .get(&service)
            .copied()
            .or(self.lead_minutes)
            .map_or(default_lead, |m| Duration::minutes(i64::from(m)));
        let by_lead = start - lead;
        let Some(at) = self.same_day_at else {
            return by_lead;
        };
        let day = start.with_timezone(&tz).date_naive();
        // A time the clocks skip that day has no instant: the lead alone decides.
        let same_day = day
            .and_time(at)
            .and_local_timezone(tz)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc));
        match same_day {
            Some(t) if t < start => by_lead.min(t),
            _ => by_lead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn service_over_store_over_chain_and_the_morning_of_the_day() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let start = at("2026-03-02T06:00:00Z"); // 14:00 local
        let hour = Duration::hours(1);
        let mut p = ReminderPolicy::default();
        assert_eq!(
            p.due(start, ServiceId(1), tz, hour),
            at("2026-03-02T05:00:00Z")
        );
        p.lead_minutes = Some(30);
        assert_eq!(
            p.due(start, ServiceId(1), tz, hour),
            at("2026-03-02T05:30:00Z")
        );
        p.service_leads.insert(ServiceId(1), 24 * 60);
        assert_eq!(
            p.due(start, ServiceId(1), tz, hour),
            at("2026-03-01T06:00:00Z")
        );
        assert_eq!(
            p.due(start, ServiceId(2), tz, hour),
            at("2026-03-02T05:30:00Z")
        );
        // Same day at 09:00 local (01:00 UTC): earlier than 30 minutes before.
        p.same_day_at = Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(
            p.due(start, ServiceId(2), tz, hour),
            at("2026-03-02T01:00:00Z")
        );
        // A visit at 08:00 local is before 09:00: the lead decides.
        let early = at("2026-03-02T00:00:00Z");
        assert_eq!(
            p.due(early, ServiceId(2), tz, hour),
            at("2026-03-01T23:30:00Z")
        );
        // The day before by the service's lead is earlier still.
        assert_eq!(
            p.due(start, ServiceId(1), tz, hour),
            at("2026-03-01T06:00:00Z")
        );
        p.lead_minutes = Some(LEAD_MINUTES_MAX + 1);
        assert_eq!(p.check(), Err(ReminderError::LeadTooLong));
    }

    proptest! {
        /// A reminder is never after the start, never later than the lead time gives, and
        /// with a same-day time, never later than that time when it falls before the start.
        #[test]
        fn a_reminder_comes_before_the_visit(
            start_s in 1_700_000_000i64..1_900_000_000,
            lead in proptest::option::of(0u32..=LEAD_MINUTES_MAX),
            svc in proptest::option::of(0u32..=LEAD_MINUTES_MAX),
            same in proptest::option::of((0u32..24, 0u32..60)),
            zone in prop::sample::select(vec!["Asia/Shanghai", "America/New_York", "Europe/London", "UTC"]),
        ) {
            let tz: Tz = zone.parse().unwrap();
            let start = Timestamp::from_timestamp(start_s, 0).unwrap();
            let mut p = ReminderPolicy { lead_minutes: lead, ..ReminderPolicy::default() };
            if let Some(m) = svc {
                p.service_leads.insert(ServiceId(7), m);
            }
            p.same_day_at = same.map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap());
            let default = Duration::minutes(60);
            let due = p.due(start, ServiceId(7), tz, default);
            let lead = svc.or(lead).map_or(default, |m| Duration::minutes(i64::from(m)));
            prop_assert!(due <= start);
            prop_assert!(due <= start - lead);
            if due < start - lead {
                // Only the same-day time makes it earlier, on the visit's own local day.
                prop_assert_eq!(due.with_timezone(&tz).date_naive(), start.with_timezone(&tz).date_naive());
            }
        }
    }
}

//! Wire types of scheduling: services, resources, hours, appointments, plans, events.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::domain::booking::*;
use crate::domain::hours::{
    DateSet, WeeklyHours, CLOSED_DATES_MAX, END_OF_DAY, WINDOWS_PER_DAY_MAX,
};
use crate::domain::ids::MemberId;
use crate::domain::ledger::Timestamp;
use crate::domain::planning::{FreeStart, OccurrenceFailure, Reason};
use crate::domain::recurrence::{Repeat, FIRST_TIMES_MAX, OCCURRENCES_MAX};
use crate::storage::schedule_codec::EventRec;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const LOCAL_FMT: &str = "%Y-%m-%dT%H:%M:%S";

use super::dto::text;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    pub service_plans_enabled: bool,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    #[schema(min_length = 1)]
    pub name: String,
    pub duration_minutes: u32,
    /// "appointment" or "service_plan"; can't change once saved.
    pub booking_mode: String,
    pub resource_kinds: Vec<String>,
    #[serde(default)]
    pub requires_review: bool,
}

/// Weekly windows: `{"mon": [["09:00", "21:00"]], ...}`; a missing day is closed.
pub type HoursBody = BTreeMap<String, Vec<(String, String)>>;

/// [`HoursBody`] in the document: weekday names, each with windows of two `HH:MM` times.
fn hours_schema() -> utoipa::openapi::Object {
    hours_object(utoipa::openapi::schema::SchemaType::new(
        utoipa::openapi::schema::Type::Object,
    ))
}

fn optional_hours_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    hours_object(SchemaType::from_iter([Type::Object, Type::Null]))
}

fn hours_object(kind: utoipa::openapi::schema::SchemaType) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
    let day = || {
        let time = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{2}:[0-9]{2}$"));
        let window = ArrayBuilder::new()
            .items(time)
            .min_items(Some(2))
            .max_items(Some(2));
        ArrayBuilder::new()
            .items(window)
            .max_items(Some(WINDOWS_PER_DAY_MAX))
    };
    let mut o = ObjectBuilder::new()
        .schema_type(kind)
        .description(Some(
            "Weekly windows, e.g. `{\"mon\": [[\"09:00\", \"21:00\"]]}`; a missing day is closed",
        ))
        .additional_properties(Some(
            AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(false),
        ));
    for d in WEEKDAYS {
        o = o.property(d, day());
    }
    o.build()
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreHoursBody {
    /// Weekly windows, e.g. `{"mon": [["09:00", "21:00"]]}`; a missing day is closed.
    #[schema(schema_with = hours_schema)]
    pub business_hours: HoursBody,
    #[serde(default)]
    pub closed_dates: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    #[schema(min_length = 1)]
    pub name: String,
    pub kind: String,
    pub capacity: u32,
    /// Absent: always available (within the store's business hours).
    #[schema(schema_with = optional_hours_schema)]
    pub working_hours: Option<HoursBody>,
    #[serde(default)]
    pub days_off: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentBody {
    pub member_id: u64,
    pub service_id: u64,
    /// RFC 3339 with an offset, or a wall-clock time in the store's zone ("2026-03-07T10:00").
    pub start: String,
    pub resource_ids: Vec<u64>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Periodic {
    pub first_times: Vec<String>,
    pub count: usize,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Custom {
    pub starts: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum RepeatBody {
    Weekly(Periodic),
    Daily(Periodic),
    Custom(Custom),
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    pub member_id: u64,
    pub service_id: u64,
    pub resource_ids: Vec<u64>,
    pub repeat: RepeatBody,
    #[serde(default)]
    pub dry_run: bool,
    /// A count card (次卡) of the member for this service: each completed occurrence
    /// takes one session from it, in the same write as the completion.
    #[serde(default)]
    pub count_card_id: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// New wall-clock start in the store's zone.
    pub start: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockBody {
    pub now: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    pub service_id: u64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub step_minutes: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
}

/// Which of a store's appointments (and plan occurrences) to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AppointmentsQuery {
    /// First day, in the store's time zone: bookings that start on it or later.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (at most 366 days after `from`); `from` alone lists that day.
    pub to: Option<NaiveDate>,
    /// `pending` (the queue waiting for review), `confirmed`, `checked_in`, `completed`,
    /// `cancelled`, `rejected` or `no_show`.
    pub status: Option<String>,
    pub resource_id: Option<u64>,
    pub service_id: Option<u64>,
    pub member_id: Option<u64>,
    /// `appointment` or `plan` (an occurrence of a service plan).
    pub origin: Option<String>,
    /// The `next_after` of the page before.
    pub after: Option<String>,
    /// 1 to the configured page size (default 100, at most 500).
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

/// Which of a member's appointments (and plan occurrences) to list, in every store.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberAppointmentsQuery {
    /// First day, in each store's time zone.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive; `from` alone lists that day.
    pub to: Option<NaiveDate>,
    /// As for a store's list: `pending`, `confirmed`, `checked_in`, ...
    pub status: Option<String>,
    /// `appointment` or `plan`.
    pub origin: Option<String>,
    /// The `next_after` of the page before.
    pub after: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

impl MemberAppointmentsQuery {
    /// The store list's query for `member`.
    pub fn for_member(self, member: MemberId) -> AppointmentsQuery {
        AppointmentsQuery {
            from: self.from,
            to: self.to,
            status: self.status,
            resource_id: None,
            service_id: None,
            member_id: Some(member.get()),
            origin: self.origin,
            after: self.after,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub after: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidSchedule(msg.into())
}

pub fn parse_local(raw: &str) -> Result<NaiveDateTime, ApiError> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, LOCAL_FMT))
        .map_err(|_| {
            invalid(format!(
                "{:?} is not a local date-time like 2026-03-07T10:00",
                truncate(raw)
            ))
        })
}

fn truncate(raw: &str) -> String {
    raw.chars().take(40).collect()
}

fn parse_time(raw: &str) -> Result<NaiveTime, ApiError> {
    if raw == "24:00" {
        return Ok(END_OF_DAY);
    }
    NaiveTime::parse_from_str(raw, "%H:%M")
        .map_err(|_| invalid(format!("{:?} is not a time like 09:30", truncate(raw))))
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| invalid(format!("{:?} is not a date like 2026-12-25", truncate(raw))))
}

pub fn weekly(body: &HoursBody) -> Result<WeeklyHours, ApiError> {
    let mut days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
    for (day, windows) in body {
        let i = WEEKDAYS
            .iter()
            .position(|d| d == day)
            .ok_or_else(|| invalid(format!("unknown weekday {:?}: use mon..sun", truncate(day))))?;
        if windows.len() > WINDOWS_PER_DAY_MAX {
            return Err(invalid(format!(
                "at most {WINDOWS_PER_DAY_MAX} windows a day"
            )));
        }
        days[i] = windows
            .iter()
            .map(|(o, c)| Ok((parse_time(o)?, parse_time(c)?)))
            .collect::<Result<_, ApiError>>()?;
    }
    WeeklyHours::new(days).map_err(|e| invalid(e.to_string()))
}

pub fn dates(raw: &[String]) -> Result<DateSet, ApiError> {
    if raw.len() > CLOSED_DATES_MAX {
        return Err(invalid(format!("at most {CLOSED_DATES_MAX} dates")));
    }
    let parsed: Vec<NaiveDate> = raw
        .iter()
        .map(|d| parse_date(d))
        .collect::<Result<_, _>>()?;
    DateSet::new(parsed).map_err(|e| invalid(e.to_string()))
}

pub fn repeat(body: &RepeatBody) -> Result<Repeat, ApiError> {
    let locals = |raw: &[String], max: usize| -> Result<Vec<NaiveDateTime>, ApiError> {
        if raw.is_empty() || raw.len() > max {
            return Err(invalid(format!(
                "give 1 to {max} start times, not {}",
                raw.len()
            )));
        }
        raw.iter().map(|s| parse_local(s)).collect()
    };
    Ok(match body {
        RepeatBody::Weekly(p) => Repeat::Weekly {
            firsts: locals(&p.first_times, FIRST_TIMES_MAX)?,
            count: p.count,
        },
        RepeatBody::Daily(p) => Repeat::Daily {
            firsts: locals(&p.first_times, FIRST_TIMES_MAX)?,
            count: p.count,
        },
        RepeatBody::Custom(c) => {
            if c.starts.len() > OCCURRENCES_MAX {
                return Err(ApiError::Recurrence(
                    crate::domain::recurrence::RecurrenceError::Count(c.starts.len()),
                ));
            }
            Repeat::Custom {
                starts: locals(&c.starts, OCCURRENCES_MAX)?,
            }
        }
    })
}

pub fn hours_dto(h: &WeeklyHours) -> HoursBody {
    let fmt = |t: NaiveTime| {
        if t == END_OF_DAY {
            "24:00".to_owned()
        } else {
            t.format("%H:%M").to_string()
        }
    };
    WEEKDAYS
        .iter()
        .zip(h.days())
        .filter(|(_, w)| !w.is_empty())
        .map(|(d, w)| {
            (
                d.to_string(),
                w.iter().map(|&(o, c)| (fmt(o), fmt(c))).collect(),
            )
        })
        .collect()
}

pub fn dates_dto(d: &DateSet) -> Vec<String> {
    d.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedDto {
    pub id: u64,
    /// Always true.
    pub deleted: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreHoursDto {
    pub store_id: u32,
    pub time_zone: &'static str,
    #[schema(schema_with = hours_schema)]
    pub business_hours: HoursBody,
    pub closed_dates: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServicesPage {
    pub services: Vec<ServiceDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourcesDto {
    pub resources: Vec<ResourceDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlansDto {
    pub plans: Vec<PlanDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FreeStartsDto {
    pub store_id: u32,
    pub starts: Vec<FreeStartDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventDto>,
    /// Pass as `after` for the next page; absent when the page is empty.
    pub next_after: Option<u64>,
}

/// A store's (or a member's) appointments and plan occurrences, in start order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentsPage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<u64>,
    pub appointments: Vec<BookingDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceDto {
    pub id: u64,
    pub name: String,
    pub duration_minutes: u32,
    pub booking_mode: &'static str,
    pub resource_kinds: Vec<String>,
    pub requires_review: bool,
}

impl From<&Service> for ServiceDto {
    fn from(s: &Service) -> Self {
        ServiceDto {
            id: s.id.0,
            name: s.name.as_str().to_owned(),
            duration_minutes: s.duration_minutes,
            booking_mode: match s.mode {
                BookingMode::Appointment => "appointment",
                BookingMode::ServicePlan => "service_plan",
            },
            resource_kinds: s
                .resource_kinds
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            requires_review: s.requires_review,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceDto {
    pub id: u64,
    pub store_id: u32,
    pub name: String,
    pub kind: String,
    pub capacity: u32,
    #[schema(schema_with = hours_schema)]
    pub working_hours: HoursBody,
    pub days_off: Vec<String>,
}

impl From<&Resource> for ResourceDto {
    fn from(r: &Resource) -> Self {
        ResourceDto {
            id: r.id.0,
            store_id: r.store.get(),
            name: r.name.as_str().to_owned(),
            kind: r.kind.as_str().to_owned(),
            capacity: r.capacity,
            working_hours: hours_dto(&r.working_hours),
            days_off: dates_dto(&r.days_off),
        }
    }
}

/// A booking's wall-clock start in the store's zone.
fn local_start(b: &Booking, tz: Tz) -> NaiveDateTime {
    b.start.with_timezone(&tz).naive_local()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingDto {
    pub id: u64,
    pub store_id: u32,
    pub member_id: u64,
    pub service_id: u64,
    pub resource_ids: Vec<u64>,
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Wall-clock start in the store's zone (`YYYY-MM-DDTHH:MM:SS`).
    #[serde(serialize_with = "text::local")]
    #[schema(value_type = String, example = "2026-03-07T10:00:00")]
    pub local_start: NaiveDateTime,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
}

impl BookingDto {
    pub fn new(b: &Booking, tz: Tz) -> BookingDto {
        let (plan_id, occurrence) = match b.origin {
            BookingOrigin::Plan { plan, index } => (Some(plan.0), Some(index)),
            BookingOrigin::Appointment => (None, None),
        };
        BookingDto {
            id: b.id.0,
            store_id: b.store.get(),
            member_id: b.member.get(),
            service_id: b.service.0,
            resource_ids: b.resources.iter().map(|r| r.0).collect(),
            start: b.start,
            end: b.end,
            local_start: local_start(b, tz),
            status: b.status.as_str(),
            plan_id,
            occurrence,
        }
    }
}

/// A resource's bookings, one page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingsDto {
    pub bookings: Vec<BookingDto>,
    /// Set when the page is full: ask again from here. Bookings in force at that instant
    /// come again; there are at most the resource's capacity of them, far fewer than a page.
    #[serde(serialize_with = "text::optional_instant")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_from: Option<Timestamp>,
}

/// One occurrence in a plan's answer: member, service, resources and plan are the plan's,
/// so they are not repeated 99 times.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OccurrenceDto {
    pub id: u64,
    /// 1-based.
    pub occurrence: u32,
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// Wall-clock start in the store's zone (`YYYY-MM-DDTHH:MM:SS`).
    #[serde(serialize_with = "text::local")]
    #[schema(value_type = String, example = "2026-03-07T10:00:00")]
    pub local_start: NaiveDateTime,
    pub status: &'static str,
}

impl OccurrenceDto {
    pub fn new(b: &Booking, tz: Tz) -> OccurrenceDto {
        OccurrenceDto {
            id: b.id.0,
            occurrence: match b.origin {
                BookingOrigin::Plan { index, .. } => index,
                BookingOrigin::Appointment => 0,
            },
            start: b.start,
            end: b.end,
            local_start: local_start(b, tz),
            status: b.status.as_str(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanDto {
    /// Absent on a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub store_id: u32,
    pub member_id: u64,
    pub service_id: u64,
    pub resource_ids: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_card_id: Option<u32>,
    pub status: &'static str,
    pub dry_run: bool,
    pub occurrences: Vec<OccurrenceDto>,
}

impl PlanDto {
    pub fn new(p: &Plan, bookings: &[Booking], tz: Tz, dry_run: bool) -> PlanDto {
        let statuses: Vec<BookingStatus> = bookings.iter().map(|b| b.status).collect();
        PlanDto {
            id: (!dry_run).then_some(p.id.0),
            store_id: p.store.get(),
            member_id: p.member.get(),
            service_id: p.service.0,
            resource_ids: p.resources.iter().map(|r| r.0).collect(),
            count_card_id: p.count_card.map(|c| c.0),
            status: if dry_run {
                "dry_run"
            } else {
                plan_status(&statuses)
            },
            dry_run,
            occurrences: bookings.iter().map(|b| OccurrenceDto::new(b, tz)).collect(),
        }
    }

    /// The JSON serde_json writes for this plan, with the occurrences (the bulk: up to 99)
    /// written directly. Their fields are numbers, whole-second times and fixed words that
    /// never need escaping; serde_json's escaping pass over every key and time was a sixth
    /// of the HTTP threads in the plans benchmark.
    pub fn to_json(mut self) -> Result<Vec<u8>, serde_json::Error> {
        let occurrences = std::mem::take(&mut self.occurrences);
        let mut out = Vec::with_capacity(256 + occurrences.len() * OCCURRENCE_JSON_LEN);
        serde_json::to_writer(&mut out, &self)?;
        // `occurrences` is the last field: `..."occurrences":[]}`.
        debug_assert!(out.ends_with(b"[]}"));
        out.truncate(out.len() - 2);
        for (i, o) in occurrences.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            o.write_json(&mut out)?;
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

/// About the length of one occurrence's JSON.
const OCCURRENCE_JSON_LEN: usize = 150;

impl OccurrenceDto {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let (Some(mut start), Some(mut end), Some(local)) = (
            text::whole_seconds(&self.start.naive_utc()),
            text::whole_seconds(&self.end.naive_utc()),
            text::whole_seconds(&self.local_start),
        ) else {
            return serde_json::to_writer(out, self);
        };
        debug_assert!(self
            .status
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_'));
        start[text::WHOLE_LEN] = b'Z';
        end[text::WHOLE_LEN] = b'Z';
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(n.format(self.id).as_bytes());
        out.extend_from_slice(b",\"occurrence\":");
        out.extend_from_slice(n.format(self.occurrence).as_bytes());
        out.extend_from_slice(b",\"start\":\"");
        out.extend_from_slice(&start);
        out.extend_from_slice(b"\",\"end\":\"");
        out.extend_from_slice(&end);
        out.extend_from_slice(b"\",\"local_start\":\"");
        out.extend_from_slice(&local[..text::WHOLE_LEN]);
        out.extend_from_slice(b"\",\"status\":\"");
        out.extend_from_slice(self.status.as_bytes());
        out.extend_from_slice(b"\"}");
        Ok(())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReasonDto {
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub booking_ids: Vec<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailureDto {
    pub occurrence: usize,
    #[serde(serialize_with = "text::local")]
    #[schema(value_type = String, example = "2026-03-07T10:00:00")]
    pub local_start: NaiveDateTime,
    pub reasons: Vec<ReasonDto>,
}

impl From<&OccurrenceFailure> for FailureDto {
    fn from(f: &OccurrenceFailure) -> Self {
        FailureDto {
            occurrence: f.index,
            local_start: f.local,
            reasons: f
                .reasons
                .iter()
                .map(|r| {
                    let (reason, resource_id, booking_ids) = match r {
                        Reason::NonexistentLocalTime => ("nonexistent_local_time", None, vec![]),
                        Reason::InThePast => ("in_the_past", None, vec![]),
                        Reason::StoreClosed => ("store_closed", None, vec![]),
                        Reason::OutsideBusinessHours => ("outside_business_hours", None, vec![]),
                        Reason::ResourceDayOff(r) => ("resource_day_off", Some(r.0), vec![]),
                        Reason::OutsideWorkingHours(r) => {
                            ("outside_working_hours", Some(r.0), vec![])
                        }
                        Reason::Booked { resource, bookings } => (
                            "booked",
                            Some(resource.0),
                            bookings.iter().map(|b| b.0).collect(),
                        ),
                    };
                    ReasonDto {
                        reason,
                        resource_id,
                        booking_ids,
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictReport {
    /// `plan_conflicts` (a plan) or `slot_unavailable` (an appointment or a move).
    pub code: &'static str,
    pub message: String,
    pub dry_run: bool,
    pub failures: Vec<FailureDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FreeStartDto {
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[serde(serialize_with = "text::local")]
    #[schema(value_type = String, example = "2026-03-07T10:00:00")]
    pub local_start: NaiveDateTime,
    pub resource_ids: Vec<u64>,
}

impl From<&FreeStart> for FreeStartDto {
    fn from(f: &FreeStart) -> Self {
        FreeStartDto {
            start: f.start,
            local_start: f.local,
            resource_ids: f.resources.iter().map(|r| r.0).collect(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventDto {
    pub seq: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    pub kind: String,
    pub booking_id: u64,
    pub plan_id: Option<u64>,
    pub member_id: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
}

impl From<&EventRec> for EventDto {
    fn from(e: &EventRec) -> Self {
        EventDto {
            seq: e.seq,
            at: chrono::DateTime::from_timestamp_micros(e.at_us),
            kind: e.kind.clone(),
            booking_id: e.booking,
            plan_id: e.plan,
            member_id: e.member,
            start: chrono::DateTime::from_timestamp_micros(e.start_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};
    use proptest::prelude::*;

    use super::{OccurrenceDto, PlanDto};

    fn occurrence(id: u64, start_us: i64, status: &'static str) -> OccurrenceDto {
        let start = DateTime::from_timestamp_micros(start_us).expect("in range");
        OccurrenceDto {
            id,
            occurrence: (id % 100) as u32,
            start,
            end: start + Duration::minutes(45),
            local_start: (start + Duration::hours(8)).naive_utc(),
            status,
        }
    }

    proptest! {
        /// The hand-written occurrences give serde_json's exact bytes, fractions included.
        #[test]
        fn plan_json_is_serde_jsons(
            starts in prop::collection::vec(-50_000_000_000_000_000i64..200_000_000_000_000_000, 0..8),
            whole in any::<bool>(),
            dry in any::<bool>(),
        ) {
            let occurrences: Vec<OccurrenceDto> = starts
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = if whole { s - s.rem_euclid(1_000_000) } else { *s };
                    occurrence(i as u64 + 1, s, ["confirmed", "checked_in", "no_show"][i % 3])
                })
                .collect();
            let dto = PlanDto {
                id: (!dry).then_some(7 << 32 | 3),
                store_id: 7,
                member_id: 42,
                service_id: 9,
                resource_ids: vec![1, 2],
                count_card_id: dry.then_some(5),
                status: "active",
                dry_run: dry,
                occurrences,
            };
            let expected = serde_json::to_vec(&dto).expect("serializes");
            prop_assert_eq!(
                String::from_utf8(dto.to_json().expect("serializes")).expect("UTF-8"),
                String::from_utf8(expected).expect("UTF-8")
            );
        }
    }
}

//! Stored records of scheduling: services, resources, hours, bookings, plans, events.
//! Same rules as `codec`: flat serde records, re-validated on the way back.

use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use super::codec::CodecError;
use crate::domain::booking::*;
use crate::domain::calendar::BookingId;
use crate::domain::hours::{DateSet, StoreHours, WeeklyHours};
use crate::domain::ids::{MemberId, Name, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::planning::{OccurrenceFailure, Reason};

fn ts(us: i64) -> Result<Timestamp, CodecError> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| CodecError::Invalid("timestamp".into()))
}

fn bad(what: &str) -> CodecError {
    CodecError::Invalid(what.into())
}

pub type WeeklyRec = Vec<Vec<(u32, u32)>>;

pub fn weekly_rec(h: &WeeklyHours) -> WeeklyRec {
    let micros = |t: NaiveTime| t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000;
    h.days()
        .iter()
        .map(|d| d.iter().map(|&(o, c)| (micros(o), micros(c))).collect())
        .collect()
}

pub fn weekly_from(r: WeeklyRec) -> Result<WeeklyHours, CodecError> {
    let t = |ms: u32| {
        NaiveTime::from_num_seconds_from_midnight_opt(ms / 1000, (ms % 1000) * 1_000_000)
            .ok_or_else(|| bad("time of day"))
    };
    let days: Vec<Vec<(NaiveTime, NaiveTime)>> = r
        .into_iter()
        .map(|d| {
            d.into_iter()
                .map(|(o, c)| Ok((t(o)?, t(c)?)))
                .collect::<Result<_, CodecError>>()
        })
        .collect::<Result<_, _>>()?;
    let days: [Vec<(NaiveTime, NaiveTime)>; 7] = days.try_into().map_err(|_| bad("seven days"))?;
    WeeklyHours::new(days).map_err(|e| bad(&e.to_string()))
}

pub fn dates_rec(d: &DateSet) -> Vec<i32> {
    d.iter().map(|d| d.num_days_from_ce()).collect()
}

use chrono::Datelike;

pub fn dates_from(r: Vec<i32>) -> Result<DateSet, CodecError> {
    let dates: Vec<NaiveDate> = r
        .into_iter()
        .map(|d| NaiveDate::from_num_days_from_ce_opt(d).ok_or_else(|| bad("date")))
        .collect::<Result<_, _>>()?;
    DateSet::new(dates).map_err(|e| bad(&e.to_string()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRec {
    pub id: u64,
    pub name: String,
    pub duration_minutes: u32,
    pub plan_mode: bool,
    pub resource_kinds: Vec<String>,
    pub requires_review: bool,
    pub deleted: bool,
}

impl ServiceRec {
    pub fn new(s: &Service, deleted: bool) -> ServiceRec {
        ServiceRec {
            id: s.id.0,
            name: s.name.as_str().to_owned(),
            duration_minutes: s.duration_minutes,
            plan_mode: s.mode == BookingMode::ServicePlan,
            resource_kinds: s
                .resource_kinds
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            requires_review: s.requires_review,
            deleted,
        }
    }

    pub fn into_domain(self) -> Result<(Service, bool), CodecError> {
        Ok((
            Service {
                id: ServiceId(self.id),
                name: Name::new(&self.name, "service name")?,
                duration_minutes: self.duration_minutes,
                mode: if self.plan_mode {
                    BookingMode::ServicePlan
                } else {
                    BookingMode::Appointment
                },
                resource_kinds: self
                    .resource_kinds
                    .iter()
                    .map(|k| ResourceKind::new(k).ok_or_else(|| bad("resource kind")))
                    .collect::<Result<_, _>>()?,
                requires_review: self.requires_review,
            },
            self.deleted,
        ))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingsRec {
    pub plans_enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreHoursRec {
    pub business: WeeklyRec,
    pub closed: Vec<i32>,
}

impl From<&StoreHours> for StoreHoursRec {
    fn from(h: &StoreHours) -> Self {
        StoreHoursRec {
            business: weekly_rec(&h.business),
            closed: dates_rec(&h.closed),
        }
    }
}

impl TryFrom<StoreHoursRec> for StoreHours {
    type Error = CodecError;
    fn try_from(r: StoreHoursRec) -> Result<Self, CodecError> {
        Ok(StoreHours {
            business: weekly_from(r.business)?,
            closed: dates_from(r.closed)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceRec {
    pub id: u64,
    pub store: u32,
    pub name: String,
    pub kind: String,
    pub capacity: u32,
    pub working_hours: WeeklyRec,
    pub days_off: Vec<i32>,
}

impl From<&Resource> for ResourceRec {
    fn from(r: &Resource) -> Self {
        ResourceRec {
            id: r.id.0,
            store: r.store.get(),
            name: r.name.as_str().to_owned(),
            kind: r.kind.as_str().to_owned(),
            capacity: r.capacity,
            working_hours: weekly_rec(&r.working_hours),
            days_off: dates_rec(&r.days_off),
        }
    }
}

impl TryFrom<ResourceRec> for Resource {
    type Error = CodecError;
    fn try_from(r: ResourceRec) -> Result<Self, CodecError> {
        Ok(Resource {
            id: ResourceId(r.id),
            store: StoreId::new(r.store)?,
            name: Name::new(&r.name, "resource name")?,
            kind: ResourceKind::new(&r.kind).ok_or_else(|| bad("resource kind"))?,
            capacity: r.capacity,
            working_hours: weekly_from(r.working_hours)?,
            days_off: dates_from(r.days_off)?,
        })
    }
}

fn status_code(s: BookingStatus) -> u8 {
    match s {
        BookingStatus::Pending => 0,
        BookingStatus::Confirmed => 1,
        BookingStatus::CheckedIn => 2,
        BookingStatus::Completed => 3,
        BookingStatus::Cancelled => 4,
        BookingStatus::Rejected => 5,
        BookingStatus::NoShow => 6,
    }
}

fn status_from(c: u8) -> Result<BookingStatus, CodecError> {
    Ok(match c {
        0 => BookingStatus::Pending,
        1 => BookingStatus::Confirmed,
        2 => BookingStatus::CheckedIn,
        3 => BookingStatus::Completed,
        4 => BookingStatus::Cancelled,
        5 => BookingStatus::Rejected,
        6 => BookingStatus::NoShow,
        _ => return Err(bad("booking status")),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BookingRec {
    pub id: u64,
    pub store: u32,
    pub member: u64,
    pub service: u64,
    pub resources: Vec<u64>,
    pub start_us: i64,
    pub end_us: i64,
    pub status: u8,
    /// (plan id, 1-based index) for a plan occurrence.
    pub plan: Option<(u64, u32)>,
    pub reminded: bool,
}

impl From<&Booking> for BookingRec {
    fn from(b: &Booking) -> Self {
        BookingRec {
            id: b.id.0,
            store: b.store.get(),
            member: b.member.get(),
            service: b.service.0,
            resources: b.resources.iter().map(|r| r.0).collect(),
            start_us: b.start.timestamp_micros(),
            end_us: b.end.timestamp_micros(),
            status: status_code(b.status),
            plan: match b.origin {
                BookingOrigin::Appointment => None,
                BookingOrigin::Plan { plan, index } => Some((plan.0, index)),
            },
            reminded: b.reminded,
        }
    }
}

impl TryFrom<BookingRec> for Booking {
    type Error = CodecError;
    fn try_from(r: BookingRec) -> Result<Self, CodecError> {
        Ok(Booking {
            id: BookingId(r.id),
            store: StoreId::new(r.store)?,
            member: MemberId::parse(r.member)?,
            service: ServiceId(r.service),
            resources: r.resources.into_iter().map(ResourceId).collect(),
            start: ts(r.start_us)?,
            end: ts(r.end_us)?,
            status: status_from(r.status)?,
            origin: match r.plan {
                None => BookingOrigin::Appointment,
                Some((plan, index)) => BookingOrigin::Plan {
                    plan: PlanId(plan),
                    index,
                },
            },
            reminded: r.reminded,
        })
    }
}

/// A plan with its occurrences as they were booked, in one record: creating a plan writes
/// one key, not one per occurrence. A later change of an occurrence (status, reminder,
/// move) is a `K` booking record, which overrides the occurrence's line here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRec {
    pub id: u64,
    pub store: u32,
    pub member: u64,
    pub service: u64,
    pub resources: Vec<u64>,
    pub created_at_us: i64,
    pub count_card: Option<u32>,
    /// The status every occurrence was booked with.
    pub booked_status: u8,
    pub occurrences: Vec<OccurrenceRec>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct OccurrenceRec {
    pub id: u64,
    /// 1-based.
    pub index: u32,
    pub start_us: i64,
    pub end_us: i64,
}

impl PlanRec {
    /// `plan` with `bookings` (its occurrences, in order) as their times and status now.
    pub fn new(plan: &Plan, bookings: &[Booking]) -> PlanRec {
        debug_assert!(plan.occurrences.len() == bookings.len() || plan.id.0 == 0);
        PlanRec {
            id: plan.id.0,
            store: plan.store.get(),
            member: plan.member.get(),
            service: plan.service.0,
            resources: plan.resources.iter().map(|r| r.0).collect(),
            created_at_us: plan.created_at.timestamp_micros(),
            count_card: plan.count_card.map(|c| c.0),
            booked_status: bookings
                .first()
                .map_or(status_code(BookingStatus::Confirmed), |b| {
                    status_code(b.status)
                }),
            occurrences: bookings
                .iter()
                .map(|b| OccurrenceRec {
                    id: b.id.0,
                    index: match b.origin {
                        BookingOrigin::Plan { index, .. } => index,
                        BookingOrigin::Appointment => 0,
                    },
                    start_us: b.start.timestamp_micros(),
                    end_us: b.end.timestamp_micros(),
                })
                .collect(),
        }
    }

    /// True when `bookings` are exactly what [`PlanRec::new`] of them gives back: every
    /// occurrence still as it was booked.
    pub fn is_as_booked(plan: &Plan, bookings: &[Booking]) -> bool {
        let status = bookings.first().map(|b| b.status);
        plan.occurrences.len() == bookings.len()
            && plan.occurrences.iter().zip(bookings).all(|(id, b)| {
                b.id == *id
                    && Some(b.status) == status
                    && !b.reminded
                    && b.store == plan.store
                    && b.member == plan.member
                    && b.service == plan.service
                    && b.resources == plan.resources
                    && matches!(b.origin, BookingOrigin::Plan { plan: p, index } if p == plan.id && index > 0)
            })
    }

    /// The plan and its occurrences as booked.
    pub fn into_parts(self) -> Result<(Plan, Vec<Booking>), CodecError> {
        let plan = Plan {
            id: PlanId(self.id),
            store: StoreId::new(self.store)?,
            member: MemberId::parse(self.member)?,
            service: ServiceId(self.service),
            resources: self.resources.into_iter().map(ResourceId).collect(),
            occurrences: self.occurrences.iter().map(|o| BookingId(o.id)).collect(),
            created_at: ts(self.created_at_us)?,
            count_card: self.count_card.map(crate::domain::membership::CardId),
        };
        let status = status_from(self.booked_status)?;
        let bookings = self
            .occurrences
            .iter()
            .map(|o| {
                Ok(Booking {
                    id: BookingId(o.id),
                    store: plan.store,
                    member: plan.member,
                    service: plan.service,
                    resources: plan.resources.clone(),
                    start: ts(o.start_us)?,
                    end: ts(o.end_us)?,
                    status,
                    origin: BookingOrigin::Plan {
                        plan: plan.id,
                        index: o.index,
                    },
                    reminded: false,
                })
            })
            .collect::<Result<_, CodecError>>()?;
        Ok((plan, bookings))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReasonRec {
    NonexistentLocalTime,
    InThePast,
    StoreClosed,
    OutsideBusinessHours,
    ResourceDayOff(u64),
    OutsideWorkingHours(u64),
    Booked { resource: u64, bookings: Vec<u64> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRec {
    pub index: u32,
    /// The wall-clock start as seconds since 1970-01-01T00:00 of that clock (not text:
    /// formatting it was 4% of a store actor's time under conflicting plans).
    pub local_s: i64,
    pub reasons: Vec<ReasonRec>,
}

impl From<&OccurrenceFailure> for FailureRec {
    fn from(f: &OccurrenceFailure) -> Self {
        FailureRec {
            index: f.index as u32,
            local_s: f.local.and_utc().timestamp(),
            reasons: f
                .reasons
                .iter()
                .map(|r| match r {
                    Reason::NonexistentLocalTime => ReasonRec::NonexistentLocalTime,
                    Reason::InThePast => ReasonRec::InThePast,
                    Reason::StoreClosed => ReasonRec::StoreClosed,
                    Reason::OutsideBusinessHours => ReasonRec::OutsideBusinessHours,
                    Reason::ResourceDayOff(r) => ReasonRec::ResourceDayOff(r.0),
                    Reason::OutsideWorkingHours(r) => ReasonRec::OutsideWorkingHours(r.0),
                    Reason::Booked { resource, bookings } => ReasonRec::Booked {
                        resource: resource.0,
                        bookings: bookings.iter().map(|b| b.0).collect(),
                    },
                })
                .collect(),
        }
    }
}

impl TryFrom<FailureRec> for OccurrenceFailure {
    type Error = CodecError;
    fn try_from(r: FailureRec) -> Result<Self, CodecError> {
        Ok(OccurrenceFailure {
            index: r.index as usize,
            local: chrono::DateTime::from_timestamp(r.local_s, 0)
                .ok_or_else(|| bad("local time"))?
                .naive_utc(),
            reasons: r
                .reasons
                .into_iter()
                .map(|r| match r {
                    ReasonRec::NonexistentLocalTime => Reason::NonexistentLocalTime,
                    ReasonRec::InThePast => Reason::InThePast,
                    ReasonRec::StoreClosed => Reason::StoreClosed,
                    ReasonRec::OutsideBusinessHours => Reason::OutsideBusinessHours,
                    ReasonRec::ResourceDayOff(r) => Reason::ResourceDayOff(ResourceId(r)),
                    ReasonRec::OutsideWorkingHours(r) => Reason::OutsideWorkingHours(ResourceId(r)),
                    ReasonRec::Booked { resource, bookings } => Reason::Booked {
                        resource: ResourceId(resource),
                        bookings: bookings.into_iter().map(BookingId).collect(),
                    },
                })
                .collect(),
        })
    }
}

/// A member-facing event in a store's durable feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRec {
    pub seq: u64,
    pub at_us: i64,
    /// "reminder" or "completed".
    pub kind: String,
    pub booking: u64,
    pub plan: Option<u64>,
    pub member: u64,
    pub start_us: i64,
}

/// A credential as stored under the SHA-256 of its key. The key itself is never stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRec {
    pub id: u64,
    pub name: String,
    pub role: String,
    pub stores: Vec<u32>,
    pub resource: Option<u64>,
    pub revoked: bool,
    pub created_at_us: i64,
    pub key_hash: Vec<u8>,
}

impl CredentialRec {
    /// The role as stored. A role HQ defined comes with no capabilities: the caller fills
    /// in what the role has now (`Role::Custom`'s `caps`).
    pub fn role(&self) -> Result<crate::domain::access::Role, CodecError> {
        use crate::domain::access::Role;
        let store = || -> Result<StoreId, CodecError> {
            StoreId::new(*self.stores.first().ok_or_else(|| bad("credential store"))?)
                .map_err(CodecError::from)
        };
        Ok(match self.role.as_str() {
            "hq_admin" => Role::HqAdmin,
            "store_manager" => Role::StoreManager {
                stores: self
                    .stores
                    .iter()
                    .map(|s| StoreId::new(*s))
                    .collect::<Result<_, _>>()?,
            },
            "cashier" => Role::Cashier { store: store()? },
            "pos" => Role::Pos { store: store()? },
            "staff" => Role::Staff {
                store: store()?,
                resource: ResourceId(self.resource.ok_or_else(|| bad("staff resource"))?),
            },
            name => Role::Custom {
                name: name.to_owned(),
                caps: crate::domain::access::CapSet::default(),
                stores: self
                    .stores
                    .iter()
                    .map(|s| StoreId::new(*s))
                    .collect::<Result<_, _>>()?,
                resource: self.resource.map(ResourceId),
            },
        })
    }
}

impl From<&crate::domain::access::Credential> for CredentialRec {
    fn from(c: &crate::domain::access::Credential) -> Self {
        let stores = c
            .role
            .stores()
            .unwrap_or_default()
            .iter()
            .map(|s| s.get())
            .collect();
        let resource = c.role.resource().map(|r| r.0);
        CredentialRec {
            id: c.id.0,
            name: c.name.as_str().to_owned(),
            role: c.role.name().to_owned(),
            stores,
            resource,
            revoked: c.revoked,
            created_at_us: c.created_at.timestamp_micros(),
            key_hash: c.key_hash.to_vec(),
        }
    }
}

impl TryFrom<CredentialRec> for crate::domain::access::Credential {
    type Error = CodecError;
    fn try_from(r: CredentialRec) -> Result<Self, CodecError> {
        Ok(crate::domain::access::Credential {
            id: crate::domain::access::CredentialId(r.id),
            name: Name::new(&r.name, "credential name")?,
            role: r.role()?,
            revoked: r.revoked,
            created_at: ts(r.created_at_us)?,
            key_hash: r
                .key_hash
                .as_slice()
                .try_into()
                .map_err(|_| bad("key hash"))?,
        })
    }
}

//! Handlers of the scheduling routes: parse, validate, one message to the store's scheduler
//! (or the directory for chain-wide services), wait for durability, render.

use std::sync::Arc;

use actix::Addr;
use bytes::Bytes;
use chrono_tz::Tz;
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::{ApiError, Code};
use super::handlers::{
    allow_reader, json_bytes, json_status, meta, parse_json, respond, write, ApiResult,
};
use super::schedule_dto::*;
use super::{ApiState, ACTOR_REPLY_TIMEOUT};
use crate::actors::directory::{DeleteService, PutService, SetSettings};
use crate::actors::plan_sessions::CheckCard;
use crate::actors::scheduler::*;
use crate::actors::{ActorError, Durable, WriteMeta};
use crate::domain::access::{Cap, Capability, Principal};
use crate::domain::appointments::{
    local_days, AppointmentFilter, Cursor as AppointmentCursor, OriginKind,
    APPOINTMENTS_PAGE_DEFAULT, APPOINTMENTS_PAGE_MAX, APPOINTMENT_DAYS_MAX,
};
use crate::domain::booking::*;
use crate::domain::calendar::{BookingId, CAPACITY_MAX};
use crate::domain::hours::{StoreHours, WeeklyHours};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, Name, StoreId};
use crate::domain::membership::CardId;
use crate::domain::planning::{AVAILABILITY_DAYS_MAX, AVAILABILITY_STEP_MINUTES_MIN};
use chrono::NaiveDate;

pub const EVENTS_PAGE_DEFAULT: usize = 100;

/// The store named in the path, if `p` may use `cap` there.
pub(super) fn store_in(p: &Principal, cap: Capability, raw: u64) -> Result<StoreId, ApiError> {
    let store = StoreId::from_u64(raw).map_err(|_| ApiError::NotFound(format!("store {raw}")))?;
    allow(p, cap, Some(store), || format!("store {raw}"))?;
    Ok(store)
}

pub(super) fn scheduler(
    state: &ApiState,
    store: StoreId,
) -> Result<Addr<StoreScheduler>, ApiError> {
    state
        .registry
        .scheduler(store)
        .ok_or_else(|| ApiError::NotFound(format!("store {store}")))
}

/// The scheduler that owns an id of the form `store << 32 | seq`.
pub(super) fn owner(
    state: &ApiState,
    p: &Principal,
    cap: Capability,
    id: u64,
    what: &str,
) -> Result<(StoreId, Addr<StoreScheduler>), ApiError> {
    let store = store_of_id(id).ok_or_else(|| ApiError::NotFound(format!("{what} {id}")))?;
    allow(p, cap, Some(store), || format!("{what} {id}"))?;
    let addr = state
        .registry
        .scheduler(store)
        .ok_or_else(|| ApiError::NotFound(format!("{what} {id}")))?;
    Ok((store, addr))
}

pub(super) fn tz_of(state: &ApiState, store: StoreId) -> Result<Tz, ApiError> {
    state
        .registry
        .zone_of(store)
        .ok_or_else(|| ApiError::NotFound(format!("store {store}")))
}

pub(super) fn render(outcome: Outcome, tz: Option<Tz>, created: bool) -> ApiResult {
    let ok = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tz = tz.unwrap_or(chrono_tz::UTC);
    match outcome {
        Outcome::Service(s) => Ok(json_status(ok, &ServiceDto::from(&s))),
        Outcome::Settings { plans_enabled } => Ok(json_status(
            ok,
            &SettingsBody {
                service_plans_enabled: plans_enabled,
            },
        )),
        Outcome::StoreHours(store, h) => Ok(json_status(ok, &hours_json(store, tz, &h))),
        Outcome::Resource(r) => Ok(json_status(ok, &ResourceDto::from(&r))),
        Outcome::ResourceDeleted(id) => Ok(json_status(
            ok,
            &DeletedDto {
                id: id.0,
                deleted: true,
            },
        )),
        Outcome::Booking(b) => Ok(json_status(ok, &BookingDto::new(&b, tz))),
        Outcome::Plan(p, bs) => {
            let dry = p.id == PlanId(0);
            let status = if dry { StatusCode::OK } else { ok };
            Ok(json_bytes(status, PlanDto::new(&p, &bs, tz, dry).to_json()))
        }
        Outcome::PlanConflicts(fs) => {
            let report = ConflictReport {
                code: Code::PlanConflicts.as_str(),
                message: format!(
                    "{} occurrence(s) can't be booked; nothing was created",
                    fs.len()
                ),
                dry_run: !created,
                failures: fs.iter().map(FailureDto::from).collect(),
            };
            Ok(json_status(StatusCode::CONFLICT, &report))
        }
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

fn hours_json(store: StoreId, tz: Tz, h: &StoreHours) -> StoreHoursDto {
    StoreHoursDto {
        store_id: store.get(),
        time_zone: tz.name(),
        business_hours: hours_dto(&h.business),
        closed_dates: dates_dto(&h.closed),
    }
}

pub async fn put_settings(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let body: SettingsBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, "PUT /v1/settings", &body)?;
            let msg = SetSettings {
                meta,
                plans_enabled: body.service_plans_enabled,
            };
            render(write(&state.directory, msg).await?, None, false)
        }
        .await,
    )
}

pub async fn get_settings(state: Arc<ApiState>, _any_caller: Principal) -> Response {
    respond((|| {
        let enabled = state.storage().plans_enabled()?;
        Ok(json_status(
            StatusCode::OK,
            &SettingsBody {
                service_plans_enabled: enabled,
            },
        ))
    })())
}

fn service_msg(
    meta: WriteMeta,
    id: Option<ServiceId>,
    body: &ServiceBody,
) -> Result<PutService, ApiError> {
    let mode = match body.booking_mode.as_str() {
        "appointment" => BookingMode::Appointment,
        "service_plan" => BookingMode::ServicePlan,
        _ => {
            return Err(ApiError::InvalidSchedule(
                "booking_mode must be \"appointment\" or \"service_plan\"".into(),
            ))
        }
    };
    if body.duration_minutes == 0 || body.duration_minutes > SERVICE_DURATION_MAX_MINUTES {
        return Err(ApiError::InvalidSchedule(format!(
            "duration_minutes must be 1 to {SERVICE_DURATION_MAX_MINUTES}"
        )));
    }
    if body.resource_kinds.is_empty() || body.resource_kinds.len() > RESOURCE_KINDS_MAX {
        return Err(ApiError::InvalidSchedule(format!(
            "a service needs 1 to {RESOURCE_KINDS_MAX} resource kinds"
        )));
    }
    let kinds = body
        .resource_kinds
        .iter()
        .map(|k| {
            ResourceKind::new(k).ok_or_else(|| {
                ApiError::InvalidSchedule(
                    "a resource kind is a lowercase word such as \"therapist\"".into(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PutService {
        meta,
        id,
        name: Name::new(&body.name, "service name").map_err(ApiError::InvalidField)?,
        duration_minutes: body.duration_minutes,
        mode,
        resource_kinds: kinds,
        requires_review: body.requires_review,
    })
}

pub async fn create_service(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let body: ServiceBody = parse_json(ct, &body)?;
            let msg = service_msg(meta(&p, key, "POST /v1/services", &body)?, None, &body)?;
            render(write(&state.directory, msg).await?, None, true)
        }
        .await,
    )
}

pub async fn update_service(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let body: ServiceBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("PUT /v1/services/{id}"), &body)?;
            let msg = service_msg(meta, Some(ServiceId(id)), &body)?;
            render(write(&state.directory, msg).await?, None, false)
        }
        .await,
    )
}

pub async fn delete_service(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let meta = meta(&p, key, &format!("DELETE /v1/services/{id}"), &())?;
            let msg = DeleteService {
                meta,
                id: ServiceId(id),
            };
            write(&state.directory, msg).await?;
            Ok(json_status(
                StatusCode::OK,
                &DeletedDto { id, deleted: true },
            ))
        }
        .await,
    )
}

pub async fn get_service(state: Arc<ApiState>, _any_caller: Principal, id: u64) -> Response {
    respond((|| match state.storage().service(ServiceId(id))? {
        Some((s, false)) => Ok(json_status(StatusCode::OK, &ServiceDto::from(&s))),
        _ => Err(ApiError::NotFound(format!("service {id}"))),
    })())
}

/// Services in id order, a page at a time: `?after=<last id>&limit=`.
pub async fn list_services(
    state: Arc<ApiState>,
    _any_caller: Principal,
    q: super::dto::PageAfterQuery,
) -> Response {
    respond(services_page(&state, q, |_| true))
}

/// A page of the services `keep` admits, in id order.
pub(super) fn services_page(
    state: &ApiState,
    q: super::dto::PageAfterQuery,
    keep: impl Fn(&Service) -> bool,
) -> Result<Response, ApiError> {
    let limit = super::handlers::page_limit(state, q.limit)?;
    let after = q.after.unwrap_or(0);
    let services: Vec<ServiceDto> = state
        .storage()
        .services()?
        .iter()
        .filter(|(s, deleted)| !deleted && s.id.0 > after && keep(s))
        .take(limit)
        .map(|(s, _)| ServiceDto::from(s))
        .collect();
    let next_after = (services.len() == limit)
        .then(|| services.last().map(|s| s.id))
        .flatten();
    Ok(json_status(
        StatusCode::OK,
        &ServicesPage {
            services,
            next_after,
        },
    ))
}

pub async fn put_hours(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: StoreHoursBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("PUT /v1/stores/{store}/hours"), &body)?;
            let store = store_in(&p, Capability::ManageStore, store)?;
            let hours = StoreHours {
                business: weekly(&body.business_hours)?,
                closed: dates(&body.closed_dates)?,
            };
            let addr = scheduler(&state, store)?;
            let outcome = write(&addr, SetHours { meta, hours }).await?;
            render(outcome, Some(tz_of(&state, store)?), false)
        }
        .await,
    )
}

async fn read(addr: &Addr<StoreScheduler>, q: Query) -> Result<Answer, ApiError> {
    ask(addr, Read(q)).await
}

/// Sends `msg` to the scheduler and waits until what its answer reflects is durable.
pub(super) async fn ask<M, T>(addr: &Addr<StoreScheduler>, msg: M) -> Result<T, ApiError>
where
    M: actix::Message<Result = Result<Durable<T>, ActorError>> + Send + 'static,
    T: Send + 'static,
    StoreScheduler: actix::Handler<M>,
{
    let admitted = super::metrics::InFlight::new(addr)?;
    let durable = addr.send(msg).await.map_err(|_| ApiError::Unavailable)??;
    drop(admitted);
    durable
        .ticket
        .durable()
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(durable.value)
}

pub async fn get_hours(state: Arc<ApiState>, p: Principal, store: u64) -> Response {
    respond(
        async {
            let store = store_in(&p, Capability::ReadStore, store)?;
            match read(&scheduler(&state, store)?, Query::Hours).await? {
                Answer::Hours(tz, h) => Ok(json_status(StatusCode::OK, &hours_json(store, tz, &h))),
                _ => Err(ApiError::Unavailable),
            }
        }
        .await,
    )
}

fn resource_spec(body: &ResourceBody) -> Result<ResourceSpec, ApiError> {
    if body.capacity == 0 || body.capacity > CAPACITY_MAX {
        return Err(ApiError::InvalidSchedule(format!(
            "capacity must be 1 to {CAPACITY_MAX}"
        )));
    }
    Ok(ResourceSpec {
        name: Name::new(&body.name, "resource name").map_err(ApiError::InvalidField)?,
        kind: ResourceKind::new(&body.kind).ok_or_else(|| {
            ApiError::InvalidSchedule("kind is a lowercase word such as \"therapist\"".into())
        })?,
        capacity: body.capacity,
        working_hours: match &body.working_hours {
            Some(h) => weekly(h)?,
            None => WeeklyHours::always(),
        },
        days_off: dates(&body.days_off)?,
    })
}

pub async fn create_resource(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: ResourceBody = parse_json(ct, &body)?;
            let meta = meta(
                &p,
                key,
                &format!("POST /v1/stores/{store}/resources"),
                &body,
            )?;
            let store = store_in(&p, Capability::ManageStore, store)?;
            let spec = resource_spec(&body)?;
            let addr = scheduler(&state, store)?;
            render(
                write(
                    &addr,
                    PutResource {
                        meta,
                        id: None,
                        spec,
                    },
                )
                .await?,
                None,
                true,
            )
        }
        .await,
    )
}

pub async fn update_resource(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: ResourceBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("PUT /v1/resources/{id}"), &body)?;
            let spec = resource_spec(&body)?;
            let (_, addr) = owner(&state, &p, Capability::ManageStore, id, "resource")?;
            let msg = PutResource {
                meta,
                id: Some(ResourceId(id)),
                spec,
            };
            render(write(&addr, msg).await?, None, false)
        }
        .await,
    )
}

pub async fn delete_resource(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let meta = meta(&p, key, &format!("DELETE /v1/resources/{id}"), &())?;
            let (_, addr) = owner(&state, &p, Capability::ManageStore, id, "resource")?;
            render(
                write(
                    &addr,
                    DeleteResource {
                        meta,
                        id: ResourceId(id),
                    },
                )
                .await?,
                None,
                false,
            )
        }
        .await,
    )
}

pub async fn list_resources(state: Arc<ApiState>, p: Principal, store: u64) -> Response {
    respond(
        async {
            let store = store_in(&p, Capability::ReadStore, store)?;
            match read(&scheduler(&state, store)?, Query::Resources).await? {
                Answer::Resources(rs) => {
                    let rs: Vec<ResourceDto> = rs.iter().map(ResourceDto::from).collect();
                    Ok(json_status(StatusCode::OK, &ResourcesDto { resources: rs }))
                }
                _ => Err(ApiError::Unavailable),
            }
        }
        .await,
    )
}

pub async fn get_resource(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond(
        async {
            let (_, addr) = owner(&state, &p, Capability::ReadStore, id, "resource")?;
            match read(&addr, Query::Resource(ResourceId(id))).await? {
                Answer::Resources(rs) if rs.len() == 1 => {
                    Ok(json_status(StatusCode::OK, &ResourceDto::from(&rs[0])))
                }
                _ => Err(ApiError::NotFound(format!("resource {id}"))),
            }
        }
        .await,
    )
}

pub(super) fn resource_ids(raw: &[u64]) -> Result<ResourceIds, ApiError> {
    if raw.is_empty() || raw.len() > RESOURCE_KINDS_MAX {
        return Err(ApiError::InvalidSchedule(format!(
            "name 1 to {RESOURCE_KINDS_MAX} resources"
        )));
    }
    let ids: ResourceIds = raw.iter().map(|r| ResourceId(*r)).collect();
    if ids.iter().enumerate().any(|(i, r)| ids[..i].contains(r)) {
        return Err(ApiError::InvalidSchedule(
            "a resource is named twice".into(),
        ));
    }
    Ok(ids)
}

/// A start as RFC 3339 with an offset, or a wall-clock time in the store's zone.
pub(super) fn parse_start(raw: &str) -> Result<When, ApiError> {
    Ok(match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => When::Instant(t.with_timezone(&chrono::Utc)),
        Err(_) => When::Local(parse_local(raw)?),
    })
}

pub(super) fn member_id(raw: u64) -> Result<MemberId, ApiError> {
    MemberId::parse(raw).map_err(|_| ApiError::NotFound(format!("member {raw}")))
}

pub async fn create_appointment(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: AppointmentBody = parse_json(ct, &body)?;
            let meta = meta(
                &p,
                key,
                &format!("POST /v1/stores/{store}/appointments"),
                &body,
            )?;
            let store = store_in(&p, Capability::Counter, store)?;
            let start = parse_start(&body.start)?;
            let msg = Book {
                meta,
                member: member_id(body.member_id)?,
                service: ServiceId(body.service_id),
                resources: resource_ids(&body.resource_ids)?,
                what: What::Appointment { start },
                online: false,
            };
            let addr = scheduler(&state, store)?;
            let outcome = write(&addr, msg).await?;
            if let Outcome::PlanConflicts(fs) = &outcome {
                let report = ConflictReport {
                    code: Code::SlotUnavailable.as_str(),
                    message: "the appointment can't be booked at that time".into(),
                    dry_run: false,
                    failures: fs.iter().map(FailureDto::from).collect(),
                };
                return Ok(json_status(StatusCode::CONFLICT, &report));
            }
            render(outcome, Some(tz_of(&state, store)?), true)
        }
        .await,
    )
}

pub async fn create_plan(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: PlanBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("POST /v1/stores/{store}/plans"), &body)?;
            let store = store_in(&p, Capability::ManageStore, store)?;
            let member = member_id(body.member_id)?;
            let service = ServiceId(body.service_id);
            let count_card = match body.count_card_id {
                Some(card) => Some(check_card(&state, member, CardId(card), service, store).await?),
                None => None,
            };
            let msg = Book {
                meta,
                member,
                service,
                resources: resource_ids(&body.resource_ids)?,
                what: What::Plan {
                    repeat: repeat(&body.repeat)?,
                    dry_run: body.dry_run,
                    count_card,
                },
                online: false,
            };
            let addr = scheduler(&state, store)?;
            let outcome = write(&addr, msg).await?;
            render(outcome, Some(tz_of(&state, store)?), !body.dry_run)
        }
        .await,
    )
}

/// A card can be linked only while it has sessions, has not expired and is for the service.
/// It may still run out before an occurrence completes; that occurrence then completes
/// without taking a session, and the store's event feed says so.
async fn check_card(
    state: &ApiState,
    member: MemberId,
    card: CardId,
    service: ServiceId,
    store: StoreId,
) -> Result<CardId, ApiError> {
    let ledger = super::handlers::home_ledger(state, member)?;
    let msg = CheckCard {
        member,
        card,
        service,
        store,
    };
    let _admitted = super::metrics::InFlight::new(&ledger)?;
    match tokio::time::timeout(ACTOR_REPLY_TIMEOUT, ledger.send(msg)).await {
        Ok(Ok(checked)) => checked.map(|_| card).map_err(ApiError::from),
        Ok(Err(_)) => Err(ApiError::Unavailable),
        Err(_) => Err(ApiError::Overloaded),
    }
}

pub async fn transit(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    action: String,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let transition = match action.as_str() {
                "approve" => Transition::Approve,
                "reject" => Transition::Reject,
                "check-in" => Transition::CheckIn,
                "complete" => Transition::Complete,
                "cancel" => Transition::Cancel,
                "no-show" => Transition::NoShow,
                _ => return Err(ApiError::NotFound(format!("action {action:.20}"))),
            };
            // As the route table's rows say: review is a manager's, the visit itself the
            // calendar's (staff on their own resource), a cancellation the counter's.
            let cap = match transition {
                Transition::Approve | Transition::Reject => Capability::ManageStore,
                Transition::CheckIn | Transition::Complete | Transition::NoShow => {
                    Capability::Calendar(None)
                }
                Transition::Cancel => Capability::Counter,
            };
            let meta = meta(
                &p,
                key,
                &format!("POST /v1/appointments/{id}/{action}"),
                &(),
            )?;
            let (store, addr) = owner(&state, &p, cap, id, "booking")?;
            let visit = matches!(cap, Capability::Calendar(_));
            let own_only = (visit && !p.role.caps().has(Cap::Calendar)).then(|| p.role.resource());
            if let Some(Some(resource)) = own_only {
                let resource = &resource;
                // Keys bound to a resource check in only bookings on it.
                let on_own = match read(&addr, Query::Booking(BookingId(id))).await? {
                    Answer::Booking(b) => b.resources.contains(resource),
                    _ => false,
                };
                if !on_own {
                    return Err(ApiError::Forbidden);
                }
            }
            let msg = Transit {
                meta,
                booking: BookingId(id),
                transition,
                by_member: None,
            };
            render(write(&addr, msg).await?, Some(tz_of(&state, store)?), false)
        }
        .await,
    )
}

pub async fn get_appointment(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond(
        async {
            let (store, addr) = owner(&state, &p, Capability::ReadStore, id, "booking")?;
            match read(&addr, Query::Booking(BookingId(id))).await? {
                Answer::Booking(b) => Ok(json_status(
                    StatusCode::OK,
                    &BookingDto::new(&b, tz_of(&state, store)?),
                )),
                _ => Err(ApiError::Unavailable),
            }
        }
        .await,
    )
}

pub async fn get_plan(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond(
        async {
            let (store, addr) = owner(&state, &p, Capability::ReadStore, id, "plan")?;
            let tz = tz_of(&state, store)?;
            match read(&addr, Query::Plan(PlanId(id))).await? {
                Answer::Plans(ps) if ps.len() == 1 => Ok(json_bytes(
                    StatusCode::OK,
                    PlanDto::new(&ps[0].0, &ps[0].1, tz, false).to_json(),
                )),
                _ => Err(ApiError::NotFound(format!("plan {id}"))),
            }
        }
        .await,
    )
}

/// Does `p` see `member`'s bookings in `store`: the member all of theirs, staff those of
/// the stores they read.
fn sees(p: &Principal, member: MemberId, store: StoreId) -> bool {
    p.role.member() == Some(member) || p.may(Capability::ReadStore, Some(store)).is_ok()
}

/// A member's plans in every store of the chain.
pub async fn member_plans(state: Arc<ApiState>, p: Principal, member: u64) -> Response {
    respond(
        async {
            let member = member_id(member)?;
            allow_reader(&state, &p, member)?;
            if state.storage().account(member)?.is_none() {
                return Err(ApiError::NotFound(format!("member {member}")));
            }
            let mut plans = Vec::new();
            for addr in state.registry.schedulers() {
                if let Answer::Plans(ps) = read(&addr, Query::MemberPlans(member)).await? {
                    for (plan, bs) in ps {
                        if sees(&p, member, plan.store) {
                            plans.push(PlanDto::new(&plan, &bs, tz_of(&state, plan.store)?, false));
                        }
                    }
                }
            }
            Ok(json_status(StatusCode::OK, &PlansDto { plans }))
        }
        .await,
    )
}

pub async fn cancel_plan(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    occurrence: Option<u32>,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let route = match occurrence {
                Some(n) => format!("POST /v1/plans/{id}/occurrences/{n}/cancel"),
                None => format!("POST /v1/plans/{id}/cancel"),
            };
            let meta = meta(&p, key, &route, &())?;
            let (store, addr) = owner(&state, &p, Capability::ManageStore, id, "plan")?;
            let msg = CancelPlan {
                meta,
                plan: PlanId(id),
                occurrence,
            };
            render(write(&addr, msg).await?, Some(tz_of(&state, store)?), false)
        }
        .await,
    )
}

pub async fn move_occurrence(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    n: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: MoveBody = parse_json(ct, &body)?;
            let meta = meta(
                &p,
                key,
                &format!("POST /v1/plans/{id}/occurrences/{n}/move"),
                &body,
            )?;
            let to = parse_local(&body.start)?;
            let (store, addr) = owner(&state, &p, Capability::ManageStore, id, "plan")?;
            let msg = MoveOccurrence {
                meta,
                plan: PlanId(id),
                occurrence: n,
                to,
            };
            render(write(&addr, msg).await?, Some(tz_of(&state, store)?), false)
        }
        .await,
    )
}

/// Move an appointment to another start on its resources, conflict-checked like a new one.
pub async fn move_appointment(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: MoveBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("POST /v1/appointments/{id}/move"), &body)?;
            let to = parse_local(&body.start)?;
            let (store, addr) = owner(&state, &p, Capability::Counter, id, "booking")?;
            let msg = MoveAppointment {
                meta,
                booking: BookingId(id),
                to,
            };
            render(write(&addr, msg).await?, Some(tz_of(&state, store)?), false)
        }
        .await,
    )
}

pub async fn availability(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    q: AvailabilityQuery,
) -> Response {
    respond(
        async {
            let store = store_in(&p, Capability::ReadStore, store)?;
            availability_in(&state, store, q).await
        }
        .await,
    )
}

/// The free starts of a service in `store`, whoever asks.
pub(super) async fn availability_in(
    state: &ApiState,
    store: StoreId,
    q: AvailabilityQuery,
) -> ApiResult {
    let step = q.step_minutes.unwrap_or(15);
    if !(AVAILABILITY_STEP_MINUTES_MIN..=24 * 60).contains(&step) {
        return Err(ApiError::InvalidQuery(format!(
            "step_minutes must be {AVAILABILITY_STEP_MINUTES_MIN} to 1440"
        )));
    }
    let days = (q.to - q.from).num_days();
    if !(0..AVAILABILITY_DAYS_MAX).contains(&days) {
        return Err(ApiError::InvalidQuery(format!(
            "from..to must be 1 to {AVAILABILITY_DAYS_MAX} days, from before to"
        )));
    }
    let addr = scheduler(state, store)?;
    let msg = Availability {
        service: ServiceId(q.service_id),
        from: q.from,
        to: q.to,
        step_minutes: step,
    };
    let admitted = super::metrics::InFlight::new(&addr)?;
    let durable = addr.send(msg).await.map_err(|_| ApiError::Unavailable)??;
    drop(admitted);
    durable
        .ticket
        .durable()
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let starts: Vec<FreeStartDto> = durable.value.iter().map(FreeStartDto::from).collect();
    Ok(json_status(
        StatusCode::OK,
        &FreeStartsDto {
            store_id: store.get(),
            starts,
        },
    ))
}

pub async fn events(state: Arc<ApiState>, p: Principal, store: u64, q: EventsQuery) -> Response {
    respond((|| {
        let store = store_in(&p, Capability::ManageStore, store)?;
        let limit = q.limit.unwrap_or(EVENTS_PAGE_DEFAULT);
        if limit == 0 || limit > state.page_size_max {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be 1 to {}",
                state.page_size_max
            )));
        }
        let events = state.storage().events(store, q.after.unwrap_or(0), limit)?;
        let next_after = events.last().map(|e| e.seq);
        let events: Vec<EventDto> = events.iter().map(EventDto::from).collect();
        Ok(json_status(
            StatusCode::OK,
            &EventsPage { events, next_after },
        ))
    })())
}

/// A listing of appointments as asked: the filter but for its days, which are local to each
/// store, the days, the cursor and the page size.
struct Listing {
    filter: AppointmentFilter,
    days: Option<(NaiveDate, NaiveDate)>,
    after: Option<AppointmentCursor>,
    limit: usize,
}

impl Listing {
    fn parse(state: &ApiState, q: AppointmentsQuery) -> Result<Listing, ApiError> {
        let max = state.page_size_max.min(APPOINTMENTS_PAGE_MAX);
        let limit = q.limit.unwrap_or(APPOINTMENTS_PAGE_DEFAULT.min(max));
        if limit == 0 || limit > max {
            return Err(ApiError::InvalidQuery(format!("limit must be 1 to {max}")));
        }
        let days = match (q.from, q.to) {
            (None, None) => None,
            (None, Some(_)) => return Err(ApiError::InvalidQuery("to needs a from".into())),
            (Some(from), to) => {
                let to = to.unwrap_or(from);
                if !(0..APPOINTMENT_DAYS_MAX).contains(&(to - from).num_days()) {
                    return Err(ApiError::InvalidQuery(format!(
                        "from..to must be 1 to {APPOINTMENT_DAYS_MAX} days, from first"
                    )));
                }
                Some((from, to))
            }
        };
        let status = q
            .status
            .as_deref()
            .map(|s| {
                BookingStatus::parse(s).ok_or_else(|| {
                    let names: Vec<&str> = BookingStatus::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::InvalidQuery(format!("status must be one of {}", names.join(", ")))
                })
            })
            .transpose()?;
        let origin = match q.origin.as_deref() {
            None => None,
            Some("appointment") => Some(OriginKind::Appointment),
            Some("plan") => Some(OriginKind::Plan),
            Some(_) => {
                return Err(ApiError::InvalidQuery(
                    "origin must be appointment or plan".into(),
                ))
            }
        };
        let member = q
            .member_id
            .map(|raw| {
                MemberId::parse(raw)
                    .map_err(|_| ApiError::InvalidQuery(format!("no member id {raw}")))
            })
            .transpose()?;
        let after = q
            .after
            .as_deref()
            .map(|c| {
                c.parse::<AppointmentCursor>()
                    .map_err(|e| ApiError::InvalidQuery(format!("after: {e}")))
            })
            .transpose()?;
        let filter = AppointmentFilter {
            starts: None,
            status,
            resource: q.resource_id.map(ResourceId),
            service: q.service_id.map(ServiceId),
            member,
            origin,
        };
        Ok(Listing {
            filter,
            days,
            after,
            limit,
        })
    }

    /// One page of `store`'s list, its days taken in the store's time zone.
    async fn page(
        &self,
        state: &ApiState,
        store: StoreId,
    ) -> Result<(Vec<BookingDto>, Vec<AppointmentCursor>, bool), ApiError> {
        let tz = tz_of(state, store)?;
        let mut filter = self.filter.clone();
        if let Some((from, to)) = self.days {
            filter.starts = Some(
                local_days(tz, from, to)
                    .ok_or_else(|| ApiError::InvalidQuery("dates out of range".into()))?,
            );
        }
        let addr = scheduler(state, store)?;
        let msg = ListAppointments {
            filter,
            after: self.after,
            limit: self.limit,
        };
        let (page, next) = ask(&addr, msg).await?;
        let cursors = page.iter().map(AppointmentCursor::of).collect();
        let dtos = page.iter().map(|b| BookingDto::new(b, tz)).collect();
        Ok((dtos, cursors, next.is_some()))
    }
}

fn appointments_json(
    owner: AppointmentsOwner,
    appointments: Vec<BookingDto>,
    next: Option<AppointmentCursor>,
) -> ApiResult {
    let (store_id, member_id) = match owner {
        AppointmentsOwner::Store(s) => (Some(s.get()), None),
        AppointmentsOwner::Member(m) => (None, Some(m.get())),
    };
    Ok(json_status(
        StatusCode::OK,
        &AppointmentsPage {
            store_id,
            member_id,
            appointments,
            next_after: next.map(|c| c.to_string()),
        },
    ))
}

/// Whose appointments a page lists.
enum AppointmentsOwner {
    Store(StoreId),
    Member(MemberId),
}

/// A store's appointments and plan occurrences, filtered, in start order, a page at a time:
/// the front desk's day, the review queue (`status=pending`), a resource's or a member's.
pub async fn list_appointments(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    q: AppointmentsQuery,
) -> Response {
    respond(
        async {
            let store = store_in(&p, Capability::ReadStore, store)?;
            let listing = Listing::parse(&state, q)?;
            let (appointments, cursors, full) = listing.page(&state, store).await?;
            let next = cursors.last().copied().filter(|_| full);
            appointments_json(AppointmentsOwner::Store(store), appointments, next)
        }
        .await,
    )
}

/// A member's appointments and plan occurrences in every store the caller may read, in
/// start order, a page at a time (each store's days in its own time zone).
pub async fn member_appointments(
    state: Arc<ApiState>,
    p: Principal,
    member: u64,
    q: MemberAppointmentsQuery,
) -> Response {
    respond(
        async {
            let member = member_id(member)?;
            allow_reader(&state, &p, member)?;
            if state.storage().account(member)?.is_none() {
                return Err(ApiError::NotFound(format!("member {member}")));
            }
            let listing = Listing::parse(&state, q.for_member(member))?;
            let mut all: Vec<(AppointmentCursor, BookingDto)> = Vec::new();
            // Every store at once: each answers from its own actor.
            let pages = state
                .registry
                .store_ids()
                .into_iter()
                .filter(|store| sees(&p, member, *store))
                .map(|store| listing.page(&state, store));
            for (dtos, cursors, _) in futures::future::try_join_all(pages).await? {
                all.extend(cursors.into_iter().zip(dtos));
            }
            // Each store gave its first `limit`; the first `limit` of them all are the page.
            all.sort_by_key(|(c, _)| *c);
            all.truncate(listing.limit);
            let next = all
                .last()
                .map(|(c, _)| *c)
                .filter(|_| all.len() == listing.limit);
            let appointments = all.into_iter().map(|(_, dto)| dto).collect();
            appointments_json(AppointmentsOwner::Member(member), appointments, next)
        }
        .await,
    )
}

/// Testing only: move the manual clock and run every scheduler's tick to completion.
pub async fn set_clock(
    state: Arc<ApiState>,
    p: Principal,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let clock = state
                .manual_clock
                .as_ref()
                .ok_or(ApiError::NoTestingClock)?;
            let body: ClockBody = parse_json(ct, &body)?;
            clock.set(body.now);
            super::handlers::tick_all(&state.registry).await?;
            state
                .closings
                .send(crate::actors::closing::CloseDue)
                .await
                .map_err(|_| ApiError::Unavailable)??;
            state
                .directory
                .send(crate::actors::directory::PurgeBin)
                .await
                .map_err(|_| ApiError::Unavailable)??
                .durable()
                .await
                .map_err(|_| ApiError::Unavailable)?;
            Ok(json_status(StatusCode::OK, &body))
        }
        .await,
    )
}

/// Testing only (`--manual-clock`): panic while serving, to show that a panic stops the
/// process (fail-stop) instead of leaving a part of it answering 503.
pub async fn testing_panic(state: Arc<ApiState>, p: Principal) -> Response {
    if let Err(e) = allow(&p, Capability::ChainAdmin, None, String::new) {
        return respond(Err(e));
    }
    if state.manual_clock.is_none() {
        return respond(Err(ApiError::NoTestingClock));
    }
    panic!("POST /v1/testing/panic");
}

/// A resource's calendar: bookings that hold a slot in `[from, to)`.
pub async fn resource_bookings(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    q: RangeQuery,
) -> Response {
    respond(
        async {
            if q.to <= q.from {
                return Err(ApiError::InvalidQuery("from must be before to".into()));
            }
            let (store, addr) = owner(
                &state,
                &p,
                Capability::Calendar(Some(ResourceId(id))),
                id,
                "resource",
            )?;
            let tz = tz_of(&state, store)?;
            let found = ask(
                &addr,
                ResourceBookings {
                    resource: ResourceId(id),
                    from: q.from,
                    to: q.to,
                },
            )
            .await?;
            let next_from = found
                .last()
                .filter(|_| found.len() == BOOKINGS_PAGE_MAX)
                .map(|b| b.start);
            let bookings: Vec<BookingDto> = found.iter().map(|b| BookingDto::new(b, tz)).collect();
            Ok(json_status(
                StatusCode::OK,
                &BookingsDto {
                    bookings,
                    next_from,
                },
            ))
        }
        .await,
    )
}

/// A store's reminder policy as the API reads and writes it.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindersBody {
    /// Minutes before the start (0 to 10080); absent: the chain's default
    /// (`scheduling.reminder_lead_minutes`).
    #[schema(maximum = 10080)]
    pub lead_minutes: Option<u32>,
    /// `HH:MM`, store time: the reminder of a visit goes at this time on its day (当日提醒)
    /// when that is earlier than its lead time gives and before the start.
    #[schema(pattern = "^[0-2][0-9]:[0-5][0-9]$")]
    pub same_day_at: Option<String>,
    /// Lead minutes of services in this store, by service id, over the store's.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, u32>)]
    pub service_leads: std::collections::BTreeMap<String, u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RemindersDto {
    pub store_id: u32,
    pub lead_minutes: Option<u32>,
    pub same_day_at: Option<String>,
    #[schema(value_type = std::collections::BTreeMap<String, u32>)]
    pub service_leads: std::collections::BTreeMap<String, u32>,
}

fn reminders_json(store: StoreId, p: &crate::domain::reminders::ReminderPolicy) -> RemindersDto {
    RemindersDto {
        store_id: store.get(),
        lead_minutes: p.lead_minutes,
        same_day_at: p.same_day_at.map(|t| t.format("%H:%M").to_string()),
        service_leads: p
            .service_leads
            .iter()
            .map(|(s, m)| (s.0.to_string(), *m))
            .collect(),
    }
}

/// `PUT /v1/stores/{id}/reminders`.
pub async fn put_reminders(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: RemindersBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("PUT /v1/stores/{store}/reminders"), &body)?;
            let store = store_in(&p, Capability::ManageStore, store)?;
            let invalid = |m: String| ApiError::InvalidSchedule(m);
            let same_day_at = body
                .same_day_at
                .as_deref()
                .map(|t| {
                    chrono::NaiveTime::parse_from_str(t, "%H:%M")
                        .map_err(|_| invalid(format!("same_day_at {t:.10} is not HH:MM")))
                })
                .transpose()?;
            let mut service_leads = std::collections::BTreeMap::new();
            for (raw, minutes) in &body.service_leads {
                let id = raw
                    .parse::<u64>()
                    .map_err(|_| invalid(format!("{raw:.20} is not a service id")))?;
                if state.storage().service(ServiceId(id))?.is_none() {
                    return Err(ApiError::NotFound(format!("service {id}")));
                }
                service_leads.insert(ServiceId(id), *minutes);
            }
            let policy = crate::domain::reminders::ReminderPolicy {
                lead_minutes: body.lead_minutes,
                same_day_at,
                service_leads,
            };
            policy.check().map_err(|e| invalid(e.to_string()))?;
            match write(&scheduler(&state, store)?, SetReminders { meta, policy }).await? {
                Outcome::Reminders(s, p) => Ok(json_status(StatusCode::OK, &reminders_json(s, &p))),
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `GET /v1/stores/{id}/reminders`.
pub async fn get_reminders(state: Arc<ApiState>, p: Principal, store: u64) -> Response {
    respond((|| {
        let store = store_in(&p, Capability::ReadStore, store)?;
        let policy = state.storage().reminder_policy(store)?;
        Ok(json_status(StatusCode::OK, &reminders_json(store, &policy)))
    })())
}

//! Waitlists (候补) over HTTP: staff put a member in line for a full slot, members join
//! from their own channel; whoever gets an offer accepts it (it becomes the appointment)
//! or declines it (it goes to the next in line).

use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::dto::text;
use super::error::{ApiError, Code};
use super::handlers::{json_status, meta, page_limit, parse_json, respond, write, ApiResult};
use super::member_channel::me_of;
use super::schedule_dto::{AppointmentBody, ConflictReport, FailureDto};
use super::schedule_handlers::{
    ask, member_id, owner, parse_start, resource_ids, scheduler, store_in, tz_of,
};
use super::ApiState;
use crate::actors::scheduler::waitlist::{
    ActOnEntry, GetWaitEntry, JoinWaitlist, ListWaitlist, WaitAction, WaitPage,
};
use crate::domain::access::{Capability, Principal};
use crate::domain::booking::ServiceId;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{MemberId, StoreId};
use crate::domain::ledger::Timestamp;
use crate::domain::waitlist::{StateKind, WaitEntry, WaitId, WaitState};

/// A store's waitlist, in the order members joined.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitlistQuery {
    #[param(inline)]
    pub state: Option<StateKind>,
    pub member_id: Option<u64>,
    /// The `next_after` of the page before.
    pub after: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitEntryDto {
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
    #[serde(serialize_with = "text::instant")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: Timestamp,
    /// Joined by the member from their own channel.
    pub online: bool,
    /// `lapsed`: still waiting when the slot began.
    pub state: StateKind,
    /// The appointment the offer holds the slot under (offered), became (accepted), or
    /// held (expired, declined).
    pub booking_id: Option<u64>,
    /// Until when an open offer holds the slot.
    #[serde(serialize_with = "text::optional_instant")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub offer_expires_at: Option<Timestamp>,
    /// When the entry was accepted, expired or withdrawn.
    #[serde(serialize_with = "text::optional_instant")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
}

impl WaitEntryDto {
    pub fn new(e: &WaitEntry, tz: chrono_tz::Tz, now: Timestamp) -> WaitEntryDto {
        let (expires, closed) = match e.state {
            WaitState::Waiting => (None, None),
            WaitState::Offered { expires, .. } => (Some(expires), None),
            WaitState::Accepted { at, .. }
            | WaitState::Expired { at, .. }
            | WaitState::Withdrawn { at, .. } => (None, Some(at)),
        };
        WaitEntryDto {
            id: e.id.0,
            store_id: e.id.store_raw(),
            member_id: e.member.get(),
            service_id: e.service.0,
            resource_ids: e.resources.iter().map(|r| r.0).collect(),
            start: e.start,
            end: e.end,
            local_start: e.start.with_timezone(&tz).naive_local(),
            joined_at: e.joined_at,
            online: e.online,
            state: e.kind(now),
            booking_id: e.booking_id().map(|b| b.0),
            offer_expires_at: expires,
            closed_at: closed,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaitlistPage {
    pub entries: Vec<WaitEntryDto>,
    pub next_after: Option<u64>,
}

/// An entry's answer, or the slot's conflict report when it can never be booked.
fn answered(state: &ApiState, outcome: Outcome, created: bool) -> ApiResult {
    match outcome {
        Outcome::Waitlist(e) => {
            let store = StoreId::new(e.id.store_raw())
                .map_err(|_| ApiError::NotFound(format!("waitlist entry {}", e.id.0)))?;
            let now = state.registry.clock.now();
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_status(
                status,
                &WaitEntryDto::new(&e, tz_of(state, store)?, now),
            ))
        }
        Outcome::PlanConflicts(fs) => Ok(json_status(
            StatusCode::CONFLICT,
            &ConflictReport {
                code: Code::SlotUnavailable.as_str(),
                message: "the slot can't be booked at that time, so there is nothing to wait for"
                    .into(),
                dry_run: false,
                failures: fs.iter().map(FailureDto::from).collect(),
            },
        )),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

async fn join(state: &ApiState, store: StoreId, msg: JoinWaitlist) -> ApiResult {
    let addr = scheduler(state, store)?;
    answered(state, write(&addr, msg).await?, true)
}

/// `POST /v1/stores/{id}/waitlist`: staff put a member in line for a full slot.
pub async fn join_by_staff(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: AppointmentBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, &format!("POST /v1/stores/{raw}/waitlist"), &body)?;
            let store = store_in(&p, Capability::Counter, raw)?;
            let msg = JoinWaitlist {
                meta,
                member: member_id(body.member_id)?,
                service: ServiceId(body.service_id),
                resources: resource_ids(&body.resource_ids)?,
                start: parse_start(&body.start)?,
                online: false,
            };
            join(&state, store, msg).await
        }
        .await,
    )
}

/// `POST /v1/me/waitlist`: the member joins the line, under the store's online rules.
pub async fn join_mine(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            let body: super::member_channel::MeAppointmentBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, "POST /v1/me/waitlist", &body)?;
            let store = StoreId::from_u64(body.store_id)
                .map_err(|_| ApiError::NotFound(format!("store {}", body.store_id)))?;
            let msg = JoinWaitlist {
                meta,
                member,
                service: ServiceId(body.service_id),
                resources: resource_ids(&body.resource_ids)?,
                start: parse_start(&body.start)?,
                online: true,
            };
            join(&state, store, msg).await
        }
        .await,
    )
}

fn action_of(raw: &str) -> Result<WaitAction, ApiError> {
    match raw {
        "accept" => Ok(WaitAction::Accept),
        "withdraw" => Ok(WaitAction::Withdraw),
        _ => Err(ApiError::NotFound(format!("waitlist action {raw}"))),
    }
}

async fn act(
    state: &ApiState,
    p: &Principal,
    raw: u64,
    action: &str,
    key: Option<String>,
    by_member: Option<MemberId>,
) -> ApiResult {
    let route = match by_member {
        Some(_) => format!("POST /v1/me/waitlist/{raw}/{action}"),
        None => format!("POST /v1/waitlist/{raw}/{action}"),
    };
    let meta = meta(p, key, &route, &())?;
    let action = action_of(action)?;
    let addr = match by_member {
        Some(_) => {
            let store = crate::actors::scheduler::store_of_id(raw)
                .ok_or_else(|| ApiError::NotFound(format!("waitlist entry {raw}")))?;
            scheduler(state, store)?
        }
        None => owner(state, p, Capability::Counter, raw, "waitlist entry")?.1,
    };
    let msg = ActOnEntry {
        meta,
        entry: WaitId(raw),
        action,
        by_member,
    };
    answered(state, write(&addr, msg).await?, false)
}

/// `POST /v1/waitlist/{id}/accept` and `.../withdraw`: staff act for the member.
pub async fn act_by_staff(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    action: &'static str,
    key: Option<String>,
) -> Response {
    respond(act(&state, &p, raw, action, key, None).await)
}

/// `POST /v1/me/waitlist/{id}/accept` and `.../withdraw`: the member's own entries only.
pub async fn act_mine(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    action: &'static str,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            act(&state, &p, raw, action, key, Some(member)).await
        }
        .await,
    )
}

/// `GET /v1/waitlist/{id}`.
pub async fn get(state: Arc<ApiState>, p: Principal, raw: u64) -> Response {
    respond(
        async {
            let (store, addr) = owner(&state, &p, Capability::ReadStore, raw, "waitlist entry")?;
            let (e, now) = ask(
                &addr,
                GetWaitEntry {
                    entry: WaitId(raw),
                    member: None,
                },
            )
            .await?;
            Ok(json_status(
                StatusCode::OK,
                &WaitEntryDto::new(&e, tz_of(&state, store)?, now),
            ))
        }
        .await,
    )
}

fn page_dto(
    state: &ApiState,
    store: StoreId,
    page: &WaitPage,
) -> Result<Vec<WaitEntryDto>, ApiError> {
    let tz = tz_of(state, store)?;
    Ok(page
        .entries
        .iter()
        .map(|e| WaitEntryDto::new(e, tz, page.now))
        .collect())
}

/// `GET /v1/stores/{id}/waitlist`: by state and member, in joining order.
pub async fn of_store(state: Arc<ApiState>, p: Principal, raw: u64, q: WaitlistQuery) -> Response {
    respond(
        async {
            let store = store_in(&p, Capability::ReadStore, raw)?;
            let limit = page_limit(&state, q.limit)?;
            let member = q
                .member_id
                .map(|m| {
                    MemberId::parse(m)
                        .map_err(|_| ApiError::InvalidQuery(format!("no member has id {m}")))
                })
                .transpose()?;
            let msg = ListWaitlist {
                member,
                state: q.state,
                after: q.after.map(WaitId),
                limit,
            };
            let page = ask(&scheduler(&state, store)?, msg).await?;
            Ok(json_status(
                StatusCode::OK,
                &WaitlistPage {
                    entries: page_dto(&state, store, &page)?,
                    next_after: page.next.map(|n| n.0),
                },
            ))
        }
        .await,
    )
}

/// `GET /v1/me/waitlist`: the member's entries in every store, by store then joining order.
pub async fn mine(state: Arc<ApiState>, p: Principal, q: super::dto::PageAfterQuery) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            let limit = page_limit(&state, q.limit)?;
            let after = q.after.map(WaitId);
            let mut stores = state.registry.store_ids();
            stores.sort();
            let mut entries = Vec::new();
            let mut next_after = None;
            for store in stores {
                if after.is_some_and(|a| store.get() < a.store_raw()) {
                    continue;
                }
                let msg = ListWaitlist {
                    member: Some(member),
                    state: None,
                    after: after.filter(|a| a.store_raw() == store.get()),
                    limit: limit - entries.len(),
                };
                let page = ask(&scheduler(&state, store)?, msg).await?;
                entries.extend(page_dto(&state, store, &page)?);
                if entries.len() == limit {
                    next_after = entries.last().map(|e: &WaitEntryDto| e.id);
                    break;
                }
            }
            Ok(json_status(
                StatusCode::OK,
                &WaitlistPage {
                    entries,
                    next_after,
                },
            ))
        }
        .await,
    )
}

//! The member channel (会员自助): signing in with a one-time code sent to the phone, and
//! `/v1/me`, where a signed-in member reads their own account and books, online, the
//! appointment services of the chain's stores. A member's session reaches nothing else: the
//! route table admits it only on `Access::Member` rows, and the member comes from the
//! session, never from the request.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::{allow, new_member_token};
use super::dto::{BalanceDto, PageAfterQuery, PageQuery};
use super::error::ApiError;
use super::handlers::{json_status, meta, parse_json, respond, write, ApiResult};
use super::schedule_dto::{AvailabilityQuery, MemberAppointmentsQuery};
use super::schedule_handlers as sched;
use super::ApiState;
use crate::actors::member_sessions::{SendSignInCode, SignIn, SignOut};
use crate::actors::scheduler::{Book, SetOnlineBooking, Transit, What};
use crate::actors::WriteMeta;
use crate::domain::access::{Capability, CredentialId, Principal};
use crate::domain::booking::{BookingMode, ResourceId, ServiceId, Transition};
use crate::domain::calendar::BookingId;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{IdempotencyKey, KeyScope, MemberId, Phone, StoreId};
use crate::domain::member_session::{self as session, ChannelOutcome};
use crate::domain::online_booking::OnlineBooking;
use crate::domain::oplog::Audit;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInCodeBody {
    pub phone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInCodeDto {
    /// A code is on its way to the phone when it is a member's; the answer is the same
    /// either way. It works once, until this time.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: crate::domain::ledger::Timestamp,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    pub phone: String,
    /// The six digits sent to the phone.
    pub code: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberSessionDto {
    pub member_id: u64,
    /// `Authorization: Bearer <token>` on `/v1/me`. Shown once: a repeat of the request
    /// answers without it (sign in again with a new code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: crate::domain::ledger::Timestamp,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedOutDto {
    pub member_id: u64,
    pub sessions_ended: u32,
}

/// A member's own view: their profile as they gave it (no staff notes or tags) and their
/// account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeDto {
    pub member_id: u64,
    pub name: String,
    pub phone: String,
    pub home_store_id: u32,
    #[schema(value_type = Option<String>, format = Date)]
    pub birthday: Option<chrono::NaiveDate>,
    /// The level's name, when the chain named it.
    pub level_name: Option<String>,
    pub account: BalanceDto,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MeAvailabilityQuery {
    pub store_id: u64,
    pub service_id: u64,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub step_minutes: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeAppointmentBody {
    pub store_id: u64,
    pub service_id: u64,
    /// RFC 3339 with an offset, or a wall-clock time in the store's zone ("2026-03-07T10:00").
    pub start: String,
    /// One resource of each kind the service needs (from `/v1/me/availability`).
    pub resource_ids: Vec<u64>,
}

/// What members may book and cancel online in a store.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineBookingBody {
    pub enabled: bool,
    /// Least notice for an online booking, in minutes (at most a week).
    #[schema(maximum = 10080)]
    pub lead_minutes: u32,
    /// How far ahead members may book, in days (1 to 365).
    #[schema(minimum = 1, maximum = 365)]
    pub horizon_days: u32,
    /// Members may cancel online until this many minutes before the start (at most a week).
    #[schema(maximum = 10080)]
    pub cancel_window_minutes: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnlineBookingDto {
    pub store_id: u32,
    pub enabled: bool,
    pub lead_minutes: u32,
    pub horizon_days: u32,
    pub cancel_window_minutes: u32,
}

impl OnlineBookingDto {
    fn new(store: StoreId, p: &OnlineBooking) -> OnlineBookingDto {
        OnlineBookingDto {
            store_id: store.get(),
            enabled: p.enabled,
            lead_minutes: p.lead_minutes,
            horizon_days: p.horizon_days,
            cancel_window_minutes: p.cancel_window_minutes,
        }
    }
}

/// The write of a sign-in request: keyed per phone (there is no credential yet), its
/// fingerprint a digest of the body, so no code is kept in the idempotency record.
fn sign_in_meta(
    operation: &'static str,
    phone: &Phone,
    key: Option<String>,
    body: &impl Serialize,
) -> Result<WriteMeta, ApiError> {
    let raw = key.ok_or(ApiError::IdempotencyKeyRequired)?;
    let digest = Sha256::digest(phone.as_str().as_bytes());
    let scope = KeyScope::Phone(u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8])));
    let key = IdempotencyKey::scoped(&scope, &raw).map_err(ApiError::InvalidIdempotencyKey)?;
    let body = serde_json::to_vec(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    let mut fingerprint = operation.as_bytes().to_vec();
    fingerprint.push(0);
    fingerprint.extend_from_slice(&Sha256::digest(&body));
    Ok(WriteMeta {
        key,
        fingerprint,
        audit: Audit {
            credential: CredentialId(0),
            role: "public".into(),
            operation: operation.to_owned(),
            employee: None,
        },
    })
}

fn channel(outcome: Outcome) -> Result<ChannelOutcome, ApiError> {
    match outcome {
        Outcome::MemberChannel(c) => Ok(*c),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// `POST /v1/member-sign-in/codes`.
pub async fn send_code(
    state: Arc<ApiState>,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: SignInCodeBody = parse_json(ct, &body)?;
            let phone = Phone::new(&body.phone).map_err(ApiError::InvalidField)?;
            let meta = sign_in_meta("POST /v1/member-sign-in/codes", &phone, key, &body)?;
            let mut digits = [0u8; 4];
            getrandom::getrandom(&mut digits).map_err(|_| ApiError::Unavailable)?;
            let code = format!("{:06}", u32::from_be_bytes(digits) % 1_000_000);
            let msg = SendSignInCode { meta, phone, code };
            match channel(write(&state.directory, msg).await?)? {
                ChannelOutcome::CodeSent { expires_at } => {
                    Ok(json_status(StatusCode::OK, &SignInCodeDto { expires_at }))
                }
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `POST /v1/member-sign-in/sessions`.
pub async fn sign_in(
    state: Arc<ApiState>,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: SignInBody = parse_json(ct, &body)?;
            let phone = Phone::new(&body.phone).map_err(ApiError::InvalidField)?;
            if !session::is_code(&body.code) {
                return Err(ApiError::SignIn(session::SignInError::Wrong {
                    left: session::CODE_ATTEMPTS_MAX,
                }));
            }
            let meta = sign_in_meta("POST /v1/member-sign-in/sessions", &phone, key, &body)?;
            let token = new_member_token()?;
            let hash = super::auth::key_hash(&token);
            let msg = SignIn {
                meta,
                phone,
                code: body.code,
                token_hash: hash,
            };
            match channel(write(&state.directory, msg).await?)? {
                ChannelOutcome::SessionOpened(s) => Ok(json_status(
                    StatusCode::CREATED,
                    &MemberSessionDto {
                        member_id: s.member.get(),
                        // A repeat answers without it: it was shown once and is not kept.
                        token: (s.token_hash == hash).then_some(token),
                        expires_at: s.expires_at,
                    },
                )),
                ChannelOutcome::SignInRefused(e) => Err(ApiError::SignIn(e)),
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

pub(super) fn me_of(p: &Principal) -> Result<MemberId, ApiError> {
    p.role.member().ok_or(ApiError::Forbidden)
}

fn signed_out(outcome: Outcome) -> ApiResult {
    match channel(outcome)? {
        ChannelOutcome::SessionsEnded { member, count } => Ok(json_status(
            StatusCode::OK,
            &SignedOutDto {
                member_id: member.get(),
                sessions_ended: count,
            },
        )),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// `DELETE /v1/me/session`: the member signs out of this session.
pub async fn sign_out(state: Arc<ApiState>, p: Principal, key: Option<String>) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            let crate::domain::access::Role::Member { session, .. } = &p.role else {
                return Err(ApiError::Forbidden);
            };
            let meta = meta(&p, key, "DELETE /v1/me/session", &())?;
            let msg = SignOut {
                meta,
                member,
                only: Some(*session),
            };
            signed_out(write(&state.directory, msg).await?)
        }
        .await,
    )
}

/// `DELETE /v1/members/{id}/sessions`: staff sign a member out everywhere (a lost phone).
pub async fn end_sessions(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let member =
                MemberId::parse(raw).map_err(|_| ApiError::NotFound(format!("member {raw}")))?;
            super::handlers::allow_member(&state, &p, member)?;
            let meta = meta(&p, key, &format!("DELETE /v1/members/{raw}/sessions"), &())?;
            if state.storage().member(member)?.is_none() {
                return Err(ApiError::NotFound(format!("member {raw}")));
            }
            let msg = SignOut {
                meta,
                member,
                only: None,
            };
            signed_out(write(&state.directory, msg).await?)
        }
        .await,
    )
}

/// `GET /v1/me`.
pub async fn me(state: Arc<ApiState>, p: Principal) -> Response {
    respond((|| {
        let id = me_of(&p)?;
        let storage = state.storage();
        let not_found = || ApiError::NotFound(format!("member {id}"));
        let member = storage.member(id)?.ok_or_else(not_found)?;
        let account = storage.account(id)?.ok_or_else(not_found)?;
        let catalog = state.registry.catalog();
        Ok(json_status(
            StatusCode::OK,
            &MeDto {
                member_id: id.get(),
                name: member.name.as_str().to_owned(),
                phone: member.phone.as_str().to_owned(),
                home_store_id: state.registry.home_of(id).get(),
                birthday: member.profile.birthday,
                level_name: catalog
                    .levels
                    .level(account.membership.level)
                    .map(|l| l.name.clone()),
                account: BalanceDto::from(&account),
            },
        ))
    })())
}

/// `GET /v1/me/entries`.
pub async fn entries(state: Arc<ApiState>, p: Principal, q: PageQuery) -> Response {
    match me_of(&p) {
        Ok(id) => super::handlers::entries(state, p, id.get(), q).await,
        Err(e) => respond(Err(e)),
    }
}

/// `GET /v1/me/plans`.
pub async fn plans(state: Arc<ApiState>, p: Principal) -> Response {
    match me_of(&p) {
        Ok(id) => sched::member_plans(state, p, id.get()).await,
        Err(e) => respond(Err(e)),
    }
}

/// `GET /v1/me/appointments`.
pub async fn appointments(
    state: Arc<ApiState>,
    p: Principal,
    q: MemberAppointmentsQuery,
) -> Response {
    match me_of(&p) {
        Ok(id) => sched::member_appointments(state, p, id.get(), q).await,
        Err(e) => respond(Err(e)),
    }
}

/// `GET /v1/me/stores`: where a member may book.
pub async fn stores(state: Arc<ApiState>, p: Principal, q: PageAfterQuery) -> Response {
    match me_of(&p) {
        Ok(_) => super::handlers::list_stores(state, p, q).await,
        Err(e) => respond(Err(e)),
    }
}

/// `GET /v1/me/services`: the services members book as appointments.
pub async fn services(state: Arc<ApiState>, p: Principal, q: PageAfterQuery) -> Response {
    respond(
        me_of(&p)
            .and_then(|_| sched::services_page(&state, q, |s| s.mode == BookingMode::Appointment)),
    )
}

fn store_id(raw: u64) -> Result<StoreId, ApiError> {
    StoreId::from_u64(raw).map_err(|_| ApiError::NotFound(format!("store {raw}")))
}

/// `GET /v1/me/availability`.
pub async fn availability(state: Arc<ApiState>, p: Principal, q: MeAvailabilityQuery) -> Response {
    respond(
        async {
            me_of(&p)?;
            let store = store_id(q.store_id)?;
            let q = AvailabilityQuery {
                service_id: q.service_id,
                from: q.from,
                to: q.to,
                step_minutes: q.step_minutes,
            };
            sched::availability_in(&state, store, q).await
        }
        .await,
    )
}

/// `POST /v1/me/appointments`: the member books an appointment service online.
pub async fn book(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            let body: MeAppointmentBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, "POST /v1/me/appointments", &body)?;
            let store = store_id(body.store_id)?;
            let start = sched::parse_start(&body.start)?;
            if body.resource_ids.is_empty()
                || body.resource_ids.len() > crate::domain::booking::RESOURCE_KINDS_MAX
            {
                return Err(ApiError::InvalidSchedule(format!(
                    "name 1 to {} resources",
                    crate::domain::booking::RESOURCE_KINDS_MAX
                )));
            }
            let msg = Book {
                meta,
                member,
                service: ServiceId(body.service_id),
                resources: body.resource_ids.iter().map(|r| ResourceId(*r)).collect(),
                what: What::Appointment { start },
                online: true,
            };
            let addr = sched::scheduler(&state, store)?;
            let outcome = write(&addr, msg).await?;
            if let Outcome::PlanConflicts(fs) = &outcome {
                let report = super::schedule_dto::ConflictReport {
                    code: super::error::Code::SlotUnavailable.as_str(),
                    message: "the appointment can't be booked at that time".into(),
                    dry_run: false,
                    failures: fs
                        .iter()
                        .map(super::schedule_dto::FailureDto::from)
                        .collect(),
                };
                return Ok(json_status(StatusCode::CONFLICT, &report));
            }
            sched::render(outcome, Some(sched::tz_of(&state, store)?), true)
        }
        .await,
    )
}

/// `POST /v1/me/appointments/{id}/cancel`: within the store's cancellation window.
pub async fn cancel(state: Arc<ApiState>, p: Principal, id: u64, key: Option<String>) -> Response {
    respond(
        async {
            let member = me_of(&p)?;
            let meta = meta(
                &p,
                key,
                &format!("POST /v1/me/appointments/{id}/cancel"),
                &(),
            )?;
            let store = crate::actors::scheduler::store_of_id(id)
                .ok_or_else(|| ApiError::NotFound(format!("booking {id}")))?;
            let addr = state
                .registry
                .scheduler(store)
                .ok_or_else(|| ApiError::NotFound(format!("booking {id}")))?;
            let msg = Transit {
                meta,
                booking: BookingId(id),
                transition: Transition::Cancel,
                by_member: Some(member),
            };
            sched::render(
                write(&addr, msg).await?,
                Some(sched::tz_of(&state, store)?),
                false,
            )
        }
        .await,
    )
}

/// `PUT /v1/stores/{id}/online-booking`.
pub async fn put_online_booking(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: OnlineBookingBody = parse_json(ct, &body)?;
            let meta = meta(
                &p,
                key,
                &format!("PUT /v1/stores/{raw}/online-booking"),
                &body,
            )?;
            let store = store_id(raw)?;
            allow(&p, Capability::ManageStore, Some(store), || {
                format!("store {raw}")
            })?;
            let policy = OnlineBooking {
                enabled: body.enabled,
                lead_minutes: body.lead_minutes,
                horizon_days: body.horizon_days,
                cancel_window_minutes: body.cancel_window_minutes,
            };
            policy.check().map_err(ApiError::Online)?;
            let addr = sched::scheduler(&state, store)?;
            match write(&addr, SetOnlineBooking { meta, policy }).await? {
                Outcome::OnlineBooking(s, p) => {
                    Ok(json_status(StatusCode::OK, &OnlineBookingDto::new(s, &p)))
                }
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `GET /v1/stores/{id}/online-booking`.
pub async fn get_online_booking(state: Arc<ApiState>, p: Principal, raw: u64) -> Response {
    respond((|| {
        let store = store_id(raw)?;
        allow(&p, Capability::ReadStore, Some(store), || {
            format!("store {raw}")
        })?;
        if !state.registry.has_store(store) {
            return Err(ApiError::NotFound(format!("store {raw}")));
        }
        let policy = state.storage().online_booking(store)?;
        Ok(json_status(
            StatusCode::OK,
            &OnlineBookingDto::new(store, &policy),
        ))
    })())
}

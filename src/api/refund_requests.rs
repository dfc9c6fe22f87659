//! Refund requests (退款审核) over HTTP: asked by a cashier or by the member, decided by a
//! manager of the member's home store, listed per store and per member.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::dto::PageQuery;
use super::error::ApiError;
use super::handlers::{
    allow_member, json_status, member_id, meta, page_limit, parse_json, respond, store_for, write,
    ApiResult,
};
use super::membership::ReturnLineBody;
use super::ApiState;
use crate::actors::counter::{MemberRequest, MemberWrite};
use crate::actors::refund_requests::{Asked, RefundAction, RefundRequestWrite};
use crate::domain::access::{Capability, Principal};
use crate::domain::checkout::{OrderId, ORDER_LINES_MAX};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{EntrySeq, MemberId};
use crate::domain::ledger::Timestamp;
use crate::domain::money::Amount;
use crate::domain::refund_request::{
    Filter, Grant, Kind, RefundRequest, RefundRequestId, Requester, State, StateKind, Target,
};

/// Requests a store's list looks at for one page, kept or not.
pub const REFUND_SCAN_BUDGET: usize = 2_000;

/// A refund asked for: `entry_seq` of a deduction or recharge, or `order_id` and (optional:
/// all that is left) its `lines`.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestBody {
    pub kind: Kind,
    pub entry_seq: Option<u64>,
    pub order_id: Option<u64>,
    pub lines: Option<Vec<ReturnLineBody>>,
    /// Minor units: a deduction's part (absent: what is left of it), or a recharge's.
    pub amount: Option<i64>,
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

/// An approval grants what was asked, or less: a smaller `amount`, or some of the lines.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRefundBody {
    pub amount: Option<i64>,
    pub lines: Option<Vec<ReturnLineBody>>,
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRefundBody {
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

/// A store's refund requests, newest first.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestsQuery {
    #[param(inline)]
    pub state: Option<StateKind>,
    #[param(inline)]
    pub kind: Option<Kind>,
    pub member_id: Option<u64>,
    /// The `next_before` of the page before.
    pub before: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundLineDto {
    pub line: usize,
    pub quantity: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundRequestDto {
    pub id: u64,
    pub member_id: u64,
    /// The store whose ledger issued it: the member's home store then.
    pub store_id: u32,
    pub kind: Kind,
    pub entry_seq: Option<u64>,
    pub order_id: Option<u64>,
    pub lines: Option<Vec<RefundLineDto>>,
    pub amount: Option<i64>,
    pub reason: String,
    /// `member` (the member channel) or `staff`.
    pub requested_by: &'static str,
    pub credential_id: Option<u64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub state: StateKind,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<u64>,
    /// The rejection's reason, or the approval's note.
    pub note: Option<String>,
    /// What an approval refunded: an amount (a deduction's: none means all that was left)
    /// or lines.
    pub granted_amount: Option<i64>,
    pub granted_lines: Option<Vec<RefundLineDto>>,
    /// The ledger entry the approved refund posted (none for an order paid in tenders).
    pub refund_entry_seq: Option<u64>,
}

fn lines_dto(lines: &[(usize, u32)]) -> Vec<RefundLineDto> {
    lines
        .iter()
        .map(|&(line, quantity)| RefundLineDto { line, quantity })
        .collect()
}

impl From<&RefundRequest> for RefundRequestDto {
    fn from(r: &RefundRequest) -> Self {
        let (entry_seq, order_id, lines) = match &r.target {
            Target::Deduction(e) | Target::Recharge(e) => (Some(e.0), None, None),
            Target::Order(o, l) => (None, Some(o.0), Some(lines_dto(l))),
        };
        let (requested_by, credential_id) = match r.requester {
            Requester::Member => ("member", None),
            Requester::Staff(c) => ("staff", Some(c)),
        };
        let mut dto = RefundRequestDto {
            id: r.id.0,
            member_id: r.member.get(),
            store_id: r.id.store_raw(),
            kind: r.target.kind(),
            entry_seq,
            order_id,
            lines,
            amount: r.amount.map(Amount::minor),
            reason: r.reason.clone(),
            requested_by,
            credential_id,
            created_at: r.created_at,
            state: r.state.kind(),
            decided_at: None,
            decided_by: None,
            note: None,
            granted_amount: None,
            granted_lines: None,
            refund_entry_seq: None,
        };
        match &r.state {
            State::Pending => {}
            State::Withdrawn { at } => dto.decided_at = Some(*at),
            State::Rejected(d) => {
                dto.decided_at = Some(d.at);
                dto.decided_by = Some(d.credential);
                dto.note = Some(d.note.clone());
            }
            State::Approved {
                decision,
                grant,
                entry,
            } => {
                dto.decided_at = Some(decision.at);
                dto.decided_by = Some(decision.credential);
                dto.note = (!decision.note.is_empty()).then(|| decision.note.clone());
                dto.refund_entry_seq = entry.map(|e| e.0);
                match grant {
                    Grant::Deduction(_, a) => dto.granted_amount = a.map(Amount::minor),
                    Grant::Recharge(_, a) => dto.granted_amount = Some(a.minor()),
                    Grant::Order(_, l) => dto.granted_lines = Some(lines_dto(l)),
                }
            }
        }
        dto
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundRequestsPage {
    pub requests: Vec<RefundRequestDto>,
    pub next_before: Option<u64>,
}

fn lines_of(body: Option<&[ReturnLineBody]>) -> Result<Option<Vec<(usize, u32)>>, ApiError> {
    let Some(lines) = body else { return Ok(None) };
    if lines.is_empty() || lines.len() > ORDER_LINES_MAX {
        return Err(ApiError::Invalid(format!(
            "lines names 1 to {ORDER_LINES_MAX} lines"
        )));
    }
    Ok(Some(lines.iter().map(|l| (l.line, l.quantity)).collect()))
}

fn amount_of(raw: Option<i64>) -> Result<Option<Amount>, ApiError> {
    raw.map(|a| Amount::new(a).map_err(ApiError::InvalidAmount))
        .transpose()
}

fn asked(body: &RefundRequestBody) -> Result<Asked, ApiError> {
    let entry = || {
        body.entry_seq
            .map(EntrySeq)
            .ok_or_else(|| ApiError::Invalid("entry_seq names the entry to refund".into()))
    };
    let only = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(ApiError::Invalid(what.into()))
        }
    };
    match body.kind {
        Kind::Deduction | Kind::Recharge => {
            only(
                body.order_id.is_none() && body.lines.is_none(),
                "an entry's refund names entry_seq, not an order",
            )?;
            Ok(match body.kind {
                Kind::Deduction => Asked::Deduction(entry()?),
                _ => Asked::Recharge(entry()?),
            })
        }
        Kind::Order => {
            only(
                body.entry_seq.is_none() && body.amount.is_none(),
                "an order's refund names order_id and lines, not an entry or amount",
            )?;
            let order = body
                .order_id
                .ok_or_else(|| ApiError::Invalid("order_id names the order to refund".into()))?;
            Ok(Asked::Order(
                OrderId(order),
                lines_of(body.lines.as_deref())?,
            ))
        }
    }
}

fn requested(outcome: Outcome) -> ApiResult {
    match outcome {
        Outcome::RefundRequest(r) => Ok(json_status(StatusCode::OK, &RefundRequestDto::from(&*r))),
        Outcome::Rejected(e) => Err(ApiError::Ledger(e)),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

fn created(outcome: Outcome) -> ApiResult {
    match outcome {
        Outcome::RefundRequest(r) => Ok(json_status(
            StatusCode::CREATED,
            &RefundRequestDto::from(&*r),
        )),
        other => requested(other),
    }
}

async fn open(
    state: &ApiState,
    member: MemberId,
    meta_: crate::actors::WriteMeta,
    b: RefundRequestBody,
    requester: Requester,
) -> ApiResult {
    let action = RefundAction::Open {
        asked: asked(&b)?,
        amount: amount_of(b.amount)?,
        reason: b.reason,
        requester,
    };
    let addr = super::handlers::home_ledger(state, member)?;
    let msg = RefundRequestWrite {
        meta: meta_,
        member,
        action,
    };
    created(write(&addr, msg).await?)
}

/// `POST /v1/members/{id}/refund-requests`: a cashier asks on the member's behalf.
pub async fn ask(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            allow_member(&state, &p, member)?;
            let b: RefundRequestBody = parse_json(ct, &body)?;
            let meta_ = meta(&p, key, &format!("members/{raw}/refund-requests"), &b)?;
            let requester = Requester::Staff(p.credential.0);
            open(&state, member, meta_, b, requester).await
        }
        .await,
    )
}

/// `POST /v1/me/refund-requests`: the member asks.
pub async fn ask_mine(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = p.role.member().ok_or(ApiError::Forbidden)?;
            let b: RefundRequestBody = parse_json(ct, &body)?;
            let meta_ = meta(&p, key, "me/refund-requests", &b)?;
            open(&state, member, meta_, b, Requester::Member).await
        }
        .await,
    )
}

/// The request `raw`, if `p` may use `cap` on it: staff of the member's home store, or the
/// member. Others' requests answer 404 alike.
fn request_for(
    state: &ApiState,
    p: &Principal,
    cap: Capability,
    raw: u64,
) -> Result<RefundRequest, ApiError> {
    let nf = || ApiError::NotFound(format!("refund request {raw}"));
    let r = state
        .storage()
        .refund_request(RefundRequestId(raw))?
        .ok_or_else(nf)?;
    match p.role.member() {
        Some(m) if m == r.member => Ok(r),
        Some(_) => Err(nf()),
        None => {
            let home = state.registry.home_of(r.member);
            allow(p, cap, Some(home), || format!("refund request {raw}"))?;
            Ok(r)
        }
    }
}

/// `GET /v1/refund-requests/{id}`.
pub async fn get(state: Arc<ApiState>, p: Principal, raw: u64) -> Response {
    respond((|| {
        let r = request_for(&state, &p, Capability::Counter, raw)?;
        Ok(json_status(StatusCode::OK, &RefundRequestDto::from(&r)))
    })())
}

/// `GET /v1/me/refund-requests`: the member's own, newest first.
pub async fn mine(state: Arc<ApiState>, p: Principal, q: PageQuery) -> Response {
    respond((|| {
        let member = p.role.member().ok_or(ApiError::Forbidden)?;
        let limit = page_limit(&state, q.limit)?;
        let page = state
            .storage()
            .member_refund_requests(member, q.before, limit)?;
        Ok(json_status(StatusCode::OK, &page_dto(page)))
    })())
}

fn page_dto(page: crate::storage::refund_requests::RefundPage) -> RefundRequestsPage {
    RefundRequestsPage {
        requests: page.requests.iter().map(RefundRequestDto::from).collect(),
        next_before: page.next,
    }
}

/// `GET /v1/stores/{id}/refund-requests`: the requests the store issued, newest first,
/// filtered by state, kind and member.
pub async fn of_store(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    q: RefundRequestsQuery,
) -> Response {
    respond((|| {
        let store = store_for(&state, &p, Capability::Counter, raw)?;
        let limit = page_limit(&state, q.limit)?;
        let member = q
            .member_id
            .map(|m| {
                MemberId::parse(m)
                    .map_err(|_| ApiError::InvalidQuery(format!("no member has id {m}")))
            })
            .transpose()?;
        let filter = Filter {
            state: q.state,
            kind: q.kind,
            member,
        };
        let page = state.storage().store_refund_requests(
            store,
            &filter,
            q.before,
            limit,
            REFUND_SCAN_BUDGET,
        )?;
        Ok(json_status(StatusCode::OK, &page_dto(page)))
    })())
}

/// `POST /v1/refund-requests/{id}/approve`: the grant is refunded in the same write.
pub async fn approve(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let r = request_for(&state, &p, Capability::ManageStore, raw)?;
            let b: ApproveRefundBody = parse_json(ct, &body)?;
            let meta_ = meta(&p, key, &format!("refund-requests/{raw}/approve"), &b)?;
            let request = MemberRequest::ApproveRefund {
                id: r.id,
                amount: amount_of(b.amount)?,
                lines: lines_of(b.lines.as_deref())?,
                note: b.note,
            };
            let addr = super::handlers::home_ledger(&state, r.member)?;
            let msg = MemberWrite {
                meta: meta_,
                member: r.member,
                store: state.registry.home_of(r.member),
                card: None,
                request,
            };
            match write(&addr, msg).await? {
                Outcome::Rejected(e) => Err(ApiError::Ledger(e)),
                Outcome::Counter(_) => {
                    // Durable now, with the refund it posted.
                    let decided = request_for(&state, &p, Capability::ManageStore, raw)?;
                    Ok(json_status(
                        StatusCode::OK,
                        &RefundRequestDto::from(&decided),
                    ))
                }
                other => requested(other),
            }
        }
        .await,
    )
}

async fn decide(
    state: &ApiState,
    p: &Principal,
    raw: u64,
    cap: Capability,
    meta_: crate::actors::WriteMeta,
    action: RefundAction,
) -> ApiResult {
    let r = request_for(state, p, cap, raw)?;
    let addr = super::handlers::home_ledger(state, r.member)?;
    let msg = RefundRequestWrite {
        meta: meta_,
        member: r.member,
        action,
    };
    requested(write(&addr, msg).await?)
}

/// `POST /v1/refund-requests/{id}/reject`.
pub async fn reject(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: RejectRefundBody = parse_json(ct, &body)?;
            let route = format!("refund-requests/{raw}/reject");
            let action = RefundAction::Reject {
                id: RefundRequestId(raw),
                reason: b.reason.clone(),
            };
            let meta_ = meta(&p, key, &route, &b)?;
            decide(&state, &p, raw, Capability::ManageStore, meta_, action).await
        }
        .await,
    )
}

/// `POST /v1/refund-requests/{id}/withdraw` (staff) and `/v1/me/refund-requests/{id}/withdraw`
/// (the member): taken back before a decision.
pub async fn withdraw(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let route = format!("refund-requests/{raw}/withdraw");
            let action = RefundAction::Withdraw {
                id: RefundRequestId(raw),
            };
            let meta_ = meta(&p, key, &route, &())?;
            decide(&state, &p, raw, Capability::Counter, meta_, action).await
        }
        .await,
    )
}

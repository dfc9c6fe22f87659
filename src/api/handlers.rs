//! Request handlers: parse and validate, send one message, wait for durability, render.

use std::sync::Arc;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::{self, Response};
use warp::Reply;

use super::auth::{acting_store, allow};
use super::dto::*;
use super::error::ApiError;
use super::{ApiState, ACTOR_REPLY_TIMEOUT};
use crate::actors::directory::{CreateStore, RegisterMember};
use crate::actors::store_ledger::{ApplyLedger, ApplyLedgerBatch};
use crate::actors::{WriteMeta, WriteResult};
use crate::domain::access::{Capability, Principal};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{EntrySeq, IdempotencyKey, MemberId, Name, Phone, StoreId};
use crate::domain::ledger::{LedgerCommand, TenderKind};
use crate::domain::money::Amount;
use crate::domain::oplog::Audit;

pub(super) type ApiResult = Result<Response, ApiError>;

pub(super) fn respond(result: ApiResult) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

pub(super) fn json_status<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    reply::with_status(reply::json(body), status).into_response()
}

/// An answer written to JSON bytes by hand (see `PlanDto::to_json`); 500 if that failed,
/// as `warp::reply::json` does.
pub(super) fn json_bytes(status: StatusCode, body: Result<Vec<u8>, serde_json::Error>) -> Response {
    match body {
        Ok(body) => {
            let mut r = Response::new(body.into());
            *r.status_mut() = status;
            r.headers_mut().insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => {
            tracing::error!("answer not written as JSON: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The request's key, scoped to the caller's store (or, for chain-wide and multi-store
/// credentials, to the credential).
pub(super) fn idempotency_key(
    p: &Principal,
    header: Option<String>,
) -> Result<IdempotencyKey, ApiError> {
    let raw = header.ok_or(ApiError::IdempotencyKeyRequired)?;
    IdempotencyKey::scoped(&key_scope(p), &raw).map_err(ApiError::InvalidIdempotencyKey)
}

fn key_scope(p: &Principal) -> crate::domain::ids::KeyScope {
    if let Some(member) = p.role.member() {
        return crate::domain::ids::KeyScope::Member(member);
    }
    match p.role.home_store() {
        Some(store) => crate::domain::ids::KeyScope::Store(store),
        None => crate::domain::ids::KeyScope::Credential(p.credential.0),
    }
}

/// A fingerprinted write's idempotency record remembers the route and the parsed body.
pub(super) fn meta(
    p: &Principal,
    key: Option<String>,
    route: &str,
    body: &impl Serialize,
) -> Result<WriteMeta, ApiError> {
    let key = idempotency_key(p, key)?;
    // The row says which operation; `route` names its objects.
    let mut fingerprint = p.operation.as_bytes().to_vec();
    fingerprint.push(0);
    fingerprint.extend_from_slice(route.as_bytes());
    fingerprint.push(0);
    fingerprint.extend(serde_json::to_vec(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?);
    Ok(WriteMeta {
        key,
        fingerprint,
        audit: Audit::new(p),
    })
}

pub(super) fn parse_json<T: DeserializeOwned>(
    content_type: Option<String>,
    body: &Bytes,
) -> Result<T, ApiError> {
    let is_json = content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).or_else(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => integral(body).ok_or(ApiError::InvalidBody(e.to_string())),
            _ => Err(ApiError::MalformedJson(e.to_string())),
        }
    })
}

/// The body again with numbers such as `5.0` read as the integers they are: JSON Schema's
/// `integer` (the document's) admits them, serde's integers don't. Only refused bodies
/// take this path.
fn integral<T: DeserializeOwned>(body: &Bytes) -> Option<T> {
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    fn walk(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // A float with no fraction is an exact integer; `as` is exact in range. The
                // ends are open: a literal just past one rounds onto it.
                *v = if f.fract() != 0.0 {
                    return false;
                } else if (0.0..U64_END).contains(&f) {
                    serde_json::Value::from(f as u64)
                } else if f > -I64_END && f < 0.0 {
                    serde_json::Value::from(f as i64)
                } else {
                    return false;
                };
                true
            }
            serde_json::Value::Array(items) => items.iter_mut().fold(false, |c, i| walk(i) | c),
            serde_json::Value::Object(fields) => {
                fields.values_mut().fold(false, |c, f| walk(f) | c)
            }
            _ => false,
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if !walk(&mut v) {
        return None;
    }
    serde_json::from_value(v).ok()
}

fn amount(minor: i64) -> Result<Amount, ApiError> {
    Amount::new(minor).map_err(ApiError::InvalidAmount)
}

/// Counter work on a member needs the member's home store.
pub(super) fn allow_member(
    state: &ApiState,
    p: &Principal,
    member: MemberId,
) -> Result<(), ApiError> {
    allow(
        p,
        Capability::Counter,
        Some(state.registry.home_of(member)),
        || format!("member {member}"),
    )
}

/// May `p` read `member`'s account and bookings: the member themself, signed in, or staff
/// who may serve them.
pub(super) fn allow_reader(
    state: &ApiState,
    p: &Principal,
    member: MemberId,
) -> Result<(), ApiError> {
    match p.role.member() {
        Some(m) if m == member => Ok(()),
        Some(_) => Err(ApiError::NotFound(format!("member {member}"))),
        None => allow_member(state, p, member),
    }
}

/// Spending a member's value (跨店消费): at the home store, or, when the chain allows
/// cross-store use, at any counter of the chain. Reading the member's history stays with
/// the home store.
pub(super) fn allow_spend(
    state: &ApiState,
    p: &Principal,
    member: MemberId,
) -> Result<(), ApiError> {
    match allow_member(state, p, member) {
        Err(ApiError::NotFound(_)) if state.cross_store_use => {
            let store = p.role.home_store().ok_or(ApiError::Forbidden)?;
            allow(p, Capability::Counter, Some(store), || {
                format!("member {member}")
            })
        }
        other => other,
    }
}

pub(super) fn tender(name: Option<&str>) -> Result<TenderKind, ApiError> {
    match name {
        None => Ok(TenderKind::Cash),
        Some(n) => TenderKind::parse(n).ok_or_else(|| {
            ApiError::Invalid("tender must be cash, bank_card, wechat_pay or alipay".into())
        }),
    }
}

pub(super) fn member_id(raw: u64) -> Result<MemberId, ApiError> {
    MemberId::parse(raw).map_err(|_| ApiError::NotFound(format!("member {raw}")))
}

/// The ledger actor of a member's home store, which owns the member's account.
pub(super) fn home_ledger(
    state: &ApiState,
    member: MemberId,
) -> Result<Addr<crate::actors::store_ledger::StoreLedger>, ApiError> {
    state
        .registry
        .store(state.registry.home_of(member))
        .ok_or_else(|| ApiError::NotFound(format!("member {member}")))
}

pub(super) fn store_id(raw: u64) -> Result<StoreId, ApiError> {
    StoreId::from_u64(raw).map_err(|_| ApiError::NotFound(format!("store {raw}")))
}

/// The store `raw` names, if the caller may use `cap` there and it exists: 404 for another
/// store's or an unknown id alike.
pub(super) fn store_for(
    state: &ApiState,
    p: &Principal,
    cap: Capability,
    raw: u64,
) -> Result<StoreId, ApiError> {
    let sid = store_id(raw)?;
    allow(p, cap, Some(sid), || format!("store {raw}"))?;
    if !state.registry.has_store(sid) {
        return Err(ApiError::NotFound(format!("store {raw}")));
    }
    Ok(sid)
}

/// Sends a write to its actor and waits until the journal has made its effect durable.
pub(super) async fn write<A, M>(addr: &Addr<A>, msg: M) -> Result<Outcome, ApiError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = WriteResult> + Send + 'static,
{
    let _in_flight = super::metrics::InFlight::new(addr)?;
    let reply = tokio::time::timeout(ACTOR_REPLY_TIMEOUT, addr.send(msg))
        .await
        .map_err(|_| ApiError::Overloaded)?
        .map_err(|_| ApiError::Unavailable)?;
    let durable = reply?;
    durable
        .ticket
        .durable()
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(durable.value)
}

pub(super) fn outcome_response(state: &ApiState, outcome: Outcome) -> ApiResult {
    let member =
        |m: &crate::domain::member::Member| MemberDto::new(m, state.registry.home_of(m.id));
    match outcome {
        Outcome::Posted(e) => Ok(json_status(StatusCode::CREATED, &EntryDto::from(&e))),
        Outcome::Rejected(e) => Err(ApiError::Ledger(e)),
        Outcome::MemberRegistered(m) => Ok(json_status(StatusCode::CREATED, &member(&m))),
        Outcome::MemberEdited(m) => Ok(json_status(StatusCode::OK, &member(&m))),
        Outcome::PhoneTaken(id) => Err(ApiError::PhoneTaken(id.get())),
        Outcome::StoreCreated(s) => Ok(json_status(StatusCode::CREATED, &StoreDto::from(&s))),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

pub async fn healthz() -> Response {
    json_status(StatusCode::OK, &Health { status: "ok" })
}

pub async fn create_store(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let key = idempotency_key(&p, key)?;
            let body: CreateStoreBody = parse_json(ct, &body)?;
            let name = Name::new(&body.name, "store name").map_err(ApiError::InvalidField)?;
            let tz_name = body
                .time_zone
                .as_deref()
                .unwrap_or(&state.default_time_zone);
            let time_zone = tz_name
                .parse()
                .map_err(|_| ApiError::InvalidTimeZone(tz_name.chars().take(64).collect()))?;
            let msg = CreateStore {
                audit: Audit::new(&p),
                key,
                name,
                time_zone,
            };
            outcome_response(&state, write(&state.directory, msg).await?)
        }
        .await,
    )
}

pub async fn get_store(state: Arc<ApiState>, _any_caller: Principal, raw: u64) -> Response {
    respond((|| {
        let id = store_id(raw)?;
        let store = state
            .storage()
            .store(id)?
            .ok_or_else(|| ApiError::NotFound(format!("store {raw}")))?;
        Ok(json_status(StatusCode::OK, &StoreDto::from(&store)))
    })())
}

/// A list's page size: the asked `limit`, default and at most `limits.page_size_max`.
pub(super) fn page_limit(state: &ApiState, asked: Option<usize>) -> Result<usize, ApiError> {
    let limit = asked.unwrap_or(state.page_size_max);
    if limit == 0 || limit > state.page_size_max {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be between 1 and {}",
            state.page_size_max
        )));
    }
    Ok(limit)
}

/// Stores in id order, a page at a time: `?after=<last id>&limit=`.
pub async fn list_stores(
    state: Arc<ApiState>,
    _any_caller: Principal,
    query: PageAfterQuery,
) -> Response {
    respond((|| {
        let limit = page_limit(&state, query.limit)?;
        let after = u32::try_from(query.after.unwrap_or(0)).unwrap_or(u32::MAX);
        let stores = state.storage().stores_page(after, limit)?;
        let next_after = (stores.len() == limit)
            .then(|| stores.last().map(|s| s.id.get()))
            .flatten();
        let stores: Vec<StoreDto> = stores.iter().map(StoreDto::from).collect();
        Ok(json_status(
            StatusCode::OK,
            &StoresPage { stores, next_after },
        ))
    })())
}

pub async fn register_member(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let key = idempotency_key(&p, key)?;
            let body: RegisterMemberBody = parse_json(ct, &body)?;
            let home = store_id(body.home_store_id)?;
            allow(&p, Capability::Counter, Some(home), || {
                format!("store {home}")
            })?;
            let msg = RegisterMember {
                audit: Audit::new(&p),
                key,
                phone: Phone::new(&body.phone).map_err(ApiError::InvalidField)?,
                name: Name::new(&body.name, "member name").map_err(ApiError::InvalidField)?,
                home,
            };
            outcome_response(&state, write(&state.directory, msg).await?)
        }
        .await,
    )
}

pub async fn get_member(state: Arc<ApiState>, p: Principal, raw: u64) -> Response {
    respond((|| {
        let id = member_id(raw)?;
        allow_member(&state, &p, id)?;
        let member = state
            .storage()
            .member(id)?
            .ok_or_else(|| ApiError::NotFound(format!("member {raw}")))?;
        let home = state.registry.home_of(id);
        Ok(json_status(StatusCode::OK, &MemberDto::new(&member, home)))
    })())
}

pub async fn find_member(state: Arc<ApiState>, p: Principal, query: PhoneQuery) -> Response {
    respond((|| {
        let phone = Phone::new(&query.phone).map_err(ApiError::InvalidField)?;
        let storage = state.storage();
        let member = storage
            .member_by_phone(&phone)?
            .map(|id| storage.member(id))
            .transpose()?
            .flatten()
            .ok_or_else(|| ApiError::NotFound("member with this phone".into()))?;
        let home = state.registry.home_of(member.id);
        allow(&p, Capability::Counter, Some(home), || {
            "member with this phone".into()
        })?;
        Ok(json_status(StatusCode::OK, &MemberDto::new(&member, home)))
    })())
}

/// Which ledger operation a POST on a member's sub-resource means.
#[derive(Debug, Clone, Copy)]
pub enum LedgerRoute {
    Recharge,
    Deduct,
    Refund,
}

pub async fn ledger_write(
    route: LedgerRoute,
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let key = idempotency_key(&p, key)?;
            let member = member_id(raw)?;
            if matches!(route, LedgerRoute::Deduct) {
                allow_spend(&state, &p, member)?;
            } else {
                allow_member(&state, &p, member)?;
            }
            let mut employee = None;
            let command = match route {
                LedgerRoute::Recharge | LedgerRoute::Deduct => {
                    let body: MoneyBody = parse_json(ct, &body)?;
                    let amount = amount(body.amount)?;
                    let store = acting_store(&p, body.store_id)?;
                    employee = super::staff::credited(&state, body.employee_id, store)?;
                    if matches!(route, LedgerRoute::Recharge) {
                        LedgerCommand::Recharge {
                            member,
                            store,
                            amount,
                            tender: tender(body.tender.as_deref())?,
                        }
                    } else {
                        LedgerCommand::Deduct {
                            member,
                            store,
                            amount,
                        }
                    }
                }
                LedgerRoute::Refund => {
                    let body: RefundBody = parse_json(ct, &body)?;
                    LedgerCommand::Refund {
                        member,
                        deduction: EntrySeq(body.deduction_seq),
                        amount: body.amount.map(amount).transpose()?,
                    }
                }
            };
            let addr = home_ledger(&state, member)?;
            let audit = Audit {
                employee,
                ..Audit::new(&p)
            };
            outcome_response(
                &state,
                write(
                    &addr,
                    ApplyLedger {
                        key,
                        command,
                        audit,
                    },
                )
                .await?,
            )
        }
        .await,
    )
}

pub async fn balance(state: Arc<ApiState>, p: Principal, raw: u64) -> Response {
    respond((|| {
        let id = member_id(raw)?;
        allow_member(&state, &p, id)?;
        let account = state
            .storage()
            .account(id)?
            .ok_or_else(|| ApiError::NotFound(format!("member {raw}")))?;
        Ok(json_status(StatusCode::OK, &BalanceDto::from(&account)))
    })())
}

pub async fn entries(state: Arc<ApiState>, p: Principal, raw: u64, query: PageQuery) -> Response {
    respond((|| {
        let id = member_id(raw)?;
        allow_reader(&state, &p, id)?;
        let limit = query.limit.unwrap_or(super::PAGE_SIZE_DEFAULT);
        if limit == 0 || limit > state.page_size_max {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be between 1 and {}",
                state.page_size_max
            )));
        }
        let storage = state.storage();
        if storage.account(id)?.is_none() {
            return Err(ApiError::NotFound(format!("member {raw}")));
        }
        let entries = storage.entries_page(id, query.before.map(EntrySeq), limit)?;
        let next_before = match entries.last() {
            Some(last) if entries.len() == limit && last.seq.0 > 1 => Some(last.seq.0),
            _ => None,
        };
        let page = EntriesPage {
            entries: entries.iter().map(EntryDto::from).collect(),
            next_before,
        };
        Ok(json_status(StatusCode::OK, &page))
    })())
}

pub async fn trial_balance(state: Arc<ApiState>, p: Principal) -> Response {
    if let Err(e) = allow(&p, Capability::ChainAdmin, None, String::new) {
        return e.into_response();
    }
    let storage = state.storage().clone();
    let result = tokio::task::spawn_blocking(move || storage.trial_balance())
        .await
        .map_err(|_| ApiError::Unavailable)
        .and_then(|r| r.map_err(ApiError::from))
        .map(|tb| json_status(StatusCode::OK, &TrialBalanceDto::from(&tb)));
    respond(result)
}

/// Runs every store scheduler's tick and waits until its writes are durable.
pub async fn tick_all(registry: &crate::actors::registry::Registry) -> Result<(), ApiError> {
    for addr in registry.schedulers() {
        let ticket = addr
            .send(crate::actors::scheduler::Tick)
            .await
            .map_err(|_| ApiError::Unavailable)?;
        ticket.durable().await.map_err(|_| ApiError::Unavailable)?;
    }
    Ok(())
}

/// Most operations one batch request may carry.
pub const BATCH_OPS_MAX: usize = 1_000;

fn batch_command(
    state: &ApiState,
    p: &Principal,
    op: &BatchOp,
) -> Result<(IdempotencyKey, LedgerCommand), ApiError> {
    let key = IdempotencyKey::scoped(&key_scope(p), &op.idempotency_key)
        .map_err(ApiError::InvalidIdempotencyKey)?;
    let member = member_id(op.member_id)?;
    // The same rule as the single routes: a deduction may be cross-store, nothing else.
    if op.op == "deduct" {
        allow_spend(state, p, member)?;
    } else {
        allow_member(state, p, member)?;
    }
    let need_store = || acting_store(p, op.store_id);
    let need_amount = || {
        amount(
            op.amount
                .ok_or_else(|| ApiError::Invalid("amount is required".into()))?,
        )
    };
    let command = match op.op.as_str() {
        "recharge" => LedgerCommand::Recharge {
            member,
            store: need_store()?,
            amount: need_amount()?,
            tender: TenderKind::Cash,
        },
        "deduct" => LedgerCommand::Deduct {
            member,
            store: need_store()?,
            amount: need_amount()?,
        },
        "refund" => LedgerCommand::Refund {
            member,
            deduction: EntrySeq(
                op.deduction_seq
                    .ok_or_else(|| ApiError::Invalid("deduction_seq is required".into()))?,
            ),
            amount: op.amount.map(amount).transpose()?,
        },
        _ => {
            return Err(ApiError::InvalidBody(
                "op must be recharge, deduct or refund".into(),
            ))
        }
    };
    Ok((key, command))
}

fn batch_result(result: Result<Outcome, ApiError>) -> BatchResult {
    let error = |e: ApiError| {
        let (status, code) = e.status_and_code();
        BatchResult {
            status: status.as_u16(),
            body: BatchResultBody::Error {
                code,
                message: e.to_string(),
            },
        }
    };
    match result {
        Ok(Outcome::Posted(entry)) => BatchResult {
            status: StatusCode::CREATED.as_u16(),
            body: BatchResultBody::Entry(EntryDto::from(&entry)),
        },
        Ok(Outcome::Rejected(e)) => error(ApiError::Ledger(e)),
        Ok(other) => error(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
        Err(e) => error(e),
    }
}

/// `POST /v1/ledger/batch`: up to [`BATCH_OPS_MAX`] independent ledger operations, each with
/// its own idempotency key and its own answer; each home store's share is one journal entry.
pub async fn ledger_batch(
    state: Arc<ApiState>,
    p: Principal,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let body: BatchBody = parse_json(ct, &body)?;
            if body.operations.is_empty() || body.operations.len() > BATCH_OPS_MAX {
                return Err(ApiError::InvalidBody(format!(
                    "a batch holds 1 to {BATCH_OPS_MAX} operations, not {}",
                    body.operations.len()
                )));
            }
            let mut results: Vec<Option<Result<Outcome, ApiError>>> =
                Vec::with_capacity(body.operations.len());
            let mut by_store: std::collections::HashMap<
                StoreId,
                Vec<(usize, IdempotencyKey, LedgerCommand)>,
            > = std::collections::HashMap::new();
            for (i, op) in body.operations.iter().enumerate() {
                match batch_command(&state, &p, op) {
                    Ok((key, command)) => {
                        by_store
                            .entry(state.registry.home_of(command.member()))
                            .or_default()
                            .push((i, key, command));
                        results.push(None);
                    }
                    Err(e) => results.push(Some(Err(e))),
                }
            }
            let mut sends = Vec::new();
            for (store, ops) in by_store {
                let Some(addr) = state.registry.store(store) else {
                    for (i, _, c) in ops {
                        results[i] =
                            Some(Err(ApiError::NotFound(format!("member {}", c.member()))));
                    }
                    continue;
                };
                let index: Vec<usize> = ops.iter().map(|(i, _, _)| *i).collect();
                let msg = ApplyLedgerBatch {
                    audit: Audit::new(&p),
                    ops: ops.into_iter().map(|(_, k, c)| (k, c)).collect(),
                };
                let admitted = super::metrics::InFlight::new(&addr)?;
                sends.push(async move {
                    let reply = tokio::time::timeout(ACTOR_REPLY_TIMEOUT, addr.send(msg)).await;
                    drop(admitted);
                    (index, reply)
                });
            }
            for (index, reply) in futures::future::join_all(sends).await {
                let durable = reply
                    .map_err(|_| ApiError::Overloaded)?
                    .map_err(|_| ApiError::Unavailable)?;
                durable
                    .ticket
                    .durable()
                    .await
                    .map_err(|_| ApiError::Unavailable)?;
                for (i, r) in index.into_iter().zip(durable.value) {
                    results[i] = Some(r.map_err(ApiError::from));
                }
            }
            let results = results
                .into_iter()
                .map(|r| batch_result(r.unwrap_or(Err(ApiError::Unavailable))))
                .collect();
            Ok(json_status(StatusCode::OK, &BatchAnswer { results }))
        }
        .await,
    )
}

//! Bulk messages (群发) over HTTP: one page of the members a filter finds per request, each
//! messaged under `<key>/<member id>`, so a run goes on page after page with one key and a
//! retried page messages nobody twice; the run's report sums its pages.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::handlers::{idempotency_key, json_status, meta, page_limit, parse_json, respond};
use super::membership::bulk_key;
use super::ApiState;
use crate::actors::bulk_messages::{QueueMessage, RecordBulkPage};
use crate::domain::access::{Capability, Principal};
use crate::domain::bulk_message::{Audience, Tally, BULK_MESSAGE_IN_FLIGHT, BULK_MESSAGE_PAGE_MAX};
use crate::domain::idempotency::Outcome;
use crate::domain::ledger::Account;
use crate::domain::member::Member;
use crate::domain::notify::{yuan, EventKind, MessageTemplate};

/// One page of a run.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkMessageBody {
    /// The message, with `{member_id}`, `{store_id}`, `{name}`, `{balance}`, `{points}`;
    /// absent: the chain's `bulk_message` template.
    #[schema(min_length = 1, max_length = 500)]
    pub text: Option<String>,
    /// Which members, as `GET /v1/members/search` names them (level, tag, home store,
    /// balance range, ...).
    #[serde(default, deserialize_with = "super::members::object")]
    pub filter: super::members::MemberFilterBody,
    /// Only members whose birthday is in this month (their home store's).
    #[serde(default)]
    pub birthday_this_month: bool,
    /// Only members holding a usable count card with fewer sessions left than this.
    #[schema(minimum = 1)]
    pub sessions_below: Option<u32>,
    /// `next_after` of the page before: go on from there, with the same key.
    #[schema(pattern = "^[0-9a-f]{2,256}$")]
    pub after: Option<String>,
    #[schema(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkMessageResultDto {
    pub member_id: u64,
    /// `sent` (queued in the outbox), `skipped` or `failed`.
    pub result: &'static str,
    pub notification_id: Option<u64>,
    /// Why skipped, or the error code of a failure.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkMessagePageDto {
    pub results: Vec<BulkMessageResultDto>,
    /// This page's tally.
    pub page: Tally,
    /// The run's, over every page sent so far with this key.
    pub run: Tally,
    /// Present while the filter may find more: send it as `after`.
    pub next_after: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BulkRunQuery {
    /// The run's `Idempotency-Key`.
    pub key: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkRunDto {
    pub key: String,
    pub pages: u64,
    pub sent: u64,
    pub skipped: u64,
    pub failed: u64,
}

fn template(state: &ApiState, text: Option<&str>) -> Result<MessageTemplate, ApiError> {
    match text {
        Some(t) => MessageTemplate::new(EventKind::BulkMessage, t)
            .map_err(|e| ApiError::Invalid(e.to_string())),
        None => state
            .registry
            .catalog()
            .templates
            .get(&EventKind::BulkMessage)
            .cloned()
            .ok_or_else(|| {
                ApiError::Invalid(
                    "give the text, or set the chain's bulk_message template first".into(),
                )
            }),
    }
}

fn vars(member: &Member, account: &Account, store: u32) -> Vec<(&'static str, String)> {
    vec![
        ("member_id", member.id.get().to_string()),
        ("store_id", store.to_string()),
        ("name", member.name.as_str().to_owned()),
        ("balance", yuan(account.balance)),
        ("points", account.membership.points.to_string()),
    ]
}

/// `POST /v1/bulk-messages`: one page of a run.
pub async fn send_page(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let raw_key = bulk_key(key)?;
            let run = idempotency_key(&p, Some(raw_key.clone()))?;
            let b: BulkMessageBody = parse_json(ct, &body)?;
            let template = template(&state, b.text.as_deref())?;
            let (index, filter) =
                super::members::resolve(&p, &b.filter, Capability::ManageStore, ApiError::Invalid)?;
            let limit = page_limit(&state, b.limit)?.min(BULK_MESSAGE_PAGE_MAX);
            let after = super::members::cursor(b.after.as_deref())?;
            let audience = Audience {
                birthday_this_month: b.birthday_this_month,
                sessions_below: b.sessions_below,
            };
            if audience.sessions_below == Some(0) {
                return Err(ApiError::Invalid("sessions_below is 1 or more".into()));
            }
            let page =
                state
                    .storage()
                    .search_members(&index, &filter, after.as_deref(), limit, &|m| {
                        state.registry.home_of(m)
                    })?;
            let now = state.registry.clock.now();
            let one = |(member, account): &(Member, Account)| {
                let (state, p, raw_key, template, b) = (&state, &p, &raw_key, &template, &b);
                let (member, account) = (member.clone(), account.clone());
                async move {
                    let raw = member.id.get();
                    let home = state.registry.home_of(member.id);
                    let today = now
                        .with_timezone(&state.registry.time_zone(home))
                        .date_naive();
                    if let Err(skip) = audience.admits(&member, &account, today) {
                        return BulkMessageResultDto {
                            member_id: raw,
                            result: "skipped",
                            notification_id: None,
                            reason: Some(skip.name()),
                        };
                    }
                    let sent = async {
                        // The run's terms, not its paging: a member is messaged once a run.
                        let terms = (&b.text, &b.filter, b.birthday_this_month, b.sessions_below);
                        let m = meta(p, Some(format!("{raw_key}/{raw}")), "bulk-messages", &terms)?;
                        let msg = QueueMessage {
                            meta: m,
                            member: member.id,
                            template: template.clone(),
                            vars: vars(&member, &account, home.get()),
                        };
                        match super::handlers::write(&state.directory, msg).await? {
                            Outcome::MessageQueued { notification, .. } => Ok(notification),
                            other => Err(ApiError::InvalidBody(format!(
                                "unexpected outcome {other:?}"
                            ))),
                        }
                    }
                    .await;
                    match sent {
                        Ok(n) => BulkMessageResultDto {
                            member_id: raw,
                            result: "sent",
                            notification_id: Some(n),
                            reason: None,
                        },
                        Err(e) => BulkMessageResultDto {
                            member_id: raw,
                            result: "failed",
                            notification_id: None,
                            reason: Some(e.status_and_code().1),
                        },
                    }
                }
            };
            let results: Vec<BulkMessageResultDto> = futures::stream::iter(page.members.iter())
                .map(one)
                .buffered(BULK_MESSAGE_IN_FLIGHT)
                .collect()
                .await;
            let mut tally = Tally::default();
            for r in &results {
                match r.result {
                    "sent" => tally.sent += 1,
                    "skipped" => tally.skipped += 1,
                    _ => tally.failed += 1,
                }
            }
            let record = RecordBulkPage {
                run: run.as_str().to_owned(),
                page: b.after.clone().unwrap_or_default(),
                tally,
            };
            let ticket = state
                .directory
                .send(record)
                .await
                .map_err(|_| ApiError::Unavailable)?;
            ticket.durable().await.map_err(|_| ApiError::Unavailable)?;
            let (run_tally, _) = state.storage().bulk_run(run.as_str())?.unwrap_or_default();
            Ok(json_status(
                StatusCode::OK,
                &BulkMessagePageDto {
                    results,
                    page: tally,
                    run: run_tally,
                    next_after: page.next.map(hex::encode),
                },
            ))
        }
        .await,
    )
}

/// `GET /v1/bulk-messages?key=`: a run's report over its pages.
pub async fn run_report(state: Arc<ApiState>, p: Principal, q: BulkRunQuery) -> Response {
    respond((|| {
        let run = idempotency_key(&p, Some(q.key.clone()))
            .map_err(|_| ApiError::InvalidQuery("key must be a run's Idempotency-Key".into()))?;
        let (t, pages) = state
            .storage()
            .bulk_run(run.as_str())?
            .ok_or_else(|| ApiError::NotFound(format!("bulk-message run {}", q.key)))?;
        Ok(json_status(
            StatusCode::OK,
            &BulkRunDto {
                key: q.key,
                pages,
                sent: t.sent,
                skipped: t.skipped,
                failed: t.failed,
            },
        ))
    })())
}

//! Notification templates, the webhook, and the outbox over HTTP.

use crate::domain::ledger::Timestamp;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::dto::PageAfterQuery;
use super::error::ApiError;
use super::handlers::{json_status, meta, page_limit, parse_json, respond, store_for};
use super::membership::catalog_write;
use super::ApiState;
use crate::domain::access::{Capability, Principal};
use crate::domain::counter::CatalogChange;
use crate::domain::notify::{
    check_webhook_url, Delivery, EventKind, MessageTemplate, Notification,
};

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTextBody {
    /// SMS-style text; `{placeholders}` of the event (see GET /v1/notification-templates).
    pub text: String,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// http(s) URL that receives each notification as a JSON POST; null stops delivery
    /// (the outbox keeps filling).
    pub url: Option<String>,
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::Invalid(e.to_string())
}

/// `PUT /v1/notification-templates/{event}`.
pub async fn put_template(
    state: Arc<ApiState>,
    p: Principal,
    event: String,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let kind = EventKind::parse(&event)
                .ok_or_else(|| ApiError::NotFound(format!("event {:.40}", event)))?;
            let b: TemplateTextBody = parse_json(ct, &body)?;
            let template = MessageTemplate::new(kind, &b.text).map_err(invalid)?;
            catalog_write(
                &state,
                meta(
                    &p,
                    key,
                    &format!("notification-templates/{}", kind.name()),
                    &b,
                )?,
                CatalogChange::MessageTemplate(template),
            )
            .await
        }
        .await,
    )
}

/// `PUT /v1/notification-webhook`.
pub async fn put_webhook(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let b: WebhookBody = parse_json(ct, &body)?;
            if let Some(url) = &b.url {
                check_webhook_url(url).map_err(invalid)?;
                if !state.webhook_private_targets {
                    check_public_target(url).map_err(invalid)?;
                }
            }
            catalog_write(
                &state,
                meta(&p, key, "notification-webhook", &b)?,
                CatalogChange::Webhook(b.url.clone()),
            )
            .await
        }
        .await,
    )
}

/// Refuses a URL whose host is a private address or a name of this machine (host names
/// are checked again, resolved, at each delivery).
fn check_public_target(url: &str) -> Result<(), crate::domain::notify::TemplateError> {
    use crate::domain::notify::{names_private_target, TemplateError};
    match names_private_target(url) {
        None => Err(TemplateError::Url),
        Some(true) => Err(TemplateError::PrivateTarget),
        Some(false) => Ok(()),
    }
}

/// `GET /v1/notification-templates`: every event with its placeholders and template.
pub async fn templates(state: Arc<ApiState>, p: Principal) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let c = state.registry.catalog();
            let events: Vec<_> = EventKind::ALL
                .iter()
                .map(|e| EventTemplateDto {
                    event: e.name(),
                    placeholders: e.placeholders(),
                    text: c.templates.get(e).map(|t| t.text.clone()),
                })
                .collect();
            Ok(json_status(
                StatusCode::OK,
                &TemplatesDto {
                    events,
                    webhook_url: c.webhook.clone(),
                },
            ))
        }
        .await,
    )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventTemplateDto {
    pub event: &'static str,
    pub placeholders: &'static [&'static str],
    /// Absent: the event sends nothing.
    pub text: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplatesDto {
    pub events: Vec<EventTemplateDto>,
    pub webhook_url: Option<String>,
}

/// One message of a store's outbox, with its delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationDto {
    pub id: String,
    pub seq: u64,
    pub member_id: u64,
    pub store_id: u32,
    pub event: &'static str,
    pub text: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// `pending`, `delivered` or `failed`.
    pub status: &'static str,
    pub attempts: u32,
    /// When it is tried next (pending), or when it was delivered or given up.
    #[schema(value_type = String, format = DateTime)]
    pub status_at: Timestamp,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    pub notifications: Vec<NotificationDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

fn notification_json(n: &Notification) -> NotificationDto {
    let (status, at) = match n.delivery {
        Delivery::Pending { next_at } => ("pending", next_at),
        Delivery::Delivered { at } => ("delivered", at),
        Delivery::Failed { at } => ("failed", at),
    };
    NotificationDto {
        id: n.id.text(),
        seq: n.id.0 & 0xffff_ffff,
        member_id: n.member.get(),
        store_id: n.store.get(),
        event: n.event.name(),
        // Staff never read a member's sign-in code.
        text: if n.event.secret() {
            "(hidden: a sign-in code)".to_owned()
        } else {
            n.text.clone()
        },
        created_at: n.created_at,
        status,
        attempts: n.attempts,
        status_at: at,
        last_error: n.last_error.clone(),
    }
}

/// `GET /v1/stores/{id}/notifications?after=&limit=`: the outbox of one store, oldest first;
/// follow `next_after`.
pub async fn outbox(state: Arc<ApiState>, p: Principal, store: u64, q: PageAfterQuery) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            let limit = page_limit(&state, q.limit)?;
            let items = state
                .storage()
                .notifications_of_store(sid, q.after, limit)?;
            let next = (items.len() == limit)
                .then(|| items.last().map(|n| n.id.0 & 0xffff_ffff))
                .flatten();
            let items: Vec<_> = items.iter().map(notification_json).collect();
            Ok(json_status(
                StatusCode::OK,
                &OutboxPage {
                    notifications: items,
                    next_after: next,
                },
            ))
        }
        .await,
    )
}

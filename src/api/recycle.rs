//! The recycle bin (数据回收站) over HTTP: delete members, gifts and coupon templates (services
//! and resources have their own DELETE routes, which also use the bin), list, restore.

use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, member_id, meta, page_limit, respond, store_id, write};
use super::ApiState;
use crate::actors::directory::{BinCatalogItem, RestoreChainItem};
use crate::actors::directory::{BinMember, RestoreMember};
use crate::actors::scheduler::RestoreResource;
use crate::domain::access::{Capability, Principal};
use crate::domain::booking::ResourceId;
use crate::domain::idempotency::Outcome;
use crate::domain::recycle::{BinEntry, BinKind};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BinQuery {
    /// member, service, resource, gift or coupon_template.
    pub kind: Option<String>,
    /// A store's members and resources; required for store managers.
    pub store_id: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

fn render(outcome: Outcome) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Binned(kind, id) => Ok(json_status(
            StatusCode::OK,
            &BinnedDto {
                kind: kind.name(),
                id,
                status: "in_recycle_bin",
            },
        )),
        Outcome::Restored(kind, id) => Ok(json_status(
            StatusCode::OK,
            &BinnedDto {
                kind: kind.name(),
                id,
                status: "restored",
            },
        )),
        other => Err(ApiError::InvalidBody(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// `DELETE /v1/members/{id}`: a member with nothing of value left goes to the bin.
pub async fn delete_member(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            allow(
                &p,
                Capability::ManageStore,
                Some(state.registry.home_of(member)),
                || format!("member {raw}"),
            )?;
            let meta = meta(&p, key, &format!("DELETE members/{raw}"), &())?;
            render(write(&state.directory, BinMember { meta, member }).await?)
        }
        .await,
    )
}

/// `DELETE /v1/gifts/{id}` and `DELETE /v1/coupon-templates/{id}`.
pub async fn delete_catalog_item(
    kind: BinKind,
    state: Arc<ApiState>,
    p: Principal,
    id: u32,
    key: Option<String>,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let meta = meta(&p, key, &format!("DELETE {}/{id}", kind.name()), &())?;
            render(write(&state.directory, BinCatalogItem { meta, kind, id }).await?)
        }
        .await,
    )
}

/// An object moved to the bin, or restored from it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BinnedDto {
    /// `member`, `resource`, `service`, `gift` or `coupon_template`.
    pub kind: &'static str,
    pub id: u64,
    /// `in_recycle_bin` or `restored`.
    pub status: &'static str,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BinEntryDto {
    pub kind: &'static str,
    pub id: u64,
    pub store_id: Option<u32>,
    pub label: String,
    #[schema(value_type = String, format = DateTime)]
    pub deleted_at: crate::domain::ledger::Timestamp,
    pub deleted_by_credential: u64,
    /// After this it can't be restored.
    #[schema(value_type = String, format = DateTime)]
    pub purge_at: crate::domain::ledger::Timestamp,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BinPage {
    pub items: Vec<BinEntryDto>,
    pub retention_days: u32,
}

fn entry_json(e: &BinEntry, retention: u32) -> BinEntryDto {
    BinEntryDto {
        kind: e.kind.name(),
        id: e.id,
        store_id: e.store.map(|s| s.get()),
        label: e.label.clone(),
        deleted_at: e.deleted_at,
        deleted_by_credential: e.deleted_by,
        purge_at: e.purge_at(retention),
    }
}

/// `GET /v1/recycle-bin?kind=&store_id=&limit=`: restorable entries. HQ sees everything;
/// a store manager names one of their stores and sees its members and resources.
pub async fn list(state: Arc<ApiState>, p: Principal, q: BinQuery) -> Response {
    respond(
        async {
            let kind = match &q.kind {
                Some(k) => Some(
                    BinKind::parse(k)
                        .ok_or_else(|| ApiError::InvalidQuery(format!("unknown kind {k:.40}")))?,
                ),
                None => None,
            };
            let store = match q.store_id {
                Some(raw) => {
                    let sid = store_id(raw)?;
                    allow(&p, Capability::ManageStore, Some(sid), || {
                        format!("store {raw}")
                    })?;
                    Some(sid)
                }
                None => {
                    allow(&p, Capability::ChainAdmin, None, String::new)?;
                    None
                }
            };
            let limit = page_limit(&state, q.limit)?;
            let retention = state.registry.bin_retention_days;
            let now = state.registry.clock.now();
            let items: Vec<_> = state
                .storage()
                .bin_entries(kind)?
                .iter()
                .filter(|e| !e.expired(retention, now))
                .filter(|e| store.is_none() || (e.kind.store_scoped() && e.store == store))
                .take(limit)
                .map(|e| entry_json(e, retention))
                .collect();
            Ok(json_status(
                StatusCode::OK,
                &BinPage {
                    items,
                    retention_days: retention,
                },
            ))
        }
        .await,
    )
}

/// `POST /v1/recycle-bin/{kind}/{id}/restore`.
pub async fn restore(
    state: Arc<ApiState>,
    p: Principal,
    kind: String,
    id: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let kind = BinKind::parse(&kind)
                .ok_or_else(|| ApiError::NotFound(format!("kind {kind:.40}")))?;
            let route = format!("recycle-bin/{}/{id}/restore", kind.name());
            let outcome = match kind {
                BinKind::Member => {
                    let member = member_id(id)?;
                    allow(
                        &p,
                        Capability::ManageStore,
                        Some(state.registry.home_of(member)),
                        || format!("member {id}"),
                    )?;
                    let meta = meta(&p, key, &route, &())?;
                    write(&state.directory, RestoreMember { meta, member }).await?
                }
                BinKind::Resource => {
                    let store = store_id(id >> 32)?;
                    allow(&p, Capability::ManageStore, Some(store), || {
                        format!("resource {id}")
                    })?;
                    let addr = state
                        .registry
                        .scheduler(store)
                        .ok_or_else(|| ApiError::NotFound(format!("resource {id}")))?;
                    let meta = meta(&p, key, &route, &())?;
                    write(
                        &addr,
                        RestoreResource {
                            meta,
                            id: ResourceId(id),
                        },
                    )
                    .await?
                }
                BinKind::Service | BinKind::Gift | BinKind::CouponTemplate => {
                    allow(&p, Capability::ChainAdmin, None, String::new)?;
                    let meta = meta(&p, key, &route, &())?;
                    write(&state.directory, RestoreChainItem { meta, kind, id }).await?
                }
            };
            render(outcome)
        }
        .await,
    )
}

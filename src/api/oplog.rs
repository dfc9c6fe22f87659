//! `GET /v1/oplog`: the operation log (操作日志), newest first, paged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, page_limit, respond, store_id};
use super::ApiState;
use crate::domain::access::{Capability, Principal};
use crate::storage::oplog::{Cursor, OpFilter, OBJECT_LEN_MAX};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OplogQuery {
    /// A store's operations; 0 for chain-wide ones (HQ).
    pub store_id: Option<u64>,
    /// One credential's operations (HQ).
    pub credential_id: Option<u64>,
    /// One object's history, `kind:id` as in the records (HQ): `member:4294967297`.
    pub object: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `next_before` of the previous page.
    pub before: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OplogPage {
    pub operations: Vec<crate::domain::oplog::OpRecord>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_before: Option<String>,
}

pub async fn list(state: Arc<ApiState>, p: Principal, q: OplogQuery) -> Response {
    respond((|| {
        let filter = match (q.store_id, q.credential_id, &q.object) {
            (Some(0), None, None) => {
                allow(&p, Capability::ChainAdmin, None, String::new)?;
                OpFilter::Store(None)
            }
            (Some(raw), None, None) => {
                let s = store_id(raw)?;
                allow(&p, Capability::ManageStore, Some(s), || {
                    format!("store {raw}")
                })?;
                OpFilter::Store(Some(s))
            }
            (None, Some(c), None) => {
                allow(&p, Capability::ChainAdmin, None, String::new)?;
                OpFilter::Credential(c)
            }
            (None, None, Some(o)) => {
                allow(&p, Capability::ChainAdmin, None, String::new)?;
                if o.is_empty() || o.len() > OBJECT_LEN_MAX {
                    return Err(ApiError::InvalidQuery(format!(
                        "object is 1 to {OBJECT_LEN_MAX} bytes, like member:4294967297"
                    )));
                }
                OpFilter::Object(o.clone())
            }
            _ => {
                return Err(ApiError::InvalidQuery(
                    "give exactly one of store_id, credential_id and object".into(),
                ))
            }
        };
        let limit = page_limit(&state, q.limit)?;
        let us = |t: Option<DateTime<Utc>>, default: u64| {
            t.map_or(default, |t| t.timestamp_micros().max(0) as u64)
        };
        let before = q
            .before
            .as_deref()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| Cursor::try_from(b.as_slice()).ok())
                    .ok_or_else(|| ApiError::InvalidQuery("before is a next_before value".into()))
            })
            .transpose()?;
        let page =
            state
                .storage()
                .oplog(&filter, us(q.from, 0), us(q.to, u64::MAX), before, limit)?;
        let next_before = (page.len() == limit)
            .then(|| page.last().map(|(c, _)| hex::encode(c)))
            .flatten();
        let operations: Vec<_> = page.into_iter().map(|(_, r)| r).collect();
        Ok(json_status(
            StatusCode::OK,
            &OplogPage {
                operations,
                next_before,
            },
        ))
    })())
}

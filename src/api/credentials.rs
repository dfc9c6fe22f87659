//! `/v1/credentials`: HQ administrators issue, list and revoke API keys. A key is shown once,
//! in the answer that creates it; only its SHA-256 is stored.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::{allow, key_hash, new_key};
use super::error::ApiError;
use super::handlers::{json_status, meta, parse_json, respond, write};
use super::ApiState;
use crate::actors::directory::{CreateCredential, RevokeCredential};
use crate::domain::access::{Capability, Credential, Principal, Role, MANAGER_STORES_MAX};
use crate::domain::booking::ResourceId;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{Name, StoreId};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    #[schema(min_length = 1)]
    pub name: String,
    /// hq_admin, store_manager, cashier, pos or staff.
    pub role: String,
    #[serde(default)]
    pub store_ids: Vec<u64>,
    pub resource_id: Option<u64>,
    /// The employee the key is for, in their stores: revoked when they leave.
    pub employee_id: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialDto {
    id: u64,
    name: String,
    role: &'static str,
    store_ids: Vec<u32>,
    resource_id: Option<u64>,
    revoked: bool,
    /// Present only in the answer that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialsPage {
    pub credentials: Vec<CredentialDto>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<u64>,
}

impl CredentialDto {
    fn new(c: &Credential, key: Option<String>) -> CredentialDto {
        let (store_ids, resource_id) = match &c.role {
            Role::HqAdmin => (vec![], None),
            Role::StoreManager { stores } => (stores.iter().map(|s| s.get()).collect(), None),
            Role::Cashier { store } | Role::Pos { store } => (vec![store.get()], None),
            Role::Staff { store, resource } => (vec![store.get()], Some(resource.0)),
        };
        CredentialDto {
            id: c.id.0,
            name: c.name.as_str().to_owned(),
            role: c.role.name(),
            store_ids,
            resource_id,
            revoked: c.revoked,
            key,
        }
    }
}

fn role(state: &ApiState, body: &CredentialBody) -> Result<Role, ApiError> {
    let invalid = |m: &str| ApiError::Invalid(m.to_owned());
    let mut stores = Vec::with_capacity(body.store_ids.len());
    for raw in &body.store_ids {
        let id = StoreId::from_u64(*raw).map_err(|_| ApiError::NotFound(format!("store {raw}")))?;
        if !state.registry.has_store(id) {
            return Err(ApiError::NotFound(format!("store {raw}")));
        }
        stores.push(id);
    }
    let one = || match stores.as_slice() {
        [s] => Ok(*s),
        _ => Err(invalid(
            "this role works in exactly one store: give one store_id",
        )),
    };
    Ok(match body.role.as_str() {
        "hq_admin" if stores.is_empty() => Role::HqAdmin,
        "hq_admin" => return Err(invalid("an hq_admin has no store_ids")),
        "store_manager" if !stores.is_empty() && stores.len() <= MANAGER_STORES_MAX => {
            Role::StoreManager { stores }
        }
        "store_manager" => return Err(invalid("a store_manager has 1 to 64 store_ids")),
        "cashier" => Role::Cashier { store: one()? },
        "pos" => Role::Pos { store: one()? },
        "staff" => Role::Staff {
            store: one()?,
            resource: ResourceId(
                body.resource_id
                    .ok_or_else(|| invalid("staff need a resource_id"))?,
            ),
        },
        _ => {
            return Err(invalid(
                "role must be hq_admin, store_manager, cashier, pos or staff",
            ))
        }
    })
}

pub async fn create(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let body: CredentialBody = parse_json(ct, &body)?;
            let meta = meta(&p, key, "POST /v1/credentials", &body)?;
            let secret = new_key()?;
            let hash = key_hash(&secret);
            let msg = CreateCredential {
                meta,
                name: Name::new(&body.name, "credential name").map_err(ApiError::InvalidField)?,
                role: role(&state, &body)?,
                key_hash: hash,
                employee: body.employee_id.map(crate::domain::staff::EmployeeId),
            };
            match write(&state.directory, msg).await? {
                // A replay answers without the key: it was shown once and is not stored.
                Outcome::Credential(c) => {
                    let shown = (c.key_hash == hash).then_some(secret);
                    Ok(json_status(
                        StatusCode::CREATED,
                        &CredentialDto::new(&c, shown),
                    ))
                }
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// Credentials in id order, a page at a time: `?after=<last id>&limit=`.
pub async fn list(state: Arc<ApiState>, p: Principal, q: super::dto::PageAfterQuery) -> Response {
    respond((|| {
        allow(&p, Capability::ChainAdmin, None, String::new)?;
        let limit = super::handlers::page_limit(&state, q.limit)?;
        let after = q.after.unwrap_or(0);
        let mut out = Vec::new();
        for rec in state
            .storage()
            .credentials()?
            .into_iter()
            .filter(|c| c.id > after)
            .take(limit)
        {
            let c: Credential =
                rec.try_into()
                    .map_err(|e: crate::storage::codec::CodecError| {
                        ApiError::InvalidBody(e.to_string())
                    })?;
            out.push(CredentialDto::new(&c, None));
        }
        let next_after = (out.len() == limit)
            .then(|| out.last().map(|c| c.id))
            .flatten();
        Ok(json_status(
            StatusCode::OK,
            &CredentialsPage {
                credentials: out,
                next_after,
            },
        ))
    })())
}

pub async fn revoke(state: Arc<ApiState>, p: Principal, id: u64, key: Option<String>) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let meta = meta(&p, key, &format!("DELETE /v1/credentials/{id}"), &())?;
            match write(&state.directory, RevokeCredential { meta, id }).await? {
                Outcome::Credential(c) => {
                    Ok(json_status(StatusCode::OK, &CredentialDto::new(&c, None)))
                }
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

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
use crate::domain::access::{Cap, Capability, Credential, Principal, Role, MANAGER_STORES_MAX};
use crate::domain::booking::ResourceId;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{Name, StoreId};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    #[schema(min_length = 1)]
    pub name: String,
    /// hq_admin, store_manager, cashier, pos, staff, or a role HQ defined
    /// (`GET /v1/roles`). A defined role with no `store_ids` works in every store.
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
    role: String,
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
        let store_ids = c
            .role
            .stores()
            .unwrap_or_default()
            .iter()
            .map(|s| s.get())
            .collect();
        let resource_id = c.role.resource().map(|r| r.0);
        CredentialDto {
            id: c.id.0,
            name: c.name.as_str().to_owned(),
            role: c.role.name().to_owned(),
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
        name => {
            let catalog = state.registry.catalog();
            let def = catalog.roles.get(name).ok_or_else(|| {
                invalid("role must be hq_admin, store_manager, cashier, pos, staff or a role HQ defined")
            })?;
            if stores.len() > MANAGER_STORES_MAX {
                return Err(invalid("a key works in at most 64 stores"));
            }
            let own = def.caps.contains(&Cap::OwnCalendar);
            let resource = match (own, body.resource_id) {
                (true, Some(r)) if stores.len() == 1 => Some(ResourceId(r)),
                (true, _) => {
                    return Err(invalid(
                        "a role with own_calendar needs one store_id and its resource_id",
                    ))
                }
                (false, Some(_)) => {
                    return Err(invalid("resource_id is only for roles with own_calendar"))
                }
                (false, None) => None,
            };
            Role::Custom {
                name: def.name.clone(),
                caps: def.set(),
                stores,
                resource,
            }
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

/// A role: built in, or defined by HQ (权限设置).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleDto {
    pub name: String,
    /// chain_admin, catalog, manage_store, counter, calendar, own_calendar, read_store,
    /// price_override.
    pub capabilities: Vec<&'static str>,
    pub description: String,
    pub built_in: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RolesDto {
    pub roles: Vec<RoleDto>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// From chain_admin, catalog, manage_store, counter, calendar, own_calendar,
    /// read_store, price_override (typing prices at the counter). chain_admin and catalog work only with keys for the whole chain;
    /// own_calendar binds each key to its `resource_id`.
    #[schema(min_items = 1, max_items = 8)]
    pub capabilities: Vec<String>,
    #[schema(max_length = 200)]
    #[serde(default)]
    pub description: String,
}

fn role_dto(def: &crate::domain::access::RoleDef) -> RoleDto {
    RoleDto {
        name: def.name.clone(),
        capabilities: def.caps.iter().map(|c| c.name()).collect(),
        description: def.description.clone(),
        built_in: false,
    }
}

/// `GET /v1/roles`: the five built-in roles, then HQ's, by name.
pub async fn roles(state: Arc<ApiState>, p: Principal) -> Response {
    respond((|| {
        allow(&p, Capability::ChainAdmin, None, String::new)?;
        Ok(json_status(StatusCode::OK, &roles_dto(&state)?))
    })())
}

fn roles_dto(state: &ApiState) -> Result<RolesDto, ApiError> {
    {
        let s = StoreId::new(1).map_err(ApiError::InvalidField)?;
        let built_in = [
            (Role::HqAdmin, "The whole chain."),
            (
                Role::StoreManager { stores: vec![s] },
                "Their stores: everything but HQ's work.",
            ),
            (Role::Cashier { store: s }, "Counter work in one store."),
            (
                Role::Pos { store: s },
                "A POS terminal: counter work in one store.",
            ),
            (
                Role::Staff {
                    store: s,
                    resource: ResourceId(0),
                },
                "Their own calendar and check-in.",
            ),
        ];
        let mut out: Vec<RoleDto> = built_in
            .iter()
            .map(|(r, about)| RoleDto {
                name: r.name().to_owned(),
                capabilities: r.caps().caps().iter().map(|c| c.name()).collect(),
                description: (*about).to_owned(),
                built_in: true,
            })
            .collect();
        out.extend(state.registry.catalog().roles.values().map(role_dto));
        Ok(RolesDto { roles: out })
    }
}

/// `PUT /v1/roles/{name}`: define or change a role; keys holding it change at once.
pub async fn put_role(
    state: Arc<ApiState>,
    p: Principal,
    name: String,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let b: RoleBody = parse_json(ct, &body)?;
            let caps = b
                .capabilities
                .iter()
                .map(|c| {
                    Cap::parse(c).ok_or_else(|| ApiError::Invalid(format!("no capability {c:.40}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let def = crate::domain::access::RoleDef::new(&name, &caps, b.description.trim())
                .map_err(ApiError::Role)?;
            let meta = meta(&p, key, &format!("roles/{name}"), &b)?;
            let msg = crate::actors::directory::ChangeCatalog {
                meta,
                change: crate::domain::counter::CatalogChange::Role(def),
            };
            match write(&state.directory, msg).await? {
                Outcome::Catalog(c) => match *c {
                    crate::domain::counter::CatalogChange::Role(def) => {
                        Ok(json_status(StatusCode::OK, &role_dto(&def)))
                    }
                    other => Err(ApiError::InvalidBody(format!("unexpected {other:?}"))),
                },
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

/// `DELETE /v1/roles/{name}`: only a role no key (not revoked) holds.
pub async fn remove_role(
    state: Arc<ApiState>,
    p: Principal,
    name: String,
    key: Option<String>,
) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            if crate::domain::access::BUILT_IN_ROLES.contains(&name.as_str()) {
                return Err(ApiError::Role(crate::domain::access::RoleError::BuiltIn(
                    name,
                )));
            }
            let meta = meta(&p, key, &format!("DELETE roles/{name}"), &())?;
            let msg = crate::actors::directory::ChangeCatalog {
                meta,
                change: crate::domain::counter::CatalogChange::RoleRemoved(name),
            };
            match write(&state.directory, msg).await? {
                // The roles that are left.
                Outcome::Catalog(_) => Ok(json_status(StatusCode::OK, &roles_dto(&state)?)),
                other => Err(ApiError::InvalidBody(format!(
                    "unexpected outcome {other:?}"
                ))),
            }
        }
        .await,
    )
}

//! Authentication (a bearer API key, looked up by its SHA-256) and the checks handlers make
//! with the principal it yields.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use warp::filters::BoxedFilter;
use warp::Filter;

use super::error::ApiError;
use super::ApiState;
use crate::domain::access::{Capability, CredentialId, Denied, Principal, Role};
use crate::domain::ids::{IdError, IdempotencyKey, StoreId};

/// Longest `Authorization` header value considered.
pub const AUTHORIZATION_LEN_MAX: usize = 256;

pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new random API key: 32 random bytes, hex.
pub fn new_key() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| ApiError::Unavailable)?;
    Ok(format!("cs_{}", hex::encode(bytes)))
}

fn authenticate(state: &ApiState, header: Option<String>) -> Result<Principal, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized)?;
    if header.len() > AUTHORIZATION_LEN_MAX {
        return Err(ApiError::Unauthorized);
    }
    let key = header
        .strip_prefix("Bearer ")
        .ok_or(ApiError::Unauthorized)?
        .trim();
    let hash = key_hash(key);
    if key.starts_with(MEMBER_TOKEN_PREFIX) {
        return member_session(state, hash);
    }
    if state.admin_key_hash == Some(hash) {
        return Ok(Principal {
            credential: CredentialId(0),
            role: Role::HqAdmin,
            operation: "",
        });
    }
    // Read from disk on every request: a revoked key stops working at once.
    let rec = state
        .storage()
        .credential_by_hash(&hash)?
        .filter(|c| !c.revoked)
        .ok_or(ApiError::Unauthorized)?;
    let mut role = rec.role().map_err(|_| ApiError::Unauthorized)?;
    // A role HQ defined has the capabilities it has now: a change applies at once.
    if let Role::Custom { name, caps, .. } = &mut role {
        *caps = state
            .registry
            .catalog()
            .roles
            .get(name.as_str())
            .map(|d| d.set())
            .unwrap_or_default();
    }
    state.rate.take(rec.id).map_err(ApiError::RateLimited)?;
    Ok(Principal {
        credential: CredentialId(rec.id),
        role,
        operation: "",
    })
}

/// How a member's session token starts (an API key starts `cs_`).
pub const MEMBER_TOKEN_PREFIX: &str = "ms_";

/// A new random session token for a member: 32 random bytes, hex.
pub fn new_member_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| ApiError::Unavailable)?;
    Ok(format!("{MEMBER_TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// A member signed in with a session that is live now. Read from disk on every request: a
/// session signed out stops working at once.
fn member_session(state: &ApiState, hash: [u8; 32]) -> Result<Principal, ApiError> {
    let now = state.registry.clock.now();
    let s = state
        .storage()
        .member_session(&hash)?
        .filter(|s| s.live(now))
        .ok_or(ApiError::Unauthorized)?;
    // Members' buckets never meet credentials' (ids below 2^53).
    state
        .rate
        .take(s.member.get() | 1 << 63)
        .map_err(ApiError::RateLimited)?;
    Ok(Principal {
        credential: CredentialId(0),
        role: Role::Member {
            member: s.member,
            session: hash,
        },
        operation: "",
    })
}

/// Extracts the caller's principal or rejects with 401, then holds its role to the access
/// written in the route table's row for this request (403): the table is the one source of
/// who may call what. Handlers check the store of the object named.
pub fn authenticated(state: Arc<ApiState>) -> BoxedFilter<(Principal,)> {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("authorization"))
        .and(
            // A key that is not visible text is refused as a key, below, not as a header.
            warp::header::optional::<String>("idempotency-key")
                .map(Ok)
                .or(warp::any().map(|| Err(())))
                .unify(),
        )
        .and_then(
            move |method: warp::http::Method,
                  path: warp::path::FullPath,
                  header: Option<String>,
                  key: Result<Option<String>, ()>| {
                let state = state.clone();
                async move {
                    let mut p = authenticate(&state, header).map_err(warp::reject::custom)?;
                    p.operation = authorize(&p, method.as_str(), path.as_str(), key)
                        .map_err(warp::reject::custom)?;
                    Ok::<_, warp::Rejection>(p)
                }
            },
        )
        .boxed()
}

/// The role check of the route table's row that `verb path` matches, and its
/// `Idempotency-Key` when the row takes one; the row's label.
pub fn authorize(
    p: &Principal,
    verb: &str,
    path: &str,
    key: Result<Option<String>, ()>,
) -> Result<&'static str, ApiError> {
    match super::openapi::route_for(verb, path) {
        Some(row) if !row.route.access.admits(p) => Err(ApiError::Forbidden),
        Some(row) => {
            if row.route.keyed() {
                match key {
                    Ok(None) => return Err(ApiError::IdempotencyKeyRequired),
                    Err(()) => {
                        return Err(ApiError::InvalidIdempotencyKey(IdError::BadIdempotencyKey))
                    }
                    Ok(Some(k)) => {
                        IdempotencyKey::check(&k).map_err(ApiError::InvalidIdempotencyKey)?;
                    }
                }
            }
            Ok(row.label)
        }
        None => Ok("unmatched"),
    }
}

/// May `p` use `cap` on an object of `store`? Objects of other stores are reported as
/// `not_found(what)`, so their existence stays private.
pub fn allow(
    p: &Principal,
    cap: Capability,
    store: Option<StoreId>,
    what: impl FnOnce() -> String,
) -> Result<(), ApiError> {
    match p.may(cap, store) {
        Ok(()) => Ok(()),
        Err(Denied::Forbidden) => Err(ApiError::Forbidden),
        Err(Denied::OtherStore) => Err(ApiError::NotFound(what())),
    }
}

/// The store a counter operation happens in: the credential's own store for store-scoped
/// callers (a different one in the body is refused), the body's for HQ.
pub fn acting_store(p: &Principal, body: Option<u64>) -> Result<StoreId, ApiError> {
    let from_body = body
        .map(|raw| StoreId::from_u64(raw).map_err(|_| ApiError::NotFound(format!("store {raw}"))))
        .transpose()?;
    match (p.role.home_store(), from_body) {
        (Some(own), Some(asked)) if own != asked => Err(ApiError::Forbidden),
        (Some(own), _) => Ok(own),
        (None, Some(asked)) => {
            allow(p, Capability::Counter, Some(asked), || {
                format!("store {asked}")
            })?;
            Ok(asked)
        }
        (None, None) => Err(ApiError::Invalid(
            "store_id is required: this credential works in more than one store".into(),
        )),
    }
}

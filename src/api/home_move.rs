//! `POST /v1/members/{id}/home-store`: move a member to another home store (会员转店).

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::handlers::{
    json_status, member_id, meta, outcome_response, parse_json, respond, store_for, write,
};
use super::ApiState;
use crate::actors::home_move::MoveMember;
use crate::domain::access::{Capability, Principal};
use crate::domain::home_move::HomeMove;
use crate::domain::idempotency::Outcome;
use crate::domain::ledger::Timestamp;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveHomeBody {
    /// The member's new home store.
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub home_store_id: u64,
}

/// A move: the member's account now lives at `to_store_id`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HomeMoveDto {
    pub member_id: u64,
    pub from_store_id: u32,
    pub to_store_id: u32,
    /// What the old home owes the new one (跨店结算): the stored value at the move, bonus
    /// included. It is a settlement line from `from_store_id` to `to_store_id`.
    pub settled: i64,
    /// The `home_move` entry in the member's history; none when there was no stored value.
    pub entry_seq: Option<u64>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl From<&HomeMove> for HomeMoveDto {
    fn from(m: &HomeMove) -> Self {
        HomeMoveDto {
            member_id: m.member.get(),
            from_store_id: m.from.get(),
            to_store_id: m.to.get(),
            settled: m.settled.minor(),
            entry_seq: m.entry.map(|e| e.0),
            at: m.at,
        }
    }
}

/// Managers of both stores, or HQ, may move a member.
pub async fn move_home(
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
            let from = state.registry.home_of(member);
            allow(&p, Capability::ManageStore, Some(from), || {
                format!("member {raw}")
            })?;
            let b: MoveHomeBody = parse_json(ct, &body)?;
            let to = store_for(&state, &p, Capability::ManageStore, b.home_store_id)?;
            let meta = meta(&p, key, &format!("members/{raw}/home-store"), &b)?;
            match write(&state.directory, MoveMember { meta, member, to }).await? {
                Outcome::HomeMoved(m) => Ok(json_status(StatusCode::OK, &HomeMoveDto::from(&*m))),
                other => outcome_response(&state, other),
            }
        }
        .await,
    )
}

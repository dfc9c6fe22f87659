//! Gift routes (礼品, 积分兑换): HQ defines gifts, a store keeps its stock, a member
//! exchanges points for gifts at a counter.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::{acting_store, allow};
use super::error::ApiError;
use super::handlers::{
    allow_spend, json_status, member_id, meta, parse_json, respond, store_for, store_id, write,
};
use super::membership::{catalog_write, render};
use super::ApiState;
use crate::actors::gifts::{ExchangeGift, MoveStock};
use crate::domain::access::{Capability, Principal};
use crate::domain::counter::CatalogChange;
use crate::domain::gift::{Gift, GiftId};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::Name;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftBody {
    #[schema(min_length = 1)]
    pub name: String,
    /// Points one unit costs.
    pub points: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    /// Units in (delivery) or out (breakage, stock count), never below zero.
    pub delta: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeBody {
    pub gift_id: u32,
    pub quantity: u32,
    /// The store handing the gift over; a store-scoped credential's own store by default.
    pub store_id: Option<u64>,
}

/// `PUT /v1/gifts/{id}`: HQ defines a gift and its price in points.
pub async fn put_gift(
    state: Arc<ApiState>,
    p: Principal,
    id: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let b: GiftBody = parse_json(ct, &body)?;
            let name = Name::new(&b.name, "gift name").map_err(ApiError::InvalidField)?;
            let gift =
                Gift::new(GiftId(id), name, b.points).map_err(|e| ApiError::Ledger(e.into()))?;
            catalog_write(
                &state,
                meta(&p, key, &format!("gifts/{id}"), &b)?,
                CatalogChange::Gift(gift),
            )
            .await
        }
        .await,
    )
}

/// `POST /v1/stores/{store}/gifts/{id}/stock`: units in or out of a store's stock.
pub async fn move_stock(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    id: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let sid = store_id(store)?;
            allow(&p, Capability::ManageStore, Some(sid), || {
                format!("store {store}")
            })?;
            let b: StockBody = parse_json(ct, &body)?;
            let msg = MoveStock {
                meta: meta(&p, key, &format!("stores/{store}/gifts/{id}/stock"), &b)?,
                gift: GiftId(id),
                delta: b.delta,
            };
            let addr = state
                .registry
                .store(sid)
                .ok_or_else(|| ApiError::NotFound(format!("store {store}")))?;
            match write(&addr, msg).await? {
                Outcome::GiftStock { store, gift, stock } => Ok(json_status(
                    StatusCode::OK,
                    &GiftStockDto {
                        store_id: store.get(),
                        gift_id: gift.0,
                        name: None,
                        points: None,
                        stock,
                    },
                )),
                other => render(other),
            }
        }
        .await,
    )
}

/// A gift's stock in one store.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GiftStockDto {
    pub store_id: u32,
    pub gift_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Points one costs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    pub stock: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreGiftsDto {
    pub store_id: u32,
    pub gifts: Vec<GiftStockDto>,
}

/// `GET /v1/stores/{store}/gifts`: every gift of the catalog with this store's stock.
pub async fn list_gifts(state: Arc<ApiState>, p: Principal, store: u64) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ReadStore, store)?;
            let catalog = state.registry.catalog();
            let mut gifts = Vec::with_capacity(catalog.gifts.len());
            for g in catalog.gifts.values() {
                let stock = state.storage().gift_stock(sid, g.id)?;
                gifts.push(GiftStockDto {
                    store_id: sid.get(),
                    gift_id: g.id.0,
                    name: Some(g.name.clone()),
                    points: Some(g.points),
                    stock,
                });
            }
            Ok(json_status(
                StatusCode::OK,
                &StoreGiftsDto {
                    store_id: sid.get(),
                    gifts,
                },
            ))
        }
        .await,
    )
}

/// `POST /v1/members/{id}/gift-exchanges`: points for gifts at a counter.
pub async fn exchange(
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
            allow_spend(&state, &p, member)?;
            let b: ExchangeBody = parse_json(ct, &body)?;
            let store = acting_store(&p, b.store_id)?;
            let msg = ExchangeGift {
                meta: meta(&p, key, &format!("members/{raw}/gift-exchanges"), &b)?,
                member,
                store,
                card: None,
                gift: GiftId(b.gift_id),
                quantity: b.quantity,
            };
            let addr = super::handlers::home_ledger(&state, member)?;
            render(write(&addr, msg).await?)
        }
        .await,
    )
}

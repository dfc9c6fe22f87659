//! Finding orders (订单查询) and printing a receipt again (复打小票).

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, member_id, page_limit, respond, store_for};
use super::membership::{order_access, parse_card};
use super::ApiState;
use crate::domain::access::{Capability, Principal};
use crate::domain::checkout::{Item, Order, OrderId, OrderStatus};
use crate::domain::ids::{MemberId, Phone, StoreId};
use crate::domain::ledger::Timestamp;
use crate::storage::order_index::{OrderEvent, OrdersOf};

/// Index lines one search looks at, at most: a page may be short and still have more.
pub const ORDER_SCAN_BUDGET: usize = 5_000;
/// Days one search covers, at most.
pub const ORDER_SEARCH_DAYS_MAX: i64 = 366;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Sales and returns at this store (the credential's own store by default).
    pub store_id: Option<u64>,
    /// A member's orders in every store the credential may read (only `store_id`'s, if
    /// given), by id, phone or card.
    pub member_id: Option<u64>,
    pub phone: Option<String>,
    pub card_number: Option<String>,
    /// Local days of the store (UTC days for a member's orders in every store), inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `sale` or `return` (退单); both by default.
    pub kind: Option<String>,
    /// Orders with a line of this SKU or price-list item.
    pub sku: Option<String>,
    pub item_id: Option<u32>,
    /// `paid`, `partly_returned` or `returned`: the order's state now.
    pub status: Option<String>,
    /// `next_after` of the page before.
    pub after: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

/// A sale or a return, and the order as it is now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderHitDto {
    /// `sale` or `return`.
    pub kind: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The sale's amount due, or what the return gave back.
    pub amount: i64,
    /// Units sold or returned.
    pub units: u32,
    /// `paid`, `partly_returned` or `returned`.
    pub status: &'static str,
    pub order: Order,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrdersDto {
    pub orders: Vec<OrderHitDto>,
    /// Pass as `after` for the next page (newest first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

fn status_of(o: &Order) -> &'static str {
    let back: u32 = o.returned.quantities.iter().sum();
    let all: u32 = o.lines.iter().map(|l| l.quantity).sum();
    match (o.status, back) {
        (OrderStatus::Held, _) => "held",
        (_, 0) => "paid",
        _ if back >= all => "returned",
        _ => "partly_returned",
    }
}

fn has_item(o: &Order, sku: Option<&str>, item: Option<u32>) -> bool {
    o.lines.iter().any(|l| match &l.item {
        Item::Priced(p) => {
            item.is_some_and(|i| p.id.0 == i) || sku.is_some_and(|s| p.sku.as_deref() == Some(s))
        }
        Item::Product(s) => sku == Some(s.as_str()),
        Item::Service(_) => false,
    }) || (sku.is_none() && item.is_none())
}

/// The member a query names, by id, phone or card number.
fn queried_member(state: &ApiState, q: &OrdersQuery) -> Result<Option<MemberId>, ApiError> {
    match (q.member_id, &q.phone, &q.card_number) {
        (None, None, None) => Ok(None),
        (Some(raw), None, None) => member_id(raw).map(Some),
        (None, Some(phone), None) => {
            let phone = Phone::new(phone).map_err(ApiError::InvalidField)?;
            state
                .storage()
                .member_by_phone(&phone)?
                .map(Some)
                .ok_or_else(|| ApiError::NotFound("member with this phone".into()))
        }
        (None, None, Some(card)) => parse_card(card).map(|(m, _)| Some(m)),
        _ => Err(ApiError::InvalidQuery(
            "name the member by one of member_id, phone and card_number".into(),
        )),
    }
}

fn bounds(
    tz: chrono_tz::Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let days = (to - from).num_days();
    if !(0..ORDER_SEARCH_DAYS_MAX).contains(&days) {
        return Err(ApiError::InvalidQuery(format!(
            "from is on or before to, at most {ORDER_SEARCH_DAYS_MAX} days apart"
        )));
    }
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| ApiError::InvalidQuery("date".into()))
    };
    let next = to
        .succ_opt()
        .ok_or_else(|| ApiError::InvalidQuery("date".into()))?;
    Ok((start(from)?, start(next)?))
}

/// `GET /v1/orders`: a store's sales and returns, or a member's, newest first, filtered.
pub async fn search(state: Arc<ApiState>, p: Principal, q: OrdersQuery) -> Response {
    respond((|| {
        let limit = page_limit(&state, q.limit)?;
        let member = queried_member(&state, &q)?;
        // With a member and a store: the member's orders at that store, in its days.
        let only_store = match (member, q.store_id) {
            (Some(_), Some(raw)) => Some(store_for(&state, &p, Capability::Counter, raw)?),
            _ => None,
        };
        let (of, tz) = match (member, q.store_id) {
            (Some(m), _) => (
                OrdersOf::Member(m),
                only_store.map_or(chrono_tz::UTC, |s| state.registry.time_zone(s)),
            ),
            (None, raw) => {
                let sid = match raw.or(p.role.home_store().map(|s| u64::from(s.get()))) {
                    Some(raw) => store_for(&state, &p, Capability::Counter, raw)?,
                    None => {
                        return Err(ApiError::Invalid(
                            "store_id or a member is required: this credential works in more than one store".into(),
                        ))
                    }
                };
                (OrdersOf::Store(sid), state.registry.time_zone(sid))
            }
        };
        let kind = match q.kind.as_deref() {
            None => None,
            Some("sale") => Some(false),
            Some("return") => Some(true),
            Some(_) => return Err(ApiError::InvalidQuery("kind is sale or return".into())),
        };
        if let Some(s) = q.status.as_deref() {
            if !["paid", "partly_returned", "returned"].contains(&s) {
                return Err(ApiError::InvalidQuery(
                    "status is paid, partly_returned or returned".into(),
                ));
            }
        }
        let (from, to) = bounds(tz, q.from, q.to)?;
        let storage = state.storage();
        // A member's orders are the ones sold in stores this key may read.
        let readable = |store: u32| {
            StoreId::new(store)
                .map(|s| p.may(Capability::Counter, Some(s)).is_ok())
                .unwrap_or(false)
        };
        let mut orders: Vec<(OrderEvent, Order)> = Vec::new();
        let page = storage.order_events(
            of,
            from,
            to,
            q.after.as_deref(),
            limit,
            ORDER_SCAN_BUDGET,
            |e| {
                if kind.is_some_and(|k| k != e.ret)
                    || !readable(e.store)
                    || only_store.is_some_and(|s| s.get() != e.store)
                {
                    return Ok(false);
                }
                let Some(o) = storage.order(OrderId(e.order))? else {
                    return Ok(false);
                };
                let ok = has_item(&o, q.sku.as_deref(), q.item_id)
                    && q.status.as_deref().is_none_or(|s| s == status_of(&o));
                if ok {
                    orders.push((e.clone(), o));
                }
                Ok(ok)
            },
        )?;
        if let (OrdersOf::Member(m), false) = (of, p.role.stores().is_none()) {
            // A store key sees a member's orders only as far as it may read the member.
            if orders.is_empty()
                && allow(
                    &p,
                    Capability::Counter,
                    Some(state.registry.home_of(m)),
                    || format!("member {m}"),
                )
                .is_err()
            {
                return Err(ApiError::NotFound(format!("member {m}")));
            }
        }
        let orders = orders
            .into_iter()
            .map(|(e, o)| OrderHitDto {
                kind: if e.ret { "return" } else { "sale" },
                at: chrono::DateTime::from_timestamp_micros(e.at_us).unwrap_or_default(),
                amount: e.amount,
                units: e.units,
                status: status_of(&o),
                order: o,
            })
            .collect();
        Ok(json_status(
            StatusCode::OK,
            &OrdersDto {
                orders,
                next_after: page.next_after,
            },
        ))
    })())
}

/// `GET /v1/orders/{id}/receipt`: the receipt as text, with what was returned since.
pub async fn receipt(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond((|| {
        let order = order_access(&state, &p, id)?;
        let tz = state.registry.time_zone(order.store);
        let store = state
            .storage()
            .store(order.store)?
            .map(|s| s.name.as_str().to_owned())
            .unwrap_or_default();
        let local = |t: Timestamp| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
        let at = local(order.paid_at.unwrap_or(order.created_at));
        let printed = local(state.registry.clock.now());
        let text = crate::domain::receipt::render(&order, &store, &at, &printed);
        let mut res = warp::http::Response::new(text.into());
        res.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Ok(res)
    })())
}

//! The price list (价目表) and product stock (库存) over HTTP: HQ defines items, stores
//! override price and availability, stores receive, adjust and count stock, and everyone
//! reads prices, stock and item sales.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, meta, page_limit, parse_json, respond, store_for, write};
use super::membership::{catalog_write, invalid, money};
use super::ApiState;
use crate::actors::stock::MoveProducts;
use crate::domain::access::{Capability, Principal};
use crate::domain::booking::ServiceId;
use crate::domain::counter::CatalogChange;
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{Name, StoreId};
use crate::domain::levels::LevelId;
use crate::domain::money::Money;
use crate::domain::price_list::{ItemId, ItemKind, PriceItem, StoreItem, ITEM_ID_MAX};
use crate::domain::stock::{ItemFigures, MoveKind, StockMove, NOTE_LEN_MAX};
use crate::storage::stock::ItemVersion;

fn item_id(raw: u32) -> Result<ItemId, ApiError> {
    if raw == 0 || raw > ITEM_ID_MAX {
        return Err(ApiError::NotFound(format!("item {raw}")));
    }
    Ok(ItemId(raw))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindBody {
    Service,
    Product,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    #[schema(min_length = 1)]
    pub name: String,
    pub kind: KindBody,
    /// The service a service item sells (a count card of it pays for it).
    pub service_id: Option<u64>,
    #[schema(min_length = 1, max_length = 32)]
    pub category: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    /// 件 by default.
    pub unit: Option<String>,
    /// Minor units.
    pub price: i64,
    /// 会员价: a price per level id, minor units.
    #[serde(default)]
    pub level_prices: BTreeMap<String, i64>,
    /// Whether the level's discount applies when it has no price of its own (default true).
    pub level_discount: Option<bool>,
    /// Points each unit earns instead of the level's points per yuan.
    pub points_each: Option<i64>,
    /// Whether coupons apply to it (default true).
    pub coupon_ok: Option<bool>,
    /// Whether stored value may pay for it (default true).
    pub stored_value_ok: Option<bool>,
    /// Whether it may be sold below zero stock (default false; products only).
    pub negative_stock_ok: Option<bool>,
    /// Sold at all (default true).
    pub on_sale: Option<bool>,
}

/// An item of the price list, with the store's view when one was asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemDto {
    pub item_id: u32,
    pub name: String,
    /// `service` or `product`.
    pub kind: &'static str,
    pub service_id: Option<u64>,
    pub category: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub unit: String,
    pub price: i64,
    pub level_prices: BTreeMap<String, i64>,
    pub level_discount: bool,
    pub points_each: Option<i64>,
    pub coupon_ok: bool,
    pub stored_value_ok: bool,
    pub negative_stock_ok: bool,
    pub on_sale: bool,
    /// The catalog version of this definition.
    pub version: u64,
    /// The store's own prices and availability (门店调价).
    pub stores: Vec<StoreItemDto>,
    /// With `store_id`: what that store charges, and whether it sells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreItemDto {
    pub store_id: u32,
    pub price: Option<i64>,
    pub available: bool,
    pub version: u64,
}

impl StoreItemDto {
    fn new(store: StoreId, o: &StoreItem) -> StoreItemDto {
        StoreItemDto {
            store_id: store.get(),
            price: o.price.map(Money::minor),
            available: o.available,
            version: o.version,
        }
    }
}

impl ItemDto {
    fn new(
        i: &PriceItem,
        prices: &crate::domain::price_list::PriceList,
        store: Option<StoreId>,
    ) -> ItemDto {
        let (store_price, available) = match store {
            Some(s) => match prices.store_price(i.id, s) {
                Ok(p) => (Some(p.minor()), Some(true)),
                Err(_) => (None, Some(false)),
            },
            None => (None, None),
        };
        ItemDto {
            item_id: i.id.0,
            name: i.name.clone(),
            kind: match i.kind {
                ItemKind::Service(_) => "service",
                ItemKind::Product => "product",
            },
            service_id: match i.kind {
                ItemKind::Service(s) => Some(s.0),
                ItemKind::Product => None,
            },
            category: i.category.clone(),
            sku: i.sku.clone(),
            barcode: i.barcode.clone(),
            unit: i.unit.clone(),
            price: i.price.minor(),
            level_prices: i
                .level_prices
                .iter()
                .map(|(l, m)| (l.0.to_string(), m.minor()))
                .collect(),
            level_discount: i.level_discount,
            points_each: i.points_each,
            coupon_ok: i.coupon_ok,
            stored_value_ok: i.stored_value_ok,
            negative_stock_ok: i.negative_stock_ok,
            on_sale: i.on_sale,
            version: i.version,
            stores: prices
                .overrides_of(i.id)
                .map(|(s, o)| StoreItemDto::new(s, &o))
                .collect(),
            store_price,
            available,
        }
    }
}

/// `PUT /v1/items/{id}`: HQ defines or changes an item of the price list.
pub async fn put_item(
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
            let b: ItemBody = parse_json(ct, &body)?;
            let id = item_id(id).map_err(|_| invalid("item ids are 1 to 99999999"))?;
            let name = Name::new(&b.name, "item name").map_err(ApiError::InvalidField)?;
            let kind = match (b.kind, b.service_id) {
                (KindBody::Service, Some(s)) => {
                    let sid = ServiceId(s);
                    match state.storage().service(sid)? {
                        Some((_, false)) => ItemKind::Service(sid),
                        _ => return Err(ApiError::NotFound(format!("service {s}"))),
                    }
                }
                (KindBody::Product, None) => ItemKind::Product,
                (KindBody::Service, None) => {
                    return Err(invalid("a service item names its service_id"))
                }
                (KindBody::Product, Some(_)) => return Err(invalid("a product has no service_id")),
            };
            let mut level_prices = BTreeMap::new();
            for (level, minor) in &b.level_prices {
                let l: u16 = level
                    .parse()
                    .map_err(|_| invalid("level_prices are keyed by level id"))?;
                level_prices.insert(LevelId(l), money(*minor, "a level price")?);
            }
            let item = PriceItem {
                id,
                name: name.as_str().to_owned(),
                kind,
                category: b.category.trim().to_owned(),
                sku: b.sku.clone(),
                barcode: b.barcode.clone(),
                unit: b.unit.clone().unwrap_or_else(|| "件".to_owned()),
                price: money(b.price, "price")?,
                level_prices,
                level_discount: b.level_discount.unwrap_or(true),
                points_each: b.points_each,
                coupon_ok: b.coupon_ok.unwrap_or(true),
                stored_value_ok: b.stored_value_ok.unwrap_or(true),
                negative_stock_ok: b.negative_stock_ok.unwrap_or(false),
                on_sale: b.on_sale.unwrap_or(true),
                version: 0,
            };
            item.check().map_err(ApiError::Price)?;
            let outcome = write(
                &state.directory,
                crate::actors::directory::ChangeCatalog {
                    meta: meta(&p, key, &format!("items/{}", id.0), &b)?,
                    change: CatalogChange::Item(Box::new(item)),
                },
            )
            .await?;
            match outcome {
                Outcome::Catalog(c) => match *c {
                    CatalogChange::Item(i) => {
                        let prices = state.registry.catalog().prices.clone();
                        Ok(json_status(
                            StatusCode::OK,
                            &ItemDto::new(&i, &prices, None),
                        ))
                    }
                    other => super::membership::render(Outcome::Catalog(Box::new(other))),
                },
                other => super::membership::render(other),
            }
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreItemBody {
    /// The store's own price (minor units); null or absent: HQ's.
    pub price: Option<i64>,
    /// Whether the store sells it.
    pub available: bool,
}

/// `PUT /v1/stores/{store}/items/{id}`: a store's own price or availability of an item.
pub async fn put_store_item(
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
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            let b: StoreItemBody = parse_json(ct, &body)?;
            let item = item_id(id)?;
            let price = b.price.map(|m| money(m, "price")).transpose()?;
            catalog_write(
                &state,
                meta(&p, key, &format!("stores/{store}/items/{id}"), &b)?,
                CatalogChange::ItemOverride {
                    item,
                    store: sid,
                    store_item: StoreItem {
                        price,
                        available: b.available,
                        version: 0,
                    },
                },
            )
            .await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    pub category: Option<String>,
    /// Items whose name starts with this (any case).
    pub name_prefix: Option<String>,
    /// The item with this barcode (扫码).
    pub barcode: Option<String>,
    pub sku: Option<String>,
    /// `service` or `product`.
    pub kind: Option<String>,
    /// Each item's price and availability at this store.
    pub store_id: Option<u64>,
    pub after: Option<u32>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemsDto {
    /// The price list's version now.
    pub version: u64,
    pub items: Vec<ItemDto>,
    /// Pass as `after` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u32>,
}

/// `GET /v1/items`: the price list, filtered, a page at a time in id order.
pub async fn list_items(state: Arc<ApiState>, p: Principal, q: ItemsQuery) -> Response {
    respond((|| {
        let limit = page_limit(&state, q.limit)?;
        let store = q
            .store_id
            .map(|raw| store_for(&state, &p, Capability::ReadStore, raw))
            .transpose()?;
        let catalog = state.registry.catalog();
        let prices = &catalog.prices;
        let prefix = q.name_prefix.as_deref().map(str::to_lowercase);
        let only: Option<ItemId> = match (&q.barcode, &q.sku) {
            (Some(b), _) => Some(prices.by_barcode(b).unwrap_or(ItemId(0))),
            (None, Some(s)) => Some(prices.by_sku(s).unwrap_or(ItemId(0))),
            (None, None) => None,
        };
        let kind = match q.kind.as_deref() {
            None => None,
            Some("service") => Some(false),
            Some("product") => Some(true),
            Some(_) => return Err(ApiError::InvalidQuery("kind is service or product".into())),
        };
        let mut items = Vec::new();
        let mut next_after = None;
        for i in prices.items() {
            if q.after.is_some_and(|a| i.id.0 <= a) || only.is_some_and(|o| o != i.id) {
                continue;
            }
            if q.category.as_deref().is_some_and(|c| c != i.category)
                || kind.is_some_and(|k| k != i.is_product())
                || prefix
                    .as_deref()
                    .is_some_and(|p| !i.name.to_lowercase().starts_with(p))
            {
                continue;
            }
            if items.len() == limit {
                next_after = items.last().map(|d: &ItemDto| d.item_id);
                break;
            }
            items.push(ItemDto::new(i, prices, store));
        }
        Ok(json_status(
            StatusCode::OK,
            &ItemsDto {
                version: prices.version(),
                items,
                next_after,
            },
        ))
    })())
}

/// `GET /v1/items/{id}`.
pub async fn get_item(state: Arc<ApiState>, _p: Principal, id: u32) -> Response {
    respond((|| {
        let catalog = state.registry.catalog();
        let i = catalog
            .prices
            .item(item_id(id)?)
            .ok_or_else(|| ApiError::NotFound(format!("item {id}")))?;
        Ok(json_status(
            StatusCode::OK,
            &ItemDto::new(i, &catalog.prices, None),
        ))
    })())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Versions before this one.
    pub before: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemVersionDto {
    pub version: u64,
    /// HQ's definition as of this version, or a store's override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreItemDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemHistoryDto {
    pub item_id: u32,
    pub versions: Vec<ItemVersionDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// `GET /v1/items/{id}/history`: every version of an item's price, newest first: what an
/// order's `version` priced it at.
pub async fn item_history(
    state: Arc<ApiState>,
    _p: Principal,
    id: u32,
    q: HistoryQuery,
) -> Response {
    respond((|| {
        let item = item_id(id)?;
        let limit = page_limit(&state, q.limit)?;
        let catalog = state.registry.catalog();
        if catalog.prices.item(item).is_none() {
            return Err(ApiError::NotFound(format!("item {id}")));
        }
        let empty = crate::domain::price_list::PriceList::default();
        let rows = state.storage().item_history(item, q.before, limit)?;
        let next_before = (rows.len() == limit)
            .then(|| rows.last().map(|r| r.0))
            .flatten();
        let versions = rows
            .into_iter()
            .map(|(version, v)| match v {
                ItemVersion::Item(i) => ItemVersionDto {
                    version,
                    item: Some(ItemDto::new(&i, &empty, None)),
                    store: None,
                },
                ItemVersion::Store(s, o) => ItemVersionDto {
                    version,
                    item: None,
                    store: StoreId::new(s).ok().map(|s| StoreItemDto::new(s, &o)),
                },
            })
            .collect();
        Ok(json_status(
            StatusCode::OK,
            &ItemHistoryDto {
                item_id: id,
                versions,
                next_before,
            },
        ))
    })())
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLineBody {
    pub item_id: u32,
    /// Units in (or out, negative, for an adjustment); for a count, the units counted.
    pub quantity: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockMoveBody {
    pub kind: MoveKind,
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<StockLineBody>,
    /// Supplier, reason, who counted.
    #[serde(default)]
    pub note: String,
}

/// `POST /v1/stores/{store}/stock-moves`: 入库, an adjustment, or 盘点 with its variance.
pub async fn move_stock(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            let b: StockMoveBody = parse_json(ct, &body)?;
            if b.note.chars().count() > NOTE_LEN_MAX || b.note.chars().any(char::is_control) {
                return Err(invalid("a note is at most 200 characters"));
            }
            if b.lines.is_empty() || b.lines.len() > crate::domain::stock::MOVE_LINES_MAX {
                return Err(invalid("a stock write has 1 to 200 lines"));
            }
            let lines = b
                .lines
                .iter()
                .map(|l| Ok((item_id(l.item_id)?, l.quantity)))
                .collect::<Result<Vec<_>, ApiError>>()?;
            let addr = state
                .registry
                .store(sid)
                .ok_or_else(|| ApiError::NotFound(format!("store {store}")))?;
            let msg = MoveProducts {
                meta: meta(&p, key, &format!("stores/{store}/stock-moves"), &b)?,
                kind: b.kind,
                lines,
                note: b.note.clone(),
            };
            match write(&addr, msg).await? {
                Outcome::StockMoved(m) => Ok(json_status(StatusCode::CREATED, &*m)),
                other => super::membership::render(other),
            }
        }
        .await,
    )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockRowDto {
    pub item_id: u32,
    pub name: String,
    pub category: String,
    pub units: i64,
    /// Units at the store's price.
    pub value: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreStockDto {
    pub store_id: u32,
    pub items: Vec<StockRowDto>,
    /// The value of the page's stock.
    pub value: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    pub after: Option<u32>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

fn row(
    catalog: &crate::domain::counter::Catalog,
    store: StoreId,
    item: ItemId,
    units: i64,
) -> StockRowDto {
    let i = catalog.prices.item(item);
    let unit_price = catalog
        .prices
        .store_price(item, store)
        .ok()
        .or(i.map(|i| i.price))
        .unwrap_or_default();
    StockRowDto {
        item_id: item.0,
        name: i.map(|i| i.name.clone()).unwrap_or_default(),
        category: i.map(|i| i.category.clone()).unwrap_or_default(),
        units,
        value: i64::try_from(i128::from(units) * i128::from(unit_price.minor()))
            .unwrap_or(i64::MAX),
    }
}

/// `GET /v1/stores/{store}/stock`: a store's products with stock, and their value.
pub async fn store_stock(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    q: StockQuery,
) -> Response {
    respond((|| {
        let sid = store_for(&state, &p, Capability::ReadStore, store)?;
        let limit = page_limit(&state, q.limit)?;
        let rows = state
            .storage()
            .store_stock(sid, q.after.map(ItemId), limit)?;
        let catalog = state.registry.catalog();
        let next_after = (rows.len() == limit)
            .then(|| rows.last().map(|r| r.0 .0))
            .flatten();
        let items: Vec<_> = rows
            .into_iter()
            .map(|(item, units)| row(&catalog, sid, item, units))
            .collect();
        let value = items
            .iter()
            .map(|r| r.value)
            .fold(0i64, i64::saturating_add);
        Ok(json_status(
            StatusCode::OK,
            &StoreStockDto {
                store_id: sid.get(),
                items,
                value,
                next_after,
            },
        ))
    })())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemStockDto {
    pub item_id: u32,
    /// Each store the credential may read, with its units (联盟内库存).
    pub stores: Vec<StoreUnitsDto>,
    pub total: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreUnitsDto {
    pub store_id: u32,
    pub units: i64,
}

/// `GET /v1/items/{id}/stock`: the item's stock in every store of the chain.
pub async fn item_stock(state: Arc<ApiState>, p: Principal, id: u32) -> Response {
    respond((|| {
        let item = item_id(id)?;
        let catalog = state.registry.catalog();
        if !catalog.prices.item(item).is_some_and(|i| i.is_product()) {
            return Err(ApiError::NotFound(format!("item {id}")));
        }
        let storage = state.storage();
        let mut stores = Vec::new();
        for s in state.registry.store_ids() {
            if p.may(Capability::ReadStore, Some(s)).is_err() {
                continue;
            }
            stores.push(StoreUnitsDto {
                store_id: s.get(),
                units: storage.product_stock(s, item)?,
            });
        }
        let total = stores
            .iter()
            .map(|s| s.units)
            .fold(0i64, i64::saturating_add);
        Ok(json_status(
            StatusCode::OK,
            &ItemStockDto {
                item_id: id,
                stores,
                total,
            },
        ))
    })())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SalesQuery {
    /// One store; absent: the whole chain (HQ only).
    pub store_id: Option<u64>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `item` (default), `category`, `store` or `day` (rows by the best day first).
    pub by: Option<String>,
    /// Rows, best sellers first (by sales, then units); default 100.
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesRowDto {
    /// The item id, category, store id or day the row sums.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub figures: ItemFigures,
    /// Units sold less returned.
    pub net_sold: i64,
    /// Sales less returns, minor units.
    pub net_sales: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesDto {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: &'static str,
    pub rows: Vec<SalesRowDto>,
    pub total: ItemFigures,
}

/// `GET /v1/stats/items`: sales, returns and stock movements of the price list's items,
/// by item, category or store, best sellers first (商品销售统计).
pub async fn item_sales(state: Arc<ApiState>, p: Principal, q: SalesQuery) -> Response {
    respond((|| {
        super::closing::range(q.from, q.to)?;
        let store = match q.store_id {
            Some(raw) => Some(store_for(&state, &p, Capability::ManageStore, raw)?),
            None => {
                allow(&p, Capability::ChainAdmin, None, String::new)?;
                None
            }
        };
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > crate::domain::price_list::ITEMS_MAX {
            return Err(ApiError::InvalidQuery("limit is 1 to 20000".into()));
        }
        let catalog = state.registry.catalog();
        let figures = state.storage().item_figures(store, q.from, q.to)?;
        let by = match q.by.as_deref().unwrap_or("item") {
            "item" => "item",
            "category" => "category",
            "store" => "store",
            "day" => "day",
            _ => {
                return Err(ApiError::InvalidQuery(
                    "by is item, category, store or day".into(),
                ))
            }
        };
        // The row an item's figures at a store add to, and its name.
        let key_of = |i: ItemId, s: StoreId, d: NaiveDate| -> (String, Option<String>) {
            let item = catalog.prices.item(i);
            match by {
                "category" => (item.map_or_else(String::new, |x| x.category.clone()), None),
                "store" => (s.get().to_string(), None),
                "day" => (d.to_string(), None),
                _ => (i.0.to_string(), item.map(|x| x.name.clone())),
            }
        };
        let mut sums: BTreeMap<String, (Option<String>, ItemFigures)> = BTreeMap::new();
        let mut total = ItemFigures::default();
        for ((item, s, d), f) in &figures {
            let (k, name) = key_of(*item, *s, *d);
            let e = sums.entry(k).or_insert((name, ItemFigures::default()));
            e.1.add(f);
            total.add(f);
        }
        let mut rows: Vec<SalesRowDto> = sums
            .into_iter()
            .map(|(key, (name, f))| SalesRowDto {
                key,
                name,
                net_sold: f.net_sold(),
                net_sales: f.sales - f.returns,
                figures: f,
            })
            .collect();
        rows.sort_by(|a, b| {
            (b.net_sales, b.net_sold, &a.key).cmp(&(a.net_sales, a.net_sold, &b.key))
        });
        rows.truncate(limit);
        Ok(json_status(
            StatusCode::OK,
            &SalesDto {
                from: q.from,
                to: q.to,
                by,
                rows,
                total,
            },
        ))
    })())
}

/// A store's stock move as answered.
pub type StockMoveDto = StockMove;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferLineBody {
    pub item_id: u32,
    #[schema(minimum = 1)]
    pub quantity: u32,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub to_store_id: u64,
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<TransferLineBody>,
    #[serde(default)]
    pub note: String,
}

fn transfer_answer(outcome: Outcome, status: StatusCode) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Transfer(t) => Ok(json_status(status, &*t)),
        other => super::membership::render(other),
    }
}

/// `POST /v1/stores/{store}/transfers`: 调拨 out of this store, in transit until received.
pub async fn send_transfer(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let sid = store_for(&state, &p, Capability::ManageStore, store)?;
            let b: TransferBody = parse_json(ct, &body)?;
            let to = super::handlers::store_id(b.to_store_id)?;
            if !state.registry.has_store(to) {
                return Err(ApiError::NotFound(format!("store {}", b.to_store_id)));
            }
            if b.lines.is_empty() || b.lines.len() > crate::domain::stock::MOVE_LINES_MAX {
                return Err(invalid("a transfer has 1 to 200 lines"));
            }
            let lines = b
                .lines
                .iter()
                .map(|l| {
                    Ok(crate::domain::transfer::TransferLine {
                        item: item_id(l.item_id)?,
                        quantity: l.quantity,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let addr = state
                .registry
                .store(sid)
                .ok_or_else(|| ApiError::NotFound(format!("store {store}")))?;
            let msg = crate::actors::stock::SendTransfer {
                meta: meta(&p, key, &format!("stores/{store}/transfers"), &b)?,
                to,
                lines,
                note: b.note.clone(),
            };
            transfer_answer(write(&addr, msg).await?, StatusCode::CREATED)
        }
        .await,
    )
}

/// The transfer `id`, if the caller may `cap` at its sending or receiving store.
fn transfer_of(
    state: &ApiState,
    p: &Principal,
    id: u64,
    cap: Capability,
) -> Result<crate::domain::transfer::Transfer, ApiError> {
    let nf = || ApiError::NotFound(format!("transfer {id}"));
    let t = state
        .storage()
        .transfer(crate::domain::transfer::TransferId(id))?
        .ok_or_else(nf)?;
    if p.may(cap, Some(t.from)).is_ok() || p.may(cap, Some(t.to)).is_ok() {
        return Ok(t);
    }
    Err(nf())
}

/// `POST /v1/transfers/{id}/receive`: the receiving store takes the goods in.
pub async fn receive_transfer(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
) -> Response {
    respond(
        async {
            let t = transfer_of(&state, &p, id, Capability::ReadStore)?;
            allow(&p, Capability::ManageStore, Some(t.to), || {
                format!("transfer {id}")
            })?;
            let addr = state
                .registry
                .store(t.to)
                .ok_or_else(|| ApiError::NotFound(format!("transfer {id}")))?;
            let msg = crate::actors::stock::ReceiveTransfer {
                meta: meta(&p, key, &format!("transfers/{id}/receive"), &())?,
                id: t.id,
            };
            transfer_answer(write(&addr, msg).await?, StatusCode::OK)
        }
        .await,
    )
}

/// `GET /v1/transfers/{id}`.
pub async fn get_transfer(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond(
        transfer_of(&state, &p, id, Capability::ReadStore).map(|t| json_status(StatusCode::OK, &t)),
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransfersQuery {
    /// `out` (sent, the default) or `in` (sent to this store).
    pub direction: Option<String>,
    /// `in_transit` or `received`.
    pub status: Option<String>,
    /// Transfers with ids below this one (`next_before` of the page before).
    pub before: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransfersDto {
    pub transfers: Vec<crate::domain::transfer::Transfer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// `GET /v1/stores/{store}/transfers`: a store's transfers out or in, newest first.
pub async fn list_transfers(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    q: TransfersQuery,
) -> Response {
    respond((|| {
        let sid = store_for(&state, &p, Capability::ReadStore, store)?;
        let limit = page_limit(&state, q.limit)?;
        let incoming = match q.direction.as_deref() {
            None | Some("out") => false,
            Some("in") => true,
            Some(_) => return Err(ApiError::InvalidQuery("direction is out or in".into())),
        };
        let received = match q.status.as_deref() {
            None => None,
            Some("in_transit") => Some(false),
            Some("received") => Some(true),
            Some(_) => {
                return Err(ApiError::InvalidQuery(
                    "status is in_transit or received".into(),
                ))
            }
        };
        let page = state.storage().store_transfers(
            sid,
            incoming,
            q.before.map(crate::domain::transfer::TransferId),
            limit,
        )?;
        let next_before = (page.len() == limit)
            .then(|| page.last().map(|t| t.id.0))
            .flatten();
        let transfers = page
            .into_iter()
            .filter(|t| received.is_none_or(|r| r == t.received_at.is_some()))
            .collect();
        Ok(json_status(
            StatusCode::OK,
            &TransfersDto {
                transfers,
                next_before,
            },
        ))
    })())
}

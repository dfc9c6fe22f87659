//! Membership routes: HQ's catalog (levels, store overrides, coupon templates), member
//! holdings (count cards, points, coupons, card loss), orders (checkout, hold, returns),
//! activity history and inter-store settlement.

use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::{acting_store, allow};
use super::dto::{BalanceDto, EntryDto};
use super::error::ApiError;
use super::handlers::{
    allow_member, allow_spend, json_status, member_id, meta, page_limit, parse_json, respond,
    store_id, tender, write,
};
use super::ApiState;
use crate::actors::counter::{MemberRequest, MemberWrite, WalkInWrite};
use crate::actors::directory::ChangeCatalog;
use crate::domain::access::{Capability, Principal};
use crate::domain::booking::ServiceId;
use crate::domain::checkout::{Item, OrderId, OrderLine, Payment};
use crate::domain::counter::{CatalogChange, CounterOp, PaidWith};
use crate::domain::coupon::{
    CouponCode, CouponTemplate, CouponValue, TemplateId, COUPON_SECRET_MODULUS,
};
use crate::domain::idempotency::Outcome;
use crate::domain::ids::{EntrySeq, MemberId, StoreId};
use crate::domain::levels::{Level, LevelId, LevelRules, RechargeTier, UpgradeRule};
use crate::domain::membership::{CardId, REASON_LEN_MAX};
use crate::domain::money::{Amount, Money, Rate};
use crate::domain::price_list::ItemId;

/// Members one bulk coupon issue may name.
pub const BULK_ISSUE_MAX: usize = 1_000;
/// A bulk issue's key: each member's write is keyed `<key>/<member id>`, which must still
/// fit an idempotency key.
pub const BULK_KEY_LEN_MAX: usize = 100;

pub(super) fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::Invalid(m.into())
}

pub(super) fn money(minor: i64, what: &str) -> Result<Money, ApiError> {
    if !(0..=crate::domain::money::AMOUNT_MAX_MINOR).contains(&minor) {
        return Err(invalid(format!(
            "{what} must be 0 to {} minor units",
            crate::domain::money::AMOUNT_MAX_MINOR
        )));
    }
    Ok(Money::from_minor(minor))
}

fn rate(bp: u16, what: &str) -> Result<Rate, ApiError> {
    Rate::new(bp).map_err(|_| invalid(format!("{what} is 0 to 10000 basis points")))
}

fn reason(r: Option<String>, required: bool) -> Result<String, ApiError> {
    match r {
        Some(r)
            if !r.trim().is_empty()
                && r.chars().count() <= REASON_LEN_MAX
                && !r.chars().any(char::is_control) =>
        {
            Ok(r)
        }
        None if !required => Ok(String::new()),
        _ => Err(invalid(format!(
            "reason must be 1 to {REASON_LEN_MAX} characters"
        ))),
    }
}

/// A member named by card number `<member id>-<generation>`.
pub(super) fn parse_card(raw: &str) -> Result<(MemberId, u32), ApiError> {
    let nf = || ApiError::NotFound("member with this card".into());
    let (m, g) = raw.split_once('-').ok_or_else(nf)?;
    let member = m
        .parse::<u64>()
        .ok()
        .and_then(|m| MemberId::parse(m).ok())
        .ok_or_else(nf)?;
    let generation = g.parse::<u32>().map_err(|_| nf())?;
    Ok((member, generation))
}

/// The answer to a counter operation on a member: their whole account after it, and what
/// it made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CounterDto {
    pub account: BalanceDto,
    /// The stored-value entry it posted, if any.
    pub entry: Option<EntryDto>,
    pub order: Option<crate::domain::checkout::Order>,
    /// A coupon it issued.
    pub coupon_code: Option<String>,
    /// A count card it sold or used.
    pub card_id: Option<u32>,
    /// What a redeemed coupon took off.
    pub discount: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldOrdersDto {
    pub orders: Vec<crate::domain::checkout::Order>,
}

/// One member's result in a bulk issue: the status and code it would have had alone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkResultDto {
    pub member_id: u64,
    pub status: u16,
    /// The error code when it was refused.
    pub code: Option<&'static str>,
}

impl BulkResultDto {
    fn of(member_id: u64, result: &Result<Response, ApiError>) -> Self {
        let (status, code) = match result {
            Ok(r) => (r.status(), None),
            Err(e) => {
                let (s, c) = e.status_and_code();
                (s, Some(c))
            }
        };
        BulkResultDto {
            member_id,
            status: status.as_u16(),
            code,
        }
    }
}

/// A bulk request's key: each member's write is keyed `<key>/<member id>`, so it is shorter.
pub(super) fn bulk_key(key: Option<String>) -> Result<String, ApiError> {
    let key = key.ok_or(ApiError::IdempotencyKeyRequired)?;
    if key.len() > BULK_KEY_LEN_MAX {
        return Err(ApiError::InvalidIdempotencyKey(
            crate::domain::ids::IdError::BadIdempotencyKey,
        ));
    }
    Ok(key)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkIssueDto {
    pub results: Vec<BulkResultDto>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub activity: Vec<crate::domain::membership::ActivityRecord>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next_before: Option<u64>,
}

/// What a home store owes a selling store (跨店结算) for its members' spending there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettlementDto {
    pub home_store_id: u32,
    pub store_id: u32,
    #[schema(value_type = String, format = DateTime)]
    pub from: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub to: chrono::DateTime<chrono::Utc>,
    pub lines: u64,
    pub owed: i64,
}

/// A store's own rules for a level.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LevelOverrideDto {
    pub store_id: u32,
    pub level: u16,
    pub rules: crate::domain::levels::LevelRules,
}

/// The chain's catalog: levels, store overrides, coupon templates and gifts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogDto {
    pub levels: Vec<crate::domain::levels::Level>,
    pub overrides: Vec<LevelOverrideDto>,
    pub coupon_templates: Vec<crate::domain::coupon::CouponTemplate>,
    pub gifts: Vec<crate::domain::gift::Gift>,
    /// What one point is worth, minor units.
    pub point_value: i64,
    /// Member fields the chain defines (会员自定义字段).
    pub member_fields: Vec<crate::domain::member_fields::FieldDef>,
}

pub(super) fn render(outcome: Outcome) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Counter(a) => Ok(json_status(
            StatusCode::CREATED,
            &CounterDto {
                account: BalanceDto::from(&a.account),
                entry: a.entry.as_ref().map(EntryDto::from),
                order: a.order,
                coupon_code: a.coupon.map(|c| c.to_string()),
                card_id: a.card.map(|c| c.0),
                discount: a.discount.map(Money::minor),
            },
        )),
        Outcome::Posted(e) => Ok(json_status(StatusCode::CREATED, &EntryDto::from(&e))),
        Outcome::Order(o) => Ok(json_status(StatusCode::CREATED, &o)),
        Outcome::Catalog(c) => Ok(json_status(StatusCode::OK, &c)),
        Outcome::Rejected(e) => Err(ApiError::Ledger(e)),
        other => Err(invalid(format!("unexpected outcome {other:?}"))),
    }
}

async fn member_write(
    state: &ApiState,
    meta_: crate::actors::WriteMeta,
    member: MemberId,
    store: StoreId,
    card: Option<u32>,
    request: MemberRequest,
) -> Result<Response, ApiError> {
    let addr = super::handlers::home_ledger(state, member)?;
    render(
        write(
            &addr,
            MemberWrite {
                meta: meta_,
                member,
                store,
                card,
                request,
            },
        )
        .await?,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RechargeRefundBody {
    pub recharge_seq: u64,
    pub amount: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyCardBody {
    pub service_id: u64,
    pub sessions: u32,
    pub price: i64,
    pub expires_on: Option<NaiveDate>,
    /// "stored_value", or a tender: cash, bank_card, wechat_pay, alipay.
    pub paid_with: String,
    pub store_id: Option<u64>,
    /// The employee credited with the sale (导购), working in the store.
    pub employee_id: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionsBody {
    pub sessions: u32,
    pub service_id: Option<u64>,
    pub reason: Option<String>,
    pub card_number: Option<String>,
    pub store_id: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsBody {
    pub delta: i64,
    pub reason: String,
    pub store_id: Option<u64>,
}

/// A member's level set by hand (更换会员等级): `level_id` 0 is the base level.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberLevelBody {
    pub level_id: u16,
    /// Why, for the member's activity history and the operation log.
    pub reason: String,
    pub store_id: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    pub template_id: u32,
    pub store_id: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreOnlyBody {
    pub store_id: Option<u64>,
}

/// `POST /v1/members/{id}/{action}` for the member's holdings.
pub async fn member_action(
    action: String,
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
            let route = format!("members/{raw}/{action}");
            let (meta_, store, request) = match action.as_str() {
                "recharge-refunds" => {
                    allow_member(&state, &p, member)?;
                    let b: RechargeRefundBody = parse_json(ct, &body)?;
                    let amount = Amount::new(b.amount).map_err(ApiError::InvalidAmount)?;
                    (
                        meta(&p, key, &route, &b)?,
                        state.registry.home_of(member),
                        MemberRequest::RefundRecharge {
                            recharge: EntrySeq(b.recharge_seq),
                            amount,
                        },
                    )
                }
                "count-cards" => {
                    allow_spend(&state, &p, member)?;
                    let b: BuyCardBody = parse_json(ct, &body)?;
                    let paid_with = match b.paid_with.as_str() {
                        "stored_value" => PaidWith::StoredValue,
                        other => PaidWith::Tender(tender(Some(other))?),
                    };
                    let store = acting_store(&p, b.store_id)?;
                    let op = CounterOp::BuyCard {
                        service: ServiceId(b.service_id),
                        sessions: b.sessions,
                        price: money(b.price, "price")?,
                        expires_on: b.expires_on,
                        paid_with,
                    };
                    if state
                        .storage()
                        .service(ServiceId(b.service_id))?
                        .is_none_or(|(_, deleted)| deleted)
                    {
                        return Err(ApiError::NotFound(format!("service {}", b.service_id)));
                    }
                    let mut m = meta(&p, key, &route, &b)?;
                    m.audit.employee = super::staff::credited(&state, b.employee_id, store)?;
                    (m, store, MemberRequest::Op(op))
                }
                "points" => {
                    allow_member(&state, &p, member)?;
                    let b: PointsBody = parse_json(ct, &body)?;
                    let store = acting_store(&p, b.store_id)?;
                    let op = CounterOp::Points {
                        delta: b.delta,
                        reason: reason(Some(b.reason.clone()), true)?,
                    };
                    (meta(&p, key, &route, &b)?, store, MemberRequest::Op(op))
                }
                "coupons" => {
                    allow_member(&state, &p, member)?;
                    let b: IssueBody = parse_json(ct, &body)?;
                    let store = acting_store(&p, b.store_id)?;
                    let op = CounterOp::IssueCoupon {
                        template: TemplateId(b.template_id),
                        secret: secret()?,
                    };
                    // The secret is random, so the fingerprint covers the body, not the op.
                    (meta(&p, key, &route, &b)?, store, MemberRequest::Op(op))
                }
                "level" => {
                    allow_member(&state, &p, member)?;
                    let b: MemberLevelBody = parse_json(ct, &body)?;
                    let store = acting_store(&p, b.store_id)?;
                    let op = CounterOp::SetLevel {
                        level: LevelId(b.level_id),
                        reason: reason(Some(b.reason.clone()), true)?,
                    };
                    (meta(&p, key, &route, &b)?, store, MemberRequest::Op(op))
                }
                "lock" | "unlock" | "replace-card" => {
                    allow_member(&state, &p, member)?;
                    let b: StoreOnlyBody = parse_json(ct, &body)?;
                    let store = acting_store(&p, b.store_id)?;
                    let op = match action.as_str() {
                        "lock" => CounterOp::Lock,
                        "unlock" => CounterOp::Unlock,
                        _ => CounterOp::ReplaceCard,
                    };
                    (meta(&p, key, &route, &b)?, store, MemberRequest::Op(op))
                }
                _ => {
                    return Err(ApiError::NotFound(format!(
                        "route members/{{id}}/{}",
                        action.chars().take(40).collect::<String>()
                    )))
                }
            };
            member_write(&state, meta_, member, store, None, request).await
        }
        .await,
    )
}

fn secret() -> Result<u32, ApiError> {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).map_err(|_| ApiError::Unavailable)?;
    Ok(u32::from_le_bytes(b) % COUPON_SECRET_MODULUS)
}

/// `POST /v1/members/{id}/count-cards/{card}/{consume|sessions}`.
#[allow(clippy::too_many_arguments)] // warp hands each path and header value over separately
pub async fn card_action(
    action: String,
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    card: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            let b: SessionsBody = parse_json(ct, &body)?;
            let route = format!("members/{raw}/count-cards/{card}/{action}");
            let presented = b
                .card_number
                .as_deref()
                .map(parse_card)
                .transpose()?
                .map(|(m, g)| {
                    if m == member {
                        Ok(g)
                    } else {
                        Err(ApiError::NotFound("member with this card".into()))
                    }
                })
                .transpose()?;
            let op = match action.as_str() {
                "consume" => {
                    allow_spend(&state, &p, member)?;
                    CounterOp::Consume {
                        card: CardId(card),
                        sessions: b.sessions,
                        service: b.service_id.map(ServiceId),
                        reason: reason(b.reason.clone(), false)?,
                    }
                }
                "sessions" => {
                    allow_member(&state, &p, member)?;
                    CounterOp::AddSessions {
                        card: CardId(card),
                        sessions: b.sessions,
                        reason: reason(b.reason.clone(), true)?,
                    }
                }
                _ => return Err(ApiError::NotFound("route".into())),
            };
            let store = acting_store(&p, b.store_id)?;
            member_write(
                &state,
                meta(&p, key, &route, &b)?,
                member,
                store,
                presented,
                MemberRequest::Op(op),
            )
            .await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRefundBody {
    /// The stored-value deduction that paid for the card: the value goes back to stored
    /// value through it.
    pub deduction_seq: Option<u64>,
    /// Or a tender the value is paid out in, at the store that sold the card.
    pub tender: Option<String>,
    pub store_id: Option<u64>,
}

/// `POST /v1/members/{id}/count-cards/{card}/refund`: 退次卡, the sessions left refunded at
/// the card's price per session.
pub async fn refund_card(
    state: Arc<ApiState>,
    p: Principal,
    raw: u64,
    card: u32,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let member = member_id(raw)?;
            let b: CardRefundBody = parse_json(ct, &body)?;
            allow_spend(&state, &p, member)?;
            let store = acting_store(&p, b.store_id)?;
            allow(&p, Capability::ManageStore, Some(store), || {
                format!("store {store}")
            })?;
            let tender = match (&b.deduction_seq, &b.tender) {
                (Some(_), None) => None,
                (None, Some(t)) => Some(tender(Some(t))?),
                _ => return Err(invalid("give deduction_seq or tender, not both")),
            };
            member_write(
                &state,
                meta(
                    &p,
                    key,
                    &format!("members/{raw}/count-cards/{card}/refund"),
                    &b,
                )?,
                member,
                store,
                None,
                MemberRequest::RefundCard {
                    card: CardId(card),
                    deduction: b.deduction_seq.map(EntrySeq),
                    tender,
                },
            )
            .await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// An item of the price list, priced by the server.
    pub item_id: Option<u32>,
    /// An item of the price list by its barcode (扫码).
    pub barcode: Option<String>,
    /// A service at a typed price (needs `unit_price`).
    pub service_id: Option<u64>,
    /// A product by SKU: the price list's item with that SKU, else a typed-price line.
    pub sku: Option<String>,
    /// A typed unit price (改价): needs the `price_override` capability. Absent: the price
    /// list's price at the store.
    pub unit_price: Option<i64>,
    pub quantity: u32,
    pub count_card_id: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderBody {
    pub kind: String,
    pub amount: i64,
}

#[derive(Debug, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    #[serde(default)]
    pub stored_value: i64,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub tenders: Vec<TenderBody>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    pub member_id: Option<u64>,
    pub card_number: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineBody>,
    pub coupon_code: Option<String>,
    #[serde(default)]
    pub payment: PaymentBody,
    /// Pay this held order instead of new lines (解挂).
    pub resume_order_id: Option<u64>,
    pub store_id: Option<u64>,
    /// The employee credited with the sale (导购), working in the store; its returns are
    /// taken back from them.
    pub employee_id: Option<u32>,
}

/// An order's lines as the actor prices them: catalog lines by item id (from `item_id`,
/// `barcode`, or a `sku` the price list knows), the rest at their typed price. Once the
/// chain has a price list, a typed price needs `price_override` at the store.
fn lines(
    state: &ApiState,
    p: &Principal,
    store: crate::domain::ids::StoreId,
    body: &[LineBody],
) -> Result<Vec<OrderLine>, ApiError> {
    if body.len() > crate::domain::checkout::ORDER_LINES_MAX {
        return Err(invalid(format!(
            "at most {} lines",
            crate::domain::checkout::ORDER_LINES_MAX
        )));
    }
    let catalog = state.registry.catalog();
    let prices = &catalog.prices;
    let lines = body
        .iter()
        .map(|l| {
            let typed = l.unit_price.map(|m| money(m, "unit_price")).transpose()?;
            let card = l.count_card_id.map(CardId);
            let item = match (l.item_id, &l.barcode, l.service_id, &l.sku) {
                (Some(id), None, None, None) => Some(ItemId(id)),
                (None, Some(code), None, None) => Some(
                    prices
                        .by_barcode(code)
                        .ok_or_else(|| ApiError::NotFound(format!("item with barcode {code}")))?,
                ),
                (None, None, None, Some(sku)) => match (prices.by_sku(sku), typed) {
                    (Some(id), _) => Some(id),
                    (None, Some(_)) => None,
                    (None, None) => {
                        return Err(ApiError::NotFound(format!("item with SKU {sku}")))
                    }
                },
                (None, None, Some(_), None) => None,
                _ => {
                    return Err(invalid(
                        "each line names exactly one of item_id, barcode, service_id and sku",
                    ))
                }
            };
            Ok(match item {
                Some(id) => crate::domain::price_list::catalog_line(id, typed, l.quantity, card),
                None => OrderLine {
                    item: match (l.service_id, &l.sku) {
                        (Some(s), _) => Item::Service(ServiceId(s)),
                        (None, Some(sku)) => Item::Product(sku.clone()),
                        (None, None) => unreachable!("matched above"),
                    },
                    unit_price: typed.ok_or_else(|| {
                        invalid("a service_id line has a unit_price: sell the price list's item_id instead")
                    })?,
                    quantity: l.quantity,
                    card,
                },
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Until HQ defines a price list every price is typed, as before there was one.
    if body.iter().any(|l| l.unit_price.is_some())
        && !prices.is_empty()
        && p.may(Capability::PriceOverride, Some(store)).is_err()
    {
        return Err(ApiError::PriceOverride);
    }
    Ok(lines)
}

fn payment(b: &PaymentBody) -> Result<Payment, ApiError> {
    if b.tenders.len() > crate::domain::checkout::TENDERS_MAX {
        return Err(invalid("too many tenders"));
    }
    if b.points < 0 || b.points > crate::domain::membership::POINTS_MAX {
        return Err(invalid("points out of range"));
    }
    Ok(Payment {
        stored_value: money(b.stored_value, "stored_value")?,
        points: b.points,
        tenders: b
            .tenders
            .iter()
            .map(|t| Ok((tender(Some(&t.kind))?, money(t.amount, "tender amount")?)))
            .collect::<Result<_, ApiError>>()?,
    })
}

/// The member an order names, by id or card number, and the card generation presented.
fn order_member(b: &OrderBody) -> Result<Option<(MemberId, Option<u32>)>, ApiError> {
    match (b.member_id, &b.card_number) {
        (Some(raw), None) => Ok(Some((member_id(raw)?, None))),
        (None, Some(card)) => parse_card(card).map(|(m, g)| Some((m, Some(g)))),
        (None, None) => Ok(None),
        _ => Err(invalid(
            "name the member by member_id or card_number, not both",
        )),
    }
}

/// `POST /v1/orders` (checkout) and `POST /v1/orders/held` (hold).
pub async fn order_write(
    hold: bool,
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: OrderBody = parse_json(ct, &body)?;
            let store = acting_store(&p, b.store_id)?;
            let mut meta_ = meta(&p, key, if hold { "orders/held" } else { "orders" }, &b)?;
            meta_.audit.employee = super::staff::credited(&state, b.employee_id, store)?;
            let lines = lines(&state, &p, store, &b.lines)?;
            let coupon = b
                .coupon_code
                .as_deref()
                .map(|c| {
                    c.parse::<CouponCode>()
                        .map_err(|e| ApiError::Ledger(e.into()))
                })
                .transpose()?;
            let resume = b.resume_order_id.map(OrderId);
            if resume.is_some() != lines.is_empty() {
                return Err(invalid("give either lines or resume_order_id"));
            }
            let request = if hold {
                MemberRequest::Hold { lines }
            } else {
                MemberRequest::Checkout {
                    resume,
                    lines,
                    coupon,
                    payment: payment(&b.payment)?,
                }
            };
            match order_member(&b)? {
                Some((member, card)) => {
                    allow_spend(&state, &p, member)?;
                    if let Some(c) = coupon {
                        if c.member != member {
                            return Err(ApiError::Ledger(
                                crate::domain::coupon::CouponError::NotFound.into(),
                            ));
                        }
                    }
                    member_write(&state, meta_, member, store, card, request).await
                }
                None => {
                    if coupon.is_some() {
                        return Err(invalid("a walk-in customer has no coupons"));
                    }
                    let addr = state
                        .registry
                        .store(store)
                        .ok_or_else(|| ApiError::NotFound(format!("store {store}")))?;
                    render(
                        write(
                            &addr,
                            WalkInWrite {
                                meta: meta_,
                                request,
                            },
                        )
                        .await?,
                    )
                }
            }
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    pub line: usize,
    pub quantity: u32,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    pub lines: Vec<ReturnLineBody>,
    /// Whose figures the return comes off; the order's seller if absent.
    pub employee_id: Option<u32>,
}

/// The owner of order `id` and the stores allowed to see it: where it was sold and the
/// member's home store.
pub(super) fn order_access(
    state: &ApiState,
    p: &Principal,
    id: u64,
) -> Result<crate::domain::checkout::Order, ApiError> {
    let nf = || ApiError::NotFound(format!("order {id}"));
    let order = state.storage().order(OrderId(id))?.ok_or_else(nf)?;
    let home = order.member.map(|m| state.registry.home_of(m));
    let sold = allow(p, Capability::Counter, Some(order.store), || {
        format!("order {id}")
    });
    let owner = home.map(|h| allow(p, Capability::Counter, Some(h), || format!("order {id}")));
    match (sold, owner) {
        (Ok(()), _) | (_, Some(Ok(()))) => Ok(order),
        (Err(e), _) => Err(e),
    }
}

/// A write on a paid order (a return, an exchange): to the member's home ledger, or to the
/// selling store's for a walk-in's order.
async fn write_on_order(
    state: &ApiState,
    meta_: crate::actors::WriteMeta,
    order: &crate::domain::checkout::Order,
    request: MemberRequest,
) -> Result<Response, ApiError> {
    match order.member {
        Some(member) => member_write(state, meta_, member, order.store, None, request).await,
        None => {
            let addr = state
                .registry
                .store(order.store)
                .ok_or_else(|| ApiError::NotFound(format!("order {}", order.id.0)))?;
            render(
                write(
                    &addr,
                    WalkInWrite {
                        meta: meta_,
                        request,
                    },
                )
                .await?,
            )
        }
    }
}

pub async fn order_return(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: ReturnBody = parse_json(ct, &body)?;
            let order = order_access(&state, &p, id)?;
            let mut meta_ = meta(&p, key, &format!("orders/{id}/returns"), &b)?;
            meta_.audit.employee = super::staff::credited(&state, b.employee_id, order.store)?;
            let request = MemberRequest::Return {
                order: order.id,
                lines: b.lines.iter().map(|l| (l.line, l.quantity)).collect(),
            };
            write_on_order(&state, meta_, &order, request).await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderExchangeBody {
    /// What comes back of the order, unwound in proportion as a return.
    pub return_lines: Vec<ReturnLineBody>,
    /// What the customer takes instead: a new order at the same store.
    pub lines: Vec<LineBody>,
    #[serde(default)]
    pub payment: PaymentBody,
    pub employee_id: Option<u32>,
}

/// `POST /v1/orders/{id}/exchanges`: 换货, a return and a sale in one write.
pub async fn order_exchange(
    state: Arc<ApiState>,
    p: Principal,
    id: u64,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: OrderExchangeBody = parse_json(ct, &body)?;
            let order = order_access(&state, &p, id)?;
            let mut meta_ = meta(&p, key, &format!("orders/{id}/exchanges"), &b)?;
            meta_.audit.employee = super::staff::credited(&state, b.employee_id, order.store)?;
            let new_lines = lines(&state, &p, order.store, &b.lines)?;
            if new_lines.is_empty() || b.return_lines.is_empty() {
                return Err(invalid("an exchange returns some lines and sells others"));
            }
            let request = MemberRequest::Exchange {
                order: order.id,
                lines: b
                    .return_lines
                    .iter()
                    .map(|l| (l.line, l.quantity))
                    .collect(),
                new_lines,
                payment: payment(&b.payment)?,
            };
            write_on_order(&state, meta_, &order, request).await
        }
        .await,
    )
}

pub async fn get_order(state: Arc<ApiState>, p: Principal, id: u64) -> Response {
    respond(order_access(&state, &p, id).map(|o| json_status(StatusCode::OK, &o)))
}

pub async fn held_orders(state: Arc<ApiState>, p: Principal, store: u64) -> Response {
    respond((|| {
        let sid = store_id(store)?;
        allow(&p, Capability::Counter, Some(sid), || {
            format!("store {store}")
        })?;
        let orders = state
            .storage()
            .held_orders(sid, crate::domain::checkout::HELD_ORDERS_MAX)?;
        let held: Vec<_> = orders
            .into_iter()
            .filter(|o| o.status == crate::domain::checkout::OrderStatus::Held)
            .collect();
        Ok(json_status(StatusCode::OK, &HeldOrdersDto { orders: held }))
    })())
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    pub code: String,
    /// The bill the coupon is applied to, after the level discount.
    pub bill: i64,
    pub store_id: Option<u64>,
}

pub async fn redeem(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b: RedeemBody = parse_json(ct, &body)?;
            let code: CouponCode = b
                .code
                .parse()
                .map_err(|e: crate::domain::coupon::CouponError| ApiError::Ledger(e.into()))?;
            allow_spend(&state, &p, code.member)?;
            let store = acting_store(&p, b.store_id)?;
            let op = CounterOp::RedeemCoupon {
                code,
                bill: money(b.bill, "bill")?,
            };
            member_write(
                &state,
                meta(&p, key, "coupons/redeem", &b)?,
                code.member,
                store,
                None,
                MemberRequest::Op(op),
            )
            .await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkIssueBody {
    pub template_id: u32,
    pub member_ids: Vec<u64>,
    pub store_id: u64,
}

/// HQ issues a template to many members. Each member's issue is its own write under
/// `<key>/<member id>`, so a retry of the bulk request issues nothing twice.
pub async fn bulk_issue(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let key = bulk_key(key)?;
            let b: BulkIssueBody = parse_json(ct, &body)?;
            if b.member_ids.is_empty() || b.member_ids.len() > BULK_ISSUE_MAX {
                return Err(invalid(format!(
                    "member_ids has 1 to {BULK_ISSUE_MAX} members"
                )));
            }
            let store = store_id(b.store_id)?;
            let mut results = Vec::with_capacity(b.member_ids.len());
            for raw in &b.member_ids {
                let one = IssueBody {
                    template_id: b.template_id,
                    store_id: Some(b.store_id),
                };
                let result = async {
                    let member = member_id(*raw)?;
                    let op = CounterOp::IssueCoupon {
                        template: TemplateId(b.template_id),
                        secret: secret()?,
                    };
                    let m = meta(
                        &p,
                        Some(format!("{key}/{raw}")),
                        &format!("members/{raw}/coupons"),
                        &one,
                    )?;
                    member_write(&state, m, member, store, None, MemberRequest::Op(op)).await
                }
                .await;
                results.push(BulkResultDto::of(*raw, &result));
            }
            Ok(json_status(StatusCode::OK, &BulkIssueDto { results }))
        }
        .await,
    )
}

/// 更换会员等级 for every member a filter finds, a page at a time.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkLevelBody {
    pub level_id: u16,
    /// Why, for each member's activity history and the operation log.
    #[schema(min_length = 1)]
    pub reason: String,
    /// Which members, as `GET /v1/members/search` names them.
    #[serde(default, deserialize_with = "super::members::object")]
    pub filter: super::members::MemberFilterBody,
    pub store_id: Option<u64>,
    /// `next_after` of the answer before: go on from there (with the same key).
    #[schema(pattern = "^[0-9a-f]{2,256}$")]
    pub after: Option<String>,
    #[schema(minimum = 1)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkLevelDto {
    pub results: Vec<BulkResultDto>,
    /// Present while the filter may find more: send it as `after`.
    pub next_after: Option<String>,
}

/// `POST /v1/members/level-changes`: one page of the members a filter finds, each set under
/// `<key>/<member id>`, so the same key may carry on page after page and a retry of any page
/// changes nobody twice.
pub async fn bulk_level(
    state: Arc<ApiState>,
    p: Principal,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let key = bulk_key(key)?;
            let b: BulkLevelBody = parse_json(ct, &body)?;
            let (index, filter) =
                super::members::resolve(&p, &b.filter, Capability::ManageStore, ApiError::Invalid)?;
            let limit = page_limit(&state, b.limit)?;
            let after = super::members::cursor(b.after.as_deref())?;
            // HQ without a store: each member's change is made at their home store.
            let store = match (b.store_id, p.role.home_store()) {
                (None, None) => None,
                (asked, _) => Some(acting_store(&p, asked)?),
            };
            let reason = reason(Some(b.reason.clone()), true)?;
            let page =
                state
                    .storage()
                    .search_members(&index, &filter, after.as_deref(), limit, &|m| {
                        state.registry.home_of(m)
                    })?;
            let b = &b;
            let one = |member: MemberId| {
                let (state, p, key, reason) = (&state, &p, &key, reason.clone());
                async move {
                    let raw = member.get();
                    let store = store.unwrap_or(state.registry.home_of(member));
                    let body = MemberLevelBody {
                        level_id: b.level_id,
                        reason: b.reason.clone(),
                        store_id: Some(u64::from(store.get())),
                    };
                    let m = meta(
                        p,
                        Some(format!("{key}/{raw}")),
                        &format!("members/{raw}/level"),
                        &body,
                    )?;
                    let op = CounterOp::SetLevel {
                        level: LevelId(b.level_id),
                        reason,
                    };
                    member_write(state, m, member, store, None, MemberRequest::Op(op)).await
                }
            };
            let answers =
                futures::future::join_all(page.members.iter().map(|(m, _)| one(m.id))).await;
            let results = page
                .members
                .iter()
                .zip(answers)
                .map(|((m, _), result)| BulkResultDto::of(m.id.get(), &result))
                .collect();
            Ok(json_status(
                StatusCode::OK,
                &BulkLevelDto {
                    results,
                    next_after: page.next.map(hex::encode),
                },
            ))
        }
        .await,
    )
}

/// A newest-first page (activity, follow-ups): `before` is the `next_before` of the page
/// before.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub before: Option<u64>,
    #[param(minimum = 1)]
    pub limit: Option<usize>,
}

pub async fn activity(state: Arc<ApiState>, p: Principal, raw: u64, q: ActivityQuery) -> Response {
    respond((|| {
        let member = member_id(raw)?;
        allow_member(&state, &p, member)?;
        let limit = page_limit(&state, q.limit)?;
        let page = state.storage().activity_page(member, q.before, limit)?;
        let next_before = (page.len() == limit)
            .then(|| page.last().map(|a| a.seq))
            .flatten();
        Ok(json_status(
            StatusCode::OK,
            &ActivityPage {
                activity: page,
                next_before,
            },
        ))
    })())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SettlementQuery {
    pub home_store_id: u64,
    pub store_id: u64,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
}

/// What `home_store_id` owes `store_id` for its members' spending there in [from, to).
pub async fn settlement(state: Arc<ApiState>, p: Principal, q: SettlementQuery) -> Response {
    respond((|| {
        let home = store_id(q.home_store_id)?;
        let store = store_id(q.store_id)?;
        let either = allow(&p, Capability::ManageStore, Some(home), || {
            format!("store {home}")
        })
        .or_else(|_| {
            allow(&p, Capability::ManageStore, Some(store), || {
                format!("store {store}")
            })
        });
        either?;
        if q.to <= q.from {
            return Err(ApiError::InvalidQuery("to must be after from".into()));
        }
        let t = state.storage().settlement(home, store, q.from, q.to)?;
        Ok(json_status(
            StatusCode::OK,
            &SettlementDto {
                home_store_id: home.get(),
                store_id: store.get(),
                from: q.from,
                to: q.to,
                lines: t.lines,
                owed: t.amount.minor(),
            },
        ))
    })())
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    pub min: i64,
    pub bonus: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    /// Share of list price paid, in basis points (8800 = 12% off).
    pub price_rate_bp: u16,
    #[serde(default)]
    pub points_per_yuan: u32,
    #[serde(default)]
    pub recharge_tiers: Vec<TierBody>,
    pub upgrade_recharged: Option<i64>,
    pub upgrade_spent: Option<i64>,
    pub upgrade_points: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBody {
    #[schema(min_length = 1)]
    pub name: String,
    /// Share of list price paid, in basis points (8800 = 12% off).
    pub price_rate_bp: u16,
    #[serde(default)]
    pub points_per_yuan: u32,
    #[serde(default)]
    pub recharge_tiers: Vec<TierBody>,
    pub upgrade_recharged: Option<i64>,
    pub upgrade_spent: Option<i64>,
    pub upgrade_points: Option<i64>,
}

impl LevelBody {
    /// The rules part: a level's rules are a store's override's (`RulesBody`), named.
    /// Not `#[serde(flatten)]`, which can't refuse unknown fields.
    fn rules(&self) -> RulesBody {
        RulesBody {
            price_rate_bp: self.price_rate_bp,
            points_per_yuan: self.points_per_yuan,
            recharge_tiers: self
                .recharge_tiers
                .iter()
                .map(|t| TierBody {
                    min: t.min,
                    bonus: t.bonus,
                })
                .collect(),
            upgrade_recharged: self.upgrade_recharged,
            upgrade_spent: self.upgrade_spent,
            upgrade_points: self.upgrade_points,
        }
    }
}

fn rules(b: &RulesBody) -> Result<LevelRules, ApiError> {
    if b.recharge_tiers.len() > crate::domain::levels::RECHARGE_TIERS_MAX {
        return Err(invalid("too many recharge tiers"));
    }
    LevelRules {
        price_rate: rate(b.price_rate_bp, "price_rate_bp")?,
        points_per_yuan: b.points_per_yuan,
        recharge_tiers: b
            .recharge_tiers
            .iter()
            .map(|t| {
                Ok(RechargeTier {
                    min: money(t.min, "min")?,
                    bonus: money(t.bonus, "bonus")?,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        upgrade: UpgradeRule {
            recharged: b
                .upgrade_recharged
                .map(|m| money(m, "upgrade_recharged"))
                .transpose()?,
            spent: b
                .upgrade_spent
                .map(|m| money(m, "upgrade_spent"))
                .transpose()?,
            points: b.upgrade_points,
        },
    }
    .validated()
    .map_err(|e| invalid(e.to_string()))
}

pub(super) async fn catalog_write(
    state: &ApiState,
    meta_: crate::actors::WriteMeta,
    change: CatalogChange,
) -> Result<Response, ApiError> {
    render(
        write(
            &state.directory,
            ChangeCatalog {
                meta: meta_,
                change,
            },
        )
        .await?,
    )
}

/// `PUT /v1/levels/{id}`: HQ defines a level.
pub async fn put_level(
    state: Arc<ApiState>,
    p: Principal,
    id: u16,
    key: Option<String>,
    ct: Option<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            allow(&p, Capability::Catalog, None, String::new)?;
            let b: LevelBody = parse_json(ct, &body)?;
            let name = crate::domain::ids::Name::new(&b.name, "level name")
                .map_err(ApiError::InvalidField)?;
            let level = Level {
                id: LevelId(id),
                name: name.as_str().to_owned(),
                rules: rules(&b.rules())?,
            };
            catalog_write(
                &state,
                meta(&p, key, &format!("levels/{id}"), &b)?,
                CatalogChange::Level(level),
            )
            .await
        }
        .await,
    )
}

/// `PUT /v1/stores/{store}/levels/{id}`: a store's own rules for a level.
pub async fn put_override(
    state: Arc<ApiState>,
    p: Principal,
    store: u64,
    id: u16,
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
            let b: RulesBody = parse_json(ct, &body)?;
            let change = CatalogChange::Override {
                store: sid,
                level: LevelId(id),
                rules: rules(&b)?,
            };
            catalog_write(
                &state,
                meta(&p, key, &format!("stores/{store}/levels/{id}"), &b)?,
                change,
            )
            .await
        }
        .await,
    )
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    #[schema(min_length = 1)]
    pub name: String,
    pub amount_off: Option<i64>,
    pub percent_off_bp: Option<u16>,
    #[serde(default)]
    pub min_spend: i64,
    #[serde(default)]
    pub store_ids: Vec<u64>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
}

/// `PUT /v1/coupon-templates/{id}`: HQ defines a coupon template.
pub async fn put_template(
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
            let b: TemplateBody = parse_json(ct, &body)?;
            let name = crate::domain::ids::Name::new(&b.name, "template name")
                .map_err(ApiError::InvalidField)?;
            let value = match (b.amount_off, b.percent_off_bp) {
                (Some(m), None) => CouponValue::AmountOff(money(m, "amount_off")?),
                (None, Some(bp)) => CouponValue::PercentOff(rate(bp, "percent_off_bp")?),
                _ => return Err(invalid("give exactly one of amount_off and percent_off_bp")),
            };
            if b.store_ids.len() > crate::domain::coupon::COUPON_STORES_MAX {
                return Err(invalid("too many stores"));
            }
            let stores = b
                .store_ids
                .iter()
                .map(|s| store_id(*s))
                .collect::<Result<_, _>>()?;
            let template = CouponTemplate {
                id: TemplateId(id),
                name: name.as_str().to_owned(),
                value,
                min_spend: money(b.min_spend, "min_spend")?,
                stores,
                valid_from: b.valid_from,
                valid_until: b.valid_until,
            }
            .validated()
            .map_err(|e| invalid(e.to_string()))?;
            catalog_write(
                &state,
                meta(&p, key, &format!("coupon-templates/{id}"), &b)?,
                CatalogChange::CouponTemplate(template),
            )
            .await
        }
        .await,
    )
}

/// `GET /v1/catalog`: levels, store overrides and coupon templates.
pub async fn get_catalog(state: Arc<ApiState>, _any: Principal) -> Response {
    let c = state.registry.catalog();
    let catalog = CatalogDto {
        levels: c.levels.levels().cloned().collect(),
        overrides: c
            .levels
            .overrides()
            .map(|((s, l), r)| LevelOverrideDto {
                store_id: s.get(),
                level: l.0,
                rules: r.clone(),
            })
            .collect(),
        coupon_templates: c.coupons.values().cloned().collect(),
        gifts: c.gifts.values().cloned().collect(),
        point_value: c.point_value.minor(),
        member_fields: c.member_fields.values().cloned().collect(),
    };
    json_status(StatusCode::OK, &catalog)
}

//! The OpenAPI 3 document of every route, served at `/v1/openapi.json`. POS vendors generate
//! their clients from it. Request bodies and query strings are described by the very types
//! the handlers parse (utoipa derives); `tests/it/openapi.rs` fails when this table and the
//! router in `api/mod.rs` disagree.

use std::sync::OnceLock;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder};
use utoipa::openapi::path::{ParameterIn, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder, Schema, SecurityRequirement, Type,
};
use utoipa::{IntoParams, ToSchema};

use super::dto::*;
use super::schedule_dto::*;
use super::{closing, credentials, gifts, membership as m, notify, oplog, recycle};
use crate::domain::access::{Capability, Principal};

type Schemas = Vec<(String, RefOr<Schema>)>;
type BodyFn = fn(&mut Schemas) -> RefOr<Schema>;
type QueryFn = fn() -> Vec<Parameter>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }

    fn http(self) -> HttpMethod {
        match self {
            Verb::Get => HttpMethod::Get,
            Verb::Post => HttpMethod::Post,
            Verb::Put => HttpMethod::Put,
            Verb::Delete => HttpMethod::Delete,
        }
    }
}

/// One route as documented. Path parameters are `{name}` segments; `{action}`-style routes
/// are listed once per action.
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Which roles may call it: the router enforces it (`auth::authenticated`), the
    /// document describes it, and handlers add the store check.
    pub access: Access,
    body: Option<BodyFn>,
    query: Option<QueryFn>,
    /// Writes that take an `Idempotency-Key` header.
    keyed: bool,
    public: bool,
}

const fn get(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    write(Verb::Get, path, tag, summary, access).unkeyed()
}

/// A route that takes an `Idempotency-Key` (every write but a few).
const fn write(
    verb: Verb,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    Route {
        verb,
        path,
        tag,
        summary,
        access,
        body: None,
        query: None,
        keyed: true,
        public: false,
    }
}

// Table rows read best as `post(path, ...)`: one short alias per verb.
const fn post(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    write(Verb::Post, path, tag, summary, access)
}

const fn put(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    write(Verb::Put, path, tag, summary, access)
}

const fn delete(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    write(Verb::Delete, path, tag, summary, access)
}

impl Route {
    const fn body(mut self, f: BodyFn) -> Self {
        self.body = Some(f);
        self
    }
    const fn query(mut self, f: QueryFn) -> Self {
        self.query = Some(f);
        self
    }
    const fn unkeyed(mut self) -> Self {
        self.keyed = false;
        self
    }
    const fn public(mut self) -> Self {
        self.public = true;
        self
    }
}

fn schema<T: ToSchema>(all: &mut Schemas) -> RefOr<Schema> {
    all.push((T::name().into_owned(), T::schema()));
    T::schemas(all);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

fn params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// Who may call a route, by role. The store a request acts in (and a staff member's own
/// resource) is checked by the handler against the object the request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No key needed.
    Public,
    /// Any valid credential of the chain (chain-wide reference data).
    Chain,
    /// Roles that hold this capability.
    Role(Capability),
}

impl Access {
    /// The authorisation matrix in words, for the document.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Public => "anyone",
            Access::Chain => {
                "authenticated: any credential of the chain (chain-wide reference data)"
            }
            Access::Role(Capability::ChainAdmin) => "chain_admin: hq_admin only",
            Access::Role(Capability::ManageStore) => {
                "manage_store: hq_admin; store_manager of the store"
            }
            Access::Role(Capability::Counter) => {
                "counter: hq_admin; store_manager, cashier or pos of the store"
            }
            Access::Role(Capability::ReadStore) => "read_store: anyone working in the store",
            Access::Role(Capability::Calendar(_)) => {
                "calendar: hq_admin; store_manager; staff for their own resource"
            }
        }
    }

    /// May `p`'s role call a route with this access at all (its store aside)?
    pub fn admits(self, p: &Principal) -> bool {
        match self {
            Access::Public | Access::Chain => true,
            Access::Role(cap) => p.may(cap, None).is_ok(),
        }
    }
}

const PUBLIC: Access = Access::Public;
const HQ: Access = Access::Role(Capability::ChainAdmin);
const MANAGERS: Access = Access::Role(Capability::ManageStore);
const COUNTER: Access = Access::Role(Capability::Counter);
const ANY: Access = Access::Role(Capability::ReadStore);
const CHAIN: Access = Access::Chain;
const STAFF: Access = Access::Role(Capability::Calendar(None));

/// Every route the server answers. Keep in the router's order, group by group.
pub const ROUTES: &[Route] = &[
    get("/healthz", "operations", "Liveness", PUBLIC).public(),
    get("/v1/openapi.json", "operations", "This document", PUBLIC).public(),
    post("/v1/stores", "directory", "Open a store", HQ).body(schema::<CreateStoreBody>),
    get("/v1/stores", "directory", "List stores", CHAIN).query(params::<PageAfterQuery>),
    get("/v1/stores/{store_id}", "directory", "A store", CHAIN),
    post("/v1/members", "directory", "Register a member", COUNTER)
        .body(schema::<RegisterMemberBody>),
    get(
        "/v1/members",
        "directory",
        "Find a member by phone",
        COUNTER,
    )
    .query(params::<PhoneQuery>),
    get("/v1/members/{member_id}", "directory", "A member", COUNTER),
    post(
        "/v1/members/{member_id}/recharges",
        "ledger",
        "Recharge stored value (储值)",
        COUNTER,
    )
    .body(schema::<MoneyBody>),
    post(
        "/v1/members/{member_id}/deductions",
        "ledger",
        "Deduct stored value",
        COUNTER,
    )
    .body(schema::<MoneyBody>),
    post(
        "/v1/members/{member_id}/refunds",
        "ledger",
        "Refund a deduction",
        COUNTER,
    )
    .body(schema::<RefundBody>),
    get(
        "/v1/members/{member_id}/balance",
        "ledger",
        "Every balance a member holds",
        COUNTER,
    ),
    get(
        "/v1/members/{member_id}/entries",
        "ledger",
        "Ledger entries, newest first",
        COUNTER,
    )
    .query(params::<PageQuery>),
    get(
        "/v1/ledger/trial-balance",
        "ledger",
        "Trial balance of the chain",
        HQ,
    ),
    post(
        "/v1/ledger/batch",
        "ledger",
        "Up to 1,000 ledger operations, one durable write",
        COUNTER,
    )
    .body(schema::<BatchBody>)
    .unkeyed(),
    post(
        "/v1/admin/backups",
        "operations",
        "Back up (RocksDB checkpoint) while serving",
        HQ,
    )
    .unkeyed(),
    get("/metrics", "operations", "Prometheus text metrics", HQ),
    get(
        "/v1/oplog",
        "operations",
        "Operation log (操作日志), newest first",
        MANAGERS,
    )
    .query(params::<oplog::OplogQuery>),
    put(
        "/v1/stores/{store_id}/closing-mode",
        "closing",
        "Close days by hand or only automatically",
        HQ,
    )
    .body(schema::<closing::ClosingModeBody>),
    post(
        "/v1/stores/{store_id}/closings",
        "closing",
        "Close a business day by hand (日结); no more sales that day",
        MANAGERS,
    )
    .body(schema::<closing::CloseBody>),
    get(
        "/v1/stores/{store_id}/closings",
        "closing",
        "Sealed business days",
        MANAGERS,
    )
    .query(params::<closing::ClosingsQuery>),
    get(
        "/v1/stats",
        "closing",
        "Statistics (统计分析) per day and in total, by store or chain-wide",
        MANAGERS,
    )
    .query(params::<closing::StatsQuery>),
    put(
        "/v1/notification-templates/balance_changed",
        "notifications",
        "Template of balance-change messages",
        HQ,
    )
    .body(schema::<notify::TemplateTextBody>),
    put(
        "/v1/notification-templates/level_upgraded",
        "notifications",
        "Template of level-upgrade messages",
        HQ,
    )
    .body(schema::<notify::TemplateTextBody>),
    put(
        "/v1/notification-templates/coupon_issued",
        "notifications",
        "Template of coupon-issued messages",
        HQ,
    )
    .body(schema::<notify::TemplateTextBody>),
    put(
        "/v1/notification-templates/plan_reminder",
        "notifications",
        "Template of plan reminders",
        HQ,
    )
    .body(schema::<notify::TemplateTextBody>),
    put(
        "/v1/notification-templates/appointment_reminder",
        "notifications",
        "Template of appointment reminders",
        HQ,
    )
    .body(schema::<notify::TemplateTextBody>),
    get(
        "/v1/notification-templates",
        "notifications",
        "Events, their placeholders and templates",
        HQ,
    ),
    put(
        "/v1/notification-webhook",
        "notifications",
        "Where notifications are delivered",
        HQ,
    )
    .body(schema::<notify::WebhookBody>),
    get(
        "/v1/stores/{store_id}/notifications",
        "notifications",
        "A store's outbox with delivery status",
        MANAGERS,
    )
    .query(params::<PageAfterQuery>),
    delete(
        "/v1/members/{member_id}",
        "recycle_bin",
        "Move a member with nothing left to the recycle bin",
        MANAGERS,
    ),
    delete(
        "/v1/gifts/{gift_id}",
        "recycle_bin",
        "Move a gift to the recycle bin",
        HQ,
    ),
    delete(
        "/v1/coupon-templates/{template_id}",
        "recycle_bin",
        "Move a coupon template to the recycle bin",
        HQ,
    ),
    get(
        "/v1/recycle-bin",
        "recycle_bin",
        "Restorable deleted objects (数据回收站)",
        MANAGERS,
    )
    .query(params::<recycle::BinQuery>),
    post(
        "/v1/recycle-bin/member/{id}/restore",
        "recycle_bin",
        "Restore a member",
        MANAGERS,
    ),
    post(
        "/v1/recycle-bin/resource/{id}/restore",
        "recycle_bin",
        "Restore a resource",
        MANAGERS,
    ),
    post(
        "/v1/recycle-bin/service/{id}/restore",
        "recycle_bin",
        "Restore a service",
        HQ,
    ),
    post(
        "/v1/recycle-bin/gift/{id}/restore",
        "recycle_bin",
        "Restore a gift",
        HQ,
    ),
    post(
        "/v1/recycle-bin/coupon_template/{id}/restore",
        "recycle_bin",
        "Restore a coupon template",
        HQ,
    ),
    post("/v1/credentials", "access", "Create an API key", HQ)
        .body(schema::<credentials::CredentialBody>),
    get("/v1/credentials", "access", "List API keys", HQ).query(params::<PageAfterQuery>),
    delete(
        "/v1/credentials/{credential_id}",
        "access",
        "Revoke an API key",
        HQ,
    ),
    put("/v1/settings", "scheduling", "Chain settings", HQ).body(schema::<SettingsBody>),
    get("/v1/settings", "scheduling", "Chain settings", CHAIN),
    post("/v1/services", "scheduling", "Define a service", HQ).body(schema::<ServiceBody>),
    get("/v1/services", "scheduling", "List services", CHAIN).query(params::<PageAfterQuery>),
    get(
        "/v1/services/{service_id}",
        "scheduling",
        "A service",
        CHAIN,
    ),
    put(
        "/v1/services/{service_id}",
        "scheduling",
        "Change a service",
        HQ,
    )
    .body(schema::<ServiceBody>),
    delete(
        "/v1/services/{service_id}",
        "scheduling",
        "Delete a service",
        HQ,
    ),
    put(
        "/v1/stores/{store_id}/hours",
        "scheduling",
        "Business hours and closed dates",
        MANAGERS,
    )
    .body(schema::<StoreHoursBody>),
    get(
        "/v1/stores/{store_id}/hours",
        "scheduling",
        "Business hours",
        ANY,
    ),
    post(
        "/v1/stores/{store_id}/resources",
        "scheduling",
        "Add a resource (staff, room, machine)",
        MANAGERS,
    )
    .body(schema::<ResourceBody>),
    get(
        "/v1/stores/{store_id}/resources",
        "scheduling",
        "A store's resources",
        ANY,
    ),
    get(
        "/v1/stores/{store_id}/availability",
        "scheduling",
        "Free start times",
        ANY,
    )
    .query(params::<AvailabilityQuery>),
    post(
        "/v1/stores/{store_id}/appointments",
        "scheduling",
        "Book an appointment",
        COUNTER,
    )
    .body(schema::<AppointmentBody>),
    get(
        "/v1/stores/{store_id}/appointments",
        "scheduling",
        "A store's appointments and plan occurrences in start order, by day, status (pending: the review queue), resource, service, member and origin; a full page names `next_after`",
        ANY,
    )
    .query(params::<AppointmentsQuery>),
    post(
        "/v1/stores/{store_id}/plans",
        "scheduling",
        "Create a service plan (服务计划), all or nothing",
        MANAGERS,
    )
    .body(schema::<PlanBody>),
    get(
        "/v1/stores/{store_id}/events",
        "scheduling",
        "A store's event feed",
        MANAGERS,
    )
    .query(params::<EventsQuery>),
    get(
        "/v1/resources/{resource_id}",
        "scheduling",
        "A resource",
        ANY,
    ),
    get(
        "/v1/resources/{resource_id}/bookings",
        "scheduling",
        "A resource's bookings, 10,000 a page; a full page names `next_from`",
        STAFF,
    )
    .query(params::<RangeQuery>),
    put(
        "/v1/resources/{resource_id}",
        "scheduling",
        "Change a resource",
        MANAGERS,
    )
    .body(schema::<ResourceBody>),
    delete(
        "/v1/resources/{resource_id}",
        "scheduling",
        "Delete a resource",
        MANAGERS,
    ),
    get(
        "/v1/appointments/{appointment_id}",
        "scheduling",
        "An appointment",
        ANY,
    ),
    post(
        "/v1/appointments/{appointment_id}/move",
        "scheduling",
        "Move an appointment to another start on its resources, conflict-checked",
        COUNTER,
    )
    .body(schema::<MoveBody>),
    post(
        "/v1/appointments/{appointment_id}/approve",
        "scheduling",
        "Approve",
        MANAGERS,
    ),
    post(
        "/v1/appointments/{appointment_id}/reject",
        "scheduling",
        "Reject",
        MANAGERS,
    ),
    post(
        "/v1/appointments/{appointment_id}/check-in",
        "scheduling",
        "Check in",
        STAFF,
    ),
    post(
        "/v1/appointments/{appointment_id}/complete",
        "scheduling",
        "Complete",
        STAFF,
    ),
    post(
        "/v1/appointments/{appointment_id}/cancel",
        "scheduling",
        "Cancel",
        COUNTER,
    ),
    post(
        "/v1/appointments/{appointment_id}/no-show",
        "scheduling",
        "Mark a no-show",
        STAFF,
    ),
    get("/v1/plans/{plan_id}", "scheduling", "A service plan", ANY),
    post(
        "/v1/plans/{plan_id}/cancel",
        "scheduling",
        "Cancel a plan's remaining occurrences",
        MANAGERS,
    ),
    post(
        "/v1/plans/{plan_id}/occurrences/{occurrence}/cancel",
        "scheduling",
        "Cancel one occurrence",
        MANAGERS,
    ),
    post(
        "/v1/plans/{plan_id}/occurrences/{occurrence}/move",
        "scheduling",
        "Move one occurrence",
        MANAGERS,
    )
    .body(schema::<MoveBody>),
    get(
        "/v1/members/{member_id}/plans",
        "scheduling",
        "A member's plans",
        COUNTER,
    ),
    get(
        "/v1/members/{member_id}/appointments",
        "scheduling",
        "A member's appointments and plan occurrences in every store the caller may read, in start order, by day, status and origin; a full page names `next_after`",
        COUNTER,
    )
    .query(params::<MemberAppointmentsQuery>),
    post(
        "/v1/testing/clock",
        "operations",
        "Set the testing clock (--manual-clock only)",
        HQ,
    )
    .body(schema::<ClockBody>)
    .unkeyed(),
    post(
        "/v1/testing/panic",
        "operations",
        "Panic, to show the process stops (--manual-clock only)",
        HQ,
    )
    .unkeyed(),
    post(
        "/v1/members/{member_id}/count-cards/{card_id}/consume",
        "membership",
        "Use sessions of a count card (次卡)",
        COUNTER,
    )
    .body(schema::<m::SessionsBody>),
    post(
        "/v1/members/{member_id}/count-cards/{card_id}/sessions",
        "membership",
        "Add or remove sessions",
        MANAGERS,
    )
    .body(schema::<m::SessionsBody>),
    get(
        "/v1/members/{member_id}/activity",
        "membership",
        "Points, sessions and coupon activity",
        COUNTER,
    )
    .query(params::<m::ActivityQuery>),
    post(
        "/v1/members/{member_id}/gift-exchanges",
        "gifts",
        "Exchange points for a gift (积分兑换)",
        COUNTER,
    )
    .body(schema::<gifts::ExchangeBody>),
    put("/v1/gifts/{gift_id}", "gifts", "Define a gift", HQ).body(schema::<gifts::GiftBody>),
    post(
        "/v1/stores/{store_id}/gifts/{gift_id}/stock",
        "gifts",
        "Move gift stock in or out",
        MANAGERS,
    )
    .body(schema::<gifts::StockBody>),
    get(
        "/v1/stores/{store_id}/gifts",
        "gifts",
        "A store's gifts and stock",
        ANY,
    ),
    post(
        "/v1/members/{member_id}/recharge-refunds",
        "membership",
        "Refund a recharge",
        MANAGERS,
    )
    .body(schema::<m::RechargeRefundBody>),
    post(
        "/v1/members/{member_id}/count-cards",
        "membership",
        "Sell a count card",
        COUNTER,
    )
    .body(schema::<m::BuyCardBody>),
    post(
        "/v1/members/{member_id}/points",
        "membership",
        "Adjust points (积分)",
        MANAGERS,
    )
    .body(schema::<m::PointsBody>),
    post(
        "/v1/members/{member_id}/coupons",
        "membership",
        "Issue a coupon",
        MANAGERS,
    )
    .body(schema::<m::IssueBody>),
    post(
        "/v1/members/{member_id}/level",
        "membership",
        "Set the member's level by hand (更换会员等级), with a reason",
        MANAGERS,
    )
    .body(schema::<m::MemberLevelBody>),
    post(
        "/v1/members/{member_id}/lock",
        "membership",
        "Lock the member's card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>),
    post(
        "/v1/members/{member_id}/unlock",
        "membership",
        "Unlock the member's card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>),
    post(
        "/v1/members/{member_id}/replace-card",
        "membership",
        "Replace a lost card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>),
    post("/v1/orders/held", "orders", "Hold an order (挂单)", COUNTER).body(schema::<m::OrderBody>),
    post("/v1/orders", "orders", "Check out an order", COUNTER).body(schema::<m::OrderBody>),
    get("/v1/orders/{order_id}", "orders", "An order", COUNTER),
    post(
        "/v1/orders/{order_id}/returns",
        "orders",
        "Return lines of an order",
        COUNTER,
    )
    .body(schema::<m::ReturnBody>),
    get(
        "/v1/stores/{store_id}/held-orders",
        "orders",
        "A store's held orders",
        COUNTER,
    ),
    post("/v1/coupons/redeem", "coupons", "Redeem a coupon", COUNTER).body(schema::<m::RedeemBody>),
    post(
        "/v1/coupons/issue",
        "coupons",
        "Issue coupons to many members",
        HQ,
    )
    .body(schema::<m::BulkIssueBody>),
    get(
        "/v1/settlements",
        "ledger",
        "What home stores owe selling stores (跨店结算)",
        MANAGERS,
    )
    .query(params::<m::SettlementQuery>),
    put(
        "/v1/levels/{level_id}",
        "membership",
        "Define a member level",
        HQ,
    )
    .body(schema::<m::LevelBody>),
    put(
        "/v1/stores/{store_id}/levels/{level_id}",
        "membership",
        "A store's rules for a level",
        MANAGERS,
    )
    .body(schema::<m::RulesBody>),
    put(
        "/v1/coupon-templates/{template_id}",
        "coupons",
        "Define a coupon template",
        HQ,
    )
    .body(schema::<m::TemplateBody>),
    get(
        "/v1/catalog",
        "membership",
        "Levels, coupon templates and gifts",
        CHAIN,
    ),
];

fn error_schema() -> Schema {
    ObjectBuilder::new()
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Stable, machine-readable")),
        )
        .property(
            "message",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("For people")),
        )
        .required("code")
        .required("message")
        .into()
}

fn path_params(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ))
                .build()
        })
        .collect()
}

fn build() -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = PathsBuilder::new();
    let json = |r: RefOr<Schema>| ContentBuilder::new().schema(Some(r)).build();
    let error = || {
        ResponseBuilder::new().content(
            "application/json",
            json(RefOr::Ref(Ref::from_schema_name("Error"))),
        )
    };
    for (i, r) in ROUTES.iter().enumerate() {
        let mut parameters = path_params(r.path);
        if let Some(q) = r.query {
            parameters.extend(q());
        }
        if r.keyed {
            parameters.push(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some(
                        "1-64 printable ASCII; a retry with the same key returns the first answer",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .max_length(Some(64)),
                    ))
                    .build(),
            );
        }
        let any = || {
            RefOr::T(Schema::Object(
                ObjectBuilder::new().schema_type(Type::Object).build(),
            ))
        };
        let mut responses = ResponsesBuilder::new().response(
            "200",
            ResponseBuilder::new()
                .description("Done")
                .content("application/json", json(any())),
        );
        if r.verb != Verb::Get {
            responses = responses.response(
                "201",
                ResponseBuilder::new()
                    .description("Created or posted")
                    .content("application/json", json(any())),
            );
        }
        if !r.public {
            responses = responses
                .response("400", error().description("Bad input: nothing changed"))
                .response("401", error().description("Missing or unknown API key"))
                .response(
                    "403",
                    error().description("This credential may not do that"),
                )
                .response(
                    "404",
                    error().description("Not found, or not this credential's to see"),
                )
                .response("429", error().description("Rate limited; see Retry-After"))
                .response(
                    "503",
                    error().description("Busy; retry with the same Idempotency-Key"),
                );
        }
        if r.verb != Verb::Get {
            responses = responses
                .response(
                    "409",
                    error().description("Conflict, or the key was used for another request"),
                )
                .response(
                    "422",
                    error().description("Refused by a business rule; nothing changed"),
                );
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(format!("op{i:03}_{}", operation_name(r))))
            .summary(Some(r.summary))
            .description(Some(format!("Who: {}", r.access.describe())))
            .tag(r.tag)
            .parameters(Some(parameters))
            .responses(responses.build());
        if let Some(body) = r.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", json(body(&mut schemas)))
                    .build(),
            ));
        }
        if r.public {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        paths = paths.path(r.path, PathItem::new(r.verb.http(), op.build()));
    }
    let mut components = ComponentsBuilder::new()
        .schema("Error", error_schema())
        .security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    for (name, s) in schemas {
        components = components.schema(name, s);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("chainstore")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Scheduling and stored-value ledger for chains of stores. Money is integer \
                     minor units (fen). Every write takes an Idempotency-Key and is acknowledged \
                     only once durable. Errors are {code, message}.",
                )),
        )
        .paths(paths)
        .components(Some(components.build()))
        .security(Some(vec![SecurityRequirement::new(
            "api_key",
            Vec::<String>::new(),
        )]))
        .build()
}

fn operation_name(r: &Route) -> String {
    let words: Vec<&str> = r
        .path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "v1" && !s.starts_with('{'))
        .collect();
    format!(
        "{}_{}",
        r.verb.as_str().to_lowercase(),
        words.join("_").replace(['-', '.'], "_")
    )
}

/// The row a request path matches, if any: literal segments equal, `{param}` segments any
/// non-empty segment; where two rows match, the one with more literal segments.
pub fn route_for(verb: &str, path: &str) -> Option<Matched> {
    /// Each row with its label and segments, made once.
    struct Row {
        route: &'static Route,
        label: String,
        segs: Vec<&'static str>,
    }
    static ROWS: std::sync::LazyLock<Vec<Row>> = std::sync::LazyLock::new(|| {
        ROUTES
            .iter()
            .map(|r| Row {
                route: r,
                label: format!("{} {}", r.verb.as_str(), r.path),
                segs: r.path.split('/').filter(|s| !s.is_empty()).collect(),
            })
            .collect()
    });
    let mut segs = [""; ROUTE_SEGMENTS_MAX];
    let mut n = 0;
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if n == ROUTE_SEGMENTS_MAX {
            return None;
        }
        segs[n] = seg;
        n += 1;
    }
    let segs = &segs[..n];
    let rows: &'static [Row] = &ROWS;
    let mut best: Option<(&'static Row, usize)> = None;
    for row in rows {
        if row.route.verb.as_str() != verb || row.segs.len() != segs.len() {
            continue;
        }
        let mut literals = 0;
        let matched = row.segs.iter().zip(segs).all(|(want, got)| {
            if want.starts_with('{') {
                true
            } else {
                literals += 1;
                want == got
            }
        });
        if matched && best.is_none_or(|(_, l)| literals > l) {
            best = Some((row, literals));
        }
    }
    best.map(|(row, _)| Matched {
        route: row.route,
        label: &row.label,
    })
}

/// A route table row a request matched, with its label (`"GET /v1/plans/{plan_id}"`).
#[derive(Clone, Copy)]
pub struct Matched {
    pub route: &'static Route,
    pub label: &'static str,
}

/// No route has more path segments than this; longer paths match none.
const ROUTE_SEGMENTS_MAX: usize = 8;

/// The document, rendered once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        build()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

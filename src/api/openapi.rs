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
use super::error::{Code, Scope};
use super::schedule_dto::*;
use super::{
    bulk_messages as bm, closing, credentials, gifts, member_channel as mc, members,
    membership as m, notify, oplog, orders, price_list as pl, recycle, refund_requests as rr,
    staff, waitlist as wl,
};
use crate::domain::access::{Capability, Principal};
use crate::domain::checkout::Order;
use crate::domain::counter::CatalogChange;
use crate::domain::ids::IDEMPOTENCY_KEY_LEN_MAX;

type Schemas = Vec<(String, RefOr<Schema>)>;
type BodyFn = fn(&mut Schemas) -> RefOr<Schema>;
type QueryFn = fn() -> Vec<Parameter>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn http(self) -> HttpMethod {
        match self {
            Verb::Get => HttpMethod::Get,
            Verb::Post => HttpMethod::Post,
            Verb::Put => HttpMethod::Put,
            Verb::Patch => HttpMethod::Patch,
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
    /// The answer's schema when it is 200 OK, and when 201 Created.
    ok: Option<BodyFn>,
    created: Option<BodyFn>,
    /// A 409 that reports each colliding occurrence (plans, bookings, moves).
    conflict_report: bool,
    /// Answers `text/plain` (the Prometheus scrape).
    text: bool,
    /// Writes that take an `Idempotency-Key` header.
    keyed: bool,
    /// Bulk writes key each member's write `<key>/<member id>`: their own key is shorter.
    bulk: bool,
    public: bool,
    /// Served only when the server runs with its testing clock.
    testing: bool,
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
        ok: None,
        created: None,
        conflict_report: false,
        text: false,
        keyed: true,
        bulk: false,
        public: false,
        testing: false,
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

const fn patch(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
) -> Route {
    write(Verb::Patch, path, tag, summary, access)
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
    const fn bulk(mut self) -> Self {
        self.bulk = true;
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
    const fn ok(mut self, f: BodyFn) -> Self {
        self.ok = Some(f);
        self
    }
    const fn created(mut self, f: BodyFn) -> Self {
        self.created = Some(f);
        self
    }
    const fn conflict_report(mut self) -> Self {
        self.conflict_report = true;
        self
    }
    const fn text(mut self) -> Self {
        self.text = true;
        self
    }
    /// Does it take an `Idempotency-Key`?
    pub fn keyed(&self) -> bool {
        self.keyed
    }
    const fn testing(mut self) -> Self {
        self.testing = true;
        self
    }
}

fn schema<T: ToSchema>(all: &mut Schemas) -> RefOr<Schema> {
    all.push((T::name().into_owned(), T::schema()));
    T::schemas(all);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// Any JSON object (this document itself).
fn any_object(_: &mut Schemas) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::Object).build(),
    ))
}

fn one_of(all: &mut Schemas, each: &[BodyFn]) -> RefOr<Schema> {
    let mut one = utoipa::openapi::schema::OneOfBuilder::new();
    for f in each {
        one = one.item(f(all));
    }
    RefOr::T(Schema::OneOf(one.build()))
}

/// A member's checkout answers their account with the order; a walk-in's, the order.
fn counter_or_order(all: &mut Schemas) -> RefOr<Schema> {
    one_of(all, &[schema::<m::CounterDto>, schema::<Order>])
}

fn counter_or_entry(all: &mut Schemas) -> RefOr<Schema> {
    one_of(all, &[schema::<m::CounterDto>, schema::<EntryDto>])
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
    /// A member signed in through their own channel, for their own account only.
    Member,
}

impl Access {
    /// The authorisation matrix in words, for the document.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Public => "anyone",
            Access::Member => "member: a member signed in (a session token from /v1/member-sign-in/sessions), for their own account only",
            Access::Chain => {
                "authenticated: any credential of the chain (chain-wide reference data)"
            }
            Access::Role(Capability::ChainAdmin) => {
                "chain_admin: hq_admin; keys for the whole chain of roles with chain_admin"
            }
            Access::Role(Capability::Catalog) => {
                "catalog: hq_admin; keys for the whole chain of roles with catalog"
            }
            Access::Role(Capability::ManageStore) => {
                "manage_store: hq_admin; store_manager of the store; roles with manage_store"
            }
            Access::Role(Capability::Counter) => {
                "counter: hq_admin; store_manager, cashier or pos of the store; roles with counter"
            }
            Access::Role(Capability::ReadStore) => "read_store: anyone working in the store",
            Access::Role(Capability::PriceOverride) => {
                "price_override: hq_admin; store_manager of the store; roles with price_override"
            }
            Access::Role(Capability::Calendar(_)) => {
                "calendar: hq_admin; store_manager; roles with calendar; staff and roles with own_calendar for their own resource"
            }
        }
    }

    /// May `p`'s role call a route with this access at all (its store aside)?
    pub fn admits(self, p: &Principal) -> bool {
        match self {
            Access::Public => true,
            Access::Chain => p.role.member().is_none(),
            Access::Member => p.role.member().is_some(),
            Access::Role(cap) => p.may(cap, None).is_ok(),
        }
    }
}

const PUBLIC: Access = Access::Public;
const HQ: Access = Access::Role(Capability::ChainAdmin);
const CATALOG: Access = Access::Role(Capability::Catalog);
const MANAGERS: Access = Access::Role(Capability::ManageStore);
const COUNTER: Access = Access::Role(Capability::Counter);
const ANY: Access = Access::Role(Capability::ReadStore);
const CHAIN: Access = Access::Chain;
const STAFF: Access = Access::Role(Capability::Calendar(None));
const MEMBER: Access = Access::Member;

/// Every route the server answers. Keep in the router's order, group by group.
pub const ROUTES: &[Route] = &[
    get("/healthz", "operations", "Liveness", PUBLIC).public()
.ok(schema::<Health>),
    get("/v1/openapi.json", "operations", "This document", PUBLIC).public()
.ok(any_object),
    post("/v1/stores", "directory", "Open a store", HQ).body(schema::<CreateStoreBody>)
.created(schema::<StoreDto>),
    get("/v1/stores", "directory", "List stores", CHAIN).query(params::<PageAfterQuery>)
.ok(schema::<StoresPage>),
    get("/v1/stores/{store_id}", "directory", "A store", CHAIN)
.ok(schema::<StoreDto>),
    post("/v1/members", "directory", "Register a member", COUNTER)
        .body(schema::<RegisterMemberBody>)
.created(schema::<MemberDto>),
    get(
        "/v1/members",
        "directory",
        "Find a member by phone",
        COUNTER,
    )
    .query(params::<PhoneQuery>)
.ok(schema::<MemberDto>),
    get("/v1/members/{member_id}", "directory", "A member", COUNTER)
.ok(schema::<MemberDto>),
    patch(
        "/v1/members/{member_id}",
        "directory",
        "Edit a member's phone, name, gender, birthday, notes or tags",
        COUNTER,
    )
    .body(schema::<members::EditMemberBody>)
.ok(schema::<MemberDto>),
    post(
        "/v1/members/{member_id}/home-store",
        "directory",
        "Move a member to another home store with everything they hold, settled (会员转店)",
        MANAGERS,
    )
    .body(schema::<super::home_move::MoveHomeBody>)
    .ok(schema::<super::home_move::HomeMoveDto>),
    post(
        "/v1/members/imports",
        "directory",
        "Import members with opening balances, points, count cards and levels from CSV (会员导入)",
        HQ,
    )
    .bulk()
    .body(schema::<super::imports::ImportBody>)
    .ok(schema::<super::imports::ImportReportDto>),
    get(
        "/v1/members/export",
        "directory",
        "A page of a store's members in the import's CSV columns (导出)",
        HQ,
    )
    .query(params::<super::imports::ExportQuery>)
    .ok(schema::<super::imports::ExportDto>),
    get("/v1/members/search", "directory", "Search and list members", COUNTER)
        .query(params::<members::MemberSearchQuery>)
.ok(schema::<members::MembersPage>),
    post(
        "/v1/members/{member_id}/follow-ups",
        "directory",
        "Record a follow-up visit and when to contact the member next",
        COUNTER,
    )
    .body(schema::<members::FollowUpBody>)
.created(schema::<members::FollowUpDto>),
    get(
        "/v1/members/{member_id}/follow-ups",
        "directory",
        "A member's follow-ups, newest first",
        COUNTER,
    )
    .query(params::<m::ActivityQuery>)
.ok(schema::<members::FollowUpsPage>),
    get(
        "/v1/stores/{store_id}/follow-ups/due",
        "directory",
        "Members of the store due for a follow-up",
        COUNTER,
    )
    .query(params::<members::DueQuery>)
.ok(schema::<members::DueFollowUpsPage>),
    post(
        "/v1/members/{member_id}/recharges",
        "ledger",
        "Recharge stored value (储值)",
        COUNTER,
    )
    .body(schema::<MoneyBody>)
.created(schema::<EntryDto>),
    post(
        "/v1/members/{member_id}/deductions",
        "ledger",
        "Deduct stored value",
        COUNTER,
    )
    .body(schema::<MoneyBody>)
.created(schema::<EntryDto>),
    post(
        "/v1/members/{member_id}/refunds",
        "ledger",
        "Refund a deduction",
        COUNTER,
    )
    .body(schema::<RefundBody>)
.created(schema::<EntryDto>),
    get(
        "/v1/members/{member_id}/balance",
        "ledger",
        "Every balance a member holds",
        COUNTER,
    )
.ok(schema::<BalanceDto>),
    get(
        "/v1/members/{member_id}/entries",
        "ledger",
        "Ledger entries, newest first",
        COUNTER,
    )
    .query(params::<PageQuery>)
.ok(schema::<EntriesPage>),
    get(
        "/v1/ledger/trial-balance",
        "ledger",
        "Trial balance of the chain",
        HQ,
    )
.ok(schema::<TrialBalanceDto>),
    post(
        "/v1/ledger/batch",
        "ledger",
        "Up to 1,000 ledger operations, one durable write",
        COUNTER,
    )
    .body(schema::<BatchBody>)
    .unkeyed()
.ok(schema::<BatchAnswer>),
    post(
        "/v1/admin/backups",
        "operations",
        "Back up (RocksDB checkpoint) while serving",
        HQ,
    )
    .unkeyed()
.created(schema::<BackupDto>),
    get("/metrics", "operations", "Prometheus text metrics", HQ)
.text(),
    get(
        "/v1/oplog",
        "operations",
        "Operation log (操作日志), newest first",
        MANAGERS,
    )
    .query(params::<oplog::OplogQuery>)
.ok(schema::<oplog::OplogPage>),
    put(
        "/v1/stores/{store_id}/closing-mode",
        "closing",
        "Close days by hand or only automatically",
        HQ,
    )
    .body(schema::<closing::ClosingModeBody>)
.ok(schema::<closing::ClosingModeDto>),
    post(
        "/v1/stores/{store_id}/closings",
        "closing",
        "Close a business day by hand (日结); no more sales that day",
        MANAGERS,
    )
    .body(schema::<closing::CloseBody>)
.created(schema::<closing::ClosingDto>),
    get(
        "/v1/stores/{store_id}/closings",
        "closing",
        "Sealed business days",
        MANAGERS,
    )
    .query(params::<closing::ClosingsQuery>)
.ok(schema::<closing::ClosingsPage>),
    get(
        "/v1/stats",
        "closing",
        "Statistics (统计分析) per day and in total, by store or chain-wide",
        MANAGERS,
    )
    .query(params::<closing::StatsQuery>)
.ok(schema::<closing::StatsDto>),
    put(
        "/v1/notification-templates/balance_changed",
        "notifications",
        "Template of balance-change messages",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/notification-templates/level_upgraded",
        "notifications",
        "Template of level-upgrade messages",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/notification-templates/coupon_issued",
        "notifications",
        "Template of coupon-issued messages",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/notification-templates/plan_reminder",
        "notifications",
        "Template of plan reminders",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/notification-templates/appointment_reminder",
        "notifications",
        "Template of appointment reminders",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/notification-templates/sign_in_code",
        "notifications",
        "Template of members' sign-in codes (a default is sent without one)",
        CATALOG,
    )
    .body(schema::<notify::TemplateTextBody>)
.ok(schema::<CatalogChange>),
    get(
        "/v1/notification-templates",
        "notifications",
        "Events, their placeholders and templates",
        CATALOG,
    )
.ok(schema::<notify::TemplatesDto>),
    put(
        "/v1/notification-webhook",
        "notifications",
        "Where notifications are delivered",
        HQ,
    )
    .body(schema::<notify::WebhookBody>)
.ok(schema::<CatalogChange>),
    get(
        "/v1/stores/{store_id}/notifications",
        "notifications",
        "A store's outbox with delivery status",
        MANAGERS,
    )
    .query(params::<PageAfterQuery>)
.ok(schema::<notify::OutboxPage>),
    delete(
        "/v1/members/{member_id}",
        "recycle_bin",
        "Move a member with nothing left to the recycle bin",
        MANAGERS,
    )
.ok(schema::<recycle::BinnedDto>),
    delete(
        "/v1/gifts/{gift_id}",
        "recycle_bin",
        "Move a gift to the recycle bin",
        CATALOG,
    )
.ok(schema::<recycle::BinnedDto>),
    delete(
        "/v1/coupon-templates/{template_id}",
        "recycle_bin",
        "Move a coupon template to the recycle bin",
        CATALOG,
    )
.ok(schema::<recycle::BinnedDto>),
    get(
        "/v1/recycle-bin",
        "recycle_bin",
        "Restorable deleted objects (数据回收站)",
        MANAGERS,
    )
    .query(params::<recycle::BinQuery>)
.ok(schema::<recycle::BinPage>),
    post(
        "/v1/recycle-bin/member/{id}/restore",
        "recycle_bin",
        "Restore a member",
        MANAGERS,
    )
.ok(schema::<recycle::BinnedDto>),
    post(
        "/v1/recycle-bin/resource/{id}/restore",
        "recycle_bin",
        "Restore a resource",
        MANAGERS,
    )
.ok(schema::<recycle::BinnedDto>),
    post(
        "/v1/recycle-bin/service/{id}/restore",
        "recycle_bin",
        "Restore a service",
        HQ,
    )
.ok(schema::<recycle::BinnedDto>),
    post(
        "/v1/recycle-bin/gift/{id}/restore",
        "recycle_bin",
        "Restore a gift",
        HQ,
    )
.ok(schema::<recycle::BinnedDto>),
    post(
        "/v1/recycle-bin/coupon_template/{id}/restore",
        "recycle_bin",
        "Restore a coupon template",
        HQ,
    )
.ok(schema::<recycle::BinnedDto>),
    post("/v1/credentials", "access", "Create an API key", HQ)
        .body(schema::<credentials::CredentialBody>)
.created(schema::<credentials::CredentialDto>),
    get("/v1/credentials", "access", "List API keys", HQ).query(params::<PageAfterQuery>)
.ok(schema::<credentials::CredentialsPage>),
    delete(
        "/v1/credentials/{credential_id}",
        "access",
        "Revoke an API key",
        HQ,
    )
.ok(schema::<credentials::CredentialDto>),
    get("/v1/roles", "access", "Roles: the five built-in and those HQ defined", HQ)
        .ok(schema::<credentials::RolesDto>),
    put(
        "/v1/roles/{role_name}",
        "access",
        "Define or change a role (权限设置): keys holding it change at once",
        HQ,
    )
    .body(schema::<credentials::RoleBody>)
    .ok(schema::<credentials::RoleDto>),
    delete(
        "/v1/roles/{role_name}",
        "access",
        "Remove a role no key holds",
        HQ,
    )
    .ok(schema::<credentials::RolesDto>),
    put("/v1/settings", "scheduling", "Chain settings", HQ).body(schema::<SettingsBody>)
.ok(schema::<SettingsBody>),
    get("/v1/settings", "scheduling", "Chain settings", CHAIN)
.ok(schema::<SettingsBody>),
    post("/v1/services", "scheduling", "Define a service", HQ).body(schema::<ServiceBody>)
.created(schema::<ServiceDto>),
    get("/v1/services", "scheduling", "List services", CHAIN).query(params::<PageAfterQuery>)
.ok(schema::<ServicesPage>),
    get(
        "/v1/services/{service_id}",
        "scheduling",
        "A service",
        CHAIN,
    )
.ok(schema::<ServiceDto>),
    put(
        "/v1/services/{service_id}",
        "scheduling",
        "Change a service",
        HQ,
    )
    .body(schema::<ServiceBody>)
.ok(schema::<ServiceDto>),
    delete(
        "/v1/services/{service_id}",
        "scheduling",
        "Delete a service",
        HQ,
    )
.ok(schema::<DeletedDto>),
    put(
        "/v1/stores/{store_id}/hours",
        "scheduling",
        "Business hours and closed dates",
        MANAGERS,
    )
    .body(schema::<StoreHoursBody>)
.ok(schema::<StoreHoursDto>),
    get(
        "/v1/stores/{store_id}/hours",
        "scheduling",
        "Business hours",
        ANY,
    )
.ok(schema::<StoreHoursDto>),
    put(
        "/v1/stores/{store_id}/reminders",
        "scheduling",
        "Reminder lead time, per service lead times and the same-day reminder (当日提醒)",
        MANAGERS,
    )
    .body(schema::<super::schedule_handlers::RemindersBody>)
    .ok(schema::<super::schedule_handlers::RemindersDto>),
    get(
        "/v1/stores/{store_id}/reminders",
        "scheduling",
        "The store's reminder policy",
        ANY,
    )
    .ok(schema::<super::schedule_handlers::RemindersDto>),
    post(
        "/v1/stores/{store_id}/resources",
        "scheduling",
        "Add a resource (staff, room, machine)",
        MANAGERS,
    )
    .body(schema::<ResourceBody>)
.created(schema::<ResourceDto>),
    get(
        "/v1/stores/{store_id}/resources",
        "scheduling",
        "A store's resources",
        ANY,
    )
.ok(schema::<ResourcesDto>),
    get(
        "/v1/stores/{store_id}/availability",
        "scheduling",
        "Free start times",
        ANY,
    )
    .query(params::<AvailabilityQuery>)
.ok(schema::<FreeStartsDto>),
    post(
        "/v1/stores/{store_id}/appointments",
        "scheduling",
        "Book an appointment",
        COUNTER,
    )
    .body(schema::<AppointmentBody>)
.created(schema::<BookingDto>).conflict_report(),
    get(
        "/v1/stores/{store_id}/appointments",
        "scheduling",
        "A store's appointments and plan occurrences in start order, by day, status (pending: the review queue), resource, service, member and origin; a full page names `next_after`",
        ANY,
    )
    .query(params::<AppointmentsQuery>)
.ok(schema::<AppointmentsPage>),
    post(
        "/v1/stores/{store_id}/plans",
        "scheduling",
        "Create a service plan (服务计划), all or nothing",
        MANAGERS,
    )
    .body(schema::<PlanBody>)
.ok(schema::<PlanDto>).created(schema::<PlanDto>).conflict_report(),
    get(
        "/v1/stores/{store_id}/events",
        "scheduling",
        "A store's event feed",
        MANAGERS,
    )
    .query(params::<EventsQuery>)
.ok(schema::<EventsPage>),
    get(
        "/v1/resources/{resource_id}",
        "scheduling",
        "A resource",
        ANY,
    )
.ok(schema::<ResourceDto>),
    get(
        "/v1/resources/{resource_id}/bookings",
        "scheduling",
        "A resource's bookings, 10,000 a page; a full page names `next_from`",
        STAFF,
    )
    .query(params::<RangeQuery>)
.ok(schema::<BookingsDto>),
    put(
        "/v1/resources/{resource_id}",
        "scheduling",
        "Change a resource",
        MANAGERS,
    )
    .body(schema::<ResourceBody>)
.ok(schema::<ResourceDto>),
    delete(
        "/v1/resources/{resource_id}",
        "scheduling",
        "Delete a resource",
        MANAGERS,
    )
.ok(schema::<DeletedDto>),
    get(
        "/v1/appointments/{appointment_id}",
        "scheduling",
        "An appointment",
        ANY,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/move",
        "scheduling",
        "Move an appointment to another start on its resources, conflict-checked",
        COUNTER,
    )
    .body(schema::<MoveBody>)
.ok(schema::<BookingDto>).conflict_report(),
    post(
        "/v1/appointments/{appointment_id}/approve",
        "scheduling",
        "Approve",
        MANAGERS,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/reject",
        "scheduling",
        "Reject",
        MANAGERS,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/check-in",
        "scheduling",
        "Check in",
        STAFF,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/complete",
        "scheduling",
        "Complete",
        STAFF,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/cancel",
        "scheduling",
        "Cancel",
        COUNTER,
    )
.ok(schema::<BookingDto>),
    post(
        "/v1/appointments/{appointment_id}/no-show",
        "scheduling",
        "Mark a no-show",
        STAFF,
    )
.ok(schema::<BookingDto>),
    get("/v1/plans/{plan_id}", "scheduling", "A service plan", ANY)
.ok(schema::<PlanDto>),
    post(
        "/v1/plans/{plan_id}/cancel",
        "scheduling",
        "Cancel a plan's remaining occurrences",
        MANAGERS,
    )
.ok(schema::<PlanDto>),
    post(
        "/v1/plans/{plan_id}/occurrences/{occurrence}/cancel",
        "scheduling",
        "Cancel one occurrence",
        MANAGERS,
    )
.ok(schema::<PlanDto>),
    post(
        "/v1/plans/{plan_id}/occurrences/{occurrence}/move",
        "scheduling",
        "Move one occurrence",
        MANAGERS,
    )
    .body(schema::<MoveBody>)
.ok(schema::<PlanDto>).conflict_report(),
    get(
        "/v1/members/{member_id}/plans",
        "scheduling",
        "A member's plans",
        COUNTER,
    )
.ok(schema::<PlansDto>),
    get(
        "/v1/members/{member_id}/appointments",
        "scheduling",
        "A member's appointments and plan occurrences in every store the caller may read, in start order, by day, status and origin; a full page names `next_after`",
        COUNTER,
    )
    .query(params::<MemberAppointmentsQuery>)
.ok(schema::<AppointmentsPage>),
    post(
        "/v1/testing/clock",
        "operations",
        "Set the testing clock (--manual-clock only)",
        HQ,
    )
    .body(schema::<ClockBody>)
    .unkeyed()
.ok(schema::<ClockBody>).testing(),
    post(
        "/v1/testing/panic",
        "operations",
        "Panic, to show the process stops (--manual-clock only)",
        HQ,
    )
    .unkeyed()
.testing(),
    post(
        "/v1/members/{member_id}/count-cards/{card_id}/consume",
        "membership",
        "Use sessions of a count card (次卡)",
        COUNTER,
    )
    .body(schema::<m::SessionsBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/count-cards/{card_id}/sessions",
        "membership",
        "Add or remove sessions",
        MANAGERS,
    )
    .body(schema::<m::SessionsBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/count-cards/{card_id}/refund",
        "membership",
        "Refund the sessions left of a count card (退次卡), in proportion to its price",
        MANAGERS,
    )
    .body(schema::<m::CardRefundBody>)
.created(schema::<m::CounterDto>),
    get(
        "/v1/members/{member_id}/activity",
        "membership",
        "Points, sessions and coupon activity",
        COUNTER,
    )
    .query(params::<m::ActivityQuery>)
.ok(schema::<m::ActivityPage>),
    post(
        "/v1/members/{member_id}/gift-exchanges",
        "gifts",
        "Exchange points for a gift (积分兑换)",
        COUNTER,
    )
    .body(schema::<gifts::ExchangeBody>)
.created(schema::<m::CounterDto>),
    put("/v1/gifts/{gift_id}", "gifts", "Define a gift", CATALOG).body(schema::<gifts::GiftBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/items/{item_id}",
        "catalog",
        "Define or change an item of the price list (价目表): a service or a product",
        CATALOG,
    )
    .body(schema::<pl::ItemBody>)
.ok(schema::<pl::ItemDto>),
    get("/v1/items/{item_id}", "catalog", "An item of the price list", ANY)
.ok(schema::<pl::ItemDto>),
    get(
        "/v1/items",
        "catalog",
        "The price list: by category, name, barcode or SKU, with a store's prices",
        ANY,
    )
    .query(params::<pl::ItemsQuery>)
.ok(schema::<pl::ItemsDto>),
    get(
        "/v1/items/{item_id}/history",
        "catalog",
        "Every version of an item's price, newest first",
        ANY,
    )
    .query(params::<pl::HistoryQuery>)
.ok(schema::<pl::ItemHistoryDto>),
    put(
        "/v1/stores/{store_id}/items/{item_id}",
        "catalog",
        "A store's own price or availability of an item (门店调价)",
        MANAGERS,
    )
    .body(schema::<pl::StoreItemBody>)
.ok(schema::<CatalogChange>),
    post(
        "/v1/stores/{store_id}/stock-moves",
        "stock",
        "Receive (入库), adjust or count (盘点) products: the count answers its variance",
        MANAGERS,
    )
    .body(schema::<pl::StockMoveBody>)
.created(schema::<pl::StockMoveDto>),
    post(
        "/v1/stores/{store_id}/transfers",
        "stock",
        "Send products to another store (调拨): out of this store's stock, in transit until received",
        MANAGERS,
    )
    .body(schema::<pl::TransferBody>)
.created(schema::<crate::domain::transfer::Transfer>),
    get(
        "/v1/stores/{store_id}/transfers",
        "stock",
        "A store's transfers out or in, newest first",
        ANY,
    )
    .query(params::<pl::TransfersQuery>)
.ok(schema::<pl::TransfersDto>),
    post(
        "/v1/transfers/{transfer_id}/receive",
        "stock",
        "The receiving store takes a transfer into its stock, once",
        MANAGERS,
    )
.ok(schema::<crate::domain::transfer::Transfer>),
    get("/v1/transfers/{transfer_id}", "stock", "A transfer", ANY)
.ok(schema::<crate::domain::transfer::Transfer>),
    get(
        "/v1/stores/{store_id}/stock",
        "stock",
        "A store's product stock and its value",
        ANY,
    )
    .query(params::<pl::StockQuery>)
.ok(schema::<pl::StoreStockDto>),
    get(
        "/v1/items/{item_id}/stock",
        "stock",
        "A product's stock in every store the key may read (联盟内库存)",
        ANY,
    )
.ok(schema::<pl::ItemStockDto>),
    get(
        "/v1/stats/items",
        "stock",
        "Sales, returns and stock movements by item, category or store, best sellers first",
        MANAGERS,
    )
    .query(params::<pl::SalesQuery>)
.ok(schema::<pl::SalesDto>),
    post(
        "/v1/stores/{store_id}/gifts/{gift_id}/stock",
        "gifts",
        "Move gift stock in or out",
        MANAGERS,
    )
    .body(schema::<gifts::StockBody>)
.ok(schema::<gifts::GiftStockDto>),
    get(
        "/v1/stores/{store_id}/gifts",
        "gifts",
        "A store's gifts and stock",
        ANY,
    )
.ok(schema::<gifts::StoreGiftsDto>),
    post(
        "/v1/members/{member_id}/recharge-refunds",
        "membership",
        "Refund a recharge",
        MANAGERS,
    )
    .body(schema::<m::RechargeRefundBody>)
.created(counter_or_entry),
    post(
        "/v1/members/{member_id}/count-cards",
        "membership",
        "Sell a count card",
        COUNTER,
    )
    .body(schema::<m::BuyCardBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/points",
        "membership",
        "Adjust points (积分)",
        MANAGERS,
    )
    .body(schema::<m::PointsBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/coupons",
        "membership",
        "Issue a coupon",
        MANAGERS,
    )
    .body(schema::<m::IssueBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/level-changes",
        "membership",
        "Set the level of every member a filter finds (更换会员等级), a page at a time",
        MANAGERS,
    )
    .body(schema::<m::BulkLevelBody>)
    .bulk()
.ok(schema::<m::BulkLevelDto>),
    post(
        "/v1/members/{member_id}/level",
        "membership",
        "Set the member's level by hand (更换会员等级), with a reason",
        MANAGERS,
    )
    .body(schema::<m::MemberLevelBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/lock",
        "membership",
        "Lock the member's card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/unlock",
        "membership",
        "Unlock the member's card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/members/{member_id}/replace-card",
        "membership",
        "Replace a lost card",
        MANAGERS,
    )
    .body(schema::<m::StoreOnlyBody>)
.created(schema::<m::CounterDto>),
    post("/v1/orders/held", "orders", "Hold an order (挂单)", COUNTER).body(schema::<m::OrderBody>)
.created(schema::<Order>),
    post("/v1/orders", "orders", "Check out an order", COUNTER).body(schema::<m::OrderBody>)
.created(counter_or_order),
    get("/v1/orders/{order_id}", "orders", "An order", COUNTER)
.ok(schema::<Order>),
    get(
        "/v1/orders",
        "orders",
        "Find sales and returns (订单查询, 退单): a store's or a member's, by day, SKU or item, kind and status",
        COUNTER,
    )
    .query(params::<orders::OrdersQuery>)
.ok(schema::<orders::OrdersDto>),
    get(
        "/v1/orders/{order_id}/receipt",
        "orders",
        "The order's receipt as text, printed again (复打小票)",
        COUNTER,
    )
.text(),
    post(
        "/v1/orders/{order_id}/returns",
        "orders",
        "Return lines of an order",
        COUNTER,
    )
    .body(schema::<m::ReturnBody>)
.created(counter_or_order),
    post(
        "/v1/orders/{order_id}/exchanges",
        "orders",
        "Exchange (换货): return lines of an order and sell others in one write",
        COUNTER,
    )
    .body(schema::<m::OrderExchangeBody>)
.created(counter_or_order),
    get(
        "/v1/stores/{store_id}/held-orders",
        "orders",
        "A store's held orders",
        COUNTER,
    )
.ok(schema::<m::HeldOrdersDto>),
    post("/v1/coupons/redeem", "coupons", "Redeem a coupon", COUNTER).body(schema::<m::RedeemBody>)
.created(schema::<m::CounterDto>),
    post(
        "/v1/coupons/issue",
        "coupons",
        "Issue coupons to many members",
        CATALOG,
    )
    .body(schema::<m::BulkIssueBody>)
    .bulk()
.ok(schema::<m::BulkIssueDto>),
    get(
        "/v1/settlements",
        "ledger",
        "What home stores owe selling stores (跨店结算)",
        MANAGERS,
    )
    .query(params::<m::SettlementQuery>)
.ok(schema::<m::SettlementDto>),
    put(
        "/v1/member-fields/{field_id}",
        "membership",
        "Define a member field (会员自定义字段): text, number, date or choice",
        CATALOG,
    )
    .body(schema::<members::MemberFieldBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/levels/{level_id}",
        "membership",
        "Define a member level",
        CATALOG,
    )
    .body(schema::<m::LevelBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/stores/{store_id}/levels/{level_id}",
        "membership",
        "A store's rules for a level",
        MANAGERS,
    )
    .body(schema::<m::RulesBody>)
.ok(schema::<CatalogChange>),
    put(
        "/v1/coupon-templates/{template_id}",
        "coupons",
        "Define a coupon template",
        CATALOG,
    )
    .body(schema::<m::TemplateBody>)
.ok(schema::<CatalogChange>),
    get(
        "/v1/catalog",
        "membership",
        "Levels, coupon templates and gifts",
        CHAIN,
    )
.ok(schema::<m::CatalogDto>),
    post("/v1/employees", "staff", "Hire an employee (员工)", MANAGERS)
        .body(schema::<staff::EmployeeBody>)
        .created(schema::<staff::EmployeeDto>),
    get("/v1/employees", "staff", "List employees", MANAGERS)
        .query(params::<staff::EmployeesQuery>)
        .ok(schema::<staff::EmployeesPage>),
    get("/v1/employees/{employee_id}", "staff", "An employee", MANAGERS)
        .ok(schema::<staff::EmployeeDto>),
    patch(
        "/v1/employees/{employee_id}",
        "staff",
        "Edit an employee's name, phone, stores, job or resource",
        MANAGERS,
    )
    .body(schema::<staff::EditEmployeeBody>)
    .ok(schema::<staff::EmployeeDto>),
    post(
        "/v1/employees/{employee_id}/leave",
        "staff",
        "An employee leaves: record and figures kept, API keys revoked",
        MANAGERS,
    )
    .ok(schema::<staff::EmployeeDto>),
    get(
        "/v1/employees/{employee_id}/stats",
        "staff",
        "What an employee was credited with, by day and store",
        MANAGERS,
    )
    .query(params::<staff::RangeQuery>)
    .ok(schema::<staff::EmployeeStatsDto>),
    get(
        "/v1/stores/{store_id}/staff-stats",
        "staff",
        "Each employee's figures in a store over a period (commission basis)",
        MANAGERS,
    )
    .query(params::<staff::RangeQuery>)
    .ok(schema::<staff::StoreStaffStatsDto>),
    post(
        "/v1/member-sign-in/codes",
        "member_sign_in",
        "Send a member a one-time sign-in code (through the outbox)",
        PUBLIC,
    )
    .public()
    .body(schema::<mc::SignInCodeBody>)
    .ok(schema::<mc::SignInCodeDto>),
    post(
        "/v1/member-sign-in/sessions",
        "member_sign_in",
        "Sign a member in with the code: a session token",
        PUBLIC,
    )
    .public()
    .body(schema::<mc::SignInBody>)
    .created(schema::<mc::MemberSessionDto>),
    delete("/v1/me/session", "member_channel", "Sign out of this session", MEMBER)
        .ok(schema::<mc::SignedOutDto>),
    get("/v1/me", "member_channel", "The member's own profile and account", MEMBER)
        .ok(schema::<mc::MeDto>),
    get("/v1/me/entries", "member_channel", "The member's own ledger entries", MEMBER)
        .query(params::<PageQuery>)
        .ok(schema::<EntriesPage>),
    get("/v1/me/plans", "member_channel", "The member's own service plans", MEMBER)
        .ok(schema::<PlansDto>),
    get(
        "/v1/me/appointments",
        "member_channel",
        "The member's own appointments and plan occurrences",
        MEMBER,
    )
    .query(params::<MemberAppointmentsQuery>)
    .ok(schema::<AppointmentsPage>),
    post(
        "/v1/me/appointments",
        "member_channel",
        "Book an appointment service online",
        MEMBER,
    )
    .body(schema::<mc::MeAppointmentBody>)
    .created(schema::<BookingDto>)
    .conflict_report(),
    post(
        "/v1/me/appointments/{appointment_id}/cancel",
        "member_channel",
        "Cancel an own appointment before the store's window",
        MEMBER,
    )
    .ok(schema::<BookingDto>),
    get("/v1/me/stores", "member_channel", "Stores of the chain", MEMBER)
        .query(params::<PageAfterQuery>)
        .ok(schema::<StoresPage>),
    get(
        "/v1/me/services",
        "member_channel",
        "Services booked as appointments",
        MEMBER,
    )
    .query(params::<PageAfterQuery>)
    .ok(schema::<ServicesPage>),
    get(
        "/v1/me/availability",
        "member_channel",
        "Free starts of a service in a store",
        MEMBER,
    )
    .query(params::<mc::MeAvailabilityQuery>)
    .ok(schema::<FreeStartsDto>),
    delete(
        "/v1/members/{member_id}/sessions",
        "directory",
        "Sign a member out of every session",
        COUNTER,
    )
    .ok(schema::<mc::SignedOutDto>),
    put(
        "/v1/stores/{store_id}/online-booking",
        "scheduling",
        "What members may book and cancel online (网上预约)",
        MANAGERS,
    )
    .body(schema::<mc::OnlineBookingBody>)
    .ok(schema::<mc::OnlineBookingDto>),
    get(
        "/v1/stores/{store_id}/online-booking",
        "scheduling",
        "What members may book and cancel online",
        ANY,
    )
    .ok(schema::<mc::OnlineBookingDto>),
    post(
        "/v1/members/{member_id}/refund-requests",
        "refund_requests",
        "Ask for a refund of a deduction, recharge or order (退款申请)",
        COUNTER,
    )
    .body(schema::<rr::RefundRequestBody>)
    .created(schema::<rr::RefundRequestDto>),
    post(
        "/v1/me/refund-requests",
        "refund_requests",
        "Ask for a refund of an own deduction, recharge or order",
        MEMBER,
    )
    .body(schema::<rr::RefundRequestBody>)
    .created(schema::<rr::RefundRequestDto>),
    get(
        "/v1/me/refund-requests",
        "refund_requests",
        "Own refund requests, newest first",
        MEMBER,
    )
    .query(params::<PageQuery>)
    .ok(schema::<rr::RefundRequestsPage>),
    post(
        "/v1/me/refund-requests/{request_id}/withdraw",
        "refund_requests",
        "Take back an own request before it is decided",
        MEMBER,
    )
    .ok(schema::<rr::RefundRequestDto>),
    get(
        "/v1/stores/{store_id}/refund-requests",
        "refund_requests",
        "A store's refund requests, newest first, by state, kind and member",
        COUNTER,
    )
    .query(params::<rr::RefundRequestsQuery>)
    .ok(schema::<rr::RefundRequestsPage>),
    get(
        "/v1/refund-requests/{request_id}",
        "refund_requests",
        "One refund request",
        COUNTER,
    )
    .ok(schema::<rr::RefundRequestDto>),
    post(
        "/v1/refund-requests/{request_id}/approve",
        "refund_requests",
        "Approve all or part of a refund request: the refund is posted in the same write",
        MANAGERS,
    )
    .body(schema::<rr::ApproveRefundBody>)
    .ok(schema::<rr::RefundRequestDto>),
    post(
        "/v1/refund-requests/{request_id}/reject",
        "refund_requests",
        "Reject a refund request with a reason",
        MANAGERS,
    )
    .body(schema::<rr::RejectRefundBody>)
    .ok(schema::<rr::RefundRequestDto>),
    post(
        "/v1/bulk-messages",
        "notifications",
        "Message every member a filter finds (群发), a page at a time, through the outbox",
        MANAGERS,
    )
    .body(schema::<bm::BulkMessageBody>)
    .bulk()
    .ok(schema::<bm::BulkMessagePageDto>),
    get(
        "/v1/bulk-messages",
        "notifications",
        "A bulk-message run's report: sent, skipped and failed over its pages",
        MANAGERS,
    )
    .query(params::<bm::BulkRunQuery>)
    .ok(schema::<bm::BulkRunDto>),
    post(
        "/v1/refund-requests/{request_id}/withdraw",
        "refund_requests",
        "Take back a refund request before it is decided",
        COUNTER,
    )
    .ok(schema::<rr::RefundRequestDto>),
    post(
        "/v1/stores/{store_id}/waitlist",
        "waitlist",
        "Put a member in line for a full slot (候补); a slot with room is booked instead",
        COUNTER,
    )
    .body(schema::<AppointmentBody>)
    .created(schema::<wl::WaitEntryDto>)
    .conflict_report(),
    get(
        "/v1/stores/{store_id}/waitlist",
        "waitlist",
        "A store's waitlist in joining order, by state and member",
        ANY,
    )
    .query(params::<wl::WaitlistQuery>)
    .ok(schema::<wl::WaitlistPage>),
    get(
        "/v1/waitlist/{entry_id}",
        "waitlist",
        "One waitlist entry",
        ANY,
    )
    .ok(schema::<wl::WaitEntryDto>),
    post(
        "/v1/waitlist/{entry_id}/accept",
        "waitlist",
        "Take the slot an offer holds: it becomes the appointment",
        COUNTER,
    )
    .ok(schema::<wl::WaitEntryDto>),
    post(
        "/v1/waitlist/{entry_id}/withdraw",
        "waitlist",
        "Leave the line, or decline the offer held: the slot goes to the next in line",
        COUNTER,
    )
    .ok(schema::<wl::WaitEntryDto>),
    post(
        "/v1/me/waitlist",
        "waitlist",
        "Join the line for a full slot online",
        MEMBER,
    )
    .body(schema::<mc::MeAppointmentBody>)
    .created(schema::<wl::WaitEntryDto>)
    .conflict_report(),
    get(
        "/v1/me/waitlist",
        "waitlist",
        "Own waitlist entries, by store and joining order",
        MEMBER,
    )
    .query(params::<PageAfterQuery>)
    .ok(schema::<wl::WaitlistPage>),
    post(
        "/v1/me/waitlist/{entry_id}/accept",
        "waitlist",
        "Take the slot an own offer holds: it becomes the appointment",
        MEMBER,
    )
    .ok(schema::<wl::WaitEntryDto>),
    post(
        "/v1/me/waitlist/{entry_id}/withdraw",
        "waitlist",
        "Leave the line, or decline an own offer",
        MEMBER,
    )
    .ok(schema::<wl::WaitEntryDto>),
];

fn error_schema() -> Schema {
    ObjectBuilder::new()
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Stable, machine-readable: see the README's table")),
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

/// Can `r` answer `code`?
fn answers(r: &Route, code: Code) -> bool {
    match code.scope() {
        Scope::Authenticated => !r.public,
        Scope::Body => r.body.is_some(),
        Scope::Keyed => r.keyed,
        Scope::Tags(tags) => !r.public && tags.contains(&r.tag),
        Scope::AnyTag(tags) => tags.contains(&r.tag),
        Scope::Open(tags) => !r.public || tags.contains(&r.tag),
        Scope::Router | Scope::ConflictReport => false,
    }
}

/// `{code, message}` with `code` one of `codes`.
fn error_with(codes: &[Code]) -> RefOr<Schema> {
    let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names)),
            )
            .property("message", ObjectBuilder::new().schema_type(Type::String))
            .required("code")
            .required("message")
            .build(),
    ))
}

/// The `{name}` segments of a route's path, in order.
fn path_param_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
}

fn path_params(path: &str) -> Vec<Parameter> {
    path_param_names(path)
        .map(|name| {
            if name == "role_name" {
                return ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[a-z0-9_]{1,32}$")),
                    ))
                    .build();
            }
            // Levels are numbered from 0 (the level every member starts at).
            let (min, max) = match name {
                "level_id" => (0, i64::from(crate::domain::levels::LEVEL_ID_MAX)),
                "field_id" => (
                    1,
                    i64::from(crate::domain::member_fields::MEMBER_FIELDS_MAX),
                ),
                "employee_id" => (1, i64::from(u32::MAX)),
                "item_id" => (1, i64::from(crate::domain::price_list::ITEM_ID_MAX)),
                _ => (1, PATH_ID_MAX),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(min))
                        .maximum(Some(max)),
                ))
                .build()
        })
        .collect()
}

/// Ids in paths fit an i64, so every client's integer type holds them.
const PATH_ID_MAX: i64 = i64::MAX;

fn idempotency_header(r: &Route) -> Parameter {
    let max = if r.bulk {
        m::BULK_KEY_LEN_MAX
    } else {
        IDEMPOTENCY_KEY_LEN_MAX
    };
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(format!(
            "1-{max} visible ASCII characters (no spaces); a retry with the same key gets \
             the first answer, and the same key with another request is refused"
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max))
                .pattern(Some(format!("^[!-~]{{1,{max}}}$"))),
        ))
        .build()
}

fn build(testing: bool) -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = PathsBuilder::new();
    let json = |r: RefOr<Schema>| ContentBuilder::new().schema(Some(r)).build();
    for r in ROUTES {
        if r.testing && !testing {
            continue;
        }
        let mut parameters = path_params(r.path);
        if let Some(q) = r.query {
            parameters.extend(q());
        }
        if r.keyed {
            parameters.push(idempotency_header(r));
        }
        let mut responses = ResponsesBuilder::new();
        if let Some(f) = r.ok {
            let what = if r.created.is_some() {
                "Done (a dry run)"
            } else {
                "Done"
            };
            responses = responses.response(
                "200",
                ResponseBuilder::new()
                    .description(what)
                    .content("application/json", json(f(&mut schemas))),
            );
        }
        if let Some(f) = r.created {
            let mut created = ResponseBuilder::new()
                .description("Created or posted, and durable")
                .content("application/json", json(f(&mut schemas)));
            for (name, link) in links(r, testing) {
                created = created.link(name, link);
            }
            responses = responses.response("201", created);
        }
        if r.text {
            responses = responses.response(
                "200",
                ResponseBuilder::new().description("Done").content(
                    "text/plain",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                ),
            );
        }
        if r.ok.is_none() && r.created.is_none() && !r.text {
            responses = responses.response("204", ResponseBuilder::new().description("Done"));
        }
        let mut by_status: std::collections::BTreeMap<u16, Vec<Code>> = Default::default();
        for &code in Code::ALL {
            if answers(r, code) {
                by_status
                    .entry(code.status().as_u16())
                    .or_default()
                    .push(code);
            }
        }
        for (status, codes) in by_status {
            let reason = warp::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            let conflict = r.conflict_report && status == 409;
            let body = if conflict {
                RefOr::T(Schema::OneOf(
                    utoipa::openapi::schema::OneOfBuilder::new()
                        .item(error_with(&codes))
                        .item(schema::<ConflictReport>(&mut schemas))
                        .build(),
                ))
            } else {
                error_with(&codes)
            };
            responses = responses.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(format!(
                        "{reason}: {}; nothing changed",
                        codes
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .content("application/json", json(body)),
            );
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(operation_id(r)))
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
    // Two types of one name would share a component: one of them documented wrong.
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    for (name, s) in schemas {
        let text = serde_json::to_string(&s).unwrap_or_default();
        if let Some(before) = seen.insert(name.clone(), text.clone()) {
            assert_eq!(
                before, text,
                "two schemas are named {name}: rename one (#[schema(as = ...)])"
            );
        }
        components = components.schema(name, s);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("chainstore")
                .version(API_VERSION)
                .description(Some(
                    "Scheduling and stored-value ledger for chains of stores. Money is integer \
                     minor units (fen). Every write takes an Idempotency-Key and is acknowledged \
                     only once durable. Errors are {code, message}; each operation lists the \
                     codes it can answer, by status.",
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

/// The API's version: the document's `info.version`. Compatible changes (new operations,
/// new optional fields, new codes) raise the minor; a breaking one would be `/v2`.
pub const API_VERSION: &str = "1.5.0";

/// Operations that create an object, and the path parameter that names it in others: the
/// document's links, so a client (or a fuzzer) can chain a created member into its
/// recharges. Each answers the object with its `id`.
const CREATES: &[(Verb, &str, &str)] = &[
    (Verb::Post, "/v1/stores", "store_id"),
    (Verb::Post, "/v1/members", "member_id"),
    (Verb::Post, "/v1/services", "service_id"),
    (Verb::Post, "/v1/stores/{store_id}/resources", "resource_id"),
    (
        Verb::Post,
        "/v1/stores/{store_id}/appointments",
        "appointment_id",
    ),
    (Verb::Post, "/v1/stores/{store_id}/plans", "plan_id"),
    (Verb::Post, "/v1/credentials", "credential_id"),
    (Verb::Post, "/v1/orders/held", "order_id"),
    (Verb::Post, "/v1/employees", "employee_id"),
];

/// Links from `r`'s 201 answer to every operation on the object it created; the path
/// parameters `r` was called with go along where the target has them too.
fn links(r: &Route, testing: bool) -> Vec<(String, utoipa::openapi::link::Link)> {
    use utoipa::openapi::link::LinkBuilder;
    let Some(&(_, _, param)) = CREATES
        .iter()
        .find(|(verb, path, _)| *verb == r.verb && *path == r.path)
    else {
        return Vec::new();
    };
    let named = format!("{{{param}}}");
    ROUTES
        .iter()
        .filter(|t| t.path.contains(&named) && (testing || !t.testing))
        .map(|t| {
            let mut link = LinkBuilder::new()
                .operation_id(operation_id(t))
                .parameter(param, "$response.body#/id");
            for own in path_param_names(r.path) {
                if t.path.contains(&format!("{{{own}}}")) {
                    link = link.parameter(own, format!("$request.path.{own}"));
                }
            }
            (operation_id(t), link.build())
        })
        .collect()
}

/// A stable name for the operation, for generated clients: the verb and the path's words,
/// and a last path parameter as `by_<name>` (`get_members_by_member_id`). Unique: a test
/// says so.
fn operation_id(r: &Route) -> String {
    let segs: Vec<&str> = r
        .path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "v1")
        .collect();
    let mut words = vec![r.verb.as_str().to_lowercase()];
    for (i, seg) in segs.iter().enumerate() {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) if i + 1 == segs.len() => words.push(format!("by_{param}")),
            Some(_) => {}
            None => words.push(seg.replace(['-', '.'], "_")),
        }
    }
    words.join("_")
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
            if *want == "{role_name}" {
                got.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            } else if want.starts_with('{') {
                // Every other path parameter is a numeric id.
                got.bytes().all(|b| b.is_ascii_digit())
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

/// The document, rendered once: with the testing routes when the server serves them.
pub fn json(testing: bool) -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    static TESTING_DOC: OnceLock<String> = OnceLock::new();
    let cell = if testing { &TESTING_DOC } else { &DOC };
    cell.get_or_init(|| {
        let doc = build(testing)
            .to_json()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text));
        match doc {
            Ok(mut doc) => {
                tighten(&mut doc);
                hoist_variants(&mut doc);
                doc.to_string()
            }
            Err(e) => format!("{{\"error\":\"{e}\"}}"),
        }
    })
}

/// A struct variant of an externally tagged enum (`{"Points": {"delta": ..}}`) gets its own
/// component (`ActivityPoints`), referenced from the variant: client generators name and
/// make each model once that way (openapi-python-client makes inline ones twice).
fn hoist_variants(doc: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") else {
        return;
    };
    let mut hoisted = Vec::new();
    for (name, schema) in schemas.iter_mut() {
        let Some(Value::Array(variants)) = schema.get_mut("oneOf") else {
            continue;
        };
        for variant in variants.iter_mut() {
            let Some(Value::Object(props)) = variant.get_mut("properties") else {
                continue;
            };
            if props.len() != 1 {
                continue;
            }
            for (tag, inner) in props.iter_mut() {
                if inner.get("type") == Some(&Value::from("object")) {
                    let component = format!("{name}{tag}");
                    let reference = serde_json::json!({
                        "$ref": format!("#/components/schemas/{component}")
                    });
                    hoisted.push((component, std::mem::replace(inner, reference)));
                }
            }
        }
    }
    schemas.extend(hoisted);
}

/// What the derives leave out, made exact for clients and fuzzers: an integer's range is
/// its Rust type's (`format: uint16` is 0-65535), and a variant of an externally tagged
/// enum (`{"weekly": {...}}`) has no other key.
fn tighten(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            // utoipa 5 writes a link's `operationId` in snake case.
            if let Some(Value::Object(links)) = o.get_mut("links") {
                for link in links.values_mut() {
                    if let Some(l) = link.as_object_mut() {
                        if let Some(id) = l.remove("operation_id") {
                            l.insert("operationId".into(), id);
                        }
                    }
                }
            }
            // A tuple: `items: false` beside `prefixItems` says "no more items"; fixed
            // lengths say the same in a form client generators read.
            if o.get("items") == Some(&Value::Bool(false)) {
                if let Some(n) = o.get("prefixItems").and_then(Value::as_array).map(Vec::len) {
                    o.remove("items");
                    o.insert("minItems".into(), Value::from(n));
                    o.insert("maxItems".into(), Value::from(n));
                }
            }
            // utoipa writes unsigned formats `u-int16`; the usual spelling is `uint16`.
            if let Some(f) = o.get("format").and_then(Value::as_str) {
                if let Some(bits) = f.strip_prefix("u-int") {
                    o.insert("format".into(), Value::from(format!("uint{bits}")));
                }
            }
            let integer = match o.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                _ => false,
            };
            if integer && !o.contains_key("format") {
                // `usize` and the like: whatever a 64-bit unsigned integer holds.
                let unsigned = o
                    .get("minimum")
                    .and_then(Value::as_i64)
                    .is_some_and(|m| m >= 0);
                let format = if unsigned { "uint64" } else { "int64" };
                o.insert("format".into(), Value::from(format));
            }
            let range = match o.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((Value::from(0), Value::from(u8::MAX))),
                Some("uint16") => Some((Value::from(0), Value::from(u16::MAX))),
                Some("uint32") => Some((Value::from(0), Value::from(u32::MAX))),
                Some("uint64") => Some((Value::from(0), Value::from(u64::MAX))),
                Some("int8") => Some((Value::from(i8::MIN), Value::from(i8::MAX))),
                Some("int16") => Some((Value::from(i16::MIN), Value::from(i16::MAX))),
                Some("int32") => Some((Value::from(i32::MIN), Value::from(i32::MAX))),
                Some("int64") => Some((Value::from(i64::MIN), Value::from(i64::MAX))),
                _ => None,
            };
            if let Some((min, max)) = range {
                // A bound the derive already set (a `minimum = 1`) is the tighter one.
                o.entry("minimum").or_insert(min);
                o.entry("maximum").or_insert(max);
            }
            if let Some(Value::Array(items)) = o.get_mut("oneOf") {
                for item in items.iter_mut() {
                    let one_key = item.get("type") == Some(&Value::from("object"))
                        && item
                            .get("properties")
                            .and_then(Value::as_object)
                            .map(|p| p.len())
                            == Some(1)
                        && item
                            .get("required")
                            .and_then(Value::as_array)
                            .map(|r| r.len())
                            == Some(1);
                    if one_key {
                        item["additionalProperties"] = Value::Bool(false);
                    }
                }
            }
            for child in o.values_mut() {
                tighten(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tighten),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{operation_id, ROUTES};

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            let id = operation_id(r);
            assert!(seen.insert(id.clone()), "{id} twice");
        }
    }
}

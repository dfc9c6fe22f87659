//! The HTTP API: a thin translation of HTTP to actor messages and back.
//! Every route lives under `/v1/` except `/healthz`; every error is `{code, message}`.

pub mod admin;
pub mod auth;
pub mod bulk_messages;
pub mod closing;
pub mod credentials;
pub mod dto;
pub mod error;
pub mod gifts;
pub mod handlers;
pub mod home_move;
pub mod imports;
pub mod member_channel;
pub mod members;
pub mod membership;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod oplog;
pub mod orders;
pub mod price_list;
pub mod rate;
pub mod recycle;
pub mod refund_requests;
pub mod schedule_dto;
pub mod schedule_handlers;
pub mod staff;
pub mod waitlist;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::actors::directory::Directory;
use crate::actors::registry::Registry;
use crate::domain::access::Principal;
use crate::domain::recycle::BinKind;
use crate::storage::Storage;
use handlers::LedgerRoute;

/// How long a request waits for an actor to take and answer its message before it gives up
/// with 503. The write may still happen; a retry with the same key returns its result.
pub const ACTOR_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
pub const PAGE_SIZE_DEFAULT: usize = 50;

pub struct ApiState {
    pub registry: Arc<Registry>,
    /// Present only when started with `--manual-clock` (tests).
    pub manual_clock: Option<Arc<crate::clock::ManualClock>>,
    pub directory: Addr<Directory>,
    /// Seals business days and owns the stores' closing modes.
    pub closings: Addr<crate::actors::closing::Closings>,
    pub body_bytes_max: u64,
    pub batch_body_bytes_max: u64,
    pub page_size_max: usize,
    pub default_time_zone: String,
    /// SHA-256 of the bootstrap administrator key, if one is configured.
    pub admin_key_hash: Option<[u8; 32]>,
    /// Whether members may spend their value at any store of the chain (跨店消费).
    pub cross_store_use: bool,
    /// Whether the webhook may target loopback and private addresses.
    pub webhook_private_targets: bool,
    /// Requests per credential; the bootstrap administrator is not limited.
    pub rate: rate::RateLimiter,
    /// Where backups (RocksDB checkpoints) are written.
    pub backup_root: std::path::PathBuf,
    pub metrics: metrics::Metrics,
}

impl ApiState {
    pub fn storage(&self) -> &Storage {
        &self.registry.storage
    }
}

/// All routes, with every error (ours and warp's) rendered as JSON. Each route matches its
/// path before its method, so an unknown path is 404 and a wrong method on a known one is 405.
pub fn routes(state: Arc<ApiState>) -> BoxedFilter<(Response,)> {
    metrics::instrument(state.clone(), handlers(state))
}

fn handlers(state: Arc<ApiState>) -> BoxedFilter<(Response,)> {
    let limit = state.body_bytes_max;
    let state_batch_limit = state.batch_body_bytes_max;
    let auth = auth::authenticated(state.clone());
    let st = warp::any().map(move || state.clone());

    let healthz = warp::path!("healthz")
        .and(warp::get())
        .then(handlers::healthz)
        .or(warp::path!("v1" / "openapi.json")
            .and(warp::get())
            .and(st.clone())
            .map(|s: Arc<ApiState>| {
                let doc = openapi::json(s.manual_clock.is_some());
                warp::reply::with_header(doc, "content-type", "application/json").into_response()
            }))
        .unify()
        .boxed();
    let create_store = warp::path!("v1" / "stores")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(handlers::create_store);
    let list_stores = warp::path!("v1" / "stores")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageAfterQuery>())
        .then(handlers::list_stores);
    let get_store = warp::path!("v1" / "stores" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| handlers::get_store(s, p, id));
    let register = warp::path!("v1" / "members")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(handlers::register_member);
    let find_member = warp::path!("v1" / "members")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PhoneQuery>())
        .then(handlers::find_member);
    let get_member = warp::path!("v1" / "members" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| handlers::get_member(s, p, id));
    let edit_member = warp::path!("v1" / "members" / u64)
        .and(warp::patch())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| members::edit_member(s, p, id, k, ct, b));
    let move_home = warp::path!("v1" / "members" / u64 / "home-store")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| home_move::move_home(s, p, id, k, ct, b));
    let record_follow_up = warp::path!("v1" / "members" / u64 / "follow-ups")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| members::record_follow_up(s, p, id, k, ct, b));
    let list_follow_ups = warp::path!("v1" / "members" / u64 / "follow-ups")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<membership::ActivityQuery>())
        .then(|id, s, p, q| members::list_follow_ups(s, p, id, q));
    let due_follow_ups = warp::path!("v1" / "stores" / u64 / "follow-ups" / "due")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<members::DueQuery>())
        .then(|id, s, p, q| members::due_follow_ups(s, p, id, q));
    let member_field = warp::path!("v1" / "member-fields" / u16)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| members::put_member_field(s, p, id, k, ct, b));
    let search_members = warp::path!("v1" / "members" / "search")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<members::MemberSearchQuery>())
        .then(members::search_members);
    let ledger = |path: BoxedFilter<(u64,)>, route: LedgerRoute| {
        path.and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(move |id, s, p, k, ct, b| handlers::ledger_write(route, s, p, id, k, ct, b))
    };
    let balance = warp::path!("v1" / "members" / u64 / "balance")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| handlers::balance(s, p, id));
    let entries = warp::path!("v1" / "members" / u64 / "entries")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageQuery>())
        .then(|id, s, p, q| handlers::entries(s, p, id, q));
    let batch_limit = state_batch_limit;
    let batch = warp::path!("v1" / "ledger" / "batch")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(batch_limit))
        .and(warp::body::bytes())
        .then(handlers::ledger_batch);
    let imports = warp::path!("v1" / "members" / "imports")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(batch_limit))
        .and(warp::body::bytes())
        .then(imports::import)
        .or(warp::path!("v1" / "members" / "export")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<imports::ExportQuery>())
            .then(imports::export))
        .unify()
        .boxed();
    let creds = warp::path!("v1" / "credentials")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(credentials::create)
        .or(warp::path!("v1" / "credentials")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<dto::PageAfterQuery>())
            .then(credentials::list))
        .unify()
        .or(warp::path!("v1" / "credentials" / u64)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| credentials::revoke(s, p, id, k)))
        .unify()
        .or(warp::path!("v1" / "roles")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(credentials::roles))
        .unify()
        .or(warp::path!("v1" / "roles" / String)
            .and(warp::put())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|name, s, p, k, ct, b| credentials::put_role(s, p, name, k, ct, b)))
        .unify()
        .or(warp::path!("v1" / "roles" / String)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|name, s, p, k| credentials::remove_role(s, p, name, k)))
        .unify()
        .boxed();
    let oplog = warp::path!("v1" / "oplog")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<oplog::OplogQuery>())
        .then(oplog::list);
    let scrape = warp::path!("metrics")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(metrics::scrape);
    let backup = warp::path!("v1" / "admin" / "backups")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .then(admin::backup);
    let closings = warp::path!("v1" / "stores" / u64 / "closing-mode")
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| closing::put_mode(s, p, id, k, ct, b))
        .or(warp::path!("v1" / "stores" / u64 / "closings")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, ct, b| closing::close(s, p, id, k, ct, b)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "closings")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<closing::ClosingsQuery>())
            .then(|id, s, p, q| closing::list(s, p, id, q)))
        .unify()
        .or(warp::path!("v1" / "stats")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<closing::StatsQuery>())
            .then(closing::stats))
        .unify()
        .boxed();
    let notifications = warp::path!("v1" / "notification-templates" / String)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|e, s, p, k, ct, b| notify::put_template(s, p, e, k, ct, b))
        .or(warp::path!("v1" / "notification-templates")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(notify::templates))
        .unify()
        .or(warp::path!("v1" / "notification-webhook")
            .and(warp::put())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(notify::put_webhook))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "notifications")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<dto::PageAfterQuery>())
            .then(|id, s, p, q| notify::outbox(s, p, id, q)))
        .unify()
        .boxed();
    let bin = warp::path!("v1" / "members" / u64)
        .and(warp::delete())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| recycle::delete_member(s, p, id, k))
        .or(warp::path!("v1" / "gifts" / u32)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| recycle::delete_catalog_item(BinKind::Gift, s, p, id, k)))
        .unify()
        .or(warp::path!("v1" / "coupon-templates" / u32)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| recycle::delete_catalog_item(BinKind::CouponTemplate, s, p, id, k)))
        .unify()
        .or(warp::path!("v1" / "recycle-bin")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<recycle::BinQuery>())
            .then(recycle::list))
        .unify()
        .or(warp::path!("v1" / "recycle-bin" / String / u64 / "restore")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|kind, id, s, p, k| recycle::restore(s, p, kind, id, k)))
        .unify()
        .boxed();
    let trial = warp::path!("v1" / "ledger" / "trial-balance")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(handlers::trial_balance);

    // Boxed in groups: warp's nested filter types make long chains slow to compile.
    let operations = backup
        .or(scrape)
        .unify()
        .or(oplog)
        .unify()
        .or(closings)
        .unify()
        .or(notifications)
        .unify()
        .boxed()
        .or(bin)
        .unify()
        .boxed();
    let directory = healthz
        .or(create_store)
        .unify()
        .or(list_stores)
        .unify()
        .or(get_store)
        .unify()
        .or(register)
        .unify()
        .or(find_member)
        .unify()
        .or(get_member)
        .unify()
        .or(edit_member)
        .unify()
        .or(move_home)
        .unify()
        .or(search_members)
        .unify()
        .or(record_follow_up)
        .unify()
        .or(list_follow_ups)
        .unify()
        .or(due_follow_ups)
        .unify()
        .or(member_field)
        .unify()
        .boxed();
    // The POS's writes first: warp tries routes in order, and every route tried before the
    // one that matches costs a path comparison and a boxed future.
    ledger(
        warp::path!("v1" / "members" / u64 / "deductions")
            .and(warp::post())
            .boxed(),
        LedgerRoute::Deduct,
    )
    .or(ledger(
        warp::path!("v1" / "members" / u64 / "recharges")
            .and(warp::post())
            .boxed(),
        LedgerRoute::Recharge,
    ))
    .unify()
    .or(ledger(
        warp::path!("v1" / "members" / u64 / "refunds")
            .and(warp::post())
            .boxed(),
        LedgerRoute::Refund,
    ))
    .unify()
    .or(batch)
    .unify()
    .or(booking_writes(st.clone().boxed(), auth.clone(), limit))
    .unify()
    .or(balance)
    .unify()
    .or(directory)
    .unify()
    .or(entries)
    .unify()
    .boxed()
    .or(trial)
    .unify()
    .or(operations)
    .unify()
    .or(creds)
    .unify()
    .or(imports)
    .unify()
    .boxed()
    .or(schedule_routes(st.clone(), auth.clone(), limit))
    .unify()
    .or(waitlist_routes(st.clone().boxed(), auth.clone(), limit))
    .unify()
    // Before membership's `/v1/members/{id}/{action}`, which would take refund-requests.
    .or(refund_request_routes(
        st.clone().boxed(),
        auth.clone(),
        limit,
    ))
    .unify()
    .or(membership_routes(st.clone().boxed(), auth.clone(), limit))
    .unify()
    .or(staff_routes(st.clone().boxed(), auth.clone(), limit))
    .unify()
    .or(price_list_routes(st.clone().boxed(), auth.clone(), limit))
    .unify()
    .or(member_channel_routes(
        st.clone().boxed(),
        auth.clone(),
        limit,
    ))
    .unify()
    .recover(error::recover)
    .unify()
    .boxed()
}

type StateFilter = BoxedFilter<(Arc<ApiState>,)>;

/// A write's `Idempotency-Key` header, if any.
fn idempotency_key() -> impl Filter<Extract = (Option<String>,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("idempotency-key")
}

/// A write's content type and body, refused over `limit` bytes.
fn write_body(
    limit: u64,
) -> impl Filter<Extract = (Option<String>, warp::hyper::body::Bytes), Error = warp::Rejection> + Clone
{
    warp::header::optional::<String>("content-type")
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
}

/// New appointments and plans: HQ consoles' hot writes, tried right after the POS's.
fn booking_writes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use schedule_handlers as h;
    warp::path!("v1" / "stores" / u64 / "plans")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, c, b| h::create_plan(s, p, id, k, c, b))
        .or(warp::path!("v1" / "stores" / u64 / "appointments")
            .and(warp::post())
            .and(st)
            .and(auth)
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::create_appointment(s, p, id, k, c, b)))
        .unify()
        .boxed()
}

/// Services, settings, hours, resources, availability, appointments, plans, events.
fn schedule_routes(
    st: impl Filter<Extract = (Arc<ApiState>,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use schedule_handlers as h;
    let st: StateFilter = st.boxed();
    let settings = warp::path!("v1" / "settings")
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(h::put_settings)
        .or(warp::path!("v1" / "settings")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(h::get_settings))
        .unify()
        .boxed();
    let services = warp::path!("v1" / "services")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(h::create_service)
        .or(warp::path!("v1" / "services")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<dto::PageAfterQuery>())
            .then(h::list_services))
        .unify()
        .or(warp::path!("v1" / "services" / u64)
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::get_service(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "services" / u64)
            .and(warp::put())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::update_service(s, p, id, k, c, b)))
        .unify()
        .or(warp::path!("v1" / "services" / u64)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| h::delete_service(s, p, id, k)))
        .unify()
        .boxed();
    let stores = warp::path!("v1" / "stores" / u64 / "hours")
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, c, b| h::put_hours(s, p, id, k, c, b))
        .or(warp::path!("v1" / "stores" / u64 / "hours")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::get_hours(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "reminders")
            .and(warp::put())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::put_reminders(s, p, id, k, c, b)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "reminders")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::get_reminders(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "resources")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::create_resource(s, p, id, k, c, b)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "resources")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::list_resources(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "availability")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<schedule_dto::AvailabilityQuery>())
            .then(|id, s, p, q| h::availability(s, p, id, q)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "events")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<schedule_dto::EventsQuery>())
            .then(|id, s, p, q| h::events(s, p, id, q)))
        .unify()
        .or(warp::path!("v1" / "stores" / u64 / "appointments")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<schedule_dto::AppointmentsQuery>())
            .then(|id, s, p, q| h::list_appointments(s, p, id, q)))
        .unify()
        .boxed();
    let resources = warp::path!("v1" / "resources" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| h::get_resource(s, p, id))
        .or(warp::path!("v1" / "resources" / u64 / "bookings")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<schedule_dto::RangeQuery>())
            .then(|id, s, p, q| h::resource_bookings(s, p, id, q)))
        .unify()
        .or(warp::path!("v1" / "resources" / u64)
            .and(warp::put())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::update_resource(s, p, id, k, c, b)))
        .unify()
        .or(warp::path!("v1" / "resources" / u64)
            .and(warp::delete())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| h::delete_resource(s, p, id, k)))
        .unify()
        .boxed();
    let bookings = warp::path!("v1" / "appointments" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| h::get_appointment(s, p, id))
        .or(warp::path!("v1" / "appointments" / u64 / "move")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .and(write_body(limit))
            .then(|id, s, p, k, c, b| h::move_appointment(s, p, id, k, c, b)))
        .unify()
        .or(warp::path!("v1" / "appointments" / u64 / String)
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, action, s, p, k| h::transit(s, p, id, action, k)))
        .unify()
        .or(warp::path!("v1" / "plans" / u64)
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::get_plan(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "plans" / u64 / "cancel")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(idempotency_key())
            .then(|id, s, p, k| h::cancel_plan(s, p, id, None, k)))
        .unify()
        .or(
            warp::path!("v1" / "plans" / u64 / "occurrences" / u32 / "cancel")
                .and(warp::post())
                .and(st.clone())
                .and(auth.clone())
                .and(idempotency_key())
                .then(|id, n, s, p, k| h::cancel_plan(s, p, id, Some(n), k)),
        )
        .unify()
        .or(
            warp::path!("v1" / "plans" / u64 / "occurrences" / u32 / "move")
                .and(warp::post())
                .and(st.clone())
                .and(auth.clone())
                .and(idempotency_key())
                .and(write_body(limit))
                .then(|id, n, s, p, k, c, b| h::move_occurrence(s, p, id, n, k, c, b)),
        )
        .unify()
        .or(warp::path!("v1" / "members" / u64 / "plans")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .then(|id, s, p| h::member_plans(s, p, id)))
        .unify()
        .or(warp::path!("v1" / "members" / u64 / "appointments")
            .and(warp::get())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::query::<schedule_dto::MemberAppointmentsQuery>())
            .then(|id, s, p, q| h::member_appointments(s, p, id, q)))
        .unify()
        .or(warp::path!("v1" / "testing" / "clock")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .and(warp::header::optional::<String>("content-type"))
            .and(warp::body::content_length_limit(limit))
            .and(warp::body::bytes())
            .then(h::set_clock))
        .unify()
        .or(warp::path!("v1" / "testing" / "panic")
            .and(warp::post())
            .and(st.clone())
            .and(auth.clone())
            .then(h::testing_panic))
        .unify()
        .boxed();
    settings
        .or(services)
        .unify()
        .or(stores)
        .unify()
        .or(resources)
        .unify()
        .or(bookings)
        .unify()
        .boxed()
}

/// Waitlists (候补): staff's and the member's own.
fn waitlist_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use waitlist as wl;
    let join = warp::path!("v1" / "stores" / u64 / "waitlist")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| wl::join_by_staff(s, p, id, k, ct, b));
    let of_store = warp::path!("v1" / "stores" / u64 / "waitlist")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<wl::WaitlistQuery>())
        .then(|id, s, p, q| wl::of_store(s, p, id, q));
    let one = warp::path!("v1" / "waitlist" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| wl::get(s, p, id));
    let accept = warp::path!("v1" / "waitlist" / u64 / "accept")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| wl::act_by_staff(s, p, id, "accept", k));
    let withdraw = warp::path!("v1" / "waitlist" / u64 / "withdraw")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| wl::act_by_staff(s, p, id, "withdraw", k));
    let join_mine = warp::path!("v1" / "me" / "waitlist")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(wl::join_mine);
    let mine = warp::path!("v1" / "me" / "waitlist")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageAfterQuery>())
        .then(wl::mine);
    let accept_mine = warp::path!("v1" / "me" / "waitlist" / u64 / "accept")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| wl::act_mine(s, p, id, "accept", k));
    let withdraw_mine = warp::path!("v1" / "me" / "waitlist" / u64 / "withdraw")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| wl::act_mine(s, p, id, "withdraw", k));
    join.or(of_store)
        .unify()
        .or(one)
        .unify()
        .or(accept)
        .unify()
        .or(withdraw)
        .unify()
        .boxed()
        .or(join_mine)
        .unify()
        .or(mine)
        .unify()
        .or(accept_mine)
        .unify()
        .or(withdraw_mine)
        .unify()
        .boxed()
}

/// Refund requests (退款审核): asked by staff or the member, decided by managers; bulk
/// messages (群发).
fn refund_request_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use refund_requests as rr;
    let ask = warp::path!("v1" / "members" / u64 / "refund-requests")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| rr::ask(s, p, id, k, ct, b));
    let ask_mine = warp::path!("v1" / "me" / "refund-requests")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(rr::ask_mine);
    let mine = warp::path!("v1" / "me" / "refund-requests")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageQuery>())
        .then(rr::mine);
    let withdraw_mine = warp::path!("v1" / "me" / "refund-requests" / u64 / "withdraw")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| rr::withdraw(s, p, id, k));
    let of_store = warp::path!("v1" / "stores" / u64 / "refund-requests")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<rr::RefundRequestsQuery>())
        .then(|id, s, p, q| rr::of_store(s, p, id, q));
    let one = warp::path!("v1" / "refund-requests" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| rr::get(s, p, id));
    let approve = warp::path!("v1" / "refund-requests" / u64 / "approve")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| rr::approve(s, p, id, k, ct, b));
    let reject = warp::path!("v1" / "refund-requests" / u64 / "reject")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| rr::reject(s, p, id, k, ct, b));
    let withdraw = warp::path!("v1" / "refund-requests" / u64 / "withdraw")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| rr::withdraw(s, p, id, k));
    let bulk_send = warp::path!("v1" / "bulk-messages")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(bulk_messages::send_page);
    let bulk_run = warp::path!("v1" / "bulk-messages")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<bulk_messages::BulkRunQuery>())
        .then(bulk_messages::run_report);
    ask.or(ask_mine)
        .unify()
        .or(bulk_send)
        .unify()
        .or(bulk_run)
        .unify()
        .or(mine)
        .unify()
        .or(withdraw_mine)
        .unify()
        .or(of_store)
        .unify()
        .or(one)
        .unify()
        .or(approve)
        .unify()
        .or(reject)
        .unify()
        .or(withdraw)
        .unify()
        .boxed()
}

/// Signing in (public) and `/v1/me` (a member's session), and the staff's side of it.
fn member_channel_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use member_channel as mc;
    let send_code = warp::path!("v1" / "member-sign-in" / "codes")
        .and(warp::post())
        .and(st.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(mc::send_code);
    let sign_in = warp::path!("v1" / "member-sign-in" / "sessions")
        .and(warp::post())
        .and(st.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(mc::sign_in);
    let sign_out = warp::path!("v1" / "me" / "session")
        .and(warp::delete())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(mc::sign_out);
    let me = warp::path!("v1" / "me")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(mc::me);
    let entries = warp::path!("v1" / "me" / "entries")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageQuery>())
        .then(mc::entries);
    let plans = warp::path!("v1" / "me" / "plans")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(mc::plans);
    let appointments = warp::path!("v1" / "me" / "appointments")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<schedule_dto::MemberAppointmentsQuery>())
        .then(mc::appointments);
    let book = warp::path!("v1" / "me" / "appointments")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(mc::book);
    let cancel = warp::path!("v1" / "me" / "appointments" / u64 / "cancel")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| mc::cancel(s, p, id, k));
    let stores = warp::path!("v1" / "me" / "stores")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageAfterQuery>())
        .then(mc::stores);
    let services = warp::path!("v1" / "me" / "services")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<dto::PageAfterQuery>())
        .then(mc::services);
    let availability = warp::path!("v1" / "me" / "availability")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<mc::MeAvailabilityQuery>())
        .then(mc::availability);
    let end_sessions = warp::path!("v1" / "members" / u64 / "sessions")
        .and(warp::delete())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| mc::end_sessions(s, p, id, k));
    let put_online = warp::path!("v1" / "stores" / u64 / "online-booking")
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| mc::put_online_booking(s, p, id, k, ct, b));
    let get_online = warp::path!("v1" / "stores" / u64 / "online-booking")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| mc::get_online_booking(s, p, id));
    send_code
        .or(sign_in)
        .unify()
        .or(sign_out)
        .unify()
        .or(me)
        .unify()
        .or(entries)
        .unify()
        .or(plans)
        .unify()
        .or(appointments)
        .unify()
        .or(book)
        .unify()
        .or(cancel)
        .unify()
        .boxed()
        .or(stores)
        .unify()
        .or(services)
        .unify()
        .or(availability)
        .unify()
        .or(end_sessions)
        .unify()
        .or(put_online)
        .unify()
        .or(get_online)
        .unify()
        .boxed()
}

fn price_list_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use price_list as pl;
    let put_item = warp::path!("v1" / "items" / u32)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| pl::put_item(s, p, id, k, ct, b));
    let get_item = warp::path!("v1" / "items" / u32)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| pl::get_item(s, p, id));
    let list = warp::path!("v1" / "items")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<pl::ItemsQuery>())
        .then(pl::list_items);
    let history = warp::path!("v1" / "items" / u32 / "history")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<pl::HistoryQuery>())
        .then(|id, s, p, q| pl::item_history(s, p, id, q));
    let item_stock = warp::path!("v1" / "items" / u32 / "stock")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| pl::item_stock(s, p, id));
    let store_item = warp::path!("v1" / "stores" / u64 / "items" / u32)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|sid, id, s, p, k, ct, b| pl::put_store_item(s, p, sid, id, k, ct, b));
    let moves = warp::path!("v1" / "stores" / u64 / "stock-moves")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|sid, s, p, k, ct, b| pl::move_stock(s, p, sid, k, ct, b));
    let store_stock = warp::path!("v1" / "stores" / u64 / "stock")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<pl::StockQuery>())
        .then(|sid, s, p, q| pl::store_stock(s, p, sid, q));
    let search = warp::path!("v1" / "orders")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<orders::OrdersQuery>())
        .then(orders::search);
    let receipt = warp::path!("v1" / "orders" / u64 / "receipt")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| orders::receipt(s, p, id));
    let send = warp::path!("v1" / "stores" / u64 / "transfers")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|sid, s, p, k, ct, b| pl::send_transfer(s, p, sid, k, ct, b));
    let transfers = warp::path!("v1" / "stores" / u64 / "transfers")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<pl::TransfersQuery>())
        .then(|sid, s, p, q| pl::list_transfers(s, p, sid, q));
    let receive = warp::path!("v1" / "transfers" / u64 / "receive")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| pl::receive_transfer(s, p, id, k));
    let transfer = warp::path!("v1" / "transfers" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| pl::get_transfer(s, p, id));
    let sales = warp::path!("v1" / "stats" / "items")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<pl::SalesQuery>())
        .then(pl::item_sales);
    put_item
        .or(get_item)
        .unify()
        .or(list)
        .unify()
        .or(history)
        .unify()
        .or(item_stock)
        .unify()
        .boxed()
        .or(store_item)
        .unify()
        .or(moves)
        .unify()
        .or(store_stock)
        .unify()
        .or(sales)
        .unify()
        .or(search)
        .unify()
        .or(receipt)
        .unify()
        .boxed()
        .or(send)
        .unify()
        .or(transfers)
        .unify()
        .or(receive)
        .unify()
        .or(transfer)
        .unify()
        .boxed()
}

fn staff_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    let hire = warp::path!("v1" / "employees")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(staff::hire);
    let list = warp::path!("v1" / "employees")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<staff::EmployeesQuery>())
        .then(staff::list);
    let get = warp::path!("v1" / "employees" / u32)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| staff::get(s, p, id));
    let edit = warp::path!("v1" / "employees" / u32)
        .and(warp::patch())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| staff::edit(s, p, id, k, ct, b));
    let leave = warp::path!("v1" / "employees" / u32 / "leave")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .then(|id, s, p, k| staff::leave(s, p, id, k));
    let stats = warp::path!("v1" / "employees" / u32 / "stats")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<staff::RangeQuery>())
        .then(|id, s, p, q| staff::stats(s, p, id, q));
    let store_stats = warp::path!("v1" / "stores" / u64 / "staff-stats")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<staff::RangeQuery>())
        .then(|id, s, p, q| staff::store_stats(s, p, id, q));
    hire.or(list)
        .unify()
        .or(get)
        .unify()
        .or(edit)
        .unify()
        .or(leave)
        .unify()
        .or(stats)
        .unify()
        .or(store_stats)
        .unify()
        .boxed()
}

fn membership_routes(
    st: StateFilter,
    auth: BoxedFilter<(Principal,)>,
    limit: u64,
) -> BoxedFilter<(Response,)> {
    use membership as m;
    let card_refund = warp::path!("v1" / "members" / u64 / "count-cards" / u32 / "refund")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, card, s, p, k, ct, b| m::refund_card(s, p, id, card, k, ct, b));
    let card_action = warp::path!("v1" / "members" / u64 / "count-cards" / u32 / String)
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, card, action, s, p, k, ct, b| m::card_action(action, s, p, id, card, k, ct, b));
    let exchange = warp::path!("v1" / "members" / u64 / "gift-exchanges")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| gifts::exchange(s, p, id, k, ct, b));
    let gift = warp::path!("v1" / "gifts" / u32)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| gifts::put_gift(s, p, id, k, ct, b));
    let stock = warp::path!("v1" / "stores" / u64 / "gifts" / u32 / "stock")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|sid, id, s, p, k, ct, b| gifts::move_stock(s, p, sid, id, k, ct, b));
    let store_gifts = warp::path!("v1" / "stores" / u64 / "gifts")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|sid, s, p| gifts::list_gifts(s, p, sid));
    let member_action = warp::path!("v1" / "members" / u64 / String)
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, action, s, p, k, ct, b| m::member_action(action, s, p, id, k, ct, b));
    let activity = warp::path!("v1" / "members" / u64 / "activity")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<m::ActivityQuery>())
        .then(|id, s, p, q| m::activity(s, p, id, q));
    let checkout = warp::path!("v1" / "orders")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|s, p, k, ct, b| m::order_write(false, s, p, k, ct, b));
    let hold = warp::path!("v1" / "orders" / "held")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|s, p, k, ct, b| m::order_write(true, s, p, k, ct, b));
    let get_order = warp::path!("v1" / "orders" / u64)
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| m::get_order(s, p, id));
    let ret = warp::path!("v1" / "orders" / u64 / "returns")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| m::order_return(s, p, id, k, ct, b));
    let exchange_order = warp::path!("v1" / "orders" / u64 / "exchanges")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| m::order_exchange(s, p, id, k, ct, b));
    let held = warp::path!("v1" / "stores" / u64 / "held-orders")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(|id, s, p| m::held_orders(s, p, id));
    let redeem = warp::path!("v1" / "coupons" / "redeem")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(m::redeem);
    let bulk = warp::path!("v1" / "coupons" / "issue")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(m::bulk_issue);
    let bulk_level = warp::path!("v1" / "members" / "level-changes")
        .and(warp::post())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(m::bulk_level);
    let settlement = warp::path!("v1" / "settlements")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .and(warp::query::<m::SettlementQuery>())
        .then(m::settlement);
    let level = warp::path!("v1" / "levels" / u16)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| m::put_level(s, p, id, k, ct, b));
    let over = warp::path!("v1" / "stores" / u64 / "levels" / u16)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|sid, id, s, p, k, ct, b| m::put_override(s, p, sid, id, k, ct, b));
    let template = warp::path!("v1" / "coupon-templates" / u32)
        .and(warp::put())
        .and(st.clone())
        .and(auth.clone())
        .and(idempotency_key())
        .and(write_body(limit))
        .then(|id, s, p, k, ct, b| m::put_template(s, p, id, k, ct, b));
    let catalog = warp::path!("v1" / "catalog")
        .and(warp::get())
        .and(st.clone())
        .and(auth.clone())
        .then(m::get_catalog);
    // Boxed in groups: warp's nested filter types make long chains slow to compile.
    let gifts = exchange
        .or(gift)
        .unify()
        .or(stock)
        .unify()
        .or(store_gifts)
        .unify()
        .boxed();
    let members = card_refund
        .or(card_action)
        .unify()
        .or(activity)
        .unify()
        .or(gifts)
        .unify()
        .or(member_action)
        .unify()
        .or(hold)
        .unify()
        .or(checkout)
        .unify()
        .or(get_order)
        .unify()
        .or(ret)
        .unify()
        .or(exchange_order)
        .unify()
        .boxed();
    members
        .or(held)
        .unify()
        .or(redeem)
        .unify()
        .or(bulk)
        .unify()
        .or(bulk_level)
        .unify()
        .or(settlement)
        .unify()
        .or(level)
        .unify()
        .or(over)
        .unify()
        .or(template)
        .unify()
        .or(catalog)
        .unify()
        .boxed()
}

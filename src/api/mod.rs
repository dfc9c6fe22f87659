//! The HTTP API: a thin translation of HTTP to actor messages and back.
//! Every route lives under `/v1/` except `/healthz`; every error is `{code, message}`.

pub mod dto;
pub mod error;
pub mod handlers;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::actors::directory::Directory;
use crate::actors::registry::Registry;
use crate::storage::Storage;
use handlers::LedgerRoute;

/// How long a request waits for an actor to take and answer its message before it gives up
/// with 503. The write may still happen; a retry with the same key returns its result.
pub const ACTOR_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
pub const PAGE_SIZE_DEFAULT: usize = 50;

pub struct ApiState {
    pub registry: Arc<Registry>,
    pub directory: Addr<Directory>,
    pub body_bytes_max: u64,
    pub page_size_max: usize,
    pub default_time_zone: String,
}

impl ApiState {
    pub fn storage(&self) -> &Storage {
        &self.registry.storage
    }
}

/// All routes, with errors (including warp's own rejections) rendered as JSON.
pub fn routes(state: Arc<ApiState>) -> BoxedFilter<(Response,)> {
    let limit = state.body_bytes_max;
    let st = warp::any().map(move || state.clone());
    let key = || warp::header::optional::<String>("idempotency-key");
    let body = move || {
        warp::header::optional::<String>("content-type")
            .and(warp::body::content_length_limit(limit))
            .and(warp::body::bytes())
    };

    let healthz = warp::get().and(warp::path!("healthz")).then(handlers::healthz);
    let create_store = warp::post()
        .and(warp::path!("v1" / "stores"))
        .and(st.clone())
        .and(key())
        .and(body())
        .then(handlers::create_store);
    let list_stores = warp::get()
        .and(warp::path!("v1" / "stores"))
        .and(st.clone())
        .then(handlers::list_stores);
    let get_store = warp::get()
        .and(warp::path!("v1" / "stores" / u64))
        .and(st.clone())
        .then(|id, s| handlers::get_store(s, id));
    let register = warp::post()
        .and(warp::path!("v1" / "members"))
        .and(st.clone())
        .and(key())
        .and(body())
        .then(handlers::register_member);
    let find_member = warp::get()
        .and(warp::path!("v1" / "members"))
        .and(st.clone())
        .and(warp::query::<dto::PhoneQuery>())
        .then(handlers::find_member);
    let get_member = warp::get()
        .and(warp::path!("v1" / "members" / u64))
        .and(st.clone())
        .then(|id, s| handlers::get_member(s, id));
    let ledger = |segment: &'static str, route: LedgerRoute| {
        warp::post()
            .and(warp::path("v1"))
            .and(warp::path("members"))
            .and(warp::path::param::<u64>())
            .and(warp::path(segment))
            .and(warp::path::end())
            .and(st.clone())
            .and(key())
            .and(body())
            .then(move |id, s, k, ct, b| handlers::ledger_write(route, s, id, k, ct, b))
    };
    let balance = warp::get()
        .and(warp::path!("v1" / "members" / u64 / "balance"))
        .and(st.clone())
        .then(|id, s| handlers::balance(s, id));
    let entries = warp::get()
        .and(warp::path!("v1" / "members" / u64 / "entries"))
        .and(st.clone())
        .and(warp::query::<dto::PageQuery>())
        .then(|id, s, q| handlers::entries(s, id, q));
    let trial = warp::get()
        .and(warp::path!("v1" / "ledger" / "trial-balance"))
        .and(st.clone())
        .then(handlers::trial_balance);

    healthz
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
        .or(ledger("recharges", LedgerRoute::Recharge))
        .unify()
        .or(ledger("deductions", LedgerRoute::Deduct))
        .unify()
        .or(ledger("refunds", LedgerRoute::Refund))
        .unify()
        .or(balance)
        .unify()
        .or(entries)
        .unify()
        .or(trial)
        .unify()
        .recover(error::recover)
        .unify()
        .boxed()
}

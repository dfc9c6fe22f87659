//! Prometheus metrics at `/metrics`, and the per-request wrapper that feeds them: request
//! counts and latency by route and status, a request id on every answer, actor requests in
//! flight. Journal and actor gauges are registered here too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use warp::http::{HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::auth::allow;
use super::handlers::respond;
use super::ApiState;
use crate::domain::access::{Capability, Principal};

/// Longest request id taken from a client's `X-Request-Id`; longer ones are replaced.
pub const REQUEST_ID_LEN_MAX: usize = 64;

/// Requests the API has sent to an actor and not had answered, by actor: what waits in (or
/// to enter) the mailboxes. Global like Prometheus' own default registry, so that every
/// send helper can count without being handed the state.
pub static ACTOR_INFLIGHT: std::sync::LazyLock<IntGaugeVec> = std::sync::LazyLock::new(|| {
    IntGaugeVec::new(
        Opts::new(
            "actor_requests_in_flight",
            "API requests waiting on an actor",
        ),
        &["actor"],
    )
    .expect("valid gauge")
});

/// Requests the API has sent to one actor (by its address) and not had answered. actix
/// lets every clone of an `Addr` push one message past the mailbox's capacity, and the API
/// clones one per request, so the capacity alone bounds nothing: this does.
static QUEUED: std::sync::LazyLock<crossbeam_skiplist::SkipMap<u64, AtomicU64>> =
    std::sync::LazyLock::new(crossbeam_skiplist::SkipMap::new);

/// One request to one actor, counted (the gauge) and admitted against
/// `actors::MAILBOX_CAPACITY` (the bound) until dropped.
pub struct InFlight {
    gauge: IntGauge,
    queued: crossbeam_skiplist::map::Entry<'static, u64, AtomicU64>,
}

impl InFlight {
    /// Admits a request to `addr`, or refuses it (503 `overloaded`) when as many as its
    /// mailbox holds are already waiting.
    pub fn new<A: actix::Actor>(addr: &actix::Addr<A>) -> Result<InFlight, super::error::ApiError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::any::TypeId::of::<A>().hash(&mut h);
        addr.hash(&mut h);
        let queued = QUEUED.get_or_insert(h.finish(), AtomicU64::new(0));
        let cap = crate::actors::MAILBOX_CAPACITY as u64;
        if queued.value().fetch_add(1, Ordering::AcqRel) >= cap {
            queued.value().fetch_sub(1, Ordering::AcqRel);
            return Err(super::error::ApiError::Overloaded);
        }
        let name = std::any::type_name::<A>();
        let short = name.rsplit("::").next().unwrap_or(name);
        let gauge = ACTOR_INFLIGHT.with_label_values(&[short]);
        gauge.inc();
        Ok(InFlight { gauge, queued })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
        self.queued.value().fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    journal_queue: IntGauge,
    next_request: AtomicU64,
}

impl Metrics {
    pub fn new(
        journal: &crate::storage::journal::JournalStats,
        actors: &crate::actors::registry::ActorGauges,
    ) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(crate::storage::journal::latency_buckets()),
            &["route"],
        )?;
        let journal_queue = IntGauge::new(
            "journal_queue_depth",
            "Submissions waiting for the journal threads",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(ACTOR_INFLIGHT.clone()))?;
        registry.register(Box::new(journal_queue.clone()))?;
        journal.register(&registry)?;
        actors.register(&registry)?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            journal_queue,
            next_request: AtomicU64::new(1),
        })
    }

    fn observe(&self, method: &Method, path: &str, status: StatusCode, started: Instant) {
        let (route, method) = labels(method, path);
        self.requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(started.elapsed().as_secs_f64());
    }

    /// The client's `X-Request-Id` when it is short and printable, else a new one.
    fn request_id(&self, given: Option<HeaderValue>) -> HeaderValue {
        let given = given
            .filter(|v| !v.is_empty() && v.len() <= REQUEST_ID_LEN_MAX)
            .filter(|v| v.as_bytes().iter().all(|b| b.is_ascii_graphic()));
        match given {
            Some(v) => v,
            None => {
                let n = self.next_request.fetch_add(1, Ordering::Relaxed);
                HeaderValue::from_str(&format!("r{n:x}")).expect("ascii request id")
            }
        }
    }
}

/// Labels come from a closed set, so no client can grow `/metrics`: the route table's path
/// for a request that matches a row, else `unmatched`; the method of the row, else one of a
/// fixed few, else `other`.
pub fn labels(method: &Method, path: &str) -> (&'static str, &'static str) {
    if let Some(row) = super::openapi::route_for(method.as_str(), path) {
        return (row.route.path, row.route.verb.as_str());
    }
    let method = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    ("unmatched", method)
}

/// Wraps every route: counts and times it, logs it with its request id, and returns that id
/// in `X-Request-Id`.
pub fn instrument(
    state: Arc<ApiState>,
    inner: warp::filters::BoxedFilter<(Response,)>,
) -> warp::filters::BoxedFilter<(Response,)> {
    use warp::Filter;
    warp::any()
        .map(Instant::now)
        .and(warp::method())
        .and(warp::path::full())
        // Only this header, not a clone of the whole map (2% of the HTTP threads); a value
        // that is not visible ASCII is ignored, as a missing one is, never a 400.
        .and(
            warp::header::optional::<HeaderValue>("x-request-id")
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(inner)
        .map(
            move |started: Instant,
                  method: Method,
                  path: warp::path::FullPath,
                  given: Option<HeaderValue>,
                  res: Response| {
                let mut res = with_allow(res, path.as_str());
                let m = &state.metrics;
                let id = m.request_id(given);
                m.observe(&method, path.as_str(), res.status(), started);
                let status = res.status().as_u16();
                let id_str = id.to_str().unwrap_or("");
                if res.status().is_server_error() {
                    tracing::warn!(request_id = id_str, %method, path = path.as_str(), status, "request failed");
                } else {
                    tracing::debug!(request_id = id_str, %method, path = path.as_str(), status, "request");
                }
                res.headers_mut().insert("x-request-id", id);
                res
            },
        )
        .boxed()
}

/// A 405 says which methods the path has (RFC 9110 requires `Allow`), from the route
/// table; a path with none is not a route at all, so 404.
fn with_allow(mut res: Response, path: &str) -> Response {
    use super::openapi::{route_for, Verb};
    if res.status() != warp::http::StatusCode::METHOD_NOT_ALLOWED {
        return res;
    }
    let allowed: Vec<&str> = [Verb::Get, Verb::Post, Verb::Put, Verb::Patch, Verb::Delete]
        .into_iter()
        .filter(|v| route_for(v.as_str(), path).is_some())
        .map(Verb::as_str)
        .collect();
    if allowed.is_empty() {
        let code = super::error::Code::NotFound;
        return super::error::error_response(code.status(), code.as_str(), "no such route".into());
    }
    if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert("allow", v);
    }
    res
}

/// `GET /metrics`: Prometheus text format, for HQ credentials.
pub async fn scrape(state: Arc<ApiState>, p: Principal) -> Response {
    respond((|| {
        allow(&p, Capability::ChainAdmin, None, String::new)?;
        let m = &state.metrics;
        m.journal_queue
            .set(i64::try_from(state.registry.journal.queue_depth()).unwrap_or(i64::MAX));
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&m.registry.gather(), &mut buf)
            .map_err(|_| super::error::ApiError::Unavailable)?;
        let mut res = Response::new(buf.into());
        res.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        Ok(res)
    })())
}

#[cfg(test)]
mod tests {
    use super::labels;
    use warp::http::Method;

    struct Idle;
    impl actix::Actor for Idle {
        type Context = actix::Context<Self>;
    }

    /// Issue 22: each `Addr` clone could push one message past the mailbox's capacity, so
    /// the API's requests to one actor had no bound. Clones share one count now.
    #[test]
    fn requests_to_one_actor_are_bounded_whatever_the_clones() {
        actix::System::new().block_on(async {
            let addr = actix::Actor::start(Idle);
            let cap = crate::actors::MAILBOX_CAPACITY;
            let held: Vec<_> = (0..cap)
                .map(|_| super::InFlight::new(&addr.clone()).expect("admitted"))
                .collect();
            assert!(super::InFlight::new(&addr.clone()).is_err());
            let other = actix::Actor::start(Idle);
            assert!(
                super::InFlight::new(&other).is_ok(),
                "each actor has its own"
            );
            drop(held);
            assert!(super::InFlight::new(&addr).is_ok());
        });
    }

    #[test]
    fn labels_come_from_the_route_table_or_a_closed_set() {
        assert_eq!(
            labels(&Method::POST, "/v1/members/4294967297/deductions"),
            ("/v1/members/{member_id}/deductions", "POST")
        );
        assert_eq!(labels(&Method::GET, "/v1/zzz/1/../x"), ("unmatched", "GET"));
        let odd = Method::from_bytes(b"BREW").expect("a method token");
        assert_eq!(
            labels(&odd, "/v1/members/1/a/b/c/d/e/f/g/h"),
            ("unmatched", "other")
        );
        assert_eq!(labels(&Method::GET, "/"), ("unmatched", "GET"));
    }
}

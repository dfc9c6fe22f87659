//! Scenarios and load models.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{NaiveDate, NaiveDateTime};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::conn::Conn;
use crate::report::Report;
use crate::seed::Chain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// One deduction of 1 per request, spread over every member.
    Pos,
    /// One deduction of 1 per request, all on the first member.
    Hot,
    /// `batch_size` deductions per request through `POST /v1/ledger/batch`.
    Batch,
    /// 99-occurrence weekly plans over every resource; `plan_conflict_percent` of them
    /// are aimed at weeks an earlier plan took.
    Plans,
    /// Single appointments on random resources.
    Booking,
    /// 80% POS deductions, 20% HQ bookings.
    Mixed,
    /// Front-desk member searches, in turn: a 7-digit phone prefix, a name prefix
    /// (`member 1234`, about 11 hits), and the first 20 members of a home store.
    Search,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub enum LoadModel {
    /// `connections` workers, each sending its next request when the last answer arrives.
    Closed { connections: usize },
    /// `rate` requests per second on a fixed schedule, spread over `connections` workers;
    /// latency runs from each request's intended send time.
    Open { rate: u64, connections: usize },
}

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub scenario: Scenario,
    pub model: LoadModel,
    pub duration: Duration,
    pub batch_size: usize,
    /// Share of plan requests, in percent, aimed at a resource's weeks that an earlier plan
    /// took; the rest take weeks no one has.
    pub plan_conflict_percent: u8,
    /// API key sent as the bearer credential.
    pub token: Option<String>,
}

/// What the post-run check needs to know about what the server acknowledged.
#[derive(Debug, Default)]
pub struct Acks {
    /// Deductions of 1 acknowledged, per member.
    pub deducted: HashMap<u64, u64>,
    /// Deductions whose answer never came (transport error, timeout), per member.
    pub unknown: HashMap<u64, u64>,
    /// Acknowledged booking ids per resource.
    pub bookings: HashMap<u64, Vec<u64>>,
}

impl Acks {
    fn merge(&mut self, other: Acks) {
        for (k, v) in other.deducted {
            *self.deducted.entry(k).or_default() += v;
        }
        for (k, v) in other.unknown {
            *self.unknown.entry(k).or_default() += v;
        }
        for (k, v) in other.bookings {
            self.bookings.entry(k).or_default().extend(v);
        }
    }
}

pub(crate) struct Tally {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub operations: u64,
    pub errors: BTreeMap<String, u64>,
    pub acks: Acks,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds"),
            requests: 0,
            operations: 0,
            errors: BTreeMap::new(),
            acks: Acks::default(),
        }
    }

    fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.hist.add(&other.hist);
        self.requests += other.requests;
        self.operations += other.operations;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.acks.merge(other.acks);
    }
}

/// Monday 2027-01-04, 08:00: the first start the booking scenarios use.
const FIRST_START: NaiveDateTime = NaiveDate::from_ymd_opt(2027, 1, 4)
    .expect("a valid date")
    .and_hms_opt(8, 0, 0)
    .expect("a valid time");
/// Starts a day the booking scenarios use: 08:00 to 19:00, on the hour (services last an
/// hour).
const STARTS_A_DAY: u64 = 12;
/// A resource's weekly slots: 7 days of `STARTS_A_DAY`.
const PLAN_SLOTS: u64 = 7 * STARTS_A_DAY;
/// Occurrences of a plan, a week apart.
const PLAN_WEEKS: u64 = 99;
/// Weeks between one round of a resource's slots and the next: more than a plan lasts.
const PLAN_ROUND_WEEKS: u64 = PLAN_WEEKS + 1;
/// How many requests back a colliding plan looks for the one it meets.
const PLAN_COLLIDE_WINDOW: u64 = 4096;

fn mix(n: u64) -> u64 {
    // A cheap, well-spread hash (splitmix64) so picks don't follow the counter.
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Ctx {
    server: String,
    chain: Chain,
    spec: RunSpec,
    run: u64,
}

/// The part of a batch answer the tool reads; serde skips the rest unparsed.
#[derive(serde::Deserialize)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

#[derive(serde::Deserialize)]
struct BatchResult {
    status: u16,
    body: ErrorCode,
}

#[derive(serde::Deserialize)]
struct ErrorCode {
    code: Option<String>,
}

/// The ids in an appointment's or a plan's answer; serde skips the rest unparsed (as a
/// `Value`, a plan's 99 occurrences made the tool use more of the machine than the server).
#[derive(serde::Deserialize)]
struct BookedAnswer {
    id: Option<u64>,
    occurrences: Option<Vec<Booked>>,
}

#[derive(serde::Deserialize)]
struct Booked {
    id: u64,
}

fn code_of(body: &Value) -> String {
    body["code"].as_str().unwrap_or("unknown").to_owned()
}

impl Ctx {
    fn member(&self, n: u64) -> u64 {
        match self.spec.scenario {
            Scenario::Hot => self.chain.members[0],
            _ => self.chain.members[(mix(n) % self.chain.members.len() as u64) as usize],
        }
    }

    fn store(&self, n: u64) -> u64 {
        self.chain.stores[(mix(n ^ 0x55) % self.chain.stores.len() as u64) as usize]
    }

    async fn deduct(&self, c: &mut Conn, n: u64, t: &mut Tally) {
        let member = self.member(n);
        let path = format!("/v1/members/{member}/deductions");
        let key = format!("lt-{}-{n}", self.run);
        let body = format!("{{\"amount\":1,\"store_id\":{}}}", self.store(n)).into_bytes();
        match c.post(&path, Some(&key), body, false).await {
            Ok((201, _)) => {
                t.operations += 1;
                *t.acks.deducted.entry(member).or_default() += 1;
            }
            Ok((_, body)) => t.error(&code_of(&body)),
            Err(_) => {
                t.error("transport");
                *t.acks.unknown.entry(member).or_default() += 1;
            }
        }
    }

    async fn search(&self, c: &mut Conn, n: u64, t: &mut Tally) {
        let r = mix(n ^ 0x5ea7c4);
        let path = match n % 3 {
            0 => format!(
                "/v1/members/search?phone_prefix=1{:06}&limit=20",
                r % 1_000_000
            ),
            1 => format!(
                "/v1/members/search?name_prefix=member%20{}&limit=20",
                r % (self.chain.members.len() as u64).max(1)
            ),
            _ => format!(
                "/v1/members/search?home_store_id={}&limit=20",
                self.store(n)
            ),
        };
        match c.get_raw(&path).await {
            Ok((200, _)) => t.operations += 1,
            Ok((_, bytes)) => t.error(
                &serde_json::from_slice::<Value>(&bytes)
                    .map(|b| code_of(&b))
                    .unwrap_or_else(|_| "unknown".to_owned()),
            ),
            Err(_) => t.error("transport"),
        }
    }

    async fn batch(&self, c: &mut Conn, n: u64, t: &mut Tally) {
        use std::fmt::Write as _;
        let size = self.spec.batch_size as u64;
        let mut members = Vec::with_capacity(size as usize);
        let mut body = String::with_capacity(128 * size as usize);
        body.push_str("{\"operations\":[");
        for j in 0..size {
            let k = n * size + j;
            let member = self.member(k);
            members.push(member);
            if j > 0 {
                body.push(',');
            }
            let _ = write!(
                body,
                "{{\"idempotency_key\":\"lt-{}-{k}\",\"op\":\"deduct\",\"member_id\":{member},\"amount\":1,\"store_id\":{}}}",
                self.run,
                self.store(k)
            );
        }
        body.push_str("]}");
        let parsed = match c
            .post_raw("/v1/ledger/batch", None, body.into_bytes())
            .await
        {
            Ok((200, bytes)) => serde_json::from_slice::<BatchAnswer>(&bytes).ok(),
            Ok((status, _)) => {
                t.error(&format!("batch_{status}"));
                return;
            }
            Err(_) => None,
        };
        let Some(parsed) = parsed else {
            t.error("transport");
            for m in members {
                *t.acks.unknown.entry(m).or_default() += 1;
            }
            return;
        };
        for (member, r) in members.iter().zip(parsed.results) {
            if r.status == 201 {
                t.operations += 1;
                *t.acks.deducted.entry(*member).or_default() += 1;
            } else {
                t.error(r.body.code.as_deref().unwrap_or("unknown"));
            }
        }
    }

    fn resource(&self, n: u64) -> (u64, u64) {
        self.chain.resources[(mix(n ^ 0xA5A5) % self.chain.resources.len() as u64) as usize]
    }

    /// Whether plan request `n` is one aimed at weeks an earlier plan took.
    fn collides(&self, n: u64) -> bool {
        mix(n ^ 0xC0_11DE) % 100 < u64::from(self.spec.plan_conflict_percent)
    }

    /// Plan request `n`'s resource (and store) and first local start. A request that doesn't
    /// collide takes a weekly slot no other request takes: resource `n mod R`, that
    /// resource's slots in turn, in rounds far enough apart that rounds never meet. So the
    /// share of conflicts is what was asked for, however long the run. A colliding request
    /// takes the slot of a recent one that doesn't, some weeks later: it meets that plan in
    /// 1 to 99 occurrences, whichever of the two the server sees first.
    fn plan(&self, n: u64) -> ((u64, u64), NaiveDateTime) {
        let h = mix(n ^ 0x1234);
        let (mut fresh, mut weeks_later) = (n, 0);
        if self.collides(n) && n > 0 {
            let mut m = n - 1 - h % PLAN_COLLIDE_WINDOW.min(n);
            while m > 0 && self.collides(m) {
                m -= 1;
            }
            if !self.collides(m) {
                (fresh, weeks_later) = (m, (h >> 32) % PLAN_WEEKS);
            }
        }
        let count = self.chain.resources.len() as u64;
        let slot = fresh / count;
        let (round, slot) = (slot / PLAN_SLOTS, slot % PLAN_SLOTS);
        let weeks = round * PLAN_ROUND_WEEKS + weeks_later;
        let first = FIRST_START
            + chrono::Duration::weeks(weeks as i64)
            + chrono::Duration::days((slot / STARTS_A_DAY) as i64)
            + chrono::Duration::hours((slot % STARTS_A_DAY) as i64);
        (self.chain.resources[(fresh % count) as usize], first)
    }

    async fn book(&self, c: &mut Conn, n: u64, plan: bool, t: &mut Tally) {
        let member = self.member(n);
        let (resource, url, body) = if plan {
            let ((resource, store), first) = self.plan(n);
            let first = first.format("%Y-%m-%dT%H:%M").to_string();
            (
                resource,
                format!("/v1/stores/{store}/plans"),
                json!({"member_id": member, "service_id": self.chain.plan_service, "resource_ids": [resource],
                       "repeat": {"weekly": {"first_times": [first], "count": PLAN_WEEKS}}}),
            )
        } else {
            let (resource, store) = self.resource(n);
            let h = mix(n ^ 0x1234);
            let start = FIRST_START
                + chrono::Duration::days((h % 365) as i64)
                + chrono::Duration::hours(((h >> 16) % STARTS_A_DAY) as i64);
            (
                resource,
                format!("/v1/stores/{store}/appointments"),
                json!({"member_id": member, "service_id": self.chain.appointment_service, "resource_ids": [resource],
                       "start": start.format("%Y-%m-%dT%H:%M").to_string()}),
            )
        };
        let key = format!("lt-{}-b{n}", self.run);
        match c
            .post_raw(&url, Some(&key), body.to_string().into_bytes())
            .await
        {
            Ok((201, bytes)) => match serde_json::from_slice::<BookedAnswer>(&bytes) {
                Ok(answer) => {
                    t.operations += 1;
                    let ids: Vec<u64> = match answer.occurrences {
                        Some(o) => o.into_iter().map(|b| b.id).collect(),
                        None => answer.id.into_iter().collect(),
                    };
                    t.acks.bookings.entry(resource).or_default().extend(ids);
                }
                Err(_) => t.error("unreadable_answer"),
            },
            // A conflict report lists every failing occurrence: read only its code.
            Ok((_, bytes)) => t.error(
                &serde_json::from_slice::<ErrorCode>(&bytes)
                    .ok()
                    .and_then(|e| e.code)
                    .unwrap_or_else(|| "unknown".to_owned()),
            ),
            Err(_) => t.error("transport"),
        }
    }

    async fn one(&self, c: &mut Conn, n: u64, t: &mut Tally) {
        t.requests += 1;
        match self.spec.scenario {
            Scenario::Pos | Scenario::Hot => self.deduct(c, n, t).await,
            Scenario::Batch => self.batch(c, n, t).await,
            Scenario::Plans => self.book(c, n, true, t).await,
            Scenario::Booking => self.book(c, n, false, t).await,
            Scenario::Mixed if n.is_multiple_of(5) => self.book(c, n, false, t).await,
            Scenario::Mixed => self.deduct(c, n, t).await,
            Scenario::Search => self.search(c, n, t).await,
        }
    }
}

/// Releases an open loop's requests on schedule: one permit per request once its intended
/// time has come, from a plain thread that sleeps between releases. tokio's timer ticks in
/// whole milliseconds, and workers that spun out the last millisecond took 0.7 of the
/// machine's two cores from the server they measured. At `deadline` each of the `workers`
/// gets one more permit, whose number is past the deadline and ends it; requests already
/// due are still sent (late, and measured from when they were due).
fn start_pacer(
    started: Instant,
    interval: Duration,
    deadline: Instant,
    workers: usize,
    permits: Arc<Semaphore>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let step = interval.as_nanos().max(1);
        let mut released: u128 = 0;
        loop {
            let now = Instant::now();
            if now >= deadline {
                let before_deadline = (deadline - started).as_nanos().div_ceil(step);
                let rest = before_deadline.saturating_sub(released);
                permits.add_permits(usize::try_from(rest).unwrap_or(usize::MAX) + workers);
                return;
            }
            // Requests 0..due are due by now (see `due_at`).
            let due = (now - started).as_nanos() / step + 1;
            if due > released {
                permits.add_permits(usize::try_from(due - released).unwrap_or(usize::MAX));
                released = due;
            }
            let next = due_at(started, interval, released);
            std::thread::sleep(next.min(deadline).saturating_duration_since(Instant::now()));
        }
    })
}

/// When request `n` of an open loop is due: the pacer and the workers both use this, so a
/// number a worker takes is never later than the permits released for it.
fn due_at(started: Instant, interval: Duration, n: u128) -> Instant {
    let nanos = interval.as_nanos().saturating_mul(n);
    started + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Runs one scenario and returns the report (without the post-run check) and the acks.
pub async fn run(
    server: &str,
    chain: &Chain,
    spec: &RunSpec,
    progress: bool,
) -> Result<(Report, Acks)> {
    let books = matches!(
        spec.scenario,
        Scenario::Plans | Scenario::Booking | Scenario::Mixed
    );
    if chain.members.is_empty() || chain.stores.is_empty() || (books && chain.resources.is_empty())
    {
        anyhow::bail!(
            "the chain has no members, stores or resources to run {:?} on",
            spec.scenario
        );
    }
    let ctx = Arc::new(Ctx {
        server: server.to_owned(),
        chain: chain.clone(),
        spec: spec.clone(),
        run: crate::run_id(),
    });
    let counter = Arc::new(AtomicU64::new(0));
    let done_ops = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + spec.duration;
    let (workers, interval) = match spec.model {
        LoadModel::Closed { connections } => (connections.max(1), None),
        LoadModel::Open { rate, connections } => (
            connections.max(1),
            Some(Duration::from_secs_f64(1.0 / rate.max(1) as f64)),
        ),
    };
    let permits = Arc::new(Semaphore::new(0));
    let pacer = interval.map(|iv| start_pacer(started, iv, deadline, workers, permits.clone()));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (ctx, counter, done_ops) = (ctx.clone(), counter.clone(), done_ops.clone());
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::new();
            let mut conn = Conn::new(&ctx.server, ctx.spec.token.as_deref());
            loop {
                let (n, intended) = match interval {
                    None => (counter.fetch_add(1, Ordering::Relaxed), Instant::now()),
                    Some(iv) => {
                        // A permit first, then a number: every number taken is due.
                        match permits.acquire().await {
                            Ok(p) => p.forget(),
                            Err(_) => break, // never closed
                        }
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        (n, due_at(started, iv, u128::from(n)))
                    }
                };
                if intended >= deadline {
                    break;
                }
                let before = t.operations;
                ctx.one(&mut conn, n, &mut t).await;
                done_ops.fetch_add(t.operations - before, Ordering::Relaxed);
                let _ = t.hist.record(intended.elapsed().as_micros().max(1) as u64);
            }
            t
        }));
    }
    let ticker = progress.then(|| {
        let done_ops = done_ops.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = done_ops.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>5.1}s] {:>8} ops/s, {:>10} total",
                    started.elapsed().as_secs_f64(),
                    now - last,
                    now
                );
                last = now;
            }
        })
    });
    let mut all = Tally::new();
    for t in tasks {
        all.merge(t.await?);
    }
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(p) = pacer {
        let _ = p.join();
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((Report::new(spec, secs, &all), all.acks))
}

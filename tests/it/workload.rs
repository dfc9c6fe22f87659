//! Issue 22: a seeded random workload across the API (registrations, recharges,
//! deductions, refunds, deletes and restores, catalog changes, appointments, plans, moves,
//! cancellations, a manual close), with the server killed (SIGKILL) at random moments, and
//! on LazyFS (where it is built) every other kill followed by a power cut. After
//! every restart each request whose answer was lost is sent again under its key, and the
//! server is checked against a model of what was acknowledged. A failure prints its seed:
//! `CHAINSTORE_SEED=<seed> cargo test --release --test it workload -- --nocapture` runs it
//! again, and a seed worth keeping goes into `REGRESSION_SEEDS`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::harness::Server;

/// Monday 10:00 in Shanghai; the clock stands still, so every write is on `DAY`.
const CLOCK: &str = "2026-05-04T02:00:00Z";
const DAY: &str = "2026-05-04";
const WORKERS: usize = 6;
/// Seeds that once failed, run first on every CI run.
/// Both found a binned member holding money against d1a7dce (issue 22, item 1).
const REGRESSION_SEEDS: &[u64] = &[15_353_070_670_163_597_167, 12_459_661_037_294_130_706];

/// The short run of the test suite: a few kill cycles.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_workload_with_kills_keeps_every_invariant() {
    let seeds: Vec<u64> = match std::env::var("CHAINSTORE_SEED") {
        Ok(s) => vec![s.parse().expect("CHAINSTORE_SEED is a u64")],
        Err(_) => REGRESSION_SEEDS
            .iter()
            .copied()
            .chain([fresh_seed()])
            .collect(),
    };
    for seed in seeds {
        run(seed, 4, Duration::from_secs(6)).await;
    }
}

/// The soak: `CHAINSTORE_SOAK_SECS=600 make soak` (or the cargo line in the README).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long; run with make soak"]
async fn soak() {
    let secs: u64 = std::env::var("CHAINSTORE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        run(fresh_seed(), 10, Duration::from_secs(8)).await;
    }
}

fn fresh_seed() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("random seed");
    u64::from_le_bytes(b)
}

/// Runs one seeded workload; on a broken invariant it panics naming the seed.
async fn run(seed: u64, cycles: usize, cycle_max: Duration) {
    eprintln!("workload seed {seed}");
    let result = tokio::spawn(workload(seed, cycles, cycle_max)).await;
    if let Err(e) = result {
        panic!("workload seed {seed} failed (CHAINSTORE_SEED={seed} reruns it): {e}");
    }
}

/// One request as sent, so that it can be sent again under its key.
#[derive(Clone, Debug)]
struct Req {
    method: Method,
    path: String,
    key: String,
    body: Option<Value>,
    op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Register,
    Recharge {
        member: u64,
        store: u64,
    },
    Deduct {
        member: u64,
        store: u64,
    },
    Refund {
        member: u64,
    },
    Delete,
    Restore,
    Level,
    Appointment,
    Plan,
    Cancel,
    /// A checkout (`member: None` for a walk-in customer).
    Order,
    Return,
    Points,
    BuyCard {
        member: u64,
    },
    Consume,
    Restock {
        store: u64,
    },
    Exchange {
        store: u64,
    },
    IssueCoupon,
    Move,
    MoveAppointment,
    MemberLevel,
    EditMember,
    FollowUp,
    /// A recharge credited to the store's employee.
    CreditedRecharge {
        member: u64,
        store: u64,
    },
    /// Members brought in from a CSV file with opening balances.
    Import {
        store: u64,
    },
    /// The member's home store moved (会员转店).
    HomeMove {
        member: u64,
        to: u64,
    },
    /// A sale of the price list's product (a member's or a walk-in's) at `store`.
    ProductSale {
        store: u64,
    },
    /// 入库 of the product at `store`.
    ProductReceipt {
        store: u64,
    },
    /// One unit of a product sale back to the store that sold it.
    ProductReturn {
        store: u64,
    },
    /// A refund of part of a deduction asked for (退款申请).
    AskRefund,
    /// A manager's decision on a refund request: approved (the refund posted with it) or
    /// rejected.
    DecideRefund {
        member: u64,
        deduction: u64,
    },
    /// A member put in line for an appointment's slot (候补).
    JoinWaitlist,
    /// An entry's offer accepted, or the entry withdrawn.
    ActOnEntry,
}

#[derive(Default)]
struct Model {
    stores: Vec<u64>,
    resources: Vec<u64>,
    appt_service: u64,
    plan_service: u64,
    /// Member id -> phone, for every registration ever answered.
    members: HashMap<u64, String>,
    /// Members whose phone an edit changed: their registration's replay names the old one.
    edited: std::collections::HashSet<u64>,
    /// Member -> (seq, next date) of the latest follow-up answered.
    follow_ups: HashMap<u64, (u64, Option<String>)>,
    phones_used: u64,
    /// Member -> entry seq -> (kind, amount, store): every entry a 201 answered.
    entries: HashMap<u64, HashMap<u64, (&'static str, i64, u64)>>,
    /// (member, deduction seq, amount) of acknowledged deductions, for refunds.
    deductions: Vec<(u64, u64, i64)>,
    /// Acknowledged appointments and plans: id -> resource ids.
    appointments: Vec<u64>,
    plans: HashMap<u64, usize>,
    /// Paid orders, for returns; count cards (member, card), for consuming.
    orders: Vec<u64>,
    cards: Vec<(u64, u64)>,
    /// Gift stock each store should hold: acknowledged restocks less exchanges.
    stock: HashMap<u64, i64>,
    /// Product stock each store should hold: receipts less sales plus returns, and the
    /// product sales acknowledged (order -> store, units not returned).
    products: HashMap<u64, i64>,
    product_orders: HashMap<u64, (u64, i64)>,
    /// Units of each product order returned as far as the answers said.
    returned_units: HashMap<u64, i64>,
    /// Refund requests acknowledged: id -> (member, amount asked, deduction seq).
    refund_requests: HashMap<u64, (u64, i64, u64)>,
    /// Appointments' slots as booked: (store, resource, local start).
    slots: Vec<(u64, u64, String)>,
    /// Waitlist entries acknowledged, and those accepted: entry -> (member, booking).
    waitlist: Vec<u64>,
    accepted: HashMap<u64, (u64, u64)>,
    /// Every answered request with its status and body, for replays.
    answered: Vec<(Req, StatusCode, Value)>,
    /// Sent and not answered (the server died): sent again after the restart.
    unknown: Vec<Req>,
    /// The sealed record of the day closed by hand, once it is.
    sealed: Option<(u64, Value)>,
    violations: Vec<String>,
    /// Each store's employee, and the recharges acknowledged as theirs: (member, seq) ->
    /// amount.
    employees: HashMap<u64, u64>,
    credited: HashMap<u64, HashMap<(u64, u64), i64>>,
    /// Successful answers by operation, to show what a run exercised.
    done: std::collections::BTreeMap<&'static str, usize>,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Recharge { .. } => "recharge",
            Op::Deduct { .. } => "deduct",
            Op::Refund { .. } => "refund",
            Op::Delete => "delete",
            Op::Restore => "restore",
            Op::Level => "level",
            Op::Appointment => "appointment",
            Op::Plan => "plan",
            Op::Cancel => "cancel",
            Op::Order => "order",
            Op::Return => "return",
            Op::Points => "points",
            Op::BuyCard { .. } => "buy_card",
            Op::Consume => "consume",
            Op::Restock { .. } => "restock",
            Op::Exchange { .. } => "exchange",
            Op::IssueCoupon => "issue_coupon",
            Op::Move => "move",
            Op::MoveAppointment => "move_appointment",
            Op::MemberLevel => "member_level",
            Op::EditMember => "edit_member",
            Op::FollowUp => "follow_up",
            Op::CreditedRecharge { .. } => "credited_recharge",
            Op::Import { .. } => "import",
            Op::HomeMove { .. } => "home_move",
            Op::ProductSale { .. } => "product_sale",
            Op::ProductReceipt { .. } => "product_receipt",
            Op::ProductReturn { .. } => "product_return",
            Op::AskRefund => "ask_refund",
            Op::DecideRefund { .. } => "decide_refund",
            Op::JoinWaitlist => "join_waitlist",
            Op::ActOnEntry => "act_on_entry",
        }
    }
}

impl Model {
    /// The order's units returned so far, as its answer says: the stock gains what this
    /// answer adds to what the model counted before.
    fn product_returned(&mut self, order: u64, store: u64, returned_now: i64) {
        let Some((_, counted)) = self.returned_units.get(&order).copied().map(|c| (store, c))
        else {
            self.returned_units.insert(order, returned_now);
            *self.products.entry(store).or_default() += returned_now;
            return;
        };
        if returned_now > counted {
            self.returned_units.insert(order, returned_now);
            *self.products.entry(store).or_default() += returned_now - counted;
        }
    }

    fn violation(&mut self, v: String) {
        eprintln!("VIOLATION: {v}");
        self.violations.push(v);
    }

    /// Takes an answer into the model, checking what can be checked at once.
    fn answered(&mut self, req: Req, status: StatusCode, body: Value) {
        let entry = |body: &Value| body["entry_seq"].as_u64();
        match req.op {
            Op::Register if status == StatusCode::CREATED => {
                let id = body["id"].as_u64().unwrap_or(0);
                let phone = body["phone"].as_str().unwrap_or("").to_owned();
                if let Some(old) = self.members.get(&id) {
                    if *old != phone && !self.edited.contains(&id) {
                        self.violation(format!("member id {id} issued again: {old} and {phone}"));
                    }
                }
                self.members.insert(id, phone);
            }
            Op::FollowUp if status == StatusCode::CREATED => {
                let member = body["member_id"].as_u64().unwrap_or(0);
                let seq = body["seq"].as_u64().unwrap_or(0);
                let next = body["next_on"].as_str().map(str::to_owned);
                let latest = self.follow_ups.entry(member).or_insert((0, None));
                if seq > latest.0 {
                    *latest = (seq, next);
                }
            }
            Op::EditMember if status == StatusCode::OK => {
                let id = body["id"].as_u64().unwrap_or(0);
                if let Some(phone) = body["phone"].as_str() {
                    if self.members.get(&id).is_some_and(|p| p != phone) {
                        self.edited.insert(id);
                    }
                    self.members.insert(id, phone.to_owned());
                }
            }
            Op::Import { store } if status == StatusCode::OK => {
                let csv = req
                    .body
                    .as_ref()
                    .and_then(|b| b["csv"].as_str())
                    .unwrap_or("")
                    .to_owned();
                let lines: Vec<&str> = csv.lines().skip(1).collect();
                for row in body["rows"].as_array().cloned().unwrap_or_default() {
                    let (Some(n), Some(id)) = (row["row"].as_u64(), row["member_id"].as_u64())
                    else {
                        continue;
                    };
                    if row["status"] != "imported" {
                        continue;
                    }
                    let fields: Vec<&str> = lines
                        .get(n as usize - 1)
                        .map(|l| l.split(',').collect())
                        .unwrap_or_default();
                    let phone = fields.first().copied().unwrap_or("").to_owned();
                    if let Some(old) = self.members.get(&id) {
                        if *old != phone && !self.edited.contains(&id) {
                            self.violation(format!("imported member {id}: {old} and {phone}"));
                        }
                    }
                    self.members.entry(id).or_insert(phone);
                    let balance: i64 = fields.get(2).and_then(|b| b.parse().ok()).unwrap_or(0);
                    if balance > 0 {
                        self.entry(id, 1, ("opening", balance, store), &req.key);
                    }
                }
            }
            Op::HomeMove { member, to } if status == StatusCode::OK => {
                if let Some(seq) = entry(&body) {
                    let settled = body["settled"].as_i64().unwrap_or(0);
                    self.entry(member, seq, ("home_move", settled, to), &req.key);
                }
            }
            Op::CreditedRecharge { member, store } if status == StatusCode::CREATED => {
                if let (Some(seq), Some(e)) = (entry(&body), self.employees.get(&store).copied()) {
                    let amount = body["amount"].as_i64().unwrap_or(0);
                    self.credited
                        .entry(e)
                        .or_default()
                        .insert((member, seq), amount);
                    self.entry(member, seq, ("recharge", amount, store), &req.key);
                }
            }
            Op::Recharge { member, store } | Op::Deduct { member, store }
                if status == StatusCode::CREATED =>
            {
                let Some(seq) = entry(&body) else {
                    self.violation(format!("201 without entry_seq: {body}"));
                    return;
                };
                let kind = if matches!(req.op, Op::Recharge { .. }) {
                    "recharge"
                } else {
                    "deduction"
                };
                let amount = body["amount"].as_i64().unwrap_or(0);
                if kind == "deduction" {
                    self.deductions.push((member, seq, amount));
                }
                self.entry(member, seq, (kind, amount, store), &req.key);
            }
            Op::Refund { member } if status == StatusCode::CREATED => {
                if let Some(seq) = entry(&body) {
                    let amount = body["amount"].as_i64().unwrap_or(0);
                    let store = body["store_id"].as_u64().unwrap_or(0);
                    self.entry(member, seq, ("refund", amount, store), &req.key);
                }
            }
            Op::Appointment if status == StatusCode::CREATED => {
                if let Some(id) = body["id"].as_u64() {
                    self.appointments.push(id);
                }
                if let (Some(store), Some(resource), Some(start)) = (
                    body["store_id"].as_u64(),
                    body["resource_ids"][0].as_u64(),
                    body["local_start"].as_str(),
                ) {
                    self.slots.push((store, resource, start[..16].to_owned()));
                }
            }
            Op::JoinWaitlist if status == StatusCode::CREATED => {
                if let Some(id) = body["id"].as_u64() {
                    self.waitlist.push(id);
                }
            }
            Op::ActOnEntry if status == StatusCode::OK && body["state"] == "accepted" => {
                if let (Some(id), Some(member), Some(booking)) = (
                    body["id"].as_u64(),
                    body["member_id"].as_u64(),
                    body["booking_id"].as_u64(),
                ) {
                    self.accepted.insert(id, (member, booking));
                }
            }
            Op::Plan if status == StatusCode::CREATED => {
                if let Some(id) = body["id"].as_u64() {
                    let n = body["occurrences"].as_array().map_or(0, Vec::len);
                    self.plans.insert(id, n);
                }
            }
            Op::Order if status == StatusCode::CREATED => {
                // A member's checkout answers its order; a walk-in answers the order itself.
                if let Some(id) = body["order"]["id"].as_u64().or(body["id"].as_u64()) {
                    self.orders.push(id);
                }
            }
            Op::Restock { store } if status.is_success() => {
                let delta = req
                    .body
                    .as_ref()
                    .map_or(0, |b| b["delta"].as_i64().unwrap_or(0));
                *self.stock.entry(store).or_default() += delta;
            }
            Op::Exchange { store } if status.is_success() => {
                let q = req
                    .body
                    .as_ref()
                    .map_or(0, |b| b["quantity"].as_i64().unwrap_or(0));
                *self.stock.entry(store).or_default() -= q;
            }
            Op::ProductSale { store } if status == StatusCode::CREATED => {
                let q = req
                    .body
                    .as_ref()
                    .map_or(0, |b| b["lines"][0]["quantity"].as_i64().unwrap_or(0));
                *self.products.entry(store).or_default() -= q;
                if let Some(id) = body["order"]["id"].as_u64().or(body["id"].as_u64()) {
                    self.product_orders.insert(id, (store, q));
                }
            }
            Op::ProductReceipt { store } if status == StatusCode::CREATED => {
                let q = req
                    .body
                    .as_ref()
                    .map_or(0, |b| b["lines"][0]["quantity"].as_i64().unwrap_or(0));
                *self.products.entry(store).or_default() += q;
            }
            Op::ProductReturn { store } if status.is_success() => {
                let id = body["order"]["id"].as_u64().or(body["id"].as_u64());
                // Answers come in any order, replays included: the order's returned units
                // grow to the largest any answer showed.
                let back = body["order"]["returned"]["quantities"][0]
                    .as_i64()
                    .or(body["returned"]["quantities"][0].as_i64())
                    .unwrap_or(0);
                if let Some(id) = id {
                    self.product_returned(id, store, back);
                }
            }
            Op::AskRefund if status == StatusCode::CREATED => {
                if let (Some(id), Some(member), Some(amount), Some(seq)) = (
                    body["id"].as_u64(),
                    body["member_id"].as_u64(),
                    body["amount"].as_i64(),
                    body["entry_seq"].as_u64(),
                ) {
                    self.refund_requests.insert(id, (member, amount, seq));
                }
            }
            Op::DecideRefund { member, deduction } if status == StatusCode::OK => {
                // An approval answers the refund entry it posted, and how much; the refund
                // is the deduction's store's.
                if let (Some(seq), Some(amount)) = (
                    body["refund_entry_seq"].as_u64(),
                    body["granted_amount"].as_i64(),
                ) {
                    let store = self
                        .entries
                        .get(&member)
                        .and_then(|e| e.get(&deduction))
                        .map_or(0, |e| e.2);
                    self.entry(member, seq, ("refund", amount, store), &req.key);
                }
            }
            Op::BuyCard { member } if status == StatusCode::CREATED => {
                if let Some(card) = body["card_id"].as_u64() {
                    self.cards.push((member, card));
                }
            }
            _ => {}
        }
        // Counter operations that move stored value answer the entry they posted.
        let counter = matches!(
            req.op,
            Op::Order | Op::Return | Op::Points | Op::BuyCard { .. } | Op::Consume
        );
        if counter && status == StatusCode::CREATED {
            let e = &body["entry"];
            if let (Some(seq), Some(member)) = (e["entry_seq"].as_u64(), e["member_id"].as_u64()) {
                let kind = match e["kind"].as_str() {
                    Some("recharge") => "recharge",
                    Some("deduction") => "deduction",
                    Some("refund") => "refund",
                    _ => "other",
                };
                let amount = e["amount"].as_i64().unwrap_or(0);
                let store = e["store_id"].as_u64().unwrap_or(0);
                if kind == "deduction" {
                    self.deductions.push((member, seq, amount));
                }
                self.entry(member, seq, (kind, amount, store), &req.key);
            }
        }
        if status.is_success() {
            *self.done.entry(req.op.name()).or_default() += 1;
        }
        if status.is_server_error() {
            self.violation(format!(
                "{} {} answered {status}: {body}",
                req.method, req.path
            ));
        }
        self.answered.push((req, status, body));
    }

    fn entry(&mut self, member: u64, seq: u64, e: (&'static str, i64, u64), key: &str) {
        let known = self.entries.entry(member).or_default();
        if let Some(old) = known.insert(seq, e) {
            if old != e {
                self.violation(format!(
                    "entry {seq} of member {member} acknowledged twice ({old:?}, {e:?}, key {key})"
                ));
            }
        }
    }
}

async fn send(client: &Client, base: &str, req: &Req) -> Result<(StatusCode, Value), ()> {
    let mut b = client
        .request(req.method.clone(), format!("{base}{}", req.path))
        .header("Idempotency-Key", &req.key)
        .timeout(Duration::from_secs(30));
    if let Some(body) = &req.body {
        b = b.json(body);
    }
    let res = b.send().await.map_err(|_| ())?;
    let status = res.status();
    // The random workload is held to the document too (`contract`).
    let sent_body = req
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).expect("JSON"));
    let sent = crate::contract::Sent {
        method: req.method.as_str(),
        path: req.path.split('?').next().unwrap_or(""),
        query: req.path.split_once('?').map(|(_, q)| q),
        idempotency_key: Some(&req.key),
        content_type: req.body.as_ref().map(|_| "application/json"),
        body: sent_body.as_deref(),
    };
    let bytes = crate::contract::checked_body(&sent, res)
        .await
        .map_err(|_| ())?;
    let body = serde_json::from_slice(&bytes).map_err(|_| ())?;
    Ok((status, body))
}

async fn setup(server: &Server, model: &mut Model) {
    for (i, name) in ["Jing an", "Minhang"].iter().enumerate() {
        let (status, body) = server
            .post(
                "/v1/stores",
                &format!("setup-store-{i}"),
                json!({"name": name, "time_zone": "Asia/Shanghai"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let store = body["id"].as_u64().unwrap();
        model.stores.push(store);
        for r in 0..2 {
            let (status, body) = server
                .post(
                    &format!("/v1/stores/{store}/resources"),
                    &format!("setup-res-{i}-{r}"),
                    json!({"name": format!("Therapist {r}"), "kind": "therapist", "capacity": 1}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            model.resources.push(body["id"].as_u64().unwrap());
        }
    }
    let (status, _) = server
        .put(
            "/v1/settings",
            "setup-settings",
            json!({"service_plans_enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (mode, key) in [
        ("appointment", "setup-svc-a"),
        ("service_plan", "setup-svc-p"),
    ] {
        let (status, body) = server
            .post(
                "/v1/services",
                key,
                json!({"name": mode, "duration_minutes": 60, "booking_mode": mode, "resource_kinds": ["therapist"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_u64().unwrap();
        if mode == "appointment" {
            model.appt_service = id;
        } else {
            model.plan_service = id;
        }
    }
    let (status, body) = server
        .put(
            "/v1/items/1",
            "setup-item",
            json!({"name": "Serum", "kind": "product", "category": "care", "price": 500}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put(
            "/v1/gifts/1",
            "setup-gift",
            json!({"name": "Mug", "points": 50}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put(
            "/v1/coupon-templates/1",
            "setup-coupon",
            json!({"name": "5 off", "amount_off": 500, "min_spend": 1000, "store_ids": [],
                "valid_from": "2026-01-01", "valid_until": "2027-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (i, &store) in model.stores.clone().iter().enumerate() {
        let (status, body) = server
            .post(
                "/v1/employees",
                &format!("setup-employee-{i}"),
                json!({"name": format!("Employee {i}"), "store_ids": [store]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        model.employees.insert(store, body["id"].as_u64().unwrap());
    }
    // The second store closes its day by hand in the second cycle.
    let store = model.stores[1];
    server.close_by_hand(store).await;
}

/// A local start a booking may be moved to: a whole hour of the second half of 2026.
fn move_to(rng: &mut StdRng) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:00",
        rng.gen_range(6..12),
        rng.gen_range(1..28),
        rng.gen_range(8..20)
    )
}

/// The next request of a worker, drawn from what the model holds now.
fn next_request(rng: &mut StdRng, m: &mut Model, key: String) -> Req {
    let members: Vec<u64> = m.members.keys().copied().collect();
    let pick = |rng: &mut StdRng, v: &[u64]| v[rng.gen_range(0..v.len())];
    let store = pick(rng, &m.stores);
    let roll = rng.gen_range(0..212);
    let post = |path: String, body: Value, op: Op| Req {
        method: Method::POST,
        path,
        key: key.clone(),
        body: Some(body),
        op,
    };
    if members.is_empty() || roll < 10 {
        m.phones_used += 1;
        let phone = format!("139{:08}", m.phones_used);
        return post(
            "/v1/members".into(),
            json!({"phone": phone, "name": "Member", "home_store_id": store}),
            Op::Register,
        );
    }
    let member = pick(rng, &members);
    match roll {
        10..=11 => {
            // A phone some member holds or held: refused, or taken over from the bin.
            let phone = m.members[&member].clone();
            post(
                "/v1/members".into(),
                json!({"phone": phone, "name": "Again", "home_store_id": store}),
                Op::Register,
            )
        }
        12..=36 => post(
            format!("/v1/members/{member}/recharges"),
            json!({"amount": rng.gen_range(1..50_000), "store_id": store}),
            Op::Recharge { member, store },
        ),
        37..=59 => post(
            format!("/v1/members/{member}/deductions"),
            json!({"amount": rng.gen_range(1..20_000), "store_id": store}),
            Op::Deduct { member, store },
        ),
        60..=66 if !m.deductions.is_empty() => {
            let (member, seq, amount) = m.deductions[rng.gen_range(0..m.deductions.len())];
            post(
                format!("/v1/members/{member}/refunds"),
                json!({"deduction_seq": seq, "amount": rng.gen_range(1..=amount.max(1))}),
                Op::Refund { member },
            )
        }
        67..=72 => Req {
            method: Method::DELETE,
            path: format!("/v1/members/{member}"),
            key: key.clone(),
            body: None,
            op: Op::Delete,
        },
        73..=77 => Req {
            method: Method::POST,
            path: format!("/v1/recycle-bin/member/{member}/restore"),
            key: key.clone(),
            body: None,
            op: Op::Restore,
        },
        78..=80 => Req {
            method: Method::PUT,
            path: format!("/v1/levels/{}", rng.gen_range(0..2)),
            key: key.clone(),
            body: Some(
                json!({"name": "Base", "price_rate_bp": 10_000, "points_per_yuan": 1,
                "recharge_tiers": [{"min": 10_000, "bonus": rng.gen_range(0..=1_000)}]}),
            ),
            op: Op::Level,
        },
        81..=90 => {
            let resource = pick(rng, &m.resources);
            let home = resource >> 32;
            let start = format!(
                "2026-05-{:02}T{:02}:{:02}",
                rng.gen_range(5..28),
                rng.gen_range(8..20),
                [0, 30][rng.gen_range(0..2)]
            );
            post(
                format!("/v1/stores/{home}/appointments"),
                json!({"member_id": member, "service_id": m.appt_service, "start": start, "resource_ids": [resource]}),
                Op::Appointment,
            )
        }
        91..=94 => {
            let resource = pick(rng, &m.resources);
            let home = resource >> 32;
            let first = format!(
                "2026-{:02}-{:02}T{:02}:00",
                rng.gen_range(6..12),
                rng.gen_range(1..28),
                rng.gen_range(8..20)
            );
            post(
                format!("/v1/stores/{home}/plans"),
                json!({"member_id": member, "service_id": m.plan_service, "resource_ids": [resource],
                    "repeat": {"weekly": {"first_times": [first], "count": 5}}}),
                Op::Plan,
            )
        }
        100..=107 | 112..=115 => {
            let price = rng.gen_range(100..10_000);
            let quantity = rng.gen_range(1..4);
            let total = price * quantity;
            let walk_in = roll >= 112;
            let stored = if walk_in { 0 } else { rng.gen_range(0..=total) };
            let mut body = json!({"store_id": store,
                "lines": [{"sku": format!("SKU-{}", rng.gen_range(0..20)), "unit_price": price, "quantity": quantity}],
                "payment": {"stored_value": stored, "points": 0,
                    "tenders": if total > stored { json!([{"kind": "cash", "amount": total - stored}]) } else { json!([]) }}});
            if !walk_in {
                body["member_id"] = json!(member);
            }
            post("/v1/orders".into(), body, Op::Order)
        }
        108..=111 if !m.orders.is_empty() => {
            let order = m.orders[rng.gen_range(0..m.orders.len())];
            post(
                format!("/v1/orders/{order}/returns"),
                json!({"lines": [{"line": 0, "quantity": 1}]}),
                Op::Return,
            )
        }
        116..=119 => post(
            format!("/v1/members/{member}/points"),
            json!({"delta": rng.gen_range(-50..200), "reason": "adjustment", "store_id": member >> 32}),
            Op::Points,
        ),
        120..=124 => {
            let paid_with = ["stored_value", "cash"][rng.gen_range(0..2)];
            post(
                format!("/v1/members/{member}/count-cards"),
                json!({"service_id": m.appt_service, "sessions": rng.gen_range(1..5),
                "price": rng.gen_range(0..5_000), "store_id": store,
                "paid_with": paid_with}),
                Op::BuyCard { member },
            )
        }
        125..=129 if !m.cards.is_empty() => {
            let (member, card) = m.cards[rng.gen_range(0..m.cards.len())];
            post(
                format!("/v1/members/{member}/count-cards/{card}/consume"),
                json!({"sessions": 1, "store_id": member >> 32}),
                Op::Consume,
            )
        }
        130..=133 => post(
            format!("/v1/stores/{store}/gifts/1/stock"),
            json!({"delta": rng.gen_range(-3..10)}),
            Op::Restock { store },
        ),
        134..=139 => post(
            format!("/v1/members/{member}/gift-exchanges"),
            json!({"gift_id": 1, "quantity": rng.gen_range(1..3), "store_id": store}),
            Op::Exchange { store },
        ),
        140..=143 => post(
            format!("/v1/members/{member}/coupons"),
            json!({"template_id": 1, "store_id": member >> 32}),
            Op::IssueCoupon,
        ),
        144..=149 if !m.plans.is_empty() => {
            let plans: Vec<u64> = m.plans.keys().copied().collect();
            let plan = plans[rng.gen_range(0..plans.len())];
            post(
                format!("/v1/plans/{plan}/occurrences/{}/move", rng.gen_range(1..6)),
                json!({"start": move_to(rng)}),
                Op::Move,
            )
        }
        174..=177 => {
            let employee = m.employees.get(&store).copied().unwrap_or(0);
            post(
                format!("/v1/members/{member}/recharges"),
                json!({"amount": rng.gen_range(1..50_000), "store_id": store,
                       "employee_id": employee}),
                Op::CreditedRecharge { member, store },
            )
        }
        182..=185 => post(
            format!("/v1/members/{member}/home-store"),
            json!({"home_store_id": store}),
            Op::HomeMove { member, to: store },
        ),
        178..=181 => {
            let mut csv = "phone,name,balance,points\n".to_owned();
            for _ in 0..rng.gen_range(1..3) {
                m.phones_used += 1;
                let balance = if rng.gen_bool(0.7) {
                    rng.gen_range(1..30_000)
                } else {
                    0
                };
                csv.push_str(&format!(
                    "139{:08},Imported,{balance},{}\n",
                    m.phones_used,
                    rng.gen_range(0..100)
                ));
            }
            post(
                "/v1/members/imports".into(),
                json!({"home_store_id": store, "csv": csv}),
                Op::Import { store },
            )
        }
        168..=173 => {
            let next = rng
                .gen_bool(0.7)
                .then(|| format!("2026-05-{:02}", rng.gen_range(4..=31)));
            post(
                format!("/v1/members/{member}/follow-ups"),
                json!({"channel": "phone", "note": "called", "next_on": next}),
                Op::FollowUp,
            )
        }
        160..=167 => {
            // A new phone, another member's (refused while it is theirs), or tags only.
            let mut body =
                json!({"tags": if rng.gen_bool(0.5) { json!(["vip"]) } else { json!([]) }});
            match rng.gen_range(0..3) {
                0 => {
                    m.phones_used += 1;
                    body["phone"] = json!(format!("139{:08}", m.phones_used));
                }
                1 => body["phone"] = json!(m.members[&pick(rng, &members)].clone()),
                _ => {}
            }
            Req {
                method: Method::PATCH,
                path: format!("/v1/members/{member}"),
                key: key.clone(),
                body: Some(body),
                op: Op::EditMember,
            }
        }
        156..=159 => post(
            format!("/v1/members/{member}/level"),
            json!({"level_id": rng.gen_range(0..2), "reason": "by hand", "store_id": member >> 32}),
            Op::MemberLevel,
        ),
        150..=155 if !m.appointments.is_empty() => {
            let id = m.appointments[rng.gen_range(0..m.appointments.len())];
            post(
                format!("/v1/appointments/{id}/move"),
                json!({"start": move_to(rng)}),
                Op::MoveAppointment,
            )
        }
        186..=189 => {
            let quantity = rng.gen_range(1..4);
            let total = 500 * quantity;
            let mut body = json!({"store_id": store,
                "lines": [{"item_id": 1, "quantity": quantity}],
                "payment": {"tenders": [{"kind": "cash", "amount": total}]}});
            if rng.gen_bool(0.5) {
                body["member_id"] = json!(member);
            }
            post("/v1/orders".into(), body, Op::ProductSale { store })
        }
        190..=192 => post(
            format!("/v1/stores/{store}/stock-moves"),
            json!({"kind": "receipt", "lines": [{"item_id": 1, "quantity": rng.gen_range(1..6)}]}),
            Op::ProductReceipt { store },
        ),
        193..=195 if !m.product_orders.is_empty() => {
            let orders: Vec<(u64, u64)> = m
                .product_orders
                .iter()
                .map(|(o, (s, _))| (*o, *s))
                .collect();
            let (order, store) = orders[rng.gen_range(0..orders.len())];
            post(
                format!("/v1/orders/{order}/returns"),
                json!({"lines": [{"line": 0, "quantity": 1}]}),
                Op::ProductReturn { store },
            )
        }
        196..=199 if !m.deductions.is_empty() => {
            let (member, seq, amount) = m.deductions[rng.gen_range(0..m.deductions.len())];
            post(
                format!("/v1/members/{member}/refund-requests"),
                json!({"kind": "deduction", "entry_seq": seq,
                       "amount": rng.gen_range(1..=amount.max(1)), "reason": "asked at the till"}),
                Op::AskRefund,
            )
        }
        200..=203 if !m.refund_requests.is_empty() => {
            let ids: Vec<u64> = m.refund_requests.keys().copied().collect();
            let id = ids[rng.gen_range(0..ids.len())];
            let (member, asked, deduction) = m.refund_requests[&id];
            if rng.gen_bool(0.25) {
                post(
                    format!("/v1/refund-requests/{id}/reject"),
                    json!({"reason": "not refundable"}),
                    Op::DecideRefund { member, deduction },
                )
            } else {
                post(
                    format!("/v1/refund-requests/{id}/approve"),
                    json!({"amount": rng.gen_range(1..=asked.max(1))}),
                    Op::DecideRefund { member, deduction },
                )
            }
        }
        204..=207 if !m.slots.is_empty() => {
            let (store, resource, start) = m.slots[rng.gen_range(0..m.slots.len())].clone();
            post(
                format!("/v1/stores/{store}/waitlist"),
                json!({"member_id": member, "service_id": m.appt_service, "start": start,
                       "resource_ids": [resource]}),
                Op::JoinWaitlist,
            )
        }
        208..=211 if !m.waitlist.is_empty() => {
            let id = m.waitlist[rng.gen_range(0..m.waitlist.len())];
            let action = if rng.gen_bool(0.7) {
                "accept"
            } else {
                "withdraw"
            };
            Req {
                method: Method::POST,
                path: format!("/v1/waitlist/{id}/{action}"),
                key: key.clone(),
                body: None,
                op: Op::ActOnEntry,
            }
        }
        _ if !m.appointments.is_empty() => {
            let id = m.appointments[rng.gen_range(0..m.appointments.len())];
            Req {
                method: Method::POST,
                path: format!("/v1/appointments/{id}/cancel"),
                key: key.clone(),
                body: None,
                op: Op::Cancel,
            }
        }
        _ => post(
            format!("/v1/members/{member}/recharges"),
            json!({"amount": 100, "store_id": store}),
            Op::Recharge { member, store },
        ),
    }
}

async fn workload(seed: u64, cycles: usize, cycle_max: Duration) {
    let dir = tempfile::tempdir().unwrap();
    // On LazyFS when it is there: then a power cut follows every other kill.
    let mount = crate::powercut::lazyfs().map(|l| crate::powercut::Mount::new(&l));
    let data = match &mount {
        Some(m) => m.mnt.join("data"),
        None => dir.path().join("data"),
    };
    let mut server = Server::start_with_clock(&data, Some(CLOCK));
    let model = Arc::new(Mutex::new(Model::default()));
    setup(&server, &mut *model.lock().await).await;
    let mut rng = StdRng::seed_from_u64(seed);
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (client, base) = (server.client.clone(), server.base.clone());
            let (model, stop) = (model.clone(), stop.clone());
            let mut wrng = StdRng::seed_from_u64(seed ^ ((cycle * WORKERS + w) as u64 + 1) << 20);
            workers.push(tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let req = {
                        let mut m = model.lock().await;
                        next_request(&mut wrng, &mut m, format!("s{seed}-c{cycle}-w{w}-{n}"))
                    };
                    match send(&client, &base, &req).await {
                        Ok((status, body)) => model.lock().await.answered(req, status, body),
                        Err(()) => {
                            model.lock().await.unknown.push(req);
                            return;
                        }
                    }
                }
            }));
        }
        let run_for = Duration::from_millis(rng.gen_range(500..cycle_max.as_millis() as u64));
        let close_at = (cycle == 1).then(|| run_for / 2);
        if let Some(at) = close_at {
            tokio::time::sleep(at).await;
            close_day(&server, &model).await;
            tokio::time::sleep(run_for - at).await;
        } else {
            tokio::time::sleep(run_for).await;
        }
        // SIGKILL with requests in flight; workers stop at their first lost answer.
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("worker");
        }
        if let Some(m) = mount.as_ref().filter(|_| cycle % 2 == 1) {
            eprintln!("seed {seed} cycle {cycle}: power cut");
            m.cut_power();
        }
        server = Server::start_with_clock(&data, Some(CLOCK));
        retry_unknown(&server, &model).await;
        check(&server, &model, &mut rng).await;
        let m = model.lock().await;
        eprintln!(
            "seed {seed} cycle {cycle}: {} answers, {} members, {} entries; done {:?}",
            m.answered.len(),
            m.members.len(),
            m.entries.values().map(HashMap::len).sum::<usize>(),
            m.done
        );
        assert!(m.violations.is_empty(), "seed {seed}: {:#?}", m.violations);
    }
}

async fn close_day(server: &Server, model: &Mutex<Model>) {
    let store = model.lock().await.stores[1];
    let (status, sealed) = server
        .post(
            &format!("/v1/stores/{store}/closings"),
            "close-1",
            json!({}),
        )
        .await;
    if status != StatusCode::CREATED {
        model
            .lock()
            .await
            .violation(format!("manual close answered {status}: {sealed}"));
        return;
    }
    let mut m = model.lock().await;
    m.sealed = Some((store, sealed));
}

/// Every request whose answer was lost, again under its key, in the order first sent.
async fn retry_unknown(server: &Server, model: &Mutex<Model>) {
    let unknown = std::mem::take(&mut model.lock().await.unknown);
    for req in unknown {
        let (status, body) = send(&server.client, &server.base, &req)
            .await
            .expect("retry after restart");
        model.lock().await.answered(req, status, body);
    }
}

async fn check(server: &Server, model: &Mutex<Model>, rng: &mut StdRng) {
    let mut m = model.lock().await;
    // An accepted offer is its member's appointment, and the entry says so.
    let accepted: Vec<(u64, (u64, u64))> = m.accepted.iter().map(|(k, v)| (*k, *v)).collect();
    for (entry, (member, booking)) in accepted {
        let (_, e) = server.get(&format!("/v1/waitlist/{entry}")).await;
        let (_, b) = server.get(&format!("/v1/appointments/{booking}")).await;
        if e["state"] != "accepted"
            || e["booking_id"].as_u64() != Some(booking)
            || b["member_id"].as_u64() != Some(member)
        {
            m.violation(format!("accepted waitlist entry {entry}: {e}, booking {b}"));
        }
    }
    // The ledger sums to zero.
    let (status, tb) = server.get("/v1/ledger/trial-balance").await;
    if status != StatusCode::OK || tb["sum"].as_i64() != Some(0) {
        m.violation(format!("trial balance: {status} {tb}"));
    }
    // Every acknowledged entry is there once; nothing else is; a binned member holds nothing.
    let members: Vec<u64> = m.members.keys().copied().collect();
    let mut tagged = std::collections::BTreeSet::new();
    let mut due = std::collections::BTreeSet::new();
    let mut homes = std::collections::BTreeMap::new();
    for member in members {
        let (status, record) = server.get(&format!("/v1/members/{member}")).await;
        // The phone index and the search indexes point at the record, and only at it.
        if status == StatusCode::OK {
            let phone = record["phone"].as_str().unwrap_or("");
            let (_, found) = server.get(&format!("/v1/members?phone={phone}")).await;
            let (_, page) = server
                .get(&format!("/v1/members/search?phone_prefix={phone}"))
                .await;
            let hits: Vec<Value> = page["members"]
                .as_array()
                .map(|a| a.iter().map(|h| h["member"]["id"].clone()).collect())
                .unwrap_or_default();
            if found["id"].as_u64() != Some(member) || hits != [json!(member)] {
                m.violation(format!(
                    "member {member} with phone {phone}: lookup found {found}, search {page}"
                ));
            }
            if record["tags"] == json!(["vip"]) {
                tagged.insert(member);
            }
            homes.insert(member, record["home_store_id"].as_u64().unwrap_or(0));
            if m.follow_ups
                .get(&member)
                .is_some_and(|(_, next)| next.is_some())
            {
                due.insert(member);
            }
        }
        let (bstatus, balance) = server.get(&format!("/v1/members/{member}/balance")).await;
        if status == StatusCode::NOT_FOUND {
            if bstatus != StatusCode::NOT_FOUND {
                m.violation(format!(
                    "binned member {member} holds an account: {balance}"
                ));
            }
            continue;
        }
        let entries = server.all_entries(member).await;
        let on_disk: HashMap<u64, (String, i64)> = entries
            .iter()
            .map(|e| {
                (
                    e["entry_seq"].as_u64().unwrap_or(0),
                    (
                        e["kind"].as_str().unwrap_or("").to_owned(),
                        e["amount"].as_i64().unwrap_or(0),
                    ),
                )
            })
            .collect();
        let acked = m.entries.get(&member).cloned().unwrap_or_default();
        for (seq, (kind, amount, _)) in &acked {
            match on_disk.get(seq) {
                Some((k, a)) if k == kind && a == amount => {}
                other => m.violation(format!(
                    "member {member}: acknowledged {kind} {amount} as entry {seq}, server has {other:?}"
                )),
            }
        }
        if on_disk.len() != acked.len() {
            m.violation(format!(
                "member {member}: {} entries on the server, {} acknowledged",
                on_disk.len(),
                acked.len()
            ));
        }
        let sum: i64 = entries
            .iter()
            .map(|e| {
                let a = e["amount"].as_i64().unwrap_or(0);
                match e["kind"].as_str() {
                    Some("deduction") => -a,
                    Some("home_move") => 0,
                    _ => a,
                }
            })
            .sum();
        if balance["balance"].as_i64() != Some(sum) {
            m.violation(format!(
                "member {member}: balance {balance} but entries sum to {sum}"
            ));
        }
    }
    // The tag index holds exactly the live members tagged.
    let mut indexed = std::collections::BTreeSet::new();
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get(&format!("/v1/members/search?tag=vip{after}"))
            .await;
        if status != StatusCode::OK {
            m.violation(format!("tag search: {status} {page}"));
            break;
        }
        for h in page["members"].as_array().into_iter().flatten() {
            indexed.insert(h["member"]["id"].as_u64().unwrap_or(0));
        }
        match page["next_after"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    if indexed != tagged {
        m.violation(format!(
            "tag index holds {indexed:?}, tagged members are {tagged:?}"
        ));
    }
    // Each store's member list holds exactly the live members whose home it is, moved or not.
    let mut listed_homes = std::collections::BTreeMap::new();
    for store in m.stores.clone() {
        let mut after = String::new();
        loop {
            let (status, page) = server
                .get(&format!(
                    "/v1/members/search?home_store_id={store}&limit=200{after}"
                ))
                .await;
            if status != StatusCode::OK {
                m.violation(format!("home search: {status} {page}"));
                break;
            }
            for h in page["members"].as_array().into_iter().flatten() {
                let id = h["member"]["id"].as_u64().unwrap_or(0);
                if let Some(other) = listed_homes.insert(id, store) {
                    m.violation(format!("member {id} listed at {other} and {store}"));
                }
            }
            match page["next_after"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
    }
    if listed_homes != homes {
        m.violation(format!(
            "home lists hold {listed_homes:?}, members' homes are {homes:?}"
        ));
    }
    // Each store's due list holds exactly its live members whose latest follow-up set a date.
    let mut listed = std::collections::BTreeSet::new();
    for store in m.stores.clone() {
        let mut after = String::new();
        loop {
            let (status, page) = server
                .get(&format!(
                    "/v1/stores/{store}/follow-ups/due?on=2026-05-31{after}"
                ))
                .await;
            if status != StatusCode::OK {
                m.violation(format!("due list: {status} {page}"));
                break;
            }
            for d in page["due"].as_array().into_iter().flatten() {
                listed.insert(d["member"]["id"].as_u64().unwrap_or(0));
            }
            match page["next_after"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
    }
    if listed != due {
        m.violation(format!(
            "due lists hold {listed:?}, due members are {due:?}"
        ));
    }
    // A retried key answers what it answered first.
    for _ in 0..40.min(m.answered.len()) {
        let (req, status, body) = m.answered[rng.gen_range(0..m.answered.len())].clone();
        if req.op == Op::Level || !status.is_success() {
            continue;
        }
        let Ok((again, body2)) = send(&server.client, &server.base, &req).await else {
            m.violation(format!("replay of {} failed", req.key));
            continue;
        };
        let same =
            again == status && body2["entry_seq"] == body["entry_seq"] && body2["id"] == body["id"];
        if !same {
            m.violation(format!(
                "replay of {} answered {again} {body2}, first {status} {body}",
                req.key
            ));
        }
    }
    // No resource is booked twice at once.
    for &r in &m.resources.clone() {
        let (status, cal) = server
            .get(&format!(
                "/v1/resources/{r}/bookings?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
            ))
            .await;
        if status != StatusCode::OK {
            // A resource deleted by nobody here: it must be there.
            m.violation(format!("calendar of {r}: {status} {cal}"));
            continue;
        }
        let mut spans: Vec<(String, String)> = cal["bookings"]
            .as_array()
            .map(|b| b.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|b| !matches!(b["status"].as_str(), Some("cancelled" | "rejected")))
            .map(|b| {
                (
                    b["start"].as_str().unwrap_or("").to_owned(),
                    b["end"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        spans.sort();
        if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1) {
            m.violation(format!("resource {r} booked twice: {w:?}"));
        }
    }
    // Every acknowledged plan is whole.
    for (&plan, &n) in &m.plans.clone() {
        let (status, body) = server.get(&format!("/v1/plans/{plan}")).await;
        let got = body["occurrences"].as_array().map_or(0, Vec::len);
        if status != StatusCode::OK || got != n {
            m.violation(format!("plan {plan}: {status}, {got} of {n} occurrences"));
        }
    }
    // The day's figures are the sum of the day's acknowledged writes; a sealed day never
    // changes.
    for &store in &m.stores.clone() {
        let mut want = HashMap::<&str, i64>::new();
        for seqs in m.entries.values() {
            for (kind, amount, s) in seqs.values() {
                if *s != store {
                    continue;
                }
                let (count, sum) = match *kind {
                    // Brought from another system or another store: no day's business.
                    "opening" | "home_move" => continue,
                    "recharge" => ("recharges", "recharged_with_bonus"),
                    "deduction" => ("deductions", "deducted"),
                    _ => ("refunds", "refunded"),
                };
                *want.entry(count).or_default() += 1;
                *want.entry(sum).or_default() += amount;
            }
        }
        let (status, stats) = server
            .get(&format!("/v1/stats?store_id={store}&from={DAY}&to={DAY}"))
            .await;
        let totals = &stats["totals"];
        let recharged =
            totals["recharged"].as_i64().unwrap_or(0) + totals["bonus_given"].as_i64().unwrap_or(0);
        let got = |f: &str| {
            if f == "recharged_with_bonus" {
                recharged
            } else {
                totals[f].as_i64().unwrap_or(0)
            }
        };
        for f in [
            "recharges",
            "recharged_with_bonus",
            "deductions",
            "deducted",
            "refunds",
            "refunded",
        ] {
            let w = want.get(f).copied().unwrap_or(0);
            if status != StatusCode::OK || got(f) != w {
                m.violation(format!(
                    "store {store} {DAY}: {f} is {} on the server, {w} acknowledged",
                    got(f)
                ));
            }
        }
    }
    // An employee is credited with exactly the recharges acknowledged as theirs.
    for (&store, &employee) in &m.employees.clone() {
        let credited = m.credited.get(&employee).cloned().unwrap_or_default();
        let (status, stats) = server
            .get(&format!(
                "/v1/employees/{employee}/stats?from={DAY}&to={DAY}"
            ))
            .await;
        let t = &stats["totals"];
        let got = (
            t["recharges"].as_i64().unwrap_or(-1),
            t["recharged"].as_i64().unwrap_or(0) + t["bonus_given"].as_i64().unwrap_or(0),
        );
        let want = (credited.len() as i64, credited.values().sum::<i64>());
        if status != StatusCode::OK || got != want {
            m.violation(format!(
                "employee {employee} of store {store}: credited {got:?} on the server, {want:?} acknowledged"
            ));
        }
    }
    // Product stock is what was acknowledged: receipts less sales plus returns.
    for &store in &m.stores.clone() {
        let (_, s) = server.get("/v1/items/1/stock").await;
        let got = s["stores"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["store_id"] == store))
            .and_then(|r| r["units"].as_i64());
        let want = m.products.get(&store).copied().unwrap_or(0);
        if got != Some(want) || want < 0 {
            m.violation(format!(
                "store {store}: product stock {got:?}, acknowledged {want}"
            ));
        }
    }
    // Gift stock is what was acknowledged: restocks less exchanges, never below zero.
    for &store in &m.stores.clone() {
        let (_, gifts) = server.get(&format!("/v1/stores/{store}/gifts")).await;
        let got = gifts["gifts"][0]["stock"].as_i64();
        let want = m.stock.get(&store).copied().unwrap_or(0);
        if got != Some(want) || want < 0 {
            m.violation(format!(
                "store {store}: gift stock {got:?}, acknowledged {want}"
            ));
        }
    }
    if let Some((store, sealed)) = m.sealed.clone() {
        let (_, list) = server
            .get(&format!("/v1/stores/{store}/closings?from={DAY}&to={DAY}"))
            .await;
        if list["closings"].get(0) != Some(&sealed) {
            m.violation(format!("sealed day changed: {sealed} now {list}"));
        }
    }
}

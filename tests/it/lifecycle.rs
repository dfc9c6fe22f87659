//! Issue 22: paths that combine features. Deletes racing writes, ids after restarts,
//! restores racing registrations, walk-in orders and the daily close, metrics labels, the
//! webhook's targets, held orders, the trial balance under load.

use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Server;

const CLOCK: &str = "2026-05-04T02:00:00Z";

/// A member binned at the same moment as a recharge never ends up gone while holding
/// money: one of the two is refused, and a restore brings back what the ledger says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_racing_a_recharge_never_bins_money() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let mut both = 0;
    for i in 0..30 {
        let member = server.register(&format!("1370000{i:04}"), store).await;
        let (path, dkey, rkey) = (
            format!("/v1/members/{member}"),
            format!("del-{i}"),
            format!("rch-{i}"),
        );
        let del = server.delete(&path, &dkey);
        let rch = server.recharge(member, store, 10_000, &rkey);
        let ((ds, dbody), (rs, rbody)) = tokio::join!(del, rch);
        if ds.is_success() && rs.is_success() {
            both += 1;
            eprintln!("both answered 2xx: {dbody} {rbody}");
        }
        let (gs, _) = server.get(&format!("/v1/members/{member}")).await;
        let (bs, balance) = server.get(&format!("/v1/members/{member}/balance")).await;
        if gs == StatusCode::NOT_FOUND {
            assert_eq!(bs, StatusCode::NOT_FOUND, "a binned member holds {balance}");
            let (s, body) = server
                .act(
                    &format!("/v1/recycle-bin/member/{member}/restore"),
                    &format!("res-{i}"),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{body}");
        }
        server.assert_balance_matches_entries(member).await;
        server.assert_ledger_sums_to_zero().await;
    }
    assert_eq!(both, 0, "a delete and a recharge both succeeded");
}

/// Deleted members, resources and purged services keep their ids across restarts: a new
/// object never gets an old one's id (and so never its entries or bookings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_never_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(CLOCK));
    let store = server.create_store("S").await;
    let old = server.register("13711110001", store).await;
    let (s, _) = server.delete(&format!("/v1/members/{old}"), "del-m").await;
    assert_eq!(s, StatusCode::OK);
    let resources = format!("/v1/stores/{store}/resources");
    let body = |name: &str| json!({"name": name, "kind": "therapist", "capacity": 1});
    let (_, r1) = server.post(&resources, "r1", body("R1")).await;
    let (_, r2) = server.post(&resources, "r2", body("R2")).await;
    let r2 = r2["id"].as_u64().unwrap();
    assert!(r1["id"].as_u64().unwrap() < r2);
    let (s, body) = server.delete(&format!("/v1/resources/{r2}"), "del-r").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, svc) = server
        .post(
            "/v1/services",
            "svc-1",
            json!({"name": "Facial", "duration_minutes": 45, "booking_mode": "appointment", "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{svc}");
    let svc = svc["id"].as_u64().unwrap();
    let (s, _) = server.delete(&format!("/v1/services/{svc}"), "del-s").await;
    assert!(s.is_success());
    // Past the bin's retention: the service is purged.
    server.set_clock("2026-07-01T02:00:00Z").await;
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-07-01T02:00:00Z"));

    let new = server.register("13711110002", store).await;
    assert_ne!(new, old, "member id reused");
    assert!(new > old);
    let (s, r3) = server
        .post(
            &format!("/v1/stores/{store}/resources"),
            "r3",
            json!({"name": "R3", "kind": "therapist", "capacity": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r3}");
    assert!(r3["id"].as_u64().unwrap() > r2, "resource id reused: {r3}");
    let (s, svc2) = server
        .post(
            "/v1/services",
            "svc-2",
            json!({"name": "Peel", "duration_minutes": 45, "booking_mode": "appointment", "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{svc2}");
    assert!(
        svc2["id"].as_u64().unwrap() > svc,
        "service id reused: {svc2}"
    );
}

/// A restore and a registration of the same phone at the same moment: never two members
/// with one phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_racing_a_registration_never_shares_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("S").await;
    for i in 0..20 {
        let phone = format!("1372222{i:04}");
        let old = server.register(&phone, store).await;
        let (s, _) = server
            .delete(&format!("/v1/members/{old}"), &format!("d-{i}"))
            .await;
        assert_eq!(s, StatusCode::OK);
        let (path, rkey, nkey) = (
            format!("/v1/recycle-bin/member/{old}/restore"),
            format!("r-{i}"),
            format!("n-{i}"),
        );
        let restore = server.act(&path, &rkey);
        let register = server.post(
            "/v1/members",
            &nkey,
            json!({"phone": phone, "name": "New", "home_store_id": store}),
        );
        let ((rs, rb), (ns, nb)) = tokio::join!(restore, register);
        assert!(
            !(rs.is_success() && ns.is_success()),
            "both took {phone}: {rb} {nb}"
        );
        let (s, found) = server.get(&format!("/v1/members?phone={phone}")).await;
        assert_eq!(s, StatusCode::OK, "{found}");
    }
}

/// After a manual close a walk-in order is refused like any sale; before it, walk-in sales
/// and returns are in the day's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_in_orders_enter_the_figures_and_obey_the_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(CLOCK));
    let store = server.create_store("S").await;
    let order = json!({"store_id": store, "lines": [{"sku": "SHAMPOO", "unit_price": 3_000, "quantity": 2}],
        "payment": {"stored_value": 0, "points": 0, "tenders": [{"kind": "cash", "amount": 6_000}]}});
    let (s, sold) = server.post("/v1/orders", "w-1", order.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{sold}");
    let id = sold["order"]["id"]
        .as_u64()
        .or(sold["id"].as_u64())
        .unwrap();
    let (s, ret) = server
        .post(
            &format!("/v1/orders/{id}/returns"),
            "w-ret",
            json!({"lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ret}");
    let stats = format!("/v1/stats?store_id={store}&from=2026-05-04&to=2026-05-04");
    let (_, body) = server.get(&stats).await;
    assert_eq!(body["totals"]["tender_cash"], 3_000, "{body}");
    assert_eq!(body["totals"]["revenue"], 3_000, "{body}");
    assert_eq!(body["totals"]["orders_paid"], 1, "{body}");

    server.close_by_hand(store).await;
    let (s, sealed) = server
        .post(&format!("/v1/stores/{store}/closings"), "close", json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sealed}");
    assert_eq!(sealed["figures"]["tender_cash"], 3_000, "{sealed}");
    let (s, body) = server.post("/v1/orders", "w-2", order).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("business_day_closed")
        ),
        "{body}"
    );
    // A registration after the close counts on the next day, not on the sealed one.
    server.register("13733330001", store).await;
    let (_, list) = server
        .get(&format!(
            "/v1/stores/{store}/closings?from=2026-05-04&to=2026-05-04"
        ))
        .await;
    assert_eq!(list["closings"][0], sealed);
    let (_, body) = server.get(&stats).await;
    assert_eq!(
        body["totals"]["new_members"],
        sealed["figures"]["new_members"]
    );
}

/// Requests without a key, odd methods and deep paths can't grow `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_labels_come_from_a_closed_set() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let size = || async { server.metrics_text().await.len() };
    let anon = reqwest::Client::new();
    // The first read of /metrics adds its own route's series.
    size().await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("M{}", i % 50).as_bytes()).unwrap();
        let path = format!("/v1/x{i}/{}/y{}/z/{i}", i * 7, i % 13);
        let _ = anon.request(method, server.url(&path)).send().await;
        let _ = anon
            .get(server.url(&format!("/v1/members/{i}/w{i}")))
            .send()
            .await;
    }
    let first = size().await;
    for i in 300..1_300 {
        let method = reqwest::Method::from_bytes(format!("Q{}", i % 97).as_bytes()).unwrap();
        let path = format!("/v1/x{i}/{}/y{}/z/{i}/deeper/still", i * 7, i % 13);
        let _ = anon.request(method, server.url(&path)).send().await;
        let _ = anon
            .get(server.url(&format!("/v1/members/{i}/w{i}")))
            .send()
            .await;
    }
    let second = size().await;
    // Counters grow by digits, not by lines.
    assert!(
        second < first + 2_000,
        "metrics grew from {first} to {second}"
    );
}

/// A receiver that answers every call with a redirect to `/elsewhere` and counts the calls
/// on each path.
fn redirecting_receiver() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (hook, elsewhere) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (h, e) = (hook.clone(), elsewhere.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            if line.contains("/elsewhere") {
                e.fetch_add(1, Ordering::SeqCst);
            } else {
                h.fetch_add(1, Ordering::SeqCst);
            }
            let _ = stream.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (format!("http://{addr}/hook?token=SECRET"), hook, elsewhere)
}

/// The webhook refuses this machine and private networks unless configured, never follows
/// a redirect, and keeps no URL or token in the delivery error store managers read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_refuses_private_targets_and_never_follows_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(CLOCK));
    for (i, url) in [
        "http://127.0.0.1:1/x",
        "http://localhost:8080/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/x",
        "http://[::1]/x",
    ]
    .iter()
    .enumerate()
    {
        let (s, body) = server
            .put(
                "/v1/notification-webhook",
                &format!("w-{i}"),
                json!({"url": url}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("private"),
            "{body}"
        );
    }
    server.kill();
    let server = Server::start_opts(dir.path(), Some(CLOCK), &["--webhook-private-targets"]);
    let (url, hook, elsewhere) = redirecting_receiver();
    let (s, body) = server
        .put("/v1/notification-webhook", "w-ok", json!({"url": url}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = server
        .put(
            "/v1/notification-templates/balance_changed",
            "t",
            json!({"text": "balance {balance}"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let store = server.create_store("S").await;
    let member = server.register("13744440001", store).await;
    server.recharge(member, store, 100, "r").await;
    let mut outbox = serde_json::Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        outbox = server
            .get(&format!("/v1/stores/{store}/notifications"))
            .await
            .1;
        if hook.load(Ordering::SeqCst) > 0 && outbox.to_string().contains("302") {
            break;
        }
    }
    assert!(hook.load(Ordering::SeqCst) > 0, "never delivered: {outbox}");
    assert_eq!(elsewhere.load(Ordering::SeqCst), 0, "followed a redirect");
    let text = outbox.to_string();
    assert!(text.contains("status 302"), "{text}");
    assert!(
        !text.contains("SECRET") && !text.contains("127.0.0.1"),
        "{text}"
    );
}

/// The trial balance is read from one snapshot: under a stream of recharges it always sums
/// to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_trial_balance_sums_to_zero_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let member = server.register("13755550001", store).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, base, stop) = (server.client.clone(), server.base.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = client
                    .post(format!("{base}/v1/members/{member}/recharges"))
                    .header("Idempotency-Key", format!("tb-{w}-{n}"))
                    .json(&json!({"amount": 10, "store_id": store}))
                    .send()
                    .await;
                n += 1;
            }
        }));
    }
    for _ in 0..200 {
        server.assert_ledger_sums_to_zero().await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
}

/// A store holds at most `HELD_ORDERS_MAX` orders; one more is refused, not lost from the
/// list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_held_order_cap_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let max = chainstore::domain::checkout::HELD_ORDERS_MAX;
    let held =
        json!({"store_id": store, "lines": [{"sku": "X", "unit_price": 100, "quantity": 1}]});
    for i in 0..max {
        let (s, body) = server
            .post("/v1/orders/held", &format!("h-{i}"), held.clone())
            .await;
        assert_eq!(s, StatusCode::CREATED, "{i}: {body}");
    }
    let (s, body) = server
        .post("/v1/orders/held", &format!("h-{max}"), held)
        .await;
    assert_eq!(body["code"], "too_many_held_orders", "{s} {body}");
    let (_, list) = server.get(&format!("/v1/stores/{store}/held-orders")).await;
    assert_eq!(list["orders"].as_array().map(Vec::len), Some(max), "{list}");
}

/// A plan linked to a count card whose member was binned: its occurrences still complete
/// (uncharged, with a `count_card_not_charged` event) instead of being retried forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_plan_of_a_binned_member_completes_uncharged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-01T00:00:00Z"));
    let store = server.create_store("S").await;
    let member = server.register("13777770001", store).await;
    let plan = linked_plan(&server, store, member, 1, 2).await;
    // The first occurrence takes the only session; then the member, empty, is binned.
    server.set_clock("2026-01-10T03:00:00Z").await;
    let (s, body) = server.delete(&format!("/v1/members/{member}"), "del").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    server.set_clock("2026-01-11T03:00:00Z").await;
    server.set_clock("2026-01-11T04:00:00Z").await;
    let (_, p) = server.get(&format!("/v1/plans/{plan}")).await;
    let statuses: Vec<&str> = p["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "completed"], "{p}");
    let (_, events) = server.get(&format!("/v1/stores/{store}/events")).await;
    assert!(
        events.to_string().contains("count_card_not_charged"),
        "{events}"
    );
}

/// Idempotency keys belong to the store (or to a chain-wide credential): one store's
/// terminal can't take another's keys first; two terminals of one store share theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_scoped_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (a, b) = (
        server.create_store("A").await,
        server.create_store("B").await,
    );
    let (ma, mb) = (
        server.register("13788880001", a).await,
        server.register("13788880002", b).await,
    );
    server.recharge(ma, a, 1_000, "seed-a").await;
    server.recharge(mb, b, 1_000, "seed-b").await;
    let mut keys = Vec::new();
    for (i, store) in [a, b, a].into_iter().enumerate() {
        let (s, c) = server
            .post(
                "/v1/credentials",
                &format!("cred-{i}"),
                json!({"name": format!("POS {i}"), "role": "pos", "store_ids": [store]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        keys.push(crate::harness::client_with_key(c["key"].as_str().unwrap()));
    }
    let deduct = |client: &reqwest::Client, member: u64| {
        client
            .post(server.url(&format!("/v1/members/{member}/deductions")))
            .header("Idempotency-Key", "0001")
            .json(&json!({"amount": 100}))
    };
    let (s, first) = crate::harness::send(deduct(&keys[0], ma)).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (s, other) = crate::harness::send(deduct(&keys[1], mb)).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "another store's key 0001 is its own: {other}"
    );
    let (s, again) = crate::harness::send(deduct(&keys[2], ma)).await;
    assert_eq!(
        (s, &again),
        (StatusCode::CREATED, &first),
        "one store shares its keys"
    );
    assert_eq!(server.balance(ma).await, 900);
    assert_eq!(server.balance(mb).await, 900);
}

/// A panic anywhere stops the process (SIGABRT), as a failed write does: nothing goes on
/// serving from memory that may disagree with disk, and a restart recovers from disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_stops_the_process() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(CLOCK));
    let store = server.create_store("S").await;
    let member = server.register("13799990001", store).await;
    server.recharge(member, store, 500, "r").await;
    let res = server
        .client
        .post(server.url("/v1/testing/panic"))
        .send()
        .await;
    assert!(res.is_err(), "answered: {res:?}");
    let status = server
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("the process stopped");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
    let server = Server::start_with_clock(dir.path(), Some(CLOCK));
    assert_eq!(server.balance(member).await, 500);
}

/// A service changed and deleted at the same moment: the delete never writes back the name
/// the change replaced (it used to read the service from disk, behind the change in flight).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_delete_racing_a_change_keeps_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let body = |name: &str| json!({"name": name, "duration_minutes": 45, "booking_mode": "appointment", "resource_kinds": ["room"]});
    for i in 0..20 {
        let (s, svc) = server
            .post("/v1/services", &format!("svc-{i}"), body("Old"))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{svc}");
        let id = svc["id"].as_u64().unwrap();
        let (path, pk, dk) = (
            format!("/v1/services/{id}"),
            format!("put-{i}"),
            format!("del-{i}"),
        );
        let put = server.put(&path, &pk, body("New"));
        let del = server.delete(&path, &dk);
        let ((ps, pb), (ds, db)) = tokio::join!(put, del);
        if !(ps.is_success() && ds.is_success()) {
            continue;
        }
        // Both happened, so the change came first: the bin holds the new name.
        let (s, r) = server
            .act(
                &format!("/v1/recycle-bin/service/{id}/restore"),
                &format!("r-{i}"),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (_, got) = server.get(&path).await;
        assert_eq!(got["name"], "New", "lost the change: {pb} {db} {got}");
    }
}

/// A linked plan's occurrence that completes after its day was closed by hand takes its
/// session, and the session counts on the next open day: the sealed day doesn't move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_session_after_a_manual_close_counts_on_the_next_day() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-09T00:00:00Z"));
    let store = server.create_store("S").await;
    let member = server.register("13766660002", store).await;
    server.close_by_hand(store).await;
    linked_plan(&server, store, member, 2, 1).await;
    // 10:30 local: close the day by hand while the occurrence is under way.
    server.set_clock("2026-01-10T02:30:00Z").await;
    let (s, sealed) = server
        .post(&format!("/v1/stores/{store}/closings"), "close", json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sealed}");
    server.set_clock("2026-01-10T03:30:00Z").await;
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["count_cards"][0]["remaining"], 1, "{acct}");
    let stats = |day: &str| format!("/v1/stats?store_id={store}&from={day}&to={day}");
    let (_, closed) = server.get(&stats("2026-01-10")).await;
    assert_eq!(
        closed["totals"]["sessions_consumed"], sealed["figures"]["sessions_consumed"],
        "the sealed day moved: {closed}"
    );
    let (_, next) = server.get(&stats("2026-01-11")).await;
    assert_eq!(next["totals"]["sessions_consumed"], 1, "{next}");
}

/// A plan-mode service, a therapist, a count card of `sessions` bought with cash by
/// `member`, and a daily plan of `count` occurrences from 2026-01-10 10:00 linked to it:
/// the plan's id.
async fn linked_plan(server: &Server, store: u64, member: u64, sessions: u32, count: u32) -> u64 {
    server
        .put("/v1/settings", "on", json!({"service_plans_enabled": true}))
        .await;
    let (_, course) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Course", "duration_minutes": 60, "booking_mode": "service_plan", "resource_kinds": ["therapist"]}),
        )
        .await;
    let course = course["id"].as_u64().unwrap();
    let (_, r) = server
        .post(
            &format!("/v1/stores/{store}/resources"),
            "res",
            json!({"name": "T", "kind": "therapist", "capacity": 1}),
        )
        .await;
    let (s, card) = server
        .post(
            &format!("/v1/members/{member}/count-cards"),
            "cc",
            json!({"service_id": course, "sessions": sessions, "price": 0, "paid_with": "cash", "store_id": store}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{card}");
    let (s, plan) = server
        .post(
            &format!("/v1/stores/{store}/plans"),
            "p",
            json!({"member_id": member, "service_id": course, "resource_ids": [r["id"]],
                   "count_card_id": card["card_id"],
                   "repeat": {"daily": {"first_times": ["2026-01-10T10:00"], "count": count}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    plan["id"].as_u64().unwrap()
}

/// Every actor thread listens on the server's port (SO_REUSEPORT); a second server started
/// on a port in use must fail, not join the first one's listeners and split its traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_port_in_use_refuses_to_start() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = Server::start(dir.path());
    let addr = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let store = server.create_store("first").await;
    let mut second = std::process::Command::new(crate::harness::server_binary())
        .arg("--config")
        .arg(crate::harness::config_path())
        .arg("--listen")
        .arg(&addr)
        .arg("--data-dir")
        .arg(other.path())
        .arg("--admin-key")
        .arg("another-key")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        status.is_some_and(|s| !s.success()),
        "the second server started on a port in use"
    );
    // Every request still reaches the first server, whichever thread takes it.
    for _ in 0..20 {
        let (s, _) = server.get(&format!("/v1/stores/{store}")).await;
        assert_eq!(s, StatusCode::OK);
    }
}

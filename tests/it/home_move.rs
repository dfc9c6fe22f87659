//! Moving a member's home store (会员转店) over HTTP: everything the member holds goes with
//! them in one write, the old home owes the new one the stored value, the stores' keys and
//! lists follow, deductions racing the move are each applied once or refused, and all of it
//! survives a SIGKILL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::access::credential;
use crate::harness::{client_with_key, send, Server};

const T0: &str = "2026-01-01T00:00:00Z";

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

async fn settled(server: &Server, from: u64, to: u64) -> (u64, i64) {
    let (status, s) = server
        .get(&format!(
            "/v1/settlements?home_store_id={from}&store_id={to}&from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    (s["lines"].as_u64().unwrap(), s["owed"].as_i64().unwrap())
}

async fn home_members(server: &Server, store: u64) -> Vec<u64> {
    let (status, page) = server
        .get(&format!(
            "/v1/members/search?home_store_id={store}&limit=100"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["member"]["id"].as_u64().unwrap())
        .collect()
}

async fn due(server: &Server, store: u64) -> Vec<u64> {
    let (status, page) = server
        .get(&format!("/v1/stores/{store}/follow-ups/due?on=2026-12-31"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["member"]["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_moves_home_with_everything_settled_and_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let a = server.create_store("OldHome").await;
    let b = server.create_store("NewHome").await;
    let m = server.register("13800000001", a).await;
    let stay = server.register("13800000002", a).await;
    server.recharge(m, a, 10_000, "r-1").await;
    let (status, svc) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Facial", "duration_minutes": 60, "booking_mode": "appointment",
                   "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    let (status, card) = server
        .post(
            &format!("/v1/members/{m}/count-cards"),
            "cc-1",
            json!({"service_id": svc["id"], "sessions": 5, "price": 0, "paid_with": "cash",
                   "store_id": a}),
        )
        .await;
    assert!(status.is_success(), "{card}");
    let (status, f) = server
        .post(
            &format!("/v1/members/{m}/follow-ups"),
            "f-1",
            json!({"channel": "phone", "note": "ask about the course", "next_on": "2026-02-01",
                   "store_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    let a_cashier = client_with_key(
        &credential(
            &server,
            "k-a",
            json!({"name": "A till", "role": "cashier", "store_ids": [a]}),
        )
        .await,
    );
    let b_cashier = client_with_key(
        &credential(
            &server,
            "k-b",
            json!({"name": "B till", "role": "cashier", "store_ids": [b]}),
        )
        .await,
    );
    let a_manager = client_with_key(
        &credential(
            &server,
            "k-am",
            json!({"name": "A manager", "role": "store_manager", "store_ids": [a]}),
        )
        .await,
    );
    let before: Value = server.get(&format!("/v1/members/{m}/balance")).await.1;

    // Only someone who manages both stores may move the member.
    let path = format!("/v1/members/{m}/home-store");
    let (status, body) = send(
        a_manager
            .post(server.url(&path))
            .header("Idempotency-Key", "mv-a")
            .json(&json!({"home_store_id": b})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = server
        .post(&path, "mv-same", json!({"home_store_id": a}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "same_home_store");

    let (status, moved) = server
        .post(&path, "mv-1", json!({"home_store_id": b}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["from_store_id"].as_u64(), Some(a));
    assert_eq!(moved["to_store_id"].as_u64(), Some(b));
    assert_eq!(moved["settled"], 10_000);
    // A repeat answers the same; the key with another body is refused.
    let (status, again) = server
        .post(&path, "mv-1", json!({"home_store_id": b}))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &moved));
    let (status, body) = server
        .post(&path, "mv-1", json!({"home_store_id": a}))
        .await;
    assert_eq!(code(&body), "idempotency_key_reused", "{status} {body}");
    // The operation log finds the move from the member and from either store.
    for object in [
        format!("member:{m}"),
        format!("store:{a}"),
        format!("store:{b}"),
    ] {
        let (status, log) = server.get(&format!("/v1/oplog?object={object}")).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let found = log["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["idempotency_key"] == "mv-1" && op["result"] == "ok");
        assert!(found, "{object}: {log}");
    }

    for round in 0..2 {
        let (_, member) = server.get(&format!("/v1/members/{m}")).await;
        assert_eq!(member["home_store_id"].as_u64(), Some(b), "round {round}");
        // Everything the member held came along.
        let now: Value = server.get(&format!("/v1/members/{m}/balance")).await.1;
        for field in ["bonus", "count_cards", "card_number", "level"] {
            assert_eq!(now[field], before[field], "{field}, round {round}");
        }
        assert_eq!(now["balance"], 10_000 - 100 * round);
        let entries = server.all_entries(m).await;
        let last = entries.iter().find(|e| e["kind"] == "home_move").unwrap();
        assert_eq!(last["moved_from_store_id"].as_u64(), Some(a));
        assert_eq!(last["store_id"].as_u64(), Some(b));
        assert_eq!(last["balance_after"], 10_000);
        assert_eq!(settled(&server, a, b).await, (1, 10_000));
        // The stores' lists follow the member.
        assert_eq!(home_members(&server, a).await, vec![stay]);
        assert_eq!(home_members(&server, b).await, vec![m]);
        assert_eq!(due(&server, a).await, Vec::<u64>::new());
        assert_eq!(due(&server, b).await, vec![m]);
        server.assert_ledger_sums_to_zero().await;
        server.assert_balance_matches_entries(m).await;
        // The old home's keys no longer reach the member; the new home's do.
        let (status, body) = send(
            a_cashier
                .get(server.url(&format!("/v1/members/{m}/entries")))
                .header("Idempotency-Key", "x"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = send(
            b_cashier
                .post(server.url(&format!("/v1/members/{m}/deductions")))
                .header("Idempotency-Key", format!("d-b-{round}"))
                .json(&json!({"amount": 100, "store_id": b})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["balance_after"], 9_900 - 100 * round);
        // What was written before the move replays after it.
        let (status, r) = server
            .post(
                &format!("/v1/members/{m}/recharges"),
                "r-1",
                json!({"amount": 10_000, "store_id": a}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["entry_seq"], 1);

        server.kill();
        server = Server::start_with_clock(dir.path(), Some(T0));
    }

    // And back: the old home takes the member again, and the move survives a restart too.
    let (status, back) = server
        .post(&path, "mv-2", json!({"home_store_id": a}))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["settled"], 9_800);
    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    let (_, member) = server.get(&format!("/v1/members/{m}")).await;
    assert_eq!(member["home_store_id"].as_u64(), Some(a));
    assert_eq!(settled(&server, b, a).await, (1, 9_800));
    let mut homed = home_members(&server, a).await;
    homed.sort_unstable();
    assert_eq!(homed, vec![m, stay]);
    assert_eq!(due(&server, a).await, vec![m]);
    let (status, body) = send(
        a_cashier
            .post(server.url(&format!("/v1/members/{m}/deductions")))
            .header("Idempotency-Key", "d-a")
            .json(&json!({"amount": 100, "store_id": a})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server.assert_ledger_sums_to_zero().await;
    server.assert_balance_matches_entries(m).await;
}

/// Deductions fired while the member moves back and forth: each is applied once or refused
/// with `member_moved` (nothing done), and a retry with the same key is applied at most once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deductions_racing_moves_are_applied_once_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let m = server.register("13800000009", a).await;
    server.recharge(m, a, 100_000, "r").await;
    let path = format!("/v1/members/{m}/home-store");
    let deduct = |i: usize| {
        let server = &server;
        async move {
            // A retried request: the POS sends the same key again on member_moved, backing
            // off a little (a busy test machine can hold a move's window open a while).
            for attempt in 0..500u64 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(attempt.min(20))).await;
                }
                let (status, body) = server
                    .post(
                        &format!("/v1/members/{m}/deductions"),
                        &format!("race-{i}"),
                        json!({"amount": 10, "store_id": a}),
                    )
                    .await;
                if status == StatusCode::CONFLICT && code(&body) == "member_moved" {
                    continue;
                }
                assert_eq!(status, StatusCode::CREATED, "{body}");
                return body["entry_seq"].as_u64().unwrap();
            }
            panic!("deduction {i} never got through");
        }
    };
    let moves = async {
        for i in 0..10 {
            let to = if i % 2 == 0 { b } else { a };
            let (status, body) = server
                .post(&path, &format!("mv-{i}"), json!({"home_store_id": to}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    let (seqs, ()) = tokio::join!(futures::future::join_all((0..60).map(deduct)), moves);
    let mut unique = seqs.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 60, "every deduction has its own entry");
    let entries = server.all_entries(m).await;
    let deductions = entries.iter().filter(|e| e["kind"] == "deduction").count();
    assert_eq!(deductions, 60);
    assert_eq!(server.balance(m).await, 100_000 - 600);
    server.assert_balance_matches_entries(m).await;
    server.assert_ledger_sums_to_zero().await;
    let (_, member) = server.get(&format!("/v1/members/{m}")).await;
    assert_eq!(member["home_store_id"].as_u64(), Some(a));
}

/// Stored value taken in at another store is settled back to the home store, which will
/// serve it (跨店充值结算), and a recharge refund there is settled the other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recharges_away_from_home_are_settled_with_the_home_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let a = server.create_store("Home").await;
    let b = server.create_store("Away").await;
    let m = server.register("13800000021", a).await;
    let (status, r) = server.recharge(m, b, 10_000, "rb-1").await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(settled(&server, a, b).await, (1, -10_000));
    let (status, body) = server
        .post(
            &format!("/v1/members/{m}/recharge-refunds"),
            "rr-1",
            json!({"recharge_seq": r["entry_seq"], "amount": 1_000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server.deduct(m, b, 500, "db-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // B took 10,000 in, gave 1,000 back and served 500: it owes A the 8,500 A now serves.
    assert_eq!(settled(&server, a, b).await, (3, -8_500));
    assert_eq!(server.balance(m).await, 8_500);
    server.assert_ledger_sums_to_zero().await;
}

//! Count cards linked to service plans (a completed occurrence takes a session in the same
//! write) and gifts for points (stock never below zero, across stores and restarts).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

async fn remaining(server: &Server, member: u64) -> i64 {
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    acct["count_cards"][0]["remaining"].as_i64().unwrap()
}

async fn event_kinds(server: &Server, store: u64) -> Vec<String> {
    let (_, events) = server.get(&format!("/v1/stores/{store}/events")).await;
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn statuses(plan: &Value) -> Vec<String> {
    plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_completion_takes_a_session_of_the_linked_card() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-01-01T00:00:00Z"));
    let (_, store) = server
        .post(
            "/v1/stores",
            "st",
            json!({"name": "Studio", "time_zone": "Asia/Shanghai"}),
        )
        .await;
    let store = store["id"].as_u64().unwrap();
    let member = server.register("13800000123", store).await;
    server
        .put("/v1/settings", "on", json!({"service_plans_enabled": true}))
        .await;
    let svc = |name: &str| json!({"name": name, "duration_minutes": 60, "booking_mode": "service_plan", "resource_kinds": ["therapist"]});
    let (_, course) = server.post("/v1/services", "svc-1", svc("Course")).await;
    let course = course["id"].as_u64().unwrap();
    let (_, other) = server.post("/v1/services", "svc-2", svc("Other")).await;
    let other = other["id"].as_u64().unwrap();
    let (status, r) = server
        .post(
            &format!("/v1/stores/{store}/resources"),
            "res",
            json!({"name": "T", "kind": "therapist", "capacity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let therapist = r["id"].as_u64().unwrap();
    let buy = |key: &'static str, service: u64, expires: Option<&'static str>| {
        let s = &server;
        async move {
            let (status, body) = s
                .post(
                    &format!("/v1/members/{member}/count-cards"),
                    key,
                    json!({"service_id": service, "sessions": 2, "price": 0, "paid_with": "cash",
                           "store_id": store, "expires_on": expires}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["card_id"].as_u64().unwrap()
        }
    };
    let card = buy("cc-1", course, None).await;
    let wrong = buy("cc-2", other, None).await;
    let expiring = buy("cc-3", course, Some("2026-01-01")).await;
    let plan = |key: &'static str, card: u64| {
        let s = &server;
        async move {
            s.post(
                &format!("/v1/stores/{store}/plans"),
                key,
                json!({"member_id": member, "service_id": course, "resource_ids": [therapist],
                       "count_card_id": card,
                       "repeat": {"daily": {"first_times": ["2026-01-10T10:00"], "count": 3}}}),
            )
            .await
        }
    };

    // Only a usable card of this service can be linked; a refusal books nothing.
    let (status, body) = plan("p-wrong", wrong).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("count_card_wrong_service")
        )
    );
    let (status, body) = plan("p-missing", 99).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("count_card_not_found"))
    );
    server.set_clock("2026-01-02T00:00:00Z").await;
    let (status, body) = plan("p-expired", expiring).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("count_card_expired"))
    );

    let (status, p) = plan("p", card).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["count_card_id"].as_u64(), Some(card));
    let plan_id = p["id"].as_u64().unwrap();
    let occ: Vec<u64> = p["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();

    // The first occurrence ends (11:00 local) and completes by itself, taking a session.
    server.set_clock("2026-01-10T03:00:00Z").await;
    let (_, p) = server.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(statuses(&p), ["completed", "confirmed", "confirmed"]);
    assert_eq!(remaining(&server, member).await, 1);

    // The last session: staff complete occurrence 2 while the counter consumes one.
    let complete_path = format!("/v1/appointments/{}/complete", occ[1]);
    let consume_path = format!("/v1/members/{member}/count-cards/{card}/consume");
    let complete = server.act(&complete_path, "done-2");
    let consume = server.post(
        &consume_path,
        "counter-1",
        json!({"sessions": 1, "store_id": store}),
    );
    let ((done, body), (counter, _)) = tokio::join!(complete, consume);
    assert_eq!(done, StatusCode::OK, "{body}");
    assert_eq!(remaining(&server, member).await, 0);
    let (_, activity) = server.get(&format!("/v1/members/{member}/activity")).await;
    let taken = activity["activity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.to_string().contains("\"delta\":-1"))
        .count();
    assert_eq!(taken, 2, "exactly the two sessions there were: {activity}");
    let by_counter = counter == StatusCode::CREATED;
    let kinds = event_kinds(&server, store).await;
    let not_charged = kinds
        .iter()
        .filter(|k| *k == "count_card_not_charged")
        .count();
    assert_eq!(not_charged, usize::from(by_counter), "{kinds:?}");

    // A repeat of the staff request answers the same and takes nothing.
    let (again, _) = server
        .act(&format!("/v1/appointments/{}/complete", occ[1]), "done-2")
        .await;
    assert_eq!(again, StatusCode::OK);

    // The third completes with nothing left on the card: completed, not charged.
    server.set_clock("2026-01-12T03:00:00Z").await;
    let (_, p) = server.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(statuses(&p), ["completed", "completed", "completed"]);
    let kinds = event_kinds(&server, store).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "count_card_not_charged")
            .count(),
        1 + usize::from(by_counter),
        "{kinds:?}"
    );

    // All of it survives a SIGKILL.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-12T03:00:00Z"));
    let (_, p) = server.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(statuses(&p), ["completed", "completed", "completed"]);
    assert_eq!(remaining(&server, member).await, 0);
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gifts_for_points_never_below_zero_points_or_stock() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let home = server.create_store("Home").await;
    let away = server.create_store("Away").await;
    let member = server.register("13800000456", home).await;
    let (status, body) = server
        .put("/v1/gifts/1", "g-1", json!({"name": "Mug", "points": 100}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put("/v1/gifts/2", "g-2", json!({"name": "Free", "points": 0}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid_gift_points")
        )
    );
    let stock = |key: &'static str, store: u64, delta: i64| {
        let s = &server;
        async move {
            s.post(
                &format!("/v1/stores/{store}/gifts/1/stock"),
                key,
                json!({ "delta": delta }),
            )
            .await
        }
    };
    let (status, body) = stock("s-1", away, 2).await;
    assert_eq!((status, body["stock"].as_i64()), (StatusCode::OK, Some(2)));
    let (status, body) = stock("s-2", away, -3).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("gift_out_of_stock"))
    );
    let (status, _) = server
        .post(
            &format!("/v1/members/{member}/points"),
            "pts",
            json!({"delta": 250, "reason": "welcome", "store_id": home}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let exchange = |key: String, store: u64, quantity: u32| {
        let s = &server;
        async move {
            s.post(
                &format!("/v1/members/{member}/gift-exchanges"),
                &key,
                json!({"gift_id": 1, "quantity": quantity, "store_id": store}),
            )
            .await
        }
    };
    let points = |body: &Value| body["account"]["points"].as_i64();
    let gift_stock = |store: u64| {
        let s = &server;
        async move {
            let (_, body) = s.get(&format!("/v1/stores/{store}/gifts")).await;
            body["gifts"][0]["stock"].as_i64().unwrap()
        }
    };

    // A member of Home takes a gift from Away's stock.
    let (status, body) = exchange("x-1".into(), away, 1).await;
    assert_eq!((status, points(&body)), (StatusCode::CREATED, Some(150)));
    assert_eq!(gift_stock(away).await, 1);
    // The same key again: the same answer, nothing more taken.
    let (status, body) = exchange("x-1".into(), away, 1).await;
    assert_eq!((status, points(&body)), (StatusCode::CREATED, Some(150)));
    assert_eq!(gift_stock(away).await, 1);
    // More than in stock, and a store with none: refused, points untouched.
    let (status, body) = exchange("x-2".into(), away, 2).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("gift_out_of_stock"))
    );
    let (status, _) = exchange("x-3".into(), home, 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Not enough points: refused, and the reserved unit goes back on the shelf.
    stock("s-3", away, 4).await;
    let (status, body) = exchange("x-4".into(), away, 2).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("insufficient_points")
        )
    );
    assert_eq!(gift_stock(away).await, 5);

    // Many at once for a rich member: exactly the stock goes, never below zero.
    server
        .post(
            &format!("/v1/members/{member}/points"),
            "pts-2",
            json!({"delta": 10_000, "reason": "promotion", "store_id": home}),
        )
        .await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = server.client.clone();
        let url = server.url(&format!("/v1/members/{member}/gift-exchanges"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("Idempotency-Key", format!("many-{i}"))
                .json(&json!({"gift_id": 1, "quantity": 1, "store_id": away}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::CREATED {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(gift_stock(away).await, 0);
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["points"], 150 + 10_000 - 5 * 100);

    server.kill();
    let server = Server::start(dir.path());
    let (_, body) = server.get(&format!("/v1/stores/{away}/gifts")).await;
    assert_eq!(body["gifts"][0]["stock"], 0);
    let (status, _) = server
        .post(
            &format!("/v1/members/{member}/gift-exchanges"),
            "x-5",
            json!({"gift_id": 1, "quantity": 1, "store_id": away}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.assert_ledger_sums_to_zero().await;
}

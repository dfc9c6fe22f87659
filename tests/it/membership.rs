//! Membership products end to end: levels and bonuses, count cards, points, coupons, card
//! loss, checkout with split tenders, returns and cross-store settlement.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Server;

async fn service(server: &Server) -> u64 {
    let (status, body) = server
        .post(
            "/v1/services",
            "svc-1",
            json!({"name": "Facial", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_level_upgrade_points_and_recharge_refund() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-11-22T02:00:00Z"));
    let store = server.create_store("Home").await;
    let member = server.register("13900000001", store).await;
    let (status, body) = server
        .put(
            "/v1/levels/0",
            "lv-0",
            json!({"name": "Member", "price_rate_bp": 10000, "points_per_yuan": 1,
                   "recharge_tiers": [{"min": 100000, "bonus": 10000}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server
        .put(
            "/v1/levels/1",
            "lv-1",
            json!({"name": "Gold", "price_rate_bp": 8800, "points_per_yuan": 2, "upgrade_recharged": 100000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // 999.99 gets no bonus and no upgrade; the next 0.01 crosses the threshold exactly.
    let (status, e) = server.recharge(member, store, 99_999, "r-1").await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(e["bonus"], 0);
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["level"], 0);
    let (status, _) = server.recharge(member, store, 1, "r-2").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["level"], 1, "{acct}");

    // A tier at level 0's rules: 1,000 gets 100 bonus, kept apart from principal.
    let (status, _) = server
        .put(
            "/v1/levels/1",
            "lv-1b",
            json!({"name": "Gold", "price_rate_bp": 8800, "points_per_yuan": 2,
            "upgrade_recharged": 100000, "recharge_tiers": [{"min": 100000, "bonus": 10000}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, r3) = server.recharge(member, store, 100_000, "r-3").await;
    assert_eq!(
        (r3["amount"].as_i64(), r3["bonus"].as_i64()),
        (Some(110_000), Some(10_000))
    );
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(
        (acct["principal"].as_i64(), acct["bonus"].as_i64()),
        (Some(200_000), Some(10_000))
    );

    // Spending takes principal first; points accrue at the level's rate.
    let (_, d) = server.deduct(member, store, 150_000, "d-1").await;
    assert_eq!(d["bonus"], 0);
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["points"], 3_000);

    // Refund half of recharge 3's principal: half its bonus goes back too.
    let seq = r3["entry_seq"].as_u64().unwrap();
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/recharge-refunds"),
            "rr-1",
            json!({"recharge_seq": seq, "amount": 50_000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["entry"]["cash"], 50_000);
    assert_eq!(body["account"]["bonus"], 5_000);
    assert_eq!(body["account"]["principal"], 0);
    // Nothing more is refundable: the rest of the principal was spent.
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/recharge-refunds"),
            "rr-2",
            json!({"recharge_seq": seq, "amount": 1}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("recharge_refund_too_large")
        )
    );
    server.assert_balance_matches_entries(member).await;
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_cards_coupons_checkout_returns_and_card_loss() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-11-30T02:00:00Z"));
    let home = server.create_store("Home").await;
    let other = server.create_store("Other").await;
    let svc = service(&server).await;
    let member = server.register("13900000002", home).await;
    server.recharge(member, home, 100_000, "r-1").await;

    // A ten-session card paid in cash; consume, add, and refuse beyond what is left.
    let (status, body) = server
        .post(&format!("/v1/members/{member}/count-cards"), "cc-1",
              json!({"service_id": svc, "sessions": 2, "price": 20_000, "paid_with": "cash", "store_id": home}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let card = body["card_id"].as_u64().unwrap();
    let consume = |k: &'static str, n: u32| {
        let path = format!("/v1/members/{member}/count-cards/{card}/consume");
        let s = &server;
        async move {
            s.post(&path, k, json!({"sessions": n, "store_id": home}))
                .await
        }
    };
    assert_eq!(consume("c-1", 1).await.0, StatusCode::CREATED);
    let (status, body) = consume("c-2", 2).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("insufficient_sessions")
        )
    );

    // A coupon valid through today (its last day), 20.00 off a bill of at least 100.00.
    let (status, body) = server
        .put(
            "/v1/coupon-templates/1",
            "ct-1",
            json!({"name": "20 off", "amount_off": 2_000, "min_spend": 10_000,
                    "valid_from": "2026-11-01", "valid_until": "2026-11-30"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/coupons"),
            "cp-1",
            json!({"template_id": 1, "store_id": home}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["coupon_code"].as_str().unwrap().to_owned();

    // Checkout at another store: one session, 150.00 of products, coupon, split payment.
    let order = json!({
        "member_id": member, "store_id": other, "coupon_code": code,
        "lines": [{"service_id": svc, "unit_price": 10_000, "quantity": 1, "count_card_id": card},
                  {"sku": "SERUM-30", "unit_price": 5_000, "quantity": 3}],
        "payment": {"stored_value": 10_000, "points": 0, "tenders": [{"kind": "wechat_pay", "amount": 3_000}]}
    });
    let (status, body) = server.post("/v1/orders", "o-1", order.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let o = &body["order"];
    assert_eq!(o["pricing"]["payable"], 13_000);
    assert_eq!(body["account"]["count_cards"][0]["remaining"], 0);
    let order_id = o["id"].as_u64().unwrap();
    // The same coupon can't be used twice.
    let mut again = order.clone();
    again["lines"] = json!([{"sku": "SERUM-30", "unit_price": 5_000, "quantity": 3}]);
    let (status, body) = server.post("/v1/orders", "o-2", again).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("coupon_not_found")),
        "{body}"
    );

    // Return one product: a third of the money back in proportion.
    let (status, body) = server
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            "ret-1",
            json!({"lines": [{"line": 1, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["order"]["returned"]["stored_value"], 3_333);
    // Return the rest: everything comes back, the session and the coupon included.
    let (status, body) = server
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            "ret-2",
            json!({"lines": [{"line": 0, "quantity": 1}, {"line": 1, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["order"]["returned"]["stored_value"], 10_000);
    assert_eq!(body["account"]["count_cards"][0]["remaining"], 1);
    assert_eq!(body["account"]["coupons"][0]["code"], code.as_str());
    let (status, _) = server
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            "ret-3",
            json!({"lines": [{"line": 1, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Settlement: what Home owes Other nets to zero after the full return: three stored-value
    // lines, and the count-card session Other served and took back.
    let (status, body) = server
        .get(&format!("/v1/settlements?home_store_id={home}&store_id={other}&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["lines"].as_u64(), body["owed"].as_i64()),
        (Some(5), Some(0))
    );

    // Card loss: locked means nothing is deducted; replacement retires the old number.
    let (status, _) = server
        .post(
            &format!("/v1/members/{member}/lock"),
            "lk-1",
            json!({"store_id": home}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = server.deduct(member, home, 1, "d-locked").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("card_locked"))
    );
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/replace-card"),
            "rc-1",
            json!({"store_id": home}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["account"]["card_number"], format!("{member}-2"));
    assert_eq!(body["account"]["balance"], 100_000);
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/count-cards/{card}/consume"),
            "c-old",
            json!({"sessions": 1, "store_id": home, "card_number": format!("{member}-1")}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("card_replaced"))
    );
    server.assert_balance_matches_entries(member).await;
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumption_never_goes_below_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("Home").await;
    let svc = service(&server).await;
    let member = server.register("13900000003", store).await;
    let (_, body) = server
        .post(&format!("/v1/members/{member}/count-cards"), "cc-1",
              json!({"service_id": svc, "sessions": 10, "price": 0, "paid_with": "cash", "store_id": store}))
        .await;
    let card = body["card_id"].as_u64().unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let client = server.client.clone();
        let url = server.url(&format!("/v1/members/{member}/count-cards/{card}/consume"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("Idempotency-Key", format!("c-{i}"))
                .json(&json!({"sessions": 1, "store_id": store}))
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
    assert_eq!(ok, 10);
    let (_, acct) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(acct["count_cards"][0]["remaining"], 0);
}

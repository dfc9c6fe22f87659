//! The price list (价目表), stock (库存) and item sales end to end: the server prices
//! checkout from the catalog, typed prices need `price_override`, sales and returns move
//! the selling store's stock in the same write, counts report their variance, and all of it
//! survives SIGKILL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{client_with_key, send, Server};

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

async fn put_item(server: &Server, id: u32, body: Value) -> Value {
    let key = format!("item-{id}-{}", body["price"]);
    let (status, item) = server.put(&format!("/v1/items/{id}"), &key, body).await;
    assert_eq!(status, StatusCode::OK, "{item}");
    item
}

async fn cashier(server: &Server, store: u64) -> reqwest::Client {
    let (status, c) = server
        .post(
            "/v1/credentials",
            &format!("cashier-{store}"),
            json!({"name": "Till", "role": "cashier", "store_ids": [store]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    client_with_key(c["key"].as_str().unwrap())
}

async fn stock_of(server: &Server, store: u64, item: u32) -> i64 {
    let (status, s) = server.get(&format!("/v1/items/{item}/stock")).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["store_id"] == store)
        .map_or(0, |r| r["units"].as_i64().unwrap())
}

async fn move_stock(server: &Server, store: u64, key: &str, body: Value) -> (StatusCode, Value) {
    server
        .post(&format!("/v1/stores/{store}/stock-moves"), key, body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_is_priced_by_the_server_and_typed_prices_need_the_capability() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-12-01T02:00:00Z"));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let (status, _) = server
        .put(
            "/v1/levels/1",
            "lv-1",
            json!({"name": "Gold", "price_rate_bp": 9000, "points_per_yuan": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let serum = put_item(
        &server,
        1,
        json!({"name": "Serum", "kind": "product", "category": "care", "sku": "SERUM-30",
               "barcode": "6901234567890", "unit": "瓶", "price": 10_000,
               "level_prices": {"1": 7_000}, "negative_stock_ok": true}),
    )
    .await;
    assert_eq!(
        (serum["version"].as_u64(), serum["kind"].as_str()),
        (Some(1), Some("product"))
    );
    // No level discount, no coupon, no stored value: a gift card-like item.
    put_item(
        &server,
        2,
        json!({"name": "Gift box", "kind": "product", "category": "gifts", "price": 5_000,
               "level_discount": false, "coupon_ok": false, "stored_value_ok": false,
               "points_each": 50, "negative_stock_ok": true}),
    )
    .await;
    let (status, body) = server
        .put(
            "/v1/items/3",
            "item-3-dup",
            json!({"name": "Clash", "kind": "product", "category": "care", "sku": "SERUM-30", "price": 1}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_code_taken")
    );
    // B sells the serum cheaper; A stops selling the gift box.
    let (status, body) = server
        .put(
            &format!("/v1/stores/{b}/items/1"),
            "ov-b1",
            json!({"price": 8_000, "available": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server
        .put(
            &format!("/v1/stores/{a}/items/2"),
            "ov-a2",
            json!({"available": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, list) = server
        .get(&format!("/v1/items?store_id={b}&barcode=6901234567890"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["store_price"], 8_000, "{list}");
    assert_eq!(list["version"], 4);

    // A cashier sells by barcode at the store's price; a typed price is refused.
    let till = cashier(&server, b).await;
    let walk_in = json!({"lines": [{"barcode": "6901234567890", "quantity": 2}],
                         "payment": {"tenders": [{"kind": "cash", "amount": 16_000}]}});
    let (status, order) = send(
        till.post(server.url("/v1/orders"))
            .header("Idempotency-Key", "o-1")
            .json(&walk_in),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let line = &order["lines"][0];
    assert_eq!(line["unit_price"], 8_000, "{order}");
    assert_eq!(line["item"]["Priced"]["version"], 4, "{order}");
    assert_eq!(line["item"]["Priced"]["typed"], false);
    let typed = json!({"lines": [{"item_id": 1, "unit_price": 1, "quantity": 1}],
                       "payment": {"tenders": [{"kind": "cash", "amount": 1}]}});
    let (status, body) = send(
        till.post(server.url("/v1/orders"))
            .header("Idempotency-Key", "o-2")
            .json(&typed),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "price_override_forbidden")
    );
    // HQ may: the line and the operation log say so.
    let (status, order) = server
        .post(
            "/v1/orders",
            "o-3",
            json!({"store_id": b, "lines": [{"item_id": 1, "unit_price": 1, "quantity": 1}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 1}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["lines"][0]["item"]["Priced"]["typed"], true);
    let id = order["id"].as_u64().unwrap();
    let (status, log) = server
        .get(&format!("/v1/oplog?object=price_override:{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["operations"].as_array().unwrap().len(), 1, "{log}");
    // Not sold at A.
    let (status, body) = server
        .post(
            "/v1/orders",
            "o-4",
            json!({"store_id": a, "lines": [{"item_id": 2, "quantity": 1}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 5_000}]}}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "item_unavailable")
    );
    let (status, body) = server
        .post(
            "/v1/orders",
            "o-5",
            json!({"store_id": a, "lines": [{"item_id": 77, "quantity": 1}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 5_000}]}}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "item_not_found")
    );

    // A Gold member at B: the serum at its level price (7,000, not B's 8,000 less 10%), the
    // gift box at full price, earning its own points, and not payable by stored value.
    let m = server.register("13900000001", a).await;
    let (status, _) = server
        .post(
            &format!("/v1/members/{m}/level"),
            "set-gold",
            json!({"level_id": 1, "reason": "vip", "store_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    server.recharge(m, a, 100_000, "r-1").await;
    let lines = json!([{"item_id": 1, "quantity": 1}, {"item_id": 2, "quantity": 1}]);
    let (status, body) = server
        .post(
            "/v1/orders",
            "o-6",
            json!({"member_id": m, "store_id": b, "lines": lines,
                   "payment": {"stored_value": 12_000}}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "stored_value_not_allowed"),
        "{body}"
    );
    let (status, paid) = server
        .post("/v1/orders", "o-7", json!({"member_id": m, "store_id": b, "lines": lines,
                   "payment": {"stored_value": 7_000, "tenders": [{"kind": "cash", "amount": 5_000}]}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let o = &paid["order"];
    assert_eq!(o["pricing"]["member_price"], 12_000, "{o}");
    assert_eq!(o["lines"][0]["item"]["Priced"]["member_value"], 7_000);
    // 50 points for the box, 1 a yuan on the serum's 70.
    assert_eq!(o["points_earned"], 50 + 70, "{o}");
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_moves_with_sales_returns_counts_and_survives_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-12-01T02:00:00Z"));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    put_item(
        &server,
        1,
        json!({"name": "Serum", "kind": "product", "category": "care", "price": 1_000}),
    )
    .await;
    let svc = {
        let (status, s) = server
            .post(
                "/v1/services",
                "svc",
                json!({"name": "Facial", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["room"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        s["id"].as_u64().unwrap()
    };
    put_item(
        &server,
        2,
        json!({"name": "Facial", "kind": "service", "service_id": svc, "category": "face", "price": 20_000}),
    )
    .await;
    let (status, body) = move_stock(
        &server,
        b,
        "rcv-0",
        json!({"kind": "receipt", "lines": [{"item_id": 2, "quantity": 5}]}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_product")
    );
    let (status, rcv) = move_stock(
        &server,
        b,
        "rcv-1",
        json!({"kind": "receipt", "lines": [{"item_id": 1, "quantity": 5}], "note": "supplier X"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rcv}");
    assert_eq!(rcv["lines"][0]["after"], 5);
    // The same key again changes nothing.
    let (status, _) = move_stock(
        &server,
        b,
        "rcv-1",
        json!({"kind": "receipt", "lines": [{"item_id": 1, "quantity": 5}], "note": "supplier X"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(stock_of(&server, b, 1).await, 5);

    // A member of A buys 3 at B: B's stock, in the member's home ledger's write.
    let m = server.register("13900000002", a).await;
    server.recharge(m, a, 100_000, "r-1").await;
    let sale = |key: &str, qty: u32| {
        let body = json!({"member_id": m, "store_id": b,
            "lines": [{"item_id": 1, "quantity": qty}, {"item_id": 2, "quantity": 1}],
            "payment": {"stored_value": 1_000 * i64::from(qty) + 20_000}});
        (key.to_owned(), body)
    };
    let (k, body) = sale("s-1", 3);
    let (status, paid) = server.post("/v1/orders", &k, body).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let order = paid["order"]["id"].as_u64().unwrap();
    assert_eq!(stock_of(&server, b, 1).await, 2);
    // Not enough left: nothing happens, not even the money.
    let (k, body) = sale("s-2", 3);
    let (status, body) = server.post("/v1/orders", &k, body).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "out_of_stock"),
        "{body}"
    );
    assert_eq!(server.balance(m).await, 100_000 - 23_000);
    // A walk-in at A finds none there.
    let (status, body) = server
        .post(
            "/v1/orders",
            "w-1",
            json!({"store_id": a, "lines": [{"item_id": 1, "quantity": 1}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 1_000}]}}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "out_of_stock")
    );

    // One comes back: B's stock again, once.
    let (status, ret) = server
        .post(
            &format!("/v1/orders/{order}/returns"),
            "ret-1",
            json!({"lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert!(status.is_success(), "{ret}");
    let (status, _) = server
        .post(
            &format!("/v1/orders/{order}/returns"),
            "ret-1",
            json!({"lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert!(status.is_success());
    assert_eq!(stock_of(&server, b, 1).await, 3);
    // The returned unit can be sold again: B counts it (the return is durable).
    let (status, body) = server
        .post(
            "/v1/orders",
            "w-2",
            json!({"store_id": b, "lines": [{"item_id": 1, "quantity": 3}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 3_000}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(stock_of(&server, b, 1).await, 0);

    // A delivery of 10, then a count finds 8: a variance of -2 at 1,000 each.
    move_stock(
        &server,
        b,
        "rcv-2",
        json!({"kind": "receipt", "lines": [{"item_id": 1, "quantity": 10}]}),
    )
    .await;
    let (status, count) = move_stock(
        &server,
        b,
        "cnt-1",
        json!({"kind": "count", "lines": [{"item_id": 1, "quantity": 8}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{count}");
    let v = &count["lines"][0]["variance"];
    assert_eq!(
        (
            v["expected"].as_i64(),
            v["variance"].as_i64(),
            v["value"].as_i64()
        ),
        (Some(10), Some(-2), Some(-2_000)),
        "{count}"
    );
    let (status, body) = move_stock(
        &server,
        b,
        "adj-1",
        json!({"kind": "adjustment", "lines": [{"item_id": 1, "quantity": -9}], "note": "broken"}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "out_of_stock")
    );

    // Sales statistics: the serum's units and takings, best sellers first.
    let (status, stats) = server
        .get(&format!(
            "/v1/stats/items?store_id={b}&from=2026-12-01&to=2026-12-01"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "2", "the facial took the most: {stats}");
    let serum = rows.iter().find(|r| r["key"] == "1").unwrap();
    assert_eq!(
        (
            serum["sold"].as_i64(),
            serum["returned"].as_i64(),
            serum["received"].as_i64(),
            serum["adjusted"].as_i64()
        ),
        (Some(6), Some(1), Some(15), Some(-2)),
        "{stats}"
    );
    assert_eq!(serum["net_sales"], 5_000);

    // 调拨: 2 sent from B to A are in transit, then in A's stock, once.
    let (status, sent) = server
        .post(
            &format!("/v1/stores/{b}/transfers"),
            "tr-1",
            json!({"to_store_id": a, "lines": [{"item_id": 1, "quantity": 2}], "note": "weekend"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let transfer = sent["id"].as_u64().unwrap();
    assert_eq!(
        (stock_of(&server, b, 1).await, stock_of(&server, a, 1).await),
        (6, 0)
    );
    let (_, incoming) = server
        .get(&format!(
            "/v1/stores/{a}/transfers?direction=in&status=in_transit"
        ))
        .await;
    assert_eq!(incoming["transfers"][0]["id"], transfer, "{incoming}");
    let (status, got) = server
        .act(&format!("/v1/transfers/{transfer}/receive"), "rx-1")
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert!(got["received_at"].is_string(), "{got}");
    let (status, again) = server
        .act(&format!("/v1/transfers/{transfer}/receive"), "rx-1")
        .await;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &got),
        "a repeat answers the same"
    );
    let (status, body) = server
        .act(&format!("/v1/transfers/{transfer}/receive"), "rx-2")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "transfer_already_received")
    );
    assert_eq!(
        (stock_of(&server, b, 1).await, stock_of(&server, a, 1).await),
        (6, 2)
    );
    let (status, body) = server
        .post(
            &format!("/v1/stores/{b}/transfers"),
            "tr-2",
            json!({"to_store_id": a, "lines": [{"item_id": 1, "quantity": 7}]}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "out_of_stock")
    );

    // Everything is on disk.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-12-01T03:00:00Z"));
    assert_eq!(stock_of(&server, b, 1).await, 6);
    let (status, s) = server.get(&format!("/v1/stores/{b}/stock")).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        (s["items"][0]["units"].as_i64(), s["value"].as_i64()),
        (Some(6), Some(6_000))
    );
    let (status, body) = server
        .act(&format!("/v1/transfers/{transfer}/receive"), "rx-3")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "transfer_already_received")
    );
    let (_, stats) = server
        .get("/v1/stats/items?from=2026-12-01&to=2026-12-01&by=store")
        .await;
    let rows = stats["rows"].as_array().unwrap();
    let row = |s: u64| {
        rows.iter()
            .find(|r| r["key"].as_str().and_then(|k| k.parse::<u64>().ok()) == Some(s))
            .unwrap()
    };
    assert_eq!(
        (
            row(b)["transferred_out"].as_i64(),
            row(a)["transferred_in"].as_i64()
        ),
        (Some(2), Some(2)),
        "{stats}"
    );
    let (_, days) = server
        .get("/v1/stats/items?from=2026-11-30&to=2026-12-01&by=day")
        .await;
    assert_eq!(days["rows"][0]["key"], "2026-12-01", "{days}");
    assert_eq!(days["rows"].as_array().unwrap().len(), 1, "{days}");
    let (_, history) = server.get("/v1/items/1/history").await;
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    let (_, item) = server.get("/v1/items/2").await;
    assert_eq!(item["version"], 2);

    // Orders are found by store and day, by member phone, by kind, item and status.
    let day = "from=2026-12-01&to=2026-12-01";
    let (status, found) = server.get(&format!("/v1/orders?store_id={b}&{day}")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let mut kinds: Vec<&str> = found["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    // The test clock stands still: one instant, so no order in time to check.
    kinds.sort_unstable();
    assert_eq!(kinds, ["return", "sale", "sale"], "{found}");
    let (_, returns) = server
        .get(&format!("/v1/orders?store_id={b}&{day}&kind=return"))
        .await;
    assert_eq!(returns["orders"][0]["order"]["id"], order, "{returns}");
    assert_eq!(returns["orders"][0]["amount"], 1_000);
    let (_, mine) = server
        .get(&format!(
            "/v1/orders?phone=13900000002&{day}&item_id=1&status=partly_returned"
        ))
        .await;
    assert_eq!(
        mine["orders"].as_array().unwrap().len(),
        2,
        "the sale and its return: {mine}"
    );
    let (_, none) = server.get(&format!("/v1/orders?store_id={a}&{day}")).await;
    assert_eq!(none["orders"].as_array().unwrap().len(), 0, "{none}");
    let res = server
        .client
        .get(server.url(&format!("/v1/orders/{order}/receipt")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("Serum") && text.contains("Facial"), "{text}");
    assert!(
        text.contains("returned") && text.contains("Stored value"),
        "{text}"
    );
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_cards_refund_in_proportion_and_sessions_away_are_settled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-12-01T02:00:00Z"));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let (status, s) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Yoga", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["room"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let svc = s["id"].as_u64().unwrap();
    let m = server.register("13900000003", a).await;
    server.recharge(m, a, 100_000, "r-1").await;
    let settled = |owing: u64, owed: u64| {
        let s = &server;
        async move {
            let (status, body) = s
                .get(&format!("/v1/settlements?home_store_id={owing}&store_id={owed}&from=2026-11-01T00:00:00Z&to=2026-12-02T00:00:00Z"))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["owed"].as_i64().unwrap()
        }
    };

    // Ten sessions for 1,000.00 in cash at A; three used at B: A owes B 300.00.
    let (status, sold) = server
        .post(&format!("/v1/members/{m}/count-cards"), "cc-1",
              json!({"service_id": svc, "sessions": 10, "price": 100_000, "paid_with": "cash", "store_id": a}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sold}");
    let card = sold["card_id"].as_u64().unwrap();
    let (status, used) = server
        .post(
            &format!("/v1/members/{m}/count-cards/{card}/consume"),
            "use-1",
            json!({"sessions": 3, "store_id": b}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{used}");
    assert_eq!(settled(a, b).await, 30_000);
    // Sessions used at A itself settle nothing.
    server
        .post(
            &format!("/v1/members/{m}/count-cards/{card}/consume"),
            "use-2",
            json!({"sessions": 1, "store_id": a}),
        )
        .await;
    assert_eq!(settled(a, b).await, 30_000);

    // The six left are refunded in cash, at A only: 600.00 back.
    let refund = format!("/v1/members/{m}/count-cards/{card}/refund");
    let (status, body) = server
        .post(&refund, "rf-1", json!({"tender": "cash", "store_id": b}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "count_card_refund_elsewhere"
        )
    );
    let (status, body) = server
        .post(&refund, "rf-2", json!({"tender": "cash", "store_id": a}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cards = body["account"]["count_cards"].as_array().unwrap();
    assert_eq!(cards[0]["remaining"], 0, "{body}");
    let (status, body) = server
        .post(&refund, "rf-3", json!({"tender": "cash", "store_id": a}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_sessions")
    );

    // A card paid with stored value comes back to stored value through its deduction.
    let (status, sold) = server
        .post(&format!("/v1/members/{m}/count-cards"), "cc-2",
              json!({"service_id": svc, "sessions": 4, "price": 10_000, "paid_with": "stored_value", "store_id": a}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sold}");
    let card = sold["card_id"].as_u64().unwrap();
    let seq = sold["entry"]["entry_seq"].as_u64().unwrap();
    server
        .post(
            &format!("/v1/members/{m}/count-cards/{card}/consume"),
            "use-3",
            json!({"sessions": 1, "store_id": a}),
        )
        .await;
    assert_eq!(server.balance(m).await, 90_000);
    let (status, body) = server
        .post(
            &format!("/v1/members/{m}/count-cards/{card}/refund"),
            "rf-4",
            json!({"deduction_seq": seq, "store_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(server.balance(m).await, 97_500);
    server.assert_balance_matches_entries(m).await;
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_is_a_return_and_a_sale_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-12-01T02:00:00Z"));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    for (id, price) in [(1, 1_000), (2, 3_000)] {
        put_item(
            &server,
            id,
            json!({"name": format!("P{id}"), "kind": "product", "category": "care", "price": price}),
        )
        .await;
        let (status, _) = move_stock(
            &server,
            a,
            &format!("rcv-{id}"),
            json!({"kind": "receipt", "lines": [{"item_id": id, "quantity": 5}]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // A walk-in buys two P1, then swaps one for a P2, paying P2 in cash.
    let (status, sold) = server
        .post(
            "/v1/orders",
            "w-1",
            json!({"store_id": a, "lines": [{"item_id": 1, "quantity": 2}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 2_000}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sold}");
    let first = sold["id"].as_u64().unwrap();
    let swap = json!({"return_lines": [{"line": 0, "quantity": 1}],
                      "lines": [{"item_id": 2, "quantity": 1}],
                      "payment": {"tenders": [{"kind": "cash", "amount": 3_000}]}});
    let (status, new) = server
        .post(
            &format!("/v1/orders/{first}/exchanges"),
            "x-1",
            swap.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!(new["lines"][0]["item"]["Priced"]["id"], 2, "{new}");
    let (status, again) = server
        .post(&format!("/v1/orders/{first}/exchanges"), "x-1", swap)
        .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::CREATED, &new["id"]),
        "a repeat answers the same"
    );
    let (_, old) = server.get(&format!("/v1/orders/{first}")).await;
    assert_eq!(old["returned"]["quantities"][0], 1, "{old}");
    assert_eq!(
        (stock_of(&server, a, 1).await, stock_of(&server, a, 2).await),
        (4, 4)
    );

    // A member of B swaps at A, stored value both ways; not enough P2: nothing happens.
    let m = server.register("13900000004", b).await;
    server.recharge(m, b, 100_000, "r-1").await;
    let (status, paid) = server
        .post(
            "/v1/orders",
            "m-1",
            json!({"member_id": m, "store_id": a,
                   "lines": [{"item_id": 1, "quantity": 1}], "payment": {"stored_value": 1_000}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let order = paid["order"]["id"].as_u64().unwrap();
    let too_many = json!({"return_lines": [{"line": 0, "quantity": 1}],
                          "lines": [{"item_id": 2, "quantity": 9}],
                          "payment": {"stored_value": 27_000}});
    let (status, body) = server
        .post(&format!("/v1/orders/{order}/exchanges"), "x-2", too_many)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "out_of_stock"),
        "{body}"
    );
    assert_eq!(server.balance(m).await, 99_000);
    assert_eq!(
        (stock_of(&server, a, 1).await, stock_of(&server, a, 2).await),
        (3, 4)
    );
    let (status, body) = server
        .post(
            &format!("/v1/orders/{order}/exchanges"),
            "x-3",
            json!({"return_lines": [{"line": 0, "quantity": 1}],
                     "lines": [{"item_id": 2, "quantity": 1}],
                     "payment": {"stored_value": 3_000}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(server.balance(m).await, 97_000);
    assert_eq!(
        (stock_of(&server, a, 1).await, stock_of(&server, a, 2).await),
        (4, 3)
    );
    let (_, found) = server
        .get(&format!(
            "/v1/orders?member_id={m}&from=2026-12-01&to=2026-12-01&kind=return"
        ))
        .await;
    assert_eq!(found["orders"][0]["order"]["id"], order, "{found}");
    server.assert_balance_matches_entries(m).await;
    server.assert_ledger_sums_to_zero().await;
}

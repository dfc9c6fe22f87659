//! Refund requests (退款审核): a cashier or the member asks, a manager approves all or part
//! (the refund posted in the same write) or rejects with a reason; decisions are final,
//! repeats answer the first decision, and all of it survives a SIGKILL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::access::credential;
use crate::harness::{client_with_key, send, Server};

const T0: &str = "2026-03-02T02:00:00Z";

async fn post(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.post(server.url(path)).header("Idempotency-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

async fn balance(server: &Server, member: u64) -> i64 {
    let (status, b) = server.get(&format!("/v1/members/{member}/balance")).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["balance"].as_i64().unwrap()
}

fn ids(page: &Value) -> Vec<u64> {
    page["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_decides_refund_requests_and_an_approval_posts_the_refund() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let m = server.register("13800000001", a).await;
    let other = server.register("13800000002", b).await;
    server.recharge(m, a, 10_000, "r").await; // entry 1
    server.deduct(m, a, 3_000, "d1").await; // entry 2
    server.deduct(m, a, 1_000, "d2").await; // entry 3
    let cashier = client_with_key(
        &credential(
            &server,
            "c-1",
            json!({"name": "Till", "role": "cashier", "store_ids": [a]}),
        )
        .await,
    );
    let manager = client_with_key(
        &credential(
            &server,
            "c-2",
            json!({"name": "Boss", "role": "store_manager", "store_ids": [a]}),
        )
        .await,
    );
    let manager_b = client_with_key(
        &credential(
            &server,
            "c-3",
            json!({"name": "Boss B", "role": "store_manager", "store_ids": [b]}),
        )
        .await,
    );
    let ask = format!("/v1/members/{m}/refund-requests");

    // Asked: pending, nothing moved.
    let (status, first) = post(
        &cashier,
        &server,
        &ask,
        "q-1",
        Some(json!({"kind": "deduction", "entry_seq": 2, "amount": 2_000, "reason": "charged twice"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["state"], "pending");
    assert_eq!(first["requested_by"], "staff");
    assert_eq!(first["store_id"], a);
    assert_eq!(balance(&server, m).await, 6_000);
    let first_id = first["id"].as_u64().unwrap();

    // Refused when asked, with nothing written: the same entry again, a recharge without
    // its amount, an unknown entry, more than the deduction, a blank reason, another store's
    // member.
    for (key, body, status, want) in [
        (
            "q-2",
            json!({"kind": "deduction", "entry_seq": 2, "reason": "again"}),
            StatusCode::CONFLICT,
            "refund_request_open",
        ),
        (
            "q-3",
            json!({"kind": "recharge", "entry_seq": 1, "reason": "moving away"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "q-4",
            json!({"kind": "deduction", "entry_seq": 99, "reason": "what"}),
            StatusCode::NOT_FOUND,
            "entry_not_found",
        ),
        (
            "q-5",
            json!({"kind": "deduction", "entry_seq": 3, "amount": 5_000, "reason": "too much"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "refund_exceeds_deduction",
        ),
        (
            "q-6",
            json!({"kind": "deduction", "entry_seq": 3, "reason": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "q-7",
            json!({"kind": "order", "entry_seq": 3, "reason": "mixed"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let (s, body) = post(&cashier, &server, &ask, key, Some(body)).await;
        assert_eq!((s, code(&body)), (status, want), "{key}: {body}");
    }
    let (s, body) = post(
        &cashier,
        &server,
        &format!("/v1/members/{other}/refund-requests"),
        "q-8",
        Some(json!({"kind": "deduction", "entry_seq": 1, "reason": "not ours"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");

    // Only a manager of the member's home store decides; more than asked is refused.
    let approve = format!("/v1/refund-requests/{first_id}/approve");
    let (s, body) = post(&cashier, &server, &approve, "a-0", Some(json!({}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = post(&manager_b, &server, &approve, "a-0", Some(json!({}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, body) = post(
        &manager,
        &server,
        &approve,
        "a-1",
        Some(json!({"amount": 2_500})),
    )
    .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );

    // Approved in part: the refund is posted with the decision.
    let (s, approved) = post(
        &manager,
        &server,
        &approve,
        "a-2",
        Some(json!({"amount": 1_500, "note": "half, as agreed"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["granted_amount"], 1_500);
    assert_eq!(approved["note"], "half, as agreed");
    assert_eq!(approved["refund_entry_seq"], 4);
    assert_eq!(balance(&server, m).await, 7_500);
    // The same key answers the same decision; another key finds it decided.
    let (s, again) = post(
        &manager,
        &server,
        &approve,
        "a-2",
        Some(json!({"amount": 1_500, "note": "half, as agreed"})),
    )
    .await;
    assert_eq!((s, &again), (StatusCode::OK, &approved));
    let (s, body) = post(&manager, &server, &approve, "a-3", Some(json!({}))).await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::CONFLICT, "refund_request_decided"),
        "{body}"
    );
    assert_eq!(balance(&server, m).await, 7_500);

    // Rejected with a reason; withdrawn by the cashier; neither moves money.
    let (_, second) = post(
        &cashier,
        &server,
        &ask,
        "q-9",
        Some(json!({"kind": "deduction", "entry_seq": 3, "reason": "service skipped"})),
    )
    .await;
    let second_id = second["id"].as_u64().unwrap();
    assert!(second_id > first_id);
    let reject = format!("/v1/refund-requests/{second_id}/reject");
    let (s, body) = post(
        &manager,
        &server,
        &reject,
        "j-0",
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, rejected) = post(
        &manager,
        &server,
        &reject,
        "j-1",
        Some(json!({"reason": "the service was given"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["note"], "the service was given");
    let (s, body) = post(
        &manager,
        &server,
        &format!("/v1/refund-requests/{second_id}/approve"),
        "a-4",
        Some(json!({})),
    )
    .await;
    assert_eq!(code(&body), "refund_request_decided", "{s} {body}");
    let (_, third) = post(
        &cashier,
        &server,
        &ask,
        "q-10",
        Some(json!({"kind": "recharge", "entry_seq": 1, "amount": 500, "reason": "moving away"})),
    )
    .await;
    let third_id = third["id"].as_u64().unwrap();
    let (s, withdrawn) = post(
        &cashier,
        &server,
        &format!("/v1/refund-requests/{third_id}/withdraw"),
        "w-1",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["state"], "withdrawn");
    assert_eq!(balance(&server, m).await, 7_500);

    // The store's list, newest first, by state and kind.
    let list = |q: &str| format!("/v1/stores/{a}/refund-requests{q}");
    let (_, all) = server.get(&list("")).await;
    assert_eq!(ids(&all), [third_id, second_id, first_id], "{all}");
    let (_, some) = server.get(&list("?state=approved")).await;
    assert_eq!(ids(&some), [first_id]);
    let (_, some) = server.get(&list("?kind=recharge")).await;
    assert_eq!(ids(&some), [third_id]);
    let (_, page) = server.get(&list("?limit=2")).await;
    assert_eq!(ids(&page), [third_id, second_id]);
    let before = page["next_before"].as_u64().unwrap();
    let (_, page) = server
        .get(&list(&format!("?limit=2&before={before}")))
        .await;
    assert_eq!(ids(&page), [first_id]);
    assert!(page["next_before"].is_null());
    let (s, body) = server.get(&list("?state=maybe")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, _) = send(manager_b.get(server.url(&list("")))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // After a SIGKILL: the decisions hold, ids go on, and the rest of the deduction can
    // still be granted in full.
    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    let (_, kept) = server.get(&format!("/v1/refund-requests/{first_id}")).await;
    assert_eq!(kept, approved);
    let (s, fourth) = server
        .post(
            &ask,
            "q-11",
            json!({"kind": "deduction", "entry_seq": 2, "reason": "the rest"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{fourth}");
    let fourth_id = fourth["id"].as_u64().unwrap();
    assert!(fourth_id > third_id);
    let (s, body) = server
        .post(
            &format!("/v1/refund-requests/{fourth_id}/approve"),
            "a-5",
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["granted_amount"].is_null(), "{body}");
    assert_eq!(balance(&server, m).await, 9_000);
    server.assert_ledger_sums_to_zero().await;
    server.assert_balance_matches_entries(m).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_refund_returns_the_granted_lines_and_a_member_asks_for_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let a = server.create_store("A").await;
    let m = server.register("13800000099", a).await;
    let stranger = server.register("13800000098", a).await;
    server.recharge(m, a, 20_000, "r").await;
    server.recharge(stranger, a, 100, "x0").await;
    server.deduct(stranger, a, 1, "x").await;
    let (s, sold) = server
        .post(
            "/v1/orders",
            "o-1",
            json!({"member_id": m, "store_id": a,
                   "lines": [{"sku": "SERUM", "unit_price": 3_000, "quantity": 2},
                             {"sku": "MASK", "unit_price": 1_000, "quantity": 1}],
                   "payment": {"stored_value": 7_000}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sold}");
    let order = sold["order"]["id"].as_u64().unwrap();
    assert_eq!(sold["account"]["balance"], 13_000);

    // The member signs in and asks for the whole order back (all that is left of it).
    let mut hook = crate::member_channel::hook(&server).await;
    let (me_id, token) =
        crate::member_channel::sign_in(&server, &mut hook, "13800000099", "rr-in").await;
    assert_eq!(me_id, m);
    let me = client_with_key(&token);
    let (s, asked) = post(
        &me,
        &server,
        "/v1/me/refund-requests",
        "me-1",
        Some(json!({"kind": "order", "order_id": order, "reason": "allergic"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{asked}");
    assert_eq!(asked["requested_by"], "member");
    assert_eq!(
        asked["lines"],
        json!([{"line": 0, "quantity": 2}, {"line": 1, "quantity": 1}])
    );
    let id = asked["id"].as_u64().unwrap();
    let (_, mine) = send(me.get(server.url("/v1/me/refund-requests"))).await;
    assert_eq!(ids(&mine), [id]);
    // The member can't decide, nor reach staff routes.
    let (s, _) = post(
        &me,
        &server,
        &format!("/v1/refund-requests/{id}/approve"),
        "me-2",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another member's request is not theirs to withdraw.
    let (_, theirs) = server
        .post(
            &format!("/v1/members/{stranger}/refund-requests"),
            "s-1",
            json!({"kind": "deduction", "entry_seq": 2, "reason": "typo"}),
        )
        .await;
    let (s, body) = post(
        &me,
        &server,
        &format!("/v1/me/refund-requests/{}/withdraw", theirs["id"]),
        "me-3",
        None,
    )
    .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::NOT_FOUND, "refund_request_not_found"),
        "{body}"
    );

    // HQ grants one serum: returned in proportion, in the approving write.
    let (s, body) = server
        .post(
            &format!("/v1/refund-requests/{id}/approve"),
            "a-1",
            json!({"lines": [{"line": 1, "quantity": 2}]}),
        )
        .await;
    assert_eq!(
        (s, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "more than asked of a line: {body}"
    );
    let (s, body) = server
        .post(
            &format!("/v1/refund-requests/{id}/approve"),
            "a-2",
            json!({"lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["granted_lines"], json!([{"line": 0, "quantity": 1}]));
    let (_, order_now) = server.get(&format!("/v1/orders/{order}")).await;
    assert_eq!(
        order_now["returned"]["quantities"],
        json!([1, 0]),
        "{order_now}"
    );
    let (_, mine) = send(me.get(server.url("/v1/me"))).await;
    assert_eq!(mine["account"]["balance"], 16_000, "{mine}");
    // A second request for the rest of the order is a new request.
    let (s, rest) = post(
        &me,
        &server,
        "/v1/me/refund-requests",
        "me-4",
        Some(json!({"kind": "order", "order_id": order, "reason": "the rest too"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{rest}");
    assert_eq!(
        rest["lines"],
        json!([{"line": 0, "quantity": 1}, {"line": 1, "quantity": 1}])
    );
    let (s, gone) = post(
        &me,
        &server,
        &format!("/v1/me/refund-requests/{}/withdraw", rest["id"]),
        "me-5",
        None,
    )
    .await;
    assert_eq!(
        (s, gone["state"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    server.assert_ledger_sums_to_zero().await;
}

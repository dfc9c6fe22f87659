use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

/// Each malformed request gets its 4xx with a stable code and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_4xx_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let member = server.register("13500000000", store).await;
    server.recharge(member, store, 1_000, "seed").await;
    let deduct = format!("/v1/members/{member}/deductions");

    let raw = |path: &str, key: Option<&str>, ct: Option<&str>, body: Vec<u8>| {
        let mut req = server.client.post(server.url(path)).body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(c) = ct {
            req = req.header("Content-Type", c);
        }
        async move {
            // A server that refuses a body early may reset the connection while the client
            // is still sending it; a POS would retry, and so does this test.
            for _ in 0..5 {
                let Ok(res) = req.try_clone().expect("buffered body").send().await else {
                    continue;
                };
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                return (status, body);
            }
            panic!("request failed five times");
        }
    };
    let json_ct = Some("application/json");
    let cases: Vec<(&str, (StatusCode, Value), StatusCode, &str)> = vec![
        ("malformed", raw(&deduct, Some("b1"), json_ct, b"{\"amount\": 1,".to_vec()).await, StatusCode::BAD_REQUEST, "malformed_json"),
        ("unknown field", server.post(&deduct, "b2", json!({"amount": 1, "store_id": store, "extra": true})).await, StatusCode::BAD_REQUEST, "invalid_body"),
        ("string amount", server.post(&deduct, "b3", json!({"amount": "1", "store_id": store})).await, StatusCode::BAD_REQUEST, "invalid_body"),
        ("fractional amount", server.post(&deduct, "b4", json!({"amount": 1.5, "store_id": store})).await, StatusCode::BAD_REQUEST, "invalid_body"),
        ("missing store", server.post(&deduct, "b5", json!({"amount": 1})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("zero amount", server.post(&deduct, "b6", json!({"amount": 0, "store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("negative amount", server.post(&deduct, "b7", json!({"amount": -5, "store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("negative recharge", server.post(&format!("/v1/members/{member}/recharges"), "b8", json!({"amount": -5, "store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("huge amount", server.post(&deduct, "b9", json!({"amount": i64::MAX, "store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount"),
        ("beyond i64", raw(&deduct, Some("b10"), json_ct, format!("{{\"amount\": 99999999999999999999, \"store_id\": {store}}}").into_bytes()).await, StatusCode::BAD_REQUEST, "invalid_body"),
        ("no key", raw(&deduct, None, json_ct, json!({"amount": 1, "store_id": store}).to_string().into_bytes()).await, StatusCode::BAD_REQUEST, "idempotency_key_required"),
        ("long key", server.post(&deduct, &"k".repeat(200), json!({"amount": 1, "store_id": store})).await, StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
        ("text body", raw(&deduct, Some("b11"), Some("text/plain"), b"amount=1".to_vec()).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("no content type", raw(&deduct, Some("b12"), None, json!({"amount": 1, "store_id": store}).to_string().into_bytes()).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("oversized", raw(&deduct, Some("b13"), json_ct, vec![b' '; 70_000]).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        ("unknown member", server.post(&format!("/v1/members/{}/deductions", member + 1), "b14", json!({"amount": 1, "store_id": store})).await, StatusCode::NOT_FOUND, "member_not_found"),
        ("member of unknown store", server.post(&format!("/v1/members/{}/deductions", (999u64 << 32) | 1), "b15", json!({"amount": 1, "store_id": store})).await, StatusCode::NOT_FOUND, "member_not_found"),
        ("member id zero", server.post("/v1/members/0/deductions", "b16", json!({"amount": 1, "store_id": store})).await, StatusCode::NOT_FOUND, "member_not_found"),
        ("unknown store", server.post(&deduct, "b17", json!({"amount": 1, "store_id": store + 50})).await, StatusCode::NOT_FOUND, "store_not_found"),
        ("store zero", server.post(&deduct, "b18", json!({"amount": 1, "store_id": 0})).await, StatusCode::NOT_FOUND, "store_not_found"),
        ("unknown deduction", server.post(&format!("/v1/members/{member}/refunds"), "b19", json!({"deduction_seq": 77})).await, StatusCode::NOT_FOUND, "entry_not_found"),
        ("refund a recharge", server.post(&format!("/v1/members/{member}/refunds"), "b20", json!({"deduction_seq": 1})).await, StatusCode::UNPROCESSABLE_ENTITY, "not_a_deduction"),
        ("bad phone", server.post("/v1/members", "b21", json!({"phone": "call me", "name": "X", "home_store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
        ("blank name", server.post("/v1/members", "b22", json!({"phone": "13511111111", "name": "  ", "home_store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
        ("long name", server.post("/v1/members", "b23", json!({"phone": "13511111111", "name": "x".repeat(500), "home_store_id": store})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
        ("home store missing", server.post("/v1/members", "b24", json!({"phone": "13511111111", "name": "X", "home_store_id": 4242})).await, StatusCode::NOT_FOUND, "store_not_found"),
        ("bad time zone", server.post("/v1/stores", "b25", json!({"name": "X", "time_zone": "Mars/Olympus"})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_time_zone"),
        ("non-numeric id", server.post("/v1/members/abc/deductions", "b26", json!({"amount": 1, "store_id": store})).await, StatusCode::NOT_FOUND, "not_found"),
        ("page too big", server.get(&format!("/v1/members/{member}/entries?limit=100000")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query_value"),
        ("page zero", server.get(&format!("/v1/members/{member}/entries?limit=0")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query_value"),
        ("page garbage", server.get(&format!("/v1/members/{member}/entries?limit=x")).await, StatusCode::BAD_REQUEST, "invalid_query"),
        ("no such route", server.get("/v1/nothing").await, StatusCode::NOT_FOUND, "not_found"),
        ("stores page too big", server.get("/v1/stores?limit=100000").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query_value"),
    ];
    for (name, (status, body), want_status, want_code) in cases {
        assert_eq!(status, want_status, "{name}: {body}");
        assert_eq!(body["code"], want_code, "{name}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {body}"
        );
    }
    let res = server
        .client
        .delete(server.url("/v1/stores"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(server.balance(member).await, 1_000);
    assert_eq!(server.all_entries(member).await.len(), 1);
    let (_, stores) = server.get("/v1/stores").await;
    assert_eq!(stores["stores"].as_array().unwrap().len(), 1);
    let (status, _) = server.get("/v1/members?phone=13511111111").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.assert_ledger_sums_to_zero().await;
    // Nothing was remembered under the refused keys either: they are free for real use.
    let (status, _) = server.deduct(member, store, 1, "b6").await;
    assert_eq!(status, StatusCode::CREATED);
}

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

async fn batch(server: &Server, ops: Value) -> (StatusCode, Value) {
    let res = server
        .client
        .post(server.url("/v1/ledger/batch"))
        .json(&json!({ "operations": ops }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Operations in a batch are independent: each gets its own answer, failures don't fail the
/// others, every key is idempotent on its own, and the books balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_operations_succeed_or_fail_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let m1 = server.register("13300000001", a).await;
    let m2 = server.register("13300000002", b).await;
    let ops = json!([
        {"idempotency_key": "b-1", "op": "recharge", "member_id": m1, "amount": 100, "store_id": a},
        {"idempotency_key": "b-2", "op": "recharge", "member_id": m2, "amount": 50, "store_id": b},
        {"idempotency_key": "b-3", "op": "deduct", "member_id": m1, "amount": 30, "store_id": b},
        {"idempotency_key": "b-4", "op": "deduct", "member_id": m2, "amount": 80, "store_id": a},
        {"idempotency_key": "b-5", "op": "deduct", "member_id": m1, "amount": -1, "store_id": a},
        {"idempotency_key": "b-6", "op": "deduct", "member_id": m1 + 7, "amount": 1, "store_id": a},
        {"idempotency_key": "b-3", "op": "deduct", "member_id": m1, "amount": 30, "store_id": b},
        {"idempotency_key": "b-7", "op": "refund", "member_id": m1, "deduction_seq": 2, "amount": 10},
    ]);
    let (status, first) = batch(&server, ops.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let statuses: Vec<u64> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 201, 422, 422, 404, 201, 201]);
    assert_eq!(first["results"][3]["body"]["code"], "insufficient_balance");
    assert_eq!(first["results"][4]["body"]["code"], "invalid_amount");
    assert_eq!(
        first["results"][6]["body"], first["results"][2]["body"],
        "a repeated key answers the first result"
    );
    assert_eq!(server.balance(m1).await, 80);
    assert_eq!(server.balance(m2).await, 50);

    let (_, again) = batch(&server, ops).await;
    assert_eq!(again, first);
    assert_eq!(server.balance(m1).await, 80);
    server.assert_balance_matches_entries(m1).await;
    server.assert_ledger_sums_to_zero().await;

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"idempotency_key": format!("x{i}"), "op": "deduct", "member_id": m1, "amount": 1, "store_id": a}))
        .collect();
    let (status, body) = batch(&server, json!(too_many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = batch(&server, json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(server.balance(m1).await, 80);
}

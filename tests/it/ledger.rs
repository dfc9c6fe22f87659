use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deductions_never_overdraw() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("Jing'an").await;
    let member = server.register("13800000001", store).await;
    let (status, _) = server.recharge(member, store, 50, "r-1").await;
    assert_eq!(status, StatusCode::CREATED);

    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = server.client.clone();
        let url = server.url(&format!("/v1/members/{member}/deductions"));
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Idempotency-Key", format!("d-{i}"))
                .json(&json!({"amount": 1, "store_id": store}))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap();
            (status, body)
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => ok += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(body["code"], "insufficient_balance");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, refused), (50, 50));
    assert_eq!(server.balance(member).await, 0);
    server.assert_balance_matches_entries(member).await;
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recharge_deduct_refund_and_history_across_stores() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let home = server.create_store("Home").await;
    let other = server.create_store("Other").await;
    let member = server.register("13800000002", home).await;

    let (status, body) = server.get("/v1/members?phone=138-0000-0002").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"].as_u64(), Some(member));
    assert_eq!(body["home_store_id"].as_u64(), Some(home));

    server.recharge(member, home, 10_000, "r1").await;
    let (status, d) = server.deduct(member, other, 3_000, "d1").await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["store_id"].as_u64(), Some(other));
    assert_eq!(d["balance_after"].as_i64(), Some(7_000));
    let seq = d["entry_seq"].as_u64().unwrap();

    let refund = |amount: Option<i64>, key: &'static str| {
        let body = match amount {
            Some(a) => json!({"deduction_seq": seq, "amount": a}),
            None => json!({"deduction_seq": seq}),
        };
        let path = format!("/v1/members/{member}/refunds");
        let server = &server;
        async move { server.post(&path, key, body).await }
    };
    let (status, r) = refund(Some(1_000), "f1").await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["store_id"].as_u64(), Some(other));
    let (status, r) = refund(Some(2_001), "f2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["code"], "refund_exceeds_deduction");
    let (status, r) = refund(None, "f3").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r["amount"].as_i64(), Some(2_000));
    let (status, r) = refund(None, "f4").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(server.balance(member).await, 10_000);

    let entries = server.all_entries(member).await;
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refund", "refund", "deduction", "recharge"]);
    assert_eq!(entries[2]["refunded"].as_i64(), Some(3_000));

    // Paging: one entry per page, newest first, ends on the first entry.
    let (_, page) = server
        .get(&format!("/v1/members/{member}/entries?limit=1"))
        .await;
    assert_eq!(page["entries"][0]["entry_seq"].as_u64(), Some(4));
    assert_eq!(page["next_before"].as_u64(), Some(4));
    let (_, page) = server
        .get(&format!("/v1/members/{member}/entries?limit=1&before=2"))
        .await;
    assert_eq!(page["entries"][0]["entry_seq"].as_u64(), Some(1));
    assert!(page["next_before"].is_null());

    server.assert_balance_matches_entries(member).await;
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_is_unique_across_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let first = server.register("13900000000", a).await;
    let (status, body) = server
        .post(
            "/v1/members",
            "other-key",
            json!({"phone": "139 0000 0000", "name": "Someone else", "home_store_id": b}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "phone_taken");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains(&first.to_string()));
}

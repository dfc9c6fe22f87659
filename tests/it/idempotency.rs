use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_return_the_first_result_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let member = server.register("13700000000", store).await;

    let (status, first) = server.recharge(member, store, 500, "k-recharge").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = server.recharge(member, store, 500, "k-recharge").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first, again);
    assert_eq!(server.balance(member).await, 500);

    let (status, body) = server.recharge(member, store, 501, "k-recharge").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_key_reused");
    // The key is taken across routes too.
    let (status, _) = server.deduct(member, store, 500, "k-recharge").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A refusal is a result: the retry is refused again even when it would now succeed.
    let (status, refused) = server.deduct(member, store, 800, "k-big").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["code"], "insufficient_balance");
    server.recharge(member, store, 1_000, "k-topup").await;
    let (status, again) = server.deduct(member, store, 800, "k-big").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again, refused);
    assert_eq!(server.balance(member).await, 1_500);

    server.kill();
    let server = Server::start(dir.path());
    let (status, after) = server.recharge(member, store, 500, "k-recharge").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(after, first);
    let (status, body) = server.recharge(member, store, 7, "k-recharge").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_key_reused");
    let (status, again) = server.deduct(member, store, 800, "k-big").await;
    assert_eq!((status, again), (StatusCode::UNPROCESSABLE_ENTITY, refused));
    let (status, body) = server
        .post(
            "/v1/members",
            "member-13700000000",
            json!({"phone": "13700000000", "name": "Member", "home_store_id": store}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["id"].as_u64(), Some(member));
    assert_eq!(server.balance(member).await, 1_500);
    assert_eq!(server.all_entries(member).await.len(), 2);
    server.assert_ledger_sums_to_zero().await;
}

//! Metrics and request ids.

use reqwest::StatusCode;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_answers_carry_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let store = server.create_store("Home").await;
    let member = server.register("13600000001", store).await;
    server.recharge(member, store, 500, "r-1").await;
    server.deduct(member, store, 100, "d-1").await;

    let res = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "pos-7-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "pos-7-abc");
    let res = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(!res.headers()["x-request-id"].is_empty());

    let res = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    for needle in [
        r#"http_requests_total{method="POST",route="/v1/members/{id}/deductions",status="201"} 1"#,
        "http_request_duration_seconds_bucket",
        "journal_sync_seconds_count",
        "journal_batch_submissions_bucket",
        "journal_queue_depth",
        "accounts_in_memory 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // Random paths don't make new label values.
    server.get("/v1/no-such-thing-42x").await;
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("no-such-thing"));
    assert!(text.contains(r#"route="/v1/{other}""#));
}

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
    // An id that is not visible ASCII is replaced, never answered with 400.
    for bad in [&b"caf\xc3\xa9"[..], b"has space"] {
        let res = server
            .client
            .get(server.url("/healthz"))
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(bad).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_ne!(res.headers()["x-request-id"].as_bytes(), bad);
    }

    let text = server.metrics_text().await;
    for needle in [
        r#"http_requests_total{method="POST",route="/v1/members/{member_id}/deductions",status="201"} 1"#,
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
    let text = server.metrics_text().await;
    assert!(!text.contains("no-such-thing"));
    assert!(text.contains(r#"route="unmatched""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_in_the_operation_log_with_who_where_what_and_result() {
    use crate::harness::client_with_key;
    use serde_json::{json, Value};

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let member = server.register("13600000002", a).await;
    let (status, cred) = server
        .post(
            "/v1/credentials",
            "c-pos",
            json!({"name": "POS A", "role": "pos", "store_ids": [a]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cred}");
    let pos = client_with_key(cred["key"].as_str().unwrap());
    let pos_id = cred["id"].as_u64().unwrap();
    let post = |key: &'static str, amount: i64, what: &'static str| {
        let pos = pos.clone();
        let url = server.url(&format!("/v1/members/{member}/{what}"));
        async move {
            pos.post(url)
                .header("Idempotency-Key", key)
                .json(&json!({ "amount": amount }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post("op-r", 1_000, "recharges").await, StatusCode::CREATED);
    assert_eq!(post("op-d", 300, "deductions").await, StatusCode::CREATED);
    assert_eq!(
        post("op-d2", 5_000, "deductions").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A replay is not a second operation.
    assert_eq!(post("op-d", 300, "deductions").await, StatusCode::CREATED);

    let (status, log) = server.get(&format!("/v1/oplog?store_id={a}")).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let ops: Vec<&Value> = log["operations"].as_array().unwrap().iter().collect();
    let mine: Vec<&&Value> = ops
        .iter()
        .filter(|o| o["credential"].as_u64() == Some(pos_id))
        .collect();
    assert_eq!(mine.len(), 3, "{log}");
    // Newest first, each with its result.
    assert!(mine[0]["result"].as_str().unwrap().starts_with("rejected"));
    assert_eq!(mine[1]["result"], "ok");
    assert_eq!(mine[1]["idempotency_key"], "op-d");
    assert_eq!(mine[1]["role"], "pos");
    // The operation is the route table's row the request matched.
    assert_eq!(
        mine[1]["operation"],
        "POST /v1/members/{member_id}/deductions"
    );
    assert_eq!(mine[1]["objects"][0], format!("member:{member}"));

    // By credential and by object, paged.
    let (_, by_cred) = server
        .get(&format!("/v1/oplog?credential_id={pos_id}&limit=2"))
        .await;
    assert_eq!(by_cred["operations"].as_array().unwrap().len(), 2);
    let next = by_cred["next_before"].as_str().unwrap();
    let (_, page2) = server
        .get(&format!(
            "/v1/oplog?credential_id={pos_id}&limit=2&before={next}"
        ))
        .await;
    assert_eq!(page2["operations"].as_array().unwrap().len(), 1);
    assert_eq!(page2["operations"][0]["idempotency_key"], "op-r");
    let (_, by_obj) = server
        .get(&format!("/v1/oplog?object=member:{member}"))
        .await;
    // Registration, recharge, deduction, refused deduction.
    assert_eq!(
        by_obj["operations"].as_array().unwrap().len(),
        4,
        "{by_obj}"
    );
    // Chain-wide operations (credentials); a new store's creation is in its own log.
    let (_, chain) = server.get("/v1/oplog?store_id=0").await;
    assert_eq!(
        chain["operations"][0]["objects"][0],
        format!("credential:{pos_id}")
    );
    let (_, b_log) = server.get(&format!("/v1/oplog?store_id={b}")).await;
    assert_eq!(b_log["operations"][0]["objects"][0], format!("store:{b}"));

    // A POS reads no log; a store's log is not another store's.
    let res = pos
        .get(server.url(&format!("/v1/oplog?store_id={a}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, other) = server.get(&format!("/v1/oplog?store_id={b}")).await;
    assert!(other["operations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["credential"].as_u64() != Some(pos_id)));
    let (status, body) = server.get("/v1/oplog").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

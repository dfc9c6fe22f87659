//! Notifications: rendered from the chain's templates into the durable outbox with the
//! change itself, delivered to a webhook receiver on loopback at least once, retried with
//! backoff after a failure, each carrying its id.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::Filter;

use crate::harness::Server;

/// A webhook receiver that fails its first `failures` calls with 500 and reports every call.
fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let route = warp::post()
        .and(warp::header::<String>("x-notification-id"))
        .and(warp::body::json())
        .map(move |id: String, body: Value| {
            let _ = tx.send((id, body));
            if calls.fetch_add(1, Ordering::SeqCst) < failures {
                warp::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                warp::http::StatusCode::NO_CONTENT
            }
        });
    let (addr, serve) = warp::serve(route).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(serve);
    (format!("http://{addr}/hook"), rx)
}

/// Waits (bounded) until the store's outbox satisfies `done`.
async fn outbox_until(server: &Server, store: u64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..400 {
        let (status, body) = server
            .get(&format!("/v1/stores/{store}/notifications"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["notifications"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the outbox never got there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_changes_reach_the_webhook_at_least_once_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_opts(
        dir.path(),
        Some("2026-03-07T02:00:00Z"),
        &["--webhook-private-targets"],
    );
    let (url, mut calls) = receiver(1);

    let (status, body) = server
        .put(
            "/v1/notification-templates/balance_changed",
            "t-bad",
            json!({"text": "{level}"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server
        .put(
            "/v1/notification-templates/balance_changed",
            "t-1",
            json!({"text": "会员{member_id}: {change} {amount}元, 余额{balance}元"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put("/v1/notification-webhook", "w-1", json!({"url": url}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let store = server.create_store("Xuhui").await;
    let member = server.register("13700000001", store).await;
    assert_eq!(
        server.recharge(member, store, 10_000, "r-1").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        server.deduct(member, store, 2_550, "d-1").await.0,
        StatusCode::CREATED
    );

    // The first attempt of the first notification fails; it waits for its backoff.
    let items = outbox_until(&server, store, |n| {
        n.len() == 2
            && n.iter()
                .any(|x| x["attempts"] == 1 && x["status"] == "pending")
    })
    .await;
    assert_eq!(
        items[0]["text"],
        format!("会员{member}: recharge 100.00元, 余额100.00元")
    );
    assert_eq!(
        items[1]["text"],
        format!("会员{member}: deduction 25.50元, 余额74.50元")
    );
    server.set_clock("2026-03-07T02:00:03Z").await;
    let items = outbox_until(&server, store, |n| {
        n.iter().all(|x| x["status"] == "delivered")
    })
    .await;

    let mut seen = Vec::new();
    while let Ok((id, body)) = calls.try_recv() {
        assert_eq!(body["id"], id);
        seen.push((id, body["text"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        seen.len(),
        3,
        "one failed call and two deliveries: {seen:?}"
    );
    let delivered: std::collections::BTreeSet<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    let listed: std::collections::BTreeSet<_> = items
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, listed, "the retry carried the same id");

    // The outbox survives a crash, delivered stays delivered, nothing is sent again.
    server.kill();
    let server = Server::start_opts(
        dir.path(),
        Some("2026-03-07T02:00:04Z"),
        &["--webhook-private-targets"],
    );
    let again = outbox_until(&server, store, |n| n.len() == 2).await;
    assert!(
        again.iter().all(|x| x["status"] == "delivered"),
        "{again:?}"
    );
    assert!(calls.try_recv().is_err());
}

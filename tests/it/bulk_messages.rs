//! Bulk messages (群发): a run messages the members a filter finds, a page at a time under
//! one key, through the outbox; birthdays this month and count cards running low narrow it;
//! a retried page messages nobody twice, and the run's report survives a SIGKILL.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::access::credential;
use crate::harness::{client_with_key, send, Server};

/// 10:00 in Shanghai, 2 March 2026.
const T0: &str = "2026-03-02T02:00:00Z";

fn tally(v: &Value) -> (u64, u64, u64) {
    (
        v["sent"].as_u64().unwrap(),
        v["skipped"].as_u64().unwrap(),
        v["failed"].as_u64().unwrap(),
    )
}

fn sent_to(page: &Value) -> BTreeSet<u64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "sent")
        .map(|r| r["member_id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_messages_the_members_found_once_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let svc = crate::scheduling::setup(&server, "Asia/Shanghai", 1)
        .await
        .appt_service;
    let march = server.register("13800000001", a).await;
    let june = server.register("13800000002", a).await;
    let nobody = server.register("13800000003", a).await;
    let elsewhere = server.register("13800000004", b).await;
    for (m, day) in [
        (march, "1990-03-15"),
        (june, "1985-06-01"),
        (elsewhere, "1990-03-20"),
    ] {
        let (s, body) = server
            .patch(
                &format!("/v1/members/{m}"),
                &format!("bd-{m}"),
                json!({"birthday": day}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    server.recharge(june, a, 12_345, "r").await;
    let (s, body) = server
        .post(
            &format!("/v1/members/{june}/count-cards"),
            "cc",
            json!({"service_id": svc, "sessions": 2, "price": 0, "paid_with": "cash", "store_id": a}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let mut hook = crate::member_channel::hook(&server).await;

    // Birthdays this month in store A, two members a page.
    let text = "Happy birthday, {name}! {balance} yuan waits for you.";
    let page_body = |after: Option<&str>| {
        json!({"text": text, "filter": {"home_store_id": a}, "birthday_this_month": true,
               "limit": 2, "after": after})
    };
    let (s, first) = server
        .post("/v1/bulk-messages", "bm-1", page_body(None))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["results"].as_array().unwrap().len(), 2, "{first}");
    let after = first["next_after"].as_str().unwrap().to_owned();
    let (s, second) = server
        .post("/v1/bulk-messages", "bm-1", page_body(Some(&after)))
        .await;
    assert_eq!(s, StatusCode::OK, "{second}");
    assert!(second["next_after"].is_null(), "{second}");
    let mut sent = sent_to(&first);
    sent.extend(sent_to(&second));
    assert_eq!(sent, BTreeSet::from([march]));
    assert_eq!(tally(&second["run"]), (1, 2, 0), "{second}");
    // A retried page is the same page: nobody is messaged twice, the tally holds.
    let (s, again) = server
        .post("/v1/bulk-messages", "bm-1", page_body(None))
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["results"], first["results"]);
    assert_eq!(tally(&again["run"]), (1, 2, 0), "{again}");

    // The webhook gets the text, rendered for the member.
    let delivered = loop {
        let body = tokio::time::timeout(Duration::from_secs(20), hook.recv())
            .await
            .expect("the message reaches the webhook")
            .expect("receiver open");
        if body["event"] == "bulk_message" {
            break body;
        }
    };
    assert_eq!(delivered["member_id"], march);
    assert_eq!(delivered["phone"], "13800000001");
    assert_eq!(
        delivered["text"],
        "Happy birthday, Member! 0.00 yuan waits for you."
    );

    // Count cards running low: the member with 2 sessions left, not the others.
    let (s, low) = server
        .post(
            "/v1/bulk-messages",
            "bm-2",
            json!({"text": "{name}: {points} points, sessions running low", "filter": {"home_store_id": a},
                   "sessions_below": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{low}");
    assert_eq!(sent_to(&low), BTreeSet::from([june]));
    assert_eq!(tally(&low["page"]), (1, 2, 0), "{low}");
    let skipped: Vec<&str> = low["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(skipped, ["sessions_not_low", "sessions_not_low"]);
    let _ = nobody;

    // Refused, with nothing sent: an unknown placeholder, no text and no template, another
    // store's members for a store manager.
    let (s, body) = server
        .post(
            "/v1/bulk-messages",
            "bm-3",
            json!({"text": "Hi {surname}", "filter": {}}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{body}"
    );
    let (s, body) = server
        .post("/v1/bulk-messages", "bm-4", json!({"filter": {}}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{body}"
    );
    let manager_b = client_with_key(
        &credential(
            &server,
            "c-1",
            json!({"name": "Boss B", "role": "store_manager", "store_ids": [b]}),
        )
        .await,
    );
    let (s, body) = send(
        manager_b
            .post(server.url("/v1/bulk-messages"))
            .header("Idempotency-Key", "bm-5")
            .json(&json!({"text": "Hi", "filter": {"home_store_id": a}})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // Their own store's members, with the chain's template.
    let (s, body) = server
        .put(
            "/v1/notification-templates/bulk_message",
            "t-1",
            json!({"text": "Spring offer for {name}"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = send(
        manager_b
            .post(server.url("/v1/bulk-messages"))
            .header("Idempotency-Key", "bm-6")
            .json(&json!({"filter": {}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(sent_to(&body), BTreeSet::from([elsewhere]));

    // The run's report, after a SIGKILL.
    server.kill();
    server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let (s, report) = server.get("/v1/bulk-messages?key=bm-1").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["pages"], 2);
    assert_eq!(tally(&report), (1, 2, 0), "{report}");
    let (s, _) = server.get("/v1/bulk-messages?key=never").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

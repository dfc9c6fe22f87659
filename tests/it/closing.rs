//! Daily closing (日结) and statistics: sealed figures equal the day's ledger entries, sales
//! after a manual close are refused (also after a restart), ended days seal themselves.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

const DAY1: &str = "2026-03-07";
const DAY2: &str = "2026-03-08";

/// The figures the day's entries add up to, by the same names as a closing's.
fn figures_of_entries(entries: &[Value], day: &str) -> Value {
    let (mut recharges, mut recharged, mut deductions, mut deducted, mut refunds, mut refunded) =
        (0, 0, 0, 0, 0, 0);
    let (mut cash, mut wechat) = (0, 0);
    for e in entries {
        // Entries carry UTC instants; the store's business day is in Asia/Shanghai (+8).
        let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
        let local = at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
        if local.date_naive().to_string() != day {
            continue;
        }
        let amount = e["amount"].as_i64().unwrap();
        match e["kind"].as_str().unwrap() {
            "recharge" => {
                recharges += 1;
                recharged += amount - e["bonus"].as_i64().unwrap();
                match e["tender"].as_str().unwrap() {
                    "cash" => cash += amount,
                    "wechat_pay" => wechat += amount,
                    other => panic!("tender {other}"),
                }
            }
            "deduction" => {
                deductions += 1;
                deducted += amount;
            }
            "refund" => {
                refunds += 1;
                refunded += amount;
            }
            other => panic!("kind {other}"),
        }
    }
    json!({
        "recharges": recharges, "recharged": recharged, "deductions": deductions,
        "deducted": deducted, "refunds": refunds, "refunded": refunded,
        "tender_cash": cash, "tender_wechat_pay": wechat,
    })
}

fn assert_figures_match(sealed: &Value, expected: &Value) {
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(&sealed[name], want, "figure {name}: sealed {sealed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_close_seals_the_day_and_refuses_later_sales() {
    let dir = tempfile::tempdir().unwrap();
    let morning = format!("{DAY1}T10:00:00+08:00");
    let mut server = Server::start_with_clock(dir.path(), Some(&morning));
    let store = server.create_store("Jing'an").await;
    let member = server.register("13900000001", store).await;
    assert_eq!(
        server.recharge(member, store, 1_000, "r-1").await.0,
        StatusCode::CREATED
    );
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/recharges"),
            "r-2",
            json!({"amount": 500, "store_id": store, "tender": "wechat_pay"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, d) = server.deduct(member, store, 300, "d-1").await;
    let seq = d["entry_seq"].as_u64().unwrap();
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/refunds"),
            "f-1",
            json!({"deduction_seq": seq, "amount": 100}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Not configured for manual closing: refused, nothing sealed.
    let close_path = format!("/v1/stores/{store}/closings");
    let (status, body) = server.post(&close_path, "c-0", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "closing_not_manual");

    server.close_by_hand(store).await;
    let (status, sealed) = server.post(&close_path, "c-1", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{sealed}");
    assert_eq!(sealed["business_date"], DAY1);
    assert_eq!(sealed["closed_by"], "manual");
    let entries = server.all_entries(member).await;
    assert_figures_match(&sealed["figures"], &figures_of_entries(&entries, DAY1));
    assert_eq!(sealed["figures"]["new_members"], 1);
    assert_eq!(sealed["figures"]["deducted"], 300);

    // The same key answers the same record; the day takes no more sales, refunds or recharges.
    let (status, again) = server.post(&close_path, "c-1", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, sealed);
    let (status, body) = server.deduct(member, store, 50, "d-2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "business_day_closed");
    let (status, body) = server
        .post(
            &format!("/v1/members/{member}/refunds"),
            "f-2",
            json!({"deduction_seq": seq, "amount": 10}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("business_day_closed")
        )
    );
    let (status, _) = server.recharge(member, store, 10, "r-3").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.balance(member).await, 1_300);

    // Still closed after a crash and restart on the same day.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some(&format!("{DAY1}T11:00:00+08:00")));
    let (status, body) = server.deduct(member, store, 50, "d-3").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("business_day_closed")
        )
    );

    // The next day sells again; when it ends, it is sealed on its own.
    server.set_clock(&format!("{DAY2}T09:00:00+08:00")).await;
    assert_eq!(
        server.deduct(member, store, 200, "d-4").await.0,
        StatusCode::CREATED
    );
    server.set_clock(&format!("{DAY2}T23:59:00+08:00")).await;
    let list = format!("/v1/stores/{store}/closings?from={DAY1}&to={DAY2}");
    let (_, body) = server.get(&list).await;
    assert_eq!(body["closings"].as_array().unwrap().len(), 1, "{body}");
    server.set_clock("2026-03-09T00:01:00+08:00").await;
    let (status, body) = server.get(&list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let closings = body["closings"].as_array().unwrap();
    assert_eq!(closings.len(), 2, "{body}");
    assert_eq!(closings[1]["business_date"], DAY2);
    assert_eq!(closings[1]["closed_by"], "automatic");
    let entries = server.all_entries(member).await;
    assert_figures_match(&closings[1]["figures"], &figures_of_entries(&entries, DAY2));
    assert_eq!(closings[0], sealed, "a sealed record never changes");

    // Statistics over both days, for the store and for the chain.
    let (status, stats) = server
        .get(&format!("/v1/stats?store_id={store}&from={DAY1}&to={DAY2}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["totals"]["deducted"], 500);
    assert_eq!(stats["totals"]["recharged"], 1_500);
    assert_eq!(stats["days"].as_array().unwrap().len(), 2);
    assert_eq!(
        stats["stored_value_outstanding"],
        server.balance(member).await
    );
    let (status, chain) = server
        .get(&format!("/v1/stats?from={DAY1}&to={DAY2}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    assert_eq!(chain["totals"], stats["totals"]);
    let (status, body) = server.get("/v1/stats?from=2026-03-09&to=2026-03-08").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid_query_value")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_bookings_top_services_and_utilisation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-09T08:00:00+08:00"));
    let s = crate::scheduling::setup(&server, "Asia/Shanghai", 2).await;
    let book = |key: &'static str, start: &'static str, r: u64| {
        let body = json!({"member_id": s.member, "service_id": s.appt_service, "start": start, "resource_ids": [r]});
        let path = format!("/v1/stores/{}/appointments", s.store);
        let server = &server;
        async move { server.post(&path, key, body).await }
    };
    let (status, a) = book("a-1", "2026-03-09T10:00", s.therapists[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let (status, b) = book("a-2", "2026-03-09T11:00", s.therapists[1]).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let a = a["id"].as_u64().unwrap();
    let b = b["id"].as_u64().unwrap();
    server.set_clock("2026-03-09T12:30:00+08:00").await;
    let (status, body) = server
        .act(&format!("/v1/appointments/{a}/complete"), "c-a")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .act(&format!("/v1/appointments/{b}/no-show"), "n-b")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, stats) = server
        .get(&format!(
            "/v1/stats?store_id={}&from=2026-03-09&to=2026-03-09",
            s.store
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["totals"]["bookings"], 2);
    assert_eq!(stats["totals"]["completed"], 1);
    assert_eq!(stats["totals"]["no_shows"], 1);
    assert_eq!(stats["totals"]["served_minutes"], 60);
    assert_eq!(stats["totals"]["new_members"], 1);
    let top = &stats["top_services"][0];
    assert_eq!(top["service_id"], s.appt_service);
    assert_eq!(top["name"], "Massage");
    assert_eq!(
        (top["bookings"].as_i64(), top["completed"].as_i64()),
        (Some(2), Some(1))
    );
    // Two therapists, open around the clock by default: 2 x 1,440 working minutes.
    assert_eq!(stats["utilisation"]["working_minutes"], 2 * 1_440);
    assert_eq!(
        stats["utilisation"]["basis_points"],
        60 * 10_000 / (2 * 1_440)
    );

    let (status, chain) = server.get("/v1/stats?from=2026-03-09&to=2026-03-09").await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    assert_eq!(chain["top_services"], stats["top_services"]);
}

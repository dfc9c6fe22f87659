//! Scheduling over HTTP: repeat forms and limits, DST, all-or-nothing plans, capacity,
//! concurrency, crash recovery and auto-completion on a manual clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::harness::Server;

const T0: &str = "2026-01-01T00:00:00Z";

/// A store with plans enabled, one plan-mode and one appointment-mode service needing a
/// therapist, and `therapists` therapists of capacity 1.
pub(crate) struct Setup {
    pub store: u64,
    pub member: u64,
    pub plan_service: u64,
    pub appt_service: u64,
    pub therapists: Vec<u64>,
}

pub(crate) async fn setup(server: &Server, tz: &str, therapists: usize) -> Setup {
    let (status, store) = server
        .post(
            "/v1/stores",
            "st",
            json!({"name": "Studio", "time_zone": tz}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{store}");
    let store = store["id"].as_u64().unwrap();
    let member = server.register("13800000099", store).await;
    let (status, _) = server
        .put(
            "/v1/settings",
            "settings-on",
            json!({"service_plans_enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let service = |name: &str, mode: &str| json!({"name": name, "duration_minutes": 60, "booking_mode": mode, "resource_kinds": ["therapist"]});
    let (status, plan_service) = server
        .post(
            "/v1/services",
            "svc-plan",
            service("Course", "service_plan"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan_service}");
    let (_, appt_service) = server
        .post(
            "/v1/services",
            "svc-appt",
            service("Massage", "appointment"),
        )
        .await;
    let mut ids = Vec::new();
    for i in 0..therapists {
        let (status, r) = server
            .post(
                &format!("/v1/stores/{store}/resources"),
                &format!("res-{i}"),
                json!({"name": format!("Therapist {i}"), "kind": "therapist", "capacity": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        ids.push(r["id"].as_u64().unwrap());
    }
    Setup {
        store,
        member,
        plan_service: plan_service["id"].as_u64().unwrap(),
        appt_service: appt_service["id"].as_u64().unwrap(),
        therapists: ids,
    }
}

/// An appointment-mode service whose bookings wait for staff review.
pub(crate) async fn review_service(server: &Server) -> Value {
    let (status, service) = server
        .post(
            "/v1/services",
            "svc-review",
            json!({"name": "Consult", "duration_minutes": 30, "booking_mode": "appointment", "resource_kinds": ["therapist"], "requires_review": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    service
}

fn plan_body(s: &Setup, resource: u64, repeat: Value) -> Value {
    json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [resource], "repeat": repeat})
}

fn locals(plan: &Value) -> Vec<String> {
    plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["local_start"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_forms_limits_and_a_dst_crossing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Europe/Berlin", 1).await;
    let path = format!("/v1/stores/{}/plans", s.store);
    let r = s.therapists[0];

    // Weekly across the spring-forward of 2026-03-29: 10:00 local stays 10:00.
    let (status, plan) = server
        .post(
            &path,
            "p-weekly",
            plan_body(
                &s,
                r,
                json!({"weekly": {"first_times": ["2026-03-21T10:00"], "count": 3}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(
        locals(&plan),
        [
            "2026-03-21T10:00:00",
            "2026-03-28T10:00:00",
            "2026-04-04T10:00:00"
        ]
    );
    let utc: Vec<&str> = plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        utc,
        [
            "2026-03-21T09:00:00Z",
            "2026-03-28T09:00:00Z",
            "2026-04-04T08:00:00Z"
        ]
    );

    // Weekly with two first times interleaves them.
    let (status, plan) = server
        .post(
            &path,
            "p-weekly-2",
            plan_body(&s, r, json!({"weekly": {"first_times": ["2026-05-02T10:00", "2026-05-06T19:00"], "count": 4}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(
        locals(&plan),
        [
            "2026-05-02T10:00:00",
            "2026-05-06T19:00:00",
            "2026-05-09T10:00:00",
            "2026-05-13T19:00:00"
        ]
    );

    // Daily, the 99 limit.
    let (status, plan) = server
        .post(
            &path,
            "p-daily",
            plan_body(
                &s,
                r,
                json!({"daily": {"first_times": ["2026-06-01T08:00"], "count": 99}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["occurrences"].as_array().unwrap().len(), 99);
    assert_eq!(plan["status"], "active");

    // Custom, the 1 limit.
    let (status, plan) = server
        .post(
            &path,
            "p-custom",
            plan_body(&s, r, json!({"custom": {"starts": ["2026-12-01T15:30"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(locals(&plan), ["2026-12-01T15:30:00"]);

    // 0 and 100 are refused with a clear error, and nothing is created.
    for (key, repeat) in [
        (
            "bad-0",
            json!({"weekly": {"first_times": ["2027-01-02T10:00"], "count": 0}}),
        ),
        (
            "bad-100",
            json!({"daily": {"first_times": ["2027-01-02T10:00"], "count": 100}}),
        ),
        ("bad-c0", json!({"custom": {"starts": []}})),
    ] {
        let (status, body) = server.post(&path, key, plan_body(&s, r, repeat)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {body}");
        assert!(
            body["code"] == "invalid_occurrence_count" || body["code"] == "invalid_schedule",
            "{key}: {body}"
        );
    }
    let starts: Vec<String> = (0..100)
        .map(|d| format!("2027-02-01T10:{:02}", d % 60))
        .collect();
    let (status, body) = server
        .post(
            &path,
            "bad-c100",
            plan_body(&s, r, json!({"custom": {"starts": starts}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_occurrence_count");

    // A local time skipped by DST is reported, not silently shifted.
    let (status, body) = server
        .post(
            &path,
            "p-gap",
            plan_body(&s, r, json!({"custom": {"starts": ["2027-03-28T02:30"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["failures"][0]["reasons"][0]["reason"],
        "nonexistent_local_time"
    );

    let (_, plans) = server.get(&format!("/v1/members/{}/plans", s.member)).await;
    assert_eq!(plans["plans"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_57th_occurrence_collides_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 1).await;
    let r = s.therapists[0];
    // 2026-01-03 is a Saturday; the 57th weekly occurrence is 56 weeks later: 2027-01-30.
    let (status, appt) = server
        .post(
            &format!("/v1/stores/{}/appointments", s.store),
            "blocker",
            json!({"member_id": s.member, "service_id": s.appt_service, "start": "2027-01-30T10:30", "resource_ids": [r]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    let blocker = appt["id"].as_u64().unwrap();
    let path = format!("/v1/stores/{}/plans", s.store);
    let body = plan_body(
        &s,
        r,
        json!({"weekly": {"first_times": ["2026-01-03T10:00"], "count": 99}}),
    );

    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let (status, report) = server.post(&path, "dry", dry).await;
    assert_eq!(status, StatusCode::CONFLICT, "{report}");
    assert_eq!(report["dry_run"], true);

    let (status, report) = server.post(&path, "real", body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{report}");
    assert_eq!(report["code"], "plan_conflicts");
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0]["occurrence"], 57);
    assert_eq!(failures[0]["local_start"], "2027-01-30T10:00:00");
    assert_eq!(failures[0]["reasons"][0]["reason"], "booked");
    assert_eq!(failures[0]["reasons"][0]["resource_id"].as_u64(), Some(r));
    assert_eq!(failures[0]["reasons"][0]["booking_ids"], json!([blocker]));
    // The retry under the same key answers the same report.
    let (status, again) = server.post(&path, "real", body.clone()).await;
    assert_eq!((status, &again), (StatusCode::CONFLICT, &report));

    // Nothing was created: no plan, and occurrence 1's slot is still free.
    let (_, plans) = server.get(&format!("/v1/members/{}/plans", s.member)).await;
    assert_eq!(plans["plans"], json!([]));
    let (_, cal) = server
        .get(&format!(
            "/v1/resources/{r}/bookings?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(cal["bookings"].as_array().unwrap().len(), 1, "{cal}");

    // Once the blocker is cancelled the same plan goes through in full; a dry run first
    // shows it and writes nothing.
    let (status, _) = server
        .act(&format!("/v1/appointments/{blocker}/cancel"), "c1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let (status, preview) = server.post(&path, "dry-2", dry).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["occurrences"].as_array().unwrap().len(), 99);
    let (status, plan) = server.post(&path, "real-2", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["occurrences"].as_array().unwrap().len(), 99);
    let (_, cal) = server
        .get(&format!(
            "/v1/resources/{r}/bookings?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(cal["bookings"].as_array().unwrap().len(), 99);

    // The retry answers the plan as first booked, even after one occurrence was cancelled
    // (the idempotency record names the plan's own record, which never changes).
    let id = plan["id"].as_u64().unwrap();
    let (status, _) = server
        .act(&format!("/v1/plans/{id}/occurrences/2/cancel"), "c2")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = server.post(&path, "real-2", body).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &plan));
    assert_eq!(again["occurrences"][1]["status"], "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_three_takes_three_and_refuses_the_fourth() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 0).await;
    let (_, room) = server
        .post(
            &format!("/v1/stores/{}/resources", s.store),
            "room",
            json!({"name": "Room", "kind": "therapist", "capacity": 3}),
        )
        .await;
    let room = room["id"].as_u64().unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let (status, _) = server
            .post(
                &format!("/v1/stores/{}/appointments", s.store),
                &format!("a{i}"),
                json!({"member_id": s.member, "service_id": s.appt_service, "start": format!("2026-02-02T10:{:02}", i * 10), "resource_ids": [room]}),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CONFLICT
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_switch_life_cycle_and_resource_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 1).await;
    let r = s.therapists[0];
    let appts = format!("/v1/stores/{}/appointments", s.store);
    let plans = format!("/v1/stores/{}/plans", s.store);

    // A plan-mode service is not an appointment, and the other way round.
    let (status, body) = server
        .post(&appts, "m1", json!({"member_id": s.member, "service_id": s.plan_service, "start": "2026-02-02T10:00", "resource_ids": [r]}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_booking_mode"))
    );
    let mut wrong = plan_body(&s, r, json!({"custom": {"starts": ["2026-02-02T10:00"]}}));
    wrong["service_id"] = json!(s.appt_service);
    let (status, body) = server.post(&plans, "m2", wrong).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_booking_mode"))
    );
    // The mode can't change once saved.
    let (status, body) = server
        .put(
            &format!("/v1/services/{}", s.appt_service),
            "m3",
            json!({"name": "Massage", "duration_minutes": 60, "booking_mode": "service_plan", "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("booking_mode_immutable")
        )
    );
    // With the chain-wide switch off, plan routes say so.
    server
        .put(
            "/v1/settings",
            "off",
            json!({"service_plans_enabled": false}),
        )
        .await;
    let (status, body) = server
        .post(
            &plans,
            "m4",
            plan_body(&s, r, json!({"custom": {"starts": ["2026-02-02T10:00"]}})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("service_plans_disabled"))
    );

    // Review flow: pending holds the slot; approve, check in, complete; no completing a
    // cancelled appointment.
    let reviewed = review_service(&server).await;
    let (status, a) = server
        .post(&appts, "rv", json!({"member_id": s.member, "service_id": reviewed["id"], "start": "2026-02-03T10:00", "resource_ids": [r]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["status"], "pending");
    let id = a["id"].as_u64().unwrap();
    let (status, _) = server
        .post(&appts, "rv2", json!({"member_id": s.member, "service_id": s.appt_service, "start": "2026-02-03T10:00", "resource_ids": [r]}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a pending appointment holds its slot"
    );
    for (action, want) in [
        ("approve", "confirmed"),
        ("check-in", "checked_in"),
        ("complete", "completed"),
    ] {
        let (status, b) = server
            .act(
                &format!("/v1/appointments/{id}/{action}"),
                &format!("t-{action}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {b}");
        assert_eq!(b["status"], want);
    }
    let (_, b) = server
        .post(&appts, "rv3", json!({"member_id": s.member, "service_id": s.appt_service, "start": "2026-02-04T10:00", "resource_ids": [r]}))
        .await;
    let other = b["id"].as_u64().unwrap();
    server
        .act(&format!("/v1/appointments/{other}/cancel"), "t-cancel")
        .await;
    let (status, body) = server
        .act(
            &format!("/v1/appointments/{other}/complete"),
            "t-complete-2",
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );

    // A resource with future bookings can't be deleted; without them it can.
    let (status, body) = server.delete(&format!("/v1/resources/{r}"), "del-1").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("resource_has_bookings")),
        "{body}"
    );
    let (_, spare) = server
        .post(
            &format!("/v1/stores/{}/resources", s.store),
            "spare",
            json!({"name": "Spare", "kind": "room", "capacity": 2}),
        )
        .await;
    let (status, _) = server
        .delete(&format!("/v1/resources/{}", spare["id"]), "del-2")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.get(&format!("/v1/resources/{}", spare["id"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_follows_hours_and_bookings() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 1).await;
    let r = s.therapists[0];
    let (status, _) = server
        .put(
            &format!("/v1/stores/{}/hours", s.store),
            "hours",
            json!({"business_hours": {"mon": [["09:00", "12:00"]]}, "closed_dates": ["2026-02-09"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    server
        .post(
            &format!("/v1/stores/{}/appointments", s.store),
            "a",
            json!({"member_id": s.member, "service_id": s.appt_service, "start": "2026-02-02T10:00", "resource_ids": [r]}),
        )
        .await;
    let (status, av) = server
        .get(&format!(
            "/v1/stores/{}/availability?service_id={}&from=2026-02-02&to=2026-02-09&step_minutes=60",
            s.store, s.appt_service
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{av}");
    let starts: Vec<&str> = av["starts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["local_start"].as_str().unwrap())
        .collect();
    // Monday 2026-02-02: 09:00 and 11:00 (10:00 is booked); Monday 2026-02-09 is closed.
    assert_eq!(starts, ["2026-02-02T09:00:00", "2026-02-02T11:00:00"]);
    // Outside business hours is refused for an appointment too.
    let (status, body) = server
        .post(
            &format!("/v1/stores/{}/appointments", s.store),
            "b",
            json!({"member_id": s.member, "service_id": s.appt_service, "start": "2026-02-03T10:00", "resource_ids": [r]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["failures"][0]["reasons"][0]["reason"],
        "outside_business_hours"
    );
}

/// Occurrences of every plan in the calendar never overlap beyond capacity 1.
fn assert_no_overlap(bookings: &[Value]) {
    let mut spans: Vec<(String, String)> = bookings
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                b["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap: {:?} and {:?}", w[0], w[1]);
    }
}

async fn calendar(server: &Server, r: u64) -> Vec<Value> {
    let (status, cal) = server
        .get(&format!(
            "/v1/resources/{r}/bookings?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{cal}");
    cal["bookings"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_calendar_page_says_where_the_next_one_begins() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "UTC", 1).await;
    let r = s.therapists[0];
    let path = format!("/v1/stores/{}/plans", s.store);
    // 102 daily plans of 99 at distinct hours: 10,098 bookings, more than a page holds.
    let plans = (0..102u32).map(|i| {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
            + chrono::Days::new(u64::from(i / 12) * 99);
        let first = format!("{day}T{:02}:00", 8 + i % 12);
        let body = plan_body(
            &s,
            r,
            json!({"daily": {"first_times": [first], "count": 99}}),
        );
        let (server, path) = (&server, &path);
        async move { server.post(path, &format!("page-{i}"), body).await }
    });
    for (status, plan) in futures::future::join_all(plans).await {
        assert_eq!(status, StatusCode::CREATED, "{plan}");
    }
    let page = |from: String| {
        let server = &server;
        async move {
            let (status, cal) = server
                .get(&format!(
                    "/v1/resources/{r}/bookings?from={from}&to=2030-01-01T00:00:00Z"
                ))
                .await;
            assert_eq!(status, StatusCode::OK);
            cal
        }
    };
    let first = page("2026-01-01T00:00:00Z".into()).await;
    let bookings = first["bookings"].as_array().unwrap();
    assert_eq!(bookings.len(), 10_000);
    let next = first["next_from"].as_str().unwrap().to_owned();
    assert_eq!(bookings.last().unwrap()["start"], next.as_str());
    let second = page(next).await;
    assert_eq!(second["next_from"], Value::Null);
    let ids: std::collections::HashSet<u64> = bookings
        .iter()
        .chain(second["bookings"].as_array().unwrap())
        .map(|b| b["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 102 * 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overlapping_plans_and_appointments_never_overbook() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = Arc::new(setup(&server, "Asia/Shanghai", 2).await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (client, base, s) = (server.client.clone(), server.base.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            // Every request wants one of two therapists at overlapping Saturday times.
            let r = s.therapists[i % 2];
            let (path, body) = if i % 3 == 0 {
                (
                    format!("{base}/v1/stores/{}/appointments", s.store),
                    json!({"member_id": s.member, "service_id": s.appt_service, "start": format!("2026-03-{:02}T10:30", 7 + 7 * (i % 4)), "resource_ids": [r]}),
                )
            } else {
                (
                    format!("{base}/v1/stores/{}/plans", s.store),
                    json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r],
                           "repeat": {"weekly": {"first_times": [format!("2026-03-07T{:02}:00", 9 + i % 3)], "count": 10}}}),
                )
            };
            let res = client.post(path).header("Idempotency-Key", format!("c{i}")).json(&body).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => acked.push(body),
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!acked.is_empty());
    let mut on_calendar: HashMap<u64, Vec<Value>> = HashMap::new();
    for r in &s.therapists {
        let cal = calendar(&server, *r).await;
        assert_no_overlap(&cal);
        on_calendar.insert(*r, cal);
    }
    // Every acknowledged booking is on its resource's calendar.
    for a in &acked {
        // A plan's occurrences are on the plan's resources.
        let items: Vec<Value> = match a["occurrences"].as_array() {
            Some(o) => o.clone(),
            None => vec![a.clone()],
        };
        let r = a["resource_ids"][0].as_u64().unwrap();
        for b in items {
            assert!(
                on_calendar[&r].iter().any(|c| c["id"] == b["id"]),
                "lost {b}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_leaves_no_partial_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = Arc::new(setup(&server, "Asia/Shanghai", 4).await);
    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (client, base, s, acks, enough) = (
            server.client.clone(),
            server.base.clone(),
            s.clone(),
            acks.clone(),
            enough.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let r = s.therapists[(w + i) % 4];
                let day = 1 + (i % 28);
                let body = json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r],
                    "repeat": {"daily": {"first_times": [format!("2026-04-{day:02}T{:02}:00", 8 + w)], "count": 20}}});
                let res = client
                    .post(format!("{base}/v1/stores/{}/plans", s.store))
                    .header("Idempotency-Key", format!("k{w}-{i}"))
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        acked.push(r.json::<Value>().await.unwrap_or_default());
                        if acks.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                            enough.notify_one();
                        }
                    }
                    Ok(r) if r.status() == StatusCode::CONFLICT => {}
                    _ => break,
                }
            }
            acked
        }));
    }
    enough.notified().await;
    server.kill();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let (_, plans) = server.get(&format!("/v1/members/{}/plans", s.member)).await;
    let plans = plans["plans"].as_array().unwrap().clone();
    for p in &plans {
        assert_eq!(
            p["occurrences"].as_array().unwrap().len(),
            20,
            "partial plan {p}"
        );
    }
    for a in &acked {
        let found = plans
            .iter()
            .find(|p| p["id"] == a["id"])
            .expect("acknowledged plan lost");
        assert_eq!(found["occurrences"], a["occurrences"]);
    }
    for r in &s.therapists {
        assert_no_overlap(&calendar(&server, *r).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_complete_by_themselves_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 1).await;
    let (status, plan) = server
        .post(
            &format!("/v1/stores/{}/plans", s.store),
            "p",
            plan_body(
                &s,
                s.therapists[0],
                json!({"daily": {"first_times": ["2026-01-10T10:00"], "count": 3}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let plan_id = plan["id"].as_u64().unwrap();
    let status_of = |plan: &Value| -> Vec<String> {
        plan["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap().to_owned())
            .collect()
    };

    // 09:30 local on the 10th: the reminder (60 minutes ahead) is due, nothing has ended.
    server.set_clock("2026-01-10T01:30:00Z").await;
    let (_, events) = server.get(&format!("/v1/stores/{}/events", s.store)).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reminder"]);
    // 11:00 local: the first occurrence ended and completed by itself.
    server.set_clock("2026-01-10T03:00:00Z").await;
    let (_, p) = server.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(status_of(&p), ["completed", "confirmed", "confirmed"]);

    // Down over the next two occurrences; they complete as the server comes back.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-13T00:00:00Z"));
    let (_, p) = server.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(status_of(&p), ["completed", "completed", "completed"]);
    assert_eq!(p["status"], "finished");
    let (_, events) = server.get(&format!("/v1/stores/{}/events", s.store)).await;
    let completed = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "completed")
        .count();
    assert_eq!(completed, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plans_competing_for_a_shared_room_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 6).await;
    let (_, svc) = server
        .post(
            "/v1/services",
            "svc-2",
            json!({"name": "Facial", "duration_minutes": 90, "booking_mode": "service_plan", "resource_kinds": ["therapist", "room"]}),
        )
        .await;
    let (_, room) = server
        .post(
            &format!("/v1/stores/{}/resources", s.store),
            "room",
            json!({"name": "Room", "kind": "room", "capacity": 1}),
        )
        .await;
    let room = room["id"].as_u64().unwrap();
    let mut tasks = Vec::new();
    for (i, t) in s.therapists.iter().enumerate() {
        let (client, base) = (server.client.clone(), server.base.clone());
        let body = json!({"member_id": s.member, "service_id": svc["id"], "resource_ids": [t, room],
            "repeat": {"weekly": {"first_times": ["2026-03-07T10:00"], "count": 12}}});
        let path = format!("{base}/v1/stores/{}/plans", s.store);
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(path)
                .header("Idempotency-Key", format!("room-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }));
    }
    let mut winners = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => winners += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["failures"].as_array().unwrap().len(), 12, "{body}");
                assert_eq!(
                    body["failures"][0]["reasons"][0]["resource_id"].as_u64(),
                    Some(room)
                );
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(calendar(&server, room).await.len(), 12);
    let mut therapist_bookings = 0;
    for t in &s.therapists {
        therapist_bookings += calendar(&server, *t).await.len();
    }
    assert_eq!(therapist_bookings, 12, "losers left no holds behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scheduling_requests_get_a_clear_4xx_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 1).await;
    let r = s.therapists[0];
    let (_, other_store) = server
        .post("/v1/stores", "st2", json!({"name": "Other"}))
        .await;
    let (_, foreign) = server
        .post(
            &format!("/v1/stores/{}/resources", other_store["id"]),
            "foreign",
            json!({"name": "X", "kind": "therapist", "capacity": 1}),
        )
        .await;
    let plans = format!("/v1/stores/{}/plans", s.store);
    let daily = json!({"daily": {"first_times": ["2026-05-01T10:00"], "count": 2}});
    let cases: Vec<(&str, (StatusCode, Value), StatusCode, &str)> = vec![
        ("foreign resource", server.post(&plans, "x1", json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [foreign["id"]], "repeat": daily})).await, StatusCode::NOT_FOUND, "resource_not_found"),
        ("unknown service", server.post(&plans, "x2", json!({"member_id": s.member, "service_id": 999, "resource_ids": [r], "repeat": daily})).await, StatusCode::NOT_FOUND, "service_not_found"),
        ("unknown member", server.post(&plans, "x3", json!({"member_id": s.member + 1, "service_id": s.plan_service, "resource_ids": [r], "repeat": daily})).await, StatusCode::NOT_FOUND, "member_not_found"),
        ("bad time", server.post(&plans, "x4", json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r], "repeat": {"daily": {"first_times": ["soon"], "count": 2}}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("unknown repeat", server.post(&plans, "x5", json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r], "repeat": {"hourly": {}}})).await, StatusCode::BAD_REQUEST, "invalid_body"),
        ("no resources", server.post(&plans, "x6", json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [], "repeat": daily})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("wrong kinds", server.post(&plans, "x7", json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r, r + 1], "repeat": daily})).await, StatusCode::NOT_FOUND, "resource_not_found"),
        ("bad hours", server.put(&format!("/v1/stores/{}/hours", s.store), "x8", json!({"business_hours": {"mon": [["10:00", "09:00"]]}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("bad weekday", server.put(&format!("/v1/stores/{}/hours", s.store), "x9", json!({"business_hours": {"someday": [["09:00", "10:00"]]}})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("zero capacity", server.post(&format!("/v1/stores/{}/resources", s.store), "x10", json!({"name": "R", "kind": "therapist", "capacity": 0})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("bad mode", server.post("/v1/services", "x11", json!({"name": "S", "duration_minutes": 30, "booking_mode": "sometimes", "resource_kinds": ["therapist"]})).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_schedule"),
        ("unknown plan", server.get("/v1/plans/0").await, StatusCode::NOT_FOUND, "plan_not_found"),
        ("unknown occurrence", server.act(&format!("/v1/plans/{}/occurrences/3/cancel", 1u64 << 32 | 1), "x12").await, StatusCode::NOT_FOUND, "plan_not_found"),
        ("reversed range", server.get(&format!("/v1/stores/{}/availability?service_id={}&from=2026-05-05&to=2026-05-01", s.store, s.appt_service)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query_value"),
    ];
    for (name, (status, body), want_status, want_code) in cases {
        assert_eq!(status, want_status, "{name}: {body}");
        assert_eq!(body["code"], want_code, "{name}: {body}");
    }
    let (_, plans) = server.get(&format!("/v1/members/{}/plans", s.member)).await;
    assert_eq!(plans["plans"], json!([]));
    assert!(calendar(&server, r).await.is_empty());
    let (_, hours) = server.get(&format!("/v1/stores/{}/hours", s.store)).await;
    assert_eq!(hours["business_hours"]["mon"], json!([["00:00", "24:00"]]));
}

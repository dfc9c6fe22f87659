//! The front desk over HTTP: a store's appointments by day, status (the review queue),
//! resource, service, member and origin, paged, across a restart; moving an appointment.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;
use crate::scheduling::{review_service, setup};

const T0: &str = "2026-01-01T00:00:00Z";

fn ids(page: &Value) -> Vec<u64> {
    page["appointments"]
        .as_array()
        .unwrap_or_else(|| panic!("no appointments in {page}"))
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect()
}

/// Every page of `query`, `limit` at a time, as one list of ids.
async fn walk(server: &Server, list: &str, query: &str, limit: usize) -> Vec<u64> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let (status, page) = server
            .get(&format!("{list}?limit={limit}{query}{cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = ids(&page);
        assert!(got.len() <= limit);
        out.extend(got);
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stores_appointments_by_day_status_resource_member_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 2).await;
    let (r0, r1) = (s.therapists[0], s.therapists[1]);
    let other = server.register("13800000098", s.store).await;
    let reviewed = review_service(&server).await;
    let appts = format!("/v1/stores/{}/appointments", s.store);
    let book = |key: &'static str, member: u64, service: &Value, start: &str, r: u64| {
        let body = json!({"member_id": member, "service_id": service, "start": start, "resource_ids": [r]});
        let (server, appts) = (&server, appts.clone());
        async move {
            let (status, a) = server.post(&appts, key, body).await;
            assert_eq!(status, StatusCode::CREATED, "{a}");
            a["id"].as_u64().unwrap()
        }
    };
    let massage = json!(s.appt_service);
    let ten = book("a1", s.member, &massage, "2026-02-02T10:00", r0).await;
    let nine = book("a2", other, &massage, "2026-02-02T09:00", r1).await;
    let review = book("a3", s.member, &reviewed["id"], "2026-02-02T11:00", r0).await;
    let next_day = book("a4", other, &massage, "2026-02-03T10:00", r1).await;
    let (status, plan) = server
        .post(
            &format!("/v1/stores/{}/plans", s.store),
            "p1",
            json!({"member_id": s.member, "service_id": s.plan_service, "resource_ids": [r0],
                "repeat": {"custom": {"starts": ["2026-02-02T14:00", "2026-02-03T14:00"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let occ: Vec<u64> = plan["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();

    // The front desk's day, in start order, plan occurrences included.
    let (status, day) = server.get(&format!("{appts}?from=2026-02-02")).await;
    assert_eq!(status, StatusCode::OK, "{day}");
    assert_eq!(ids(&day), vec![nine, ten, review, occ[0]]);
    assert_eq!(day["appointments"][0]["local_start"], "2026-02-02T09:00:00");
    assert_eq!(day["next_after"], Value::Null);
    // The review queue, a resource's, a member's, by origin and service.
    for (query, want) in [
        ("status=pending", vec![review]),
        (&format!("resource_id={r1}") as &str, vec![nine, next_day]),
        (&format!("member_id={other}"), vec![nine, next_day]),
        ("origin=plan", occ.clone()),
        (
            "origin=appointment&from=2026-02-02&to=2026-02-03",
            vec![nine, ten, review, next_day],
        ),
        (
            &format!("service_id={}&from=2026-02-03", s.appt_service),
            vec![next_day],
        ),
        ("from=2026-02-04", vec![]),
    ] {
        let (status, page) = server.get(&format!("{appts}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), want, "{query}");
    }

    // Pages of two walk the whole list once, in start order.
    let everything = vec![nine, ten, review, occ[0], next_day, occ[1]];
    assert_eq!(walk(&server, &appts, "", 2).await, everything);
    assert_eq!(walk(&server, &appts, "", 4).await, everything);

    // A move is conflict-checked like a new booking, and idempotent.
    let moved = format!("/v1/appointments/{next_day}/move");
    let (status, m) = server
        .post(&moved, "mv1", json!({"start": "2026-02-03T14:00"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(
        (m["id"].as_u64(), m["local_start"].as_str()),
        (Some(next_day), Some("2026-02-03T14:00:00"))
    );
    let (status, again) = server
        .post(&moved, "mv1", json!({"start": "2026-02-03T14:00"}))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &m));
    let (status, clash) = server
        .post(
            &format!("/v1/appointments/{nine}/move"),
            "mv2",
            json!({"start": "2026-02-03T14:30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{clash}");
    let (status, body) = server
        .post(
            &format!("/v1/appointments/{}/move", occ[0]),
            "mv3",
            json!({"start": "2026-02-02T16:00"}),
        )
        .await;
    assert!(
        status.is_client_error() && body["message"].as_str().unwrap_or("").contains("plan"),
        "{status} {body}"
    );
    let (_, day) = server.get(&format!("{appts}?from=2026-02-03")).await;
    assert_eq!(ids(&day), vec![next_day, occ[1]]);
    let (_, day) = server.get(&format!("{appts}?from=2026-02-02")).await;
    assert_eq!(
        ids(&day),
        vec![nine, ten, review, occ[0]],
        "the clash moved nothing"
    );

    // A cancellation moves it to the cancelled list; a restart changes nothing listed.
    let (status, _) = server
        .act(&format!("/v1/appointments/{ten}/cancel"), "c1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, cancelled) = server.get(&format!("{appts}?status=cancelled")).await;
    assert_eq!(ids(&cancelled), vec![ten]);
    let (status, body) = server
        .post(
            &format!("/v1/appointments/{ten}/move"),
            "mv4",
            json!({"start": "2026-02-05T10:00"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a cancelled appointment stays put: {body}"
    );
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    assert_eq!(walk(&server, &appts, "", 3).await, everything);
    let (_, cancelled) = server.get(&format!("{appts}?status=cancelled")).await;
    assert_eq!(ids(&cancelled), vec![ten]);

    // A member's appointments in every store, in start order, a page at a time.
    let (status, second) = server
        .post(
            "/v1/stores",
            "st2",
            json!({"name": "Second", "time_zone": "Asia/Shanghai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_u64().unwrap();
    let (status, r2) = server
        .post(
            &format!("/v1/stores/{second}/resources"),
            "res-2",
            json!({"name": "There", "kind": "therapist", "capacity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r2}");
    let (status, away) = server
        .post(
            &format!("/v1/stores/{second}/appointments"),
            "away",
            json!({"member_id": s.member, "service_id": s.appt_service, "start": "2026-02-02T12:00", "resource_ids": [r2["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{away}");
    let away = away["id"].as_u64().unwrap();
    let mine = format!("/v1/members/{}/appointments", s.member);
    let all_mine = vec![ten, review, away, occ[0], occ[1]];
    assert_eq!(walk(&server, &mine, "", 2).await, all_mine);
    assert_eq!(walk(&server, &mine, "", 100).await, all_mine);
    assert_eq!(
        walk(&server, &mine, "&status=pending", 1).await,
        vec![review]
    );
    assert_eq!(
        walk(&server, &mine, "&from=2026-02-03", 5).await,
        vec![occ[1]]
    );
    let (status, _) = server.get("/v1/members/4294967295/appointments").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get(&format!("{mine}?resource_id={r0}")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a member's list has no resource filter"
    );

    // Bad queries: a clear 400 naming the problem.
    for query in [
        "limit=0",
        "limit=100000",
        "status=late",
        "origin=walk_in",
        "to=2026-02-02",
        "from=2026-02-03&to=2026-02-02",
        "from=2026-01-01&to=2027-06-01",
        "from=2026-02-30",
        "after=nonsense",
        "after=1.x",
        "member_id=0",
        "colour=red",
    ] {
        let (status, body) = server.get(&format!("{appts}?{query}")).await;
        // 400 for a query of the wrong shape, 422 for one a rule refuses.
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {status} {body}"
        );
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    // Another store's list is another store's; an unknown store is not found.
    let (status, _) = server.get("/v1/stores/999/appointments").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The kinds and bookings of a store's event feed.
async fn feed(server: &Server, store: u64) -> Vec<(String, u64)> {
    let (status, events) = server.get(&format!("/v1/stores/{store}/events")).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap().to_owned();
            (kind, e["booking_id"].as_u64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_are_reminded_once_and_never_completed_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 2).await;
    let (status, body) = server
        .put(
            "/v1/notification-templates/appointment_reminder",
            "tpl",
            json!({"text": "{member_id}: appointment {booking} at {start}"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put(
            "/v1/notification-templates/appointment_reminder",
            "tpl-bad",
            json!({"text": "{plan}"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let reviewed = review_service(&server).await;
    let appts = format!("/v1/stores/{}/appointments", s.store);
    let book = |key: &'static str, service: Value, start: &'static str, r: u64| {
        let body = json!({"member_id": s.member, "service_id": service, "start": start, "resource_ids": [r]});
        let (server, appts) = (&server, appts.clone());
        async move {
            let (status, a) = server.post(&appts, key, body).await;
            assert_eq!(status, StatusCode::CREATED, "{a}");
            a["id"].as_u64().unwrap()
        }
    };
    // 10:00 and 12:00 local on 3 January (UTC+8); a pending one at 10:00 is never reminded.
    let ten = book(
        "a1",
        json!(s.appt_service),
        "2026-01-03T10:00",
        s.therapists[0],
    )
    .await;
    let noon = book(
        "a2",
        json!(s.appt_service),
        "2026-01-03T12:00",
        s.therapists[0],
    )
    .await;
    let pending = book(
        "a3",
        reviewed["id"].clone(),
        "2026-01-03T10:00",
        s.therapists[1],
    )
    .await;
    // The noon one moves to 11:00: reminded for its new time.
    let (status, m) = server
        .post(
            &format!("/v1/appointments/{noon}/move"),
            "mv",
            json!({"start": "2026-01-03T11:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");

    // 08:59: nothing due (the lead is 60 minutes).
    server.set_clock("2026-01-03T00:59:00Z").await;
    assert_eq!(feed(&server, s.store).await, vec![]);
    // 09:00: the 10:00 one.
    server.set_clock("2026-01-03T01:00:00Z").await;
    assert_eq!(feed(&server, s.store).await, vec![("reminder".into(), ten)]);
    // 10:00: the moved one, for 11:00.
    server.set_clock("2026-01-03T02:00:00Z").await;
    let (status, outbox) = server
        .get(&format!("/v1/stores/{}/notifications", s.store))
        .await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    let texts: Vec<&str> = outbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("appointment {noon} at 2026-01-03 11:00"))),
        "{outbox}"
    );

    // Long after: still confirmed (staff complete appointments), no second reminder, even
    // across a restart.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-05T00:00:00Z"));
    let reminders = feed(&server, s.store).await;
    assert_eq!(
        reminders,
        vec![("reminder".into(), ten), ("reminder".into(), noon)]
    );
    for id in [ten, noon] {
        let (_, a) = server.get(&format!("/v1/appointments/{id}")).await;
        assert_eq!(a["status"], "confirmed", "{a}");
    }
    let (_, a) = server.get(&format!("/v1/appointments/{pending}")).await;
    assert_eq!(a["status"], "pending");
}

async fn level_of(server: &Server, member: u64) -> Option<u64> {
    let (_, balance) = server.get(&format!("/v1/members/{member}/balance")).await;
    balance["level"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_set_by_hand_is_kept_logged_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let store = server.create_store("Home").await;
    let member = server.register("13900000002", store).await;
    for (id, body) in [
        (
            0,
            json!({"name": "Member", "price_rate_bp": 10000, "points_per_yuan": 1}),
        ),
        (
            1,
            json!({"name": "Gold", "price_rate_bp": 8800, "points_per_yuan": 2, "upgrade_recharged": 100000}),
        ),
    ] {
        let (status, b) = server
            .put(&format!("/v1/levels/{id}"), &format!("lv-{id}"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let level = format!("/v1/members/{member}/level");

    // Set by hand to Gold, with a reason; a replay answers the same, a change refuses.
    let body = json!({"level_id": 1, "reason": "VIP guest", "store_id": store});
    let (status, first) = server.post(&level, "set-1", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = server.post(&level, "set-1", body).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    assert_eq!(level_of(&server, member).await, Some(1));
    for (key, body, want, code) in [
        (
            "set-2",
            json!({"level_id": 1, "reason": "again", "store_id": store}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "level_unchanged",
        ),
        (
            "set-3",
            json!({"level_id": 7, "reason": "no such", "store_id": store}),
            StatusCode::NOT_FOUND,
            "level_not_found",
        ),
        (
            "set-4",
            json!({"level_id": 0, "reason": "", "store_id": store}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            "set-5",
            json!({"level_id": 0, "store_id": store}),
            StatusCode::BAD_REQUEST,
            "",
        ),
    ] {
        let (status, b) = server.post(&level, key, body).await;
        assert_eq!(status, want, "{key}: {b}");
        if !code.is_empty() {
            assert_eq!(b["code"], code, "{key}: {b}");
        }
    }
    assert_eq!(level_of(&server, member).await, Some(1));

    // Back to the base level by hand: a small recharge doesn't lift it again, it's in the
    // member's history with its reason, and in the operation log.
    let (status, b) = server
        .post(
            &level,
            "set-6",
            json!({"level_id": 0, "reason": "downgrade on request", "store_id": store}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let (status, _) = server.recharge(member, store, 100, "r-1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(level_of(&server, member).await, Some(0));
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    assert_eq!(level_of(&server, member).await, Some(0));
    let (_, history) = server.get(&format!("/v1/members/{member}/activity")).await;
    let text = history.to_string();
    assert!(
        text.contains("VIP guest") && text.contains("downgrade on request"),
        "{history}"
    );
    let (_, log) = server
        .get(&format!("/v1/oplog?object=member:{member}"))
        .await;
    let text = log.to_string();
    assert!(text.contains("/v1/members/{member_id}/level"), "{log}");
}

/// A store's lead time, a service's own lead time and the same-day reminder (当日提醒)
/// decide when each visit is reminded, for appointments and plan occurrences alike; the
/// policy survives a restart, and a change applies to visits already booked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_follow_the_stores_lead_times_and_same_day_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 2).await;
    let path = format!("/v1/stores/{}/reminders", s.store);
    let (status, r) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["lead_minutes"], Value::Null);

    // Booked before the policy: by the chain's default (60 minutes) it would be reminded
    // at 13:00 local on the 3rd; the policy below moves it to the day before.
    let (status, a) = server
        .post(
            &format!("/v1/stores/{}/appointments", s.store),
            "rm-a",
            json!({"member_id": s.member, "service_id": s.appt_service,
                   "start": "2026-01-03T14:00", "resource_ids": [s.therapists[0]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let a = a["id"].as_u64().unwrap();
    let policy = json!({"lead_minutes": 30, "same_day_at": "09:00",
                        "service_leads": {s.appt_service.to_string(): 1440}});
    let (status, r) = server.put(&path, "rm-p", policy.clone()).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["same_day_at"], "09:00");
    for (key, bad) in [
        ("rm-b1", json!({"lead_minutes": 10081})),
        ("rm-b2", json!({"same_day_at": "9am"})),
        ("rm-b3", json!({"service_leads": {"999": 10}})),
    ] {
        let (status, body) = server.put(&path, key, bad.clone()).await;
        assert!(status.is_client_error(), "{bad}: {body}");
    }
    // A plan occurrence at 15:00 local on the 3rd: the store's 30 minutes give 14:30, the
    // same-day reminder 09:00.
    let (status, plan) = server
        .post(
            &format!("/v1/stores/{}/plans", s.store),
            "rm-plan",
            json!({"member_id": s.member, "service_id": s.plan_service,
                   "resource_ids": [s.therapists[1]],
                   "repeat": {"custom": {"starts": ["2026-01-03T15:00"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let occ = plan["occurrences"][0]["id"].as_u64().unwrap();

    let reminded = |feed: Vec<(String, u64)>| -> Vec<u64> {
        feed.into_iter()
            .filter(|(k, _)| k == "reminder")
            .map(|(_, b)| b)
            .collect()
    };
    server.set_clock("2026-01-02T05:59:00Z").await; // 13:59 local on the 2nd
    assert_eq!(reminded(feed(&server, s.store).await), Vec::<u64>::new());
    server.set_clock("2026-01-02T06:00:00Z").await; // a day before the appointment
    assert_eq!(reminded(feed(&server, s.store).await), vec![a]);

    // The policy and what is due survive a restart.
    server.kill();
    server = Server::start_with_clock(dir.path(), Some("2026-01-02T06:00:00Z"));
    let (_, r) = server.get(&path).await;
    assert_eq!(r["service_leads"][s.appt_service.to_string()], 1440);
    server.set_clock("2026-01-03T00:59:00Z").await; // 08:59 local on the 3rd
    assert_eq!(reminded(feed(&server, s.store).await), vec![a]);
    server.set_clock("2026-01-03T01:00:00Z").await; // 09:00 local: the same-day reminder
    assert_eq!(reminded(feed(&server, s.store).await), vec![a, occ]);
}

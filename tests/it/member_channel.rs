//! The member channel: a member signs in with a one-time code the webhook delivers, reads
//! their own account, books online and cancels within the store's window; codes are
//! single-use, rate-limited and burned by guessing, also across a SIGKILL; a member's
//! session reaches nothing but `/v1/me`, and staff can end it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::Filter;

use crate::harness::{client_with_key, send, Server};

const T0: &str = "2026-01-01T00:00:00Z";

/// A webhook receiver on loopback: every body it gets.
pub(crate) fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let route = warp::post()
        .and(warp::body::json())
        .map(move |body: Value| {
            let _ = tx.send(body);
            warp::http::StatusCode::NO_CONTENT
        });
    let (addr, serve) = warp::serve(route).bind_ephemeral(([127, 0, 0, 1], 0));
    tokio::spawn(serve);
    (format!("http://{addr}/hook"), rx)
}

/// Points the chain's webhook at a fresh receiver.
pub(crate) async fn hook(server: &Server) -> mpsc::UnboundedReceiver<Value> {
    let (url, rx) = receiver();
    let (status, body) = server
        .put(
            "/v1/notification-webhook",
            &format!("mc-hook-{url}"),
            json!({"url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    rx
}

/// The next sign-in code the webhook gets for `phone`.
async fn code_for(hook: &mut mpsc::UnboundedReceiver<Value>, phone: &str) -> String {
    loop {
        let body = tokio::time::timeout(Duration::from_secs(20), hook.recv())
            .await
            .expect("a code reaches the webhook")
            .expect("receiver open");
        if body["event"] == "sign_in_code" && body["phone"] == phone {
            let text = body["text"].as_str().unwrap();
            let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
            return code;
        }
    }
}

async fn public_post(server: &Server, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
    send(
        reqwest::Client::new()
            .post(server.url(path))
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

/// Signs `phone` in: (member id, session token).
pub(crate) async fn sign_in(
    server: &Server,
    hook: &mut mpsc::UnboundedReceiver<Value>,
    phone: &str,
    key: &str,
) -> (u64, String) {
    let (status, body) = public_post(
        server,
        "/v1/member-sign-in/codes",
        &format!("{key}-code"),
        json!({"phone": phone}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = code_for(hook, phone).await;
    let (status, body) = public_post(
        server,
        "/v1/member-sign-in/sessions",
        &format!("{key}-in"),
        json!({"phone": phone, "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["member_id"].as_u64().unwrap(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// A member's own client.
struct Me {
    client: reqwest::Client,
}

impl Me {
    fn new(token: &str) -> Me {
        Me {
            client: client_with_key(token),
        }
    }

    async fn get(&self, server: &Server, path: &str) -> (StatusCode, Value) {
        send(self.client.get(server.url(path))).await
    }

    async fn post(
        &self,
        server: &Server,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(server.url(path))
            .header("Idempotency-Key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    async fn delete(&self, server: &Server, path: &str, key: &str) -> (StatusCode, Value) {
        send(
            self.client
                .delete(server.url(path))
                .header("Idempotency-Key", key),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_signs_in_reads_their_account_books_online_and_cancels_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let s = crate::scheduling::setup(&server, "Asia/Shanghai", 2).await;
    let mut hook = hook(&server).await;
    server.recharge(s.member, s.store, 50_000, "mc-r").await;
    let phone = "13800000099";
    let (member, token) = sign_in(&server, &mut hook, phone, "mc-1").await;
    assert_eq!(member, s.member);
    let me = Me::new(&token);

    // The account: balance, level, no staff notes.
    let (status, body) = me.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["member_id"], member);
    assert_eq!(body["account"]["balance"], 50_000);
    assert!(body.get("notes").is_none(), "{body}");
    let (status, body) = me.get(&server, "/v1/me/entries").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);

    // The outbox shows staff that a code went, never the code.
    let (status, outbox) = server
        .get(&format!("/v1/stores/{}/notifications", s.store))
        .await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    let codes: Vec<&Value> = outbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["event"] == "sign_in_code")
        .collect();
    assert_eq!(codes.len(), 1, "{outbox}");
    assert!(!codes[0]["text"]
        .as_str()
        .unwrap()
        .chars()
        .any(|c| c.is_ascii_digit()));

    // Only appointment services are offered, and booked.
    let (status, services) = me.get(&server, "/v1/me/services").await;
    assert_eq!(status, StatusCode::OK, "{services}");
    let offered: Vec<u64> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(offered, vec![s.appt_service]);
    let (status, free) = me
        .get(
            &server,
            &format!(
                "/v1/me/availability?store_id={}&service_id={}&from=2026-01-05&to=2026-01-05",
                s.store, s.appt_service
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{free}");
    assert!(!free["starts"].as_array().unwrap().is_empty(), "{free}");
    let book = |start: &str, service: u64| {
        json!({"store_id": s.store, "service_id": service, "start": start,
               "resource_ids": [s.therapists[0]]})
    };
    let (status, body) = me
        .post(
            &server,
            "/v1/me/appointments",
            "b-plan",
            Some(book("2026-01-05T10:00", s.plan_service)),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("not_bookable_online")
        ),
        "{body}"
    );
    // Too soon (less than 30 minutes' notice) and too far (beyond 30 days).
    for (key, start) in [
        ("b-soon", "2026-01-01T08:10"),
        ("b-far", "2026-03-01T10:00"),
    ] {
        let (status, body) = me
            .post(
                &server,
                "/v1/me/appointments",
                key,
                Some(book(start, s.appt_service)),
            )
            .await;
        assert_eq!(
            body["code"], "not_bookable_online",
            "{start}: {status} {body}"
        );
    }
    let (status, booked) = me
        .post(
            &server,
            "/v1/me/appointments",
            "b-1",
            Some(book("2026-01-05T10:00", s.appt_service)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["member_id"], member);
    let id = booked["id"].as_u64().unwrap();
    // A repeat is the same booking.
    let (status, again) = me
        .post(
            &server,
            "/v1/me/appointments",
            "b-1",
            Some(book("2026-01-05T10:00", s.appt_service)),
        )
        .await;
    assert_eq!((status, &again["id"]), (StatusCode::CREATED, &booked["id"]));
    let (_, mine) = me.get(&server, "/v1/me/appointments?from=2026-01-05").await;
    assert_eq!(mine["appointments"].as_array().unwrap().len(), 1, "{mine}");
    // A service needing review waits for staff, as any booking of it does.
    let review = crate::scheduling::review_service(&server).await["id"]
        .as_u64()
        .unwrap();
    let (status, pending) = me
        .post(
            &server,
            "/v1/me/appointments",
            "b-review",
            Some(book("2026-01-07T15:00", review)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert_eq!(pending["status"], "pending", "{pending}");

    // A store manager narrows the window; inside it, the member can't cancel, staff can.
    let (status, policy) = server
        .put(
            &format!("/v1/stores/{}/online-booking", s.store),
            "ob-1",
            json!({"enabled": true, "lead_minutes": 30, "horizon_days": 30, "cancel_window_minutes": 1440}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    server.set_clock("2026-01-04T03:00:00Z").await;
    let (status, body) = me
        .post(
            &server,
            &format!("/v1/me/appointments/{id}/cancel"),
            "c-1",
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("cancellation_window_passed")),
        "{body}"
    );
    server.set_clock("2026-01-03T01:00:00Z").await;
    let (status, body) = me
        .post(
            &server,
            &format!("/v1/me/appointments/{id}/cancel"),
            "c-2",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");

    // Turned off, nothing is booked online.
    let (status, _) = server
        .put(
            &format!("/v1/stores/{}/online-booking", s.store),
            "ob-2",
            json!({"enabled": false, "lead_minutes": 30, "horizon_days": 30, "cancel_window_minutes": 120}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = me
        .post(
            &server,
            "/v1/me/appointments",
            "b-2",
            Some(book("2026-01-06T10:00", s.appt_service)),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("not_bookable_online")
        )
    );

    // Signing out ends the session at once.
    let (status, body) = me.delete(&server, "/v1/me/session", "out-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_ended"], 1);
    let (status, _) = me.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn guess(server: &Server, phone: &str, key: String, code: &str) -> (StatusCode, Value) {
    let body = json!({"phone": phone, "code": code});
    public_post(server, "/v1/member-sign-in/sessions", &key, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_single_use_throttled_and_burned_by_guessing_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let store = server.create_store("Studio").await;
    let phone = "13800000042";
    server.register(phone, store).await;
    let mut hook = hook(&server).await;

    // A phone that is nobody's is answered alike, and nothing is sent.
    let (status, body) = public_post(
        &server,
        "/v1/member-sign-in/codes",
        "u-1",
        json!({"phone": "13900000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = public_post(
        &server,
        "/v1/member-sign-in/codes",
        "u-2",
        json!({"phone": "not a phone"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_phone"))
    );

    let (status, _) = public_post(
        &server,
        "/v1/member-sign-in/codes",
        "k-1",
        json!({"phone": phone}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let code = code_for(&mut hook, phone).await;
    // A second code within a minute is refused.
    let (status, body) = public_post(
        &server,
        "/v1/member-sign-in/codes",
        "k-2",
        json!({"phone": phone}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("sign_in_throttled")),
        "{body}"
    );

    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..2 {
        let (status, body) = guess(&server, phone, format!("g-{i}"), wrong).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("sign_in_failed")),
            "{body}"
        );
    }
    // A repeat of a guess is the same guess, not another one.
    let (status, body) = guess(&server, phone, "g-1".into(), wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("3 tries left"),
        "{body}"
    );

    // Guesses counted survive a kill.
    server.kill();
    server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    for i in 2..5 {
        let (status, _) = guess(&server, phone, format!("g-{i}"), wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Burned: the right code no longer works.
    let (status, body) = guess(&server, phone, "g-right".into(), &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("too many"),
        "{body}"
    );

    // A minute on, a new code signs in once; it can't be used twice, and expires.
    server.set_clock("2026-01-01T00:01:05Z").await;
    let mut hook = crate::member_channel::hook(&server).await;
    let (member, token) = sign_in(&server, &mut hook, phone, "k-3").await;
    assert!(token.starts_with("ms_"));
    assert!(member > 0);
    server.set_clock("2026-01-01T00:02:10Z").await;
    let (status, _) = public_post(
        &server,
        "/v1/member-sign-in/codes",
        "k-4",
        json!({"phone": phone}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let code = code_for(&mut hook, phone).await;
    server.set_clock("2026-01-01T00:08:00Z").await;
    let (status, body) = guess(&server, phone, "late".into(), &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // A session lasts 30 days.
    let me = Me::new(&token);
    let (status, _) = me.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    server.set_clock("2026-02-01T00:00:00Z").await;
    let (status, _) = me.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_reaches_only_their_own_account_and_staff_can_sign_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let s = crate::scheduling::setup(&server, "Asia/Shanghai", 2).await;
    let other = server.register("13800000055", s.store).await;
    let mut hook = hook(&server).await;
    let (_, token) = sign_in(&server, &mut hook, "13800000099", "a-1").await;
    let me = Me::new(&token);

    // Another member's booking is not found; staff routes are forbidden.
    let (status, theirs) = server
        .post(
            &format!("/v1/stores/{}/appointments", s.store),
            "their-b",
            json!({"member_id": other, "service_id": s.appt_service, "start": "2026-01-05T10:00", "resource_ids": [s.therapists[1]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let (status, body) = me
        .post(
            &server,
            &format!("/v1/me/appointments/{}/cancel", theirs["id"]),
            "x-1",
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found")),
        "{body}"
    );
    for path in [
        format!("/v1/members/{other}"),
        format!("/v1/members/{}", s.member),
        format!("/v1/members/{other}/balance"),
        format!("/v1/stores/{}", s.store),
        "/v1/stores".to_owned(),
        format!("/v1/stores/{}/appointments?from=2026-01-05", s.store),
        "/v1/services".to_owned(),
    ] {
        let (status, body) = me.get(&server, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = me
        .post(
            &server,
            &format!("/v1/members/{}/deductions", s.member),
            "x-2",
            Some(json!({"amount": 1, "store_id": s.store})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A staff key has no `/v1/me`.
    let (status, _) = server.get("/v1/me").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A token that is not a session is nobody.
    let nobody = Me::new(&format!("ms_{}", "0".repeat(64)));
    let (status, _) = nobody.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Two sessions; staff end both (a lost phone).
    let (status, _) = me.get(&server, "/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    server.set_clock("2026-01-01T00:01:05Z").await;
    let (_, second) = sign_in(&server, &mut hook, "13800000099", "a-2").await;
    let (status, body) = server
        .delete(&format!("/v1/members/{}/sessions", s.member), "so-1")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_ended"], 2, "{body}");
    for t in [&token, &second] {
        let (status, _) = Me::new(t).get(&server, "/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

//! Waitlists (候补): a full slot's line, the first in line offered the slot a cancellation
//! frees (held for them, notified), the offer surviving a SIGKILL, running out to the next
//! in line, accepted into a booking, and declined back to the calendar.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{client_with_key, send, Server};

const T0: &str = "2026-01-01T00:00:00Z";
const ARGS: &[&str] = &["--webhook-private-targets"];

async fn entry(server: &Server, id: u64) -> Value {
    let (status, e) = server.get(&format!("/v1/waitlist/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    e
}

/// The next waitlist offer the webhook gets.
async fn offer_sent(hook: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    loop {
        let body = tokio::time::timeout(Duration::from_secs(20), hook.recv())
            .await
            .expect("an offer reaches the webhook")
            .expect("receiver open");
        if body["event"] == "waitlist_offer" {
            return body;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_slot_goes_to_the_first_in_line_held_until_accepted_or_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_opts(dir.path(), Some(T0), ARGS);
    let s = crate::scheduling::setup(&server, "Asia/Shanghai", 1).await;
    let mut hook = crate::member_channel::hook(&server).await;
    let store = s.store;
    let therapist = s.therapists[0];
    let first = server.register("13800000011", store).await;
    let holder = server.register("13800000012", store).await;
    let body = |member: u64, start: &str| {
        json!({"member_id": member, "service_id": s.appt_service, "start": start,
               "resource_ids": [therapist]})
    };
    let slot = "2026-01-05T10:00";
    let (status, held) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "wl-book",
            body(holder, slot),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");

    // A slot with room is booked, not waited for; a closed one can't be waited for.
    let (status, e) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-free",
            body(first, "2026-01-05T12:00"),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("slot_free")),
        "{e}"
    );
    let (status, e) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-past",
            body(first, "2025-12-30T10:00"),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("slot_unavailable")),
        "{e}"
    );

    // First in line: staff put a member there; a repeat is the same entry.
    let (status, waiting) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-1",
            body(first, slot),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    assert_eq!(waiting["state"], "waiting");
    let first_entry = waiting["id"].as_u64().unwrap();
    let (_, again) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-1",
            body(first, slot),
        )
        .await;
    assert_eq!(again["id"], first_entry);
    let (status, e) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-1b",
            body(first, slot),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_waiting")),
        "{e}"
    );

    // Second in line: the member, from their own channel.
    let (me_id, token) =
        crate::member_channel::sign_in(&server, &mut hook, "13800000099", "wl-in").await;
    let me = client_with_key(&token);
    let (status, mine) = send(
        me.post(server.url("/v1/me/waitlist"))
            .header("Idempotency-Key", "wl-me")
            .json(
                &json!({"store_id": store, "service_id": s.appt_service, "start": slot,
                          "resource_ids": [therapist]}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    assert_eq!(
        (mine["member_id"].as_u64(), mine["online"].as_bool()),
        (Some(me_id), Some(true))
    );
    let my_entry = mine["id"].as_u64().unwrap();
    // A member acts on their own entries only, and there is nothing to accept yet.
    let (status, e) = send(
        me.post(server.url(&format!("/v1/me/waitlist/{first_entry}/accept")))
            .header("Idempotency-Key", "wl-steal"),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("waitlist_entry_not_found")),
        "{e}"
    );
    let (status, e) = server
        .act(&format!("/v1/waitlist/{first_entry}/accept"), "wl-early")
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_offer")),
        "{e}"
    );

    // The booking is cancelled: the first in line is offered the slot, held 30 minutes.
    let (status, b) = server
        .act(
            &format!("/v1/appointments/{}/cancel", held["id"]),
            "wl-cancel",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let offered = entry(&server, first_entry).await;
    assert_eq!(offered["state"], "offered", "{offered}");
    assert_eq!(offered["offer_expires_at"], "2026-01-01T00:30:00Z");
    let offer = offer_sent(&mut hook).await;
    assert_eq!(offer["member_id"], first, "{offer}");
    assert!(
        offer["text"]
            .as_str()
            .unwrap()
            .contains(&first_entry.to_string()),
        "{offer}"
    );
    assert_eq!(entry(&server, my_entry).await["state"], "waiting");

    // Nobody else takes the held slot, also after a SIGKILL.
    let stranger = server.register("13800000013", store).await;
    for round in 0..2 {
        let (status, e) = server
            .post(
                &format!("/v1/stores/{store}/appointments"),
                &format!("wl-steal-{round}"),
                body(stranger, slot),
            )
            .await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::CONFLICT, Some("slot_unavailable")),
            "{e}"
        );
        if round == 0 {
            server.kill();
            server = Server::start_opts(dir.path(), Some(T0), ARGS);
            assert_eq!(entry(&server, first_entry).await["state"], "offered");
        }
    }

    // The offer runs out: the next in line gets the slot.
    server.set_clock("2026-01-01T00:31:00Z").await;
    let expired = entry(&server, first_entry).await;
    assert_eq!(expired["state"], "expired", "{expired}");
    let (status, e) = server
        .act(&format!("/v1/waitlist/{first_entry}/accept"), "wl-late")
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("waitlist_entry_closed")),
        "{e}"
    );
    let (status, list) = send(me.get(server.url("/v1/me/waitlist"))).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = &list["entries"].as_array().unwrap()[..];
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["state"], "offered", "{list}");
    assert_eq!(listed[0]["offer_expires_at"], "2026-01-01T01:01:00Z");

    // Accepted, the offer is the booking; a repeat answers the same.
    let accept = || {
        me.post(server.url(&format!("/v1/me/waitlist/{my_entry}/accept")))
            .header("Idempotency-Key", "wl-accept")
    };
    let (status, accepted) = send(accept()).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["state"], "accepted");
    let (_, again) = send(accept()).await;
    assert_eq!(again, accepted);
    let booking = accepted["booking_id"].as_u64().unwrap();
    let (status, b) = server.get(&format!("/v1/appointments/{booking}")).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(
        (b["member_id"].as_u64(), b["status"].as_str()),
        (Some(me_id), Some("confirmed"))
    );
    assert_eq!(b["local_start"], "2026-01-05T10:00:00");

    // A line for another slot: declining an offer frees the slot for the calendar.
    let other = "2026-01-06T10:00";
    let (_, b2) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "wl-book2",
            body(holder, other),
        )
        .await;
    let (_, w2) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-2",
            body(first, other),
        )
        .await;
    server
        .act(
            &format!("/v1/appointments/{}/cancel", b2["id"]),
            "wl-cancel2",
        )
        .await;
    let w2 = w2["id"].as_u64().unwrap();
    assert_eq!(entry(&server, w2).await["state"], "offered");
    let (status, declined) = server
        .act(&format!("/v1/waitlist/{w2}/withdraw"), "wl-decline")
        .await;
    assert_eq!(
        (status, declined["state"].as_str()),
        (StatusCode::OK, Some("withdrawn")),
        "{declined}"
    );
    let (status, b) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "wl-book3",
            body(stranger, other),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");

    // The store's list, by state.
    let (status, page) = server
        .get(&format!("/v1/stores/{store}/waitlist?state=expired"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![first_entry]);
    // What was booked after restarts stays consistent with the calendar.
    server.kill();
    let server = Server::start_opts(dir.path(), Some("2026-01-01T00:31:00Z"), ARGS);
    assert_eq!(entry(&server, my_entry).await["state"], "accepted");
    let (status, e) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "wl-book4",
            body(stranger, slot),
        )
        .await;
    assert_eq!(e["code"], "slot_unavailable", "{status} {e}");

    // More capacity opens the slot to the next in line too.
    let third = "2026-01-07T10:00";
    let (_, b3) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "wl-book5",
            body(holder, third),
        )
        .await;
    assert!(b3["id"].is_u64(), "{b3}");
    let (_, w3) = server
        .post(
            &format!("/v1/stores/{store}/waitlist"),
            "wl-3",
            body(first, third),
        )
        .await;
    let w3 = w3["id"].as_u64().unwrap();
    let (status, r) = server
        .put(
            &format!("/v1/resources/{therapist}"),
            "wl-cap",
            json!({"name": "Therapist 0", "kind": "therapist", "capacity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(entry(&server, w3).await["state"], "offered");
}

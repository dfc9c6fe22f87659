//! Access control: 401 without a valid key, 403 outside a role, 404 for objects of another
//! store whatever ids are sent, the store taken from the credential, revocation at once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{client_with_key, Server};

/// Issues a key (HQ) and answers it: it is shown this once.
pub(crate) async fn credential(server: &Server, key: &str, body: Value) -> String {
    let (status, c) = server.post("/v1/credentials", key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["key"].as_str().expect("the key is shown once").to_owned()
}

async fn call(
    client: &reqwest::Client,
    method: &str,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        "PUT" => client.put(url),
        "PATCH" => client.patch(url),
        _ => client.post(url),
    }
    .header("Idempotency-Key", format!("k-{}", rand_suffix()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    // Through the harness: the role matrix is held to the document too.
    crate::harness::send(req).await
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_scope_every_route_to_their_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let ma = server.register("13200000001", a).await;
    let mb = server.register("13200000002", b).await;
    server.recharge(ma, a, 1_000, "ra").await;
    server.recharge(mb, b, 1_000, "rb").await;
    let url = |path: String| server.url(&path);

    // No key, a wrong key: 401.
    let anon = reqwest::Client::new();
    let (status, body) = call(&anon, "GET", url(format!("/v1/members/{ma}/balance")), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let wrong = client_with_key("nope");
    let (status, _) = call(
        &wrong,
        "GET",
        url(format!("/v1/members/{ma}/balance")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let pos_key = credential(
        &server,
        "c-pos",
        json!({"name": "POS 1", "role": "pos", "store_ids": [a]}),
    )
    .await;
    let pos = client_with_key(&pos_key);

    // Its own store's member: counter work goes through; the store comes from the key.
    let (status, d) = call(
        &pos,
        "POST",
        url(format!("/v1/members/{ma}/deductions")),
        Some(json!({"amount": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["store_id"].as_u64(), Some(a));
    let (status, _) = call(&pos, "GET", url(format!("/v1/members/{ma}/balance")), None).await;
    assert_eq!(status, StatusCode::OK);

    // Another store's member, whatever ids it sends: not found, and nothing changes; only
    // spending crosses stores (跨店消费, below), never reading, recharging or refunding.
    for (method, path, body) in [
        ("GET", format!("/v1/members/{mb}/balance"), None),
        ("GET", format!("/v1/members/{mb}"), None),
        ("GET", format!("/v1/members/{mb}/entries"), None),
        ("GET", "/v1/members?phone=13200000002".to_owned(), None),
        (
            "POST",
            format!("/v1/members/{mb}/recharges"),
            Some(json!({"amount": 10})),
        ),
        (
            "POST",
            format!("/v1/members/{mb}/refunds"),
            Some(json!({"deduction_seq": 1})),
        ),
    ] {
        let (status, body) = call(&pos, method, url(path.clone()), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // Cross-store use: the POS of this store may spend the other store's member's value,
    // and the entry names this store, whatever store_id is sent.
    let (status, body) = call(
        &pos,
        "POST",
        url(format!("/v1/members/{mb}/deductions")),
        Some(json!({"amount": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_ne!(body["store_id"].as_u64(), Some(mb >> 32));
    let (status, r) = call(
        &pos,
        "POST",
        url("/v1/ledger/batch".into()),
        Some(json!({"operations": [{"idempotency_key": "x1", "op": "deduct", "member_id": mb, "amount": 1}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The batch follows the single route's rule.
    assert_eq!(r["results"][0]["status"], 201, "{r}");
    // A store in the body other than the key's own: refused.
    let (status, _) = call(
        &pos,
        "POST",
        url(format!("/v1/members/{ma}/deductions")),
        Some(json!({"amount": 1, "store_id": b})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // HQ functions: forbidden.
    for (method, path, body) in [
        ("POST", "/v1/stores".to_owned(), Some(json!({"name": "C"}))),
        ("GET", "/v1/ledger/trial-balance".to_owned(), None),
        ("POST", "/v1/admin/backups".to_owned(), None),
        (
            "PUT",
            "/v1/gifts/1".to_owned(),
            Some(json!({"name": "Mug", "points": 10})),
        ),
        (
            "POST",
            "/v1/credentials".to_owned(),
            Some(json!({"name": "x", "role": "hq_admin"})),
        ),
        (
            "POST",
            "/v1/services".to_owned(),
            Some(
                json!({"name": "S", "duration_minutes": 30, "booking_mode": "appointment", "resource_kinds": ["staff"]}),
            ),
        ),
        (
            "POST",
            format!("/v1/stores/{a}/resources"),
            Some(json!({"name": "R", "kind": "staff", "capacity": 1})),
        ),
        (
            "PUT",
            format!("/v1/stores/{a}/closing-mode"),
            Some(json!({"manual": true})),
        ),
        ("POST", format!("/v1/stores/{a}/closings"), Some(json!({}))),
        (
            "GET",
            format!("/v1/stores/{a}/closings?from=2026-01-01&to=2026-01-02"),
            None,
        ),
        (
            "GET",
            format!("/v1/stats?store_id={a}&from=2026-01-01&to=2026-01-02"),
            None,
        ),
        (
            "GET",
            "/v1/stats?from=2026-01-01&to=2026-01-02".to_owned(),
            None,
        ),
    ] {
        let (status, body) = call(&pos, method, url(path.clone()), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["code"], "forbidden");
    }
    assert_eq!(server.balance(mb).await, 989);
    assert_eq!(server.balance(ma).await, 990);

    // A manager of B manages B's resources, not A's.
    let mgr_key = credential(
        &server,
        "c-mgr",
        json!({"name": "Manager B", "role": "store_manager", "store_ids": [b]}),
    )
    .await;
    let mgr = client_with_key(&mgr_key);
    let (status, r) = call(
        &mgr,
        "POST",
        url(format!("/v1/stores/{b}/resources")),
        Some(json!({"name": "R", "kind": "staff", "capacity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, _) = call(
        &mgr,
        "POST",
        url(format!("/v1/stores/{a}/resources")),
        Some(json!({"name": "R", "kind": "staff", "capacity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Its own store's figures and closings, not A's.
    let range = "from=2026-01-01&to=2026-01-02";
    for (path, want) in [
        (format!("/v1/stats?store_id={b}&{range}"), StatusCode::OK),
        (
            format!("/v1/stats?store_id={a}&{range}"),
            StatusCode::NOT_FOUND,
        ),
        (format!("/v1/stats?{range}"), StatusCode::FORBIDDEN),
        (format!("/v1/stores/{b}/closings?{range}"), StatusCode::OK),
        (
            format!("/v1/stores/{a}/closings?{range}"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, body) = call(&mgr, "GET", url(path.clone()), None).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let (status, _) = call(&pos, "GET", url(format!("/v1/resources/{}", r["id"])), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a POS of A can't see B's resource"
    );

    // Revocation works at once; the list never shows keys.
    let (_, list) = server.get("/v1/credentials").await;
    let pos_id = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "pos")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    assert!(list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("key").is_none()));
    let (status, _) = server
        .delete(&format!("/v1/credentials/{pos_id}"), "revoke")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&pos, "GET", url(format!("/v1/members/{ma}/balance")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.assert_ledger_sums_to_zero().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_over_its_rate_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let key = credential(
        &server,
        "c-rate",
        json!({"name": "POS", "role": "pos", "store_ids": [a]}),
    )
    .await;
    let pos = client_with_key(&key);
    // Eight callers at once drain the bucket however slow the machine is.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (pos, url) = (pos.clone(), server.url("/v1/settings"));
        tasks.push(tokio::spawn(async move {
            for _ in 0..1_000 {
                let res = pos.get(url.as_str()).send().await.unwrap();
                if res.status() == StatusCode::TOO_MANY_REQUESTS {
                    return Some(res);
                }
            }
            None
        }));
    }
    let mut limited = None;
    for t in tasks {
        if let Some(res) = t.await.unwrap() {
            limited = Some(res);
        }
    }
    let res =
        limited.expect("the limit (config/default.toml) is reached well before 8,000 requests");
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Other credentials are not affected.
    let (status, _) = server.get("/v1/settings").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_check_in_only_their_own_bookings() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-01T00:00:00Z"));
    let a = server.create_store("A").await;
    let member = server.register("13200000009", a).await;
    let (_, svc) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Massage", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["therapist"]}),
        )
        .await;
    let mut resources = Vec::new();
    for i in 0..2 {
        let (_, r) = server
            .post(
                &format!("/v1/stores/{a}/resources"),
                &format!("r{i}"),
                json!({"name": format!("T{i}"), "kind": "therapist", "capacity": 1}),
            )
            .await;
        resources.push(r["id"].as_u64().unwrap());
    }
    let mut bookings = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let (status, b) = server
            .post(
                &format!("/v1/stores/{a}/appointments"),
                &format!("b{i}"),
                json!({"member_id": member, "service_id": svc["id"], "start": "2026-02-02T10:00", "resource_ids": [r]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        bookings.push(b["id"].as_u64().unwrap());
    }
    let staff_key = credential(
        &server,
        "c-staff",
        json!({"name": "T0", "role": "staff", "store_ids": [a], "resource_id": resources[0]}),
    )
    .await;
    let staff = client_with_key(&staff_key);
    let url = |b: u64| server.url(&format!("/v1/appointments/{b}/check-in"));
    let (status, body) = call(&staff, "POST", url(bookings[1]), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(&staff, "POST", url(bookings[0]), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "checked_in");
    let (status, _) = call(
        &staff,
        "POST",
        server.url(&format!("/v1/appointments/{}/cancel", bookings[0])),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A sample value for a documented query parameter.
fn query_value(name: &str, schema: &Value, store_b: u64) -> String {
    match (name, schema["format"].as_str()) {
        ("store_id" | "home_store_id", _) => store_b.to_string(),
        ("phone", _) => "13200000002".to_owned(),
        ("from", Some("date")) => "2026-01-01".to_owned(),
        ("to", Some("date")) => "2026-01-02".to_owned(),
        ("from", _) => "2026-01-01T00:00:00Z".to_owned(),
        ("to", _) => "2026-01-02T00:00:00Z".to_owned(),
        _ => "1".to_owned(),
    }
}

/// Every documented route, called by every role of store A with store B's ids: nothing
/// crosses. HQ-only routes answer 403 to every other role; HQ is refused nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_by_every_role_with_another_stores_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-01-01T00:00:00Z"));
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let mb = server.register("13200000002", b).await;
    server.recharge(mb, b, 1_000, "rb").await;
    let (_, svc) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Massage", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["therapist"]}),
        )
        .await;
    let mut res = Vec::new();
    for s in [a, b] {
        let (status, r) = server
            .post(
                &format!("/v1/stores/{s}/resources"),
                &format!("r{s}"),
                json!({"name": "T", "kind": "therapist", "capacity": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        res.push(r["id"].as_u64().unwrap());
    }
    let (status, booking) = server
        .post(
            &format!("/v1/stores/{b}/appointments"),
            "bk",
            json!({"member_id": mb, "service_id": svc["id"], "start": "2026-02-02T10:00", "resource_ids": [res[1]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    let mut roles = Vec::new();
    for (i, body) in [
        json!({"name": "M", "role": "store_manager", "store_ids": [a]}),
        json!({"name": "C", "role": "cashier", "store_ids": [a]}),
        json!({"name": "P", "role": "pos", "store_ids": [a]}),
        json!({"name": "S", "role": "staff", "store_ids": [a], "resource_id": res[0]}),
    ]
    .into_iter()
    .enumerate()
    {
        let role = body["role"].as_str().unwrap().to_owned();
        let key = credential(&server, &format!("cred-{i}"), body).await;
        roles.push((role, client_with_key(&key)));
    }
    let before = server.balance(mb).await;

    let doc: Value = reqwest::get(server.url("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"].as_array().is_some_and(|s| s.is_empty())
                || path == "/v1/testing/panic"
            {
                continue;
            }
            let who = op["description"].as_str().unwrap();
            let capability = who
                .trim_start_matches("Who: ")
                .split(':')
                .next()
                .unwrap_or("");
            let admitted = |role: &str| match capability {
                "chain_admin" | "catalog" => false,
                "manage_store" => role == "store_manager",
                "counter" => matches!(role, "store_manager" | "cashier" | "pos"),
                "calendar" => matches!(role, "store_manager" | "staff"),
                // A member's own channel: no staff key is a member (roles.rs signs one in).
                "member" => false,
                _ => true,
            };
            let chain_data = who.starts_with("Who: authenticated");
            let mut store_bound = false;
            let concrete: Vec<String> = path
                .split('/')
                .map(|seg| {
                    let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                        return seg.to_owned();
                    };
                    let v = match name {
                        "store_id" => b,
                        "member_id" => mb,
                        "resource_id" => res[1],
                        "appointment_id" => booking["id"].as_u64().unwrap(),
                        "plan_id" | "order_id" => (b << 32) | 1,
                        // Not one of the keys under test: HQ's own call would revoke it.
                        "credential_id" => 999_999,
                        "id" if path.contains("/member/") => mb,
                        "id" if path.contains("/resource/") => res[1],
                        _ => 1,
                    };
                    store_bound |= matches!(
                        name,
                        "store_id"
                            | "member_id"
                            | "resource_id"
                            | "appointment_id"
                            | "plan_id"
                            | "order_id"
                    ) || (name == "id"
                        && (path.contains("/member/") || path.contains("/resource/")));
                    v.to_string()
                })
                .collect();
            let mut query = Vec::new();
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "query"
                    && (p["required"] == true
                        || p["name"] == "store_id"
                        || p["name"] == "home_store_id")
                {
                    let name = p["name"].as_str().unwrap();
                    store_bound |= name == "store_id" || name == "home_store_id";
                    query.push(format!("{name}={}", query_value(name, &p["schema"], b)));
                }
            }
            let url = server.url(&format!("{}?{}", concrete.join("/"), query.join("&")));
            let method = method.to_uppercase();
            let body = (method != "GET").then(|| json!({}));
            for (role, client) in &roles {
                let (status, answer) = call(client, &method, url.clone(), body.clone()).await;
                let what = format!("{role} {method} {url}: {status} {answer}");
                assert!(!status.is_server_error(), "{what}");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}");
                // The route table's row decides the role (issue 22: the code used to
                // disagree with it); the store check comes after.
                if !admitted(role) {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                } else if store_bound && !chain_data {
                    assert!(!status.is_success(), "crossed stores: {what}");
                }
                checked += 1;
            }
            let (status, answer) = call(&server.client, &method, url.clone(), body.clone()).await;
            assert!(
                (capability == "member" || status != StatusCode::FORBIDDEN)
                    && status != StatusCode::UNAUTHORIZED
                    && !status.is_server_error(),
                "hq {method} {url}: {status} {answer}"
            );
        }
    }
    assert!(checked > 300, "only {checked} calls");
    // HQ's own calls above had empty bodies: nothing moved B's member's money.
    assert_eq!(server.balance(mb).await, before);
}

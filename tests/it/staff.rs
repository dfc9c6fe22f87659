//! Employees (员工) over HTTP: hire, link to a resource and to an API key, credit sales,
//! recharges and services to them (the basis of commission), take returns back from the
//! seller, leave (keys revoked, history kept), across a SIGKILL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{client_with_key, send, Server};
use crate::scheduling::setup;

const T0: &str = "2026-01-01T00:00:00Z";
const DAY: &str = "from=2026-01-01&to=2026-01-01";

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employees_are_credited_with_sales_recharges_and_services_and_leave_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let s = setup(&server, "Asia/Shanghai", 2).await;
    let (store, r0) = (s.store, s.therapists[0]);
    let other_store = server.create_store("Elsewhere").await;

    let (status, wang) = server
        .post(
            "/v1/employees",
            "h-1",
            json!({"name": " 王芳 ", "phone": "13900000001", "store_ids": [store],
                   "job": "美容师", "resource_id": r0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wang}");
    assert_eq!(wang["name"], "王芳");
    assert_eq!(wang["status"], "active");
    assert_eq!(wang["resource_id"].as_u64(), Some(r0));
    let wang_id = wang["id"].as_u64().unwrap();
    // A replay is the same employee; one resource is one employee's.
    let (status, again) = server
        .post(
            "/v1/employees",
            "h-1",
            json!({"name": " 王芳 ", "phone": "13900000001", "store_ids": [store],
                   "job": "美容师", "resource_id": r0}),
        )
        .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &wang));
    let (status, body) = server
        .post(
            "/v1/employees",
            "h-2",
            json!({"name": "Li", "store_ids": [store], "resource_id": r0}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "resource_taken")
    );
    for (key, bad) in [
        ("h-3", json!({"name": "Li", "store_ids": []})),
        ("h-4", json!({"name": "", "store_ids": [store]})),
        (
            "h-5",
            json!({"name": "Li", "store_ids": [store], "job": "x".repeat(33)}),
        ),
        (
            "h-6",
            json!({"name": "Li", "store_ids": [other_store], "resource_id": r0}),
        ),
    ] {
        let (status, body) = server.post("/v1/employees", key, bad.clone()).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
    let (status, zhao) = server
        .post(
            "/v1/employees",
            "h-7",
            json!({"name": "Zhao", "store_ids": [other_store], "job": "cashier"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{zhao}");
    let zhao_id = zhao["id"].as_u64().unwrap();

    // A recharge and a count-card sale credited to Wang; Zhao can't be credited here.
    let m = s.member;
    let (status, e) = server
        .post(
            &format!("/v1/members/{m}/recharges"),
            "r-1",
            json!({"amount": 50_000, "store_id": store, "employee_id": wang_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    for (id, want) in [
        (
            zhao_id,
            (StatusCode::UNPROCESSABLE_ENTITY, "employee_not_in_store"),
        ),
        (999, (StatusCode::NOT_FOUND, "employee_not_found")),
    ] {
        let (status, body) = server
            .post(
                &format!("/v1/members/{m}/deductions"),
                &format!("d-{id}"),
                json!({"amount": 100, "store_id": store, "employee_id": id}),
            )
            .await;
        assert_eq!((status, code(&body)), want, "{body}");
    }
    assert_eq!(
        server.balance(m).await,
        50_000,
        "a refused write changes nothing"
    );

    // A walk-in sale by Wang; its return, naming nobody, comes off her figures.
    let (status, order) = server
        .post(
            "/v1/orders",
            "o-1",
            json!({"store_id": store, "employee_id": wang_id,
                   "lines": [{"sku": "SERUM", "unit_price": 8_000, "quantity": 2}],
                   "payment": {"tenders": [{"kind": "cash", "amount": 16_000}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_u64().unwrap();
    let (status, ret) = server
        .post(
            &format!("/v1/orders/{order_id}/returns"),
            "ret-1",
            json!({"lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert!(status.is_success(), "{ret}");

    // A service on her resource, completed: booked, completed and served minutes are hers.
    let (status, appt) = server
        .post(
            &format!("/v1/stores/{store}/appointments"),
            "a-1",
            json!({"member_id": m, "service_id": s.appt_service, "start": "2026-01-01T10:00",
                   "resource_ids": [r0]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    let appt_id = appt["id"].as_u64().unwrap();
    for action in ["check-in", "complete"] {
        let (status, b) = server
            .act(&format!("/v1/appointments/{appt_id}/{action}"), action)
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {b}");
    }

    let check = |stats: &Value| {
        let t = &stats["totals"];
        assert_eq!(t["recharges"], 1, "{stats}");
        assert_eq!(t["recharged"], 50_000);
        assert_eq!(
            t["revenue"], 8_000,
            "a sale of 16,000 less a return of 8,000"
        );
        assert_eq!(t["orders_paid"], 1);
        assert_eq!(t["bookings"], 1);
        assert_eq!(t["completed"], 1);
        assert_eq!(t["served_minutes"], 60);
    };
    let stats_path = format!("/v1/employees/{wang_id}/stats?{DAY}");
    let (status, stats) = server.get(&stats_path).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    check(&stats);
    assert_eq!(stats["days"][0]["store_id"].as_u64(), Some(store));
    let (status, team) = server
        .get(&format!("/v1/stores/{store}/staff-stats?{DAY}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert_eq!(team["employees"].as_array().unwrap().len(), 1, "{team}");
    assert_eq!(team["employees"][0]["totals"]["served_minutes"], 60);

    // The operation log names who was credited.
    let (status, log) = server
        .get(&format!("/v1/oplog?object=employee:{wang_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let credited = log["operations"].as_array().unwrap().len();
    assert!(credited >= 3, "{log}");

    // A cashier key for Wang works until she leaves.
    let (status, c) = server
        .post(
            "/v1/credentials",
            "c-1",
            json!({"name": "Wang's key", "role": "cashier", "store_ids": [store],
                   "employee_id": wang_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let key = c["key"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            "/v1/credentials",
            "c-2",
            json!({"name": "Wrong store", "role": "cashier", "store_ids": [other_store],
                   "employee_id": wang_id}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "employee_not_in_store")
    );
    let cashier = client_with_key(&key);
    let balance = format!("/v1/members/{m}/balance");
    let (status, _) = send(cashier.get(server.url(&balance))).await;
    assert_eq!(status, StatusCode::OK);

    // A restart keeps everything: the employee, her key, her figures.
    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    let (status, got) = server.get(&format!("/v1/employees/{wang_id}")).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["credential_ids"].as_array().unwrap().len(), 1);
    check(&server.get(&stats_path).await.1);

    let (status, gone) = server
        .act(&format!("/v1/employees/{wang_id}/leave"), "leave-1")
        .await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["status"], "left");
    assert!(gone["left_at"].is_string());
    let (status, _) = send(cashier.get(server.url(&balance))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "her key stopped working");
    let (status, body) = server
        .post(
            &format!("/v1/members/{m}/deductions"),
            "d-left",
            json!({"amount": 100, "store_id": store, "employee_id": wang_id}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "employee_left")
    );
    let (status, body) = server
        .patch(
            &format!("/v1/employees/{wang_id}"),
            "e-left",
            json!({"job": "x"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "employee_left")
    );
    // Her resource is free for whoever takes over; her history stays.
    let (status, body) = server
        .post(
            "/v1/employees",
            "h-8",
            json!({"name": "Sun", "store_ids": [store], "resource_id": r0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    check(&server.get(&stats_path).await.1);
    let (_, page) = server
        .get(&format!("/v1/employees?store_id={store}&status=left"))
        .await;
    let left: Vec<u64> = page["employees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(left, vec![wang_id]);
    let (status, _) = send(cashier.get(server.url(&balance))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, page) = server.get("/v1/employees?status=active").await;
    assert_eq!(page["employees"].as_array().unwrap().len(), 2, "{page}");

    // An employee transferred to another store keeps what they were credited with in the
    // old one's list, and appears in the new one's.
    let (status, li) = server
        .post(
            "/v1/employees",
            "h-li",
            json!({"name": "Li", "store_ids": [store]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{li}");
    let li = li["id"].as_u64().unwrap();
    let (status, body) = server
        .post(
            &format!("/v1/members/{m}/recharges"),
            "r-li",
            json!({"amount": 7_000, "store_id": store, "employee_id": li}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .patch(
            &format!("/v1/employees/{li}"),
            "e-li",
            json!({"store_ids": [other_store]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (at, recharged) in [(store, 7_000), (other_store, 0)] {
        let (_, team) = server
            .get(&format!("/v1/stores/{at}/staff-stats?{DAY}"))
            .await;
        let row = team["employees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["employee_id"].as_u64() == Some(li))
            .cloned()
            .unwrap_or_else(|| panic!("Li is not listed at {at}: {team}"));
        assert_eq!(row["totals"]["recharged"], recharged, "{row}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_manager_manages_only_their_stores_employees() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = server.create_store("A").await;
    let b = server.create_store("B").await;
    let (status, c) = server
        .post(
            "/v1/credentials",
            "mgr",
            json!({"name": "Manager A", "role": "store_manager", "store_ids": [a]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let mgr = client_with_key(c["key"].as_str().unwrap());
    let post = |key: &'static str, body: Value| {
        send(
            mgr.post(server.url("/v1/employees"))
                .header("Idempotency-Key", key)
                .json(&body),
        )
    };
    let (status, mine) = post("m-1", json!({"name": "Mine", "store_ids": [a]})).await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let (status, _) = post("m-2", json!({"name": "Theirs", "store_ids": [b]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, theirs) = server
        .post(
            "/v1/employees",
            "hq-1",
            json!({"name": "Theirs", "store_ids": [b]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(mgr.get(server.url(&format!("/v1/employees/{}", theirs["id"])))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = send(mgr.get(server.url("/v1/employees"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["employees"].as_array().unwrap().len(), 1, "{page}");
    // Moving an employee to a store they don't manage is refused.
    let (status, _) = send(
        mgr.patch(server.url(&format!("/v1/employees/{}", mine["id"])))
            .header("Idempotency-Key", "m-3")
            .json(&json!({"store_ids": [a, b]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, moved) = send(
        mgr.patch(server.url(&format!("/v1/employees/{}", mine["id"])))
            .header("Idempotency-Key", "m-4")
            .json(&json!({"job": "front desk", "phone": "13900000009"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["job"], "front desk");
}

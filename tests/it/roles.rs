//! Roles the chain defines (权限设置), and the full route × role matrix: every documented
//! operation, called by every built-in role and by roles HQ defined, with real request
//! bodies, so that each handler's own checks run, not only the route table's.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::access::credential;
use crate::harness::{client_with_key, send, Server};

const T0: &str = "2026-01-01T00:00:00Z";

async fn call(
    client: &reqwest::Client,
    server: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let url = server.url(path);
    let mut req = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        "PUT" => client.put(url),
        "PATCH" => client.patch(url),
        _ => client.post(url),
    }
    .header("Idempotency-Key", key);
    if let Some(b) = body {
        req = req.json(b);
    }
    send(req).await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_hq_defines_take_effect_at_once_and_go_only_when_unused() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let a = server.create_store("A").await;
    let m = server.register("13800000001", a).await;
    server.recharge(m, a, 10_000, "r0").await;

    let (status, role) = server
        .put(
            "/v1/roles/front_desk",
            "role-1",
            json!({"capabilities": ["counter", "read_store"], "description": "前台"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["capabilities"], json!(["counter", "read_store"]));
    for (name, body, want) in [
        (
            "hq_admin",
            json!({"capabilities": ["counter"]}),
            "role_built_in",
        ),
        ("x", json!({"capabilities": []}), "invalid_field"),
        ("x", json!({"capabilities": ["fly"]}), "invalid_field"),
        (
            "x",
            json!({"capabilities": ["calendar", "own_calendar"]}),
            "invalid_field",
        ),
    ] {
        let (status, body) = server
            .put(
                &format!("/v1/roles/{name}"),
                &format!("bad-{name}-{body}"),
                body,
            )
            .await;
        assert!(status.is_client_error(), "{body}");
        assert_eq!(code(&body), want, "{body}");
    }
    let desk_key = credential(
        &server,
        "c-1",
        json!({"name": "Desk", "role": "front_desk", "store_ids": [a]}),
    )
    .await;
    let desk = client_with_key(&desk_key);
    let deduct = |k: &'static str| {
        let (desk, server) = (&desk, &server);
        async move {
            call(
                desk,
                server,
                "POST",
                &format!("/v1/members/{m}/deductions"),
                k,
                Some(&json!({"amount": 100})),
            )
            .await
        }
    };
    assert_eq!(deduct("d-1").await.0, StatusCode::CREATED);
    let (status, _) = call(
        &desk,
        &server,
        "PUT",
        &format!("/v1/stores/{a}/hours"),
        "h-1",
        Some(&json!({"business_hours": {"mon": [["09:00", "18:00"]]}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no manage_store");

    // HQ takes counter away: the next request is refused; given back, it works again.
    let (status, _) = server
        .put(
            "/v1/roles/front_desk",
            "role-2",
            json!({"capabilities": ["read_store", "calendar"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deduct("d-2").await.0, StatusCode::FORBIDDEN);
    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    let desk = client_with_key(&desk_key);
    let (status, _) = call(
        &desk,
        &server,
        "POST",
        &format!("/v1/members/{m}/deductions"),
        "d-3",
        Some(&json!({"amount": 100})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the change survives a restart"
    );
    let (status, _) = server
        .put(
            "/v1/roles/front_desk",
            "role-3",
            json!({"capabilities": ["counter", "calendar"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &desk,
        &server,
        "POST",
        &format!("/v1/members/{m}/deductions"),
        "d-4",
        Some(&json!({"amount": 100})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // A role held by a key can't go; once the key is revoked it can.
    let (status, body) = server.delete("/v1/roles/front_desk", "rm-1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "role_in_use"),
        "{body}"
    );
    let (_, page) = server.get("/v1/credentials").await;
    let id = page["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "front_desk")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let (status, _) = server
        .delete(&format!("/v1/credentials/{id}"), "rv-1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, roles) = server.delete("/v1/roles/front_desk", "rm-2").await;
    assert_eq!(status, StatusCode::OK, "{roles}");
    let names: Vec<&str> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["hq_admin", "store_manager", "cashier", "pos", "staff"]
    );
    let (status, body) = server
        .post(
            "/v1/credentials",
            "c-2",
            json!({"name": "Desk 2", "role": "front_desk", "store_ids": [a]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Role changes are in the operation log.
    let (status, log) = server.get("/v1/oplog?store_id=0").await;
    assert_eq!(status, StatusCode::OK);
    let ops: Vec<&str> = log["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .filter(|o| o.contains("/v1/roles/"))
        .collect();
    assert_eq!(ops.len(), 4, "{log}");
    // A key of a chain-wide role with catalog edits the catalog, not the stores.
    let (status, _) = server
        .put(
            "/v1/roles/marketing",
            "role-4",
            json!({"capabilities": ["catalog"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mk = client_with_key(
        &credential(&server, "c-3", json!({"name": "Mkt", "role": "marketing"})).await,
    );
    let (status, body) = call(
        &mk,
        &server,
        "PUT",
        "/v1/gifts/1",
        "g-1",
        Some(&json!({"name": "Mug", "points": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &mk,
        &server,
        "POST",
        "/v1/stores",
        "s-1",
        Some(&json!({"name": "C", "time_zone": "Asia/Shanghai"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&mk, &server, "GET", &format!("/v1/members/{m}"), "x", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The same role on a key for one store may not touch chain-wide data.
    let mk_a = client_with_key(
        &credential(
            &server,
            "c-4",
            json!({"name": "Mkt A", "role": "marketing", "store_ids": [a]}),
        )
        .await,
    );
    let (status, _) = call(
        &mk_a,
        &server,
        "PUT",
        "/v1/gifts/2",
        "g-2",
        Some(&json!({"name": "Cup", "points": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The capability text of the member channel's routes, and the member tester's name.
const MEMBER: &str = "member";

/// What each test role may do: its capabilities, and whether its key is for the whole chain.
struct Tester {
    name: &'static str,
    caps: &'static [&'static str],
    chain_wide: bool,
    client: reqwest::Client,
}

impl Tester {
    fn admitted(&self, capability: &str) -> bool {
        let has = |c: &str| self.caps.contains(&c);
        // A member signed in reaches their own channel, and nothing of the staff's.
        if (capability == MEMBER) != (self.name == MEMBER) {
            return false;
        }
        match capability {
            "chain_admin" | "catalog" => has(capability) && self.chain_wide,
            "calendar" => has("calendar") || has("own_calendar"),
            "manage_store" | "counter" => has(capability),
            _ => true,
        }
    }
}

/// The objects of store `a` every route's path names, and the bodies that use them.
struct Fixture {
    a: u64,
    /// A second store, and the member moved between the two.
    b: u64,
    mover: u64,
    member: u64,
    spare_member: u64,
    spare_resource: u64,
    spare_service: u64,
    svc: u64,
    plan_svc: u64,
    own: u64,
    other: u64,
    /// The appointment each action acts on: the default, then by action.
    booking: u64,
    /// The member's own online booking, cancelled by the member.
    member_booking: u64,
    bookings: BTreeMap<&'static str, u64>,
    /// The member locked and unlocked, and the one whose card is replaced.
    locker: u64,
    replaced: u64,
    plan: u64,
    /// The plan cancelled whole (the other's occurrences are cancelled one by one).
    whole_plan: u64,
    order: u64,
    employee: u64,
    coupon: String,
    /// A transfer from store `b` to `a`, in transit.
    transfer: u64,
    /// Deductions of `member` that the refund-request bodies name: staff's, the member's.
    refund_entries: (u64, u64),
    /// A pending refund request for each decision: by the path's last segment, and
    /// `me-withdraw` for the member's own.
    refund_requests: BTreeMap<&'static str, u64>,
    /// Waitlist entries by action (`accept`: offered, `withdraw`: waiting), staff's and,
    /// prefixed `me-`, the member's own.
    waitlist: BTreeMap<&'static str, u64>,
}

impl Fixture {
    fn path(&self, method: &str, template: &str) -> String {
        // Deletions take objects nothing else needs, and that hold nothing.
        let delete = method == "DELETE";
        template
            .split('/')
            .map(|seg| {
                let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                    return seg.to_owned();
                };
                match name {
                    "store_id" => self.a.to_string(),
                    // Not the member tester: their session must outlive this.
                    "member_id" if template == "/v1/members/{member_id}/sessions" => {
                        self.locker.to_string()
                    }
                    "member_id" if delete => self.spare_member.to_string(),
                    "member_id" if template.ends_with("lock") => self.locker.to_string(),
                    "member_id" if template.ends_with("/replace-card") => self.replaced.to_string(),
                    "member_id" if template.ends_with("/home-store") => self.mover.to_string(),
                    "member_id" => self.member.to_string(),
                    "resource_id" if delete => self.spare_resource.to_string(),
                    "resource_id" => self.own.to_string(),
                    "service_id" if delete => self.spare_service.to_string(),
                    "appointment_id" if template.starts_with("/v1/me/") => {
                        self.member_booking.to_string()
                    }
                    "appointment_id" => {
                        let action = template.rsplit('/').next().unwrap_or_default();
                        self.bookings
                            .get(action)
                            .unwrap_or(&self.booking)
                            .to_string()
                    }
                    "plan_id" if template.ends_with("{plan_id}/cancel") => {
                        self.whole_plan.to_string()
                    }
                    "plan_id" => self.plan.to_string(),
                    "order_id" => self.order.to_string(),
                    "transfer_id" => self.transfer.to_string(),
                    "request_id" => {
                        let action = match template.rsplit('/').next() {
                            Some("withdraw") if template.starts_with("/v1/me/") => "me-withdraw",
                            Some(a @ ("approve" | "reject" | "withdraw")) => a,
                            _ => "approve",
                        };
                        self.refund_requests[action].to_string()
                    }
                    "entry_id" => {
                        let action = match template.rsplit('/').next() {
                            Some("accept") => "accept",
                            _ => "withdraw",
                        };
                        let mine = template.starts_with("/v1/me/");
                        self.waitlist[if mine {
                            ["me-", action].concat()
                        } else {
                            action.to_owned()
                        }
                        .as_str()]
                        .to_string()
                    }
                    "employee_id" => self.employee.to_string(),
                    "service_id" => self.svc.to_string(),
                    "credential_id" => "999999".to_owned(),
                    "role_name" => "temp".to_owned(),
                    "occurrence" if template.ends_with("/move") => "2".to_owned(),
                    "occurrence" => "1".to_owned(),
                    "id" if template.contains("/member/") => self.spare_member.to_string(),
                    "id" if template.contains("/resource/") => self.other.to_string(),
                    _ => "1".to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// A real body for `method path`, varied by `n` where it must be unique.
    fn body(&self, method: &str, path: &str, n: usize) -> Option<Value> {
        let a = self.a;
        let day = |d: usize| format!("2026-01-{:02}T{:02}:00", 10 + d % 15, 9 + d % 8);
        Some(match (method, path) {
            ("PATCH", "/v1/members/{member_id}") => {
                json!({"notes": format!("note {n}"), "add_tags": ["vip"]})
            }
            ("PATCH", "/v1/employees/{employee_id}") => json!({"job": format!("job {n}")}),
            ("POST", "/v1/members/{member_id}/home-store") => {
                // The first admitted caller moves the member; the rest find it moved (422).
                json!({"home_store_id": self.b})
            }
            ("POST", "/v1/appointments/{appointment_id}/move") => json!({"start": day(n)}),
            ("POST", "/v1/coupons/issue") => {
                json!({"template_id": 1, "member_ids": [self.member], "store_id": a})
            }
            ("POST", "/v1/coupons/redeem") => {
                json!({"code": self.coupon, "bill": 20_000, "store_id": a})
            }
            ("POST", "/v1/credentials") => {
                json!({"name": format!("K{n}"), "role": "cashier", "store_ids": [a]})
            }
            ("POST", "/v1/employees") => {
                json!({"name": format!("E{n}"), "store_ids": [a], "job": "coach"})
            }
            ("POST", "/v1/ledger/batch") => {
                json!({"operations": [{"idempotency_key": format!("b{n}"), "op": "deduct", "member_id": self.member, "amount": 1}]})
            }
            ("POST", "/v1/members") => {
                json!({"phone": format!("1370000{n:04}"), "name": format!("M{n}"), "home_store_id": a})
            }
            ("POST", "/v1/members/imports") => {
                json!({"home_store_id": a, "csv": format!("phone,name,balance\n1360000{n:04},I{n},100\n")})
            }
            ("POST", "/v1/members/level-changes") => {
                json!({"level_id": 1, "reason": "campaign", "filter": {"tag": "vip", "home_store_id": a}})
            }
            ("POST", "/v1/members/{member_id}/count-cards") => {
                json!({"service_id": self.svc, "sessions": 5, "price": 100, "paid_with": "cash", "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/count-cards/{card_id}/consume") => {
                json!({"sessions": 1, "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/count-cards/{card_id}/sessions") => {
                json!({"sessions": 1, "reason": "goodwill", "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/coupons") => json!({"template_id": 1, "store_id": a}),
            ("POST", "/v1/members/{member_id}/deductions") => json!({"amount": 10, "store_id": a}),
            ("POST", "/v1/members/{member_id}/recharges") => {
                json!({"amount": 1_000, "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/refunds") => json!({"deduction_seq": 2}),
            ("POST", "/v1/members/{member_id}/refund-requests") => {
                json!({"kind": "deduction", "entry_seq": self.refund_entries.0, "reason": "double charge"})
            }
            ("POST", "/v1/me/refund-requests") => {
                json!({"kind": "deduction", "entry_seq": self.refund_entries.1, "amount": 10, "reason": "not served"})
            }
            ("POST", "/v1/refund-requests/{request_id}/approve") => {
                json!({"amount": 100, "note": "goodwill"})
            }
            ("POST", "/v1/bulk-messages") => {
                json!({"text": "Hi {name}, {balance} left", "filter": {"home_store_id": a}, "limit": 3})
            }
            ("POST", "/v1/refund-requests/{request_id}/reject") => {
                json!({"reason": "served in full"})
            }
            ("POST", "/v1/members/{member_id}/recharge-refunds") => {
                json!({"recharge_seq": 1, "amount": 1})
            }
            ("POST", "/v1/members/{member_id}/follow-ups") => {
                json!({"channel": "phone", "note": format!("call {n}"), "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/gift-exchanges") => {
                json!({"gift_id": 1, "quantity": 1, "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/level") => {
                json!({"level_id": (n % 2), "reason": "by hand", "store_id": a})
            }
            ("POST", "/v1/members/{member_id}/points") => {
                json!({"delta": 5, "reason": "welcome", "store_id": a})
            }
            (
                "POST",
                "/v1/members/{member_id}/lock"
                | "/v1/members/{member_id}/unlock"
                | "/v1/members/{member_id}/replace-card",
            ) => json!({"store_id": a}),
            // Priced by the price list: typed prices need price_override (below).
            ("POST", "/v1/orders") => {
                json!({"store_id": a, "lines": [{"item_id": 1, "quantity": 1}], "payment": {"tenders": [{"kind": "cash", "amount": 100}]}})
            }
            ("POST", "/v1/orders/held") => {
                json!({"store_id": a, "lines": [{"barcode": "6900000000001", "quantity": 1}]})
            }
            ("POST", "/v1/members/{member_id}/count-cards/{card_id}/refund") => {
                json!({"tender": "cash", "store_id": a})
            }
            ("PUT", "/v1/items/{item_id}") => {
                json!({"name": "Serum", "kind": "product", "category": "care", "barcode": "6900000000001", "price": 100, "negative_stock_ok": true})
            }
            ("PUT", "/v1/stores/{store_id}/items/{item_id}") => {
                json!({"price": 100, "available": true})
            }
            ("POST", "/v1/stores/{store_id}/transfers") => {
                json!({"to_store_id": self.b, "lines": [{"item_id": 1, "quantity": 1}]})
            }
            ("POST", "/v1/stores/{store_id}/stock-moves") => {
                json!({"kind": "receipt", "lines": [{"item_id": 1, "quantity": 1}]})
            }
            ("POST", "/v1/orders/{order_id}/returns") => {
                json!({"lines": [{"line": 0, "quantity": 1}]})
            }
            ("POST", "/v1/orders/{order_id}/exchanges") => {
                json!({"return_lines": [{"line": 0, "quantity": 1}], "lines": [{"item_id": 1, "quantity": 1}],
                       "payment": {"tenders": [{"kind": "cash", "amount": 100}]}})
            }
            ("POST", "/v1/plans/{plan_id}/occurrences/{occurrence}/move") => {
                json!({"start": day(n + 3)})
            }
            ("POST", "/v1/services") => {
                json!({"name": format!("S{n}"), "duration_minutes": 30, "booking_mode": "appointment", "resource_kinds": ["therapist"]})
            }
            ("PUT", "/v1/services/{service_id}") => {
                json!({"name": "Massage", "duration_minutes": 60, "booking_mode": "appointment", "resource_kinds": ["therapist"]})
            }
            ("POST", "/v1/stores") => {
                json!({"name": format!("Store {n}"), "time_zone": "Asia/Shanghai"})
            }
            ("POST", "/v1/stores/{store_id}/appointments") => {
                json!({"member_id": self.member, "service_id": self.svc, "start": day(n + 7), "resource_ids": [self.own]})
            }
            ("POST", "/v1/stores/{store_id}/closings") => json!({}),
            ("POST", "/v1/stores/{store_id}/waitlist") => {
                json!({"member_id": self.member, "service_id": self.svc, "start": "2026-01-20T10:00", "resource_ids": [self.own]})
            }
            ("POST", "/v1/me/waitlist") => {
                json!({"store_id": a, "service_id": self.svc, "start": "2026-01-21T10:00", "resource_ids": [self.own]})
            }
            ("POST", "/v1/me/appointments") => {
                let start = format!("2026-01-{:02}T{:02}:00", 25 + n % 5, 9 + n % 8);
                json!({"store_id": a, "service_id": self.svc, "start": start, "resource_ids": [self.own]})
            }
            ("PUT", "/v1/stores/{store_id}/online-booking") => {
                json!({"enabled": true, "lead_minutes": 30, "horizon_days": 60, "cancel_window_minutes": 120})
            }
            ("POST", "/v1/stores/{store_id}/gifts/{gift_id}/stock") => json!({"delta": 1}),
            ("POST", "/v1/stores/{store_id}/plans") => {
                json!({"member_id": self.member, "service_id": self.plan_svc, "resource_ids": [self.other], "repeat": {"custom": {"starts": [day(n + 11)]}}})
            }
            ("POST", "/v1/stores/{store_id}/resources") => {
                json!({"name": format!("R{n}"), "kind": "therapist", "capacity": 1})
            }
            ("PUT", "/v1/resources/{resource_id}") => {
                json!({"name": "Therapist 0", "kind": "therapist", "capacity": 1})
            }
            ("PUT", "/v1/coupon-templates/{template_id}") => {
                json!({"name": "10 off", "amount_off": 1_000, "min_spend": 5_000, "valid_from": "2026-01-01", "valid_until": "2026-12-31"})
            }
            ("PUT", "/v1/gifts/{gift_id}") => json!({"name": "Mug", "points": 10}),
            ("PUT", "/v1/levels/{level_id}") => {
                json!({"name": "Gold", "price_rate_bp": 9000, "points_per_yuan": 1})
            }
            ("PUT", "/v1/member-fields/{field_id}") => {
                json!({"name": "Skin", "kind": {"choice": {"choices": ["dry", "oily"]}}, "required": false})
            }
            ("PUT", p) if p.starts_with("/v1/notification-templates/") => {
                json!({"text": "hello {member_id}"})
            }
            ("PUT", "/v1/notification-webhook") => json!({"url": null}),
            ("PUT", "/v1/roles/{role_name}") => json!({"capabilities": ["read_store"]}),
            ("PUT", "/v1/settings") => json!({"service_plans_enabled": true}),
            ("PUT", "/v1/stores/{store_id}/reminders") => {
                json!({"lead_minutes": 120, "same_day_at": "09:00"})
            }
            ("PUT", "/v1/stores/{store_id}/closing-mode") => json!({"manual": true}),
            ("PUT", "/v1/stores/{store_id}/hours") => {
                json!({"business_hours": {"mon": [["00:00", "23:59"]], "tue": [["00:00", "23:59"]], "wed": [["00:00", "23:59"]], "thu": [["00:00", "23:59"]], "fri": [["00:00", "23:59"]], "sat": [["00:00", "23:59"]], "sun": [["00:00", "23:59"]]}})
            }
            ("PUT", "/v1/stores/{store_id}/levels/{level_id}") => {
                json!({"price_rate_bp": 8500, "points_per_yuan": 2})
            }
            _ => return None,
        })
    }
}

fn query(name: &str, schema: &Value) -> Option<String> {
    Some(match (name, schema["format"].as_str()) {
        ("from", Some("date")) => "2026-01-01".to_owned(),
        ("to", Some("date")) => "2026-01-31".to_owned(),
        ("from", _) => "2026-01-01T00:00:00Z".to_owned(),
        ("to", _) => "2026-02-01T00:00:00Z".to_owned(),
        ("phone", _) => "13800000099".to_owned(),
        // The fixture's bulk-message run, HQ's.
        ("key", _) => "fx-bm".to_owned(),
        _ => return None,
    })
}

/// Runs last: they end what other calls need (the day, the member, the employee).
fn destructive(method: &str, path: &str) -> bool {
    method == "DELETE"
        || path.ends_with("/closings") && method == "POST"
        || path.ends_with("/cancel")
        || path.ends_with("/leave")
        || path.ends_with("/closing-mode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_by_every_role_with_real_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_opts(dir.path(), Some(T0), &["--webhook-private-targets"]);
    let s = crate::scheduling::setup(&server, "Asia/Shanghai", 2).await;
    let a = s.store;
    let (own, other) = (s.therapists[0], s.therapists[1]);
    // The member signs in through the outbox's webhook, and books online.
    let mut hook = crate::member_channel::hook(&server).await;
    let (_, member_token) =
        crate::member_channel::sign_in(&server, &mut hook, "13800000099", "fx-in").await;
    let member_client = client_with_key(&member_token);
    let (status, b) = send(
        member_client
            .post(server.url("/v1/me/appointments"))
            .header("Idempotency-Key", "fx-mb")
            .json(&json!({"store_id": a, "service_id": s.appt_service,
                          "start": "2026-01-08T11:00", "resource_ids": [own]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let member_booking = b["id"].as_u64().unwrap();
    let member = s.member;
    server.recharge(member, a, 1_000_000, "fx-r").await;
    server.deduct(member, a, 100, "fx-d").await;
    let spare_member = server.register("13800000077", a).await;
    let (_, spare) = server
        .post(
            &format!("/v1/stores/{a}/resources"),
            "fx-sr",
            json!({"name": "Spare", "kind": "room", "capacity": 1}),
        )
        .await;
    let spare_resource = spare["id"].as_u64().unwrap();
    let (_, spare) = server
        .post(
            "/v1/services",
            "fx-ss",
            json!({"name": "Spare", "duration_minutes": 30, "booking_mode": "appointment", "resource_kinds": ["room"]}),
        )
        .await;
    let spare_service = spare["id"].as_u64().unwrap();
    let put = |path: &'static str, key: &'static str, body: Value| {
        let server = &server;
        async move {
            let (status, b) = server.put(path, key, body).await;
            assert!(status.is_success(), "{path}: {b}");
            b
        }
    };
    put(
        "/v1/levels/1",
        "fx-l",
        json!({"name": "Gold", "price_rate_bp": 9000}),
    )
    .await;
    put(
        "/v1/coupon-templates/1",
        "fx-t",
        json!({"name": "10 off", "amount_off": 1_000, "min_spend": 5_000,
               "valid_from": "2026-01-01", "valid_until": "2026-12-31"}),
    )
    .await;
    put("/v1/gifts/1", "fx-g", json!({"name": "Mug", "points": 10})).await;
    let (_, stock) = server
        .post(
            &format!("/v1/stores/{a}/gifts/1/stock"),
            "fx-gs",
            json!({"delta": 100}),
        )
        .await;
    assert_eq!(stock["stock"], 100, "{stock}");
    let post = |path: String, key: &'static str, body: Value| {
        let server = &server;
        async move {
            let (status, b) = server.post(&path, key, body).await;
            assert!(status.is_success(), "{path}: {b}");
            b
        }
    };
    post(
        format!("/v1/members/{member}/count-cards"),
        "fx-cc",
        json!({"service_id": s.appt_service, "sessions": 50, "price": 0, "paid_with": "cash", "store_id": a}),
    )
    .await;
    post(
        format!("/v1/members/{member}/points"),
        "fx-p",
        json!({"delta": 10_000, "reason": "fixture", "store_id": a}),
    )
    .await;
    let issued = post(
        format!("/v1/members/{member}/coupons"),
        "fx-cp",
        json!({"template_id": 1, "store_id": a}),
    )
    .await;
    let coupon = issued["coupon_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let booking = post(
        format!("/v1/stores/{a}/appointments"),
        "fx-b",
        json!({"member_id": member, "service_id": s.appt_service, "start": "2026-01-02T10:00", "resource_ids": [own]}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let review = crate::scheduling::review_service(&server).await["id"]
        .as_u64()
        .unwrap();
    let mut bookings = BTreeMap::new();
    for (i, (action, service)) in [
        ("approve", review),
        ("reject", review),
        ("no-show", s.appt_service),
        ("cancel", s.appt_service),
        ("move", s.appt_service),
    ]
    .into_iter()
    .enumerate()
    {
        let b = post(
            format!("/v1/stores/{a}/appointments"),
            ["fx-b1", "fx-b2", "fx-b3", "fx-b4", "fx-b5"][i],
            json!({"member_id": member, "service_id": service,
                   "start": format!("2026-01-0{}T14:00", 2 + i), "resource_ids": [own]}),
        )
        .await;
        bookings.insert(action, b["id"].as_u64().unwrap());
    }
    let locker = server.register("13800000078", a).await;
    let mover = server.register("13800000076", a).await;
    let b = post(
        "/v1/stores".to_owned(),
        "fx-sb",
        json!({"name": "Store B", "time_zone": "Asia/Shanghai"}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let replaced = server.register("13800000079", a).await;
    let plan = post(
        format!("/v1/stores/{a}/plans"),
        "fx-pl",
        json!({"member_id": member, "service_id": s.plan_service, "resource_ids": [other],
               "repeat": {"custom": {"starts": ["2026-01-03T10:00", "2026-01-04T10:00"]}}}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let whole_plan = post(
        format!("/v1/stores/{a}/plans"),
        "fx-pl2",
        json!({"member_id": member, "service_id": s.plan_service, "resource_ids": [other],
               "repeat": {"custom": {"starts": ["2026-01-05T10:00"]}}}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    put(
        "/v1/items/1",
        "fx-i",
        json!({"name": "Serum", "kind": "product", "category": "care", "barcode": "6900000000001",
               "price": 100, "negative_stock_ok": true}),
    )
    .await;
    let order = post(
        "/v1/orders".to_owned(),
        "fx-o",
        json!({"store_id": a, "lines": [{"sku": "SERUM", "unit_price": 1_000, "quantity": 50}],
               "payment": {"tenders": [{"kind": "cash", "amount": 50_000}]}}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let employee = post(
        "/v1/employees".to_owned(),
        "fx-e",
        json!({"name": "Wang", "store_ids": [a]}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let transfer = post(
        format!("/v1/stores/{b}/transfers"),
        "fx-tr",
        json!({"to_store_id": a, "lines": [{"item_id": 1, "quantity": 1}]}),
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let (status, run) = server
        .post(
            "/v1/bulk-messages",
            "fx-bm",
            json!({"text": "Hi {name}", "filter": {"home_store_id": a}, "limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    // Deductions to ask refunds of, and a pending request for each decision.
    let mut deductions = Vec::new();
    for key in ["fx-rd1", "fx-rd2", "fx-rd3", "fx-rd4", "fx-rd5", "fx-rd6"] {
        let (status, e) = server.deduct(member, a, 500, key).await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        deductions.push(e["entry_seq"].as_u64().unwrap());
    }
    let mut refund_requests = BTreeMap::new();
    for (i, action) in ["approve", "reject", "withdraw", "me-withdraw"]
        .into_iter()
        .enumerate()
    {
        let body =
            json!({"kind": "deduction", "entry_seq": deductions[2 + i], "reason": "fixture"});
        let (status, r) = if action == "me-withdraw" {
            send(
                member_client
                    .post(server.url("/v1/me/refund-requests"))
                    .header("Idempotency-Key", "fx-rr-me")
                    .json(&body),
            )
            .await
        } else {
            server
                .post(
                    &format!("/v1/members/{member}/refund-requests"),
                    &format!("fx-rr-{action}"),
                    body,
                )
                .await
        };
        assert_eq!(status, StatusCode::CREATED, "{r}");
        refund_requests.insert(action, r["id"].as_u64().unwrap());
    }
    // Waitlists: full slots nobody else touches, a waiting entry and an offered one for
    // staff to act on, and the same of the member's own.
    for day in 20..=25 {
        let (status, b) = server
            .post(
                &format!("/v1/stores/{a}/appointments"),
                &format!("fx-wl-full-{day}"),
                json!({"member_id": replaced, "service_id": s.appt_service,
                       "start": format!("2026-01-{day}T10:00"), "resource_ids": [own]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        bookings.insert(
            ["wl-20", "wl-21", "wl-22", "wl-23", "wl-24", "wl-25"][day - 20],
            b["id"].as_u64().unwrap(),
        );
    }
    let mut waitlist = BTreeMap::new();
    for (action, day, mine) in [
        ("withdraw", 20, false),
        ("accept", 22, false),
        ("me-withdraw", 23, true),
        ("me-accept", 24, true),
    ] {
        let (status, e) = if mine {
            send(
                member_client
                    .post(server.url("/v1/me/waitlist"))
                    .header("Idempotency-Key", format!("fx-wl-{action}"))
                    .json(&json!({"store_id": a, "service_id": s.appt_service,
                                  "start": format!("2026-01-{day}T10:00"), "resource_ids": [own]})),
            )
            .await
        } else {
            server
                .post(
                    &format!("/v1/stores/{a}/waitlist"),
                    &format!("fx-wl-{action}"),
                    json!({"member_id": locker, "service_id": s.appt_service,
                           "start": format!("2026-01-{day}T10:00"), "resource_ids": [own]}),
                )
                .await
        };
        assert_eq!(status, StatusCode::CREATED, "{e}");
        waitlist.insert(action, e["id"].as_u64().unwrap());
    }
    // Cancelled slots go to those waiting: offers to accept.
    for (day, key) in [("wl-22", "fx-wl-c22"), ("wl-24", "fx-wl-c24")] {
        let (status, b) = server
            .act(&format!("/v1/appointments/{}/cancel", bookings[day]), key)
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    for action in ["accept", "me-accept"] {
        let (_, e) = server
            .get(&format!("/v1/waitlist/{}", waitlist[action]))
            .await;
        assert_eq!(e["state"], "offered", "{e}");
    }
    let fx = Fixture {
        waitlist,
        refund_entries: (deductions[0], deductions[1]),
        refund_requests,
        a,
        b,
        mover,
        member,
        spare_member,
        spare_resource,
        spare_service,
        svc: s.appt_service,
        plan_svc: s.plan_service,
        own,
        other,
        booking,
        member_booking,
        bookings,
        locker,
        replaced,
        plan,
        whole_plan,
        order,
        employee,
        coupon,
        transfer,
    };

    for (name, caps) in [
        ("front_desk", &["counter", "calendar"][..]),
        ("marketing", &["catalog"][..]),
        ("coach", &["own_calendar"][..]),
        (
            "regional",
            &["manage_store", "counter", "calendar", "read_store"][..],
        ),
        ("hq_clerk", &["chain_admin", "catalog", "read_store"][..]),
    ] {
        let (status, b) = server
            .put(
                &format!("/v1/roles/{name}"),
                &format!("fx-role-{name}"),
                json!({ "capabilities": caps }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let mut testers = Vec::new();
    for (i, (role, caps, chain_wide, body)) in [
        (
            "store_manager",
            &["manage_store", "counter", "calendar", "read_store"][..],
            false,
            json!({"role": "store_manager", "store_ids": [a]}),
        ),
        (
            "cashier",
            &["counter", "read_store"][..],
            false,
            json!({"role": "cashier", "store_ids": [a]}),
        ),
        (
            "pos",
            &["counter", "read_store"][..],
            false,
            json!({"role": "pos", "store_ids": [a]}),
        ),
        (
            "staff",
            &["own_calendar", "read_store"][..],
            false,
            json!({"role": "staff", "store_ids": [a], "resource_id": own}),
        ),
        (
            "front_desk",
            &["counter", "calendar"][..],
            false,
            json!({"role": "front_desk", "store_ids": [a]}),
        ),
        (
            "marketing",
            &["catalog"][..],
            true,
            json!({"role": "marketing"}),
        ),
        (
            "coach",
            &["own_calendar"][..],
            false,
            json!({"role": "coach", "store_ids": [a], "resource_id": own}),
        ),
        (
            "regional",
            &["manage_store", "counter", "calendar", "read_store"][..],
            true,
            json!({"role": "regional"}),
        ),
        (
            "hq_clerk",
            &["chain_admin", "catalog", "read_store"][..],
            true,
            json!({"role": "hq_clerk"}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = body;
        body["name"] = json!(format!("key {i}"));
        let key = credential(&server, &format!("fx-c{i}"), body).await;
        testers.push(Tester {
            name: role,
            caps,
            chain_wide,
            client: client_with_key(&key),
        });
    }

    testers.push(Tester {
        name: MEMBER,
        caps: &[],
        chain_wide: false,
        client: member_client,
    });

    let doc: Value = reqwest::get(server.url("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            if public || path.starts_with("/v1/testing/") || path == "/v1/admin/backups" {
                continue;
            }
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    // Signing out ends the member tester's session: last of all.
    ops.sort_by_key(|(m, p, _)| {
        let sign_out = p == "/v1/me/session";
        (sign_out, destructive(m, p), m != "GET", p.clone())
    });

    let mut n = 0;
    let mut succeeded: BTreeMap<String, (bool, String)> = BTreeMap::new();
    for (method, template, op) in &ops {
        let capability = op["description"]
            .as_str()
            .unwrap()
            .trim_start_matches("Who: ")
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        let mut path = fx.path(method, template);
        let qs: Vec<String> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| {
                let name = p["name"].as_str().unwrap();
                match name {
                    "store_id" | "home_store_id" => return Some(format!("{name}={a}")),
                    "service_id" => return Some(format!("service_id={}", fx.svc)),
                    _ => {}
                }
                let v = query(name, &p["schema"])?;
                Some(format!("{name}={v}"))
            })
            .collect();
        if !qs.is_empty() {
            path = format!("{path}?{}", qs.join("&"));
        }
        let has_body = op.get("requestBody").is_some();
        let label = format!("{method} {template}");
        let ok = succeeded.entry(label.clone()).or_default();
        for t in &testers {
            n += 1;
            let body = if has_body {
                let b = fx.body(method, template, n);
                assert!(b.is_some(), "no real body for {label}");
                b
            } else {
                None
            };
            let (status, answer) = call(
                &t.client,
                &server,
                method,
                &path,
                &format!("m-{n}"),
                body.as_ref(),
            )
            .await;
            let what = format!("{} {method} {path}: {status} {answer}", t.name);
            assert!(!status.is_server_error(), "{what}");
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}");
            if t.admitted(&capability) {
                assert_ne!(
                    status,
                    StatusCode::FORBIDDEN,
                    "admitted ({capability}): {what}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "not admitted ({capability}): {what}"
                );
            }
            ok.0 |= status.is_success();
            ok.1 = what;
        }
        n += 1;
        let body = has_body.then(|| fx.body(method, template, n)).flatten();
        let (status, answer) = call(
            &server.client,
            &server,
            method,
            &path,
            &format!("m-{n}"),
            body.as_ref(),
        )
        .await;
        // HQ's key is staff: the member channel is not its.
        let forbidden_ok = capability == MEMBER;
        assert!(
            (forbidden_ok || status != StatusCode::FORBIDDEN) && !status.is_server_error(),
            "hq {method} {path}: {status} {answer}"
        );
        ok.0 |= status.is_success();
        ok.1 = format!("hq {method} {path}: {status} {answer}");
    }
    // Real bodies: every operation succeeded for someone, but those whose object this
    // fixture does not hold (ids of the bin, a key nobody has).
    let never: Vec<&String> = succeeded
        .iter()
        .filter(|(op, (ok, _))| {
            !ok && !op.contains("/recycle-bin/") && !op.contains("{credential_id}")
        })
        .map(|(_, (_, last))| last)
        .collect();
    assert!(never.is_empty(), "never succeeded: {never:#?}");
    assert!(n > 900, "only {n} calls");
}

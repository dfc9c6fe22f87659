//! A chain moving from another system: members imported from CSV with opening balances
//! (out of equity, so the ledger still sums to zero), points, count cards and levels; row
//! by row, idempotent per file across a SIGKILL; exported in the same columns and imported
//! into another chain's server unchanged.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

const T0: &str = "2026-03-02T02:00:00Z";

fn statuses(report: &Value) -> Vec<(u64, String, String)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
                r["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn chain(server: &Server) -> (u64, u64) {
    let home = server.create_store("Home").await;
    let (status, svc) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Facial", "duration_minutes": 60, "booking_mode": "appointment",
                   "resource_kinds": ["therapist"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    let (status, l) = server
        .put(
            "/v1/levels/1",
            "lvl",
            json!({"name": "Gold", "price_rate_bp": 9000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{l}");
    (home, svc["id"].as_u64().unwrap())
}

/// What the file gave Wang and Zhang, and the ledger with it.
async fn check(server: &Server, wang: u64, zhang: u64) {
    let (_, m) = server.get(&format!("/v1/members/{wang}/balance")).await;
    assert_eq!(m["balance"], 50_000, "{m}");
    assert_eq!(m["bonus"], 5_000, "{m}");
    let (_, a) = server.get(&format!("/v1/members/{wang}/activity")).await;
    assert!(a.to_string().contains("opening balance"), "{a}");
    let (_, tb) = server.get("/v1/ledger/trial-balance").await;
    assert_eq!(tb["sum"], 0, "{tb}");
    assert_eq!(tb["store_equity"], -(50_000 + 888), "{tb}");
    assert_eq!(server.balance(zhang).await, 888);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_come_in_with_their_holdings_once_and_go_out_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some(T0));
    let (home, svc) = chain(&server).await;
    let existing = server.register("13900000004", home).await;

    let csv = format!(
        "phone,name,balance,bonus,points,level_id,count_cards\n\
         13900000001,王芳,50000,5000,120,1,{svc}:10;{svc}:2:2026-12-31\n\
         13900000002,Li Lei,,,,,\n\
         13900000003,\"Zhang, San\",888,0,0,,\n\
         12,Bad Phone,1,0,0,,\n\
         13900000004,Already Here,100,0,0,,\n\
         13900000005,No Such Card,0,0,0,,999:3\n"
    );
    let body = json!({"home_store_id": home, "csv": csv});
    let (status, report) = server
        .post("/v1/members/imports", "file-1", body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let want = vec![
        (1, "imported".to_owned(), String::new()),
        (2, "imported".to_owned(), String::new()),
        (3, "imported".to_owned(), String::new()),
        (4, "refused".to_owned(), "invalid_field".to_owned()),
        (5, "refused".to_owned(), "phone_taken".to_owned()),
        (6, "refused".to_owned(), "service_not_found".to_owned()),
    ];
    assert_eq!(statuses(&report), want);
    assert_eq!(
        (report["imported"].as_u64(), report["refused"].as_u64()),
        (Some(3), Some(3))
    );
    let wang = report["rows"][0]["member_id"].as_u64().unwrap();
    let zhang = report["rows"][2]["member_id"].as_u64().unwrap();

    check(&server, wang, zhang).await;
    let entries = server.all_entries(wang).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["kind"], "opening");
    // Bringing balances over is not a day's business: no recharge in the figures.
    let (_, stats) = server
        .get(&format!(
            "/v1/stats?store_id={home}&from=2026-03-02&to=2026-03-02"
        ))
        .await;
    assert_eq!(stats["totals"]["recharged"], 0, "{stats}");
    assert_eq!(stats["totals"]["count_cards_sold"], 0, "{stats}");

    // The same file again, even after a SIGKILL: the same report, nothing twice.
    server.kill();
    server = Server::start_with_clock(dir.path(), Some(T0));
    let (status, again) = server
        .post("/v1/members/imports", "file-1", body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(statuses(&again), want);
    assert_eq!(again["rows"][0]["member_id"].as_u64(), Some(wang));
    check(&server, wang, zhang).await;
    // A changed row under the file's key is refused, not applied.
    let changed = csv.replace("Li Lei", "Li Lei Changed");
    let (_, r) = server
        .post(
            "/v1/members/imports",
            "file-1",
            json!({"home_store_id": home, "csv": changed}),
        )
        .await;
    assert_eq!(r["rows"][1]["code"], "idempotency_key_reused", "{r}");
    // A second part of a file continues the row numbers.
    let (_, part) = server
        .post(
            "/v1/members/imports",
            "file-1",
            json!({"home_store_id": home, "first_row": 7,
                   "csv": "name,phone,balance\nWu,13900000007,300\n"}),
        )
        .await;
    assert_eq!(
        statuses(&part),
        vec![(7, "imported".to_owned(), String::new())]
    );

    // Imported value spends like any other: principal first.
    let (status, d) = server.deduct(wang, home, 46_000, "spend").await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let (_, m) = server.get(&format!("/v1/members/{wang}/balance")).await;
    assert_eq!(
        (m["balance"].as_i64(), m["bonus"].as_i64()),
        (Some(4_000), Some(4_000))
    );

    // Bad files are refused whole.
    for (key, bad) in [
        (
            "bad-1",
            json!({"home_store_id": home, "csv": "phone,email\n1,2\n"}),
        ),
        ("bad-2", json!({"home_store_id": home, "csv": "name\nA\n"})),
        (
            "bad-3",
            json!({"home_store_id": 999, "csv": "phone,name\n"}),
        ),
        (
            "bad-4",
            json!({"home_store_id": home, "first_row": 0, "csv": "phone,name\n"}),
        ),
    ] {
        let (status, body) = server.post("/v1/members/imports", key, bad).await;
        assert!(status.is_client_error(), "{key}: {body}");
    }

    // Export, page by page, and import into another chain's server: the same holdings.
    let mut exported = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get(&format!(
                "/v1/members/export?home_store_id={home}&limit=2{after}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let text = page["csv"].as_str().unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("phone,name,balance,bonus,points,level_id,count_cards,gender,birthday,notes,tags")
        );
        exported.extend(lines.map(str::to_owned));
        match page["next_after"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    assert_eq!(exported.len(), 5, "{exported:?}"); // four imported and one registered
    assert!(exported.contains(&format!(
        "13900000001,王芳,4000,4000,120,1,{svc}:10;{svc}:2:2026-12-31,,,,"
    )));
    assert!(exported.contains(&"13900000003,\"Zhang, San\",888,0,0,0,,,,,".to_owned()));
    let _ = existing;

    let other_dir = tempfile::tempdir().unwrap();
    let other = Server::start_with_clock(other_dir.path(), Some(T0));
    let (other_home, _) = chain(&other).await;
    let file = format!(
        "phone,name,balance,bonus,points,level_id,count_cards,gender,birthday,notes,tags\n{}\n",
        exported.join("\n")
    );
    let (status, r) = other
        .post(
            "/v1/members/imports",
            "move",
            json!({"home_store_id": other_home, "csv": file}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 5, "{r}");
    let (_, tb) = other.get("/v1/ledger/trial-balance").await;
    assert_eq!(tb["sum"], 0);
    assert_eq!(tb["member_balances"], 4_000 + 888 + 300, "{tb}");
}

/// Profile columns (gender, birthday, notes, tags, member fields) come in with the member,
/// are checked with the row, and go out again in the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_columns_come_in_and_go_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some(T0));
    let (home, _) = chain(&server).await;
    let (status, body) = server
        .put(
            "/v1/member-fields/3",
            "f-3",
            json!({"name": "Height", "kind": {"number": {"min": 50, "max": 250}}, "required": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let csv = "phone,name,gender,birthday,notes,tags,field_3\n\
               13900000011,Chen,女,1990-05-01,likes tea,vip;new,165\n\
               13900000012,Bad Height,,,,,400\n\
               13900000013,Bad Day,,1990-13-01,,,\n\
               13900000014,Plain,,,,,\n";
    let (status, report) = server
        .post(
            "/v1/members/imports",
            "file-p",
            json!({"home_store_id": home, "csv": csv}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows: Vec<(&str, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("imported", ""),
            ("refused", "invalid_field"),
            ("refused", "invalid_field"),
            ("imported", "")
        ],
        "{report}"
    );
    let chen = report["rows"][0]["member_id"].as_u64().unwrap();
    let (_, m) = server.get(&format!("/v1/members/{chen}")).await;
    assert_eq!(m["gender"], "female", "{m}");
    assert_eq!(m["birthday"], "1990-05-01");
    assert_eq!(m["notes"], "likes tea");
    assert_eq!(m["tags"], json!(["new", "vip"]));
    assert_eq!(m["fields"]["3"], 165);
    // Refused rows registered nobody.
    let (status, _) = server.get("/v1/members?phone=13900000012").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same file again changes nothing and answers the same.
    let (_, again) = server
        .post(
            "/v1/members/imports",
            "file-p",
            json!({"home_store_id": home, "csv": csv}),
        )
        .await;
    assert_eq!(again["rows"], report["rows"]);

    let (status, page) = server
        .get(&format!("/v1/members/export?home_store_id={home}&limit=50"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = page["csv"].as_str().unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("phone,name,balance,bonus,points,level_id,count_cards,gender,birthday,notes,tags,field_3")
    );
    assert!(
        text.contains("13900000011,Chen,0,0,0,0,,female,1990-05-01,likes tea,new;vip,165"),
        "{text}"
    );
}

//! The recycle bin: deleted members, services, resources, gifts and coupon templates leave
//! every listing, come back on restore within the retention, and are purged after it.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_objects_leave_listings_restore_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-01T02:00:00Z"));
    let store = server.create_store("Minhang").await;
    let empty = server.register("13500000001", store).await;
    let rich = server.register("13500000002", store).await;
    server.recharge(rich, store, 100, "r-1").await;

    // A member with value left can't be deleted; an empty one goes to the bin.
    let (status, body) = server
        .delete(&format!("/v1/members/{rich}"), "del-rich")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("member_not_empty"))
    );
    let (status, body) = server
        .delete(&format!("/v1/members/{empty}"), "del-m")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "in_recycle_bin");
    assert_eq!(
        server.get(&format!("/v1/members/{empty}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/v1/members?phone=13500000001").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.deduct(empty, store, 1, "d-1").await.0,
        StatusCode::NOT_FOUND
    );

    // A gift, a coupon template, a service and a resource.
    let (status, _) = server
        .put("/v1/gifts/7", "g-7", json!({"name": "Mug", "points": 100}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let template = json!({"name": "10 off", "amount_off": 1000, "min_spend": 5000, "store_ids": [],
        "valid_from": "2026-01-01", "valid_until": "2026-12-31"});
    let (status, body) = server.put("/v1/coupon-templates/3", "ct-3", template).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, svc) = server
        .post(
            "/v1/services",
            "svc",
            json!({"name": "Facial", "duration_minutes": 45, "booking_mode": "appointment", "resource_kinds": ["room"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    let svc = svc["id"].as_u64().unwrap();
    let (status, res) = server
        .post(
            &format!("/v1/stores/{store}/resources"),
            "res",
            json!({"name": "Room 1", "kind": "room", "capacity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    let res = res["id"].as_u64().unwrap();
    for (path, key) in [
        ("/v1/gifts/7".to_owned(), "del-g"),
        ("/v1/coupon-templates/3".to_owned(), "del-ct"),
        (format!("/v1/services/{svc}"), "del-s"),
        (format!("/v1/resources/{res}"), "del-r"),
    ] {
        let (status, body) = server.delete(&path, key).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, catalog) = server.get("/v1/catalog").await;
    assert!(catalog["gifts"].as_array().unwrap().is_empty(), "{catalog}");
    assert!(catalog["coupon_templates"].as_array().unwrap().is_empty());
    let (_, services) = server.get("/v1/services").await;
    assert!(!services.to_string().contains("Facial"), "{services}");
    let (_, resources) = server.get(&format!("/v1/stores/{store}/resources")).await;
    assert!(!resources.to_string().contains("Room 1"), "{resources}");

    let (status, bin) = server.get("/v1/recycle-bin").await;
    assert_eq!(status, StatusCode::OK, "{bin}");
    let kinds: Vec<_> = bin["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["member", "service", "resource", "gift", "coupon_template"],
        "{bin}"
    );
    let (_, store_bin) = server
        .get(&format!("/v1/recycle-bin?store_id={store}"))
        .await;
    assert_eq!(
        store_bin["items"].as_array().unwrap().len(),
        2,
        "members and resources only"
    );

    // Restore within the retention: everything is back as it was.
    server.set_clock("2026-03-20T02:00:00Z").await;
    for (path, key) in [
        (format!("/v1/recycle-bin/member/{empty}/restore"), "re-m"),
        ("/v1/recycle-bin/gift/7/restore".to_owned(), "re-g"),
        (format!("/v1/recycle-bin/resource/{res}/restore"), "re-r"),
    ] {
        let (status, body) = server.act(&path, key).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("restored")),
            "{path}: {body}"
        );
    }
    let (status, again) = server
        .act(&format!("/v1/recycle-bin/member/{empty}/restore"), "re-m")
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (StatusCode::OK, Some("restored")),
        "a retry answers the same"
    );
    let (status, _) = server
        .act(&format!("/v1/recycle-bin/member/{empty}/restore"), "re-m2")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer in the bin");
    assert_eq!(
        server.get("/v1/members?phone=13500000001").await.0,
        StatusCode::OK
    );
    assert_eq!(
        server.recharge(empty, store, 50, "r-2").await.0,
        StatusCode::CREATED
    );
    let (_, catalog) = server.get("/v1/catalog").await;
    assert_eq!(catalog["gifts"][0]["name"], "Mug");
    let (_, resources) = server.get(&format!("/v1/stores/{store}/resources")).await;
    assert!(resources.to_string().contains("Room 1"), "{resources}");

    // After the retention (30 days in config/default.toml) the rest is purged.
    server.set_clock("2026-04-01T02:00:00Z").await;
    let (_, bin) = server.get("/v1/recycle-bin").await;
    assert!(bin["items"].as_array().unwrap().is_empty(), "{bin}");
    let (status, _) = server
        .act(&format!("/v1/recycle-bin/service/{svc}/restore"), "re-s")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get(&format!("/v1/services/{svc}")).await.0,
        StatusCode::NOT_FOUND
    );
    server.assert_ledger_sums_to_zero().await;
}

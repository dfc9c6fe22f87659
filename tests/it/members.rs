//! The front desk's member screens: profile edits (phone unique across the chain, tags,
//! birthday) that survive restarts and the recycle bin, and search by phone prefix, name
//! prefix, tag, home store and balance, paged.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

fn ids(page: &Value) -> Vec<u64> {
    page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["member"]["id"].as_u64().unwrap())
        .collect()
}

/// Every member a search finds, following `next_after` to the end.
async fn search_all(server: &Server, query: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get(&format!("/v1/members/search?{query}&limit=2{after}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        out.extend(ids(&page));
        match page["next_after"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edits_keep_phones_unique_and_survive_restarts_and_the_bin() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let home = server.create_store("Home").await;
    let a = server.register("13800000001", home).await;
    let b = server.register("13800000002", home).await;
    let path = format!("/v1/members/{a}");

    let (status, m) = server
        .patch(
            &path,
            "e-1",
            json!({"name": "Wang Fang", "gender": "female", "birthday": "1990-05-04",
                   "notes": "  prefers mornings ", "tags": ["vip", "yoga"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["name"], "Wang Fang");
    assert_eq!(m["gender"], "female");
    assert_eq!(m["birthday"], "1990-05-04");
    assert_eq!(m["notes"], "prefers mornings");
    assert_eq!(m["tags"], json!(["vip", "yoga"]));
    assert_eq!(m["phone"], "13800000001");

    // A replay answers the same; the key with another body is refused.
    let (status, again) = server
        .patch(
            &path,
            "e-1",
            json!({"name": "Wang Fang", "gender": "female", "birthday": "1990-05-04",
                   "notes": "  prefers mornings ", "tags": ["vip", "yoga"]}),
        )
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &m));
    let (status, body) = server.patch(&path, "e-1", json!({"name": "X"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Another member's phone is refused; nothing changes.
    let (status, body) = server
        .patch(
            &path,
            "e-2",
            json!({"phone": "138-0000-0002", "name": "Nope"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("phone_taken")),
        "{body}"
    );
    let (_, now) = server.get(&path).await;
    assert_eq!(now["name"], "Wang Fang");

    // Rules the schema can't say: a birthday tomorrow, an empty edit, too many tags.
    for (key, body) in [
        ("e-3", json!({"birthday": "2026-03-03"})),
        ("e-4", json!({})),
        (
            "e-5",
            json!({"add_tags": (0..20).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        ),
    ] {
        let (status, answer) = server.patch(&path, key, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {answer}");
        assert_eq!(answer["code"], "invalid_field", "{answer}");
    }

    // A new phone: the old one is free for a newcomer, the new one found by lookup.
    let (status, m) = server
        .patch(
            &path,
            "e-6",
            json!({"phone": "13900000001", "gender": null, "remove_tags": ["yoga"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["gender"], Value::Null);
    assert_eq!(m["tags"], json!(["vip"]));
    let (_, found) = server.get("/v1/members?phone=13900000001").await;
    assert_eq!(found["id"].as_u64(), Some(a));
    let (status, _) = server.get("/v1/members?phone=13800000001").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, c) = server
        .post(
            "/v1/members",
            "newcomer",
            json!({"phone": "13800000001", "name": "New", "home_store_id": home}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let c = c["id"].as_u64().unwrap();
    assert_ne!(c, a);

    // Two desks racing for one phone: exactly one wins.
    let race = |member: u64, key: &'static str| {
        let s = &server;
        async move {
            s.patch(
                &format!("/v1/members/{member}"),
                key,
                json!({"phone": "13700000000"}),
            )
            .await
            .0
        }
    };
    let (x, y) = tokio::join!(race(b, "r-b"), race(c, "r-c"));
    let mut got = [x, y];
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::CONFLICT]);

    // All of it survives a SIGKILL.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let (_, m) = server.get(&path).await;
    assert_eq!(m["phone"], "13900000001");
    assert_eq!(m["tags"], json!(["vip"]));
    assert_eq!(m["birthday"], "1990-05-04");
    assert_eq!(search_all(&server, "tag=vip").await, [a]);

    // The bin takes the profile and the indexes with it, and restore brings them back.
    let (status, body) = server.delete(&path, "bin-a").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server.patch(&path, "e-7", json!({"notes": "late"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(search_all(&server, "tag=vip").await.is_empty());
    assert!(search_all(&server, "name_prefix=wang").await.is_empty());
    let (status, body) = server
        .act(&format!("/v1/recycle-bin/member/{a}/restore"), "re-a")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An edit right after the restore starts from the restored profile.
    let (status, m) = server
        .patch(&path, "e-8", json!({"add_tags": ["back"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["tags"], json!(["back", "vip"]));
    assert_eq!(m["birthday"], "1990-05-04");
    assert_eq!(search_all(&server, "tag=vip").await, [a]);
    assert_eq!(search_all(&server, "name_prefix=WANG").await, [a]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_through_indexes_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let north = server.create_store("North").await;
    let south_store = server.create_store("South").await;
    let south = (
        south_store,
        server.register("13600000000", south_store).await,
    );
    let mut members = Vec::new();
    for (i, (phone, name, home)) in [
        ("13800000011", "Zhang San", north),
        ("13800000012", "zhang si", north),
        ("13800000021", "Li Lei", north),
        ("13900000011", "Zhao Liu", south.0),
        ("13800000013", "张伟", south.0),
    ]
    .into_iter()
    .enumerate()
    {
        let id = server.register(phone, home).await;
        let (status, body) = server
            .patch(
                &format!("/v1/members/{id}"),
                &format!("n-{i}"),
                json!({"name": name, "tags": if i % 2 == 0 { json!(["vip"]) } else { json!([]) }}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        members.push(id);
    }
    server.recharge(members[1], north, 5_000, "r-1").await;
    server.recharge(members[2], north, 20_000, "r-2").await;

    assert_eq!(
        search_all(&server, "phone_prefix=138000000").await,
        [members[0], members[1], members[4], members[2]]
    );
    assert_eq!(
        search_all(&server, "name_prefix=zhang").await,
        [members[0], members[1]]
    );
    assert_eq!(search_all(&server, "name_prefix=张").await, [members[4]]);
    assert_eq!(
        search_all(&server, "tag=vip").await,
        [members[0], members[2], members[4]]
    );
    assert_eq!(
        search_all(&server, &format!("tag=vip&home_store_id={north}")).await,
        [members[0], members[2]]
    );
    assert_eq!(
        search_all(&server, &format!("home_store_id={}", south.0)).await,
        [south.1, members[3], members[4]]
    );
    assert_eq!(
        search_all(&server, "balance_min=1&balance_max=10000").await,
        [members[1]]
    );
    assert_eq!(
        search_all(&server, "phone_prefix=1380&name_prefix=l").await,
        [members[2]]
    );
    assert_eq!(
        search_all(&server, "registered_before=2026-03-02T00:00:00Z").await,
        Vec::<u64>::new()
    );
    assert_eq!(search_all(&server, "level=0").await.len(), 6);
    // By the number printed on the card: the current card only.
    let m1 = members[1];
    assert_eq!(
        search_all(&server, &format!("card_number={m1}-1")).await,
        [m1]
    );
    assert_eq!(
        search_all(&server, &format!("card_number={m1}-2")).await,
        Vec::<u64>::new()
    );
    assert_eq!(
        search_all(
            &server,
            &format!("card_number={m1}-1&home_store_id={}", south.0)
        )
        .await,
        Vec::<u64>::new()
    );

    // Bad queries are 4xx and say why.
    for q in [
        "phone_prefix=12a",
        "after=zz",
        "after=",
        "after=abc",
        "limit=0",
        "name_prefix=%20",
        "tag=%20",
    ] {
        let (status, body) = server.get(&format!("/v1/members/search?{q}")).await;
        assert!(status.is_client_error(), "{q}: {status} {body}");
    }

    // A cashier of North sees North's members only.
    let (status, cred) = server
        .post(
            "/v1/credentials",
            "cred-1",
            json!({"name": "C", "role": "cashier", "store_ids": [north]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cred}");
    let cashier = crate::harness::client_with_key(cred["key"].as_str().unwrap());
    let (status, page) =
        crate::harness::send(cashier.get(server.url("/v1/members/search?tag=vip"))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), [members[0], members[2]]);
    let (status, _) = crate::harness::send(
        cashier.get(server.url(&format!("/v1/members/search?home_store_id={}", south.0))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn due_members(page: &Value) -> Vec<u64> {
    page["due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["member"]["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_put_members_on_their_stores_due_list_until_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let home = server.create_store("Home").await;
    let other = server.create_store("Other").await;
    let a = server.register("13800000101", home).await;
    let b = server.register("13800000102", home).await;
    let c = server.register("13800000103", other).await;
    let follow = |member: u64, key: &'static str, body: Value| {
        let s = &server;
        async move {
            s.post(&format!("/v1/members/{member}/follow-ups"), key, body)
                .await
        }
    };

    let (status, f) = follow(
        a,
        "f-1",
        json!({"channel": "phone", "note": " asked about yoga ", "next_on": "2026-03-05"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    assert_eq!(
        (
            f["seq"].as_u64(),
            f["note"].as_str(),
            f["store_id"].as_u64()
        ),
        (Some(1), Some("asked about yoga"), Some(home))
    );
    let (status, again) = follow(
        a,
        "f-1",
        json!({"channel": "phone", "note": " asked about yoga ", "next_on": "2026-03-05"}),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &f));
    let (status, _) = follow(
        b,
        "f-2",
        json!({"channel": "wechat", "note": "new card", "next_on": "2026-03-03"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = follow(
        c,
        "f-3",
        json!({"channel": "visit", "note": "other store", "next_on": "2026-03-03"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Refused: an empty note, a next date in the past or over a year ahead, an unknown member.
    for (key, member, body) in [
        ("bad-1", a, json!({"channel": "sms", "note": "  "})),
        (
            "bad-2",
            a,
            json!({"channel": "sms", "note": "x", "next_on": "2026-03-01"}),
        ),
        (
            "bad-3",
            a,
            json!({"channel": "sms", "note": "x", "next_on": "2027-03-05"}),
        ),
    ] {
        let (status, body) = follow(member, key, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {body}");
    }
    let (status, _) = follow(a + 1000, "bad-4", json!({"channel": "sms", "note": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let due = |on: &'static str| {
        let s = &server;
        async move {
            let (status, page) = s
                .get(&format!("/v1/stores/{home}/follow-ups/due?on={on}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            due_members(&page)
        }
    };
    assert_eq!(due("2026-03-02").await, Vec::<u64>::new());
    assert_eq!(due("2026-03-03").await, [b]);
    assert_eq!(due("2026-03-06").await, [b, a]);

    // The next follow-up of b moves it; one with no date takes a off the list.
    let (status, _) = follow(
        b,
        "f-4",
        json!({"channel": "phone", "note": "came in", "next_on": "2026-04-01"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = follow(a, "f-5", json!({"channel": "phone", "note": "joined yoga"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(due("2026-03-06").await, Vec::<u64>::new());
    assert_eq!(due("2026-04-01").await, [b]);

    // Paging, newest first, and a SIGKILL.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let (_, page) = server
        .get(&format!("/v1/members/{a}/follow-ups?limit=1"))
        .await;
    assert_eq!(page["follow_ups"][0]["note"], "joined yoga");
    let before = page["next_before"].as_u64().unwrap();
    let (_, page) = server
        .get(&format!(
            "/v1/members/{a}/follow-ups?limit=1&before={before}"
        ))
        .await;
    assert_eq!(page["follow_ups"][0]["note"], "asked about yoga");
    let (_, page) = server
        .get(&format!(
            "/v1/stores/{home}/follow-ups/due?on=2026-04-01&limit=1"
        ))
        .await;
    assert_eq!(due_members(&page), [b]);
    let (_, page) = server
        .get(&format!("/v1/stores/{other}/follow-ups/due?on=2026-03-03"))
        .await;
    assert_eq!(due_members(&page), [c]);

    // A cashier of Other sees neither Home's list nor its members' follow-ups.
    let (status, cred) = server
        .post(
            "/v1/credentials",
            "cred-o",
            json!({"name": "C", "role": "cashier", "store_ids": [other]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cred}");
    let cashier = crate::harness::client_with_key(cred["key"].as_str().unwrap());
    for path in [
        format!("/v1/stores/{home}/follow-ups/due"),
        format!("/v1/members/{a}/follow-ups"),
    ] {
        let (status, _) = crate::harness::send(cashier.get(server.url(&path))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_change_for_a_filtered_set_goes_page_by_page_once_per_member() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let home = server.create_store("Home").await;
    let (status, b) = server
        .put(
            "/v1/levels/1",
            "lv-1",
            json!({"name": "Gold", "price_rate_bp": 9000, "points_per_yuan": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let mut vips = Vec::new();
    for i in 0..5u64 {
        let id = server.register(&format!("1380000020{i}"), home).await;
        let tags = if i == 2 { json!([]) } else { json!(["vip"]) };
        let (status, _) = server
            .patch(
                &format!("/v1/members/{id}"),
                &format!("t-{i}"),
                json!({"tags": tags}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        if i != 2 {
            vips.push(id);
        }
    }
    let change = |key: &'static str, after: Option<String>| {
        let s = &server;
        async move {
            let mut body = json!({"level_id": 1, "reason": "spring promotion",
                                  "filter": {"tag": "vip"}, "limit": 3});
            if let Some(a) = after {
                body["after"] = json!(a);
            }
            let (status, page) = s.post("/v1/members/level-changes", key, body).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    let first = change("spring", None).await;
    let again = change("spring", None).await;
    assert_eq!(first, again, "a replay changes nobody twice");
    let done: Vec<u64> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], 201, "{r}");
            r["member_id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(done, vips[..3]);
    let next = first["next_after"].as_str().map(str::to_owned);
    assert!(next.is_some());
    let rest = change("spring", next).await;
    let done: Vec<u64> = rest["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["member_id"].as_u64().unwrap())
        .collect();
    assert_eq!(done, vips[3..]);
    assert_eq!(rest["next_after"], Value::Null);

    // Everyone tagged is Gold, the untagged member is not, across a SIGKILL.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    assert_eq!(search_all(&server, "level=1").await, vips);
    // Already Gold: each member's refusal is reported, nothing else changes.
    let (status, page) = server
        .post(
            "/v1/members/level-changes",
            "again",
            json!({"level_id": 1, "reason": "twice", "filter": {"tag": "vip"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["code"] == "level_unchanged"));
    // A key too long to carry member suffixes, and a filter value refused by a rule.
    let (status, _) = server
        .post(
            "/v1/members/level-changes",
            &"k".repeat(101),
            json!({"level_id": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .post(
            "/v1/members/level-changes",
            "bad-filter",
            json!({"level_id": 1, "reason": "x", "filter": {"tag": " "}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_fields_hq_defines_are_checked_on_every_edit() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let home = server.create_store("Home").await;
    let before = server.register("13800000301", home).await;
    for (id, body) in [
        (
            1,
            json!({"name": "Skin type", "kind": {"choice": {"choices": ["dry", "oily"]}},
                   "default": "dry"}),
        ),
        (
            2,
            json!({"name": "Height cm", "kind": {"number": {"min": 50, "max": 250}}}),
        ),
        (
            3,
            json!({"name": "Referrer", "kind": {"text": {"max_length": 10}}}),
        ),
    ] {
        let (status, b) = server
            .put(
                &format!("/v1/member-fields/{id}"),
                &format!("mf-{id}"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    // Definitions that make no sense are refused.
    for (key, body) in [
        (
            "mf-bad-1",
            json!({"name": "X", "kind": {"number": {"min": 5, "max": 1}}}),
        ),
        (
            "mf-bad-2",
            json!({"name": "X", "kind": {"choice": {"choices": []}}}),
        ),
        (
            "mf-bad-3",
            json!({"name": "X", "kind": "date", "default": "tomorrow"}),
        ),
    ] {
        let (status, b) = server.put("/v1/member-fields/4", key, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {b}");
    }
    let (_, catalog) = server.get("/v1/catalog").await;
    assert_eq!(catalog["member_fields"].as_array().unwrap().len(), 3);

    // A new member starts with the defaults; an older one gets them at its next edit.
    let after = server.register("13800000302", home).await;
    let (_, m) = server.get(&format!("/v1/members/{after}")).await;
    assert_eq!(m["fields"], json!({"1": "dry"}));
    let path = format!("/v1/members/{before}");
    let (status, m) = server
        .patch(&path, "v-1", json!({"fields": {"2": 172, "3": "Ms Li"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["fields"], json!({"1": "dry", "2": 172, "3": "Ms Li"}));

    // Values the fields refuse, and fields nobody defined.
    for (key, fields) in [
        ("v-2", json!({"1": "normal"})),
        ("v-3", json!({"2": 300})),
        ("v-4", json!({"2": "tall"})),
        ("v-5", json!({"3": "a very long referrer"})),
        ("v-6", json!({"9": 1})),
        ("v-7", json!({"x": 1})),
    ] {
        let (status, b) = server.patch(&path, key, json!({"fields": fields})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {b}");
    }

    // A field made required: an edit must leave it with a value.
    let (status, _) = server
        .put(
            "/v1/member-fields/2",
            "mf-2b",
            json!({"name": "Height cm", "kind": {"number": {"min": 50, "max": 250}},
                   "required": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = server
        .patch(&path, "v-8", json!({"fields": {"2": null}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (status, b) = server
        .patch(
            &format!("/v1/members/{after}"),
            "v-9",
            json!({"notes": "hi"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["message"].as_str().unwrap().contains("Height cm"), "{b}");

    // Definitions and values survive a SIGKILL.
    server.kill();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T01:00:00Z"));
    let (_, m) = server.get(&path).await;
    assert_eq!(m["fields"], json!({"1": "dry", "2": 172, "3": "Ms Li"}));
    let (_, catalog) = server.get("/v1/catalog").await;
    assert_eq!(catalog["member_fields"][1]["required"], true);

    // Searchable by field value: text and number alike; the two go together.
    let id = m["id"].as_u64().unwrap();
    for (query, want) in [
        ("field_id=1&field_value=dry", vec![id]),
        ("field_id=2&field_value=172", vec![id]),
        ("field_id=2&field_value=171", vec![]),
        ("field_id=3&field_value=Ms%20Li", vec![id]),
    ] {
        let (status, page) = server.get(&format!("/v1/members/search?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        let hits: Vec<u64> = page["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["member"]["id"].as_u64().unwrap())
            .filter(|h| *h == id)
            .collect();
        assert_eq!(hits, want, "{query}");
    }
    let (status, _) = server.get("/v1/members/search?field_id=1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The last visit is kept from counter work (not from adjustments made for the member), is
/// searchable both ways, and orders a list as balance and registration do, page by page,
/// across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_last_visit_and_sorted_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_clock(dir.path(), Some("2026-03-01T02:00:00Z"));
    let a = server.create_store("Sorted").await;
    let mut m = Vec::new();
    for i in 0..4 {
        server
            .set_clock(&format!("2026-03-01T0{}:00:00Z", 2 + i))
            .await;
        m.push(server.register(&format!("1380000100{i}"), a).await);
    }
    let (t1, t2) = ("2026-03-02T02:00:00Z", "2026-03-05T02:00:00Z");
    server.set_clock(t1).await;
    server.recharge(m[0], a, 5_000, "v-1").await;
    server.recharge(m[3], a, 3_000, "v-2").await;
    server.set_clock(t2).await;
    server.recharge(m[1], a, 1_000, "v-3").await;
    server.deduct(m[0], a, 100, "v-4").await;
    // Points given by hand are not a visit.
    let (status, body) = server
        .post(
            &format!("/v1/members/{}/points", m[2]),
            "v-5",
            json!({"delta": 10, "reason": "welcome", "store_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    for round in 0..2 {
        let q = |s: &str| format!("home_store_id={a}&{s}");
        assert_eq!(
            search_all(&server, &q("sort=-balance")).await,
            vec![m[0], m[3], m[1], m[2]],
            "round {round}"
        );
        assert_eq!(
            search_all(&server, &q("sort=balance")).await,
            vec![m[2], m[1], m[3], m[0]]
        );
        // Equal visits keep id order; never visited comes first ascending, last descending.
        assert_eq!(
            search_all(&server, &q("sort=-last_visit")).await,
            vec![m[0], m[1], m[3], m[2]]
        );
        assert_eq!(
            search_all(&server, &q("sort=last_visit")).await,
            vec![m[2], m[3], m[0], m[1]]
        );
        assert_eq!(
            search_all(&server, &q("sort=-registered")).await,
            vec![m[3], m[2], m[1], m[0]]
        );
        // Lapsed since t2 (or never came), and came since t2.
        let mut lapsed = search_all(&server, &q(&format!("visited_before={t2}"))).await;
        lapsed.sort_unstable();
        assert_eq!(lapsed, vec![m[2], m[3]]);
        assert_eq!(
            search_all(&server, &q(&format!("visited_from={t2}&sort=registered"))).await,
            vec![m[0], m[1]]
        );
        let (_, page) = server
            .get("/v1/members/search?phone_prefix=13800001000")
            .await;
        assert_eq!(page["members"][0]["last_visit"], t2, "{page}");
        let (_, balance) = server.get(&format!("/v1/members/{}/balance", m[3])).await;
        assert_eq!(balance["last_visit"], t1, "{balance}");
        server.kill();
        server = Server::start_with_clock(dir.path(), Some(t2));
    }
    for bad in ["sort=name", "sort=-balance&after=00ff"] {
        let (status, body) = server
            .get(&format!("/v1/members/search?home_store_id={a}&{bad}"))
            .await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
}

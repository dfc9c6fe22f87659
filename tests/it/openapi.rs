//! The OpenAPI document and the router agree: every documented operation is served, and
//! every route the router declares is documented.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::Server;

/// A path pattern: literal words, `{}` for a numeric id, `*` for a word the handler picks
/// an action by.
type Pattern = (String, Vec<String>);

/// The routes `src/api/mod.rs` declares: each `warp::path!(...)` followed by its method.
fn router_routes() -> BTreeSet<Pattern> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs"))
        .expect("read router source");
    let mut out = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(at) = rest.find("warp::path!(") {
        rest = &rest[at + "warp::path!(".len()..];
        let close = rest.find(')').expect("path! closes");
        let segs: Vec<String> = rest[..close]
            .split('/')
            .map(|s| {
                let s = s.trim();
                match s {
                    "u64" | "u32" | "u16" => "{}".to_owned(),
                    "String" => "*".to_owned(),
                    lit => lit.trim_matches('"').to_owned(),
                }
            })
            .collect();
        let after: String = rest[close + 1..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let method = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .find(|m| after.starts_with(&format!(".and(warp::{m}())")))
            .unwrap_or_else(|| panic!("route {segs:?}: its method must follow the path"));
        out.insert((method.to_uppercase(), segs));
    }
    out
}

fn doc_routes(doc: &Value) -> BTreeSet<Pattern> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let segs = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    // The one path parameter that is a name, not an id: `String` in the router.
                    if s == "{role_name}" {
                        "*".to_owned()
                    } else if s.starts_with('{') {
                        "{}".to_owned()
                    } else {
                        s.to_owned()
                    }
                })
                .collect();
            out.insert((method.to_uppercase(), segs));
        }
    }
    out
}

fn matches(router: &Pattern, doc: &Pattern) -> bool {
    router.0 == doc.0
        && router.1.len() == doc.1.len()
        && router
            .1
            .iter()
            .zip(&doc.1)
            .all(|(r, d)| r == d || (r == "*" && d != "{}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_and_router_agree() {
    // A production server does not document the routes that exist only for tests.
    let dir = tempfile::tempdir().unwrap();
    let production = Server::start(dir.path());
    let doc: Value = reqwest::get(production.url("/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let testing: Vec<&String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with("/v1/testing"))
        .collect();
    assert!(testing.is_empty(), "testing routes documented: {testing:?}");
    drop(production);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T00:00:00Z"));
    let res = reqwest::get(server.url("/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let router = router_routes();
    let documented = doc_routes(&doc);
    assert!(
        router.len() > 50,
        "the scan found only {} routes",
        router.len()
    );
    for d in &documented {
        assert!(
            router.iter().any(|r| matches(r, d)),
            "documented but not routed: {} /{}",
            d.0,
            d.1.join("/")
        );
    }
    for r in &router {
        assert!(
            documented.iter().any(|d| matches(r, d)),
            "routed but not documented: {} /{}",
            r.0,
            r.1.join("/")
        );
    }

    // Every documented operation is served: without a key it is refused with 401 (the route
    // matched and checked the caller), never 404 or 405; public ones answer.
    let anonymous = reqwest::Client::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = anonymous
                .request(method.clone(), server.url(&concrete))
                .send()
                .await
                .unwrap();
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            if public && method != Method::GET {
                // Served without a key: refused for its missing body, never unrouted.
                let s = res.status();
                assert!(
                    s.is_client_error()
                        && s != StatusCode::NOT_FOUND
                        && s != StatusCode::METHOD_NOT_ALLOWED
                        && s != StatusCode::UNAUTHORIZED,
                    "{method} {concrete}: {s}"
                );
                continue;
            }
            let want = if public {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(res.status(), want, "{method} {concrete}");
        }
    }

    // Write bodies are described by the types the handlers parse.
    let deduct = &doc["paths"]["/v1/members/{member_id}/deductions"]["post"];
    let body_ref = deduct["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    let name = body_ref.rsplit('/').next().unwrap();
    let schema = &doc["components"]["schemas"][name];
    assert!(schema["properties"]["amount"].is_object(), "{schema}");
    assert!(deduct["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "Idempotency-Key" && p["required"] == true));
}

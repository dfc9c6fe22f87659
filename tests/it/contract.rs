//! The contract: every request the suite sends through `harness::send` (and the `Server`
//! helpers) and every answer it gets is checked against the OpenAPI document, so the
//! document cannot drift from the server. The checks:
//! - the answer's status is one the operation lists, and its JSON body is valid by the
//!   schema listed for that status (`jsonschema`, not hand-written checks);
//! - a request the document refuses (body, `Idempotency-Key`) is never accepted;
//! - a request the document accepts is never refused as malformed (`invalid_body`,
//!   `malformed_json`, `invalid_idempotency_key`).
//!
//! Requests to paths or methods the document does not list are not checked: they test the
//! router's 404 and 405.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use serde_json::Value;

static DOC: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(chainstore::api::openapi::json(true)).expect("the document is JSON")
});

/// Validators by JSON pointer into the document, compiled once per test process.
static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Default::default);

fn validator(pointer: &str) -> Arc<jsonschema::Validator> {
    // A test that panicked holding the lock left a whole cache behind.
    let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pointer.to_owned())
        .or_insert_with(|| {
            // The whole document is the root resource, so `#/components/...` resolves.
            let mut root = DOC.clone();
            root["$ref"] = Value::String(format!("#{pointer}"));
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}"));
            Arc::new(v)
        })
        .clone()
}

/// A path template as a JSON-pointer token inside a URI fragment.
fn escape(token: &str) -> String {
    token
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// The documented path and operation a request matches: literal segments equal, `{param}`
/// any segment; the one with more literal segments wins.
fn operation(method: &str, path: &str) -> Option<(&'static str, &'static Value)> {
    let doc: &'static Value = &DOC;
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut best: Option<(&'static str, &'static Value, usize)> = None;
    for (template, item) in doc["paths"].as_object()? {
        let Some(op) = item.get(method) else { continue };
        let want: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        if want.len() != segs.len() {
            continue;
        }
        let mut literals = 0;
        let ok = want.iter().zip(&segs).all(|(w, g)| {
            if w.starts_with('{') {
                true
            } else {
                literals += 1;
                w == g
            }
        });
        if ok && best.is_none_or(|(_, _, l)| literals > l) {
            best = Some((template.as_str(), op, literals));
        }
    }
    best.map(|(t, op, _)| (t, op))
}

/// What the suite sent.
pub struct Sent<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

/// Why the request is invalid by the document, if it is.
fn request_problem(sent: &Sent, template: &str, op: &Value) -> Option<String> {
    let keyed = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
    if keyed {
        let Some(key) = sent.idempotency_key else {
            return Some("no Idempotency-Key".into());
        };
        let params = op["parameters"].as_array().expect("parameters");
        let at = params
            .iter()
            .position(|p| p["name"] == "Idempotency-Key")
            .expect("listed");
        let pointer = format!(
            "/paths/{}/{}/parameters/{at}/schema",
            escape(template),
            sent.method
        );
        if !validator(&pointer).is_valid(&Value::String(key.to_owned())) {
            return Some(format!("Idempotency-Key {key:?} is not valid"));
        }
    }
    if let Some(p) = query_problem(sent, template, op) {
        return Some(p);
    }
    if op.get("requestBody").is_some() {
        let is_json = sent
            .content_type
            .is_some_and(|ct| ct.starts_with("application/json"));
        if !is_json {
            return Some("the body is not application/json".into());
        }
        let Some(body) = sent
            .body
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Some("the body is not JSON".into());
        };
        let pointer = format!(
            "/paths/{}/{}/requestBody/content/application~1json/schema",
            escape(template),
            sent.method
        );
        let v = validator(&pointer);
        let first = v
            .iter_errors(&body)
            .next()
            .map(|e| format!("{e} at {}", e.instance_path()));
        if let Some(e) = first {
            return Some(format!("body {body}: {e}"));
        }
    }
    None
}

/// Why the query is invalid by the operation's query parameters, if it is. Values are
/// read as the schema's type (`limit=5` is the integer 5), as a server would.
fn query_problem(sent: &Sent, template: &str, op: &Value) -> Option<String> {
    let params = op["parameters"].as_array()?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(sent.query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    // The document lists every parameter an operation takes; the server refuses others.
    for (k, _) in &pairs {
        if !params
            .iter()
            .any(|p| p["in"] == "query" && p["name"] == k.as_str())
        {
            return Some(format!("query parameter {k} is not the operation's"));
        }
    }
    for (at, p) in params.iter().enumerate() {
        if p["in"] != "query" {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("");
        let Some((_, raw)) = pairs.iter().find(|(k, _)| k == name) else {
            if p["required"] == true {
                return Some(format!("query parameter {name} is required"));
            }
            continue;
        };
        let schema = &p["schema"];
        let types = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let value = if types.contains(&"integer") {
            match raw.parse::<i128>() {
                Ok(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
                Err(_) => Value::String(raw.clone()),
            }
        } else if types.contains(&"boolean") {
            match raw.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(raw.clone()),
            }
        } else {
            Value::String(raw.clone())
        };
        let pointer = format!(
            "/paths/{}/{}/parameters/{at}/schema",
            escape(template),
            sent.method
        );
        if !validator(&pointer).is_valid(&value) {
            return Some(format!("query parameter {name}={raw:?} is not valid"));
        }
    }
    None
}

/// The answer's body, read off the wire after the exchange is checked against the
/// document: a disagreement fails the test.
pub async fn checked_body(sent: &Sent<'_>, res: reqwest::Response) -> reqwest::Result<Bytes> {
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.bytes().await?;
    if let Err(e) = check(sent, status, content_type.as_deref(), &body) {
        panic!("contract: {e}");
    }
    Ok(body)
}

/// Checks one exchange; `Err` says how the server and the document disagree.
fn check(sent: &Sent, status: u16, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
    let method = sent.method.to_ascii_lowercase();
    let sent = Sent {
        method: &method,
        ..*sent
    };
    let Some((template, op)) = operation(&method, sent.path) else {
        return Ok(());
    };
    let what = format!("{} {} ({template})", sent.method.to_uppercase(), sent.path);
    let problem = request_problem(&sent, template, op);
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    match (&problem, status) {
        (Some(p), 200..=299) => {
            return Err(format!(
                "{what}: accepted ({status}) a request the document refuses: {p}"
            ))
        }
        (None, 400)
            if matches!(
                code.as_deref(),
                Some(
                    "invalid_body" | "malformed_json" | "invalid_idempotency_key" | "invalid_query"
                )
            ) =>
        {
            return Err(format!(
                "{what}: refused as {code:?} a request the document accepts: {}",
                String::from_utf8_lossy(body)
            ))
        }
        _ => {}
    }
    let Some(response) = op["responses"].get(status.to_string()) else {
        return Err(format!(
            "{what}: answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(body)
        ));
    };
    let Some(content) = response.get("content") else {
        return match body.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "{what}: {status} has a body the document does not list"
            )),
        };
    };
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if content.get(mime).is_none() {
        return Err(format!(
            "{what}: {status} answered {mime:?}, not a listed content type"
        ));
    }
    if mime != "application/json" {
        return Ok(());
    }
    let instance: Value = serde_json::from_slice(body)
        .map_err(|e| format!("{what}: {status} says JSON, but is not: {e}"))?;
    let pointer = format!(
        "/paths/{}/{}/responses/{status}/content/application~1json/schema",
        escape(template),
        method
    );
    let v = validator(&pointer);
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .take(3)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        let text = instance.to_string();
        Err(format!(
            "{what}: the {status} answer is not valid by the document: {}; answer: {:.600}",
            errors.join("; "),
            text
        ))
    }
}

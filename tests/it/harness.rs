//! Starting, killing and talking to the real server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// The bootstrap HQ administrator key every test server starts with.
pub const ADMIN_KEY: &str = "test-admin-key";

/// A client that sends `key` as its bearer credential on every request.
pub fn client_with_key(key: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().expect("header value"),
    );
    Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Sends a request and returns its status and JSON body (`Null` when there is none).
/// The exchange is checked against the OpenAPI document (`contract`): a disagreement
/// fails the test.
pub async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let (client, req) = req.build_split();
    let req = req.expect("request builds");
    let method = req.method().as_str().to_owned();
    let path = req.url().path().to_owned();
    let query = req.url().query().map(str::to_owned);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let key = header("idempotency-key");
    let content_type = header("content-type");
    let body = req.body().and_then(|b| b.as_bytes()).map(<[u8]>::to_vec);
    let res = client.execute(req).await.expect("send");
    let status = res.status();
    let sent = crate::contract::Sent {
        method: &method,
        path: &path,
        query: query.as_deref(),
        idempotency_key: key.as_deref(),
        content_type: content_type.as_deref(),
        body: body.as_deref(),
    };
    let bytes = crate::contract::checked_body(&sent, res)
        .await
        .expect("answer body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub client: Client,
}

/// The server under test: this build's, or `CHAINSTORE_BIN` (to run the suite, say the
/// randomized workload, against another build).
pub fn server_binary() -> PathBuf {
    std::env::var_os("CHAINSTORE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_chainstore")))
}

pub fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml")
}

impl Server {
    /// Starts the server on a free loopback port over the database in `data_dir`.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with_clock(data_dir, None)
    }

    /// Starts the server on a manual clock set to `now` (RFC 3339), if given.
    pub fn start_with_clock(data_dir: &Path, now: Option<&str>) -> Server {
        Server::start_opts(data_dir, now, &[])
    }

    /// As `start_with_clock`, with more command-line arguments.
    pub fn start_opts(data_dir: &Path, now: Option<&str>, args: &[&str]) -> Server {
        Server::start_binary(&server_binary(), data_dir, now, args)
    }

    /// As `start_opts`, running `binary` (a test-only build of the server) instead.
    pub fn start_binary(
        binary: &Path,
        data_dir: &Path,
        now: Option<&str>,
        args: &[&str],
    ) -> Server {
        let mut cmd = Command::new(binary);
        if let Some(now) = now {
            cmd.arg("--manual-clock").arg(now);
        }
        cmd.args(args);
        let mut child = cmd
            .arg("--config")
            .arg(config_path())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--admin-key")
            .arg(ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read server stdout");
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child: Some(child),
            base: format!("http://{addr}"),
            client: client_with_key(ADMIN_KEY),
        }
    }

    /// SIGKILL: no shutdown hooks, no flush; what is on disk is all there is.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `limit` for the server to exit by itself; its exit status.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        send(
            self.client
                .post(self.url(path))
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        send(
            self.client
                .put(self.url(path))
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        send(
            self.client
                .patch(self.url(path))
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        send(
            self.client
                .delete(self.url(path))
                .header("Idempotency-Key", key),
        )
        .await
    }

    /// A POST without a body (state transitions).
    pub async fn act(&self, path: &str, key: &str) -> (StatusCode, Value) {
        send(
            self.client
                .post(self.url(path))
                .header("Idempotency-Key", key),
        )
        .await
    }

    /// Moves the manual clock; the server runs its schedulers' ticks before answering.
    pub async fn set_clock(&self, now: &str) {
        let res = self
            .client
            .post(self.url("/v1/testing/clock"))
            .json(&json!({ "now": now }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// The `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.client.get(self.url(path))).await
    }

    /// Puts `store` on closing its business days by hand.
    pub async fn close_by_hand(&self, store: u64) {
        let (status, body) = self
            .put(
                &format!("/v1/stores/{store}/closing-mode"),
                &format!("closing-mode-{store}"),
                json!({"manual": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn create_store(&self, name: &str) -> u64 {
        let (status, body) = self
            .post(
                "/v1/stores",
                &format!("store-{name}"),
                json!({"name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().expect("store id")
    }

    pub async fn register(&self, phone: &str, home: u64) -> u64 {
        let (status, body) = self
            .post(
                "/v1/members",
                &format!("member-{phone}"),
                json!({"phone": phone, "name": "Member", "home_store_id": home}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().expect("member id")
    }

    pub async fn recharge(
        &self,
        member: u64,
        store: u64,
        amount: i64,
        key: &str,
    ) -> (StatusCode, Value) {
        self.post(
            &format!("/v1/members/{member}/recharges"),
            key,
            json!({"amount": amount, "store_id": store}),
        )
        .await
    }

    pub async fn deduct(
        &self,
        member: u64,
        store: u64,
        amount: i64,
        key: &str,
    ) -> (StatusCode, Value) {
        self.post(
            &format!("/v1/members/{member}/deductions"),
            key,
            json!({"amount": amount, "store_id": store}),
        )
        .await
    }

    pub async fn balance(&self, member: u64) -> i64 {
        let (status, body) = self.get(&format!("/v1/members/{member}/balance")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_i64().expect("balance")
    }

    /// Every entry of a member, newest first, following the pages.
    pub async fn all_entries(&self, member: u64) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/v1/members/{member}/entries?limit=200&before={b}"),
                None => format!("/v1/members/{member}/entries?limit=200"),
            };
            let (status, body) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            out.extend(body["entries"].as_array().expect("entries").iter().cloned());
            match body["next_before"].as_u64() {
                Some(b) => before = Some(b),
                None => return out,
            }
        }
    }

    /// The ledger-wide invariant, checked after every scenario.
    pub async fn assert_ledger_sums_to_zero(&self) {
        let (status, body) = self.get("/v1/ledger/trial-balance").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sum"].as_i64(), Some(0), "trial balance: {body}");
    }

    /// Balance equals recharges - deductions + refunds over the whole history.
    pub async fn assert_balance_matches_entries(&self, member: u64) {
        let entries = self.all_entries(member).await;
        let sum: i64 = entries
            .iter()
            .map(|e| {
                let amount = e["amount"].as_i64().expect("amount");
                match e["kind"].as_str() {
                    Some("deduction" | "recharge_refund") => -amount,
                    // The balance went along to the new home, unchanged.
                    Some("home_move") => 0,
                    _ => amount,
                }
            })
            .sum();
        assert_eq!(self.balance(member).await, sum);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

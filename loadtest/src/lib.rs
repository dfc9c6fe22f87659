//! loadtest: drives a chainstore server the way a chain does on a promotion day, then checks
//! that the server's books agree with everything it acknowledged.
//!
//! - [`seed`]: stores, resources, members with balances, services in both booking modes.
//! - [`run`]: one scenario under a closed loop (N connections) or an open loop (fixed rate,
//!   latency measured from each request's intended send time, so stalls are not hidden).
//! - [`check`]: the post-run audit; a discrepancy is an error.
//! - [`floor`]: the HTTP floor, a bare warp server answering the same deduction JSON from
//!   memory, and the wrk script that drives both it and chainstore.

pub mod check;
pub mod conn;
pub mod floor;
pub mod report;
pub mod scenario;
pub mod seed;

pub use check::check;
pub use report::Report;
pub use scenario::{run, LoadModel, RunSpec, Scenario};
pub use seed::{seed, Chain, SeedSpec};

use serde_json::Value;

/// POSTs JSON with an idempotency key; transport errors are `Err`.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> reqwest::Result<(u16, Value)> {
    let res = client
        .post(url)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

pub async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, Value)> {
    let res = client.get(url).send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// An HTTP client that sends `token` (an API key) as its bearer credential.
pub fn client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        if let Ok(v) = format!("Bearer {t}").parse() {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
    }
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .expect("building the HTTP client")
}

/// A unique-enough run id for idempotency keys and phone numbers.
pub fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

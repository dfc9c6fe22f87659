//! Creating a realistic chain over the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::post;

#[derive(Debug, Clone)]
pub struct SeedSpec {
    pub stores: u32,
    pub resources: u32,
    pub members: u32,
    /// Initial stored value of every member, minor units.
    pub balance: i64,
    pub concurrency: usize,
}

/// What the scenarios need to know about the seeded chain; written to a JSON manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chain {
    pub stores: Vec<u64>,
    /// (resource id, store id)
    pub resources: Vec<(u64, u64)>,
    pub members: Vec<u64>,
    pub balance: i64,
    pub appointment_service: u64,
    pub plan_service: u64,
}

async fn must(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value> {
    let (status, res) = post(client, url, key, &body).await?;
    if status != 201 && status != 200 {
        bail!("POST {url}: {status} {res}");
    }
    Ok(res)
}

pub async fn seed(client: &reqwest::Client, server: &str, spec: &SeedSpec) -> Result<Chain> {
    let run = crate::run_id();
    let mut stores = Vec::new();
    for s in 0..spec.stores {
        let r = must(
            client,
            &format!("{server}/v1/stores"),
            &format!("seed-{run}-s{s}"),
            json!({"name": format!("Store {s}")}),
        )
        .await?;
        stores.push(r["id"].as_u64().context("store id")?);
    }
    let put = client
        .put(format!("{server}/v1/settings"))
        .header("Idempotency-Key", format!("seed-{run}-settings"))
        .json(&json!({"service_plans_enabled": true}))
        .send()
        .await?;
    if !put.status().is_success() {
        bail!("enabling service plans: {}", put.status());
    }
    let service = |name: &str, mode: &str| json!({"name": name, "duration_minutes": 60, "booking_mode": mode, "resource_kinds": ["staff"]});
    let appt = must(
        client,
        &format!("{server}/v1/services"),
        &format!("seed-{run}-sa"),
        service("Treatment", "appointment"),
    )
    .await?;
    let plan = must(
        client,
        &format!("{server}/v1/services"),
        &format!("seed-{run}-sp"),
        service("Course", "service_plan"),
    )
    .await?;

    let stores = Arc::new(stores);
    let resources = fan_out(spec.concurrency, u64::from(spec.resources), {
        let (client, server, stores) = (client.clone(), server.to_owned(), stores.clone());
        move |i| {
            let (client, server, stores) = (client.clone(), server.clone(), stores.clone());
            async move {
                let store = stores[i as usize % stores.len()];
                let r = must(
                    &client,
                    &format!("{server}/v1/stores/{store}/resources"),
                    &format!("seed-{run}-r{i}"),
                    json!({"name": format!("Staff {i}"), "kind": "staff", "capacity": 1}),
                )
                .await?;
                Ok((r["id"].as_u64().context("resource id")?, store))
            }
        }
    })
    .await?;
    let members = fan_out(spec.concurrency, u64::from(spec.members), {
        let (client, server, stores, balance) = (
            client.clone(),
            server.to_owned(),
            stores.clone(),
            spec.balance,
        );
        move |i| {
            let (client, server, stores) = (client.clone(), server.clone(), stores.clone());
            async move {
                let home = stores[i as usize % stores.len()];
                let phone = format!(
                    "1{:010}",
                    (run % 1_000_000_007).wrapping_mul(7_919).wrapping_add(i) % 10_000_000_000
                );
                let m = must(
                    &client,
                    &format!("{server}/v1/members"),
                    &format!("seed-{run}-m{i}"),
                    json!({"phone": phone, "name": format!("Member {i}"), "home_store_id": home}),
                )
                .await?;
                let id = m["id"].as_u64().context("member id")?;
                if balance > 0 {
                    must(
                        &client,
                        &format!("{server}/v1/members/{id}/recharges"),
                        &format!("seed-{run}-c{i}"),
                        json!({"amount": balance, "store_id": home}),
                    )
                    .await?;
                }
                Ok(id)
            }
        }
    })
    .await?;
    Ok(Chain {
        stores: stores.to_vec(),
        resources,
        members,
        balance: spec.balance,
        appointment_service: appt["id"].as_u64().context("service id")?,
        plan_service: plan["id"].as_u64().context("service id")?,
    })
}

/// Runs `make(i)` for i in 0..n with `concurrency` in flight; results in index order.
async fn fan_out<T, F, Fut>(concurrency: usize, n: u64, make: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<T>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (next, make) = (next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(out);
                }
                out.push((i, make(i).await?));
            }
        }));
    }
    let mut all = Vec::with_capacity(n as usize);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

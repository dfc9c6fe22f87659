//! loadtest: drives a chainstore server the way a chain does on a promotion day.
//!
//! ```text
//! loadtest seed --stores 10 --members 10000 --balance 100000000 --out chain.json
//! loadtest run --chain chain.json --scenario pos --connections 64 --seconds 10
//! loadtest run --chain chain.json --scenario hot --rate 10000 --seconds 10
//! ```
//! Latency is recorded in an hdrhistogram. In open-loop mode (`--rate`) it is measured from
//! each request's intended send time, so a stall is not hidden (coordinated omission).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Load generator and checker for chainstore")]
struct Cli {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create stores and members with balances; write the chain manifest.
    Seed {
        #[arg(long, default_value_t = 4)]
        stores: u32,
        #[arg(long, default_value_t = 1000)]
        members: u32,
        /// Initial stored value of every member, minor units.
        #[arg(long, default_value_t = 100_000_000)]
        balance: i64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value = "chain.json")]
        out: PathBuf,
    },
    /// Run a scenario against a seeded chain, report, and check the server afterwards.
    Run {
        #[arg(long, default_value = "chain.json")]
        chain: PathBuf,
        #[arg(long, value_enum, default_value_t = Scenario::Pos)]
        scenario: Scenario,
        /// Closed loop: this many connections, each sending when the last answer arrived.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Open loop: requests per second, sent on schedule whatever the answers do.
        #[arg(long)]
        rate: Option<u64>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Where to write the JSON results.
        #[arg(long, default_value = "loadtest-result.json")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Scenario {
    /// Deductions of 1 spread over every member.
    Pos,
    /// Deductions of 1, all on the first member.
    Hot,
}

#[derive(Serialize, Deserialize)]
struct Chain {
    stores: Vec<u64>,
    members: Vec<u64>,
    balance: i64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    match cli.command {
        Command::Seed {
            stores,
            members,
            balance,
            concurrency,
            out,
        } => {
            let chain = seed(&client, &cli.server, stores, members, balance, concurrency).await?;
            std::fs::write(&out, serde_json::to_vec_pretty(&chain)?)?;
            println!(
                "seeded {} stores, {} members -> {}",
                chain.stores.len(),
                chain.members.len(),
                out.display()
            );
        }
        Command::Run {
            chain,
            scenario,
            connections,
            rate,
            seconds,
            out,
        } => {
            let chain: Chain = serde_json::from_slice(
                &std::fs::read(&chain).context("reading the chain manifest")?,
            )?;
            let report = run(
                &client,
                &cli.server,
                &chain,
                scenario,
                connections,
                rate,
                Duration::from_secs(seconds),
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
            check(&client, &cli.server).await?;
            println!("post-run check: ledger sums to zero");
        }
    }
    Ok(())
}

async fn post(
    client: &reqwest::Client,
    url: String,
    key: String,
    body: Value,
) -> Result<(u16, Value)> {
    let res = client
        .post(url)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

async fn seed(
    client: &reqwest::Client,
    server: &str,
    stores: u32,
    members: u32,
    balance: i64,
    concurrency: usize,
) -> Result<Chain> {
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let mut store_ids = Vec::new();
    for s in 0..stores {
        let (status, body) = post(
            client,
            format!("{server}/v1/stores"),
            format!("seed-{run}-s{s}"),
            json!({"name": format!("Store {s}")}),
        )
        .await?;
        if status != 201 {
            bail!("creating a store: {status} {body}");
        }
        store_ids.push(body["id"].as_u64().context("store id")?);
    }
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, server, next, run, store_ids) = (
            client.clone(),
            server.to_owned(),
            next.clone(),
            run.clone(),
            store_ids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= u64::from(members) {
                    return Ok::<_, anyhow::Error>(ids);
                }
                let home = store_ids[i as usize % store_ids.len()];
                let phone = format!(
                    "1{:010}",
                    (u64::from_str_radix(&run[run.len() - 6..], 16)? * 1_000_003 + i)
                        % 10_000_000_000
                );
                let (status, body) = post(
                    &client,
                    format!("{server}/v1/members"),
                    format!("seed-{run}-m{i}"),
                    json!({"phone": phone, "name": format!("Member {i}"), "home_store_id": home}),
                )
                .await?;
                if status != 201 {
                    bail!("registering a member: {status} {body}");
                }
                let id = body["id"].as_u64().context("member id")?;
                let (status, body) = post(
                    &client,
                    format!("{server}/v1/members/{id}/recharges"),
                    format!("seed-{run}-r{i}"),
                    json!({"amount": balance, "store_id": home}),
                )
                .await?;
                if status != 201 {
                    bail!("recharging: {status} {body}");
                }
                ids.push(id);
            }
        }));
    }
    let mut member_ids = Vec::new();
    for t in tasks {
        member_ids.extend(t.await??);
    }
    Ok(Chain {
        stores: store_ids,
        members: member_ids,
        balance,
    })
}

#[derive(Serialize)]
struct Report {
    scenario: Scenario,
    mode: String,
    seconds: f64,
    requests: u64,
    acknowledged: u64,
    throughput_per_s: f64,
    latency_us: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
}

struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

async fn one(
    client: &reqwest::Client,
    server: &str,
    chain: &Chain,
    scenario: Scenario,
    n: u64,
    run: &str,
) -> Result<(), String> {
    let member = match scenario {
        Scenario::Pos => {
            chain.members[(n.wrapping_mul(2_654_435_761) % chain.members.len() as u64) as usize]
        }
        Scenario::Hot => chain.members[0],
    };
    let store = chain.stores[n as usize % chain.stores.len()];
    match post(
        client,
        format!("{server}/v1/members/{member}/deductions"),
        format!("lt-{run}-{n}"),
        json!({"amount": 1, "store_id": store}),
    )
    .await
    {
        Ok((201, _)) => Ok(()),
        Ok((_, body)) => Err(body["code"].as_str().unwrap_or("unknown").to_owned()),
        Err(_) => Err("transport".to_owned()),
    }
}

async fn run(
    client: &reqwest::Client,
    server: &str,
    chain: &Chain,
    scenario: Scenario,
    connections: usize,
    rate: Option<u64>,
    length: Duration,
) -> Result<Report> {
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let chain = Arc::new(Chain {
        stores: chain.stores.clone(),
        members: chain.members.clone(),
        balance: chain.balance,
    });
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    let mode;
    match rate {
        None => {
            mode = format!("closed loop, {connections} connections");
            for _ in 0..connections {
                let (client, server, chain, counter, run_id) = (
                    client.clone(),
                    server.to_owned(),
                    chain.clone(),
                    counter.clone(),
                    run_id.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let mut t = Tally::new();
                    while Instant::now() < deadline {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let sent = Instant::now();
                        let r = one(&client, &server, &chain, scenario, n, &run_id).await;
                        let _ = t.hist.record(sent.elapsed().as_micros() as u64);
                        match r {
                            Ok(()) => t.ok += 1,
                            Err(code) => *t.errors.entry(code).or_default() += 1,
                        }
                    }
                    t
                }));
            }
        }
        Some(rate) => {
            mode = format!("open loop, {rate}/s");
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let total = rate * length.as_secs();
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            for n in 0..total {
                let intended = started + interval * n as u32;
                tokio::time::sleep_until(intended.into()).await;
                let (client, server, chain, run_id, tx) = (
                    client.clone(),
                    server.to_owned(),
                    chain.clone(),
                    run_id.clone(),
                    tx.clone(),
                );
                tokio::spawn(async move {
                    let r = one(&client, &server, &chain, scenario, n, &run_id).await;
                    let _ = tx.send((intended.elapsed().as_micros() as u64, r));
                });
            }
            drop(tx);
            tasks.push(tokio::spawn(async move {
                let mut t = Tally::new();
                while let Some((us, r)) = rx.recv().await {
                    let _ = t.hist.record(us);
                    match r {
                        Ok(()) => t.ok += 1,
                        Err(code) => *t.errors.entry(code).or_default() += 1,
                    }
                }
                t
            }));
        }
    }
    let mut all = Tally::new();
    for t in tasks {
        let t = t.await?;
        all.hist.add(&t.hist)?;
        all.ok += t.ok;
        for (k, v) in t.errors {
            *all.errors.entry(k).or_default() += v;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut latency_us = BTreeMap::new();
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        latency_us.insert(name.to_owned(), all.hist.value_at_quantile(q));
    }
    latency_us.insert("max".to_owned(), all.hist.max());
    Ok(Report {
        scenario,
        mode,
        seconds: secs,
        requests: all.hist.len(),
        acknowledged: all.ok,
        throughput_per_s: all.ok as f64 / secs,
        latency_us,
        errors: all.errors,
    })
}

async fn check(client: &reqwest::Client, server: &str) -> Result<()> {
    let tb: Value = client
        .get(format!("{server}/v1/ledger/trial-balance"))
        .send()
        .await?
        .json()
        .await?;
    if tb["sum"].as_i64() != Some(0) {
        bail!("LEDGER DOES NOT SUM TO ZERO: {tb}");
    }
    Ok(())
}

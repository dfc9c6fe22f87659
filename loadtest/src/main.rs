//! The loadtest command line. See the library docs and BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use loadtest::{check, LoadModel, RunSpec, Scenario, SeedSpec};

// The tool shares the machine with the server it measures; glibc's malloc was a third of
// its CPU in the batch scenario.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Members whose balances are snapshotted before a run for the exact per-member check.
const SNAPSHOT_MEMBERS_MAX: usize = 200_000;

#[derive(Parser)]
#[command(about = "Simulate a chain of stores at peak against a chainstore server, then audit it")]
struct Cli {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// API key (an HQ administrator's, to seed); default: $CHAINSTORE_TOKEN.
    #[arg(long, env = "CHAINSTORE_TOKEN", global = true)]
    token: Option<String>,
    /// Threads of the tool itself. It shares the machine with the server it measures; one
    /// thread drove pos at 30,000 requests/s on a third of a core.
    #[arg(long, default_value_t = 1, global = true,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create stores, resources, members with balances and services; write the manifest.
    Seed {
        #[arg(long, default_value_t = 4)]
        stores: u32,
        #[arg(long, default_value_t = 40)]
        resources: u32,
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
    /// Run a scenario, report, and audit the server afterwards (exit 1 on a discrepancy).
    Run {
        #[arg(long, default_value = "chain.json")]
        chain: PathBuf,
        #[arg(long, value_enum, default_value_t = Scenario::Pos)]
        scenario: Scenario,
        /// Closed loop: connections. Open loop: workers sending on the schedule.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Open loop at this many requests per second (default: closed loop).
        #[arg(long)]
        rate: Option<u64>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Operations per request in the batch scenario.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        /// Plans scenario: percent of plans aimed at weeks an earlier plan took (HQ consoles
        /// racing for the same staff); the rest find their weeks free.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
        plan_conflict_percent: u8,
        /// JSON results; the SVG plot goes next to it.
        #[arg(long, default_value = "loadtest-result.json")]
        out: PathBuf,
    },
    /// Serve the HTTP floor: the deduction route answered from memory by bare warp, the peer
    /// chainstore's `pos` figure is compared with (see `bench/compare.sh`).
    Floor {
        #[arg(long, default_value = "127.0.0.1:18099")]
        listen: std::net::SocketAddr,
        /// Every member's opening balance, minor units.
        #[arg(long, default_value_t = 100_000_000)]
        balance: i64,
    },
    /// Write a wrk Lua script that posts `pos` deductions over the chain's members.
    WrkScript {
        #[arg(long, default_value = "chain.json")]
        chain: PathBuf,
        #[arg(long, default_value = "pos.lua")]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(cli.threads))
        .enable_all()
        .build()
        .context("starting the tool's runtime")?
        .block_on(command(cli))
}

async fn command(cli: Cli) -> Result<()> {
    let client = loadtest::client(cli.token.as_deref());
    let token = cli.token.clone().unwrap_or_default();
    match cli.command {
        Command::Floor { listen, balance } => {
            loadtest::floor::serve(listen, token, balance).await?
        }
        Command::WrkScript { chain, out } => {
            let chain: loadtest::Chain = serde_json::from_slice(
                &std::fs::read(&chain).context("reading the chain manifest")?,
            )?;
            let script = loadtest::floor::wrk_script(&chain, &token, loadtest::run_id());
            std::fs::write(&out, script)?;
        }
        Command::Seed {
            stores,
            resources,
            members,
            balance,
            concurrency,
            out,
        } => {
            let spec = SeedSpec {
                stores,
                resources,
                members,
                balance,
                concurrency,
            };
            let started = std::time::Instant::now();
            let chain = loadtest::seed(&client, &cli.server, &spec).await?;
            std::fs::write(&out, serde_json::to_vec(&chain)?)?;
            println!(
                "seeded {} stores, {} resources, {} members in {:.1}s -> {}",
                chain.stores.len(),
                chain.resources.len(),
                chain.members.len(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        Command::Run {
            chain,
            scenario,
            connections,
            rate,
            seconds,
            batch_size,
            plan_conflict_percent,
            out,
        } => {
            let chain: loadtest::Chain = serde_json::from_slice(
                &std::fs::read(&chain).context("reading the chain manifest")?,
            )?;
            let model = match rate {
                Some(rate) => LoadModel::Open { rate, connections },
                None => LoadModel::Closed { connections },
            };
            let spec = RunSpec {
                scenario,
                model,
                duration: Duration::from_secs(seconds),
                batch_size,
                plan_conflict_percent,
                token: cli.token.clone(),
            };
            let before = if chain.members.len() <= SNAPSHOT_MEMBERS_MAX {
                check::balances(&client, &cli.server, &chain.members).await?
            } else {
                Default::default()
            };
            let (mut report, acks) = loadtest::run(&cli.server, &chain, &spec, true).await?;
            let verdict = loadtest::check(&client, &cli.server, &chain, &before, &acks).await;
            report.check = Some(match &verdict {
                Ok(()) => "passed".to_owned(),
                Err(e) => format!("FAILED: {e}"),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
            report.write_svg(&out.with_extension("svg"))?;
            verdict?;
        }
    }
    Ok(())
}

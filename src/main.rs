use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use chainstore::config::{Config, LogFormat};

// glibc malloc took ~15% of the server's samples under pos load (BENCHMARKS.md): many
// small, short-lived buffers across threads. RocksDB's C++ keeps the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The chainstore server: stored-value ledger and scheduling for chains of stores.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Configuration file.
    #[arg(long, default_value = "config/default.toml")]
    config: PathBuf,
    /// Overrides server.listen (use port 0 for any free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Overrides server.data_dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Testing only: run on a clock that starts at this RFC 3339 instant and moves only
    /// through `POST /v1/testing/clock`.
    #[arg(long)]
    manual_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// The bootstrap HQ administrator key (instead of the key file).
    #[arg(long)]
    admin_key: Option<String>,
    /// Overrides log.format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Sets notifications.webhook_private_targets: the webhook may target this machine or
    /// private networks.
    #[arg(long)]
    webhook_private_targets: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Make a data directory from a backup (a checkpoint from `POST /v1/admin/backups`),
    /// then check that its ledger sums to zero. The server must not be running on `--to`.
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
        /// The new data directory; must not exist or be empty.
        #[arg(long)]
        to: PathBuf,
    },
}

fn restore(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty; restore into a new directory",
            to.display()
        );
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    let storage = chainstore::storage::Storage::open(to, std::time::Duration::from_secs(86_400))?;
    let tb = storage.trial_balance()?;
    anyhow::ensure!(
        tb.sum() == 0,
        "the restored ledger does not sum to zero: {}",
        tb.sum()
    );
    println!(
        "restored {} into {}; trial balance sums to 0",
        from.display(),
        to.display()
    );
    Ok(())
}

fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

/// A panic anywhere stops the process, as a failed write does: an actor that panicked
/// mid-handler may hold memory that disagrees with disk, and a store answering 503 forever
/// hides it. (A hook, not `panic = "abort"` in the profile: tests need unwinding, and one
/// profile keeps one compiled RocksDB.)
fn fail_stop_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        eprintln!("panic: stopping the process (fail-stop)");
        std::process::abort();
    }));
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Restore { from, to }) = &args.command {
        init_logs(args.log_format.unwrap_or(LogFormat::Text));
        return restore(from, to);
    }
    let mut config = Config::load(&args.config)?;
    init_logs(args.log_format.unwrap_or(config.log_format));
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    config.bootstrap_admin_key = args.admin_key;
    config.webhook_private_targets |= args.webhook_private_targets;
    fail_stop_on_panic();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.http_threads)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        let shutdown = async {
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
            tracing::info!("shutting down");
        };
        chainstore::server::serve(config, args.manual_clock, shutdown).await
    })?;
    Ok(())
}

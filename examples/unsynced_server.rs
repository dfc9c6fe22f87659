//! Tests only: the server with a journal that does not sync. The power-cut test runs it as
//! its control, to show that the test loses acknowledged writes when nothing is synced (and
//! so would catch a server that forgot to sync). Not reachable from the server's config or
//! command line; never run it on data you keep.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use chainstore::config::Config;
use chainstore::storage::Durability;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    config: PathBuf,
    #[arg(long)]
    listen: SocketAddr,
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long)]
    admin_key: String,
    #[arg(long)]
    manual_clock: Option<chrono::DateTime<chrono::Utc>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = Config::load(&args.config)?;
    config.listen = args.listen;
    config.data_dir = args.data_dir;
    config.bootstrap_admin_key = Some(args.admin_key);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.http_threads)
        .enable_all()
        .build()?;
    runtime.block_on(chainstore::server::serve_with(
        config,
        args.manual_clock,
        std::future::pending(),
        Durability::UnsyncedForTests,
    ))?;
    Ok(())
}

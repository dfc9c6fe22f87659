//! Start-up and shut-down: open storage, start the journal and the actors, recover every
//! store, then serve HTTP until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::{Actor, Arbiter, ArbiterHandle, System};

use crate::actors::closing::{CloseDue, Closings};
use crate::actors::directory::Directory;
use crate::actors::registry::Registry;
use crate::actors::scheduler::SchedulerState;
use crate::api::{self, ApiState};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::storage::{Durability, Journal, Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting threads: {0}")]
    Threads(String),
}

/// Starts `n` actix arbiters on a system thread of their own and returns their handles.
fn start_arbiters(n: usize) -> Result<Vec<ArbiterHandle>, StartError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("actors".into())
        .spawn(move || {
            let system = System::new();
            let arbiters: Vec<Arbiter> =
                system.block_on(async { (0..n).map(|_| Arbiter::new()).collect() });
            let handles = arbiters.iter().map(Arbiter::handle).collect::<Vec<_>>();
            if tx.send(handles).is_err() {
                return;
            }
            let _ = system.run();
            drop(arbiters);
        })
        .map_err(|e| StartError::Threads(e.to_string()))?;
    rx.recv().map_err(|e| StartError::Threads(e.to_string()))
}

/// The bootstrap administrator key: from the command line, else the key file, else a new
/// random key written to the key file (mode 0600) on first start.
fn bootstrap_admin_key(config: &Config) -> Result<String, StartError> {
    if let Some(key) = &config.bootstrap_admin_key {
        return Ok(key.clone());
    }
    let path = config.data_dir.join(&config.bootstrap_admin_key_file);
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key.trim().to_owned());
    }
    let key = crate::api::auth::new_key().map_err(|e| StartError::Threads(e.to_string()))?;
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(key.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| StartError::Threads(format!("writing {}: {e}", path.display())))?;
    eprintln!(
        "bootstrap HQ administrator key written to {}",
        path.display()
    );
    Ok(key)
}

/// Everything but the HTTP listener: storage, journal, actors, recovered state. Before it
/// returns, every scheduler has completed what came due while the server was down.
pub async fn start_core(
    config: &Config,
    clock: Arc<dyn Clock>,
    manual_clock: Option<Arc<ManualClock>>,
    durability: Durability,
) -> Result<Arc<ApiState>, StartError> {
    let storage = Storage::open_with_clock(
        &config.data_dir,
        config.idempotency_retention,
        clock.clone(),
    )?;
    let journal = Journal::start_with(storage.db(), durability);
    let arbiters = start_arbiters(config.actor_threads)?;
    let registry = Registry::new(
        arbiters,
        storage.clone(),
        journal,
        clock,
        config.reminder_lead,
        config.bin_retention_days,
    );
    registry.publish_catalog(storage.catalog(config.point_value)?);
    let stores = storage.stores()?;
    let last_store = stores.last().map_or(0, |s| s.id.get());
    for store in &stores {
        registry.start_store(store.id, store.time_zone, storage.book(store.id)?)?;
        let state = SchedulerState::load(&storage, store.id)?;
        registry.start_scheduler(store.id, store.time_zone, state);
    }
    // Purged services leave their mark: ids are never issued twice.
    let last_service = storage
        .last_service_id()?
        .max(storage.id_mark(crate::storage::keys::IdKind::Service, 0)?);
    let last_credential = storage.last_credential_id()?;
    tracing::info!(stores = stores.len(), "recovered");
    let dir_registry = registry.clone();
    let directory = Directory::start_in_arbiter(registry.arbiter(0), move |ctx| {
        ctx.set_mailbox_capacity(crate::actors::MAILBOX_CAPACITY);
        Directory::new(dir_registry, last_store, last_service, last_credential)
    });
    crate::api::handlers::tick_all(&registry)
        .await
        .map_err(|e| StartError::Threads(e.to_string()))?;
    let closer = Closings::new(registry.clone(), directory.clone())?;
    let closings = Closings::start_in_arbiter(registry.arbiter(1), move |ctx| {
        ctx.set_mailbox_capacity(crate::actors::MAILBOX_CAPACITY);
        closer
    });
    let courier =
        crate::actors::courier::Courier::new(registry.clone(), config.webhook_private_targets)
            .map_err(|e| StartError::Threads(format!("webhook client: {e}")))?;
    crate::actors::courier::Courier::start_in_arbiter(registry.arbiter(2), move |ctx| {
        ctx.set_mailbox_capacity(crate::actors::MAILBOX_CAPACITY);
        courier
    });
    // Days that ended while the server was down are sealed before it serves.
    closings
        .send(CloseDue)
        .await
        .map_err(|e| StartError::Threads(e.to_string()))?
        .map_err(|e| StartError::Threads(format!("closing: {e}")))?;
    let admin_key_hash = Some(crate::api::auth::key_hash(&bootstrap_admin_key(config)?));
    let metrics = crate::api::metrics::Metrics::new(registry.journal.stats(), &registry.gauges)
        .map_err(|e| StartError::Threads(format!("metrics: {e}")))?;
    Ok(Arc::new(ApiState {
        cross_store_use: config.cross_store_use,
        webhook_private_targets: config.webhook_private_targets,
        rate: crate::api::rate::RateLimiter::new(
            config.rate_per_credential_per_s,
            config.rate_burst,
        ),
        admin_key_hash,
        manual_clock,
        registry,
        directory,
        closings,
        body_bytes_max: config.body_bytes_max,
        batch_body_bytes_max: config.batch_body_bytes_max,
        page_size_max: config.page_size_max,
        backup_root: config.backup_root(),
        metrics,
        default_time_zone: config.default_time_zone.name().to_owned(),
    }))
}

/// Runs the server until `shutdown` completes. Prints `listening on ADDR` once bound, which
/// is how tests that ask for port 0 learn the port.
pub async fn serve(
    config: Config,
    manual_clock: Option<crate::domain::ledger::Timestamp>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    serve_with(config, manual_clock, shutdown, Durability::Synced).await
}

/// As `serve`, with the journal's durability: the server binary always passes `Synced`.
pub async fn serve_with(
    config: Config,
    manual_clock: Option<crate::domain::ledger::Timestamp>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    durability: Durability,
) -> Result<(), StartError> {
    let state = match manual_clock {
        Some(start) => {
            let clock = Arc::new(ManualClock::new(start));
            start_core(&config, clock.clone(), Some(clock), durability).await?
        }
        None => start_core(&config, Arc::new(SystemClock), None, durability).await?,
    };
    let routes = api::routes(state);
    let (addr, server) = warp::serve(routes)
        .try_bind_with_graceful_shutdown(config.listen, shutdown)
        .map_err(|e| StartError::Bind {
            addr: config.listen,
            source: std::io::Error::other(e.to_string()),
        })?;
    println!("listening on {addr}");
    tracing::info!(%addr, "listening");
    server.await;
    Ok(())
}

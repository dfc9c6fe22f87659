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
    let relays = crate::storage::completion::Relays::new(config.actor_threads);
    let journal = Journal::start_with(storage.db(), durability, relays.clone());
    let arbiters = start_arbiters(config.actor_threads)?;
    for (i, arbiter) in arbiters.iter().enumerate() {
        if !arbiter.spawn(relays.clone().run(i)) {
            return Err(StartError::Threads("an actor thread stopped".into()));
        }
    }
    let registry = Registry::new(
        arbiters,
        storage.clone(),
        journal,
        clock,
        config.reminder_lead,
        config.waitlist_offer,
        config.bin_retention_days,
    );
    registry.publish_catalog(storage.catalog(config.point_value)?);
    for (member, home) in storage.homes()? {
        registry.publish_home(member, home);
    }
    let mut log = registry.journal.log();
    for batch in storage.name_index_backfill()? {
        log.submit(batch)
            .durable()
            .await
            .map_err(|e| StartError::Threads(format!("name index: {e}")))?;
    }
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
    let routes = api::routes(state.clone());
    if config.http_on_actor_threads {
        return serve_on_arbiters(routes, state.registry.arbiters(), config.listen, shutdown).await;
    }
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

/// Pending connections a listener holds before the kernel refuses more.
const LISTEN_BACKLOG: u32 = 1024;
/// Pause after a failed accept (out of file descriptors): the listener must not spin.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// A listener on `addr` that others may share (SO_REUSEPORT): the kernel spreads new
/// connections across them. Made in the calling runtime, handed over as a std listener.
fn shared_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

/// Accepted connections, for ever: an accept error is logged and retried, since hyper would
/// end the server on it.
fn accepted(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    return Some((Ok(stream), listener));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    })
}

/// Serves `routes` on every arbiter, each with its own listener on one shared port. A
/// request then runs on the thread that accepted its connection, and when the actor it
/// asks lives there too, the message and the answer never wake another thread; only the
/// journal crosses: the submission to its thread, and the wake once it is durable.
async fn serve_on_arbiters<F>(
    routes: F,
    arbiters: Vec<ArbiterHandle>,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError>
where
    F: warp::Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let bind_error = |source| StartError::Bind {
        addr: listen,
        source,
    };
    // SO_REUSEPORT would let this server join another's listeners on a port already in use
    // (a second instance of the same user) and split the traffic between the two: a plain
    // bind first fails on a port that is taken.
    let probe = std::net::TcpListener::bind(listen).map_err(bind_error)?;
    let listen = probe.local_addr().map_err(bind_error)?;
    drop(probe);
    let first = shared_listener(listen).map_err(bind_error)?;
    let addr = first.local_addr().map_err(bind_error)?;
    let mut listeners = vec![first];
    for _ in 1..arbiters.len() {
        listeners.push(shared_listener(addr).map_err(bind_error)?);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stopped = Vec::with_capacity(arbiters.len());
    for (arbiter, listener) in arbiters.iter().zip(listeners) {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let (routes, mut stop) = (routes.clone(), stop_rx.clone());
        let server = async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "registering a listener");
                    return;
                }
            };
            let signal = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            warp::serve(routes)
                .serve_incoming_with_graceful_shutdown(accepted(listener), signal)
                .await;
            let _ = done_tx.send(());
        };
        if !arbiter.spawn(server) {
            return Err(StartError::Threads("an actor thread has stopped".into()));
        }
        stopped.push(done_rx);
    }
    println!("listening on {addr}");
    tracing::info!(%addr, threads = arbiters.len(), "listening on the actor threads");
    shutdown.await;
    let _ = stop_tx.send(true);
    for done in stopped {
        let _ = done.await;
    }
    Ok(())
}

//! `handoff run`: opens the store, connects the bridges the config names,
//! starts the router, drains the outbox left from the last run, and ticks
//! the timers until Ctrl-C or SIGTERM.
//!
//! Bridges are compiled in through cargo features (`matrix`, `slack`, both
//! on by default) so the core builds and tests without network SDKs; a
//! config that needs a bridge this build lacks is refused with a message
//! naming the feature.

use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::BridgeState;

use crate::config::Config;
use crate::conversation::Engine;
use crate::faq::Faq;
use crate::http::HttpState;
use crate::reload::{FaqLoader, FaqReloader};
use crate::router::{Clock, Router, Shared, ShiftedClock, SystemClock};
use crate::store::sled::SledStore;
use crate::store::Store;

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{network} bridge")]
    Bridge {
        network: &'static str,
        source: handoff_bridge_api::BridgeError,
    },
    #[error("the config needs the {0} bridge, but this build of handoff has none (build with `--features {0}`)")]
    MissingBridge(String),
    #[error("nothing to connect: configure the network your customers write on, and a desk")]
    NoBridges,
    #[error("{0}")]
    Setup(String),
    #[error("the {network} bridge stopped (handoff exits so that it can be fixed and restarted)")]
    BridgeStopped {
        network: String,
        source: handoff_bridge_api::BridgeError,
    },
    /// Something that must not be worked around failed while running (a
    /// store write: disk full, I/O error; credentials a network revoked):
    /// handoff stops rather than go on losing work.
    #[error("{0}; handoff stopped so that nothing is lost: fix the cause (free space, repair the store, renew the token) and start it again; unfinished work is picked up")]
    Stopped(String),
}

/// How often timers (SLA, abandonment, queue position) are checked.
pub const TICK: Duration = Duration::from_secs(15);

/// A bridge's view of the store: keys namespaced by network.
pub struct StoreBridgeState {
    pub store: Arc<dyn Store>,
    pub network: &'static str,
}

impl BridgeState for StoreBridgeState {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.store
            .bridge_get(self.network, key)
            .map_err(|e| e.to_string())
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.store
            .bridge_put(self.network, key, value)
            .map_err(|e| e.to_string())
    }
    fn put_lazy(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.store
            .bridge_put_lazy(self.network, key, value)
            .map_err(|e| e.to_string())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.store
            .bridge_delete(self.network, key)
            .map_err(|e| e.to_string())
    }
}

/// Runs until shut down. `reload` loads the FAQ again when its file
/// changes or on SIGHUP (see `reload.rs`).
pub fn run(config: Config, faq: Faq, reload: FaqLoader) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Setup(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(config, faq, reload))
}

async fn serve(config: Config, faq: Faq, reload: FaqLoader) -> Result<(), DaemonError> {
    let sled = Arc::new(SledStore::open(&config.bot.store)?);
    let store: Arc<dyn Store> = sled.clone();
    for d in &config.deprecations {
        tracing::warn!(deprecated = %d, "deprecated config key");
    }
    tracing::info!(store = %config.bot.store.display(), "store opened");
    let clock = clock()?;
    let config = Arc::new(config);
    let http = start_http(&config, &sled, &clock).await?;
    let bridges = crate::bridges::connect(&config, &store).await?;
    let mut customer_networks: Vec<&String> = bridges
        .iter()
        .filter(|(_, b)| b.capabilities().customers)
        .map(|(name, _)| name)
        .collect();
    if customer_networks.is_empty() {
        return Err(DaemonError::NoBridges);
    }
    // Before the first event: every customer-side series exists at 0.
    customer_networks.sort();
    crate::metrics::zero_customer_counters(&config, &customer_networks);
    if let Some(http) = &http {
        let _ = http.bridges.set(bridges.clone());
    }
    let engine = Engine::new(config.clone(), Arc::new(faq)).map_err(DaemonError::Setup)?;
    let reloader = Arc::new(FaqReloader::new(
        config.bot.faq.clone(),
        reload,
        engine.shared_faq(),
    ));
    let watcher = tokio::spawn(reloader.watch(crate::reload::poll_interval()));
    let router = Router::new(Shared {
        engine: Arc::new(engine),
        store: store.clone(),
        bridges: bridges.clone(),
        clock,
        retry: Default::default(),
    });
    if let Some(http) = &http {
        let _ = http.router.set(router.clone());
    }
    let pending = router.drain_outbox().await?;
    if pending > 0 {
        tracing::info!(pending, "delivering actions left from the last run");
    }
    let (tx, mut rx) = handoff_bridge_api::inbound_channel(1024);
    let mut failures = router.failures();
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    for (name, bridge) in &bridges {
        let (bridge, tx, name) = (bridge.clone(), tx.clone(), name.clone());
        let ended_tx = ended_tx.clone();
        tokio::spawn(async move {
            let result = bridge.run(tx).await;
            let _ = ended_tx.send((name, result));
        });
    }
    drop(ended_tx);
    drop(tx);
    let ticker = {
        let router = router.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(tick_interval());
            loop {
                every.tick().await;
                router.tick_open_cases();
            }
        })
    };
    let retention = config.privacy.keep.map(|keep| {
        let router = router.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RETENTION_EVERY);
            loop {
                every.tick().await;
                match router.expire(keep).await {
                    Ok(e) if e.cases + e.conversations > 0 => tracing::info!(
                        cases = e.cases,
                        conversations = e.conversations,
                        "retention: erased what is older than [privacy] keep"
                    ),
                    Ok(_) => {}
                    // Tried again on the next round; nothing half-written.
                    Err(e) => tracing::error!(error = %e, "retention run failed"),
                }
            }
        })
    });
    tracing::info!(networks = ?bridges.keys().collect::<Vec<_>>(), "handoff is running");
    let ready = tokio::spawn(crate::notify::ready_when_connected(bridges.clone()));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            ev = rx.recv_tracked() => match ev {
                Some(ev) => router.dispatch_tracked(ev.event, ev.ack).await,
                None => break,
            },
            Some((network, result)) = ended.recv() => match result {
                // A bridge that cannot go on (credentials revoked, its
                // state unwritable) stops the daemon: half a daemon would
                // look healthy to a supervisor while customers wait.
                Err(source) => {
                    ticker.abort();
                    watcher.abort();
                    return Err(DaemonError::BridgeStopped { network, source });
                }
                Ok(()) => tracing::info!(%network, "bridge finished"),
            },
            Ok(()) = failures.changed() => {
                if let Some(failure) = failures.borrow().clone() {
                    ticker.abort();
                    watcher.abort();
                    return Err(DaemonError::Stopped(failure));
                }
            }
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                crate::notify::stopping();
                break;
            }
        }
    }
    ticker.abort();
    ready.abort();
    if let Some(r) = retention {
        r.abort();
    }
    watcher.abort();
    Ok(())
}

/// Starts the `[metrics]` listener (metrics, health, `/api`), if
/// configured. It answers `/healthz` while the bridges still connect.
async fn start_http(
    config: &Arc<Config>,
    sled: &Arc<SledStore>,
    clock: &Arc<dyn Clock>,
) -> Result<Option<Arc<HttpState>>, DaemonError> {
    let store: Arc<dyn Store> = sled.clone();
    let Some(m) = &config.metrics else {
        return Ok(None);
    };
    let handle = crate::metrics::install(config).map_err(|e| DaemonError::Setup(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(&m.listen)
        .await
        .map_err(|e| {
            DaemonError::Setup(format!(
                "{}: [metrics] listen = {:?}: cannot listen there: {e}",
                config.path.display(),
                m.listen
            ))
        })?;
    let state = Arc::new(HttpState {
        metrics: Some(handle),
        store,
        config: config.clone(),
        clock: clock.clone(),
        bridges: Default::default(),
        router: Default::default(),
        sled: Some(sled.clone()),
    });
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| m.listen.clone());
    tracing::info!(%addr, "metrics and health on http://{addr}/metrics, /healthz, /readyz");
    let served = state.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::http::serve(listener, served).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(Some(state))
}

/// The system clock, or (tests, demos) one shifted so that the daemon
/// starts at `HANDOFF_FAKE_NOW` (RFC 3339) and runs on from there.
pub fn clock() -> Result<Arc<dyn Clock>, DaemonError> {
    match std::env::var("HANDOFF_FAKE_NOW") {
        Ok(v) => {
            let at: jiff::Timestamp = v.parse().map_err(|e| {
                DaemonError::Setup(format!(
                    "HANDOFF_FAKE_NOW={v:?} is not an RFC 3339 time: {e}"
                ))
            })?;
            let offset = at.as_millisecond() - SystemClock.now();
            tracing::warn!(now = %at, "running on a shifted clock (HANDOFF_FAKE_NOW)");
            Ok(Arc::new(ShiftedClock { offset }))
        }
        Err(_) => Ok(Arc::new(SystemClock)),
    }
}

/// How often the retention period is enforced (and once at the start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// `HANDOFF_TICK_MS` shortens the timer interval (tests).
fn tick_interval() -> Duration {
    std::env::var("HANDOFF_TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(TICK)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

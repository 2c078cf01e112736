//! The emulator as a running server: shared state (`Inner`), the listener
//! and router, start/stop, and the run-time switches tests flip.
//!
//! Not for the Web API methods (`api`), event transport (`delivery`) or the
//! agent/inspection helpers (`agent`, `inspect`). The invariant: all state
//! lives in `Inner`; dropping the `Emulator` stops the listener, closes
//! every socket and ends pending deliveries.

use crate::calls::{Call, CallLog};
use crate::config::EmulatorConfig;
use crate::delivery::Outbox;
use crate::error::EmulatorError;
use crate::faults::{Fault, Faults};
use crate::ratelimit::RateLimiter;
use crate::state::Workspace;
use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use tracing::{debug, warn};

/// Response extension telling the connection loop to drop the connection
/// instead of writing the response (the `Reset` faults).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

#[derive(Debug, thiserror::Error)]
#[error("connection reset by the emulator's fault switch")]
struct ConnectionReset;

/// Everything the handlers and background tasks share.
pub(crate) struct Inner {
    pub config: EmulatorConfig,
    pub base_url: String,
    pub ws: Mutex<Workspace>,
    pub calls: CallLog,
    pub faults: Faults,
    pub limiter: RateLimiter,
    pub outbox: Outbox,
    pub revoked: Mutex<HashSet<String>>,
    pub runtime: tokio::runtime::Handle,
    changed: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
}

impl Inner {
    pub fn workspace(&self) -> MutexGuard<'_, Workspace> {
        self.ws.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes everything waiting for a change (`wait_for_*`).
    pub fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn is_revoked(&self, token: &str) -> bool {
        self.revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token)
    }

    /// Sleeps for `d`; false if the emulator shut down meanwhile.
    pub async fn sleep(&self, d: Duration) -> bool {
        let mut rx = self.shutdown.subscribe();
        if *rx.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => !*rx.borrow(),
            _ = rx.changed() => false,
        }
    }

    pub fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// A running emulated Slack on 127.0.0.1. Dropping it shuts it down.
pub struct Emulator {
    pub(crate) inner: Arc<Inner>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds 127.0.0.1 on a free port and starts serving. Must be called
    /// inside a tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(EmulatorError::Bind)?;
        let addr = listener.local_addr().map_err(EmulatorError::Bind)?;
        let base_url = format!("http://{addr}");
        let inner = Arc::new(Inner {
            ws: Mutex::new(Workspace::new(&config, base_url.clone())),
            limiter: RateLimiter::new(config.rate_limits.clone()),
            outbox: Outbox::new(&config),
            config,
            base_url,
            calls: CallLog::default(),
            faults: Faults::default(),
            revoked: Mutex::new(HashSet::new()),
            runtime: tokio::runtime::Handle::current(),
            changed: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        });
        let router = router(inner.clone());
        let server = tokio::spawn(serve(listener, router));
        debug!(%addr, "slack emulator listening");
        Ok(Emulator { inner, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// `http://127.0.0.1:PORT/api/`, the Web API root in Slack's own form.
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.inner.base_url)
    }

    /// `http://127.0.0.1:PORT/api` (no trailing slash), for
    /// slack-morphism's `with_slack_api_url`, which appends `/method`.
    pub fn slack_api_url(&self) -> String {
        format!("{}/api", self.inner.base_url)
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    pub fn bot_token(&self) -> &str {
        &self.inner.config.bot_token
    }

    pub fn app_token(&self) -> &str {
        &self.inner.config.app_token
    }

    pub fn team_id(&self) -> &str {
        &self.inner.config.team_id
    }

    pub fn bot_user_id(&self) -> &str {
        &self.inner.config.bot_user_id
    }

    pub fn bot_id(&self) -> &str {
        &self.inner.config.bot_id
    }

    /// Every Web API call so far, in arrival order.
    pub fn all_calls(&self) -> Vec<Call> {
        self.inner.calls.all()
    }

    /// The calls of one method, in arrival order.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        let mut calls = self.inner.calls.all();
        calls.retain(|c| c.method == method);
        calls
    }

    /// Fails the next `n` calls of `method` with `fault`.
    pub fn fail_next(&self, method: &str, n: u32, fault: Fault) {
        self.inner.faults.fail_next(method, n, fault);
    }

    /// Fails every `k`-th call of `method` with `fault`, until cleared.
    pub fn fail_every(&self, method: &str, k: u32, fault: Fault) {
        self.inner.faults.fail_every(method, k, fault);
    }

    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Revokes a token: calls with it answer `token_revoked`; revoking the
    /// app token also closes its sockets.
    pub fn revoke_token(&self, token: &str) {
        self.inner
            .revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string());
        if token == self.inner.config.app_token {
            self.inner.outbox.socket.drop_all();
        }
    }

    /// Closes every Socket Mode connection abruptly (no close frame).
    pub fn drop_sockets(&self) {
        self.inner.outbox.socket.drop_all();
    }

    /// Sends each Socket Mode connection a `disconnect` message with
    /// `reason` (`warning`, `refresh_requested`, `link_disabled`), then
    /// closes it.
    pub fn disconnect_sockets(&self, reason: &str) {
        self.inner.outbox.socket.disconnect_all(reason);
    }

    /// Refuses websocket connections (HTTP 503) for `how_long`.
    pub fn refuse_connections(&self, how_long: Duration) {
        self.inner.outbox.socket.refuse_for(how_long);
    }

    /// Open Socket Mode connections.
    pub fn socket_count(&self) -> usize {
        self.inner.outbox.socket.connection_count()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
        self.inner.shutdown.send_replace(true);
        self.inner.outbox.socket.drop_all();
    }
}

fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(
            "/api/{method}",
            get(crate::api::handle).post(crate::api::handle),
        )
        .route("/link", get(crate::delivery::socket::upgrade))
        .route("/link/", get(crate::delivery::socket::upgrade))
        .route("/upload/v1/{file_id}", post(crate::api::files::upload))
        .route("/files-pri/{key}/{*rest}", get(crate::api::files::download))
        .route("/login", get(crate::api::files::login_page))
        .with_state(inner)
}

async fn serve(listener: TcpListener, router: Router) {
    // Connection tasks live in the set, so aborting `serve` ends them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(err) => {
                    warn!(error = %err, "slack emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let response = match router.oneshot(req.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<ResetConnection>().is_some() {
                return Err(ConnectionReset);
            }
            Ok::<_, ConnectionReset>(response)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await
    {
        debug!(error = %err, "slack emulator connection ended");
    }
}

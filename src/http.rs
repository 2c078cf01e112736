//! The `[metrics] listen` HTTP listener: `/metrics` (Prometheus),
//! `/healthz` (the process and its store work), `/readyz` (every bridge is
//! connected), and `/api/stats`, `/api/export` and `/api/gaps` for the
//! `stats`, `export` and `faq gaps` commands while `handoff run` holds the
//! store, `POST /api/backup?to=DIR` for `handoff backup` and `POST
//! /api/forget?customer=ID` for `handoff forget`.
//!
//! `/api` serves transcripts, so it answers only loopback clients that
//! name a loopback host and carry the `[metrics] api_token` ([`guard`]);
//! put `/metrics` behind your usual scrape network. Only `/api/forget`
//! writes to the store (through the router, see `crate::privacy`);
//! `/api/backup` writes only into the new directory it is given.
//! Connections, requests in flight and request time are bounded
//! ([`listener`], the layers in [`routes`]).

mod guard;
pub mod listener;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router as Routes;
use handoff_bridge_api::{Bridge, Millis};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;

use crate::config::Config;
use crate::report::{self, Format, Selection};
use crate::router::Clock;
use crate::store::sled::SledStore;
use crate::store::Store;

/// What the listener reads.
pub struct HttpState {
    /// None when metrics are not recorded (a second recorder in tests).
    pub metrics: Option<PrometheusHandle>,
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Set once the bridges are connected; until then not ready.
    pub bridges: OnceLock<HashMap<String, Arc<dyn Bridge>>>,
    /// The same store as `store`, for `/api/backup` (None: not backed up).
    pub sled: Option<Arc<SledStore>>,
    /// Set once the router runs: `/api/forget` erases through it.
    pub router: OnceLock<crate::router::Router>,
}

/// Requests handled at once; more wait (and time out) in line.
pub const MAX_IN_FLIGHT: usize = 16;
/// A request (waiting for a slot included) gets this long before a 408.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The routes, ready for `axum::serve` with connect info.
pub fn routes(state: Arc<HttpState>) -> Routes {
    Routes::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/stats", get(stats))
        .route("/api/export", get(export))
        .route("/api/backup", post(backup))
        .route("/api/forget", post(forget))
        .route("/api/gaps", get(gaps))
        .with_state(state)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_IN_FLIGHT,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

/// Serves `routes` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` also lets axum read the peer address (`ConnectInfo`) off a
    // listener of our own.
    let listener = listener::Limited::new(
        listener,
        listener::MAX_CONNECTIONS,
        listener::CONNECTION_LIFETIME,
    )
    .tap_io(listener::Conn::no_delay);
    axum::serve(
        listener,
        routes(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn connected(state: &HttpState) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = state
        .bridges
        .get()
        .map(|b| {
            b.iter()
                .map(|(name, b)| (name.clone(), b.is_connected()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let Some(handle) = &state.metrics else {
        return text(StatusCode::NOT_FOUND, "metrics are off\n".into());
    };
    let parked = state.store.outbox_parked().map(|p| p.len());
    match (state.store.open_cases(), parked) {
        (Ok(open), Ok(parked)) => {
            crate::metrics::refresh_gauges(&state.config, &open, parked, &connected(&state))
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot read the store for the gauges")
        }
    }
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    match state.store.is_seen("healthz") {
        Ok(_) => text(StatusCode::OK, "ok\n".into()),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unusable: {e}\n"),
        ),
    }
}

async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let bridges = connected(&state);
    if bridges.is_empty() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: connecting\n".into(),
        );
    }
    let body: String = bridges
        .iter()
        .map(|(n, up)| format!("{n}: {}\n", if *up { "connected" } else { "disconnected" }))
        .collect();
    if bridges.iter().all(|(_, up)| *up) {
        text(StatusCode::OK, format!("ready\n{body}"))
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{body}"),
        )
    }
}

/// Query of `/api/stats` and `/api/export`.
#[derive(Debug, Deserialize)]
pub struct ApiQuery {
    /// A duration back from now (`7d`, `24h`) or an RFC 3339 time.
    pub since: Option<String>,
    pub case: Option<u64>,
    pub format: Option<String>,
    /// `export`: customers as "customer-N".
    #[serde(default)]
    pub anonymize: bool,
    /// `/api/gaps`: how alike two questions must be to be grouped.
    pub min_similarity: Option<f32>,
}

/// Parses `--since`: a duration back from `now` or an RFC 3339 time.
pub fn parse_since(s: &str, now: Millis) -> Result<Millis, String> {
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(now - d.as_millis() as Millis);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            format!("--since {s:?}: give a duration back from now (7d, 24h) or a time (2026-11-01T00:00:00Z)")
        })
}

fn api_guard(peer: &SocketAddr, headers: &HeaderMap, state: &HttpState) -> Option<Response> {
    let token = state
        .config
        .metrics
        .as_ref()
        .and_then(|m| m.api_token.as_ref());
    guard::check(peer, headers, token).err().map(|r| {
        tracing::warn!(%peer, reason = r.reason, "refused an /api request");
        text(r.status, format!("{}\n", r.reason))
    })
}

async fn stats(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<HttpState>>,
    Query(q): Query<ApiQuery>,
) -> Response {
    if let Some(r) = api_guard(&peer, &headers, &state) {
        return r;
    }
    let now = state.clock.now();
    let since = match parse_since(q.since.as_deref().unwrap_or("7d"), now) {
        Ok(s) => s,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let format: report::StatsFormat = match q.format.as_deref().unwrap_or("text").parse() {
        Ok(f) => f,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let content_type = match format {
        report::StatsFormat::Json => "application/json",
        report::StatsFormat::Csv => "text/csv; charset=utf-8",
        report::StatsFormat::Text => "text/plain; charset=utf-8",
    };
    match report::stats(state.store.as_ref(), &state.config, since, now)
        .and_then(|s| s.format(format))
    {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

async fn export(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<HttpState>>,
    Query(q): Query<ApiQuery>,
) -> Response {
    if let Some(r) = api_guard(&peer, &headers, &state) {
        return r;
    }
    let format: Format = match q.format.as_deref().unwrap_or("jsonl").parse() {
        Ok(f) => f,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let selection = match (q.case, q.since.as_deref()) {
        (Some(id), None) => Selection::Case(id),
        (None, Some(s)) => match parse_since(s, state.clock.now()) {
            Ok(since) => Selection::Since(since),
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        },
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                "give exactly one of case=N or since=7d\n".into(),
            )
        }
    };
    match report::export(
        state.store.as_ref(),
        &state.config,
        selection,
        format,
        q.anonymize,
    ) {
        Ok(body) => text(StatusCode::OK, body),
        Err(e @ report::ReportError::NoSuchCase(_)) => {
            text(StatusCode::NOT_FOUND, format!("{e}\n"))
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Query of `POST /api/backup`.
#[derive(Debug, Deserialize)]
pub struct BackupQuery {
    /// An absolute path: a new or empty directory the daemon can write.
    pub to: String,
}

async fn backup(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<HttpState>>,
    Query(q): Query<BackupQuery>,
) -> Response {
    if let Some(r) = api_guard(&peer, &headers, &state) {
        return r;
    }
    let Some(store) = state.sled.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this daemon's store cannot be backed up\n".into(),
        );
    };
    let to = std::path::PathBuf::from(&q.to);
    if !to.is_absolute() {
        return text(
            StatusCode::BAD_REQUEST,
            format!("to={:?}: give an absolute path\n", q.to),
        );
    }
    let networks = crate::backup::network_dirs(store.path(), state.config.networks.keys());
    // The copy blocks writers for its duration; off the async threads.
    let done =
        tokio::task::spawn_blocking(move || crate::backup::backup(&store, &networks, &to)).await;
    match done {
        Ok(Ok(report)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&report).unwrap_or_default(),
        )
            .into_response(),
        Ok(Err(e @ crate::backup::BackupError::Refused { .. })) => {
            text(StatusCode::CONFLICT, format!("{e}\n"))
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the backup task failed: {e}\n"),
        ),
    }
}

/// Query of `POST /api/forget`.
#[derive(Debug, Deserialize)]
pub struct ForgetQuery {
    /// `network:id` or a user id.
    pub customer: String,
}

async fn forget(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<HttpState>>,
    Query(q): Query<ForgetQuery>,
) -> Response {
    if let Some(r) = api_guard(&peer, &headers, &state) {
        return r;
    }
    let Some(router) = state.router.get() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is still starting; try again in a moment\n".into(),
        );
    };
    let now = state.clock.now();
    let planned = crate::privacy::plan_forget(
        state.store.as_ref(),
        &q.customer,
        now,
        &crate::bridges::customer_records,
    );
    let (plan, cases) = match planned {
        Ok(p) => p,
        Err(e @ crate::privacy::ForgetError::OpenCase { .. }) => {
            return text(StatusCode::CONFLICT, format!("{e}\n"));
        }
        Err(e @ crate::privacy::ForgetError::Empty(_)) => {
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    };
    match router.erase(&plan).await {
        Ok(erased) => {
            tracing::info!(cases = cases.len(), "a customer was forgotten on request");
            let report = crate::privacy::Forgotten {
                who: q.customer.trim().to_string(),
                cases,
                erased,
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_string(&report).unwrap_or_default(),
            )
                .into_response()
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

async fn gaps(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<HttpState>>,
    Query(q): Query<ApiQuery>,
) -> Response {
    if let Some(r) = api_guard(&peer, &headers, &state) {
        return r;
    }
    let now = state.clock.now();
    let since = match parse_since(q.since.as_deref().unwrap_or("7d"), now) {
        Ok(s) => s,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let similarity = q
        .min_similarity
        .unwrap_or(crate::faq::cluster::DEFAULT_MIN_SIMILARITY);
    // Grouping vectorises every question: off the async workers.
    let (store, config) = (state.store.clone(), state.config.clone());
    let result = tokio::task::spawn_blocking(move || {
        report::gaps(store.as_ref(), &config, since, now, similarity)
    })
    .await;
    match result {
        Ok(Ok(g)) if q.format.as_deref() == Some("json") => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string_pretty(&g).unwrap_or_default(),
        )
            .into_response(),
        Ok(Ok(g)) => text(StatusCode::OK, g.render()),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

#[cfg(test)]
mod tests;

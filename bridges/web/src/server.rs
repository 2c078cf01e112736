//! The widget's HTTP surface (axum): `/widget.js`, `/widget.css`, the
//! theme at `/widget/settings`, the demo host page `/demo` and the
//! WebSocket at `/ws`. Every request with a foreign `Origin` gets 403; the
//! WebSocket handshake must name an allowed one. Responses to allowed
//! origins carry the CORS header so an embedding site can read them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, VARY,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tracing::debug;

use crate::bridge::Inner;
use crate::conn;

/// The widget script (vanilla JS, no eval, text rendered with textContent).
pub const WIDGET_JS: &str = include_str!("assets/widget.js");
/// Its stylesheet (a file, so strict CSPs need no inline styles).
pub const WIDGET_CSS: &str = include_str!("assets/widget.css");
const DEMO_HTML: &str = include_str!("assets/demo.html");

/// Largest WebSocket message read at all; text over `max_message_chars`
/// but under this is answered with an error frame.
const MAX_WS_MESSAGE: usize = 64 * 1024;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/widget.js", get(widget_js))
        .route("/widget.css", get(widget_css))
        .route("/widget/settings", get(widget_settings))
        .route("/demo", get(demo))
        .route("/ws", get(ws))
        .layer(middleware::from_fn_with_state(inner.clone(), check_origin))
        .with_state(inner)
}

async fn check_origin(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(ORIGIN).cloned();
    if let Some(o) = &origin {
        let allowed = o.to_str().is_ok_and(|o| inner.origins.allows(o));
        if !allowed {
            debug!(origin = ?o, path = %req.uri().path(), "refused a foreign origin");
            return (
                StatusCode::FORBIDDEN,
                "this origin may not use the widget\n",
            )
                .into_response();
        }
    }
    let mut resp = next.run(req).await;
    if let Some(o) = origin {
        resp.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    resp.headers_mut()
        .insert(VARY, HeaderValue::from_static("Origin"));
    resp
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, kind), (CACHE_CONTROL, "public, max-age=300")],
        body,
    )
        .into_response()
}

async fn widget_js() -> Response {
    asset("text/javascript; charset=utf-8", WIDGET_JS)
}

async fn widget_css() -> Response {
    asset("text/css; charset=utf-8", WIDGET_CSS)
}

async fn widget_settings(State(inner): State<Arc<Inner>>) -> Response {
    let t = &inner.settings.theme;
    Json(serde_json::json!({
        "title": t.title,
        "greeting": t.greeting,
        "color": t.color,
        "position": t.position,
        "max_message_chars": inner.settings.limits.max_message_chars,
    }))
    .into_response()
}

/// The public URL without a trailing slash, as `url` serialises it (so
/// quotes and angle brackets are percent-encoded, safe in an attribute).
fn public_base(inner: &Inner) -> String {
    url::Url::parse(&inner.settings.public_url)
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .unwrap_or_default()
}

async fn demo(State(inner): State<Arc<Inner>>) -> Response {
    let page = DEMO_HTML.replace("{{BASE}}", &public_base(&inner));
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            // The demo proves the widget needs no inline script or style.
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
        ],
        page,
    )
        .into_response()
}

async fn ws(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers always send Origin on a WebSocket handshake; `check_origin`
    // already refused a foreign one, here a missing one is refused too.
    if !headers.contains_key(ORIGIN) {
        return (
            StatusCode::FORBIDDEN,
            "a widget connection must name its Origin\n",
        )
            .into_response();
    }
    if let Err(wait) = inner.limits.ip(peer.ip()) {
        let secs = wait.as_secs().max(1).to_string();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, secs)],
            "too many connections from this address\n",
        )
            .into_response();
    }
    upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| conn::serve(inner, socket, peer.ip()))
}

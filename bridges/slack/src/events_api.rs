//! The Events API listener (axum): verifies each request's signature and
//! age, answers `url_verification`, and acknowledges events and
//! interactions at once, handing them to the inbound worker (work happens
//! after the ack, well inside Slack's 3 s).
//!
//! Not for translating payloads (`translate`). The invariant: nothing that
//! fails the signature or 5-minute check is parsed or forwarded (401); a
//! body over [`MAX_BODY_BYTES`] is refused (413) without reading past the
//! limit; every refusal is a 4xx with a log line saying why, never a
//! crash, and the listener keeps serving. Slack's retries
//! (`X-Slack-Retry-Num`) are forwarded like first deliveries, since their
//! event ids match and the core dedupes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use handoff_bridge_api::BridgeError;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::bridge::Inner;
use crate::inbound::Raw;
use crate::limits::MAX_BODY_BYTES;
use crate::signature::verify_signature;
use crate::{ts, NETWORK};

#[derive(Clone)]
struct Ctx {
    secret: Arc<String>,
    raw: mpsc::UnboundedSender<Raw>,
}

/// Serves `/slack/events` and `/slack/interactive` (both accept either
/// kind of request) until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    inner: Arc<Inner>,
    raw: mpsc::UnboundedSender<Raw>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), BridgeError> {
    let ctx = Ctx {
        secret: Arc::new(inner.cfg.signing_secret.clone().unwrap_or_default()),
        raw,
    };
    let app = Router::new()
        .route("/slack/events", post(handle))
        .route("/slack/interactive", post(handle))
        .route("/", post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ctx);
    info!(addr = ?listener.local_addr().ok(), "slack events API listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
        .map_err(|e| BridgeError::Unavailable {
            network: NETWORK.into(),
            detail: format!("events API listener: {e}"),
        })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A refusal: the status and a one-line reason (also the response body).
fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

async fn handle(
    State(ctx): State<Ctx>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let path = uri.path();
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            warn!(
                path,
                limit_bytes = MAX_BODY_BYTES,
                "events API request body over the limit refused (413)"
            );
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(rejection) => {
            warn!(path, error = %rejection, "events API request body unreadable");
            return refuse(rejection.status(), "request body unreadable");
        }
    };
    let (Some(timestamp), Some(signature)) = (
        header_str(&headers, "x-slack-request-timestamp"),
        header_str(&headers, "x-slack-signature"),
    ) else {
        warn!(path, "events API request without signature headers refused");
        return refuse(StatusCode::UNAUTHORIZED, "missing Slack signature headers");
    };
    if let Err(e) = verify_signature(&ctx.secret, timestamp, &body, signature, ts::now_secs()) {
        warn!(path, error = %e, "events API request refused");
        return refuse(StatusCode::UNAUTHORIZED, "bad Slack signature or timestamp");
    }
    let retry = header_str(&headers, "x-slack-retry-num");
    let is_form = header_str(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        return interaction(&ctx, &body);
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        warn!(path, "events API body is not JSON; ignored");
        return refuse(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    match payload["type"].as_str() {
        Some("url_verification") => {
            let challenge = payload["challenge"].as_str().unwrap_or_default();
            axum::Json(json!({ "challenge": challenge })).into_response()
        }
        Some("event_callback") => {
            debug!(event_id = ?payload["event_id"].as_str(), ?retry, "events API delivery");
            let _ = ctx.raw.send(Raw::Event(payload));
            StatusCode::OK.into_response()
        }
        other => {
            debug!(?other, "events API request type not handled");
            StatusCode::OK.into_response()
        }
    }
}

fn interaction(ctx: &Ctx, body: &[u8]) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let payload = form
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(v).ok());
    match payload {
        Some(p) => {
            let _ = ctx.raw.send(Raw::Interaction(p));
            StatusCode::OK.into_response()
        }
        None => {
            warn!("interaction request without a readable payload");
            refuse(StatusCode::BAD_REQUEST, "no readable payload= field")
        }
    }
}

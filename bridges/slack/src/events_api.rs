//! The Events API listener (axum): verifies each request's signature and
//! age, answers `url_verification`, and hands events and interactions to
//! the inbound worker, answering 200 only once the core stored what they
//! carry. Slack wants an answer within 3 s: when the commit does not come
//! within [`ACK_DEADLINE`] the answer is a 503, so Slack retries
//! (`X-Slack-Retry-Num`) and the core dedupes the retry on its event id.
//!
//! Not for translating payloads (`translate`). The invariant: nothing that
//! fails the signature or 5-minute check is parsed or forwarded (401); a
//! body over [`MAX_BODY_BYTES`] is refused (413) without reading past the
//! limit; every refusal is a 4xx with a log line saying why, never a
//! crash, and the listener keeps serving; nothing is answered 200 before
//! the core's commit. Slack's retries (`X-Slack-Retry-Num`) are forwarded
//! like first deliveries, since their event ids match and the core
//! dedupes.

use std::sync::Arc;
use std::time::Duration;

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
use crate::inbound::{self, Job, Raw};
use crate::limits::MAX_BODY_BYTES;
use crate::signature::verify_signature;
use crate::{ts, NETWORK};

/// How long a request waits for the core's commit before it is answered
/// 503 (Slack gives up on an answer after 3 s and retries).
const ACK_DEADLINE: Duration = Duration::from_millis(2500);

#[derive(Clone)]
struct Ctx {
    secret: Arc<String>,
    raw: mpsc::Sender<Job>,
}

/// Serves `/slack/events` and `/slack/interactive` (both accept either
/// kind of request) until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    inner: Arc<Inner>,
    raw: mpsc::Sender<Job>,
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
    if std::str::from_utf8(&body).is_err() {
        // Slack's bodies are JSON or form text; slack-morphism's verifier
        // reads the body as text.
        warn!(path, "events API request body is not UTF-8; refused");
        return refuse(StatusCode::BAD_REQUEST, "request body is not UTF-8");
    }
    if let Err(e) = verify_signature(&ctx.secret, timestamp, &body, signature, ts::now_secs()) {
        warn!(path, error = %e, "events API request refused");
        return refuse(StatusCode::UNAUTHORIZED, "bad Slack signature or timestamp");
    }
    let retry = header_str(&headers, "x-slack-retry-num");
    let is_form = header_str(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        return interaction(&ctx, &body).await;
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
            hand_over(&ctx, Raw::Event(payload)).await
        }
        other => {
            debug!(?other, "events API request type not handled");
            StatusCode::OK.into_response()
        }
    }
}

/// Hands `raw` to the worker and answers 200 once the core stored it, or
/// 503 (Slack retries) when that did not happen by [`ACK_DEADLINE`].
async fn hand_over(ctx: &Ctx, raw: Raw) -> Response {
    let waited = tokio::time::timeout(ACK_DEADLINE, async {
        let stored = inbound::submit(&ctx.raw, raw).await.ok()?;
        stored.await.ok()
    })
    .await;
    match waited {
        Ok(Some(true)) => StatusCode::OK.into_response(),
        Ok(_) => {
            warn!("the core did not store an events API delivery; answered 503 for a retry");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "not stored; retry")
        }
        Err(_) => {
            debug!("the core's commit did not come within the deadline; answered 503 for a retry");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "not stored yet; retry")
        }
    }
}

async fn interaction(ctx: &Ctx, body: &[u8]) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let payload = form
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(v).ok());
    match payload {
        Some(p) => hand_over(ctx, Raw::Interaction(p)).await,
        None => {
            warn!("interaction request without a readable payload");
            refuse(StatusCode::BAD_REQUEST, "no readable payload= field")
        }
    }
}

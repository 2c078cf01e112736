//! Events API delivery: signed HTTP POSTs of `event_callback`s with
//! Slack's retries, form-encoded `payload=` interactions, and the
//! `url_verification` challenge.
//!
//! Not for Socket Mode (`socket`). The invariant: every request carries
//! `X-Slack-Request-Timestamp` and an `X-Slack-Signature` over exactly the
//! bytes sent; a retry repeats the body with `X-Slack-Retry-Num` and
//! `X-Slack-Retry-Reason` and a fresh timestamp and signature.

use super::{DeliveryKind, DeliveryOutcome, DeliveryRecord};
use crate::config::Delivery as DeliveryMode;
use crate::emulator::Inner;
use crate::error::EmulatorError;
use crate::signing::sign;
use crate::ts::now_secs;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tracing::debug;

/// How one POST ended.
#[derive(Debug)]
enum Answer {
    Status {
        status: u16,
        no_retry: bool,
        body: Bytes,
    },
    Timeout,
    ConnectionFailed,
}

async fn post_signed(
    url: &str,
    secret: &str,
    content_type: &str,
    body: &str,
    retry: Option<(u32, &str)>,
    timeout: Duration,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let timestamp = now_secs().to_string();
    let mut request = hyper::Request::post(url)
        .header("content-type", content_type)
        .header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        .header("x-slack-request-timestamp", &timestamp)
        .header(
            "x-slack-signature",
            sign(secret, &timestamp, body.as_bytes()),
        );
    if let Some((num, reason)) = retry {
        request = request
            .header("x-slack-retry-num", num.to_string())
            .header("x-slack-retry-reason", reason);
    }
    let Ok(request) = request.body(Full::new(Bytes::from(body.to_string()))) else {
        return Answer::ConnectionFailed;
    };
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status().as_u16();
        let no_retry = response
            .headers()
            .get("x-slack-no-retry")
            .is_some_and(|v| v.as_bytes() == b"1");
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, no_retry, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Answer::Timeout,
        Ok(None) => Answer::ConnectionFailed,
        Ok(Some((status, no_retry, body))) => Answer::Status {
            status,
            no_retry,
            body,
        },
    }
}

/// Delivers one event (with retries) or one interaction (no retries).
/// `first_attempt` above 0 makes the first POST a retry with that
/// `X-Slack-Retry-Num` (a redelivery after an answer Slack did not see).
pub(crate) async fn deliver(
    inner: Arc<Inner>,
    kind: DeliveryKind,
    payload: Value,
    first_attempt: u32,
) {
    let DeliveryMode::EventsApi {
        events_url,
        interactivity_url,
        signing_secret,
    } = &inner.config.delivery
    else {
        return;
    };
    let (url, content_type, body) = match kind {
        DeliveryKind::Event => (events_url.clone(), "application/json", payload.to_string()),
        DeliveryKind::Interaction => {
            let Some(url) = interactivity_url.clone() else {
                debug!("no interactivity URL configured; interaction dropped");
                return;
            };
            let body =
                serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap_or_default();
            (url, "application/x-www-form-urlencoded", body)
        }
    };
    let event_id = payload["event_id"].as_str().map(str::to_string);
    let mut retry: Option<(u32, &'static str)> =
        (first_attempt > 0).then_some((first_attempt, "http_timeout"));
    for attempt in first_attempt.. {
        let record = inner.outbox.record(DeliveryRecord {
            kind,
            event_id: event_id.clone(),
            envelope_id: None,
            attempt,
            outcome: DeliveryOutcome::Pending,
            payload: payload.clone(),
        });
        inner.bump();
        let answer = post_signed(
            &url,
            signing_secret,
            content_type,
            &body,
            retry,
            inner.config.http_timeout,
        )
        .await;
        let (outcome, reason, stop) = match &answer {
            Answer::Status {
                status, no_retry, ..
            } => (
                DeliveryOutcome::Status(*status),
                "http_error",
                (200..300).contains(status) || *no_retry,
            ),
            Answer::Timeout => (DeliveryOutcome::TimedOut, "http_timeout", false),
            Answer::ConnectionFailed => (
                DeliveryOutcome::ConnectionFailed,
                "connection_failed",
                false,
            ),
        };
        inner.outbox.update(record, |r| r.outcome = outcome);
        inner.bump();
        // Slack does not retry interactions.
        if stop || kind == DeliveryKind::Interaction || inner.is_shut_down() {
            return;
        }
        let Some(delay) = inner.config.retry_delays.get(attempt as usize).copied() else {
            return;
        };
        if !inner.sleep(delay).await {
            return;
        }
        retry = Some((attempt + 1, reason));
    }
}

/// Sends Slack's `url_verification` challenge and checks the answer (plain
/// text, JSON `{"challenge"}` or form `challenge=`).
pub(crate) async fn verify_url(inner: &Inner) -> Result<(), EmulatorError> {
    let DeliveryMode::EventsApi {
        events_url,
        signing_secret,
        ..
    } = &inner.config.delivery
    else {
        return Err(EmulatorError::NotEventsApi);
    };
    let challenge = format!("challenge-{}", crate::ids::uuid());
    let body = json!({
        "token": "emulatorverificationtoken",
        "challenge": challenge,
        "type": "url_verification",
    })
    .to_string();
    let answer = post_signed(
        events_url,
        signing_secret,
        "application/json",
        &body,
        None,
        inner.config.http_timeout,
    )
    .await;
    let Answer::Status { status, body, .. } = answer else {
        return Err(EmulatorError::UrlVerification(format!("{answer:?}")));
    };
    if status != 200 {
        return Err(EmulatorError::UrlVerification(format!("HTTP {status}")));
    }
    let text = String::from_utf8_lossy(&body);
    let echoed = text.trim() == challenge
        || serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["challenge"] == challenge.as_str())
        || serde_urlencoded::from_str::<Vec<(String, String)>>(&text)
            .ok()
            .is_some_and(|pairs| {
                pairs
                    .iter()
                    .any(|(k, v)| k == "challenge" && *v == challenge)
            });
    if echoed {
        Ok(())
    } else {
        Err(EmulatorError::UrlVerification(format!(
            "the answer did not echo the challenge: {text}"
        )))
    }
}

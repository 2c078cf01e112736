//! Events API delivery to a real HTTP receiver: Slack's signature over the
//! exact body, retries with `X-Slack-Retry-Num`/`-Reason` after a timeout
//! or an error, `url_verification`, and form-encoded interactions.

use crate::common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use serde_json::{json, Value};
use slack_emulator::{sign, Delivery, EmulatorConfig};
use slack_morphism::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Received {
    path: &'static str,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn signature_is_valid(&self) -> bool {
        let ts = self.header("x-slack-request-timestamp").unwrap_or_default();
        self.header("x-slack-signature") == Some(sign(SECRET, &ts, &self.body))
    }
}

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<Received>,
    hits: Arc<AtomicUsize>,
    /// What the n-th event request gets: a delay, then a status.
    script: Arc<Vec<(Duration, StatusCode)>>,
}

async fn events(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let n = r.hits.fetch_add(1, Ordering::SeqCst);
    let _ = r.tx.send(Received {
        path: "events",
        headers,
        body: body.clone(),
    });
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if parsed["type"] == "url_verification" {
        return (
            StatusCode::OK,
            parsed["challenge"].as_str().unwrap_or("").to_string(),
        );
    }
    let (delay, status) = r
        .script
        .get(n)
        .copied()
        .unwrap_or((Duration::ZERO, StatusCode::OK));
    tokio::time::sleep(delay).await;
    (status, String::new())
}

async fn interactions(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = r.tx.send(Received {
        path: "interactions",
        headers,
        body,
    });
    StatusCode::OK
}

async fn receiver(
    script: Vec<(Duration, StatusCode)>,
) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        tx,
        hits: Arc::new(AtomicUsize::new(0)),
        script: Arc::new(script),
    };
    let app = Router::new()
        .route("/events", post(events))
        .route("/interactions", post(interactions))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, rx)
}

fn events_config(base: &str) -> EmulatorConfig {
    let mut config =
        EmulatorConfig::default().with_fast_retries(Duration::from_secs(1), Duration::ZERO);
    config.delivery = Delivery::EventsApi {
        events_url: format!("{base}/events"),
        interactivity_url: Some(format!("{base}/interactions")),
        signing_secret: SECRET.into(),
    };
    config
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a request in time")
        .expect("receiver alive")
}

#[tokio::test]
async fn signed_events_are_retried_with_slacks_headers() {
    let (base, mut rx) = receiver(vec![
        (Duration::from_secs(3), StatusCode::OK),
        (Duration::ZERO, StatusCode::INTERNAL_SERVER_ERROR),
        (Duration::ZERO, StatusCode::OK),
    ])
    .await;
    let emu = emulator(events_config(&base)).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    emu.post_as("alice", &channel, None, "hello over http")
        .unwrap();

    let attempts = [
        recv(&mut rx).await,
        recv(&mut rx).await,
        recv(&mut rx).await,
    ];
    for a in &attempts {
        assert!(a.signature_is_valid(), "signature over the exact body");
        assert_eq!(
            a.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(a.body, attempts[0].body, "a retry repeats the body");
        let push: SlackPushEvent =
            serde_json::from_slice(&a.body).expect("slack-morphism parses it");
        assert!(matches!(push, SlackPushEvent::EventCallback(_)));
    }
    assert_eq!(attempts[0].header("x-slack-retry-num"), None);
    assert_eq!(
        attempts[1].header("x-slack-retry-num").as_deref(),
        Some("1")
    );
    assert_eq!(
        attempts[1].header("x-slack-retry-reason").as_deref(),
        Some("http_timeout")
    );
    assert_eq!(
        attempts[2].header("x-slack-retry-num").as_deref(),
        Some("2")
    );
    assert_eq!(
        attempts[2].header("x-slack-retry-reason").as_deref(),
        Some("http_error")
    );
    let body: Value = serde_json::from_slice(&attempts[0].body).unwrap();
    assert_eq!(body["event"]["text"], "hello over http");
    assert_eq!(body["team_id"], emu.team_id());

    // Answered 2xx: no fourth attempt.
    let fourth = tokio::time::timeout(Duration::from_millis(1500), rx.recv()).await;
    assert!(fourth.is_err(), "no retry after success");
}

#[tokio::test]
async fn url_verification_echoes_the_challenge() {
    let (base, mut rx) = receiver(Vec::new()).await;
    let emu = emulator(events_config(&base)).await;
    emu.verify_events_url()
        .await
        .expect("receiver echoes the challenge");
    let request = recv(&mut rx).await;
    assert!(request.signature_is_valid());
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "url_verification");

    let mut wrong = events_config(&base);
    wrong.delivery = Delivery::EventsApi {
        events_url: format!("{base}/interactions"),
        interactivity_url: None,
        signing_secret: SECRET.into(),
    };
    let emu = emulator(wrong).await;
    assert!(
        emu.verify_events_url().await.is_err(),
        "an endpoint that does not echo fails"
    );
    let socket_mode = emulator(EmulatorConfig::default()).await;
    assert!(socket_mode.verify_events_url().await.is_err());
}

#[tokio::test]
async fn interactions_are_form_encoded_and_signed() {
    let (base, mut rx) = receiver(Vec::new()).await;
    let emu = emulator(events_config(&base)).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let blocks = json!([{"type": "actions", "elements": [
        {"type": "static_select", "action_id": "priority", "placeholder": {"type": "plain_text", "text": "Priority"},
         "options": [
            {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
            {"text": {"type": "plain_text", "text": "Low"}, "value": "low"}
         ]}
    ]}]);
    let posted = form(
        &emu,
        "chat.postMessage",
        Some(emu.bot_token()),
        &format!(
            "channel={channel}&text=pick&blocks={}",
            urlencode(&blocks.to_string())
        ),
    )
    .await
    .json();
    let ts = posted["ts"].as_str().unwrap().to_string();
    let echo = recv(&mut rx).await;
    assert_eq!(echo.path, "events");

    emu.select_option("alice", &channel, &ts, "priority", "low")
        .unwrap();
    let request = recv(&mut rx).await;
    assert_eq!(request.path, "interactions");
    assert!(request.signature_is_valid());
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].0, "payload");
    let payload: SlackInteractionEvent =
        serde_json::from_str(&pairs[0].1).expect("slack-morphism parses it");
    let SlackInteractionEvent::BlockActions(actions) = payload else {
        panic!("expected block_actions");
    };
    let action = &actions.actions.unwrap()[0];
    assert_eq!(action.action_id.0, "priority");
    assert_eq!(
        action.selected_option.as_ref().map(|o| o.value.as_str()),
        Some("low")
    );
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .unwrap()
        .trim_start_matches("x=")
        .to_string()
}

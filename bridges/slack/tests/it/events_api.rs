//! Events API mode: signed deliveries and interactions are processed,
//! `url_verification` is answered, unsigned / forged / stale requests get
//! 401 and are never forwarded, and Slack's retries keep their event ids.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use handoff_bridge_api::InboundReceiver;
use handoff_bridge_api::{Bridge, Endpoint, InboundKind};
use handoff_slack::{SlackBridge, SlackBridgeConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use slack_emulator::{Delivery, DeliveryKind, Emulator, EmulatorConfig};

pub(crate) const SECRET: &str = "test-signing-secret";

pub(crate) struct Setup {
    pub emu: Emulator,
    pub bridge: Arc<SlackBridge>,
    pub rx: InboundReceiver,
    pub url: String,
}

/// An emulator delivering over HTTP to a running Events API bridge.
pub(crate) async fn setup() -> Setup {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/slack/events");
    let config = EmulatorConfig {
        delivery: Delivery::EventsApi {
            events_url: url.clone(),
            interactivity_url: Some(format!("http://127.0.0.1:{port}/slack/interactive")),
            signing_secret: SECRET.into(),
        },
        ..EmulatorConfig::default()
    };
    let emu = emulator(config).await;
    let mut cfg =
        SlackBridgeConfig::events_api(emu.bot_token(), SECRET, format!("127.0.0.1:{port}"));
    cfg.api_url = Some(emu.slack_api_url());
    cfg.retry = socket_config(&emu).retry;
    let bridge = Arc::new(
        SlackBridge::connect(cfg, Arc::new(MemState::default()))
            .await
            .expect("connects"),
    );
    assert_eq!(bridge.events_addr().map(|a| a.port()), Some(port));
    let (tx, rx) = handoff_bridge_api::inbound_channel(64);
    let b = bridge.clone();
    tokio::spawn(async move { b.run(tx).await });
    Setup {
        emu,
        bridge,
        rx,
        url,
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// POSTs `body` with the given headers; returns the status.
async fn post(url: &str, body: &str, headers: &[(&str, String)]) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut req = hyper::Request::post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.expect("listener answers");
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

pub(crate) fn signed(secret: &str, ts: u64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-slack-request-timestamp", ts.to_string()),
        (
            "x-slack-signature",
            slack_emulator::sign(secret, &ts.to_string(), body.as_bytes()),
        ),
    ]
}

/// The event_callback the emulator delivered for a message with `ts`.
pub(crate) fn delivered_payload(emu: &Emulator, ts: &str) -> String {
    emu.deliveries()
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Event && d.payload["event"]["ts"] == ts)
        .expect("delivered")
        .payload
        .to_string()
}

#[tokio::test]
async fn signed_deliveries_and_interactions_are_processed() {
    let Setup {
        emu,
        bridge,
        mut rx,
        ..
    } = setup().await;
    emu.verify_events_url()
        .await
        .expect("url_verification answered");
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ep = Endpoint::new("slack", &channel).in_thread(&root);
    let ts = emu
        .post_as("bob", &channel, Some(&root), "hello over http")
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.event_id, format!("{channel}:{ts}"));
    assert_eq!(ev.endpoint, ep);
    emu.press_button("bob", &channel, &root, "claim", None)
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    assert!(matches!(ev.kind, InboundKind::Button { ref action, .. } if action == "claim"));
    assert!(bridge.is_connected());
}

#[tokio::test]
async fn unsigned_forged_and_stale_requests_get_401_and_are_not_forwarded() {
    let Setup {
        emu,
        bridge,
        mut rx,
        url,
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ts = emu
        .post_as("bob", &channel, Some(&root), "genuine")
        .unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{ts}"));
    // A different, never-seen message, replayed by an attacker.
    let forged_body = delivered_payload(&emu, &ts)
        .replace("genuine", "forged")
        .replace(&ts, "1.000001");

    assert_eq!(post(&url, &forged_body, &[]).await, 401, "unsigned");
    assert_eq!(
        post(
            &url,
            &forged_body,
            &signed("wrong-secret", now(), &forged_body)
        )
        .await,
        401,
        "forged"
    );
    assert_eq!(
        post(
            &url,
            &forged_body,
            &signed(SECRET, now() - 6 * 60, &forged_body)
        )
        .await,
        401,
        "stale (6 minutes old)"
    );
    let mut tampered = signed(SECRET, now(), &forged_body);
    tampered[0].1 = (now() - 1).to_string();
    assert_eq!(
        post(&url, &forged_body, &tampered).await,
        401,
        "timestamp swapped"
    );
    nothing_within(&mut rx, Duration::from_millis(700)).await;
}

#[tokio::test]
async fn retried_deliveries_keep_their_event_id_and_are_acked() {
    let Setup {
        emu,
        bridge,
        mut rx,
        url,
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ts = emu.post_as("bob", &channel, Some(&root), "once").unwrap();
    let first = next(&mut rx).await;
    emu.react_as("bob", &channel, &ts, "eyes").unwrap();
    let reaction = next(&mut rx).await;
    let reaction_body = emu
        .deliveries()
        .into_iter()
        .find(|d| d.payload["event"]["type"] == "reaction_added")
        .expect("reaction delivered")
        .payload
        .to_string();

    // Slack's retries of both (1, 2, 3), each freshly signed. Each is
    // answered once the core stored it, so the core reads meanwhile.
    let message_body = delivered_payload(&emu, &ts);
    let retries = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for retry in 1..=3 {
            for body in [&message_body, &reaction_body] {
                let mut headers = signed(SECRET, now(), body);
                headers.push(("x-slack-retry-num", retry.to_string()));
                headers.push(("x-slack-retry-reason", "http_timeout".to_string()));
                statuses.push(post(&url, body, &headers).await);
            }
        }
        statuses
    });
    let mut reaction_ids = vec![reaction.event_id.clone()];
    for _ in 0..3 {
        let ev = next(&mut rx).await;
        assert!(matches!(ev.kind, InboundKind::Reaction { .. }), "{ev:?}");
        reaction_ids.push(ev.event_id);
    }
    let statuses = retries.await.expect("retries posted");
    assert_eq!(statuses, [200; 6], "every retry acked once stored");
    assert!(
        reaction_ids.iter().all(|id| *id == reaction.event_id),
        "one event id across the deliveries: {reaction_ids:?}"
    );
    // The message's repeats are recognised by the bridge itself.
    nothing_within(&mut rx, Duration::from_millis(700)).await;
    assert_eq!(first.event_id, format!("{channel}:{ts}"));
    // The emulator's own deliveries were all answered 200 in time.
    assert!(emu
        .deliveries()
        .iter()
        .all(|d| d.outcome == slack_emulator::DeliveryOutcome::Status(200)));
}

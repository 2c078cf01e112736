//! Socket Mode under hostile input: garbage websocket frames, malformed
//! envelopes, and arbitrary or mutated events inside genuine envelopes.
//! Nothing crashes the listener or the inbound worker: the sockets stay up
//! and a genuine reply sent afterwards still arrives.

use crate::common;

use std::sync::Arc;

use common::arbitrary::{json, mutated, samples};
use common::*;
use handoff_bridge_api::Bridge;
use proptest::prelude::*;
use serde_json::{json as j, Value};
use slack_emulator::{DeliveryKind, EmulatorConfig};

/// Frames slack-morphism must survive: not JSON, JSON of the wrong shape,
/// envelopes with missing or mistyped parts.
fn odd_frames() -> Vec<String> {
    let mut frames: Vec<String> = [
        "",
        "not json",
        "{",
        "null",
        "[]",
        "{}",
        r#"{"type":"events_api"}"#,
        r#"{"type":"events_api","envelope_id":"e1","payload":"text"}"#,
        r#"{"type":"events_api","envelope_id":"e2","payload":{"type":"event_callback"}}"#,
        r#"{"type":"events_api","envelope_id":"e3","payload":{"type":"event_callback","event":{"type":"message"}}}"#,
        r#"{"type":"interactive","envelope_id":"e4","payload":{"type":"block_actions"}}"#,
        r#"{"type":"slash_commands","envelope_id":"e5","payload":{}}"#,
        r#"{"type":"no_such_type","envelope_id":"e6"}"#,
        r#"{"type":17,"envelope_id":[]}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    frames.push(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)));
    frames.extend(samples(any::<String>(), 40));
    frames.extend(
        samples(json(), 60)
            .into_iter()
            .map(|p| j!({"type": "events_api", "envelope_id": "e7", "payload": p}).to_string()),
    );
    frames
}

#[tokio::test]
async fn garbage_frames_and_hostile_events_do_not_stop_the_bridge() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let first = emu.post_as("bob", &channel, Some(&root), "first").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{first}"));
    let genuine: Value = emu
        .deliveries()
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Event && d.payload["event"]["ts"] == first.as_str())
        .expect("the reply was delivered")
        .payload["event"]
        .clone();

    for frame in odd_frames() {
        assert!(emu.send_raw_socket_frame(&frame) >= 1, "a socket is open");
    }
    for event in samples(json(), 150)
        .into_iter()
        .chain(samples(mutated(&genuine), 150))
    {
        emu.inject_event(event);
    }

    let last = emu
        .post_as("bob", &channel, Some(&root), "still here")
        .unwrap();
    let want = format!("{channel}:{last}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the genuine reply arrives after the hostile input")
            .expect("inbound open");
        if ev.event_id == want {
            break;
        }
    }
    assert!(bridge.is_connected());
    assert!(emu.socket_count() >= 1);
}

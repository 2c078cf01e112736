//! The sync handler under hostile room events, sent through a real Synapse
//! by a customer: missing and mistyped fields, broken relations, media
//! that cannot be downloaded (a missing file, a server that does not
//! exist), deep nesting, long unicode, unknown event types and arbitrary
//! generated content. Each is skipped or forwarded sensibly, never a
//! crash, and never a stall: a normal message sent afterwards arrives.

use crate::common;

use std::sync::Arc;

use common::{config, server, user, wait_members, MemState, Running};
use handoff_bridge_api::{Bridge, InboundKind};
use matrix_sdk::ruma::OwnedUserId;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

/// Deterministic samples of arbitrary message contents: random fields
/// and nesting, with the string `msgtype` and `body` Synapse insists on.
fn generated_contents(n: usize) -> Vec<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        // Canonical JSON: integers within ±2^53.
        (-(1i64 << 53)..(1i64 << 53)).prop_map(|i| json!(i)),
        any::<String>().prop_map(Value::String),
        prop::sample::select(vec![
            "m.text",
            "m.image",
            "m.replace",
            "m.thread",
            "$e:x",
            "mxc://x/y",
        ])
        .prop_map(|s| json!(s)),
    ];
    let keys = prop::sample::select(vec![
        "format",
        "formatted_body",
        "m.relates_to",
        "rel_type",
        "event_id",
        "m.in_reply_to",
        "m.new_content",
        "url",
        "file",
        "info",
        "size",
        "key",
        "filename",
        "msgtype",
        "body",
    ]);
    let object = leaf.prop_recursive(4, 32, 6, move |inner| {
        prop::collection::vec((keys.clone().prop_map(str::to_string), inner), 0..6)
            .prop_map(|f| Value::Object(f.into_iter().collect()))
    });
    let msgtype = prop::sample::select(vec![
        "m.text",
        "m.emote",
        "m.notice",
        "m.image",
        "m.file",
        "m.audio",
        "m.video",
        "m.location",
        "org.example.custom",
    ]);
    let content = (object, msgtype, any::<String>()).prop_map(|(extra, msgtype, body)| {
        let mut c = match extra {
            Value::Object(map) => map,
            other => [("extra".to_string(), other)].into_iter().collect(),
        };
        c.insert("msgtype".into(), json!(msgtype));
        c.insert("body".into(), json!(body));
        Value::Object(c)
    });
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| content.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |v, _| json!({"n": v}))
}

fn handcrafted(server: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("m.room.message", json!({"msgtype": "m.text"})),
        ("m.room.message", json!({"msgtype": "m.text", "body": 42})),
        ("m.room.message", json!({"body": "no msgtype"})),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "x", "m.relates_to": "garbage"}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "x",
            "m.relates_to": {"rel_type": "m.replace", "event_id": "not an id"}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "* x",
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$nope:x"}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "x",
            "m.relates_to": {"rel_type": "m.thread", "event_id": 5}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.image", "body": "i.png", "url": "not-mxc"}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.image", "body": "i.png",
            "url": "mxc://x/y", "info": {"size": "big"}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.file", "body": "missing.pdf",
            "url": format!("mxc://{server}/doesnotexist"), "info": {"size": 5}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.file", "body": "remote.pdf",
            "url": "mxc://no-such-server.invalid/abc", "info": {"size": 5}}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "deep", "extra": nested(60)}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "ü".repeat(15_000),
            "format": "org.matrix.custom.html",
            "formatted_body": format!("<mx-reply>{}", "<b>".repeat(3_000))}),
        ),
        (
            "m.room.message",
            json!({"msgtype": "m.text", "body": "\u{0}\u{202e}\u{fffd}"}),
        ),
        (
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation"}}),
        ),
        (
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation",
            "event_id": "$x:y", "key": 5}}),
        ),
        ("org.example.unknown", json!({"anything": [1, 2, 3]})),
    ]
}

#[tokio::test]
async fn hostile_events_are_skipped_and_the_sync_loop_keeps_going() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    let mut bot = Running::start(cfg, Arc::new(MemState::default())).await;
    let room_id = carol.create_room("help", &[bot_id]).await.unwrap();
    wait_members(&carol, &room_id, 2).await;
    let room = carol.room(&room_id).unwrap();

    let mut sent = Vec::new();
    let mut refused = Vec::new();
    let events = handcrafted(synapse.server_name()).into_iter().chain(
        generated_contents(60)
            .into_iter()
            .map(|c| ("m.room.message", c)),
    );
    for (kind, content) in events {
        // Synapse refuses some (too large, bad JSON for it): that is fine.
        let started = std::time::Instant::now();
        match room.send_raw(kind, content).await {
            Ok(r) => sent.push(r.response.event_id),
            Err(e) => refused.push(format!("{kind}: {e}")),
        }
        eprintln!("TMP {kind} {:?}", started.elapsed());
    }
    assert!(
        sent.len() >= 65,
        "most hostile events reached the room; refused: {refused:#?}"
    );

    let last = carol.send_text(&room_id, "still there?").await.unwrap();
    let (ev, before) = bot
        .wait_for("the normal message after the hostile ones", |e| {
            e.event_id == last.as_str()
        })
        .await;
    assert!(matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain == "still there?"));
    // Files that cannot be downloaded arrive as notes, not as errors.
    for name in ["missing.pdf", "remote.pdf"] {
        assert!(
            before.iter().any(|e| matches!(&e.kind,
                InboundKind::Message { body, .. }
                    if body.plain == format!("[file not forwarded: {name} could not be downloaded]"))),
            "no note for {name} in {before:#?}"
        );
    }
    // Nothing was made up: every other event forwarded is one carol sent.
    assert!(before
        .iter()
        .filter(|e| !matches!(e.kind, InboundKind::Joined | InboundKind::Left))
        .all(|e| sent.iter().any(|id| id.as_str() == e.event_id)));
    assert!(bot.bridge.is_connected());
    bot.stop().await;
}

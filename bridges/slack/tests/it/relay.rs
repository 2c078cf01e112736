//! Slack → core over Socket Mode: agents' messages, edits, deletions,
//! reactions, files and button presses in case threads; what is ignored;
//! and catch-up after the sockets drop.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use handoff_bridge_api::{Action, Bridge, Endpoint, InboundKind, Outgoing, Text};
use slack_emulator::EmulatorConfig;

const QUIET: Duration = Duration::from_millis(700);

#[tokio::test]
async fn agent_activity_in_a_case_thread_arrives_as_the_right_kinds() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bob = emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ep = Endpoint::new("slack", &channel).in_thread(&root);

    let ts = emu
        .post_as(
            "bob",
            &channel,
            Some(&root),
            "*hi* <@U0EMUBOT01> see <https://x.io|docs> &amp; more",
        )
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.event_id, format!("{channel}:{ts}"));
    assert_eq!(ev.endpoint, ep);
    assert_eq!(ev.sender.id, bob);
    assert_eq!(ev.sender.display_name.as_deref(), Some("bob"));
    assert!(!ev.sender.is_bot);
    match &ev.kind {
        InboundKind::Message { id, body, .. } => {
            assert_eq!(id, &ts);
            assert_eq!(body.plain, "*hi* @handoff see docs (https://x.io) & more");
            let html = body.html.as_deref().unwrap();
            assert!(html.starts_with("<strong>hi</strong> @handoff"), "{html}");
            assert!(
                html.contains("<a href=\"https://x.io\">docs</a> &amp; more"),
                "{html}"
            );
        }
        other => panic!("expected a message, got {other:?}"),
    }

    // Edit: the event has no top-level thread_ts; the stored mapping finds it.
    emu.edit_as("bob", &channel, &ts, "fixed").unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    assert!(ev.event_id.starts_with(&format!("{channel}:{ts}:edit:")));
    assert_eq!(
        ev.kind,
        InboundKind::Edit {
            target: ts.clone(),
            body: Text::plain("fixed")
        }
    );

    emu.react_as("bob", &channel, &ts, "thumbsup").unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    match &ev.kind {
        InboundKind::Reaction { target, key, .. } => {
            assert_eq!(target, &ts);
            assert_eq!(key, "👍");
        }
        other => panic!("expected a reaction, got {other:?}"),
    }

    emu.delete_as("bob", &channel, &ts).unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    assert_eq!(ev.event_id, format!("{channel}:{ts}:delete"));
    assert_eq!(ev.kind, InboundKind::Delete { target: ts.clone() });

    emu.upload_as(
        "bob",
        &channel,
        Some(&root),
        "shot.png",
        b"\x89PNG-bytes",
        None,
    )
    .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    match &ev.kind {
        InboundKind::Attachment { file, .. } => {
            assert_eq!(file.name, "shot.png");
            assert_eq!(file.mime, "image/png");
            assert_eq!(file.data, b"\x89PNG-bytes");
        }
        other => panic!("expected an attachment, got {other:?}"),
    }
    nothing_within(&mut rx, QUIET).await;
}

#[tokio::test]
async fn echoes_other_bots_and_channel_chatter_are_ignored() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    emu.add_user("otherbot", true);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;

    // The bot's own post in the thread comes back with bot_id.
    bridge
        .send(&Outgoing {
            key: "echo".into(),
            action: Action::Send {
                to: Endpoint::new("slack", &channel).in_thread(&root),
                body: Text::plain("from the customer"),
                reply_to: None,
                as_name: Some("Alice".into()),
            },
        })
        .await
        .unwrap();
    emu.post_as("bob", &channel, None, "lunch anyone?").unwrap();
    let other_root = emu
        .post_as("bob", &channel, None, "unrelated thread")
        .unwrap();
    emu.post_as("bob", &channel, Some(&other_root), "reply outside a case")
        .unwrap();
    emu.post_as("otherbot", &channel, Some(&root), "I am a bot user")
        .unwrap();
    let last = emu
        .post_as("bob", &channel, Some(&root), "real reply")
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(
        ev.event_id,
        format!("{channel}:{last}"),
        "only the real reply: {ev:?}"
    );
    nothing_within(&mut rx, QUIET).await;
}

#[tokio::test]
async fn claim_button_and_transfer_menu_arrive_as_buttons() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bob = emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ep = Endpoint::new("slack", &channel).in_thread(&root);

    emu.press_button("bob", &channel, &root, "claim", None)
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.endpoint, ep);
    assert_eq!(ev.sender.id, bob);
    assert_eq!(
        ev.kind,
        InboundKind::Button {
            action: "claim".into(),
            value: "claim".into()
        }
    );
    emu.select_option("bob", &channel, &root, "transfer", "tech")
        .unwrap();
    let ev2 = next(&mut rx).await;
    assert_eq!(ev2.endpoint, ep);
    assert_eq!(
        ev2.kind,
        InboundKind::Button {
            action: "transfer".into(),
            value: "tech".into()
        }
    );
    assert_ne!(ev.event_id, ev2.event_id);
}

#[tokio::test]
async fn a_reply_sent_while_disconnected_arrives_once_after_reconnecting() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let before = emu.post_as("bob", &channel, Some(&root), "before").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{before}"));

    emu.refuse_connections(Duration::from_secs(2));
    emu.drop_sockets();
    emu.wait_for("sockets closed", WAIT, |e| {
        (e.socket_count() == 0).then_some(())
    })
    .await
    .unwrap();
    let during = emu
        .post_as("bob", &channel, Some(&root), "while you were away")
        .unwrap();

    let ev = next(&mut rx).await;
    assert_eq!(ev.event_id, format!("{channel}:{during}"));
    assert!(
        matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain == "while you were away")
    );
    // Catch-up on every hello plus the queued live event: still once.
    nothing_within(&mut rx, Duration::from_secs(3)).await;
    let after = emu.post_as("bob", &channel, Some(&root), "after").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{after}"));
}

#[tokio::test]
async fn replies_missed_while_the_bridge_was_down_are_caught_up_on_start() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let state = Arc::new(MemState::default());
    let first = bridge(&emu, state.clone()).await;
    let (_, root) = opened(&first, "open", &channel).await;
    drop(first);
    let missed = emu
        .post_as("bob", &channel, Some(&root), "anyone?")
        .unwrap();
    // A fresh process with the same store: catch-up on the first hello.
    let second = bridge(&emu, state).await;
    let mut rx = run(&emu, &second).await;
    let ev = next(&mut rx).await;
    assert_eq!(ev.event_id, format!("{channel}:{missed}"));
    nothing_within(&mut rx, QUIET).await;
    assert!(
        emu.calls("conversations.replies")
            .iter()
            .any(|c| c.param("ts").as_deref() == Some(root.as_str())),
        "the case thread was read back"
    );
}

#[tokio::test]
async fn a_revoked_app_token_stops_run_with_auth() {
    let emu = emulator(EmulatorConfig::default()).await;
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    emu.revoke_token(emu.app_token());
    let (tx, _rx) = handoff_bridge_api::inbound_channel(1);
    let err = tokio::time::timeout(WAIT, bridge.run(tx))
        .await
        .expect("run returns")
        .unwrap_err();
    assert!(
        matches!(err, handoff_bridge_api::BridgeError::Auth { .. }),
        "{err:?}"
    );
    assert!(!bridge.is_connected());
}

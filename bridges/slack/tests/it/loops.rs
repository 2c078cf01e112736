//! No loops and no repeats: in a case thread, the bot's own messages (with
//! or without `bot_id`), other apps' messages, bot users, configured
//! ignored users and a second handoff instance's posts (message metadata
//! `handoff_outgoing`) never become Inbound; and an event Slack delivers
//! four times (first delivery and three redeliveries) yields one event id.

use crate::common;
use crate::events_api::{setup, Setup};

use std::sync::Arc;
use std::time::Duration;

use common::*;
use handoff_bridge_api::InboundReceiver;
use handoff_bridge_api::{Inbound, InboundKind};
use handoff_slack::SlackBridge;
use serde_json::json;
use slack_emulator::{DeliveryKind, DeliveryOutcome, Emulator, EmulatorConfig};

const QUIET: Duration = Duration::from_millis(700);

fn reply(channel: &str, root: &str, ts: &str, user: &str, text: &str) -> serde_json::Value {
    json!({"type": "message", "channel": channel, "user": user, "text": text,
        "ts": ts, "thread_ts": root, "channel_type": "channel", "event_ts": ts})
}

#[tokio::test]
async fn own_other_bots_ignored_users_and_second_instances_are_not_relayed() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let carol = emu.add_user("carol", false);
    emu.add_user("otherbot", true);
    let mut cfg = socket_config(&emu);
    cfg.ignore_users = vec![carol.clone()];
    let bridge = Arc::new(
        SlackBridge::connect(cfg, Arc::new(MemState::default()))
            .await
            .unwrap(),
    );
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;

    // A configured ignored user: messages, edits and reactions.
    let carols = emu
        .post_as("carol", &channel, Some(&root), "carol here")
        .unwrap();
    emu.edit_as("carol", &channel, &carols, "carol edited")
        .unwrap();
    emu.react_as("carol", &channel, &carols, "eyes").unwrap();
    // A bot user (users.info says is_bot) and other apps.
    emu.post_as("otherbot", &channel, Some(&root), "beep")
        .unwrap();
    let bot = emu.bot_user_id().to_string();
    let mut own_without_bot_id = reply(&channel, &root, "1900000000.000001", &bot, "echo");
    own_without_bot_id["client_msg_id"] = json!("c1");
    emu.inject_event(own_without_bot_id);
    let mut other_app = reply(&channel, &root, "1900000000.000002", "UOTHERAPP", "app");
    other_app["bot_id"] = json!("B0OTHERAPP");
    emu.inject_event(other_app);
    // A second handoff instance relaying as a user (no bot_id), marked.
    let mut second = reply(&channel, &root, "1900000000.000003", "USECOND", "relay");
    second["metadata"] = json!({"event_type": "handoff_outgoing",
        "event_payload": {"key": "case-9/msg-1"}});
    emu.inject_event(second);

    let ts = emu
        .post_as("bob", &channel, Some(&root), "a person")
        .unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(
        ev.event_id,
        format!("{channel}:{ts}"),
        "the first event relayed is the person's: {ev:?}"
    );
    nothing_within(&mut rx, QUIET).await;
}

/// The `event_id` Slack used for the delivery of `pred`'s event.
fn slack_event_id(emu: &Emulator, pred: impl Fn(&serde_json::Value) -> bool) -> String {
    emu.deliveries()
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Event && pred(&d.payload["event"]))
        .and_then(|d| d.event_id)
        .expect("delivered")
}

/// Redelivers `event_id` three times; returns what arrived meanwhile.
async fn three_redeliveries(
    emu: &Emulator,
    rx: &mut InboundReceiver,
    event_id: &str,
) -> Vec<Inbound> {
    let mut got = Vec::new();
    for _ in 0..3 {
        emu.redeliver(event_id).unwrap();
        if let Ok(Some(ev)) = tokio::time::timeout(QUIET, rx.recv()).await {
            got.push(ev);
        }
    }
    got
}

async fn four_deliveries_are_one_event(
    emu: &Emulator,
    mut rx: InboundReceiver,
    root: &str,
    channel: &str,
) {
    let ts = emu.post_as("bob", channel, Some(root), "once").unwrap();
    let first = next(&mut rx).await;
    assert_eq!(first.event_id, format!("{channel}:{ts}"));
    let id = slack_event_id(emu, |e| e["ts"] == ts.as_str());
    let repeats = three_redeliveries(emu, &mut rx, &id).await;
    // A relayed reply is recorded in its thread's progress: the bridge
    // drops its repeats itself.
    assert!(repeats.is_empty(), "{repeats:?}");

    emu.edit_as("bob", channel, &ts, "once, edited").unwrap();
    let edit = next(&mut rx).await;
    assert!(matches!(edit.kind, InboundKind::Edit { .. }));
    let id = slack_event_id(emu, |e| e["subtype"] == "message_changed");
    let repeats = three_redeliveries(emu, &mut rx, &id).await;
    assert_eq!(repeats.len(), 3, "each redelivery reaches the core");
    assert!(repeats.iter().all(|r| r.event_id == edit.event_id));

    emu.react_as("bob", channel, &ts, "eyes").unwrap();
    let reaction = next(&mut rx).await;
    let id = slack_event_id(emu, |e| e["type"] == "reaction_added");
    let repeats = three_redeliveries(emu, &mut rx, &id).await;
    assert_eq!(repeats.len(), 3, "each redelivery reaches the core");
    assert!(repeats.iter().all(|r| r.event_id == reaction.event_id));

    // Slack saw every one of the four deliveries answered.
    let attempts: Vec<_> = emu
        .deliveries()
        .into_iter()
        .filter(|d| d.event_id.as_deref() == Some(id.as_str()))
        .collect();
    assert_eq!(
        attempts.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    emu.wait_for("every delivery answered", WAIT, |emu| {
        emu.deliveries()
            .iter()
            .filter(|d| d.event_id.as_deref() == Some(id.as_str()))
            .all(|d| {
                matches!(
                    d.outcome,
                    DeliveryOutcome::Acked | DeliveryOutcome::Status(200)
                )
            })
            .then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_socket_mode_event_delivered_four_times_keeps_one_id() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    four_deliveries_are_one_event(&emu, rx, &root, &channel).await;
}

#[tokio::test]
async fn an_events_api_event_delivered_four_times_keeps_one_id() {
    let Setup {
        emu, bridge, rx, ..
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    four_deliveries_are_one_event(&emu, rx, &root, &channel).await;
}

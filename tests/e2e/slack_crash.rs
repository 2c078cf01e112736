//! A crash between Slack's delivery and the core's commit, through the real
//! binary, for every kind of Slack event (promise "Slack events are
//! acknowledged only after they are stored" in docs/reliability.md).
//!
//! A Matrix customer's case is worked in a Slack thread. The daemon is then
//! restarted with the test-only hook `HANDOFF_TEST_SLACK_HOLD_INBOUND=1`
//! (read by the Slack bridge's inbound worker; see its docs): it receives
//! and translates (and journals) what Slack delivers but never hands it to
//! the core. An agent replies, edits a reply, deletes another, reacts and
//! presses Claim; once the daemon's log shows each of the five held, and
//! the emulator shows none of them acknowledged, the daemon is SIGKILLed
//! and started again without the hook. Every one of the five must then
//! reach the customer exactly once: Slack's redelivery of the unacked
//! envelopes brings the events back, the bridge's journal the button press
//! (Slack never redelivers interactions).

use crate::common;

use std::time::Duration;

use common::{from_bot, replaces, slack_config, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{EventId, RoomId, UserId};
use slack_emulator::{DeliveryOutcome, Emulator, EmulatorConfig};
use synapse_testkit::TestClient;

/// The Slack bridge's test hook (`handoff_slack::TEST_HOLD_ENV`).
const HOLD: &str = "HANDOFF_TEST_SLACK_HOLD_INBOUND";
/// Extra wait after everything arrived, for late duplicates to show.
const SETTLE: Duration = Duration::from_secs(4);

/// Waits until the daemon's log holds a line with every one of `needles`.
async fn logged(handoff: &Handoff, what: &str, needles: &[&str]) {
    for _ in 0..240 {
        let log = handoff.log();
        if log.lines().any(|l| needles.iter().all(|n| l.contains(n))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the daemon never logged {what} ({needles:?})");
}

/// How many `key` reactions on `target` the room's recent timeline holds.
async fn reactions(c: &TestClient, room: &RoomId, target: &EventId, key: &str) -> usize {
    let r = c.room(room).expect("room");
    let mut opts = matrix_sdk::room::MessagesOptions::backward();
    opts.limit = 100u32.into();
    let page = r.messages(opts).await.expect("messages");
    page.chunk
        .iter()
        .filter_map(|ev| ev.raw().deserialize_as::<serde_json::Value>().ok())
        .filter(|json| {
            let rel = &json["content"]["m.relates_to"];
            json["type"] == "m.reaction" && rel["event_id"] == target.as_str() && rel["key"] == key
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_slack_event_survives_a_kill_before_the_commit() {
    // Unacked envelopes come again 3 s after delivery, then after 1 s,
    // 10 s and 30 s: long enough for a restart to pick them up.
    let config = EmulatorConfig {
        socket_ack_timeout: Duration::from_secs(3),
        retry_delays: vec![
            Duration::from_secs(1),
            Duration::from_secs(10),
            Duration::from_secs(30),
        ],
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config).await.expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let mut handoff = Handoff::start(&synapse, &slack_config(&emu));
    let room = carol
        .create_room(
            "support",
            &[UserId::parse("@helper:localhost").expect("id")],
        )
        .await
        .expect("room");
    let handed_over = common::ask_until(
        &carol,
        &room,
        "I want to talk to a person about my invoice",
        "billing team",
    )
    .await;
    assert!(handed_over, "no handover");
    let root = emu
        .wait_for_message(
            &channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("summary posted");
    let root_ts = root.ts.to_string();

    // Before the crash: two agent replies and a customer line, relayed.
    let to_edit = emu
        .post_as(&alice, &channel, Some(&root_ts), "first answer")
        .expect("post");
    let to_edit_twin = from_bot(&carol, &room, "the reply to edit", |m| {
        m.body.contains("first answer")
    })
    .await;
    let to_delete = emu
        .post_as(&alice, &channel, Some(&root_ts), "wrong answer")
        .expect("post");
    let to_delete_twin = from_bot(&carol, &room, "the reply to delete", |m| {
        m.body.contains("wrong answer")
    })
    .await;
    let customer_line = carol
        .send_text(&room, "customer line to react to")
        .await
        .expect("send");
    let line_twin = emu
        .wait_for_message(
            &channel,
            |m| m.bot_id.is_some() && m.text.contains("customer line to react to"),
            WAIT,
        )
        .await
        .expect("customer line relayed")
        .ts
        .to_string();

    // Restart with the hook: Slack's deliveries are held, never stored.
    handoff.set_env(HOLD, Some("1"));
    handoff.restart_hard();
    logged(&handoff, "the hook switched on", &["TEST HOOK", HOLD]).await;
    emu.wait_for_sockets(1, WAIT).await.expect("socket mode up");
    let before = emu.deliveries().len();
    let reply = emu
        .post_as(&alice, &channel, Some(&root_ts), "answer sent into a crash")
        .expect("post");
    emu.edit_as(
        &alice,
        &channel,
        &to_edit,
        "first answer, edited into a crash",
    )
    .expect("edit");
    emu.delete_as(&alice, &channel, &to_delete).expect("delete");
    emu.react_as(&alice, &channel, &line_twin, "eyes")
        .expect("react");
    emu.press_button(&alice, &channel, &root_ts, "claim", None)
        .expect("press claim");
    let reply_id = format!("{channel}:{reply}");
    let edit_id = format!("{channel}:{to_edit}:edit:");
    let delete_id = format!("{channel}:{to_delete}:delete");
    let react_id = format!("{channel}:{line_twin}:react:");
    let press_id = format!("{channel}:{root_ts}:action:claim");
    for (what, id) in [
        ("the reply", &reply_id),
        ("the edit", &edit_id),
        ("the deletion", &delete_id),
        ("the reaction", &react_id),
        ("the button press", &press_id),
    ] {
        logged(&handoff, what, &["TEST HOOK: holding", id]).await;
    }
    // Delivered, held, and not one of them acknowledged.
    let held = &emu.deliveries()[before..];
    assert!(held.len() >= 5, "deliveries: {held:#?}");
    assert!(
        held.iter().all(|d| d.outcome != DeliveryOutcome::Acked),
        "acknowledged before the core stored it: {held:#?}"
    );

    // The crash, then a normal start.
    handoff.set_env(HOLD, None);
    handoff.restart_hard();

    let count = |needle: &str| {
        carol
            .messages(&room)
            .iter()
            .filter(|m| m.body.contains(needle) && replaces(m).is_none())
            .count()
    };
    from_bot(&carol, &room, "the reply after the crash", |m| {
        m.body.contains("answer sent into a crash")
    })
    .await;
    from_bot(&carol, &room, "the edit after the crash", |m| {
        replaces(m).as_ref() == Some(&to_edit_twin.event_id)
            && m.body.contains("edited into a crash")
    })
    .await;
    carol
        .wait_for_redaction(&room, &to_delete_twin.event_id, WAIT)
        .await
        .expect("the deleted reply is redacted for the customer");
    common::wait_reaction(&carol, &room, &customer_line, "👀").await;
    from_bot(&carol, &room, "the claim after the crash", |m| {
        m.body.contains("Alice has joined")
    })
    .await;
    emu.wait_for("the summary to show the claim", WAIT, |e| {
        e.message(&channel, &root_ts)
            .filter(|m| m.text.contains("Assigned to Alice"))
    })
    .await
    .expect("summary updated");

    // Exactly once each, after redeliveries and the journal replay.
    tokio::time::sleep(SETTLE).await;
    let _ = carol.sync_once().await;
    assert_eq!(count("answer sent into a crash"), 1, "the reply");
    assert_eq!(count("Alice has joined"), 1, "the claim");
    let edits = carol
        .messages(&room)
        .iter()
        .filter(|m| {
            replaces(m).as_ref() == Some(&to_edit_twin.event_id)
                && m.body.contains("edited into a crash")
        })
        .count();
    assert_eq!(edits, 1, "the edit");
    assert_eq!(
        reactions(&carol, &room, &customer_line, "👀").await,
        1,
        "the reaction"
    );
    // Every held event was finally acknowledged, on a later attempt.
    for (what, ty) in [
        ("reply/edit/delete", "message"),
        ("reaction", "reaction_added"),
    ] {
        assert!(
            emu.deliveries()[before..]
                .iter()
                .any(|d| d.event_type() == Some(ty)
                    && d.attempt > 0
                    && d.outcome == DeliveryOutcome::Acked),
            "no {what} redelivery was acknowledged"
        );
    }
}

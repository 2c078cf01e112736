//! Acknowledgement after the core's commit: a Socket Mode envelope or an
//! Events API request is acknowledged only once the core fired the
//! event's `Ack`; one the core dropped (its store failed) is left
//! unacknowledged and Slack delivers it again with the same event id; a
//! button press is journaled and replayed after a restart; a failed
//! catch-up read is retried and a live reply meanwhile does not move the
//! thread's progress past the missed one.

use crate::common;
use crate::events_api::{setup, Setup};

use std::sync::Arc;
use std::time::Duration;

use common::*;
use handoff_bridge_api::{Bridge, BridgeState, InboundKind, InboundReceiver, Incoming};
use slack_emulator::{DeliveryKind, DeliveryOutcome, Emulator, EmulatorConfig, Fault};

/// Long enough for a premature ack to have reached the emulator.
const SETTLE: Duration = Duration::from_millis(500);

async fn tracked(rx: &mut InboundReceiver) -> Incoming {
    tokio::time::timeout(WAIT, rx.recv_tracked())
        .await
        .expect("an inbound event in time")
        .expect("inbound channel open")
}

/// The delivery records (all attempts) of the payload `pick` selects.
fn outcomes(
    emu: &Emulator,
    pick: impl Fn(&slack_emulator::DeliveryRecord) -> bool,
) -> Vec<DeliveryOutcome> {
    emu.deliveries()
        .into_iter()
        .filter(|d| pick(d))
        .map(|d| d.outcome)
        .collect()
}

/// Socket Mode, every kind of agent activity: not acked while the core
/// holds the Ack, acked right after it fires.
#[tokio::test]
async fn socket_mode_acks_each_kind_only_after_the_core_stored_it() {
    // A long ack timeout: no redelivery muddles the records.
    let config = EmulatorConfig {
        socket_ack_timeout: Duration::from_secs(60),
        ..EmulatorConfig::default()
    };
    let emu = emulator(config).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let first = emu.post_as("bob", &channel, Some(&root), "first").unwrap();
    let incoming = tracked(&mut rx).await;
    incoming.ack.expect("tracked").handled();
    emu.wait_for_delivery(
        |d| d.payload["event"]["ts"] == first.as_str() && d.outcome == DeliveryOutcome::Acked,
        WAIT,
    )
    .await
    .expect("the first reply is acked");

    type Act<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Act, &str)> = vec![
        (
            "reply",
            Box::new(|| {
                emu.post_as("bob", &channel, Some(&root), "second").unwrap();
            }),
            "message",
        ),
        (
            "edit",
            Box::new(|| {
                emu.edit_as("bob", &channel, &first, "first, fixed")
                    .unwrap()
            }),
            "message",
        ),
        (
            "reaction",
            Box::new(|| emu.react_as("bob", &channel, &first, "eyes").unwrap()),
            "reaction_added",
        ),
        (
            "delete",
            Box::new(|| emu.delete_as("bob", &channel, &first).unwrap()),
            "message",
        ),
        (
            "button",
            Box::new(|| {
                emu.press_button("bob", &channel, &root, "claim", None)
                    .unwrap()
            }),
            "block_actions",
        ),
    ];
    for (what, act, event_type) in cases {
        let before = emu.deliveries().len();
        act();
        let incoming = tracked(&mut rx).await;
        let index = emu
            .deliveries()
            .iter()
            .enumerate()
            .skip(before)
            .find(|(_, d)| d.event_type() == Some(event_type))
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("{what}: no delivery record"));
        tokio::time::sleep(SETTLE).await;
        assert_eq!(
            emu.deliveries()[index].outcome,
            DeliveryOutcome::Pending,
            "{what} ({}) was acked before the core stored it",
            incoming.event.event_id
        );
        incoming.ack.expect("tracked").handled();
        emu.wait_for(what, WAIT, |e| {
            (e.deliveries()[index].outcome == DeliveryOutcome::Acked).then_some(())
        })
        .await
        .unwrap_or_else(|_| panic!("{what} not acked after the core stored it"));
    }
}

/// The core dropped the Ack (its store failed): no ack, Slack redelivers
/// the envelope, and it arrives again with the same event id.
#[tokio::test]
async fn an_envelope_the_core_did_not_store_is_delivered_again() {
    let config = EmulatorConfig::default()
        .with_fast_retries(Duration::from_millis(800), Duration::from_millis(100));
    let emu = emulator(config).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ts = emu.post_as("bob", &channel, Some(&root), "lost?").unwrap();
    let first = tracked(&mut rx).await;
    let id = first.event.event_id.clone();
    drop(first.ack);
    // A fresh bridge run, as after the core's restart.
    let again = tracked(&mut rx).await;
    assert_eq!(again.event.event_id, id);
    again.ack.expect("tracked").handled();
    let states = outcomes(&emu, |d| d.payload["event"]["ts"] == ts.as_str());
    assert_eq!(
        states.first(),
        Some(&DeliveryOutcome::TimedOut),
        "{states:?}"
    );
    emu.wait_for("the redelivery acked", WAIT, |e| {
        outcomes(e, |d| d.payload["event"]["ts"] == ts.as_str())
            .contains(&DeliveryOutcome::Acked)
            .then_some(())
    })
    .await
    .expect("acked once stored");
}

/// Events API: 200 only after the commit; a dropped Ack answers 503 and
/// Slack retries with `X-Slack-Retry-Num`, same event id.
#[tokio::test]
async fn events_api_answers_200_only_after_the_commit() {
    let Setup {
        emu,
        bridge,
        mut rx,
        ..
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    let ts = emu
        .post_as("bob", &channel, Some(&root), "over http")
        .unwrap();
    let first = tracked(&mut rx).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        outcomes(&emu, |d| d.payload["event"]["ts"] == ts.as_str()),
        [DeliveryOutcome::Pending],
        "answered before the core stored it"
    );
    let id = first.event.event_id.clone();
    drop(first.ack);
    let again = tracked(&mut rx).await;
    assert_eq!(again.event.event_id, id);
    again.ack.expect("tracked").handled();
    emu.wait_for("the retry answered 200", WAIT, |e| {
        let all = outcomes(e, |d| d.payload["event"]["ts"] == ts.as_str());
        (all == [DeliveryOutcome::Status(503), DeliveryOutcome::Status(200)]).then_some(())
    })
    .await
    .expect("503 then 200 on the retry");
    let attempts: Vec<u32> = emu
        .deliveries()
        .into_iter()
        .filter(|d| d.payload["event"]["ts"] == ts.as_str())
        .map(|d| d.attempt)
        .collect();
    assert_eq!(attempts, [0, 1]);

    // A button press the core stores in time is answered 200.
    emu.press_button("bob", &channel, &root, "claim", None)
        .unwrap();
    let press = tracked(&mut rx).await;
    assert!(matches!(press.event.kind, InboundKind::Button { .. }));
    press.ack.expect("tracked").handled();
    emu.wait_for_delivery(
        |d| d.kind == DeliveryKind::Interaction && d.outcome == DeliveryOutcome::Status(200),
        WAIT,
    )
    .await
    .expect("the press answered 200 after the commit");
}

/// Slack never redelivers a button press: one handed over but not stored
/// before the process died is replayed from the journal on the next start.
#[tokio::test]
async fn a_button_press_not_stored_before_a_crash_is_replayed_on_restart() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let state = Arc::new(MemState::default());
    let first = bridge(&emu, state.clone()).await;
    let mut rx = run(&emu, &first).await;
    let (_, root) = opened(&first, "open", &channel).await;
    emu.press_button("bob", &channel, &root, "claim", None)
        .unwrap();
    let press = tracked(&mut rx).await;
    let id = press.event.event_id.clone();
    // The process dies before the core's commit.
    drop(press);
    first.shutdown();
    drop(rx);
    emu.wait_for("sockets closed", WAIT, |e| {
        (e.socket_count() == 0).then_some(())
    })
    .await
    .unwrap();
    let second = bridge(&emu, state.clone()).await;
    let mut rx = run(&emu, &second).await;
    let replay = tracked(&mut rx).await;
    assert_eq!(replay.event.event_id, id);
    replay.ack.expect("tracked").handled();
    // Stored now: forgotten, so a later restart does not replay it.
    eventually("the journal emptied", || {
        state.get("slack/journal").unwrap().unwrap_or_default() == b"[]"
    })
    .await;
}

/// A catch-up read that fails is retried until the missed reply arrives.
#[tokio::test]
async fn a_failed_catch_up_is_retried_until_the_missed_reply_arrives() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let state = Arc::new(MemState::default());
    let first = bridge(&emu, state.clone()).await;
    let (_, root) = opened(&first, "open", &channel).await;
    drop(first);
    let missed = emu.post_as("bob", &channel, Some(&root), "missed").unwrap();
    // Every attempt of the first two catch-up reads (one per socket's
    // hello) fails.
    emu.fail_next("conversations.replies", 8, Fault::ServerError);
    let second = bridge(&emu, state.clone()).await;
    let mut rx = run(&emu, &second).await;
    emu.wait_for("the failed reads", WAIT, |e| {
        (e.calls("conversations.replies").len() >= 4).then_some(())
    })
    .await
    .unwrap();
    let live = emu.post_as("bob", &channel, Some(&root), "live").unwrap();
    // The live reply, and the missed one once a retried read succeeds.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let ev = tracked(&mut rx).await;
        ids.push(ev.event.event_id.clone());
        ev.ack.expect("tracked").handled();
    }
    ids.sort();
    let mut want = vec![format!("{channel}:{missed}"), format!("{channel}:{live}")];
    want.sort();
    assert_eq!(ids, want, "the missed reply was read back by a retry");
    let _ = second.is_connected();
}

//! A Matrix customer (real Synapse) and a Slack agent (the in-repo Slack
//! emulator) through the real `handoff` binary.

use crate::common;

use std::time::Duration;

use common::{slack_config, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use slack_emulator::{Emulator, EmulatorConfig};
use synapse_testkit::{Synapse, TestClient};

async fn wait_text(c: &TestClient, room: &OwnedRoomId, want: &str) {
    c.wait_for_message(room, |m| m.body.contains(want), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("customer never saw {want:?}: {e}\nseen: {seen:#?}")
        });
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_agent_works_a_case_from_a_thread() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = Synapse::start().await.expect("synapse");
    synapse
        .register("helper", common::PASSWORD, false)
        .await
        .expect("register the bot");
    let carol = user(&synapse, "carol").await;
    let handoff = Handoff::start(&synapse, &slack_config(&emu));

    let room = carol
        .create_room("support", &[UserId::parse("@helper:localhost").unwrap()])
        .await
        .expect("room");
    // The bot joins on invite; retry the first message until it answers.
    let answered = common::ask_until(
        &carol,
        &room,
        "where can I find my invoice",
        "Billing → Invoices",
    )
    .await;
    assert!(answered, "the bot never answered the FAQ question");

    carol
        .send_text(&room, "that didn't help, my invoice is wrong")
        .await
        .expect("send");
    wait_text(&carol, &room, "billing team").await;

    // The case is a thread in the team channel, its root the pinned summary.
    let root = emu
        .wait_for_message(
            &channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("summary posted in the channel");
    let root_ts = root.ts.to_string();
    assert!(root.text.contains("did not help"), "{}", root.text);
    // pins.add follows chat.postMessage: wait for it.
    emu.wait_for("the summary to be pinned", WAIT, |e| {
        e.pins(&channel)
            .iter()
            .any(|m| m.ts == root.ts)
            .then_some(())
    })
    .await
    .expect("the summary is pinned");

    // Agent → customer.
    emu.post_as(
        &alice,
        &channel,
        Some(&root_ts),
        "Hi Carol, Alice from billing here",
    )
    .expect("agent posts");
    wait_text(&carol, &room, "Alice from billing here").await;
    // Customer → agent.
    carol
        .send_text(&room, "invoice 2026-118 charged twice")
        .await
        .expect("send");
    emu.wait_for_message(&channel, |m| m.text.contains("2026-118"), WAIT)
        .await
        .expect("customer message in the thread");
    // Claim button: the summary shows who, the customer is told.
    emu.press_button(&alice, &channel, &root_ts, "claim", None)
        .expect("press claim");
    emu.wait_for("the summary to show the claim", WAIT, |e| {
        e.message(&channel, &root_ts)
            .filter(|m| m.text.contains("Assigned to Alice"))
    })
    .await
    .expect("summary updated in place");
    wait_text(&carol, &room, "Alice has joined").await;
    // Notes stay in Slack.
    emu.post_as(
        &alice,
        &channel,
        Some(&root_ts),
        "!note refund approved by finance",
    )
    .expect("note");
    emu.post_as(&alice, &channel, Some(&root_ts), "!resolve")
        .expect("resolve");
    wait_text(&carol, &room, "has been closed").await;
    assert!(
        !carol
            .messages(&room)
            .iter()
            .any(|m| m.body.contains("refund approved")),
        "a note reached the customer"
    );
    // No echo loops: the agent's message reached the customer exactly once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let copies = carol
        .messages(&room)
        .iter()
        .filter(|m| m.body.contains("Alice from billing here"))
        .count();
    assert_eq!(copies, 1);

    // Secrets: none of the run's credentials appear in its log, which was
    // written at debug level for handoff and its bridges.
    let log = handoff.log();
    assert!(log.contains("handoff is running"), "the log was captured");
    for (what, secret) in [
        ("Matrix password", common::PASSWORD.to_string()),
        ("Slack bot token", emu.bot_token().to_string()),
        ("Slack app token", emu.app_token().to_string()),
    ] {
        assert!(!log.contains(&secret), "the {what} appears in the log");
    }
}

//! The whole journey on a real Synapse: the real `handoff` binary, a
//! customer and agents played by matrix-sdk clients.

use crate::common;

use std::time::Duration;

use common::{user, Handoff, WAIT};
use matrix_sdk::ruma::events::room::pinned_events::RoomPinnedEventsEventContent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use synapse_testkit::{Synapse, TestClient};

const CONFIG: &str = r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{homeserver}"
user = "@helper:localhost"
password = "${HANDOFF_MATRIX_PASSWORD}"
auto_join = true

[escalation]
max_misses = 2
human_topics = ["lawyer"]

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost", "@bob:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@bob:localhost"]
topics = ["invoice"]
"#;

fn uid(s: &str) -> OwnedUserId {
    UserId::parse(s).expect("user id")
}

/// The customer opens a direct chat with the bot; returns the room.
async fn direct_chat(customer: &TestClient) -> OwnedRoomId {
    customer
        .create_room("support", &[uid("@helper:localhost")])
        .await
        .expect("create the customer room")
}

/// Sends `text` as the customer and waits for the bot's reply containing `want`.
async fn ask(customer: &TestClient, room: &OwnedRoomId, text: &str, want: &str) {
    let helper = uid("@helper:localhost");
    customer.send_text(room, text).await.expect("send");
    customer
        .wait_for_message(room, |m| m.sender == helper && m.body.contains(want), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = customer
                .messages(room)
                .iter()
                .map(|m| format!("{}: {}", m.sender, m.body))
                .collect();
            panic!("no reply containing {want:?} to {text:?}: {e}\nseen: {seen:#?}")
        });
}

/// Waits until the bot has joined `room` (it auto-joins invites).
async fn bot_joined(customer: &TestClient, room: &OwnedRoomId) {
    let r = customer.room(room).expect("room");
    for _ in 0..300 {
        let members = r
            .members(matrix_sdk::RoomMemberships::JOIN)
            .await
            .unwrap_or_default();
        if members.iter().any(|m| m.user_id() == "@helper:localhost") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = customer.sync_once().await;
    }
    panic!("the bot did not join the customer's room");
}

#[tokio::test(flavor = "multi_thread")]
async fn faq_handover_relay_note_resolve_and_second_case() {
    let synapse = Synapse::start().await.expect("synapse");
    synapse
        .register("helper", common::PASSWORD, false)
        .await
        .expect("register the bot");
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let bob = user(&synapse, "bob").await;
    let _handoff = Handoff::start(&synapse, CONFIG);

    let room = direct_chat(&carol).await;
    bot_joined(&carol, &room).await;

    // FAQ answer.
    ask(
        &carol,
        &room,
        "how do I reset my password?",
        "Reset password",
    )
    .await;
    // Escalation by request: a private case room with exactly the team's agents.
    ask(&carol, &room, "I want to talk to a person", "tech team").await;
    let case_room = alice.wait_for_invite(WAIT).await.expect("alice is invited");
    assert_eq!(
        bob.wait_for_invite(WAIT).await.expect("bob is invited"),
        case_room
    );
    alice.join(&case_room).await.expect("alice joins");
    let helper = uid("@helper:localhost");
    let summary = alice
        .wait_for_message(
            &case_room,
            |m| m.sender == helper && m.body.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("the summary is posted");
    assert!(
        summary.body.contains("customer asked for a person"),
        "{}",
        summary.body
    );
    assert!(
        summary.body.contains("how do I reset my password"),
        "{}",
        summary.body
    );
    let r = alice.room(&case_room).expect("case room");
    let invited: Vec<String> = r
        .members(matrix_sdk::RoomMemberships::INVITE | matrix_sdk::RoomMemberships::JOIN)
        .await
        .expect("members")
        .iter()
        .map(|m| m.user_id().to_string())
        .filter(|u| u != "@helper:localhost")
        .collect();
    let mut invited = invited;
    invited.sort();
    assert_eq!(invited, vec!["@alice:localhost", "@bob:localhost"]);
    let mut pinned_ids = Vec::new();
    for _ in 0..100 {
        let state = r
            .get_state_event_static::<RoomPinnedEventsEventContent>()
            .await
            .expect("pinned state");
        if let Some(raw) = state {
            if let Ok(matrix_sdk::deserialized_responses::SyncOrStrippedState::Sync(ev)) =
                raw.deserialize()
            {
                pinned_ids = ev
                    .as_original()
                    .map(|o| o.content.pinned.clone())
                    .unwrap_or_default();
            }
        }
        if !pinned_ids.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = alice.sync_once().await;
    }
    assert!(
        pinned_ids.contains(&summary.event_id),
        "summary pinned: {pinned_ids:?}"
    );

    // Relay both ways.
    carol
        .send_text(&room, "it says my link expired")
        .await
        .expect("send");
    alice
        .wait_for_message(
            &case_room,
            |m| m.body.contains("it says my link expired"),
            WAIT,
        )
        .await
        .expect("customer message reaches the agent");
    alice
        .send_text(&case_room, "Hi Carol, I'll send a new link")
        .await
        .expect("send");
    carol
        .wait_for_message(&room, |m| m.body.contains("I'll send a new link"), WAIT)
        .await
        .expect("agent reply reaches the customer");
    // Notes stay internal.
    alice
        .send_text(&case_room, "!note she is on the legacy plan")
        .await
        .expect("send");
    // Resolve: the customer is told; the bot answers FAQs again.
    alice.send_text(&case_room, "!resolve").await.expect("send");
    carol
        .wait_for_message(&room, |m| m.body.contains("has been closed"), WAIT)
        .await
        .expect("customer told about the resolve");
    alice
        .wait_for_message(&case_room, |m| m.body.contains("Resolved by"), WAIT)
        .await
        .expect("the summary shows the resolve");
    ask(
        &carol,
        &room,
        "what are your opening hours",
        "Monday to Friday",
    )
    .await;
    assert!(
        !carol
            .messages(&room)
            .iter()
            .any(|m| m.body.contains("legacy plan")),
        "a note reached the customer"
    );

    // A second case of the same customer shows the first in its summary.
    ask(
        &carol,
        &room,
        "I need an agent again, about my invoice",
        "billing team",
    )
    .await;
    let second = loop {
        let id = bob
            .wait_for_invite(WAIT)
            .await
            .expect("bob invited to the second case");
        if id != case_room {
            break id;
        }
        bob.join(&id).await.expect("join");
    };
    bob.join(&second).await.expect("bob joins");
    let summary2 = bob
        .wait_for_message(
            &second,
            |m| m.sender == helper && m.body.contains("Case #2"),
            WAIT,
        )
        .await
        .expect("second summary");
    assert!(summary2.body.contains("#1"), "{}", summary2.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn misses_and_human_topics_escalate() {
    let synapse = Synapse::start().await.expect("synapse");
    synapse
        .register("helper", common::PASSWORD, false)
        .await
        .expect("register the bot");
    let dave = user(&synapse, "dave").await;
    let erin = user(&synapse, "erin").await;
    let alice = user(&synapse, "alice").await;
    let _handoff = Handoff::start(&synapse, CONFIG);

    let room = direct_chat(&dave).await;
    bot_joined(&dave, &room).await;
    ask(
        &dave,
        &room,
        "flibbertigibbet quantum toaster",
        "put it another way",
    )
    .await;
    ask(&dave, &room, "zyxxy plonk wibble", "tech team").await;
    alice
        .wait_for_invite(WAIT)
        .await
        .expect("case for the misses");

    let room2 = direct_chat(&erin).await;
    bot_joined(&erin, &room2).await;
    ask(&erin, &room2, "I will call my lawyer", "tech team").await;
}

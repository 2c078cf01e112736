//! Roles from configuration, through the real binary on a real Synapse,
//! with a staff-room desk (`desk = "matrix:#staff:localhost"`, a thread per
//! case) and a shared customer room:
//! - two customers in one room ask for a person at once; each gets their
//!   own thread and their own case, and the replies reach the right one;
//! - staff chatter in the staff room (before and after its first case,
//!   top level or in a thread that is no case's) is never answered;
//! - a billing case whose first-reply SLA runs out moves to the staff
//!   room (its fallback team); the old case room stays a desk: one notice,
//!   no FAQ answer, no new case.

use crate::common;

use common::{bot_joined, from_bot, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContent};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use synapse_testkit::{Message, TestClient};

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

[conversation]
csat = false

[[team]]
name = "tech"
desk = "matrix:#staff:localhost"
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
topics = ["invoice"]
first_reply_sla = "3s"
fallback = "tech"
"#;

const RESET_ANSWER: &str = "Settings → Security → Reset password";
const CHATTER: &str = "staff only: how do i reset my password";

fn id(s: &str) -> OwnedUserId {
    UserId::parse(s).expect("user id")
}

/// The thread root of `m`, if it is in a thread.
fn thread_of(m: &Message) -> Option<OwnedEventId> {
    match &m.event.content.relates_to {
        Some(Relation::Thread(t)) => Some(t.event_id.clone()),
        _ => None,
    }
}

/// Sends `text` in the thread rooted at `root`.
async fn reply_in_thread(c: &TestClient, room: &OwnedRoomId, root: &OwnedEventId, text: &str) {
    let mut content = RoomMessageEventContent::text_plain(text);
    content.relates_to = Some(Relation::Thread(
        matrix_sdk::ruma::events::relation::Thread::plain(root.clone(), root.clone()),
    ));
    c.room(room)
        .expect("room")
        .send(content)
        .await
        .expect("send in thread");
}

async fn sees(c: &TestClient, room: &OwnedRoomId, text: &str) -> Message {
    c.wait_for_message(room, |m| m.body.contains(text), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("never saw {text:?}: {e}\nseen: {seen:#?}")
        })
}

/// Messages from the bot in `room` that start with one of its answers to
/// a customer (the summary quotes the conversation, so only the start
/// counts).
fn bot_answers(c: &TestClient, room: &OwnedRoomId) -> Vec<String> {
    c.messages(room)
        .into_iter()
        .filter(|m| m.sender == "@helper:localhost")
        .map(|m| m.body)
        .filter(|b| {
            [RESET_ANSWER, "Sorry, I don't know", "I'm bringing in"]
                .iter()
                .any(|s| b.starts_with(s))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_rooms_shared_rooms_and_sla_moves_keep_their_roles() {
    let synapse = synapse_with_bot().await;
    let dave = user(&synapse, "dave").await;
    let alice = user(&synapse, "alice").await;
    let carol = user(&synapse, "carol").await;
    let erin = user(&synapse, "erin").await;

    // The staff room exists first, with the bot invited (auto_join is on:
    // the invite is accepted, but the room is a desk, never a customer's).
    let mut request = CreateRoomRequest::new();
    request.name = Some("staff".into());
    request.room_alias_name = Some("staff".into());
    request.invite = vec![id("@helper:localhost")];
    request.preset = Some(RoomPreset::PrivateChat);
    let staff = dave.create_room_with(request).await.expect("staff room");
    let handoff = Handoff::start(&synapse, CONFIG);
    bot_joined(&dave, &staff).await;

    // Chatter before any case: never answered.
    dave.send_text(&staff, CHATTER).await.expect("chatter");

    // A shared customer room: carol and erin ask for a person at once.
    let room = carol
        .create_room("support", &[id("@helper:localhost"), id("@erin:localhost")])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    erin.join(&room).await.expect("erin joins");
    let (a, b) = tokio::join!(
        carol.send_text(&room, "I want to talk to a person about my invoice"),
        erin.send_text(&room, "I want to talk to a person please"),
    );
    a.expect("carol asks");
    b.expect("erin asks");

    // Erin's case is a thread in the staff room; dave answers there.
    let summary = from_bot(&dave, &staff, "erin's case thread", |m| {
        m.body.contains("Case #") && m.body.contains("erin") && thread_of(m).is_none()
    })
    .await;
    reply_in_thread(&dave, &staff, &summary.event_id, "Dave here for Erin").await;
    let to_erin = sees(&erin, &room, "Dave here for Erin").await;

    // Carol's case opens on billing (a room for alice); nobody answers
    // within the SLA, so it moves to tech: a new thread in the staff room.
    let billing = alice
        .wait_for_invite(WAIT)
        .await
        .expect("billing case room");
    alice.join(&billing).await.expect("alice joins");
    let moved = from_bot(&dave, &staff, "carol's case after the SLA move", |m| {
        m.body.contains("Case #") && m.body.contains("carol") && thread_of(m).is_none()
    })
    .await;
    reply_in_thread(&dave, &staff, &moved.event_id, "Dave here for Carol").await;
    let to_carol = sees(&carol, &room, "Dave here for Carol").await;
    // Each customer in their own thread of the shared room.
    let (erin_thread, carol_thread) = (thread_of(&to_erin), thread_of(&to_carol));
    assert!(erin_thread.is_some() && carol_thread.is_some());
    assert_ne!(erin_thread, carol_thread, "one thread per customer");
    assert!(
        !erin
            .messages(&room)
            .iter()
            .any(|m| m.body.contains("Dave here for Carol") && thread_of(m) == erin_thread),
        "carol's reply is not in erin's thread"
    );

    // The old billing room stays a desk: one notice, no FAQ, no new case.
    alice
        .send_text(&billing, "how do i reset my password")
        .await
        .expect("old room");
    from_bot(&alice, &billing, "the moved notice", |m| {
        m.body.contains("moved to tech")
    })
    .await;
    alice
        .send_text(&billing, "still there?")
        .await
        .expect("old room again");

    // Chatter after the cases: top level, and in a thread that is no
    // case's.
    let chat_root = dave
        .send_text(&staff, "lunch at noon?")
        .await
        .expect("chatter");
    reply_in_thread(&dave, &staff, &chat_root, CHATTER).await;

    // Resolve both cases from the staff room threads; the customers get
    // FAQ answers again, each in their own thread.
    reply_in_thread(&dave, &staff, &summary.event_id, "!resolve").await;
    reply_in_thread(&dave, &staff, &moved.event_id, "!resolve").await;
    for c in [&carol, &erin] {
        c.wait_for_message(
            &room,
            |m| m.sender == "@helper:localhost" && m.body.contains("has been closed"),
            WAIT,
        )
        .await
        .expect("closed");
    }
    erin.send_text(&room, "how do i reset my password")
        .await
        .expect("faq");
    sees(&erin, &room, RESET_ANSWER).await;

    // Nothing staff wrote was answered as a customer's; the old room got
    // exactly one notice; nothing of it reached the customers.
    assert!(
        bot_answers(&dave, &staff).is_empty(),
        "the bot answered staff: {:?}",
        bot_answers(&dave, &staff)
    );
    assert!(bot_answers(&alice, &billing).is_empty());
    assert_eq!(
        alice
            .messages(&billing)
            .iter()
            .filter(|m| m.body.contains("moved to tech"))
            .count(),
        1
    );
    for text in ["still there?", "lunch at noon", CHATTER] {
        assert!(
            !carol.messages(&room).iter().any(|m| m.body.contains(text)),
            "{text:?} reached the customers"
        );
    }
    let log = handoff.log();
    assert!(
        !log.contains("|@dave:localhost"),
        "a conversation was opened for staff:\n{log}"
    );
}

//! Relay details through the real binary on a real Synapse, Matrix desk:
//! the claim updates the pinned summary in place; edits, redactions,
//! reactions, replies and images follow across in both directions, also
//! after a kill and restart mid-case; and an
//! end-to-end encrypted customer room works the same way; the agent
//! typing in the case room shows the bot typing to the customer.

use crate::common;

use std::time::Duration;

use common::{
    bot_joined, from_bot, replaces, synapse_with_bot, user, wait_reaction, Handoff, WAIT,
};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::Annotation;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, MessageType, Relation, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::InitialStateEvent;
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

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
topics = ["invoice"]
"#;

fn helper() -> OwnedUserId {
    UserId::parse("@helper:localhost").expect("user id")
}

fn replies_to(m: &Message) -> Option<OwnedEventId> {
    match &m.event.content.relates_to {
        Some(Relation::Reply(r)) => Some(r.in_reply_to.event_id.clone()),
        _ => None,
    }
}

async fn send_edit(c: &TestClient, room: &OwnedRoomId, target: &OwnedEventId, text: &str) {
    let edit = RoomMessageEventContent::text_plain(text)
        .make_replacement(ReplacementMetadata::new(target.clone(), None));
    c.room(room).expect("room").send(edit).await.expect("edit");
}

async fn react(c: &TestClient, room: &OwnedRoomId, target: &OwnedEventId, key: &str) {
    c.room(room)
        .expect("room")
        .send(ReactionEventContent::new(Annotation::new(
            target.clone(),
            key.into(),
        )))
        .await
        .expect("react");
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_redactions_reactions_replies_and_images_follow_both_ways() {
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let mut handoff = Handoff::start(&synapse, CONFIG);
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    let desk = alice.wait_for_invite(WAIT).await.expect("invite");
    alice.join(&desk).await.expect("join");
    let summary = from_bot(&alice, &desk, "the summary", |m| m.body.contains("Case #1")).await;
    assert!(
        summary.body.contains("Waiting for an agent"),
        "{}",
        summary.body
    );

    // The claim edits the pinned summary in place.
    alice.send_text(&desk, "!claim").await.expect("claim");
    let edited = from_bot(&alice, &desk, "the summary edit", |m| {
        replaces(m).as_ref() == Some(&summary.event_id)
    })
    .await;
    assert!(edited.body.contains("Assigned to alice"), "{}", edited.body);

    // Customer → agent: text, edit, reaction, image, redaction.
    let asked = carol
        .send_text(&room, "my order 123 is late")
        .await
        .expect("send");
    let twin = from_bot(&alice, &desk, "the relayed text", |m| {
        m.body.contains("my order 123 is late")
    })
    .await;
    send_edit(&carol, &room, &asked, "my order 124 is late").await;
    let twin_edit = from_bot(&alice, &desk, "the relayed edit", |m| {
        replaces(m).as_ref() == Some(&twin.event_id)
    })
    .await;
    assert!(
        twin_edit.body.contains("my order 124 is late"),
        "{}",
        twin_edit.body
    );
    carol
        .room(&room)
        .expect("room")
        .send_attachment(
            "receipt.png",
            &mime::IMAGE_PNG,
            vec![0x89, b'P', b'N', b'G', 9, 9, 9, 9],
            AttachmentConfig::new(),
        )
        .await
        .expect("image");
    let image = from_bot(&alice, &desk, "the relayed image", |m| {
        matches!(m.event.content.msgtype, MessageType::Image(_))
    })
    .await;
    assert!(image.body.contains("receipt.png"), "{}", image.body);
    carol
        .room(&room)
        .expect("room")
        .redact(&asked, None, None)
        .await
        .expect("redact");
    alice
        .wait_for_redaction(&desk, &twin.event_id, WAIT)
        .await
        .expect("the relayed message is redacted too");

    // Agent → customer: text, reply, edit, reaction, redaction.
    let hello = alice
        .send_text(&desk, "Hi Carol, let me check that order.")
        .await
        .expect("agent text");
    let hello_twin = from_bot(&carol, &room, "the agent's text", |m| {
        m.body.contains("let me check that order")
    })
    .await;
    send_edit(&alice, &desk, &hello, "Hi Carol, let me check order 124.").await;
    let hello_edit = from_bot(&carol, &room, "the agent's edit", |m| {
        replaces(m).as_ref() == Some(&hello_twin.event_id)
    })
    .await;
    assert!(hello_edit.body.contains("order 124"), "{}", hello_edit.body);
    // The customer reacts to and replies to the relayed message: both land
    // on the agent's original.
    react(&carol, &room, &hello_twin.event_id, "👍").await;
    wait_reaction(&alice, &desk, &hello, "👍").await;
    let reply = RoomMessageEventContent::text_plain("thanks, it is urgent").make_reply_to(
        &hello_twin.event,
        ForwardThread::No,
        AddMentions::No,
    );
    let reply_id = carol
        .room(&room)
        .expect("room")
        .send(reply)
        .await
        .expect("reply")
        .response
        .event_id;
    let reply_twin = from_bot(&alice, &desk, "the relayed reply", |m| {
        m.body.contains("thanks, it is urgent")
    })
    .await;
    assert_eq!(replies_to(&reply_twin), Some(hello.clone()), "reply target");
    // The agent reacts to the customer's relayed message: it lands on the
    // customer's original.
    react(&alice, &desk, &reply_twin.event_id, "🙏").await;
    wait_reaction(&carol, &room, &reply_id, "🙏").await;
    let oops = alice
        .send_text(&desk, "wrong customer, sorry")
        .await
        .expect("agent text");
    let oops_twin = from_bot(&carol, &room, "the second agent text", |m| {
        m.body.contains("wrong customer")
    })
    .await;
    alice
        .room(&desk)
        .expect("room")
        .redact(&oops, None, None)
        .await
        .expect("agent redacts");
    carol
        .wait_for_redaction(&room, &oops_twin.event_id, WAIT)
        .await
        .expect("the customer's copy is redacted too");

    // Killed mid-case: state and message mappings survive the restart.
    handoff.restart_hard();
    send_edit(&carol, &room, &reply_id, "thanks, it is very urgent").await;
    let after = from_bot(&alice, &desk, "an edit after the restart", |m| {
        replaces(m).as_ref() == Some(&reply_twin.event_id)
    })
    .await;
    assert!(after.body.contains("very urgent"), "{}", after.body);
    alice
        .send_text(&desk, "Still here after the restart.")
        .await
        .expect("agent text");
    from_bot(&carol, &room, "the agent after the restart", |m| {
        m.body.contains("Still here after the restart.")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = alice.sync_once().await;
    let copies = alice
        .messages(&desk)
        .iter()
        .filter(|m| m.body.contains("thanks, it is urgent") && replaces(m).is_none())
        .count();
    assert_eq!(copies, 1, "the customer's reply was relayed {copies} times");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_customer_room_is_handed_over_and_relayed() {
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let _handoff = Handoff::start(&synapse, CONFIG);
    let mut request = CreateRoomRequest::new();
    request.name = Some("private help".into());
    request.invite = vec![helper()];
    request.preset = Some(RoomPreset::TrustedPrivateChat);
    request.initial_state = vec![InitialStateEvent::with_empty_state_key(
        RoomEncryptionEventContent::with_recommended_defaults(),
    )
    .to_raw_any()];
    let room = carol
        .create_room_with(request)
        .await
        .expect("encrypted room");
    bot_joined(&carol, &room).await;
    // The bot may need a moment to get the room keys: ask until it answers.
    let mut answered = false;
    for _ in 0..10 {
        carol
            .send_text(&room, "how do I reset my password?")
            .await
            .expect("send");
        let helper = helper();
        if carol
            .wait_for_message(
                &room,
                |m| m.sender == helper && m.body.contains("Reset password"),
                Duration::from_secs(6),
            )
            .await
            .is_ok()
        {
            answered = true;
            break;
        }
    }
    assert!(answered, "the bot never answered in the encrypted room");
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    let desk = alice.wait_for_invite(WAIT).await.expect("invite");
    alice.join(&desk).await.expect("join");
    // The customer's room is encrypted, so the case room is too (no
    // `encrypt_case_rooms` in this config): what the customer said in
    // private never sits in plain text on the homeserver.
    let case_room = alice.room(&desk).expect("the case room is known");
    assert!(
        case_room
            .latest_encryption_state()
            .await
            .expect("encryption state")
            .is_encrypted(),
        "an encrypted customer room got a plain case room"
    );
    // The agent's client decrypts what the bot posts there.
    let summary = from_bot(&alice, &desk, "the summary", |m| m.body.contains("Case #1")).await;
    assert!(
        summary.body.contains("how do I reset my password"),
        "{}",
        summary.body
    );
    carol
        .send_text(&room, "the secret detail is 42")
        .await
        .expect("send");
    from_bot(&alice, &desk, "the relayed encrypted text", |m| {
        m.body.contains("the secret detail is 42")
    })
    .await;
    alice
        .send_text(&desk, "Thanks, got it.")
        .await
        .expect("agent text");
    from_bot(&carol, &room, "the agent's answer, encrypted", |m| {
        m.body.contains("Thanks, got it.")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_typing_in_the_case_room_shows_the_bot_typing_to_the_customer() {
    use matrix_sdk::ruma::events::typing::SyncTypingEvent;
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let _handoff = Handoff::start(&synapse, CONFIG);
    // Every typing list carol's client sees, by room.
    let (tx, rx) = tokio::sync::watch::channel(Vec::<(OwnedRoomId, Vec<OwnedUserId>)>::new());
    carol
        .client()
        .add_event_handler(move |ev: SyncTypingEvent, room: matrix_sdk::Room| {
            let tx = tx.clone();
            async move {
                tx.send_modify(|all| all.push((room.room_id().to_owned(), ev.content.user_ids)));
            }
        });
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    let desk = alice.wait_for_invite(WAIT).await.expect("invite");
    alice.join(&desk).await.expect("join");
    from_bot(&alice, &desk, "the summary", |m| m.body.contains("Case #1")).await;
    alice.send_text(&desk, "!claim").await.expect("claim");
    let seen = |want: bool| {
        let mut rx = rx.clone();
        let room = room.clone();
        async move {
            tokio::time::timeout(
                WAIT,
                rx.wait_for(|all| {
                    all.iter()
                        .rev()
                        .find(|(r, _)| *r == room)
                        .is_some_and(|(_, users)| users.contains(&helper()) == want)
                }),
            )
            .await
            .map(|_| ())
        }
    };
    let desk_room = alice.room(&desk).expect("desk");
    desk_room.typing_notice(true).await.expect("typing");
    seen(true)
        .await
        .expect("the customer sees the bot typing while the agent types");
    desk_room.typing_notice(false).await.expect("stop typing");
    seen(false)
        .await
        .expect("the customer sees the bot stop typing");
}

//! Endpoint roles through the real binary on a real Synapse: a case room
//! with two agents joined relays both ways and takes commands from either;
//! after `!transfer` the old room and after `!resolve` the new one stay
//! desks (one notice, no FAQ answer, no new case); the customer gets FAQ
//! answers again after the resolve.

use crate::common;

use common::{bot_joined, from_bot, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use synapse_testkit::TestClient;

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
desk = "matrix"
agents = ["@alice:localhost", "@bob:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost", "@bob:localhost"]
topics = ["invoice"]
"#;

const RESET_ANSWER: &str = "Settings → Security → Reset password";

fn helper() -> OwnedUserId {
    UserId::parse("@helper:localhost").expect("user id")
}

/// The next room `c` is invited to that is not in `known`, joined.
async fn next_case_room(c: &TestClient, known: &[OwnedRoomId]) -> OwnedRoomId {
    loop {
        let id = c
            .wait_for_invite(WAIT)
            .await
            .expect("invited to a case room");
        if !known.contains(&id) {
            c.join(&id).await.expect("join the case room");
            return id;
        }
    }
}

/// Waits until `c` sees `text` in `room` from anyone.
async fn sees(c: &TestClient, room: &OwnedRoomId, text: &str) {
    c.wait_for_message(room, |m| m.body.contains(text), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("never saw {text:?}: {e}\nseen: {seen:#?}")
        });
}

fn never_saw(c: &TestClient, room: &OwnedRoomId, text: &str) {
    let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
    assert!(
        !seen.iter().any(|b| b.contains(text)),
        "{text:?} should not be in {room}: {seen:#?}"
    );
}

fn count(c: &TestClient, room: &OwnedRoomId, text: &str) -> usize {
    c.messages(room)
        .iter()
        .filter(|m| m.body.contains(text))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_share_a_case_room_and_old_rooms_stay_desks() {
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let bob = user(&synapse, "bob").await;
    let handoff = Handoff::start(&synapse, CONFIG);
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    // Both agents join: the room has three members.
    let desk = next_case_room(&alice, &[]).await;
    let bob_desk = next_case_room(&bob, &[]).await;
    assert_eq!(desk, bob_desk);
    from_bot(&bob, &desk, "the summary", |m| m.body.contains("Case #1")).await;

    // Either agent relays to the customer, and the customer to both.
    alice
        .send_text(&desk, "Hello, this is Alice from support")
        .await
        .expect("alice");
    sees(&carol, &room, "this is Alice from support").await;
    bob.send_text(&desk, "And Bob here too").await.expect("bob");
    sees(&carol, &room, "And Bob here too").await;
    carol
        .send_text(&room, "thanks both, my invoice is wrong")
        .await
        .expect("carol");
    sees(&alice, &desk, "thanks both").await;
    // Commands from either: bob notes, alice claims, bob transfers.
    bob.send_text(&desk, "!note checked the ledger")
        .await
        .expect("note");
    alice.send_text(&desk, "!claim").await.expect("claim");
    sees(&carol, &room, "has joined").await;
    bob.send_text(&desk, "!transfer billing")
        .await
        .expect("transfer");
    sees(&carol, &room, "billing team").await;
    let billing = next_case_room(&bob, std::slice::from_ref(&desk)).await;
    let alice_billing = next_case_room(&alice, std::slice::from_ref(&desk)).await;
    assert_eq!(billing, alice_billing);
    from_bot(&alice, &billing, "the new summary", |m| {
        m.body.contains("Case #1")
    })
    .await;

    // The old room stays a desk: a notice once, no FAQ, no new case.
    alice
        .send_text(&desk, "how do i reset my password")
        .await
        .expect("old room");
    from_bot(&alice, &desk, "the moved notice", |m| {
        m.body.contains("case #1 moved to billing")
    })
    .await;
    alice
        .send_text(&desk, "anyone still here?")
        .await
        .expect("old room again");
    bob.send_text(&desk, "!resolve").await.expect("old resolve");

    // In the new room both agents still act; bob resolves.
    alice
        .send_text(&billing, "Billing here, fixing the invoice")
        .await
        .expect("alice in billing");
    sees(&carol, &room, "fixing the invoice").await;
    bob.send_text(&billing, "!resolve").await.expect("resolve");
    sees(&carol, &room, "has been closed").await;
    // The resolved room stays a desk too.
    bob.send_text(&billing, "how do i reset my password")
        .await
        .expect("after resolve");
    from_bot(&bob, &billing, "the resolved notice", |m| {
        m.body.contains("case #1 is resolved")
    })
    .await;
    bob.send_text(&billing, "one more thing")
        .await
        .expect("after resolve again");

    // The customer gets FAQ answers again.
    carol
        .send_text(&room, "how do i reset my password")
        .await
        .expect("faq");
    sees(&carol, &room, RESET_ANSWER).await;
    // Nothing of the old rooms reached the customer; no FAQ answer and
    // no case went to an agent; one notice per room.
    for text in ["anyone still here?", "one more thing"] {
        never_saw(&carol, &room, text);
    }
    never_saw(&carol, &room, "checked the ledger");
    assert_eq!(count(&carol, &room, "has been closed"), 1);
    // The bot never answered an agent as a customer (FAQ, "I don't
    // know", a handover).
    for (c, r) in [(&alice, &desk), (&bob, &billing)] {
        // (The summary quotes the customer's conversation, so only
        // messages that *start* with a bot reply count.)
        let said: Vec<String> = c.messages(r).iter().map(|m| m.body.clone()).collect();
        for text in [RESET_ANSWER, "Sorry, I don't know", "I'm bringing in"] {
            assert!(
                !said.iter().any(|b| b.starts_with(text)),
                "the bot answered an agent with {text:?} in {r}: {said:#?}"
            );
        }
    }
    assert_eq!(count(&alice, &desk, "case #1 moved to billing"), 1);
    assert_eq!(count(&bob, &billing, "case #1 is resolved"), 1);
    drop(handoff);
}

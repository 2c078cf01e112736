//! Relay details between a Matrix customer (real Synapse) and a Slack agent
//! (the emulator) through the real binary, with a 429 on every third
//! `chat.postMessage` and a Socket Mode disconnect mid-case: text in order,
//! edits, deletions and files both ways, customer reactions, nothing lost or doubled.

use crate::common;

use std::time::Duration;

use common::{from_bot, replaces, slack_config, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::Annotation;
use matrix_sdk::ruma::events::room::message::{
    MessageType, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::UserId;
use slack_emulator::{Emulator, EmulatorConfig, Fault};

/// The texts of the bot's replies in the case thread, oldest first.
fn thread_texts(emu: &Emulator, channel: &str, root: &str) -> Vec<String> {
    emu.thread(channel, root)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.ts.to_string() != root)
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_follows_both_ways_through_429s_and_a_socket_drop() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let _handoff = Handoff::start(&synapse, &slack_config(&emu));
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

    // From here on every third chat.postMessage is rate limited.
    emu.fail_every(
        "chat.postMessage",
        3,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let mut sent = Vec::new();
    for i in 1..=6 {
        let text = format!("customer line {i}");
        sent.push(carol.send_text(&room, &text).await.expect("send"));
    }
    emu.wait_for("six customer lines", WAIT, |e| {
        let lines: Vec<String> = thread_texts(e, &channel, &root_ts)
            .into_iter()
            .filter(|t| t.contains("customer line"))
            .collect();
        (lines.len() >= 6).then_some(lines)
    })
    .await
    .expect("all six lines in the thread");
    let lines: Vec<String> = thread_texts(&emu, &channel, &root_ts)
        .into_iter()
        .filter(|t| t.contains("customer line"))
        .collect();
    assert_eq!(lines.len(), 6, "lost or doubled: {lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.contains(&format!("customer line {}", i + 1)),
            "out of order: {lines:#?}"
        );
    }
    assert!(
        emu.calls("chat.postMessage").len() >= 9,
        "the 429s were not exercised"
    );
    emu.clear_faults();

    // Customer edit and deletion follow into the thread.
    // (The pinned summary at the root quotes recent lines too: skip it.)
    let twin_of = |n: usize| {
        emu.thread(&channel, &root_ts)
            .into_iter()
            .filter(|m| m.ts.to_string() != root_ts)
            .find(|m| m.text.contains(&format!("customer line {n}")))
            .map(|m| m.ts.to_string())
            .expect("relayed line")
    };
    let (line1, line2) = (twin_of(1), twin_of(2));
    let edit = RoomMessageEventContent::text_plain("customer line 1, corrected")
        .make_replacement(ReplacementMetadata::new(sent[0].clone(), None));
    carol
        .room(&room)
        .expect("room")
        .send(edit)
        .await
        .expect("edit");
    emu.wait_for("the edit", WAIT, |e| {
        e.message(&channel, &line1)
            .filter(|m| m.text.contains("corrected"))
    })
    .await
    .expect("the thread copy is edited");
    carol
        .room(&room)
        .expect("room")
        .redact(&sent[1], None, None)
        .await
        .expect("redact");
    emu.wait_for("the deletion", WAIT, |e| {
        e.message(&channel, &line2).is_none().then_some(())
    })
    .await
    .expect("the thread copy is deleted");

    // Customer file.
    carol
        .room(&room)
        .expect("room")
        .send_attachment(
            "receipt.png",
            &mime::IMAGE_PNG,
            vec![0x89, b'P', b'N', b'G', 5, 5, 5, 5],
            AttachmentConfig::new(),
        )
        .await
        .expect("image");
    emu.wait_for("the file", WAIT, |e| {
        e.thread(&channel, &root_ts)
            .into_iter()
            .find(|m| !m.files.is_empty())
    })
    .await
    .expect("the image is uploaded into the thread");

    // Agent text, then the customer reacts to it.
    let hi = emu
        .post_as(&alice, &channel, Some(&root_ts), "Hi Carol, checking now")
        .expect("agent posts");
    let hi_twin = from_bot(&carol, &room, "the agent's text", |m| {
        m.body.contains("checking now")
    })
    .await;
    carol
        .room(&room)
        .expect("room")
        .send(ReactionEventContent::new(Annotation::new(
            hi_twin.event_id.clone(),
            "👍".into(),
        )))
        .await
        .expect("react");
    emu.wait_for("the customer's reaction", WAIT, |e| {
        e.reactions(&channel, &hi)
            .into_iter()
            .find(|r| r.name == "+1" || r.name == "thumbsup")
    })
    .await
    .expect("the reaction lands on the agent's message");

    // Agent edit, deletion and file follow to the customer.
    emu.edit_as(&alice, &channel, &hi, "Hi Carol, checking invoice 118 now")
        .expect("edit");
    from_bot(&carol, &room, "the agent's edit", |m| {
        replaces(m).as_ref() == Some(&hi_twin.event_id) && m.body.contains("invoice 118")
    })
    .await;
    // An agent's reaction on a relayed customer message lands on the
    // customer's original (Slack names the message by channel and ts only).
    emu.react_as(&alice, &channel, &twin_of(3), "eyes")
        .expect("agent reacts");
    common::wait_reaction(&carol, &room, &sent[2], "👀").await;
    let oops = emu
        .post_as(&alice, &channel, Some(&root_ts), "oops, wrong thread")
        .expect("agent posts");
    let oops_twin = from_bot(&carol, &room, "the agent's second text", |m| {
        m.body.contains("wrong thread")
    })
    .await;
    emu.delete_as(&alice, &channel, &oops).expect("delete");
    carol
        .wait_for_redaction(&room, &oops_twin.event_id, WAIT)
        .await
        .expect("the customer's copy is redacted");
    emu.upload_as(
        &alice,
        &channel,
        Some(&root_ts),
        "invoice-118.pdf",
        b"%PDF-1.4 invoice",
        None,
    )
    .expect("agent uploads");
    from_bot(&carol, &room, "the agent's file", |m| {
        matches!(m.event.content.msgtype, MessageType::File(_))
            && m.body.contains("invoice-118.pdf")
    })
    .await;

    // Socket Mode drops mid-case; a reply sent meanwhile arrives once.
    emu.drop_sockets();
    emu.post_as(&alice, &channel, Some(&root_ts), "sent during the outage")
        .expect("agent posts");
    from_bot(&carol, &room, "the reply sent while disconnected", |m| {
        m.body.contains("sent during the outage")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = carol.sync_once().await;
    let copies = carol
        .messages(&room)
        .iter()
        .filter(|m| m.body.contains("sent during the outage"))
        .count();
    assert_eq!(copies, 1, "the outage reply arrived {copies} times");
}

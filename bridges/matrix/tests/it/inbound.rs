//! `run` against a real Synapse: a customer's text, edit, redaction,
//! reaction, reply and image arrive as the right `InboundKind`s; the bot's
//! own echoes and ignored users are dropped; thread per customer in a
//! shared room. Not for actions (see `actions.rs`).

use crate::common;

use std::sync::Arc;

use common::{config, server, user, wait_members, MemState, Running};
use handoff_bridge_api::{Action, Bridge, Endpoint, InboundKind, Outgoing, Text};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::{Annotation, InReplyTo, Reply};
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::OwnedUserId;

#[tokio::test]
async fn customer_events_arrive_as_the_right_kinds() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let customer = user(&synapse, "carol").await;
    customer
        .client()
        .account()
        .set_display_name(Some("Carol Customer"))
        .await
        .unwrap();
    let spammer = user(&synapse, "spammer").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();

    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    cfg.ignore_users = vec![spammer.user_id().to_string()];
    cfg.max_media_bytes = 1024;
    let mut bot = Running::start(cfg, Arc::new(MemState::default())).await;

    let room_id = customer
        .create_room("help", &[bot_id.clone(), spammer.user_id().to_owned()])
        .await
        .unwrap();
    wait_members(&customer, &room_id, 2).await;
    spammer.join(&room_id).await.unwrap();
    wait_members(&customer, &room_id, 3).await;
    let room = customer.room(&room_id).unwrap();

    // Text (with HTML).
    let text_id = room
        .send(RoomMessageEventContent::text_html(
            "hello *there*",
            "hello <em>there</em>",
        ))
        .await
        .unwrap()
        .response
        .event_id;
    let (ev, _) = bot
        .wait_for("the text", |e| e.event_id == text_id.as_str())
        .await;
    assert_eq!(ev.sender.id, customer.user_id().as_str());
    // The name from the customer's member event in this room.
    assert_eq!(ev.sender.display_name.as_deref(), Some("Carol Customer"));
    assert_eq!(ev.endpoint, Endpoint::new("matrix", room_id.as_str()));
    match &ev.kind {
        InboundKind::Message { id, body, reply_to } => {
            assert_eq!(id, text_id.as_str());
            assert_eq!(body.plain, "hello *there*");
            assert_eq!(body.html.as_deref(), Some("hello <em>there</em>"));
            assert_eq!(reply_to, &None);
        }
        other => panic!("expected a message, got {other:?}"),
    }

    // The bot's own message (an echo) and the ignored user are dropped.
    let echo = bot
        .bridge
        .send(&Outgoing {
            key: "echo-1".into(),
            action: Action::Send {
                to: Endpoint::new("matrix", room_id.as_str()),
                body: Text::plain("bot says hi"),
                reply_to: None,
                as_name: None,
            },
        })
        .await
        .unwrap();
    spammer.send_text(&room_id, "buy stuff").await.unwrap();

    // Edit.
    let edit = RoomMessageEventContent::text_plain("hello again")
        .make_replacement(ReplacementMetadata::new(text_id.clone(), None));
    let edit_id = room.send(edit).await.unwrap().response.event_id;
    let (ev, skipped) = bot
        .wait_for("the edit", |e| e.event_id == edit_id.as_str())
        .await;
    assert!(
        skipped
            .iter()
            .all(|e| e.sender.id == customer.user_id().as_str()),
        "echo or ignored user leaked: {skipped:#?} (echo was {echo:?})"
    );
    assert_eq!(
        ev.kind,
        InboundKind::Edit {
            target: text_id.to_string(),
            body: Text::plain("hello again")
        }
    );

    // Reaction.
    let reaction_id = room
        .send(ReactionEventContent::new(Annotation::new(
            text_id.clone(),
            "👍".into(),
        )))
        .await
        .unwrap()
        .response
        .event_id;
    let (ev, _) = bot
        .wait_for("the reaction", |e| e.event_id == reaction_id.as_str())
        .await;
    assert_eq!(
        ev.kind,
        InboundKind::Reaction {
            id: reaction_id.to_string(),
            target: text_id.to_string(),
            key: "👍".into()
        }
    );

    // Reply.
    let mut reply = RoomMessageEventContent::text_plain("this is a reply");
    reply.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(text_id.clone()))));
    let reply_id = room.send(reply).await.unwrap().response.event_id;
    let (ev, _) = bot
        .wait_for("the reply", |e| e.event_id == reply_id.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Message { reply_to: Some(t), body, .. }
            if t == text_id.as_str() && body.plain == "this is a reply"),
        "{ev:?}"
    );

    // Image (small enough) and a file over the limit.
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3, 4];
    let image_id = room
        .send_attachment(
            "cat.png",
            &mime::IMAGE_PNG,
            png.clone(),
            AttachmentConfig::new(),
        )
        .await
        .unwrap()
        .event_id;
    let (ev, _) = bot
        .wait_for("the image", |e| e.event_id == image_id.as_str())
        .await;
    match &ev.kind {
        InboundKind::Attachment { id, file } => {
            assert_eq!(id, image_id.as_str());
            assert_eq!(file.name, "cat.png");
            assert_eq!(file.mime, "image/png");
            assert_eq!(file.data, png);
        }
        other => panic!("expected an attachment, got {other:?}"),
    }
    let big_id = room
        .send_attachment(
            "big.bin",
            &mime::APPLICATION_OCTET_STREAM,
            vec![7u8; 4096],
            AttachmentConfig::new(),
        )
        .await
        .unwrap()
        .event_id;
    let (ev, _) = bot
        .wait_for("the oversized file", |e| e.event_id == big_id.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain.contains("big.bin") && body.plain.contains("4096")),
        "{ev:?}"
    );

    // Redaction.
    let redaction_id = room.redact(&text_id, None, None).await.unwrap().event_id;
    let (ev, _) = bot
        .wait_for("the redaction", |e| e.event_id == redaction_id.as_str())
        .await;
    assert_eq!(
        ev.kind,
        InboundKind::Delete {
            target: text_id.to_string()
        }
    );

    // Leaving.
    room.leave().await.unwrap();
    let (ev, _) = bot
        .wait_for("the leave", |e| matches!(e.kind, InboundKind::Left))
        .await;
    assert_eq!(ev.sender.id, customer.user_id().as_str());
    bot.stop().await;
}

#[tokio::test]
async fn each_customer_gets_a_thread_in_a_shared_room() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&synapse, "alice").await;
    let bob = user(&synapse, "bob").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();

    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = true;
    let mut bot = Running::start(cfg, Arc::new(MemState::default())).await;

    let room_id = alice
        .create_room("lobby", &[bot_id, bob.user_id().to_owned()])
        .await
        .unwrap();
    bob.join(&room_id).await.unwrap();
    wait_members(&alice, &room_id, 3).await;

    let a1 = alice.send_text(&room_id, "alice first").await.unwrap();
    let (ev, _) = bot
        .wait_for("alice first", |e| e.event_id == a1.as_str())
        .await;
    assert_eq!(ev.endpoint.thread.as_deref(), Some(a1.as_str()));

    let b1 = bob.send_text(&room_id, "bob first").await.unwrap();
    let (ev, _) = bot
        .wait_for("bob first", |e| e.event_id == b1.as_str())
        .await;
    assert_eq!(ev.endpoint.thread.as_deref(), Some(b1.as_str()));

    let a2 = alice.send_text(&room_id, "alice second").await.unwrap();
    let (ev, _) = bot
        .wait_for("alice second", |e| e.event_id == a2.as_str())
        .await;
    assert_eq!(
        ev.endpoint.thread.as_deref(),
        Some(a1.as_str()),
        "later top-level messages join the first one's thread"
    );

    // The bot answers in Alice's thread with an m.thread relation.
    let delivered = bot
        .bridge
        .send(&Outgoing {
            key: "thread-reply".into(),
            action: Action::Send {
                to: ev.endpoint.clone(),
                body: Text::plain("hi alice"),
                reply_to: None,
                as_name: None,
            },
        })
        .await
        .unwrap();
    let handoff_bridge_api::Delivered::Message(sent) = delivered else {
        panic!("expected a message");
    };
    let seen = alice
        .wait_for_message(&room_id, |m| m.event_id.as_str() == sent.id, common::WAIT)
        .await
        .unwrap();
    match &seen.event.content.relates_to {
        Some(Relation::Thread(t)) => {
            assert_eq!(t.event_id.as_str(), a1.as_str());
            assert!(t.is_falling_back);
            assert!(t.in_reply_to.is_some(), "fallback reply fields");
        }
        other => panic!("expected an m.thread relation, got {other:?}"),
    }
    bot.stop().await;
}

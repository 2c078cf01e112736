//! `send` against a real Synapse: OpenCase (one room, exact invites,
//! summary posted and pinned, idempotent even when the delivery record is
//! lost), UpdateSummary as an edit, a thread desk, and Send/Edit/Delete/
//! React/Upload/Notify as a customer sees them. Not for inbound events.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{config, server, user, MemState, WAIT};
use handoff_bridge_api::{
    Action, Attachment, Bridge, CaseStatus, CaseSummary, Delivered, DeskTarget, Endpoint,
    MessageRef, Outgoing, Text,
};
use handoff_matrix::MatrixBridge;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::events::room::message::{MessageType, Relation};
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use matrix_sdk::RoomMemberships;

fn summary(title: &str, state: &str) -> CaseSummary {
    CaseSummary::new(title, CaseStatus::Waiting, state)
}

fn out(key: &str, action: Action) -> Outgoing {
    Outgoing {
        key: key.into(),
        action,
    }
}

#[tokio::test]
async fn open_case_makes_one_pinned_room_and_repeats_are_no_ops() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&synapse, "alice").await;
    let bob = user(&synapse, "bob").await;
    let bot = MatrixBridge::connect(config(&synapse, dir.path()), Arc::new(MemState::default()))
        .await
        .unwrap();

    let open = out(
        "case-1/open",
        Action::OpenCase {
            desk: DeskTarget::PrivateRoom {
                invite: vec![alice.user_id().to_string(), bob.user_id().to_string()],
                encrypted: false,
            },
            summary: summary("Case #1 · tech · Carol", "queued"),
        },
    );
    let first = bot.send(&open).await.unwrap();
    let Delivered::CaseOpened {
        endpoint,
        summary: pinned,
    } = first.clone()
    else {
        panic!("expected CaseOpened, got {first:?}");
    };
    assert_eq!(endpoint.thread, None);
    assert_eq!(
        bot.send(&open).await.unwrap(),
        first,
        "same key, same result"
    );

    let room_id: OwnedRoomId = endpoint.room.as_str().try_into().unwrap();
    assert_eq!(alice.wait_for_invite(WAIT).await.unwrap(), room_id);
    alice.join(&room_id).await.unwrap();
    let msg = alice
        .wait_for_message(&room_id, |m| m.event_id.as_str() == pinned.id, WAIT)
        .await
        .unwrap();
    assert_eq!(msg.body, "Case #1 · tech · Carol\nState: 🟡 queued\n");
    let MessageType::Text(text) = &msg.event.content.msgtype else {
        panic!("summary should be text");
    };
    let html = &text.formatted.as_ref().expect("html summary").body;
    assert!(html.contains("<h3>Case #1 · tech · Carol</h3>"), "{html}");

    let room = alice.room(&room_id).unwrap();
    let pins = room.load_pinned_events().await.unwrap().unwrap_or_default();
    assert_eq!(
        pins.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        vec![pinned.id.clone()]
    );
    let members: BTreeSet<String> = room
        .members(RoomMemberships::ACTIVE)
        .await
        .unwrap()
        .iter()
        .map(|m| m.user_id().to_string())
        .collect();
    let expected: BTreeSet<String> = [
        bot.user_id().to_string(),
        alice.user_id().to_string(),
        bob.user_id().to_string(),
    ]
    .into();
    assert_eq!(members, expected, "exactly the invited agents");
    assert_eq!(room.name().as_deref(), Some("Case #1 · tech · Carol"));

    // A crash after creating the room but before recording it: the
    // delivery record is gone, the retry must find the same room.
    drop(bot);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bot = MatrixBridge::connect(config(&synapse, dir.path()), Arc::new(MemState::default()))
        .await
        .unwrap();
    assert_eq!(bot.send(&open).await.unwrap(), first, "no second room");
    bob.sync_once().await.unwrap();
    assert_eq!(
        bob.seen().invites,
        vec![room_id.clone()],
        "bob got one invite"
    );

    // UpdateSummary edits in place.
    let update = out(
        "case-1/summary-2",
        Action::UpdateSummary {
            summary_message: pinned.clone(),
            summary: summary("Case #1 · tech · Carol", "assigned to alice"),
        },
    );
    assert_eq!(bot.send(&update).await.unwrap(), Delivered::Done);
    let edit = alice
        .wait_for_message(
            &room_id,
            |m| matches!(&m.event.content.relates_to, Some(Relation::Replacement(_))),
            WAIT,
        )
        .await
        .unwrap();
    let Some(Relation::Replacement(r)) = &edit.event.content.relates_to else {
        unreachable!()
    };
    assert_eq!(r.event_id.as_str(), pinned.id);
    assert_eq!(
        r.new_content.msgtype.body(),
        "Case #1 · tech · Carol\nState: 🟡 assigned to alice\n"
    );
}

#[tokio::test]
async fn thread_desk_posts_a_pinned_thread_root() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&synapse, "alice").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let staff = alice
        .create_room("staff", std::slice::from_ref(&bot_id))
        .await
        .unwrap();
    // Moderator power so the bot may pin in this shared room. Alice's
    // client needs the room's power levels synced before it can edit them.
    let mut raised = Err(None);
    for _ in 0..50 {
        alice.sync_once().await.unwrap();
        match alice
            .room(&staff)
            .unwrap()
            .update_power_levels(vec![(&bot_id, 50.into())])
            .await
        {
            Ok(_) => {
                raised = Ok(());
                break;
            }
            Err(e) => raised = Err(Some(e)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    raised.expect("raising the bot's power level");

    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    let bot = MatrixBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .unwrap();
    let delivered = bot
        .send(&out(
            "case-2/open",
            Action::OpenCase {
                desk: DeskTarget::Thread {
                    room: staff.to_string(),
                },
                summary: summary("Case #2", "queued"),
            },
        ))
        .await
        .unwrap();
    let Delivered::CaseOpened { endpoint, summary } = delivered else {
        panic!("expected CaseOpened");
    };
    assert_eq!(endpoint.room, staff.as_str());
    assert_eq!(endpoint.thread.as_deref(), Some(summary.id.as_str()));
    let pins = alice
        .room(&staff)
        .unwrap()
        .load_pinned_events()
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(pins.iter().any(|p| p.as_str() == summary.id), "{pins:?}");
}

#[tokio::test]
async fn relayed_actions_are_visible_to_the_customer() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let room_id = carol.create_room("help", &[bot_id]).await.unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.customer_rooms = vec![room_id.to_string()];
    let bot = MatrixBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .unwrap();
    let to = Endpoint::new("matrix", room_id.as_str());
    let question = carol.send_text(&room_id, "is anyone there?").await.unwrap();

    // Send as a relayed agent, as a reply; a repeat is a no-op.
    let send = out(
        "relay-1",
        Action::Send {
            to: to.clone(),
            body: Text::plain("yes, Bob here"),
            reply_to: Some(question.to_string()),
            as_name: Some("Bob".into()),
        },
    );
    let Delivered::Message(sent) = bot.send(&send).await.unwrap() else {
        panic!("expected a message");
    };
    assert_eq!(
        bot.send(&send).await.unwrap(),
        Delivered::Message(sent.clone())
    );
    let msg = carol
        .wait_for_message(&room_id, |m| m.event_id.as_str() == sent.id, WAIT)
        .await
        .unwrap();
    assert_eq!(msg.body, "**Bob:** yes, Bob here");
    let MessageType::Text(t) = &msg.event.content.msgtype else {
        panic!("text expected");
    };
    assert_eq!(
        t.formatted.as_ref().map(|f| f.body.as_str()),
        Some("<strong>Bob:</strong> yes, Bob here")
    );
    assert!(matches!(&msg.event.content.relates_to,
        Some(Relation::Reply(r)) if r.in_reply_to.event_id == question));

    // Edit.
    let edit = out(
        "relay-1/edit",
        Action::Edit {
            target: sent.clone(),
            body: Text::plain("yes, Bob here (edited)"),
        },
    );
    bot.send(&edit).await.unwrap();
    let edited = carol
        .wait_for_message(
            &room_id,
            |m| matches!(&m.event.content.relates_to, Some(Relation::Replacement(r)) if r.event_id.as_str() == sent.id),
            WAIT,
        )
        .await
        .unwrap();
    let Some(Relation::Replacement(r)) = &edited.event.content.relates_to else {
        unreachable!()
    };
    assert_eq!(r.new_content.msgtype.body(), "yes, Bob here (edited)");

    // React.
    let Delivered::Message(reaction) = bot
        .send(&out(
            "react-1",
            Action::React {
                target: MessageRef {
                    endpoint: to.clone(),
                    id: question.to_string(),
                },
                key: "👀".into(),
            },
        ))
        .await
        .unwrap()
    else {
        panic!("expected a message ref for the reaction");
    };
    let room = carol.room(&room_id).unwrap();
    let fetched = room
        .event(&OwnedEventId::try_from(reaction.id.as_str()).unwrap(), None)
        .await
        .unwrap();
    match fetched.raw().deserialize().unwrap() {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::Reaction(r)) => {
            let r = r.as_original().expect("not redacted");
            assert_eq!(r.content.relates_to.key, "👀");
            assert_eq!(r.content.relates_to.event_id, question);
        }
        other => panic!("expected a reaction, got {other:?}"),
    }

    // Delete.
    assert_eq!(
        bot.send(&out(
            "relay-1/delete",
            Action::Delete {
                target: sent.clone()
            }
        ))
        .await
        .unwrap(),
        Delivered::Done
    );
    carol
        .wait_for_redaction(
            &room_id,
            &OwnedEventId::try_from(sent.id.as_str()).unwrap(),
            WAIT,
        )
        .await
        .unwrap();

    // Upload an image.
    let png = vec![0x89, b'P', b'N', b'G', 9, 9, 9];
    let Delivered::Message(up) = bot
        .send(&out(
            "upload-1",
            Action::Upload {
                to: to.clone(),
                file: Attachment {
                    name: "shot.png".into(),
                    mime: "image/png".into(),
                    data: png.clone(),
                },
                as_name: None,
            },
        ))
        .await
        .unwrap()
    else {
        panic!("expected a message");
    };
    let img = carol
        .wait_for_message(&room_id, |m| m.event_id.as_str() == up.id, WAIT)
        .await
        .unwrap();
    let MessageType::Image(image) = &img.event.content.msgtype else {
        panic!("expected m.image, got {:?}", img.event.content.msgtype);
    };
    let data = carol
        .client()
        .media()
        .get_media_content(
            &MediaRequestParameters {
                source: image.source.clone(),
                format: MediaFormat::File,
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(data, png);

    // Notify with a mention pill.
    let Delivered::Message(note) = bot
        .send(&out(
            "notify-1",
            Action::Notify {
                to: to.clone(),
                body: Text::plain("SLA missed"),
                mention: Some(carol.user_id().to_string()),
            },
        ))
        .await
        .unwrap()
    else {
        panic!("expected a message");
    };
    let n = carol
        .wait_for_message(&room_id, |m| m.event_id.as_str() == note.id, WAIT)
        .await
        .unwrap();
    let MessageType::Notice(notice) = &n.event.content.msgtype else {
        panic!("expected m.notice");
    };
    let html = &notice.formatted.as_ref().expect("pill html").body;
    assert!(
        html.contains(&format!("https://matrix.to/#/{}", carol.user_id())),
        "{html}"
    );
    let mentions = n.event.content.mentions.as_ref().expect("m.mentions");
    assert!(mentions.user_ids.contains(carol.user_id()));

    // Only one copy of the repeated send reached the room.
    let copies = carol
        .messages(&room_id)
        .iter()
        .filter(|m| m.body == "**Bob:** yes, Bob here")
        .count();
    assert_eq!(copies, 1);
}

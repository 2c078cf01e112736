//! An encrypted customer room against a real Synapse: the bot decrypts the
//! customer's messages and its encrypted replies are readable by the
//! customer, also after the bridge restarts (same device, same crypto
//! store); messages sent while the bridge was down arrive after restart.

use crate::common;

use std::sync::Arc;

use common::{config, server, user, wait_members, MemState, Running, WAIT};
use handoff_bridge_api::{Action, Bridge, Delivered, InboundKind, Outgoing, Text};
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use synapse_testkit::TestClient;

async fn ask_and_answer(bot: &mut Running, carol: &TestClient, room: &OwnedRoomId, n: u32) {
    let question = format!("secret question {n}");
    let asked = carol.send_text(room, &question).await.unwrap();
    let (ev, _) = bot
        .wait_for(&question, |e| e.event_id == asked.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain == question),
        "bot could not read the encrypted message: {ev:?}"
    );
    reply(bot, carol, room, &format!("secret answer {n}")).await;
}

async fn reply(bot: &Running, carol: &TestClient, room: &OwnedRoomId, answer: &str) {
    let Delivered::Message(sent) = bot
        .bridge
        .send(&Outgoing {
            key: format!("answer/{answer}"),
            action: Action::Send {
                to: handoff_bridge_api::Endpoint::new("matrix", room.as_str()),
                body: Text::plain(answer),
                reply_to: None,
                as_name: None,
            },
        })
        .await
        .unwrap()
    else {
        panic!("expected a message");
    };
    let seen = carol
        .wait_for_message(room, |m| m.event_id.as_str() == sent.id, WAIT)
        .await
        .unwrap();
    assert_eq!(seen.body, answer, "customer could not read the bot's reply");
}

#[tokio::test]
async fn encrypted_room_works_both_ways_across_a_restart() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(MemState::default());
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();

    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    let mut bot = Running::start(cfg.clone(), state.clone()).await;

    let mut request = CreateRoomRequest::new();
    request.name = Some("private help".into());
    request.invite = vec![bot_id];
    request.preset = Some(RoomPreset::TrustedPrivateChat);
    request.initial_state = vec![InitialStateEvent::with_empty_state_key(
        RoomEncryptionEventContent::with_recommended_defaults(),
    )
    .to_raw_any()];
    let room = carol.create_room_with(request).await.unwrap();
    wait_members(&carol, &room, 2).await;
    assert!(carol
        .room(&room)
        .unwrap()
        .latest_encryption_state()
        .await
        .unwrap()
        .is_encrypted());

    ask_and_answer(&mut bot, &carol, &room, 1).await;

    bot.stop().await;
    let while_down = carol
        .send_text(&room, "sent while you were down")
        .await
        .unwrap();
    let mut bot = Running::start(cfg, state).await;
    let (ev, _) = bot
        .wait_for("the message sent during downtime", |e| {
            e.event_id == while_down.as_str()
        })
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain == "sent while you were down"),
        "{ev:?}"
    );
    ask_and_answer(&mut bot, &carol, &room, 2).await;
    bot.stop().await;
}

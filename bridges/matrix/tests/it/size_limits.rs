//! Oversized outgoing text against a real Synapse: a message or edit far
//! over Matrix's 64 KiB event limit is sent cut with a marker (Synapse
//! would refuse it with `M_TOO_LARGE` on every retry), in a plain and in
//! an encrypted room, where a file upload is also readable by the
//! customer.

use crate::common;

use std::sync::Arc;

use common::{config, server, user, wait_members, MemState, Running, WAIT};
use handoff_bridge_api::{
    Action, Attachment, Bridge, Delivered, Endpoint, MessageRef, Outgoing, Text,
};
use handoff_matrix::MAX_CONTENT_BYTES;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::{MessageType, Relation};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use synapse_testkit::TestClient;

const MARKER_END: &str = "more characters]";

fn long_text() -> Text {
    let plain: String = (0..20_000).map(|i| format!("w{i} ")).collect();
    Text {
        html: Some(format!("<p>{plain}</p>")),
        plain,
    }
}

fn sent_id(d: Delivered) -> String {
    match d {
        Delivered::Message(m) => m.id,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Sends and edits a long text in `room`; checks what the customer sees.
async fn long_send_and_edit(bot: &Running, carol: &TestClient, room: &OwnedRoomId, tag: &str) {
    let to = Endpoint::new("matrix", room.as_str());
    let text = long_text();
    assert!(text.plain.len() > 2 * MAX_CONTENT_BYTES);
    let send = Outgoing {
        key: format!("{tag}/long"),
        action: Action::Send {
            to: to.clone(),
            body: text.clone(),
            reply_to: None,
            as_name: Some("Alice".into()),
        },
    };
    // Carol sees the bot's join before the bot's own sync does: until its
    // client has the room, the bridge rightly refuses (the key makes a
    // repeat harmless).
    let deadline = tokio::time::Instant::now() + WAIT;
    let delivered = loop {
        match bot.bridge.send(&send).await {
            Err(e)
                if e.to_string().contains("not in room")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => break other,
        }
    };
    let id = sent_id(delivered.expect("a long text is sent, not refused"));
    let seen = carol
        .wait_for_message(room, |m| m.event_id.as_str() == id, WAIT)
        .await
        .unwrap();
    assert!(
        seen.body.starts_with("**Alice:** w0 w1"),
        "{}",
        &seen.body[..40]
    );
    assert!(seen.body.ends_with(MARKER_END));
    assert!(seen.body.len() <= MAX_CONTENT_BYTES);

    let edit = sent_id(
        bot.bridge
            .send(&Outgoing {
                key: format!("{tag}/long-edit"),
                action: Action::Edit {
                    target: MessageRef {
                        endpoint: to,
                        id: id.clone(),
                    },
                    body: text,
                },
            })
            .await
            .expect("a long edit is sent, not refused"),
    );
    let seen = carol
        .wait_for_message(room, |m| m.event_id.as_str() == edit, WAIT)
        .await
        .unwrap();
    let Some(Relation::Replacement(r)) = &seen.event.content.relates_to else {
        panic!("expected an edit: {:?}", seen.event.content.relates_to)
    };
    assert_eq!(r.event_id.as_str(), id);
    assert!(r.new_content.msgtype.body().ends_with(MARKER_END));
}

#[tokio::test]
async fn long_texts_are_sent_cut_in_plain_and_encrypted_rooms() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    let bot = Running::start(cfg, Arc::new(MemState::default())).await;

    let plain_room = carol
        .create_room("help", std::slice::from_ref(&bot_id))
        .await
        .unwrap();
    wait_members(&carol, &plain_room, 2).await;
    long_send_and_edit(&bot, &carol, &plain_room, "plain").await;

    let mut request = CreateRoomRequest::new();
    request.invite = vec![bot_id];
    request.preset = Some(RoomPreset::TrustedPrivateChat);
    request.initial_state = vec![InitialStateEvent::with_empty_state_key(
        RoomEncryptionEventContent::with_recommended_defaults(),
    )
    .to_raw_any()];
    let secret_room = carol.create_room_with(request).await.unwrap();
    wait_members(&carol, &secret_room, 2).await;
    long_send_and_edit(&bot, &carol, &secret_room, "encrypted").await;

    // A file in the encrypted room: uploaded encrypted, readable by carol.
    let data = b"%PDF-1.4 not really".to_vec();
    let id = sent_id(
        bot.bridge
            .send(&Outgoing {
                key: "encrypted/upload".into(),
                action: Action::Upload {
                    to: Endpoint::new("matrix", secret_room.as_str()),
                    file: Attachment {
                        name: "invoice.pdf".into(),
                        mime: "application/pdf".into(),
                        data: data.clone(),
                    },
                    as_name: Some("Alice".into()),
                },
            })
            .await
            .unwrap(),
    );
    let seen = carol
        .wait_for_message(&secret_room, |m| m.event_id.as_str() == id, WAIT)
        .await
        .unwrap();
    let MessageType::File(file) = &seen.event.content.msgtype else {
        panic!("expected a file: {:?}", seen.event.content.msgtype)
    };
    assert_eq!(file.filename.as_deref(), Some("invoice.pdf"));
    assert!(
        seen.body.contains("Alice"),
        "the caption names the sender: {}",
        seen.body
    );
    assert!(matches!(
        file.source,
        matrix_sdk::ruma::events::room::MediaSource::Encrypted(_)
    ));
    let got = carol
        .client()
        .media()
        .get_media_content(
            &MediaRequestParameters {
                source: file.source.clone(),
                format: MediaFormat::File,
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(got, data);
    bot.stop().await;
}

/// Incoming media against the cap (`max_media_bytes` = 1 KiB): a file
/// whose event lies about its size (10 bytes announced, 64 KiB stored) is
/// refused from the response's Content-Length, before its body is read,
/// and becomes a note; small files still arrive, in a plain room and
/// (decrypted) in an encrypted one. Reading stops at the cap when no
/// length is announced: `media::tests::reading_stops_just_past_the_cap`.
#[tokio::test]
async fn oversized_media_is_not_downloaded_past_the_cap() {
    use handoff_bridge_api::InboundKind;
    use matrix_sdk::attachment::AttachmentConfig;
    use matrix_sdk::ruma::events::room::message::{
        FileInfo, FileMessageEventContent, RoomMessageEventContent,
    };
    use matrix_sdk::ruma::UInt;

    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    cfg.max_media_bytes = 1024;
    let mut bot = Running::start(cfg, Arc::new(MemState::default())).await;
    let room_id = carol
        .create_room("help", std::slice::from_ref(&bot_id))
        .await
        .unwrap();
    wait_members(&carol, &room_id, 2).await;
    let room = carol.room(&room_id).unwrap();

    // 64 KiB stored, 10 bytes announced.
    let big = vec![0x42u8; 64 * 1024];
    let uploaded = carol
        .client()
        .media()
        .upload(&mime::APPLICATION_OCTET_STREAM, big, None)
        .await
        .unwrap();
    let mut info = FileInfo::new();
    info.size = Some(UInt::from(10u32));
    let liar = FileMessageEventContent::plain("liar.bin".into(), uploaded.content_uri)
        .info(Box::new(info));
    let liar_id = room
        .send(RoomMessageEventContent::new(MessageType::File(liar)))
        .await
        .unwrap()
        .response
        .event_id;
    let (ev, _) = bot
        .wait_for("the lying file", |e| e.event_id == liar_id.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Message { body, .. }
            if body.plain.contains("liar.bin")
                && body.plain.contains("65536 bytes, over the 1024 byte limit")),
        "{ev:?}"
    );

    let small = b"small enough".to_vec();
    let small_id = room
        .send_attachment(
            "small.txt",
            &mime::TEXT_PLAIN,
            small.clone(),
            AttachmentConfig::new(),
        )
        .await
        .unwrap()
        .event_id;
    let (ev, _) = bot
        .wait_for("the small file", |e| e.event_id == small_id.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Attachment { file, .. } if file.data == small),
        "{ev:?}"
    );

    let mut request = CreateRoomRequest::new();
    request.invite = vec![bot_id];
    request.preset = Some(RoomPreset::TrustedPrivateChat);
    request.initial_state = vec![InitialStateEvent::with_empty_state_key(
        RoomEncryptionEventContent::with_recommended_defaults(),
    )
    .to_raw_any()];
    let secret_id = carol.create_room_with(request).await.unwrap();
    wait_members(&carol, &secret_id, 2).await;
    let secret = carol.room(&secret_id).unwrap();
    let sealed_id = secret
        .send_attachment(
            "sealed.txt",
            &mime::TEXT_PLAIN,
            small.clone(),
            AttachmentConfig::new(),
        )
        .await
        .unwrap()
        .event_id;
    let (ev, _) = bot
        .wait_for("the encrypted file", |e| e.event_id == sealed_id.as_str())
        .await;
    assert!(
        matches!(&ev.kind, InboundKind::Attachment { file, .. } if file.data == small),
        "{ev:?}"
    );
    bot.stop().await;
}

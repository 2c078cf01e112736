//! Pins, reactions and the file upload flow through slack-morphism, with
//! the `url_private` download that needs the bot token.

use crate::common;

use common::*;
use slack_emulator::EmulatorConfig;
use slack_morphism::prelude::*;

fn text(s: &str) -> SlackMessageContent {
    SlackMessageContent::new().with_text(s.into())
}

#[tokio::test]
async fn pins_and_reactions() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);
    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            channel.clone().into(),
            text("summary"),
        ))
        .await
        .unwrap();

    session
        .pins_add(&SlackApiPinsAddRequest::new(
            channel.clone().into(),
            posted.ts.clone(),
        ))
        .await
        .expect("pins.add");
    let again = session
        .pins_add(&SlackApiPinsAddRequest::new(
            channel.clone().into(),
            posted.ts.clone(),
        ))
        .await;
    assert_eq!(api_error_code(again), "already_pinned");
    let pins = session
        .pins_list(&SlackApiPinsListRequest::new(channel.clone().into()))
        .await
        .expect("pins.list");
    assert_eq!(pins.items.len(), 1);
    assert_eq!(
        pins.items[0].message.as_ref().map(|m| m.origin.ts.clone()),
        Some(posted.ts.clone())
    );
    assert_eq!(emu.pins(&channel).len(), 1);

    let name = SlackReactionName("eyes".into());
    session
        .reactions_add(&SlackApiReactionsAddRequest::new(
            channel.clone().into(),
            name.clone(),
            posted.ts.clone(),
        ))
        .await
        .expect("reactions.add");
    let again = session
        .reactions_add(&SlackApiReactionsAddRequest::new(
            channel.clone().into(),
            name.clone(),
            posted.ts.clone(),
        ))
        .await;
    assert_eq!(api_error_code(again), "already_reacted");
    assert_eq!(
        emu.reactions(&channel, &posted.ts.0)[0].users,
        vec![emu.bot_user_id().to_string()]
    );
    session
        .reactions_remove(
            &SlackApiReactionsRemoveRequest::new(name.clone())
                .with_channel(channel.clone().into())
                .with_timestamp(posted.ts.clone()),
        )
        .await
        .expect("reactions.remove");
    assert!(emu.reactions(&channel, &posted.ts.0).is_empty());
    let missing = session
        .reactions_add(&SlackApiReactionsAddRequest::new(
            channel.clone().into(),
            name,
            "1.000001".into(),
        ))
        .await;
    assert_eq!(api_error_code(missing), "message_not_found");
}

#[tokio::test]
async fn file_upload_flow_and_private_download() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);
    let bytes = b"log line 1\nlog line 2\n".to_vec();

    let url = session
        .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
            "app.log".into(),
            bytes.len(),
        ))
        .await
        .expect("files.getUploadURLExternal");
    session
        .files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
            url.upload_url.clone(),
            bytes.clone(),
            "text/plain".into(),
        ))
        .await
        .expect("upload to the returned URL");
    let done = session
        .files_complete_upload_external(
            &SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                url.file_id.clone(),
            )
            .with_title("Logs".into())])
            .with_channel_id(channel.clone().into()),
        )
        .await
        .expect("files.completeUploadExternal");
    assert_eq!(done.files[0].id, url.file_id);
    let shared = emu.messages(&channel);
    assert_eq!(shared.last().unwrap().files, vec![url.file_id.0.clone()]);

    let private = done.files[0]
        .url_private
        .clone()
        .expect("url_private")
        .to_string();
    let auth = format!("Bearer {}", emu.bot_token());
    let with_token = raw("GET", &private, &[("authorization", &auth)], b"")
        .await
        .unwrap();
    assert_eq!(with_token.status, 200);
    assert_eq!(with_token.body, bytes);
    let without = raw("GET", &private, &[], b"").await.unwrap();
    assert_eq!(
        without.status, 302,
        "no token: redirected to a login page, as on Slack"
    );
}

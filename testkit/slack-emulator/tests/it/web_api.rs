//! Every Web API method the bridge uses, called through slack-morphism (the
//! bridge's client) to prove the shapes parse, plus Slack's error shapes,
//! pagination and the raw encodings slack-morphism does not send.

use crate::common;

use common::*;
use slack_emulator::{CallOutcome, EmulatorConfig};
use slack_morphism::prelude::*;

fn text(s: &str) -> SlackMessageContent {
    SlackMessageContent::new().with_text(s.into())
}

#[tokio::test]
async fn auth_test_and_users_info_parse() {
    let emu = emulator(EmulatorConfig::default()).await;
    let alice = emu.add_user("alice", false);
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let auth = session.auth_test().await.expect("auth.test");
    assert_eq!(auth.user_id.0, emu.bot_user_id());
    assert_eq!(auth.team_id.0, emu.team_id());
    assert_eq!(auth.bot_id.map(|b| b.0).as_deref(), Some(emu.bot_id()));

    let info = session
        .users_info(&SlackApiUsersInfoRequest::new(alice.clone().into()))
        .await
        .expect("users.info");
    assert_eq!(info.user.name.as_deref(), Some("alice"));
    assert_eq!(info.user.flags.is_bot, Some(false));
    let bot = session
        .users_info(&SlackApiUsersInfoRequest::new(emu.bot_user_id().into()))
        .await
        .expect("users.info for the bot");
    assert_eq!(bot.user.flags.is_bot, Some(true));

    let missing = session
        .users_info(&SlackApiUsersInfoRequest::new("U404".into()))
        .await;
    assert_eq!(api_error_code(missing), "user_not_found");
}

#[tokio::test]
async fn post_update_delete_in_a_thread() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let root = emu.post_as("alice", &channel, None, "help me").unwrap();
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let posted = session
        .chat_post_message(
            &SlackApiChatPostMessageRequest::new(channel.clone().into(), text("on it"))
                .with_thread_ts(root.clone().into())
                .with_username("Agent Bob".into()),
        )
        .await
        .expect("chat.postMessage");
    assert_eq!(posted.channel.0, channel);
    assert_eq!(
        posted
            .message
            .origin
            .thread_ts
            .as_ref()
            .map(|t| t.0.as_str()),
        Some(root.as_str())
    );
    assert_eq!(
        posted.message.sender.bot_id.as_ref().map(|b| b.0.as_str()),
        Some(emu.bot_id())
    );
    assert_eq!(posted.message.sender.username.as_deref(), Some("Agent Bob"));
    assert!(posted.ts.0 > root, "ts grows: {} > {}", posted.ts.0, root);

    let updated = session
        .chat_update(&SlackApiChatUpdateRequest::new(
            channel.clone().into(),
            text("on it, edited"),
            posted.ts.clone(),
        ))
        .await
        .expect("chat.update");
    assert_eq!(
        updated.message.content.text.as_deref(),
        Some("on it, edited")
    );
    assert!(updated.message.edited.is_some());
    assert_eq!(
        emu.message(&channel, &posted.ts.0).unwrap().text,
        "on it, edited"
    );

    // The bot may not edit or delete what a person wrote.
    let foreign = session
        .chat_update(&SlackApiChatUpdateRequest::new(
            channel.clone().into(),
            text("x"),
            root.clone().into(),
        ))
        .await;
    assert_eq!(api_error_code(foreign), "cant_update_message");
    let foreign = session
        .chat_delete(&SlackApiChatDeleteRequest::new(
            channel.clone().into(),
            root.clone().into(),
        ))
        .await;
    assert_eq!(api_error_code(foreign), "cant_delete_message");

    session
        .chat_delete(&SlackApiChatDeleteRequest::new(
            channel.clone().into(),
            posted.ts.clone(),
        ))
        .await
        .expect("chat.delete");
    assert!(emu.message(&channel, &posted.ts.0).is_none());
    let again = session
        .chat_delete(&SlackApiChatDeleteRequest::new(
            channel.clone().into(),
            posted.ts.clone(),
        ))
        .await;
    assert_eq!(api_error_code(again), "message_not_found");
}

#[tokio::test]
async fn errors_have_slacks_shapes() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let r = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C404".into(),
            text("x"),
        ))
        .await;
    assert_eq!(api_error_code(r), "channel_not_found");

    let none = form(
        &emu,
        "chat.postMessage",
        None,
        &format!("channel={channel}&text=x"),
    )
    .await;
    assert_eq!(none.status, 200);
    assert_eq!(
        none.json(),
        serde_json::json!({"ok": false, "error": "not_authed"})
    );
    let bad = form(&emu, "auth.test", Some("xoxb-wrong"), "").await;
    assert_eq!(bad.json()["error"], "invalid_auth");
    let app = form(&emu, "auth.test", Some(emu.app_token()), "").await;
    assert_eq!(app.json()["error"], "not_allowed_token_type");
    let unknown = form(&emu, "chat.flyToTheMoon", Some(emu.bot_token()), "").await;
    assert_eq!(unknown.json()["error"], "unknown_method");

    // The token may also come as a form field.
    let field = form(
        &emu,
        "auth.test",
        None,
        &format!("token={}", emu.bot_token()),
    )
    .await;
    assert_eq!(field.json()["ok"], true);

    // Posting by `#name` works as on Slack; history needs the id.
    let by_name = form(
        &emu,
        "chat.postMessage",
        Some(emu.bot_token()),
        "channel=%23support&text=hi",
    )
    .await;
    assert_eq!(by_name.json()["channel"], channel.as_str());
    let empty = form(
        &emu,
        "chat.postMessage",
        Some(emu.bot_token()),
        &format!("channel={channel}"),
    )
    .await;
    assert_eq!(empty.json()["error"], "no_text");

    emu.revoke_token(emu.bot_token());
    let revoked = session.auth_test().await;
    assert_eq!(api_error_code(revoked), "token_revoked");
    assert_eq!(
        emu.calls("auth.test").last().unwrap().outcome,
        CallOutcome::Error("token_revoked".into())
    );
}

#[tokio::test]
async fn missing_scope_names_the_scope() {
    let mut config = EmulatorConfig::default();
    config.bot_scopes.retain(|s| s != "pins:write");
    let emu = emulator(config).await;
    let channel = emu.add_channel("support");
    let answer = form(
        &emu,
        "pins.add",
        Some(emu.bot_token()),
        &format!("channel={channel}&timestamp=1.000001"),
    )
    .await;
    let body = answer.json();
    assert_eq!(body["error"], "missing_scope");
    assert_eq!(body["needed"], "pins:write");
}

#[tokio::test]
async fn replies_paginate_with_cursor_and_window() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let root = emu.post_as("alice", &channel, None, "root").unwrap();
    let mut replies = Vec::new();
    for i in 0..5 {
        replies.push(
            emu.post_as("alice", &channel, Some(&root), &format!("r{i}"))
                .unwrap(),
        );
    }
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let mut seen = Vec::new();
    let mut cursor: Option<SlackCursorId> = None;
    let mut pages = 0;
    loop {
        let page = session
            .conversations_replies(
                &SlackApiConversationsRepliesRequest::new(
                    channel.clone().into(),
                    root.clone().into(),
                )
                .with_limit(3)
                .opt_cursor(cursor.clone()),
            )
            .await
            .expect("conversations.replies");
        pages += 1;
        assert_eq!(
            page.messages[0].origin.ts.0, root,
            "the parent leads every page"
        );
        assert_eq!(page.messages[0].parent.reply_count, Some(5));
        seen.extend(page.messages.iter().skip(1).map(|m| m.origin.ts.0.clone()));
        cursor = page.response_metadata.and_then(|m| m.next_cursor);
        assert_eq!(page.has_more, Some(cursor.is_some()));
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, replies);

    // `oldest` is exclusive unless `inclusive`.
    let window = session
        .conversations_replies(
            &SlackApiConversationsRepliesRequest::new(channel.clone().into(), root.clone().into())
                .with_oldest(replies[2].clone().into()),
        )
        .await
        .unwrap();
    let got: Vec<_> = window
        .messages
        .iter()
        .skip(1)
        .map(|m| m.origin.ts.0.clone())
        .collect();
    assert_eq!(got, replies[3..].to_vec());
    let inclusive = session
        .conversations_replies(
            &SlackApiConversationsRepliesRequest::new(channel.clone().into(), root.clone().into())
                .with_oldest(replies[2].clone().into())
                .with_inclusive(true),
        )
        .await
        .unwrap();
    assert_eq!(inclusive.messages.len(), 1 + 3);

    let bad = session
        .conversations_replies(
            &SlackApiConversationsRepliesRequest::new(channel.clone().into(), root.clone().into())
                .with_cursor("not-a-cursor!".into()),
        )
        .await;
    assert_eq!(api_error_code(bad), "invalid_cursor");
    let missing = session
        .conversations_replies(&SlackApiConversationsRepliesRequest::new(
            channel.clone().into(),
            "1.000001".into(),
        ))
        .await;
    assert_eq!(api_error_code(missing), "thread_not_found");
}

#[tokio::test]
async fn history_info_join_and_list() {
    let emu = emulator(EmulatorConfig::default()).await;
    let support = emu.add_channel("support");
    let lobby = emu.add_channel_with("lobby", slack_emulator::ChannelOptions::default());
    emu.add_user("alice", false);
    let first = emu.post_as("alice", &support, None, "one").unwrap();
    emu.post_as("alice", &support, Some(&first), "a reply")
        .unwrap();
    let second = emu.post_as("alice", &support, None, "two").unwrap();
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let history = session
        .conversations_history(
            &SlackApiConversationsHistoryRequest::new()
                .with_channel(support.clone().into())
                .with_limit(1),
        )
        .await
        .expect("conversations.history");
    assert_eq!(history.messages.len(), 1);
    assert_eq!(history.messages[0].origin.ts.0, second, "newest first");
    let cursor = history
        .response_metadata
        .and_then(|m| m.next_cursor)
        .expect("more");
    let rest = session
        .conversations_history(
            &SlackApiConversationsHistoryRequest::new()
                .with_channel(support.clone().into())
                .with_cursor(cursor),
        )
        .await
        .unwrap();
    assert_eq!(rest.messages.len(), 1, "replies stay out of history");
    assert_eq!(rest.messages[0].parent.reply_count, Some(1));

    let not_in = session
        .conversations_history(
            &SlackApiConversationsHistoryRequest::new().with_channel(lobby.clone().into()),
        )
        .await;
    assert_eq!(api_error_code(not_in), "not_in_channel");
    let info = session
        .conversations_info(&SlackApiConversationsInfoRequest::new(lobby.clone().into()))
        .await
        .expect("conversations.info");
    assert_eq!(info.channel.name.as_deref(), Some("lobby"));
    assert_eq!(info.channel.flags.is_member, Some(false));
    let joined = session
        .conversations_join(&SlackApiConversationsJoinRequest::new(lobby.clone().into()))
        .await
        .expect("conversations.join");
    assert_eq!(joined.channel.flags.is_member, Some(true));
    assert!(emu
        .messages(&lobby)
        .iter()
        .any(|m| m.subtype.as_deref() == Some("channel_join")));

    let list = session
        .conversations_list(&SlackApiConversationsListRequest::new().with_limit(1))
        .await
        .expect("conversations.list");
    assert_eq!(list.channels.len(), 1);
    assert!(list.response_metadata.and_then(|m| m.next_cursor).is_some());
}

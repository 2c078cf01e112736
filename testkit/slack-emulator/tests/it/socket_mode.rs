//! Socket Mode with a raw websocket client (hello, envelopes, acks,
//! redelivery, several sockets, disconnects) and with slack-morphism's own
//! listener. Every payload is also parsed with slack-morphism's models.

use crate::common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use slack_emulator::{DeliveryOutcome, Emulator, EmulatorConfig};
use slack_morphism::prelude::*;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

async fn connect(emu: &Emulator) -> Socket {
    let open = form(emu, "apps.connections.open", Some(emu.app_token()), "").await;
    let url = open.json()["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("ws://"));
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket opens");
    socket
}

/// The next text frame as JSON, checked to parse as slack-morphism's model.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame ok");
        if let WsMessage::Text(text) = frame {
            let value: Value = serde_json::from_str(&text).expect("json frame");
            let parsed = match value["type"].as_str() {
                Some("events_api") => {
                    serde_json::from_value::<SlackPushEventCallback>(value["payload"].clone()).err()
                }
                Some("interactive") => {
                    serde_json::from_value::<SlackInteractionEvent>(value["payload"].clone()).err()
                }
                _ => None,
            };
            if let Some(err) = parsed {
                panic!("slack-morphism cannot parse {value}: {err}");
            }
            return value;
        }
    }
}

async fn ack(socket: &mut Socket, envelope: &Value) {
    let ack = json!({"envelope_id": envelope["envelope_id"]}).to_string();
    socket
        .send(WsMessage::Text(ack.into()))
        .await
        .expect("ack sent");
}

async fn hello(socket: &mut Socket) -> Value {
    let hello = next(socket).await;
    assert_eq!(hello["type"], "hello");
    hello
}

#[tokio::test]
async fn hello_envelope_ack() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let mut socket = connect(&emu).await;
    let hi = hello(&mut socket).await;
    assert_eq!(hi["num_connections"], 1);
    assert_eq!(
        hi["connection_info"]["app_id"],
        emu.config().app_id.as_str()
    );

    let root = emu
        .post_as("alice", &channel, None, "I need a human")
        .unwrap();
    let envelope = next(&mut socket).await;
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["retry_attempt"], 0);
    let event = &envelope["payload"]["event"];
    assert_eq!(envelope["payload"]["type"], "event_callback");
    assert_eq!(event["type"], "message");
    assert_eq!(event["text"], "I need a human");
    assert_eq!(event["ts"], root.as_str());
    assert_eq!(event["channel"], channel.as_str());
    assert_eq!(event["channel_type"], "channel");
    assert_eq!(event["team"], emu.team_id());
    assert!(event["user"].as_str().is_some_and(|u| u.starts_with('U')));
    assert!(event.get("bot_id").is_none());
    ack(&mut socket, &envelope).await;
    let event_id = envelope["payload"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    emu.wait_for_delivery(
        |d| d.event_id.as_deref() == Some(&event_id) && d.outcome == DeliveryOutcome::Acked,
        WAIT,
    )
    .await
    .expect("ack recorded");

    let reply = emu
        .post_as("alice", &channel, Some(&root), "hello?")
        .unwrap();
    let envelope = next(&mut socket).await;
    assert_eq!(envelope["payload"]["event"]["thread_ts"], root.as_str());
    assert_eq!(envelope["payload"]["event"]["ts"], reply.as_str());
    ack(&mut socket, &envelope).await;
}

#[tokio::test]
async fn unacked_envelopes_come_back_with_the_same_event_id() {
    let config =
        EmulatorConfig::default().with_fast_retries(Duration::from_millis(500), Duration::ZERO);
    let emu = emulator(config).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let mut socket = connect(&emu).await;
    hello(&mut socket).await;
    emu.post_as("alice", &channel, None, "anyone?").unwrap();

    let first = next(&mut socket).await;
    let second = next(&mut socket).await;
    assert_ne!(first["envelope_id"], second["envelope_id"]);
    assert_eq!(first["payload"]["event_id"], second["payload"]["event_id"]);
    assert_eq!(second["retry_attempt"], 1);
    assert_eq!(second["retry_reason"], "timeout");
    ack(&mut socket, &second).await;
    emu.wait_for_delivery(
        |d| d.attempt == 1 && d.outcome == DeliveryOutcome::Acked,
        WAIT,
    )
    .await
    .expect("retry acked");
    // A late ack of the first envelope changes nothing and no third comes.
    ack(&mut socket, &first).await;
    let third = tokio::time::timeout(Duration::from_millis(1200), socket.next()).await;
    assert!(third.is_err(), "no redelivery after the ack: {third:?}");
}

#[tokio::test]
async fn events_wait_for_a_connection_and_spread_over_sockets() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    emu.post_as("alice", &channel, None, "queued").unwrap();

    let mut a = connect(&emu).await;
    hello(&mut a).await;
    let queued = next(&mut a).await;
    assert_eq!(queued["payload"]["event"]["text"], "queued");
    ack(&mut a, &queued).await;

    let mut b = connect(&emu).await;
    assert_eq!(hello(&mut b).await["num_connections"], 2);
    emu.wait_for_sockets(2, WAIT).await.unwrap();
    for i in 0..4 {
        emu.post_as("alice", &channel, None, &format!("m{i}"))
            .unwrap();
    }
    let mut texts = Vec::new();
    for socket in [&mut a, &mut b] {
        for _ in 0..2 {
            let envelope = next(socket).await;
            texts.push(
                envelope["payload"]["event"]["text"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            ack(socket, &envelope).await;
        }
    }
    texts.sort();
    assert_eq!(
        texts,
        ["m0", "m1", "m2", "m3"],
        "each event on exactly one socket"
    );
}

#[tokio::test]
async fn echo_edits_deletes_reactions_files_and_buttons() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let mut socket = connect(&emu).await;
    hello(&mut socket).await;
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    let root = emu.post_as("alice", &channel, None, "help").unwrap();
    let envelope = next(&mut socket).await;
    ack(&mut socket, &envelope).await;

    let blocks: Vec<SlackBlock> = serde_json::from_value(json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "Resolve?"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "resolve", "value": "case-7", "text": {"type": "plain_text", "text": "Resolve"}}
        ]}
    ]))
    .unwrap();
    let posted = session
        .chat_post_message(
            &SlackApiChatPostMessageRequest::new(
                channel.clone().into(),
                SlackMessageContent::new()
                    .with_text("Resolve?".into())
                    .with_blocks(blocks),
            )
            .with_thread_ts(root.clone().into()),
        )
        .await
        .unwrap();
    let echo = next(&mut socket).await;
    assert_eq!(
        echo["payload"]["event"]["bot_id"],
        emu.bot_id(),
        "the bot's own post comes back with bot_id"
    );
    assert_eq!(echo["payload"]["event"]["ts"], posted.ts.0.as_str());
    ack(&mut socket, &echo).await;

    let reply = emu.post_as("alice", &channel, Some(&root), "typo").unwrap();
    let envelope = next(&mut socket).await;
    ack(&mut socket, &envelope).await;
    emu.edit_as("alice", &channel, &reply, "fixed").unwrap();
    let changed = next(&mut socket).await;
    let event = &changed["payload"]["event"];
    assert_eq!(event["subtype"], "message_changed");
    assert_eq!(event["message"]["text"], "fixed");
    assert_eq!(event["message"]["ts"], reply.as_str());
    assert_eq!(event["previous_message"]["text"], "typo");
    assert!(
        event.get("thread_ts").is_none(),
        "no top-level thread_ts on edits"
    );
    ack(&mut socket, &changed).await;

    emu.delete_as("alice", &channel, &reply).unwrap();
    let deleted = next(&mut socket).await;
    assert_eq!(deleted["payload"]["event"]["subtype"], "message_deleted");
    assert_eq!(deleted["payload"]["event"]["deleted_ts"], reply.as_str());
    ack(&mut socket, &deleted).await;

    emu.react_as("alice", &channel, &posted.ts.0, "white_check_mark")
        .unwrap();
    let reacted = next(&mut socket).await;
    assert_eq!(reacted["payload"]["event"]["type"], "reaction_added");
    assert_eq!(
        reacted["payload"]["event"]["item"]["ts"],
        posted.ts.0.as_str()
    );
    assert_eq!(reacted["payload"]["event"]["item_user"], emu.bot_user_id());
    ack(&mut socket, &reacted).await;

    let file_id = emu
        .upload_as(
            "alice",
            &channel,
            Some(&root),
            "shot.png",
            b"\x89PNG",
            Some("see"),
        )
        .unwrap();
    let mut types = Vec::new();
    for _ in 0..2 {
        let envelope = next(&mut socket).await;
        let event = &envelope["payload"]["event"];
        if event["type"] == "message" {
            assert_eq!(event["files"][0]["id"], file_id.as_str());
            assert_eq!(event["subtype"], "file_share");
        }
        types.push(event["type"].as_str().unwrap().to_string());
        ack(&mut socket, &envelope).await;
    }
    types.sort();
    assert_eq!(types, ["file_shared", "message"]);

    emu.press_button("alice", &channel, &posted.ts.0, "resolve", None)
        .unwrap();
    let interactive = next(&mut socket).await;
    assert_eq!(interactive["type"], "interactive");
    let payload = &interactive["payload"];
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(payload["actions"][0]["action_id"], "resolve");
    assert_eq!(payload["actions"][0]["value"], "case-7");
    assert_eq!(payload["container"]["message_ts"], posted.ts.0.as_str());
    assert_eq!(payload["container"]["channel_id"], channel.as_str());
    assert_eq!(payload["message"]["ts"], posted.ts.0.as_str());
    ack(&mut socket, &interactive).await;
    assert!(
        emu.press_button("alice", &channel, &root, "resolve", None)
            .is_err(),
        "not a bot message"
    );
}

#[tokio::test]
async fn drop_disconnect_and_refuse() {
    let emu = emulator(EmulatorConfig::default()).await;
    let mut socket = connect(&emu).await;
    hello(&mut socket).await;
    emu.disconnect_sockets("refresh_requested");
    let bye = next(&mut socket).await;
    assert_eq!(bye["type"], "disconnect");
    assert_eq!(bye["reason"], "refresh_requested");

    let mut socket = connect(&emu).await;
    hello(&mut socket).await;
    emu.drop_sockets();
    let ended = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("socket ends");
    assert!(!matches!(ended, Some(Ok(WsMessage::Text(_)))), "{ended:?}");
    emu.wait_for("sockets closed", WAIT, |e| {
        (e.socket_count() == 0).then_some(())
    })
    .await
    .unwrap();

    // A ticket is good for one connection only.
    let open = form(&emu, "apps.connections.open", Some(emu.app_token()), "").await;
    let url = open.json()["url"].as_str().unwrap().to_string();
    let (mut first, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("first use");
    hello(&mut first).await;
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "ticket reused"
    );

    emu.refuse_connections(Duration::from_secs(60));
    let open = form(&emu, "apps.connections.open", Some(emu.app_token()), "").await;
    let url = open.json()["url"].as_str().unwrap().to_string();
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "refused while switched on"
    );

    let open = form(&emu, "apps.connections.open", Some(emu.bot_token()), "").await;
    assert_eq!(open.json()["error"], "not_allowed_token_type");
}

#[derive(Clone)]
struct Seen(tokio::sync::mpsc::UnboundedSender<String>);

async fn on_push(
    event: SlackPushEventCallback,
    _client: std::sync::Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let SlackEventCallbackBody::Message(message) = event.event {
        let text = message.content.and_then(|c| c.text).unwrap_or_default();
        if let Some(seen) = state.read().await.get_user_state::<Seen>() {
            let _ = seen.0.send(text);
        }
    }
    Ok(())
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: std::sync::Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let SlackInteractionEvent::BlockActions(actions) = event {
        let id = actions
            .actions
            .unwrap_or_default()
            .first()
            .map(|a| a.action_id.0.clone())
            .unwrap_or_default();
        if let Some(seen) = state.read().await.get_user_state::<Seen>() {
            let _ = seen.0.send(format!("action:{id}"));
        }
    }
    Ok(())
}

type SlackHyperClient = SlackClient<Connector>;

#[tokio::test]
async fn slack_morphism_listener_receives_and_acks() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("support");
    emu.add_user("alice", false);
    let client = std::sync::Arc::new(client(&emu));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let environment = std::sync::Arc::new(
        SlackClientEventsListenerEnvironment::new(client.clone()).with_user_state(Seen(tx)),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_interaction_events(on_interaction);
    let listener = SlackClientSocketModeListener::new(
        &SlackClientSocketModeConfig::new().with_initial_backoff_in_seconds(0),
        environment,
        callbacks,
    );
    listener
        .listen_for(&app_token(&emu))
        .await
        .expect("listen_for");
    listener.start().await;
    emu.wait_for_sockets(2, WAIT)
        .await
        .expect("slack-morphism opens two sockets");

    emu.post_as("alice", &channel, None, "via slack-morphism")
        .unwrap();
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "via slack-morphism");
    emu.wait_for_delivery(|d| d.outcome == DeliveryOutcome::Acked, WAIT)
        .await
        .expect("slack-morphism acked the envelope");

    let token = bot_token(&emu);
    let session = client.open_session(&token);
    let blocks: Vec<SlackBlock> = serde_json::from_value(json!([
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "claim", "value": "1", "text": {"type": "plain_text", "text": "Claim"}}
        ]}
    ]))
    .unwrap();
    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            channel.clone().into(),
            SlackMessageContent::new()
                .with_text("claim?".into())
                .with_blocks(blocks),
        ))
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "claim?"
    );
    emu.press_button("alice", &channel, &posted.ts.0, "claim", Some("1"))
        .unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "action:claim"
    );
    listener.shutdown().await;
}

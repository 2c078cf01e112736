//! Secrets stay secret: through login, a restored session, sync, sends and
//! a wrong password, neither the bot's password nor its access token shows
//! up in the logs (the bridge at TRACE, matrix-sdk at DEBUG), in an error
//! message, or in `Debug` output.

use crate::common;

use std::sync::Arc;

use common::logs::capture;
use common::{config, server, user, wait_members, MemState, Running, PASSWORD};
use handoff_bridge_api::{Action, Bridge, BridgeError, Endpoint, Outgoing, Text};
use handoff_matrix::MatrixBridge;
use matrix_sdk::ruma::OwnedUserId;

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({}…):\n{text}",
            &secret[..4]
        );
    }
}

#[tokio::test]
async fn no_password_or_access_token_reaches_logs_errors_or_debug() {
    let (logs, _guard) = capture();
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let carol = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    let shown = format!("{cfg:?}");

    // First start logs in; the second restores the saved session.
    for round in 0..2 {
        let mut bot = Running::start(cfg.clone(), Arc::new(MemState::default())).await;
        let room = carol
            .create_room(&format!("help {round}"), std::slice::from_ref(&bot_id))
            .await
            .unwrap();
        wait_members(&carol, &room, 2).await;
        let asked = carol.send_text(&room, "hello").await.unwrap();
        bot.wait_for("the question", |e| e.event_id == asked.as_str())
            .await;
        bot.bridge
            .send(&Outgoing {
                key: format!("answer-{round}"),
                action: Action::Send {
                    to: Endpoint::new("matrix", room.as_str()),
                    body: Text::plain("hi"),
                    reply_to: None,
                    as_name: None,
                },
            })
            .await
            .unwrap();
        let debug = format!("{:?}", bot.bridge);
        bot.stop().await;
        assert_hidden("Debug of the bridge", &debug, &[PASSWORD]);
    }
    let session = std::fs::read_to_string(dir.path().join("session.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&session).unwrap();
    let token = saved["access_token"]
        .as_str()
        .expect("a saved token")
        .to_string();

    // A wrong password for a fresh device.
    let other = tempfile::tempdir().unwrap();
    let mut wrong = config(&synapse, other.path());
    wrong.password = "not-the-password-4711".into();
    let err = MatrixBridge::connect(wrong, Arc::new(MemState::default()))
        .await
        .expect_err("a wrong password fails");
    assert!(matches!(err, BridgeError::Auth { .. }), "{err}");
    let errors = format!("{err}\n{err:?}");

    let text = logs.text();
    assert!(text.contains("logged in to Matrix"), "logs were captured");
    let secrets = [PASSWORD, token.as_str(), "not-the-password-4711"];
    assert_hidden("the logs", &text, &secrets);
    assert_hidden("an error", &errors, &secrets);
    assert_hidden("Debug of the config", &shown, &secrets);
}

//! Secrets stay secret: through a whole run (start-up, Socket Mode and
//! Events API traffic, refused requests, a revoked and a wrong token) no
//! bot token, app token or signing secret shows up in anything logged at
//! any level, in an error message, or in `Debug` output.

use crate::common;
use crate::events_api::{now, setup, signed, Setup, SECRET};

use std::sync::Arc;

use common::logs::capture;
use common::*;
use handoff_bridge_api::{Bridge, BridgeError};
use handoff_slack::{SlackBridge, SlackBridgeConfig};
use slack_emulator::EmulatorConfig;

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({}…):\n{text}",
            &secret[..6]
        );
    }
}

#[tokio::test]
async fn no_token_or_signing_secret_reaches_logs_errors_or_debug() {
    let (logs, _guard) = capture();

    // Socket Mode: a relayed reply, then the app token revoked.
    let emu = emulator(EmulatorConfig::default()).await;
    let secrets = [emu.bot_token().to_string(), emu.app_token().to_string()];
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let cfg = socket_config(&emu);
    let shown = format!("{cfg:?}");
    let bridge = Arc::new(
        SlackBridge::connect(cfg, Arc::new(MemState::default()))
            .await
            .unwrap(),
    );
    let (tx, mut rx) = handoff_bridge_api::inbound_channel(16);
    let runner = bridge.clone();
    let run = tokio::spawn(async move { runner.run(tx).await });
    emu.wait_for_sockets(1, WAIT).await.unwrap();
    let (_, root) = opened(&bridge, "open", &channel).await;
    emu.post_as("bob", &channel, Some(&root), "hi").unwrap();
    next(&mut rx).await;
    // Revoked while running: the listener's reconnects fail (and log).
    emu.revoke_token(emu.app_token());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    bridge.shutdown();
    tokio::time::timeout(WAIT, run)
        .await
        .expect("run ends on shutdown")
        .unwrap()
        .expect("a shut down run is Ok");
    // Revoked at start: run fails with Auth.
    let (tx, _rx) = handoff_bridge_api::inbound_channel(1);
    let err = bridge
        .run(tx)
        .await
        .expect_err("a revoked app token is an error");
    assert!(matches!(err, BridgeError::Auth { .. }), "{err}");
    let mut errors = vec![err.to_string(), format!("{err:?}"), format!("{bridge:?}")];

    // A wrong bot token at start.
    let mut wrong = socket_config(&emu);
    wrong.bot_token = "xoxb-this-is-a-wrong-token-123456".into();
    let err = SlackBridge::connect(wrong, Arc::new(MemState::default()))
        .await
        .expect_err("a wrong bot token fails");
    errors.push(err.to_string());
    errors.push(format!("{err:?}"));
    assert_hidden(
        "an error",
        &errors.join("\n"),
        &[&secrets[0], &secrets[1], "this-is-a-wrong-token"],
    );
    assert_hidden("Debug of the config", &shown, &[&secrets[0], &secrets[1]]);

    // Events API: a delivery, forged and stale requests.
    let Setup {
        emu: http_emu,
        bridge: http_bridge,
        mut rx,
        url,
    } = setup().await;
    let http_channel = http_emu.add_channel("desk");
    http_emu.add_user("bob", false);
    let (_, root) = opened(&http_bridge, "open", &http_channel).await;
    http_emu
        .post_as("bob", &http_channel, Some(&root), "hi")
        .unwrap();
    next(&mut rx).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for headers in [
        signed("not-the-secret", now(), "{}"),
        signed(SECRET, now() - 900, "{}"),
    ] {
        let mut req = hyper::Request::post(&url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = client
            .request(
                req.body(http_body_util::Full::new(bytes::Bytes::from("{}")))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }
    let cfg = SlackBridgeConfig::events_api(http_emu.bot_token(), SECRET, "127.0.0.1:0");
    assert_hidden(
        "Debug of an Events API config",
        &format!("{cfg:?}"),
        &[SECRET],
    );

    let text = logs.text();
    assert!(
        text.contains("events API request refused"),
        "logs were captured"
    );
    assert_hidden(
        "the logs",
        &text,
        &[
            &secrets[0],
            &secrets[1],
            http_emu.bot_token(),
            SECRET,
            "this-is-a-wrong-token",
        ],
    );
}

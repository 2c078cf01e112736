//! The Socket Mode connection as the daemon sees it: readiness
//! (`is_connected`, behind `/readyz`) follows the real sockets, and an app
//! token revoked while running stops `run` with an authentication error
//! instead of reconnecting forever.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use handoff_bridge_api::{Bridge, BridgeError};
use slack_emulator::EmulatorConfig;

#[tokio::test]
async fn readiness_follows_the_sockets_and_a_revoked_app_token_stops_run() {
    let emu = emulator(EmulatorConfig::default()).await;
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (tx, _rx) = handoff_bridge_api::inbound_channel(16);
    let b = bridge.clone();
    let running = tokio::spawn(async move { b.run(tx).await });
    eventually("ready after hello", || bridge.is_connected()).await;

    // Sockets gone and refused for a while: not ready; back: ready.
    emu.refuse_connections(Duration::from_secs(3));
    emu.drop_sockets();
    eventually("not ready while disconnected", || !bridge.is_connected()).await;
    eventually("ready again after reconnecting", || bridge.is_connected()).await;

    // The app token is revoked while running (its sockets close too).
    emu.revoke_token(emu.app_token());
    let result = tokio::time::timeout(WAIT * 2, running)
        .await
        .expect("run returns instead of reconnecting forever")
        .expect("run does not panic");
    match result {
        Err(BridgeError::Auth { detail, .. }) => {
            assert!(detail.contains("token_revoked"), "{detail}");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(!bridge.is_connected());
}

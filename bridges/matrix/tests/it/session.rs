//! Login and session lifecycle against a real Synapse: first login, restore
//! with the same device and token, wrong password, unreachable server, bad
//! URL. Not for room events (see `inbound.rs`).

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, server, MemState};
use handoff_bridge_api::BridgeError;
use handoff_matrix::{MatrixBridge, RetryPolicy};

fn saved_token(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("session.json")).expect("session.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn restart_restores_the_same_device_without_a_new_login() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(MemState::default());

    let first = MatrixBridge::connect(config(&synapse, dir.path()), state.clone())
        .await
        .expect("first connect");
    let device = first.device_id().expect("device id");
    let token = saved_token(dir.path());
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("session.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "session.json must be private");

    let second = MatrixBridge::connect(config(&synapse, dir.path()), state)
        .await
        .expect("second connect");
    assert_eq!(second.device_id().as_deref(), Some(device.as_str()));
    // A new login would have minted a new access token.
    assert_eq!(saved_token(dir.path()), token);
    assert_eq!(
        second.user_id(),
        format!("@helper:{}", synapse.server_name())
    );
}

#[tokio::test]
async fn wrong_password_fails_at_once_with_auth() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.password = "wrong".into();
    cfg.connect_retry = RetryPolicy {
        max_attempts: 5,
        initial_delay: Duration::from_secs(120),
        max_delay: Duration::from_secs(120),
    };
    let started = Instant::now();
    let err = MatrixBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .expect_err("wrong password must fail");
    assert!(matches!(err, BridgeError::Auth { .. }), "{err:?}");
    // No retries: a single retry would have slept at least 60 s (the
    // margin keeps a loaded machine from failing this).
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.to_string().contains("wrong"), "password leaked: {err}");
}

#[tokio::test]
async fn unreachable_server_is_unavailable_after_bounded_retries() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = handoff_matrix::MatrixBridgeConfig::new(
        format!("http://127.0.0.1:{port}"),
        "@helper:localhost",
        "pw",
        dir.path(),
    );
    cfg.connect_retry = RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(40),
    };
    let err = MatrixBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, BridgeError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_homeserver_url_is_rejected() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cfg = handoff_matrix::MatrixBridgeConfig::new("not a url", "@helper:x", "pw", dir.path());
    let err = MatrixBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .expect_err("bad url");
    assert!(matches!(err, BridgeError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("not a url"), "{err}");
}

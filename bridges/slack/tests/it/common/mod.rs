//! Shared test helpers: an in-memory `BridgeState`, an emulator plus a
//! bridge pointed at it, and waiting for inbound events.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::InboundReceiver;
use handoff_bridge_api::{
    Action, Bridge, Button, CaseStatus, CaseSummary, Delivered, DeskTarget, Inbound, Outgoing,
};
use handoff_slack::{RetryPolicy, SlackBridge, SlackBridgeConfig};
use slack_emulator::{Emulator, EmulatorConfig};

pub mod arbitrary;
pub mod logs;

pub const WAIT: Duration = Duration::from_secs(10);

/// `BridgeState` in memory (the real one is the core's store); `clear`
/// simulates losing it.
pub use handoff_bridge_api::MemoryState as MemState;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub async fn emulator(config: EmulatorConfig) -> Emulator {
    init_tracing();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Emulator::start(config).await.expect("emulator starts")
}

/// A Socket Mode config for `emu`, with fast retries for tests.
pub fn socket_config(emu: &Emulator) -> SlackBridgeConfig {
    let mut cfg = SlackBridgeConfig::socket_mode(emu.bot_token(), emu.app_token());
    cfg.api_url = Some(emu.slack_api_url());
    cfg.reconnect_delay = Duration::from_secs(1);
    cfg.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    cfg
}

pub async fn bridge(emu: &Emulator, state: Arc<MemState>) -> Arc<SlackBridge> {
    Arc::new(
        SlackBridge::connect(socket_config(emu), state)
            .await
            .expect("bridge connects"),
    )
}

/// Starts `run` and waits for Socket Mode connections to be up.
pub async fn run(emu: &Emulator, bridge: &Arc<SlackBridge>) -> InboundReceiver {
    let (tx, rx) = handoff_bridge_api::inbound_channel(256);
    let b = bridge.clone();
    tokio::spawn(async move { b.run(tx).await });
    emu.wait_for_sockets(1, WAIT)
        .await
        .expect("socket connects");
    rx
}

/// The next inbound event, failing the test after `WAIT`.
pub async fn next(rx: &mut InboundReceiver) -> Inbound {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an inbound event in time")
        .expect("inbound channel open")
}

/// Polls `cond` until it holds, failing the test with `what` after `WAIT`
/// (for state outside the emulator, whose `wait_for` re-checks only on
/// the emulator's own changes).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts nothing arrives within `d`.
pub async fn nothing_within(rx: &mut InboundReceiver, d: Duration) {
    if let Ok(Some(ev)) = tokio::time::timeout(d, rx.recv()).await {
        panic!("unexpected inbound event: {ev:?}");
    }
}

pub fn summary() -> CaseSummary {
    let mut card = CaseSummary::new("Case #42 · billing · Alice", CaseStatus::Waiting, "Waiting")
        .field("Customer", "Alice (matrix)")
        .field("Reason", "asked for a human");
    card.buttons = vec![
        Button {
            action: "claim".into(),
            label: "Claim".into(),
            options: vec![],
        },
        Button {
            action: "resolve".into(),
            label: "Resolve".into(),
            options: vec![],
        },
        Button {
            action: "transfer".into(),
            label: "Transfer".into(),
            options: vec![
                ("tech".into(), "Tech".into()),
                ("sales".into(), "Sales".into()),
            ],
        },
    ];
    card
}

pub fn open_case(key: &str, room: &str) -> Outgoing {
    Outgoing {
        key: key.into(),
        action: Action::OpenCase {
            desk: DeskTarget::Thread { room: room.into() },
            summary: summary(),
        },
    }
}

/// Opens a case; returns (channel id, root ts).
pub async fn opened(bridge: &SlackBridge, key: &str, room: &str) -> (String, String) {
    match bridge
        .send(&open_case(key, room))
        .await
        .expect("case opens")
    {
        Delivered::CaseOpened { endpoint, summary } => {
            assert_eq!(endpoint.thread.as_deref(), Some(summary.id.as_str()));
            (endpoint.room, summary.id)
        }
        other => panic!("expected CaseOpened, got {other:?}"),
    }
}

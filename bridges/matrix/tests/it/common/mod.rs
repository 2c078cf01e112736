//! Shared helpers for the Matrix bridge integration tests: a real Synapse,
//! users, an in-memory `BridgeState`, a bridge config with fast retries,
//! and waiting for `Inbound` events.
//!
//! Not a test itself. Invariant: every wait has a timeout and fails the
//! test with a message saying what did not arrive.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::InboundReceiver;
use handoff_bridge_api::{Bridge, Inbound};
use handoff_matrix::{MatrixBridge, MatrixBridgeConfig, RetryPolicy};
use matrix_sdk::ruma::RoomId;
use synapse_testkit::{Synapse, TestClient};
use tokio::task::JoinHandle;

pub mod logs;

pub const PASSWORD: &str = "correct horse battery";
pub const WAIT: Duration = Duration::from_secs(60);

/// `BridgeState` in memory (the real one is the core's store); `clear`
/// simulates losing it.
pub use handoff_bridge_api::MemoryState as MemState;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,handoff_matrix=debug".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A fresh Synapse with a bot user `helper` registered.
pub async fn server() -> Synapse {
    init_tracing();
    let synapse = Synapse::start().await.expect("start synapse");
    synapse
        .register("helper", PASSWORD, false)
        .await
        .expect("register bot");
    synapse
}

/// Registers and logs in a test user.
pub async fn user(synapse: &Synapse, name: &str) -> TestClient {
    synapse
        .register(name, PASSWORD, false)
        .await
        .expect("register user");
    synapse.login(name, PASSWORD).await.expect("login user")
}

/// A bridge config for the bot with fast connect retries.
pub fn config(synapse: &Synapse, data_dir: &Path) -> MatrixBridgeConfig {
    let mut cfg = MatrixBridgeConfig::new(
        synapse.base_url(),
        format!("@helper:{}", synapse.server_name()),
        PASSWORD,
        data_dir,
    );
    cfg.device_name = "handoff-test".into();
    cfg.connect_retry = RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
    };
    cfg
}

/// A running bridge: its `run` loop in a task and the inbound receiver.
pub struct Running {
    pub bridge: Arc<MatrixBridge>,
    pub rx: InboundReceiver,
    /// The bridge's run loop (or, with [`Running::start`], the pump that
    /// acknowledges its events; the run loop is then `bridge_task`).
    pub task: JoinHandle<()>,
    pub bridge_task: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts the bridge with a core that handles every event on receipt
    /// (a test that never reads `rx` does not hold the bridge up).
    pub async fn start(cfg: MatrixBridgeConfig, state: Arc<MemState>) -> Running {
        let mut running = Running::start_tracked(cfg, state).await;
        let (tx, rx) = handoff_bridge_api::inbound_channel(100_000);
        let mut from_bridge = std::mem::replace(&mut running.rx, rx);
        let pump = tokio::spawn(async move {
            while let Some(incoming) = from_bridge.recv_tracked().await {
                if let Some(ack) = incoming.ack {
                    ack.handled();
                }
                if tx.send(incoming.event).await.is_err() {
                    break;
                }
            }
        });
        let bridge_task = std::mem::replace(&mut running.task, pump);
        running.bridge_task = Some(bridge_task);
        running
    }

    /// Starts the bridge with `rx` straight from it: the test acknowledges
    /// events itself (`recv_tracked`), or by reading them with `recv`.
    pub async fn start_tracked(cfg: MatrixBridgeConfig, state: Arc<MemState>) -> Running {
        let bridge = Arc::new(MatrixBridge::connect(cfg, state).await.expect("connect"));
        let (tx, rx) = handoff_bridge_api::inbound_channel(256);
        let runner = bridge.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = runner.run(tx).await {
                panic!("bridge run failed: {e}");
            }
        });
        Running {
            bridge,
            rx,
            task,
            bridge_task: None,
        }
    }

    /// Stops the loop and drops the bridge (closing its stores).
    pub async fn stop(self) {
        if let Some(t) = self.bridge_task {
            t.abort();
            let _ = t.await;
        }
        self.task.abort();
        let _ = self.task.await;
        drop(self.rx);
        drop(self.bridge);
        // Let matrix-sdk background tasks release the sqlite stores.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// The next inbound event matching `pred`; earlier non-matching ones
    /// are returned in the second element.
    pub async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Inbound) -> bool,
    ) -> (Inbound, Vec<Inbound>) {
        let mut skipped = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(ev)) if pred(&ev) => return (ev, skipped),
                Ok(Some(ev)) => skipped.push(ev),
                Ok(None) => panic!("inbound channel closed while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}; saw {skipped:#?}"),
            }
        }
    }
}

/// Waits until `room` has `n` joined members as seen by `client`.
pub async fn wait_members(client: &TestClient, room: &RoomId, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        client.sync_once().await.expect("sync");
        let mut joined = 0;
        if let Some(r) = client.client().get_room(room) {
            joined = r
                .members(matrix_sdk::RoomMemberships::JOIN)
                .await
                .map(|m| m.len())
                .unwrap_or(0);
            if joined >= n {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{room} never reached {n} joined members (has {joined})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

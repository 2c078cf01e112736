//! systemd readiness: tells the service manager `READY=1` once every
//! bridge is connected and `STOPPING=1` when handoff shuts down
//! (`Type=notify` in `contrib/handoff.service`). Without `NOTIFY_SOCKET`
//! (not started by systemd) every call does nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::Bridge;
use sd_notify::NotifyState;

/// How often the bridges' connection state is looked at until all are up.
const POLL: Duration = Duration::from_millis(100);

fn send(state: NotifyState<'_>) {
    // A service manager that cannot be told is not a reason to stop
    // serving customers; systemd itself times the start out.
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}

/// Waits until every bridge says it is connected, then sends `READY=1`.
pub async fn ready_when_connected(bridges: HashMap<String, Arc<dyn Bridge>>) {
    while !bridges.values().all(|b| b.is_connected()) {
        tokio::time::sleep(POLL).await;
    }
    tracing::info!("every bridge is connected; ready");
    send(NotifyState::Ready);
}

/// Sends `STOPPING=1`.
pub fn stopping() {
    send(NotifyState::Stopping);
}

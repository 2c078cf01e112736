//! Builds the network bridges a config asks for. Each bridge crate is
//! optional (cargo features `matrix` and `slack`), so this is the only
//! place in the core that names them.

use std::sync::Arc;

use handoff_bridge_api::Bridge;

use crate::config::{Config, MatrixConfig, SlackConfig};
use crate::daemon::DaemonError;
#[cfg(any(feature = "matrix", feature = "slack"))]
use crate::daemon::StoreBridgeState;
use crate::store::Store;

/// The Matrix bridge for customers and Matrix desks.
#[cfg(feature = "matrix")]
pub async fn matrix(
    m: &MatrixConfig,
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<Arc<dyn Bridge>, DaemonError> {
    use handoff_matrix::{MatrixBridge, MatrixBridgeConfig};
    let data_dir = crate::backup::matrix_dir(&config.bot.store);
    let mut cfg = MatrixBridgeConfig::new(
        m.homeserver.clone(),
        m.user.clone(),
        m.password.expose().to_string(),
        data_dir,
    );
    cfg.device_name = m.device_name.clone();
    cfg.customer_rooms = m.customer_rooms.clone();
    cfg.auto_join = m.auto_join;
    cfg.ignore_users = m.ignore_users.clone();
    cfg.thread_per_customer = m.thread_per_customer;
    cfg.sync_timeline_limit = m.sync_timeline_limit;
    let state = Arc::new(StoreBridgeState {
        store: store.clone(),
        network: "matrix",
    });
    let bridge = MatrixBridge::connect(cfg, state)
        .await
        .map_err(|source| DaemonError::Bridge {
            network: "matrix",
            source,
        })?;
    Ok(Arc::new(bridge))
}

#[cfg(not(feature = "matrix"))]
pub async fn matrix(
    _m: &MatrixConfig,
    _config: &Config,
    _store: &Arc<dyn Store>,
) -> Result<Arc<dyn Bridge>, DaemonError> {
    Err(DaemonError::MissingBridge("matrix"))
}

/// The Slack bridge for Slack desks.
#[cfg(feature = "slack")]
pub async fn slack(
    s: &SlackConfig,
    agent_groups: Vec<String>,
    store: &Arc<dyn Store>,
) -> Result<Arc<dyn Bridge>, DaemonError> {
    use handoff_slack::{NameStyle, SlackBridge, SlackBridgeConfig};
    let mut cfg = SlackBridgeConfig::socket_mode(s.bot_token.expose(), "");
    cfg.app_token = s.app_token.as_ref().map(|t| t.expose().to_string());
    cfg.signing_secret = s.signing_secret.as_ref().map(|t| t.expose().to_string());
    cfg.listen = s.listen.clone();
    cfg.api_url = s.api_url.clone();
    cfg.ignore_users = s.ignore_users.clone();
    if let Some(hosts) = &s.file_hosts {
        cfg.file_hosts = hosts.clone();
    }
    cfg.agent_groups = agent_groups;
    cfg.show_names_as = if s.show_agent_names {
        NameStyle::Username
    } else {
        NameStyle::Prefix
    };
    let state = Arc::new(StoreBridgeState {
        store: store.clone(),
        network: "slack",
    });
    let bridge = SlackBridge::connect(cfg, state)
        .await
        .map_err(|source| DaemonError::Bridge {
            network: "slack",
            source,
        })?;
    Ok(Arc::new(bridge))
}

#[cfg(not(feature = "slack"))]
pub async fn slack(
    _s: &SlackConfig,
    _agent_groups: Vec<String>,
    _store: &Arc<dyn Store>,
) -> Result<Arc<dyn Bridge>, DaemonError> {
    Err(DaemonError::MissingBridge("slack"))
}

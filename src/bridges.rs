//! The composition file: the one place in `src/` that names the networks.
//! It lists the network plugins this build has (cargo features `matrix`,
//! `slack` and `web`), hands each its own config table to parse, and builds the
//! bridges a config asks for. Everything else in the core works with
//! network names as opaque strings and asks a bridge's `Capabilities`.
//!
//! Adding a network: a crate under `bridges/` implementing
//! `handoff_bridge_api::Bridge` with a settings type for its table, one
//! entry in [`networks`] and one arm in [`connect`] (see
//! `docs/architecture.md`).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use handoff_bridge_api::Bridge;

use crate::config::{Config, NetworkDef};
#[cfg(any(feature = "matrix", feature = "slack", feature = "web"))]
use crate::config::{Located, NetworkSettings};
use crate::daemon::DaemonError;
#[cfg(any(feature = "matrix", feature = "slack", feature = "web"))]
use crate::daemon::StoreBridgeState;
use crate::store::Store;

/// The network plugins of this build.
pub fn networks() -> Vec<NetworkDef> {
    #[allow(unused_mut)]
    let mut all = Vec::new();
    #[cfg(feature = "matrix")]
    all.push(NetworkDef {
        name: handoff_matrix::settings::SECTION,
        parse: |src| {
            let parsed = section::<handoff_matrix::settings::MatrixSettings>(
                src,
                handoff_matrix::settings::SECTION,
            )?;
            Ok(parsed.map(|(_, s)| Arc::new(s) as Arc<dyn NetworkSettings>))
        },
        check_desk: handoff_matrix::settings::check_desk,
        customer_records: handoff_matrix::settings::customer_records,
    });
    #[cfg(feature = "slack")]
    all.push(NetworkDef {
        name: handoff_slack::settings::SECTION,
        parse: |src| {
            let parsed = section::<handoff_slack::settings::SlackSettings>(
                src,
                handoff_slack::settings::SECTION,
            )?;
            if let Some((span, s)) = &parsed {
                s.check().map_err(|m| (span.clone(), m))?;
            }
            Ok(parsed.map(|(_, s)| Arc::new(s) as Arc<dyn NetworkSettings>))
        },
        check_desk: handoff_slack::settings::check_desk,
        customer_records: handoff_slack::settings::customer_records,
    });
    #[cfg(feature = "web")]
    all.push(NetworkDef {
        name: handoff_web::settings::SECTION,
        parse: |src| {
            let parsed =
                section::<handoff_web::settings::WebSettings>(src, handoff_web::settings::SECTION)?;
            Ok(parsed.map(|(_, s)| Arc::new(s) as Arc<dyn NetworkSettings>))
        },
        check_desk: handoff_web::settings::check_desk,
        customer_records: handoff_web::settings::customer_records,
    });
    all
}

/// The bridge records, `(bridge, key)`, holding something of `user` as a
/// customer at `endpoint`, as the endpoint's network plugin names them
/// (`crate::privacy`).
pub fn customer_records(
    endpoint: &handoff_bridge_api::Endpoint,
    user: &str,
) -> Vec<(String, String)> {
    networks()
        .into_iter()
        .filter(|n| n.name == endpoint.network)
        .flat_map(|n| {
            (n.customer_records)(&endpoint.room, user)
                .into_iter()
                .map(move |key| (n.name.to_string(), key))
        })
        .collect()
}

/// Reads the table `name` into a `T` with the document's positions.
#[cfg(any(feature = "matrix", feature = "slack", feature = "web"))]
fn section<T: serde::de::DeserializeOwned>(
    src: &str,
    name: &str,
) -> Result<Option<(std::ops::Range<usize>, T)>, Located> {
    match handoff_bridge_api::settings::section::<T>(src, name) {
        Ok(found) => Ok(found.map(|s| (s.span(), s.into_inner()))),
        Err(e) => Err((e.span().unwrap_or(0..0), e.message().trim().to_string())),
    }
}

#[cfg(feature = "matrix")]
impl NetworkSettings for handoff_matrix::settings::MatrixSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn describe(&self) -> String {
        handoff_matrix::settings::MatrixSettings::describe(self)
    }
}

#[cfg(feature = "slack")]
impl NetworkSettings for handoff_slack::settings::SlackSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn describe(&self) -> String {
        handoff_slack::settings::SlackSettings::describe(self)
    }
    fn deprecated_internal_prefix(&self) -> Option<&toml::Spanned<String>> {
        self.internal_prefix.as_ref()
    }
}

#[cfg(feature = "web")]
impl NetworkSettings for handoff_web::settings::WebSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn describe(&self) -> String {
        handoff_web::settings::WebSettings::describe(self)
    }
}

/// The bridges `config` asks for, by network name.
pub async fn connect(
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<HashMap<String, Arc<dyn Bridge>>, DaemonError> {
    let mut bridges: HashMap<String, Arc<dyn Bridge>> = HashMap::new();
    for name in config.networks.keys() {
        let bridge = connect_one(name, config, store).await?;
        bridges.insert(name.clone(), bridge);
    }
    Ok(bridges)
}

/// The `agents` entries of the teams whose desks are on `network`.
#[cfg_attr(not(feature = "slack"), allow(dead_code))]
fn desk_agents(config: &Config, network: &str) -> Vec<String> {
    config
        .teams
        .iter()
        .filter(|t| t.desk.network() == network)
        .flat_map(|t| t.agents.iter().cloned())
        .collect()
}

/// The rooms named by the desks on `network` (`desk = "net:room"`).
#[cfg_attr(not(feature = "matrix"), allow(dead_code))]
fn desk_targets(config: &Config, network: &str) -> Vec<String> {
    config
        .teams
        .iter()
        .filter(|t| t.desk.network() == network)
        .filter_map(|t| t.desk.target.clone())
        .collect()
}

#[allow(unused_variables)]
async fn connect_one(
    name: &str,
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<Arc<dyn Bridge>, DaemonError> {
    #[cfg(feature = "matrix")]
    if let Some(m) = config.settings::<handoff_matrix::settings::MatrixSettings>(name) {
        let network = handoff_matrix::settings::SECTION;
        let data_dir = crate::backup::network_dir(&config.bot.store, network);
        let state = Arc::new(StoreBridgeState {
            store: store.clone(),
            network,
        });
        let desk_rooms = desk_targets(config, network);
        let bridge =
            handoff_matrix::MatrixBridge::connect(m.bridge_config(data_dir, desk_rooms), state)
                .await
                .map_err(|source| DaemonError::Bridge { network, source })?;
        return Ok(Arc::new(bridge));
    }
    #[cfg(feature = "slack")]
    if let Some(s) = config.settings::<handoff_slack::settings::SlackSettings>(name) {
        let network = handoff_slack::settings::SECTION;
        let state = Arc::new(StoreBridgeState {
            store: store.clone(),
            network,
        });
        let cfg = s.bridge_config(&desk_agents(config, network));
        let bridge = handoff_slack::SlackBridge::connect(cfg, state)
            .await
            .map_err(|source| DaemonError::Bridge { network, source })?;
        return Ok(Arc::new(bridge));
    }
    #[cfg(feature = "web")]
    if let Some(w) = config.settings::<handoff_web::settings::WebSettings>(name) {
        let network = handoff_web::settings::SECTION;
        let state = Arc::new(StoreBridgeState {
            store: store.clone(),
            network,
        });
        let bridge = handoff_web::WebBridge::connect(w.clone(), state)
            .await
            .map_err(|source| DaemonError::Bridge { network, source })?;
        return Ok(Arc::new(bridge));
    }
    Err(DaemonError::MissingBridge(name.to_string()))
}

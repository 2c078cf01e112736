//! `[slack]` in handoff's config file: the Slack app used as an agent desk,
//! read by this crate (the core never names a network), plus which desk
//! targets a Slack desk accepts and which `agents` entries are user groups.

use handoff_bridge_api::settings::{self, Secret};
use serde::Deserialize;

use crate::{NameStyle, SlackBridgeConfig};

/// The name of the config table, of desks (`desk = "slack:#channel"`) and
/// of endpoints.
pub const SECTION: &str = "slack";

/// `[slack]`: the Slack app used as an agent desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    pub bot_token: Secret,
    /// App-level token for Socket Mode (the default connection).
    pub app_token: Option<Secret>,
    /// Signing secret for the Events API (instead of Socket Mode).
    pub signing_secret: Option<Secret>,
    /// Address the Events API listener binds, e.g. "0.0.0.0:3000".
    #[serde(default, deserialize_with = "settings::opt_string")]
    pub listen: Option<String>,
    /// Web API base URL; only set for tests against an emulator.
    #[serde(default, deserialize_with = "settings::opt_string")]
    pub api_url: Option<String>,
    /// Deprecated: `[conversation] internal_prefix` (which works on every
    /// desk); still read when that is unset, and reported by
    /// `check-config`.
    #[serde(default)]
    pub internal_prefix: Option<toml::Spanned<String>>,
    /// Show relayed agent messages with the agent's name.
    #[serde(default = "yes")]
    pub show_agent_names: bool,
    /// Slack user or bot ids (other bots, another handoff) whose messages
    /// are never handled or relayed.
    #[serde(default)]
    pub ignore_users: Vec<String>,
    /// Hosts the bot token may be sent to when downloading a file shared
    /// in Slack: host names (https only) or whole origins
    /// (`http://127.0.0.1:3000`, for an emulator). `api_url`'s origin is
    /// always allowed. Unset: `files.slack.com`.
    #[serde(default)]
    pub file_hosts: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

impl SlackSettings {
    /// What is wrong with the combination of keys, if anything.
    pub fn check(&self) -> Result<(), String> {
        match (&self.app_token, &self.signing_secret, &self.listen) {
            (Some(_), _, _) => Ok(()),
            (None, Some(_), Some(_)) => Ok(()),
            (None, Some(_), None) => Err(
                "[slack] signing_secret is set for the Events API but `listen` (the address to receive events on) is missing".into(),
            ),
            (None, None, _) => Err(
                "[slack] needs app_token (Socket Mode) or signing_secret + listen (Events API)".into(),
            ),
        }
    }

    /// The bridge's start-up config; `agents` are the `agents` entries of
    /// the teams on Slack desks (the user groups among them are watched).
    pub fn bridge_config(&self, agents: &[String]) -> SlackBridgeConfig {
        let mut cfg = SlackBridgeConfig::socket_mode(self.bot_token.expose(), "");
        cfg.app_token = self.app_token.as_ref().map(|t| t.expose().to_string());
        cfg.signing_secret = self.signing_secret.as_ref().map(|t| t.expose().to_string());
        cfg.listen = self.listen.clone();
        cfg.api_url = self.api_url.clone();
        cfg.ignore_users = self.ignore_users.clone();
        if let Some(hosts) = &self.file_hosts {
            cfg.file_hosts = hosts.clone();
        }
        let mut groups: Vec<String> = agents.iter().filter(|a| is_group(a)).cloned().collect();
        groups.sort();
        groups.dedup();
        cfg.agent_groups = groups;
        cfg.show_names_as = if self.show_agent_names {
            NameStyle::Username
        } else {
            NameStyle::Prefix
        };
        cfg
    }

    /// One line for `check-config`.
    pub fn describe(&self) -> String {
        if self.app_token.is_some() {
            "Socket Mode".to_string()
        } else {
            format!("Events API on {}", self.listen.as_deref().unwrap_or("?"))
        }
    }
}

/// Whether an `agents` entry names a Slack user group: `@handle` (no
/// server part, unlike a Matrix id) or a group id `S…`.
pub fn is_group(entry: &str) -> bool {
    let handle = entry
        .strip_prefix('@')
        .is_some_and(|h| !h.is_empty() && !h.contains(':'));
    let id = entry.len() >= 9
        && entry.starts_with('S')
        && entry
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    handle || id
}

/// The bridge records holding something of a customer: none, customers
/// do not write on Slack (desks only).
pub fn customer_records(_room: &str, _user: &str) -> Vec<String> {
    Vec::new()
}

/// Checks a Slack desk's target: a channel (`#name` or an id); Slack has
/// no private room per case.
pub fn check_desk(target: Option<&str>) -> Result<(), String> {
    match target.map(str::trim) {
        Some(t) if !t.is_empty() && t != "#" => Ok(()),
        _ => Err(
            "a Slack desk names its channel: \"slack:#channel\" (a thread per case there)".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_told_from_people() {
        assert!(is_group("@billing-team"));
        assert!(is_group("S0123ABCD"));
        assert!(!is_group("@alice:example.org"));
        assert!(!is_group("U0123ABCD"));
        assert!(!is_group("channel-members"));
    }

    #[test]
    fn desk_targets() {
        assert!(check_desk(Some("#billing")).is_ok());
        assert!(check_desk(Some("C0123")).is_ok());
        assert!(check_desk(None).is_err());
        assert!(check_desk(Some("")).is_err());
    }

    #[test]
    fn the_bridge_config_watches_only_groups() {
        let doc = "[slack]\nbot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\n";
        let s = settings::section::<SlackSettings>(doc, SECTION)
            .unwrap()
            .unwrap()
            .into_inner();
        s.check().unwrap();
        let agents = [
            "U1".to_string(),
            "@team".into(),
            "@team".into(),
            "@a:m.org".into(),
        ];
        let cfg = s.bridge_config(&agents);
        assert_eq!(cfg.agent_groups, vec!["@team".to_string()]);
        assert_eq!(format!("{s:?}").matches("xoxb-1").count(), 0);
    }
}

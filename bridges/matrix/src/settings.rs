//! `[matrix]` in handoff's config file: the bot's Matrix account and its
//! customer rooms, read by this crate (the core never names a network),
//! plus which desk targets a Matrix desk accepts.

use std::path::PathBuf;

use handoff_bridge_api::settings::{self, Secret};
use serde::Deserialize;

use crate::MatrixBridgeConfig;

/// The name of the config table, of desks (`desk = "matrix"`,
/// `"matrix:#room:server"`) and of endpoints.
pub const SECTION: &str = crate::NETWORK;

/// `[matrix]`: the bot's Matrix account and customer rooms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSettings {
    #[serde(deserialize_with = "settings::http_url")]
    pub homeserver: String,
    #[serde(deserialize_with = "settings::string")]
    pub user: String,
    pub password: Secret,
    #[serde(default = "default_device_name")]
    pub device_name: String,
    /// Rooms (ids or aliases) where customers talk to the bot.
    #[serde(default)]
    pub customer_rooms: Vec<String>,
    /// Join any room the bot is invited to (direct chats with customers).
    #[serde(default)]
    pub auto_join: bool,
    /// Other bots whose messages are never handled or relayed.
    #[serde(default)]
    pub ignore_users: Vec<String>,
    /// In rooms with several customers, answer each in their own thread.
    #[serde(default = "yes")]
    pub thread_per_customer: bool,
    /// Events per room in one sync response (default: the homeserver's).
    /// Busier rooms are caught up with `/messages`; nothing is skipped.
    #[serde(default)]
    pub sync_timeline_limit: Option<u32>,
}

fn default_device_name() -> String {
    "handoff".into()
}

fn yes() -> bool {
    true
}

impl MatrixSettings {
    /// The bridge's start-up config, keeping its session and crypto
    /// stores in `data_dir`; `desk_rooms` are the staff rooms desks name.
    pub fn bridge_config(&self, data_dir: PathBuf, desk_rooms: Vec<String>) -> MatrixBridgeConfig {
        let mut cfg = MatrixBridgeConfig::new(
            self.homeserver.clone(),
            self.user.clone(),
            self.password.expose().to_string(),
            data_dir,
        );
        cfg.device_name = self.device_name.clone();
        cfg.customer_rooms = self.customer_rooms.clone();
        cfg.auto_join = self.auto_join;
        cfg.ignore_users = self.ignore_users.clone();
        cfg.thread_per_customer = self.thread_per_customer;
        cfg.sync_timeline_limit = self.sync_timeline_limit;
        cfg.desk_rooms = desk_rooms;
        cfg
    }

    /// One line for `check-config`.
    pub fn describe(&self) -> String {
        format!(
            "{} as {}, {} customer room(s), auto-join {}",
            self.homeserver,
            self.user,
            self.customer_rooms.len(),
            if self.auto_join { "on" } else { "off" }
        )
    }
}

/// The bridge records holding something of customer `user` in `room`
/// (`handoff forget`): which thread is theirs in a busy room.
pub fn customer_records(room: &str, user: &str) -> Vec<String> {
    vec![crate::ledger::thread_key(room, user)]
}

/// Checks a Matrix desk's target: none (a private room per case, with the
/// team's agents invited) or a room id/alias (a thread per case in it).
pub fn check_desk(target: Option<&str>) -> Result<(), String> {
    match target {
        None => Ok(()),
        Some(t) if (t.starts_with('#') || t.starts_with('!')) && t.contains(':') => Ok(()),
        Some(t) => Err(format!(
            "matrix desk target {t:?} is not a room alias or id; write \"matrix:#room:server\" (a thread per case there) or \"matrix\" (a private room per case)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desk_targets() {
        assert!(check_desk(None).is_ok());
        assert!(check_desk(Some("#staff:example.org")).is_ok());
        assert!(check_desk(Some("!abc:example.org")).is_ok());
        let err = check_desk(Some("staff")).unwrap_err();
        assert!(err.contains("\"matrix:#room:server\""), "{err}");
    }

    #[test]
    fn the_section_is_read_from_the_whole_document() {
        let doc = "[bot]\nname = \"x\"\n[matrix]\nhomeserver = \"https://m.example\"\nuser = \"@b:m.example\"\npassword = \"pw\"\n";
        let s = settings::section::<MatrixSettings>(doc, SECTION)
            .unwrap()
            .unwrap()
            .into_inner();
        assert_eq!(s.user, "@b:m.example");
        assert!(s.thread_per_customer);
        assert_eq!(format!("{s:?}").matches("pw").count(), 0, "{s:?}");
        let bad = doc.replace("https://m.example", "ftp://m.example");
        let err = settings::section::<MatrixSettings>(&bad, SECTION).unwrap_err();
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
    }
}

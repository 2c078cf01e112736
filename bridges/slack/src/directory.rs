//! Who and where: users (display name, bot or not, guest or of another
//! organisation) via `users.info`, user groups' members via
//! `usergroups.list` / `usergroups.users.list` (kept for a minute, so
//! membership changes apply soon), and channels (`#name` → id via
//! `conversations.list`, joining with `conversations.join`), the rest
//! cached for the life of the process.
//!
//! Not durable: everything here can be looked up again. The invariant: a
//! failed lookup is never cached, so a passing outage does not stick, and
//! it is reported as such (`found: false`), never taken for a member.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use handoff_bridge_api::BridgeError;
use serde_json::Value;
use tracing::warn;

use crate::web::WebApi;
use crate::NETWORK;

/// What the bridge needs to know about a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub display_name: Option<String>,
    pub is_bot: bool,
    /// False when `users.info` failed: nothing below is known.
    pub found: bool,
    /// A guest: `is_restricted` or `is_ultra_restricted`.
    pub guest: bool,
    /// The user's own workspace (`team_id`), and Slack's `is_stranger`
    /// (a Slack Connect user the workspace shares no channel with).
    pub team_id: Option<String>,
    pub stranger: bool,
}

/// How long a user group's member list is reused.
const GROUP_TTL: Duration = Duration::from_secs(60);

/// Caches of users, user groups and channels.
#[derive(Default)]
pub(crate) struct Directory {
    users: Mutex<HashMap<String, UserInfo>>,
    /// Group id or `@handle` as configured → (read at, member ids).
    groups: Mutex<HashMap<String, (Instant, HashSet<String>)>>,
    channels: Mutex<HashMap<String, String>>,
    joined: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// True for strings shaped like a conversation id (`C0123ABCD`, `G…`).
pub(crate) fn looks_like_id(s: &str) -> bool {
    s.len() >= 9
        && s.starts_with(['C', 'G', 'D'])
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn user_info(user: &Value) -> UserInfo {
    let profile = &user["profile"];
    let pick = |v: &Value| {
        v.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    UserInfo {
        display_name: pick(&profile["display_name"])
            .or_else(|| pick(&profile["real_name"]))
            .or_else(|| pick(&user["real_name"]))
            .or_else(|| pick(&user["name"])),
        is_bot: user["is_bot"].as_bool().unwrap_or(false)
            || user["is_app_user"].as_bool().unwrap_or(false)
            || user["id"] == "USLACKBOT",
        found: true,
        guest: user["is_restricted"].as_bool().unwrap_or(false)
            || user["is_ultra_restricted"].as_bool().unwrap_or(false),
        team_id: pick(&user["team_id"]),
        stranger: user["is_stranger"].as_bool().unwrap_or(false),
    }
}

impl Directory {
    /// A user's name and bot flag. On a lookup failure the user is treated
    /// as a person without a known name (and not cached).
    pub async fn user(&self, web: &WebApi, id: &str) -> UserInfo {
        if let Some(u) = lock(&self.users).get(id) {
            return u.clone();
        }
        match web.get("users.info", &[("user", id.to_string())]).await {
            Ok(v) => {
                let info = user_info(&v["user"]);
                lock(&self.users).insert(id.to_string(), info.clone());
                info
            }
            Err(e) => {
                warn!(user = id, error = %e, "users.info failed; the user is not known");
                UserInfo {
                    display_name: None,
                    is_bot: false,
                    found: false,
                    guest: false,
                    team_id: None,
                    stranger: false,
                }
            }
        }
    }

    /// The members of the user group `group` (`S…` id or `@handle`), read
    /// again after a minute; None when Slack cannot say (not cached).
    pub async fn group_members(&self, web: &WebApi, group: &str) -> Option<HashSet<String>> {
        if let Some((at, members)) = lock(&self.groups).get(group) {
            if at.elapsed() < GROUP_TTL {
                return Some(members.clone());
            }
        }
        let read = async {
            let id = match group.strip_prefix('@') {
                None => group.to_string(),
                Some(handle) => {
                    let list = web.get("usergroups.list", &[]).await?;
                    let found = list["usergroups"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|g| g["handle"].as_str() == Some(handle))
                        .and_then(|g| g["id"].as_str())
                        .map(str::to_string);
                    match found {
                        Some(id) => id,
                        None => {
                            return Err(BridgeError::Rejected {
                                network: NETWORK.into(),
                                detail: format!("no user group @{handle}"),
                            })
                        }
                    }
                }
            };
            let users = web
                .get("usergroups.users.list", &[("usergroup", id)])
                .await?;
            Ok::<_, BridgeError>(
                users["users"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect::<HashSet<String>>(),
            )
        };
        match read.await {
            Ok(members) => {
                lock(&self.groups).insert(group.to_string(), (Instant::now(), members.clone()));
                Some(members)
            }
            Err(e) => {
                warn!(group, error = %e, "cannot read the user group's members");
                None
            }
        }
    }

    /// The channel id for `#name`, `name` or an id.
    pub async fn channel_id(&self, web: &WebApi, room: &str) -> Result<String, BridgeError> {
        let room = room.trim();
        if looks_like_id(room) {
            return Ok(room.to_string());
        }
        let name = room.trim_start_matches('#').to_string();
        if let Some(id) = lock(&self.channels).get(&name) {
            return Ok(id.clone());
        }
        let mut cursor = String::new();
        for _page in 0..50 {
            let mut params = vec![
                ("types", "public_channel,private_channel".to_string()),
                ("exclude_archived", "true".to_string()),
                ("limit", "200".to_string()),
            ];
            if !cursor.is_empty() {
                params.push(("cursor", cursor.clone()));
            }
            let page = web.get("conversations.list", &params).await?;
            let mut found = None;
            {
                let mut channels = lock(&self.channels);
                for ch in page["channels"].as_array().into_iter().flatten() {
                    if let (Some(n), Some(id)) = (ch["name"].as_str(), ch["id"].as_str()) {
                        channels.insert(n.to_string(), id.to_string());
                        if n == name {
                            found = Some(id.to_string());
                        }
                        if ch["is_member"] == true {
                            lock(&self.joined).insert(id.to_string());
                        }
                    }
                }
            }
            if let Some(id) = found {
                return Ok(id);
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if cursor.is_empty() {
                break;
            }
        }
        Err(BridgeError::Rejected {
            network: NETWORK.into(),
            detail: format!("no channel named #{name} is visible to the bot"),
        })
    }

    /// Joins a public channel unless the bot is known to be a member.
    pub async fn ensure_joined(&self, web: &WebApi, channel: &str) -> Result<(), BridgeError> {
        if lock(&self.joined).contains(channel) {
            return Ok(());
        }
        match web
            .post(
                "conversations.join",
                &serde_json::json!({"channel": channel}),
            )
            .await
        {
            Ok(_) => {}
            // A private channel the bot was invited to cannot be joined, but
            // it is a member already; Slack says so with this code.
            Err(BridgeError::Rejected { detail, .. })
                if detail.ends_with("method_not_supported_for_channel_type") => {}
            Err(e) => return Err(e),
        }
        lock(&self.joined).insert(channel.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_names() {
        assert!(looks_like_id("C0123ABCDE"));
        assert!(looks_like_id("G0000000001"));
        assert!(!looks_like_id("#support"));
        assert!(!looks_like_id("general"));
        assert!(!looks_like_id("Cshort"));
    }

    #[test]
    fn display_name_falls_back_to_real_name() {
        let u = user_info(&json!({"id": "U1", "name": "al", "is_bot": false,
            "profile": {"display_name": "", "real_name": "Alice A"}}));
        assert_eq!(u.display_name.as_deref(), Some("Alice A"));
        assert!(!u.is_bot);
        let b = user_info(&json!({"id": "U2", "is_bot": true, "profile": {"display_name": "bot"}}));
        assert!(b.is_bot);
        assert!(u.found && !u.guest && !u.stranger && u.team_id.is_none());
    }

    #[test]
    fn guests_and_other_organisations_are_read_from_the_user() {
        let g = user_info(&json!({"id": "U3", "is_restricted": true, "team_id": "T1"}));
        assert!(g.guest);
        let ug = user_info(&json!({"id": "U4", "is_ultra_restricted": true}));
        assert!(ug.guest);
        let x = user_info(&json!({"id": "U5", "team_id": "T2", "is_stranger": true}));
        assert!(!x.guest && x.stranger);
        assert_eq!(x.team_id.as_deref(), Some("T2"));
    }
}

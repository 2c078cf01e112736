//! The emulated workspace: users, channels, messages (with threads,
//! reactions, pins) and files, as plain data behind one mutex.
//!
//! Not for wire formats (`render`) or the rules of each change (`ops`).
//! The invariant: a channel's `messages` map is keyed by `ts`, and every
//! reply's `thread_ts` names a message in the same map.

mod marks;
pub mod ops;
pub mod render;

use crate::config::EmulatorConfig;
use crate::error::ApiError;
use crate::ts::{Ts, TsClock};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A member of the workspace: a human agent/customer or a bot user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub is_bot: bool,
    /// Set for bot users (`B…`): the `bot_id` their messages carry.
    pub bot_id: Option<String>,
    /// A guest: multi-channel (`is_restricted`) or single-channel (both
    /// flags set, as Slack does).
    pub is_restricted: bool,
    pub is_ultra_restricted: bool,
    /// Set for a Slack Connect user of another organisation: their own
    /// workspace (rendered as `team_id`, with `is_stranger`).
    pub home_team: Option<String>,
}

/// A user group (`S…`): its `@handle` and members, in order added.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    pub id: String,
    pub handle: String,
    pub name: String,
    pub users: Vec<String>,
}

/// A message only one user saw (`chat.postEphemeral`); Slack keeps none
/// in history, so the emulator records them apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
    pub thread_ts: Option<String>,
}

/// One emoji reaction on a message and who added it, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub name: String,
    pub users: Vec<String>,
}

/// A message as stored. Replies carry `thread_ts`; a thread parent does not
/// (its `thread_ts` is rendered from the replies it has).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub ts: Ts,
    pub thread_ts: Option<Ts>,
    pub user: String,
    pub bot_id: Option<String>,
    pub text: String,
    pub blocks: Option<Value>,
    pub attachments: Option<Value>,
    pub subtype: Option<String>,
    /// `chat:write.customize` display name and icon overrides.
    pub username: Option<String>,
    pub icons: Option<Value>,
    /// Who last edited the message and when.
    pub edited: Option<(String, Ts)>,
    pub reactions: Vec<Reaction>,
    pub files: Vec<String>,
    pub client_msg_id: Option<String>,
    /// A thread reply also posted to the channel (`reply_broadcast`).
    pub broadcast: bool,
}

impl Message {
    /// A fresh message with only the essentials set.
    pub fn new(ts: Ts, user: &str, text: &str) -> Message {
        Message {
            ts,
            thread_ts: None,
            user: user.to_string(),
            bot_id: None,
            text: text.to_string(),
            blocks: None,
            attachments: None,
            subtype: None,
            username: None,
            icons: None,
            edited: None,
            reactions: Vec::new(),
            files: Vec::new(),
            client_msg_id: None,
            broadcast: false,
        }
    }
}

/// A pinned message.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub ts: Ts,
    pub created: u64,
    pub created_by: String,
}

/// A public or private channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub created: u64,
    pub creator: String,
    pub members: BTreeSet<String>,
    pub messages: BTreeMap<Ts, Message>,
    pub pins: Vec<Pin>,
}

impl Channel {
    /// Replies of the thread rooted at `root`, oldest first.
    pub fn replies(&self, root: Ts) -> impl Iterator<Item = &Message> {
        self.messages
            .values()
            .filter(move |m| m.thread_ts == Some(root))
    }

    pub fn channel_type(&self) -> &'static str {
        if self.is_private {
            "group"
        } else {
            "channel"
        }
    }
}

/// A file: reserved by `files.getUploadURLExternal`, filled by the upload,
/// shared by `files.completeUploadExternal`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub id: String,
    pub name: String,
    pub title: String,
    pub declared_length: u64,
    pub content: Option<Vec<u8>>,
    pub mimetype: String,
    pub user: String,
    pub created: u64,
    pub completed: bool,
    pub channels: Vec<String>,
}

/// The whole workspace.
#[derive(Debug)]
pub struct Workspace {
    pub team_id: String,
    pub team_name: String,
    pub team_domain: String,
    pub app_id: String,
    pub bot_user_id: String,
    pub bot_id: String,
    pub bot_name: String,
    /// `http://127.0.0.1:PORT`, for URLs the emulator hands out.
    pub base_url: String,
    pub users: BTreeMap<String, User>,
    pub usergroups: BTreeMap<String, UserGroup>,
    pub ephemerals: Vec<Ephemeral>,
    pub channels: BTreeMap<String, Channel>,
    pub files: BTreeMap<String, StoredFile>,
    pub clock: TsClock,
    next_id: u64,
}

impl Workspace {
    pub fn new(config: &EmulatorConfig, base_url: String) -> Workspace {
        let mut ws = Workspace {
            team_id: config.team_id.clone(),
            team_name: config.team_name.clone(),
            team_domain: config.team_domain.clone(),
            app_id: config.app_id.clone(),
            bot_user_id: config.bot_user_id.clone(),
            bot_id: config.bot_id.clone(),
            bot_name: config.bot_name.clone(),
            base_url,
            users: BTreeMap::new(),
            usergroups: BTreeMap::new(),
            ephemerals: Vec::new(),
            channels: BTreeMap::new(),
            files: BTreeMap::new(),
            clock: TsClock::default(),
            next_id: 0,
        };
        let bot = User {
            id: config.bot_user_id.clone(),
            name: config.bot_name.clone(),
            real_name: config.bot_name.clone(),
            is_bot: true,
            bot_id: Some(config.bot_id.clone()),
            is_restricted: false,
            is_ultra_restricted: false,
            home_team: None,
        };
        ws.users.insert(bot.id.clone(), bot);
        ws
    }

    /// A new id in Slack's shape: a type letter and ten upper-case
    /// alphanumerics (`C000000000A`).
    pub fn mint_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:010X}", self.next_id)
    }

    /// A UUID-shaped string (client_msg_ids, envelope ids).
    pub fn mint_uuid(&mut self) -> String {
        crate::ids::uuid()
    }

    pub fn add_user(&mut self, name: &str, is_bot: bool) -> String {
        let id = self.mint_id("U");
        let bot_id = is_bot.then(|| self.mint_id("B"));
        let user = User {
            id: id.clone(),
            name: name.to_string(),
            real_name: name.to_string(),
            is_bot,
            bot_id,
            is_restricted: false,
            is_ultra_restricted: false,
            home_team: None,
        };
        self.users.insert(id.clone(), user);
        id
    }

    /// Adds a user group `@handle` with `users` (ids); returns its id.
    pub fn add_usergroup(&mut self, handle: &str, users: &[String]) -> String {
        let id = self.mint_id("S");
        let group = UserGroup {
            id: id.clone(),
            handle: handle.trim_start_matches('@').to_string(),
            name: handle.trim_start_matches('@').to_string(),
            users: users.to_vec(),
        };
        self.usergroups.insert(id.clone(), group);
        id
    }

    pub fn add_channel(&mut self, name: &str, is_private: bool, bot_member: bool) -> String {
        let id = self.mint_id(if is_private { "G" } else { "C" });
        let mut members = BTreeSet::new();
        if bot_member {
            members.insert(self.bot_user_id.clone());
        }
        let channel = Channel {
            id: id.clone(),
            name: name.trim_start_matches('#').to_string(),
            is_private,
            created: crate::ts::now_secs(),
            creator: self.bot_user_id.clone(),
            members,
            messages: BTreeMap::new(),
            pins: Vec::new(),
        };
        self.channels.insert(id.clone(), channel);
        id
    }

    /// Finds a user by id or by name.
    pub fn user_id(&self, id_or_name: &str) -> Option<String> {
        if self.users.contains_key(id_or_name) {
            return Some(id_or_name.to_string());
        }
        self.users
            .values()
            .find(|u| u.name == id_or_name)
            .map(|u| u.id.clone())
    }

    /// Finds a channel by id, or (only where Slack allows names, as
    /// `chat.postMessage` does) by `#name` or `name`.
    pub fn channel_id(&self, param: &str, allow_name: bool) -> Result<String, ApiError> {
        if self.channels.contains_key(param) {
            return Ok(param.to_string());
        }
        if allow_name {
            let name = param.trim_start_matches('#');
            if let Some(ch) = self.channels.values().find(|c| c.name == name) {
                return Ok(ch.id.clone());
            }
        }
        Err(ApiError::new("channel_not_found"))
    }

    pub fn channel(&self, id: &str) -> Result<&Channel, ApiError> {
        self.channels
            .get(id)
            .ok_or_else(|| ApiError::new("channel_not_found"))
    }

    pub fn channel_mut(&mut self, id: &str) -> Result<&mut Channel, ApiError> {
        self.channels
            .get_mut(id)
            .ok_or_else(|| ApiError::new("channel_not_found"))
    }

    /// Resolves a test's channel argument (id or name) for the Rust API.
    pub fn find_channel(&self, id_or_name: &str) -> Option<String> {
        self.channel_id(id_or_name, true).ok()
    }
}

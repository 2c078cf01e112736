//! What a test does as a person in Slack: add users and channels, post,
//! edit, delete, react, upload, and press buttons on the bot's messages.
//!
//! Not for the bot's side (the Web API) or for inspection (`inspect`). The
//! invariant: each action goes through the same `state::ops` rules as the
//! Web API and emits exactly the events Slack would for it.

use crate::api::files;
use crate::delivery::{emit_events, emit_interaction};
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::state::{ops, render, Workspace};
use crate::ts::Ts;
use serde_json::{json, Value};

/// How `add_channel_with` creates a channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelOptions {
    pub private: bool,
    /// Whether the bot is already a member (invited).
    pub bot_member: bool,
}

fn parse_ts(channel: &str, ts: &str) -> Result<Ts, EmulatorError> {
    Ts::parse(ts).ok_or_else(|| EmulatorError::UnknownMessage {
        channel: channel.to_string(),
        ts: ts.to_string(),
    })
}

/// Resolves a user and a channel, making the user a member (people the
/// tests act as are in the channels they act in).
fn resolve(
    ws: &mut Workspace,
    user: &str,
    channel: &str,
) -> Result<(String, String), EmulatorError> {
    let user_id = ws
        .user_id(user)
        .ok_or_else(|| EmulatorError::UnknownUser(user.to_string()))?;
    let channel_id = ws
        .find_channel(channel)
        .ok_or_else(|| EmulatorError::UnknownChannel(channel.to_string()))?;
    if let Some(ch) = ws.channels.get_mut(&channel_id) {
        ch.members.insert(user_id.clone());
    }
    Ok((user_id, channel_id))
}

impl Emulator {
    /// Adds a user (`is_bot` for other apps' bot users); returns its id.
    pub fn add_user(&self, name: &str, is_bot: bool) -> String {
        let id = self.inner.workspace().add_user(name, is_bot);
        self.inner.bump();
        id
    }

    /// Adds a guest (`ultra`: single-channel); returns its id.
    pub fn add_guest(&self, name: &str, ultra: bool) -> String {
        let mut ws = self.inner.workspace();
        let id = ws.add_user(name, false);
        if let Some(u) = ws.users.get_mut(&id) {
            u.is_restricted = true;
            u.is_ultra_restricted = ultra;
        }
        drop(ws);
        self.inner.bump();
        id
    }

    /// Adds a Slack Connect user of another organisation (`team_id`);
    /// returns its id.
    pub fn add_external_user(&self, name: &str, team_id: &str) -> String {
        let mut ws = self.inner.workspace();
        let id = ws.add_user(name, false);
        if let Some(u) = ws.users.get_mut(&id) {
            u.home_team = Some(team_id.to_string());
        }
        drop(ws);
        self.inner.bump();
        id
    }

    /// Adds a user group `@handle` with `users` (ids); returns its id.
    pub fn add_usergroup(&self, handle: &str, users: &[String]) -> String {
        let id = self.inner.workspace().add_usergroup(handle, users);
        self.inner.bump();
        id
    }

    /// Adds a public channel the bot is a member of; returns its id.
    pub fn add_channel(&self, name: &str) -> String {
        self.add_channel_with(
            name,
            ChannelOptions {
                private: false,
                bot_member: true,
            },
        )
    }

    pub fn add_channel_with(&self, name: &str, options: ChannelOptions) -> String {
        let id = self
            .inner
            .workspace()
            .add_channel(name, options.private, options.bot_member);
        self.inner.bump();
        id
    }

    fn act<T>(
        &self,
        f: impl FnOnce(&mut Workspace) -> Result<(T, ops::Events), EmulatorError>,
    ) -> Result<T, EmulatorError> {
        let (value, events) = {
            let mut ws = self.inner.workspace();
            f(&mut ws)?
        };
        emit_events(&self.inner, events);
        self.inner.bump();
        Ok(value)
    }

    /// Posts `text` as `user` in `channel` (id or name), in the thread of
    /// `thread_ts` if given; returns the new message's ts.
    pub fn post_as(
        &self,
        user: &str,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, EmulatorError> {
        let thread_ts = thread_ts.map(|t| parse_ts(channel, t)).transpose()?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            let new = ops::NewMessage {
                text: text.to_string(),
                thread_ts,
                ..Default::default()
            };
            let (ts, events) = ops::post(ws, &channel, &user, new, true)?;
            Ok((ts.to_string(), events))
        })
    }

    /// Edits `user`'s own message.
    pub fn edit_as(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        text: &str,
    ) -> Result<(), EmulatorError> {
        let ts = parse_ts(channel, ts)?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            let (_, events) = ops::update(ws, &channel, ts, &user, Some(text.to_string()), None)?;
            Ok(((), events))
        })
    }

    /// Deletes `user`'s own message.
    pub fn delete_as(&self, user: &str, channel: &str, ts: &str) -> Result<(), EmulatorError> {
        let ts = parse_ts(channel, ts)?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            Ok(((), ops::delete(ws, &channel, ts, &user)?))
        })
    }

    /// Adds reaction `name` (`thumbsup`, `white_check_mark`) as `user`.
    pub fn react_as(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), EmulatorError> {
        let ts = parse_ts(channel, ts)?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            Ok(((), ops::react(ws, &channel, ts, &user, name, true)?))
        })
    }

    /// Removes `user`'s reaction `name`.
    pub fn unreact_as(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), EmulatorError> {
        let ts = parse_ts(channel, ts)?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            Ok(((), ops::react(ws, &channel, ts, &user, name, false)?))
        })
    }

    /// Uploads `bytes` as `filename` and shares it as `user` (optionally in
    /// a thread, with a comment); returns the file id.
    pub fn upload_as(
        &self,
        user: &str,
        channel: &str,
        thread_ts: Option<&str>,
        filename: &str,
        bytes: &[u8],
        comment: Option<&str>,
    ) -> Result<String, EmulatorError> {
        let thread_ts = thread_ts.map(|t| parse_ts(channel, t)).transpose()?;
        self.act(|ws| {
            let (user, channel) = resolve(ws, user, channel)?;
            let id = files::reserve(ws, &user, filename, bytes.len() as u64);
            if let Some(f) = ws.files.get_mut(&id) {
                f.content = Some(bytes.to_vec());
            }
            let events = files::share(
                ws,
                Some(&channel),
                &user,
                &[(id.clone(), None)],
                thread_ts,
                comment.map(str::to_string),
                None,
            )?;
            Ok((id, events))
        })
    }

    /// Presses the button `action_id` (with `value`, if several buttons
    /// share the id) on a bot message: a `block_actions` interaction.
    pub fn press_button(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        value: Option<&str>,
    ) -> Result<(), EmulatorError> {
        self.interact(user, channel, message_ts, action_id, |element| {
            if element["type"] != "button" || value.is_some_and(|v| element["value"] != v) {
                return None;
            }
            let mut action = json!({
                "type": "button",
                "action_id": action_id,
                "text": element["text"],
            });
            if let Some(v) = element.get("value") {
                action["value"] = v.clone();
            }
            Some(action)
        })
    }

    /// Picks the option whose value is `option_value` in the select menu
    /// `action_id` on a bot message.
    pub fn select_option(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        option_value: &str,
    ) -> Result<(), EmulatorError> {
        self.interact(user, channel, message_ts, action_id, |element| {
            let options = element["options"].as_array()?;
            let option = options.iter().find(|o| o["value"] == option_value)?;
            Some(json!({
                "type": element["type"],
                "action_id": action_id,
                "selected_option": option,
            }))
        })
    }

    fn interact(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        make_action: impl Fn(&Value) -> Option<Value>,
    ) -> Result<(), EmulatorError> {
        let ts = parse_ts(channel, message_ts)?;
        let unknown = || EmulatorError::UnknownAction {
            channel: channel.to_string(),
            ts: message_ts.to_string(),
            action_id: action_id.to_string(),
        };
        let payload = {
            let mut ws = self.inner.workspace();
            let (user_id, channel_id) = resolve(&mut ws, user, channel)?;
            let action_ts = ws.clock.next();
            let ch = ws.channel(&channel_id).map_err(EmulatorError::from)?;
            let m = ch
                .messages
                .get(&ts)
                .ok_or_else(|| EmulatorError::UnknownMessage {
                    channel: channel.to_string(),
                    ts: message_ts.to_string(),
                })?;
            if m.bot_id.as_deref() != Some(ws.bot_id.as_str()) {
                return Err(unknown());
            }
            let (block_id, mut action) =
                find_element(m.blocks.as_ref(), action_id, &make_action).ok_or_else(unknown)?;
            action["block_id"] = json!(block_id);
            action["action_ts"] = json!(action_ts.to_string());
            let u = ws
                .users
                .get(&user_id)
                .ok_or_else(|| EmulatorError::UnknownUser(user.to_string()))?;
            let mut container = json!({
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": false,
            });
            if let Some(root) = m.thread_ts {
                container["thread_ts"] = json!(root.to_string());
            }
            json!({
                "type": "block_actions",
                "user": {"id": u.id, "username": u.name, "name": u.name, "team_id": ws.team_id},
                "api_app_id": ws.app_id,
                "token": "emulatorverificationtoken",
                "container": container,
                "trigger_id": format!("{}.{}", action_ts.0, crate::ids::uuid().replace('-', "")),
                "team": {"id": ws.team_id, "domain": ws.team_domain},
                "enterprise": null,
                "is_enterprise_install": false,
                "channel": {"id": ch.id, "name": ch.name},
                "message": render::message(&ws, ch, m),
                "state": {"values": {}},
                "actions": [action],
            })
        };
        emit_interaction(&self.inner, payload);
        Ok(())
    }
}

/// Finds the interactive element `action_id` in `actions` blocks and
/// section accessories; returns its block id and the built action.
fn find_element(
    blocks: Option<&Value>,
    action_id: &str,
    make_action: &impl Fn(&Value) -> Option<Value>,
) -> Option<(String, Value)> {
    for block in blocks?.as_array()? {
        let block_id = block["block_id"].as_str().unwrap_or("").to_string();
        let mut candidates: Vec<&Value> = Vec::new();
        if let Some(elements) = block["elements"].as_array() {
            candidates.extend(elements.iter());
        }
        if let Some(accessory) = block.get("accessory") {
            candidates.push(accessory);
        }
        for element in candidates {
            if element["action_id"] == action_id {
                if let Some(action) = make_action(element) {
                    return Some((block_id, action));
                }
            }
        }
    }
    None
}

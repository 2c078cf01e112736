//! The changes a workspace undergoes (post, edit, delete, react, pin, share
//! files), each checked the way Slack checks it and returning the events
//! Slack would emit for it.
//!
//! Not for transport: callers hand the returned events to the outbox. The
//! invariant: a change either fails with a Slack error code and leaves the
//! workspace untouched, or succeeds and returns every event it causes (only
//! for channels the bot is a member of, as Slack's subscriptions do).

use super::{render, Message, Workspace};
use crate::error::ApiError;
use crate::ts::Ts;
use serde_json::{json, Value};

pub use super::marks::{file_shared_events, pin, react};

/// Longest `text` Slack accepts in a message.
pub const MAX_TEXT_LEN: usize = 40_000;

/// What a new message carries.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub text: String,
    pub blocks: Option<Value>,
    pub attachments: Option<Value>,
    pub thread_ts: Option<Ts>,
    pub broadcast: bool,
    pub username: Option<String>,
    pub icons: Option<Value>,
    pub files: Vec<String>,
    pub subtype: Option<String>,
}

/// Events to deliver, as the inner `event` objects of `event_callback`s.
pub type Events = Vec<Value>;

pub(crate) fn wants_events(ws: &Workspace, channel: &str) -> bool {
    ws.channels
        .get(channel)
        .is_some_and(|c| c.members.contains(&ws.bot_user_id))
}

/// Posts a message as `author` (a user id). Bot messages get the bot's
/// `bot_id`; human messages a `client_msg_id` and `rich_text` blocks.
pub fn post(
    ws: &mut Workspace,
    channel: &str,
    author: &str,
    mut new: NewMessage,
    must_be_member: bool,
) -> Result<(Ts, Events), ApiError> {
    let ch = ws.channel(channel)?;
    if must_be_member && !ch.members.contains(author) {
        return Err(ApiError::new("not_in_channel"));
    }
    if new.text.is_empty()
        && new.blocks.is_none()
        && new.attachments.is_none()
        && new.files.is_empty()
    {
        return Err(ApiError::new("no_text"));
    }
    if new.text.chars().count() > MAX_TEXT_LEN {
        return Err(ApiError::new("msg_too_long"));
    }
    if let Some(thread_ts) = new.thread_ts {
        // Slack threads a reply-to-a-reply under the original parent.
        let target = ch
            .messages
            .get(&thread_ts)
            .ok_or_else(|| ApiError::new("thread_not_found"))?;
        new.thread_ts = Some(target.thread_ts.unwrap_or(thread_ts));
    }
    let author_user = ws.users.get(author).cloned();
    let ts = ws.clock.next();
    let mut m = Message::new(ts, author, &new.text);
    m.thread_ts = new.thread_ts;
    m.broadcast = new.broadcast && new.thread_ts.is_some();
    m.attachments = new.attachments;
    m.files = new.files;
    m.subtype = new.subtype;
    if m.broadcast && m.subtype.is_none() {
        m.subtype = Some("thread_broadcast".into());
    }
    match author_user.as_ref().and_then(|u| u.bot_id.clone()) {
        Some(bot_id) => {
            m.bot_id = Some(bot_id);
            m.blocks = new.blocks.map(|blocks| with_block_ids(ws, blocks));
            if new.username.is_some() || new.icons.is_some() {
                m.subtype.get_or_insert_with(|| "bot_message".into());
                m.username = new.username;
                m.icons = new.icons;
            }
        }
        None => {
            m.client_msg_id = Some(ws.mint_uuid());
            m.blocks = Some(new.blocks.unwrap_or_else(|| rich_text(ws, &new.text)));
        }
    }
    for id in &m.files {
        if let Some(f) = ws.files.get_mut(id) {
            if !f.channels.contains(&channel.to_string()) {
                f.channels.push(channel.to_string());
            }
        }
    }
    let ch = ws.channel_mut(channel)?;
    ch.messages.insert(ts, m);
    let mut events = Vec::new();
    if wants_events(ws, channel) {
        let ch = ws.channel(channel)?;
        if let Some(m) = ch.messages.get(&ts) {
            events.push(render::message_event(ws, ch, m));
        }
    }
    Ok((ts, events))
}

/// Slack gives every block without a `block_id` one of its own.
fn with_block_ids(ws: &mut Workspace, mut blocks: Value) -> Value {
    if let Value::Array(items) = &mut blocks {
        for block in items.iter_mut() {
            if let Value::Object(o) = block {
                if !o.contains_key("block_id") {
                    o.insert("block_id".into(), json!(ws.mint_id("b").to_lowercase()));
                }
            }
        }
    }
    blocks
}

fn rich_text(ws: &mut Workspace, text: &str) -> Value {
    let block_id = ws.mint_id("b").to_lowercase();
    json!([{
        "type": "rich_text",
        "block_id": block_id,
        "elements": [{
            "type": "rich_text_section",
            "elements": [{"type": "text", "text": text}],
        }],
    }])
}

/// Edits a message. Only its author may (`cant_update_message` otherwise).
pub fn update(
    ws: &mut Workspace,
    channel: &str,
    ts: Ts,
    editor: &str,
    text: Option<String>,
    blocks: Option<Value>,
) -> Result<(Message, Events), ApiError> {
    let ch = ws.channel(channel)?;
    let old = ch
        .messages
        .get(&ts)
        .cloned()
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if old.user != editor {
        return Err(ApiError::new("cant_update_message"));
    }
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_LEN)
    {
        return Err(ApiError::new("msg_too_long"));
    }
    let edit_ts = ws.clock.next();
    let is_human = old.client_msg_id.is_some();
    let mut new = old.clone();
    if let Some(text) = text {
        new.text = text;
        if is_human && blocks.is_none() {
            new.blocks = Some(rich_text(ws, &new.text));
        }
    }
    if blocks.is_some() {
        new.blocks = blocks;
    }
    new.edited = Some((editor.to_string(), edit_ts));
    let ch = ws.channel_mut(channel)?;
    ch.messages.insert(ts, new.clone());
    let mut events = Vec::new();
    if wants_events(ws, channel) {
        let ch = ws.channel(channel)?;
        events.push(json!({
            "type": "message",
            "subtype": "message_changed",
            "hidden": true,
            "message": render::nested_message(ws, ch, &new),
            "previous_message": render::nested_message(ws, ch, &old),
            "channel": channel,
            "ts": edit_ts.to_string(),
            "event_ts": edit_ts.to_string(),
            "channel_type": ch.channel_type(),
        }));
    }
    Ok((new, events))
}

/// Deletes a message. Only its author may (`cant_delete_message`). A thread
/// parent with replies becomes a tombstone, as in Slack.
pub fn delete(
    ws: &mut Workspace,
    channel: &str,
    ts: Ts,
    deleter: &str,
) -> Result<Events, ApiError> {
    let ch = ws.channel(channel)?;
    let old = ch
        .messages
        .get(&ts)
        .cloned()
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if old.user != deleter {
        return Err(ApiError::new("cant_delete_message"));
    }
    let has_replies = old.thread_ts.is_none() && ch.replies(ts).next().is_some();
    let event_ts = ws.clock.next();
    let mut events = Vec::new();
    let wants = wants_events(ws, channel);
    if has_replies {
        let mut tomb = Message::new(ts, "USLACKBOT", "This message was deleted.");
        tomb.subtype = Some("tombstone".into());
        let ch = ws.channel_mut(channel)?;
        ch.messages.insert(ts, tomb.clone());
        ch.pins.retain(|p| p.ts != ts);
        if wants {
            let ch = ws.channel(channel)?;
            events.push(json!({
                "type": "message",
                "subtype": "message_changed",
                "hidden": true,
                "message": render::nested_message(ws, ch, &tomb),
                "previous_message": render::nested_message(ws, ch, &old),
                "channel": channel,
                "ts": event_ts.to_string(),
                "event_ts": event_ts.to_string(),
                "channel_type": ch.channel_type(),
            }));
        }
        return Ok(events);
    }
    let previous = {
        let ch = ws.channel(channel)?;
        render::nested_message(ws, ch, &old)
    };
    let ch = ws.channel_mut(channel)?;
    ch.messages.remove(&ts);
    ch.pins.retain(|p| p.ts != ts);
    let channel_type = ch.channel_type();
    if wants {
        let mut event = json!({
            "type": "message",
            "subtype": "message_deleted",
            "hidden": true,
            "deleted_ts": ts.to_string(),
            "channel": channel,
            "previous_message": previous,
            "ts": event_ts.to_string(),
            "event_ts": event_ts.to_string(),
            "channel_type": channel_type,
        });
        if let (Some(root), Value::Object(o)) = (old.thread_ts, &mut event) {
            o.insert("thread_ts".into(), json!(root.to_string()));
        }
        events.push(event);
    }
    Ok(events)
}

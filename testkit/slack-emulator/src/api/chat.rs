//! `chat.postMessage`, `chat.postEphemeral`, `chat.update` and
//! `chat.delete` for the bot token.
//!
//! Not for agents' messages (`agent` posts as users through the same
//! `state::ops`). The invariant: the bot can post where it is a member (or
//! anywhere public with `chat:write.public`), and may edit or delete only
//! its own messages.

use super::params::Params;
use crate::delivery::emit_events;
use crate::emulator::Inner;
use crate::error::ApiError;
use crate::state::{ops, render};
use serde_json::{json, Value};
use std::sync::Arc;

/// Slack's limit on blocks in one message.
const MAX_BLOCKS: usize = 50;

fn blocks_param(params: &Params) -> Result<Option<Value>, ApiError> {
    let blocks = params.json("blocks", "invalid_blocks")?;
    match &blocks {
        Some(Value::Array(items)) if items.len() > MAX_BLOCKS => {
            Err(ApiError::new("invalid_blocks"))
        }
        Some(Value::Array(items)) if items.iter().any(|b| !b["type"].is_string()) => {
            Err(ApiError::new("invalid_blocks"))
        }
        Some(Value::Array(_)) | None => Ok(blocks),
        Some(_) => Err(ApiError::new("invalid_blocks")),
    }
}

fn has_scope(inner: &Inner, scope: &str) -> bool {
    inner.config.bot_scopes.iter().any(|s| s == scope)
}

pub fn post_message(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel_param = params.required("channel", "channel_not_found")?;
    let blocks = blocks_param(params)?;
    let attachments = params.json("attachments", "invalid_attachments")?;
    let thread_ts = params.ts("thread_ts", "invalid_thread_ts")?;
    let text = params
        .str("text")
        .or_else(|| params.str("markdown_text"))
        .unwrap_or_default();
    let (username, icons) = if has_scope(inner, "chat:write.customize") {
        let icons = match (params.str("icon_emoji"), params.str("icon_url")) {
            (Some(emoji), _) => Some(json!({ "emoji": emoji })),
            (None, Some(url)) => Some(json!({ "image_48": url })),
            (None, None) => None,
        };
        (params.str("username"), icons)
    } else {
        (None, None)
    };
    let new = ops::NewMessage {
        text,
        blocks,
        attachments,
        thread_ts,
        broadcast: params.bool("reply_broadcast"),
        username,
        icons,
        ..Default::default()
    };
    let (response, events) = {
        let mut ws = inner.workspace();
        let channel = ws.channel_id(&channel_param, true)?;
        let ch = ws.channel(&channel)?;
        let must_be_member = ch.is_private || !has_scope(inner, "chat:write.public");
        if ch.is_private && !ch.members.contains(&ws.bot_user_id) {
            return Err(ApiError::new("channel_not_found"));
        }
        let bot = ws.bot_user_id.clone();
        let (ts, events) = ops::post(&mut ws, &channel, &bot, new, must_be_member)?;
        let ch = ws.channel(&channel)?;
        let message = ch
            .messages
            .get(&ts)
            .map(|m| render::message(&ws, ch, m))
            .unwrap_or(Value::Null);
        (
            json!({"channel": channel, "ts": ts.to_string(), "message": message}),
            events,
        )
    };
    emit_events(inner, events);
    Ok(response)
}

pub fn update(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ts = params
        .ts("ts", "message_not_found")?
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    let blocks = blocks_param(params)?;
    let text = params.str("text");
    let (response, events) = {
        let mut ws = inner.workspace();
        let channel = ws.channel_id(&channel, false)?;
        let bot = ws.bot_user_id.clone();
        let (message, events) = ops::update(&mut ws, &channel, ts, &bot, text, blocks)?;
        let ch = ws.channel(&channel)?;
        let mut response = json!({
            "channel": channel,
            "ts": ts.to_string(),
            "text": message.text,
            "message": render::message(&ws, ch, &message),
        });
        if let (Some(root), Value::Object(o)) = (message.thread_ts, &mut response) {
            o.insert("thread_ts".into(), json!(root.to_string()));
        }
        (response, events)
    };
    emit_events(inner, events);
    Ok(response)
}

pub fn delete(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ts = params
        .ts("ts", "message_not_found")?
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    let (channel, events) = {
        let mut ws = inner.workspace();
        let channel = ws.channel_id(&channel, false)?;
        let bot = ws.bot_user_id.clone();
        let events = ops::delete(&mut ws, &channel, ts, &bot)?;
        (channel, events)
    };
    emit_events(inner, events);
    Ok(json!({"channel": channel, "ts": ts.to_string()}))
}

/// `chat.postEphemeral`: shown to `user` alone, so kept out of the
/// channel's history (recorded in `Workspace::ephemerals`). Slack refuses
/// users who are not in the channel (`user_not_in_channel`).
pub fn post_ephemeral(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel_param = params.required("channel", "channel_not_found")?;
    let user = params.required("user", "user_not_found")?;
    let text = params.str("text").unwrap_or_default();
    if text.is_empty() && params.str("blocks").is_none() {
        return Err(ApiError::new("no_text"));
    }
    let thread_ts = params.ts("thread_ts", "invalid_thread_ts")?;
    let mut ws = inner.workspace();
    let channel = ws.channel_id(&channel_param, true)?;
    let ch = ws.channel(&channel)?;
    if !ch.members.contains(&ws.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    if !ws.users.contains_key(&user) {
        return Err(ApiError::new("user_not_found"));
    }
    if !ch.members.contains(&user) {
        return Err(ApiError::new("user_not_in_channel"));
    }
    let ts = ws.clock.next();
    ws.ephemerals.push(crate::state::Ephemeral {
        channel,
        user,
        text,
        thread_ts: thread_ts.map(|t| t.to_string()),
    });
    Ok(json!({ "message_ts": ts.to_string() }))
}

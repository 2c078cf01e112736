//! `conversations.history`, `.replies`, `.info`, `.join` and `.list`, with
//! Slack's time-range filters and cursor pagination.
//!
//! Not for posting (`chat`). The invariant: cursors are opaque base64
//! strings the emulator minted; an unreadable one answers `invalid_cursor`;
//! `history` is newest first, `replies` oldest first with the parent first.

use super::params::Params;
use crate::delivery::emit_events;
use crate::emulator::Inner;
use crate::error::ApiError;
use crate::state::{ops, render, Channel, Message, Workspace};
use crate::ts::Ts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::Arc;

fn encode_cursor(kind: &str, value: &str) -> String {
    STANDARD.encode(format!("{kind}:{value}"))
}

fn decode_cursor(params: &Params, kind: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = params.str("cursor") else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(raw.as_bytes())
        .map_err(|_| ApiError::new("invalid_cursor"))?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::new("invalid_cursor"))?;
    text.strip_prefix(&format!("{kind}:"))
        .map(|v| Some(v.to_string()))
        .ok_or_else(|| ApiError::new("invalid_cursor"))
}

fn cursor_ts(params: &Params) -> Result<Option<Ts>, ApiError> {
    match decode_cursor(params, "next_ts")? {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(|n| Some(Ts(n)))
            .map_err(|_| ApiError::new("invalid_cursor")),
    }
}

/// The `oldest`/`latest`/`inclusive` window.
struct Window {
    oldest: Option<Ts>,
    latest: Option<Ts>,
    inclusive: bool,
}

impl Window {
    fn from(params: &Params) -> Result<Window, ApiError> {
        Ok(Window {
            oldest: params.ts("oldest", "invalid_ts_oldest")?,
            latest: params.ts("latest", "invalid_ts_latest")?,
            inclusive: params.bool("inclusive"),
        })
    }

    fn contains(&self, ts: Ts) -> bool {
        let after = match self.oldest {
            None => true,
            Some(o) if self.inclusive => ts >= o,
            Some(o) => ts > o,
        };
        let before = match self.latest {
            None => true,
            Some(l) if self.inclusive => ts <= l,
            Some(l) => ts < l,
        };
        after && before
    }
}

/// A channel the bot may read: it exists, and it is a member.
fn readable<'a>(ws: &'a Workspace, param: &str) -> Result<&'a Channel, ApiError> {
    let ch = ws.channel(param)?;
    if !ch.members.contains(&ws.bot_user_id) {
        return Err(ApiError::new(if ch.is_private {
            "channel_not_found"
        } else {
            "not_in_channel"
        }));
    }
    Ok(ch)
}

fn page_json(messages: Vec<Value>, next: Option<String>) -> Value {
    json!({
        "messages": messages,
        "has_more": next.is_some(),
        "response_metadata": {"next_cursor": next.unwrap_or_default()},
    })
}

pub fn history(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let window = Window::from(params)?;
    let limit = params.limit(100, 999);
    let before = cursor_ts(params)?;
    let ws = inner.workspace();
    let ch = readable(&ws, &channel)?;
    let mut picked: Vec<&Message> = ch
        .messages
        .values()
        .rev()
        .filter(|m| m.thread_ts.is_none() || m.broadcast)
        .filter(|m| window.contains(m.ts))
        .filter(|m| before.is_none_or(|b| m.ts <= b))
        .take(limit + 1)
        .collect();
    let next = (picked.len() > limit).then(|| {
        let first_of_next = picked.remove(limit).ts;
        encode_cursor("next_ts", &first_of_next.0.to_string())
    });
    let messages = picked.iter().map(|m| render::message(&ws, ch, m)).collect();
    let mut page = page_json(messages, next);
    if let Value::Object(o) = &mut page {
        o.insert("pin_count".into(), json!(ch.pins.len()));
    }
    Ok(page)
}

pub fn replies(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ts = params
        .ts("ts", "thread_not_found")?
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let window = Window::from(params)?;
    let limit = params.limit(1000, 1000);
    let from = cursor_ts(params)?;
    let ws = inner.workspace();
    let ch = readable(&ws, &channel)?;
    let target = ch
        .messages
        .get(&ts)
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let root = target.thread_ts.unwrap_or(ts);
    let parent = ch.messages.get(&root);
    let with_parent = from.is_none() || inner.config.replies_parent_on_every_page;
    let room = if with_parent && parent.is_some() {
        limit.saturating_sub(1).max(1)
    } else {
        limit
    };
    let mut picked: Vec<&Message> = ch
        .replies(root)
        .filter(|m| window.contains(m.ts))
        .filter(|m| from.is_none_or(|f| m.ts >= f))
        .take(room + 1)
        .collect();
    let next = (picked.len() > room).then(|| {
        let first_of_next = picked.remove(room).ts;
        encode_cursor("next_ts", &first_of_next.0.to_string())
    });
    let mut messages: Vec<Value> = Vec::new();
    if let (true, Some(parent)) = (with_parent, parent) {
        messages.push(render::message(&ws, ch, parent));
    }
    messages.extend(picked.iter().map(|m| render::message(&ws, ch, m)));
    Ok(page_json(messages, next))
}

pub fn info(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ws = inner.workspace();
    let ch = ws.channel(&channel)?;
    if ch.is_private && !ch.members.contains(&ws.bot_user_id) {
        return Err(ApiError::new("channel_not_found"));
    }
    Ok(json!({"channel": render::channel(&ws, ch, &ws.bot_user_id)}))
}

pub fn join(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let (response, events) = {
        let mut ws = inner.workspace();
        let bot = ws.bot_user_id.clone();
        let ch = ws.channel(&channel)?;
        if ch.is_private {
            return Err(ApiError::new(if ch.members.contains(&bot) {
                "method_not_supported_for_channel_type"
            } else {
                "channel_not_found"
            }));
        }
        if ch.members.contains(&bot) {
            let info = render::channel(&ws, ch, &bot);
            let response = json!({
                "channel": info,
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            });
            (response, Vec::new())
        } else {
            ws.channel_mut(&channel)?.members.insert(bot.clone());
            let note = ops::NewMessage {
                text: format!("<@{bot}> has joined the channel"),
                subtype: Some("channel_join".into()),
                ..Default::default()
            };
            let (_, events) = ops::post(&mut ws, &channel, &bot, note, true)?;
            let ch = ws.channel(&channel)?;
            (json!({"channel": render::channel(&ws, ch, &bot)}), events)
        }
    };
    emit_events(inner, events);
    Ok(response)
}

pub fn list(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let types = params
        .str("types")
        .unwrap_or_else(|| "public_channel".to_string());
    let public = types.split(',').any(|t| t.trim() == "public_channel");
    let private = types.split(',').any(|t| t.trim() == "private_channel");
    let limit = params.limit(100, 1000);
    let from = decode_cursor(params, "next_id")?;
    let ws = inner.workspace();
    let bot = &ws.bot_user_id;
    let mut picked: Vec<&Channel> = ws
        .channels
        .values()
        .filter(|c| {
            (public && !c.is_private) || (private && c.is_private && c.members.contains(bot))
        })
        .filter(|c| from.as_deref().is_none_or(|f| c.id.as_str() >= f))
        .take(limit + 1)
        .collect();
    let next = (picked.len() > limit).then(|| encode_cursor("next_id", &picked.remove(limit).id));
    let channels: Vec<Value> = picked
        .iter()
        .map(|c| render::channel(&ws, c, bot))
        .collect();
    Ok(json!({
        "channels": channels,
        "response_metadata": {"next_cursor": next.unwrap_or_default()},
    }))
}

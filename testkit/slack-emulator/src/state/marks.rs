//! Marks on messages: reactions, pins (with Slack's `pinned_item` note) and
//! the `file_shared` events of a file share.
//!
//! Not for creating, editing or deleting messages (`ops`). The invariant:
//! a mark either fails with a Slack error code and changes nothing, or
//! succeeds and returns every event Slack would emit for it.

use super::ops::{wants_events, Events};
use super::{render, Message, Pin, Reaction, Workspace};
use crate::error::ApiError;
use crate::ts::{now_secs, Ts};
use serde_json::{json, Value};

/// Normalises a reaction name (`:+1:` → `+1`) or rejects it (`invalid_name`).
pub fn reaction_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim().trim_matches(':');
    let ok = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c) || c == ':'
        });
    if ok {
        Ok(name.to_string())
    } else {
        Err(ApiError::new("invalid_name"))
    }
}

/// Adds (`add`) or removes a reaction by `user`.
pub fn react(
    ws: &mut Workspace,
    channel: &str,
    ts: Ts,
    user: &str,
    name: &str,
    add: bool,
) -> Result<Events, ApiError> {
    let name = reaction_name(name)?;
    let ch = ws.channel_mut(channel)?;
    let m = ch
        .messages
        .get_mut(&ts)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    let item_user = m.user.clone();
    let pos = m.reactions.iter().position(|r| r.name == name);
    if add {
        match pos {
            Some(i) if m.reactions[i].users.iter().any(|u| u == user) => {
                return Err(ApiError::new("already_reacted"))
            }
            Some(i) => m.reactions[i].users.push(user.to_string()),
            None => m.reactions.push(Reaction {
                name: name.clone(),
                users: vec![user.to_string()],
            }),
        }
    } else {
        let i = pos
            .filter(|&i| m.reactions[i].users.iter().any(|u| u == user))
            .ok_or_else(|| ApiError::new("no_reaction"))?;
        m.reactions[i].users.retain(|u| u != user);
        if m.reactions[i].users.is_empty() {
            m.reactions.remove(i);
        }
    }
    let event_ts = ws.clock.next();
    let mut events = Vec::new();
    if wants_events(ws, channel) {
        events.push(json!({
            "type": if add { "reaction_added" } else { "reaction_removed" },
            "user": user,
            "reaction": name,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts.to_string()},
            "event_ts": event_ts.to_string(),
        }));
    }
    Ok(events)
}

/// Pins a message; Slack also posts a `pinned_item` message saying so.
pub fn pin(ws: &mut Workspace, channel: &str, ts: Ts, user: &str) -> Result<Events, ApiError> {
    let ch = ws.channel(channel)?;
    if !ch.messages.contains_key(&ts) {
        return Err(ApiError::new("message_not_found"));
    }
    if ch.pins.iter().any(|p| p.ts == ts) {
        return Err(ApiError::new("already_pinned"));
    }
    let created = now_secs();
    ws.channel_mut(channel)?.pins.push(Pin {
        ts,
        created,
        created_by: user.to_string(),
    });
    let note_ts = ws.clock.next();
    let mut note = Message::new(
        note_ts,
        user,
        &format!("<@{user}> pinned a message to this channel."),
    );
    note.subtype = Some("pinned_item".into());
    if ws.users.get(user).is_some_and(|u| u.is_bot) {
        note.bot_id = ws.users.get(user).and_then(|u| u.bot_id.clone());
    }
    ws.channel_mut(channel)?.messages.insert(note_ts, note);
    let mut events = Vec::new();
    if wants_events(ws, channel) {
        let ch = ws.channel(channel)?;
        if let (Some(pinned), Some(note)) = (ch.messages.get(&ts), ch.messages.get(&note_ts)) {
            let mut note_event = render::message_event(ws, ch, note);
            if let Value::Object(o) = &mut note_event {
                o.insert(
                    "item_type".into(),
                    json!(if ch.is_private { "G" } else { "C" }),
                );
            }
            events.push(json!({
                "type": "pin_added",
                "user": user,
                "channel_id": channel,
                "item": {
                    "type": "message",
                    "created": created,
                    "created_by": user,
                    "channel": channel,
                    "message": render::message(ws, ch, pinned),
                },
                "event_ts": note_ts.to_string(),
            }));
            events.push(note_event);
        }
    }
    Ok(events)
}

/// `file_shared` events for files just shared into `channel` by `user`.
pub fn file_shared_events(
    ws: &Workspace,
    channel: &str,
    user: &str,
    files: &[String],
    ts: Ts,
) -> Events {
    if !wants_events(ws, channel) {
        return Vec::new();
    }
    files
        .iter()
        .map(|id| {
            json!({
                "type": "file_shared",
                "channel_id": channel,
                "file_id": id,
                "user_id": user,
                "file": {"id": id},
                "event_ts": ts.to_string(),
            })
        })
        .collect()
}

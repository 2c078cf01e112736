//! The small methods: `auth.test`, `apps.connections.open`, `pins.*`,
//! `reactions.*`, `users.info` and `usergroups.list` /
//! `usergroups.users.list`.
//!
//! Not for messages or conversations (`chat`, `conversations`). The
//! invariant: each answers Slack's documented shape and error codes.

use super::params::Params;
use crate::delivery::emit_events;
use crate::emulator::Inner;
use crate::error::ApiError;
use crate::state::{ops, render};
use crate::ts::Ts;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn auth_test(inner: &Arc<Inner>, _params: &Params) -> Result<Value, ApiError> {
    let ws = inner.workspace();
    Ok(json!({
        "url": format!("{}/", ws.base_url),
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": false,
    }))
}

pub fn connections_open(inner: &Arc<Inner>, _params: &Params) -> Result<Value, ApiError> {
    let ticket = crate::ids::uuid();
    inner.outbox.socket.add_ticket(ticket.clone());
    let ws_url = inner.base_url.replacen("http://", "ws://", 1);
    Ok(json!({
        "url": format!("{ws_url}/link/?ticket={ticket}&app_id={}", inner.config.app_id),
    }))
}

fn channel_and_ts(params: &Params) -> Result<(String, Ts), ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ts = params
        .ts("timestamp", "message_not_found")?
        .ok_or_else(|| ApiError::new("no_item_specified"))?;
    Ok((channel, ts))
}

pub fn pins_add(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let (channel, ts) = channel_and_ts(params)?;
    let events = {
        let mut ws = inner.workspace();
        let bot = ws.bot_user_id.clone();
        if !ws.channel(&channel)?.members.contains(&bot) {
            return Err(ApiError::new("not_in_channel"));
        }
        ops::pin(&mut ws, &channel, ts, &bot)?
    };
    emit_events(inner, events);
    Ok(json!({}))
}

pub fn pins_remove(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let (channel, ts) = channel_and_ts(params)?;
    let events = {
        let mut ws = inner.workspace();
        let bot = ws.bot_user_id.clone();
        let ch = ws.channel_mut(&channel)?;
        let before = ch.pins.len();
        ch.pins.retain(|p| p.ts != ts);
        if ch.pins.len() == before {
            return Err(ApiError::new("no_pin"));
        }
        let event_ts = ws.clock.next();
        vec![json!({
            "type": "pin_removed",
            "user": bot,
            "channel_id": channel,
            "item": {"type": "message", "channel": channel, "message": {"ts": ts.to_string()}},
            "has_pins": !ws.channel(&channel)?.pins.is_empty(),
            "event_ts": event_ts.to_string(),
        })]
    };
    emit_events(inner, events);
    Ok(json!({}))
}

pub fn pins_list(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let channel = params.required("channel", "channel_not_found")?;
    let ws = inner.workspace();
    let ch = ws.channel(&channel)?;
    let items: Vec<Value> = ch
        .pins
        .iter()
        .filter_map(|p| {
            let m = ch.messages.get(&p.ts)?;
            Some(json!({
                "type": "message",
                "created": p.created,
                "created_by": p.created_by,
                "channel": ch.id,
                "message": render::message(&ws, ch, m),
            }))
        })
        .collect();
    Ok(json!({ "items": items }))
}

fn react(inner: &Arc<Inner>, params: &Params, add: bool) -> Result<Value, ApiError> {
    let (channel, ts) = channel_and_ts(params)?;
    let name = params.required("name", "invalid_name")?;
    let events = {
        let mut ws = inner.workspace();
        let bot = ws.bot_user_id.clone();
        ops::react(&mut ws, &channel, ts, &bot, &name, add)?
    };
    emit_events(inner, events);
    Ok(json!({}))
}

pub fn reactions_add(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    react(inner, params, true)
}

pub fn reactions_remove(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    react(inner, params, false)
}

pub fn users_info(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let user = params.required("user", "user_not_found")?;
    let ws = inner.workspace();
    let u = ws
        .users
        .get(&user)
        .ok_or_else(|| ApiError::new("user_not_found"))?;
    Ok(json!({ "user": render::user(&ws, u) }))
}

/// `usergroups.list`: the workspace's user groups, with their members when
/// `include_users` is set.
pub fn usergroups_list(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let ws = inner.workspace();
    let include_users = params.bool("include_users");
    let groups: Vec<Value> = ws
        .usergroups
        .values()
        .map(|g| render::usergroup(&ws, g, include_users))
        .collect();
    Ok(json!({ "usergroups": groups }))
}

/// `usergroups.users.list`: the member ids of one user group.
pub fn usergroups_users_list(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("usergroup", "no_such_subteam")?;
    let ws = inner.workspace();
    let group = ws
        .usergroups
        .get(&id)
        .ok_or_else(|| ApiError::new("no_such_subteam"))?;
    Ok(json!({ "users": group.users }))
}

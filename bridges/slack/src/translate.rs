//! Slack payloads to [`Inbound`]: human replies, edits, deletions and
//! files in case threads, reactions, and button/menu presses.
//!
//! Ignored: anything with a `bot_id` (the bot's own echoes, other apps),
//! users whose `users.info` says `is_bot`, top-level channel chatter,
//! threads that are not case threads, and subtypes other than
//! `file_share`, `thread_broadcast`, `message_changed`, `message_deleted`.
//! Event ids are derived from the message (`{channel}:{ts}`, with
//! `:edit:{edited ts}`, `:delete`, …) so live delivery, redelivery and
//! catch-up of one thing share an id. The invariant: never panics on any
//! payload; missing fields mean "ignore".

use handoff_bridge_api::{Attachment, BridgeError, Endpoint, Inbound, InboundKind, Text, UserRef};
use serde_json::Value;
use tracing::{debug, warn};

use crate::bridge::Inner;
use crate::inbound::{Emit, Mark};
use crate::{emoji, mrkdwn, ts, NETWORK};

type Emits = Result<Vec<Emit>, BridgeError>;

fn s(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// An `event_callback` payload.
pub(crate) async fn event(inner: &Inner, payload: &Value) -> Emits {
    let e = &payload["event"];
    match (s(&e["type"]), s(&e["subtype"])) {
        (Some("message"), None | Some("thread_broadcast") | Some("file_share")) => {
            let Some(channel) = s(&e["channel"]) else {
                return Ok(Vec::new());
            };
            message(inner, channel, e).await
        }
        (Some("message"), Some("message_changed")) => edited(inner, e).await,
        (Some("message"), Some("message_deleted")) => deleted(inner, e).await,
        (Some("reaction_added"), _) => reaction(inner, e).await,
        (kind, subtype) => {
            debug!(?kind, ?subtype, "slack event not relayed");
            Ok(Vec::new())
        }
    }
}

fn endpoint(channel: &str, root: &str) -> Endpoint {
    Endpoint::new(NETWORK, channel).in_thread(root)
}

/// The sender, or `None` when it is a bot.
async fn person(inner: &Inner, user: &str) -> Option<UserRef> {
    if user == inner.bot.user_id {
        return None;
    }
    let info = inner.directory.user(&inner.web, user).await;
    if info.is_bot {
        return None;
    }
    Some(UserRef {
        network: NETWORK.into(),
        id: user.to_string(),
        display_name: info.display_name,
        is_bot: false,
    })
}

/// Converts mrkdwn, resolving `<@U…>` mentions to display names.
async fn body(inner: &Inner, text: &str) -> Text {
    let mut names = Vec::new();
    for id in mrkdwn::user_mentions(text) {
        let info = inner.directory.user(&inner.web, &id).await;
        names.push((id, info.display_name));
    }
    mrkdwn::to_text(text, |id| {
        names
            .iter()
            .find(|(n, _)| n == id)
            .and_then(|(_, name)| name.clone())
    })
}

/// The case thread a message ts belongs to, from the event or the stored
/// mapping; `None` when it is not in a case thread.
fn case_thread(
    inner: &Inner,
    channel: &str,
    ts: &str,
    hint: Option<&str>,
) -> Result<Option<String>, BridgeError> {
    let root = match hint.filter(|h| *h != ts) {
        Some(h) => Some(h.to_string()),
        None => inner.store.thread_of(channel, ts)?,
    };
    match root {
        Some(r) if inner.store.is_case_thread(channel, &r)? => Ok(Some(r)),
        _ => Ok(None),
    }
}

/// A new message (live or read back by catch-up) in `channel`.
pub(crate) async fn message(inner: &Inner, channel: &str, m: &Value) -> Emits {
    let (Some(msg_ts), Some(user)) = (s(&m["ts"]), s(&m["user"])) else {
        return Ok(Vec::new());
    };
    let subtype = s(&m["subtype"]);
    let relayable = matches!(
        subtype,
        None | Some("thread_broadcast") | Some("file_share")
    );
    if !m["bot_id"].is_null() || !relayable {
        return Ok(Vec::new());
    }
    let Some(root) = s(&m["thread_ts"]).filter(|t| *t != msg_ts) else {
        return Ok(Vec::new());
    };
    if !inner.store.is_case_thread(channel, root)? {
        debug!(
            channel,
            root, "reply in a thread that is not a case; ignored"
        );
        return Ok(Vec::new());
    }
    let event_id = format!("{channel}:{msg_ts}");
    if inner.store.progress(channel, root)?.seen(&event_id) {
        return Ok(Vec::new());
    }
    let Some(sender) = person(inner, user).await else {
        return Ok(Vec::new());
    };
    inner.store.record_thread(channel, msg_ts, root)?;
    let mut kinds = Vec::new();
    let text = m["text"].as_str().unwrap_or_default();
    if !text.trim().is_empty() {
        kinds.push(InboundKind::Message {
            id: msg_ts.to_string(),
            body: body(inner, text).await,
            reply_to: None,
        });
    }
    for f in m["files"].as_array().into_iter().flatten() {
        kinds.push(file(inner, msg_ts, f).await);
    }
    let count = kinds.len();
    let emits = kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Emit {
            inbound: Inbound {
                event_id: if i == 0 {
                    event_id.clone()
                } else {
                    format!("{event_id}:part:{i}")
                },
                endpoint: endpoint(channel, root),
                sender: sender.clone(),
                at: ts::to_millis(msg_ts),
                kind,
            },
            mark: (i + 1 == count).then(|| Mark {
                channel: channel.to_string(),
                root: root.to_string(),
                event_id: event_id.clone(),
                ts: msg_ts.to_string(),
            }),
        })
        .collect();
    Ok(emits)
}

/// One shared file: downloaded (up to the size cap) as an attachment, or a
/// note saying why not.
async fn file(inner: &Inner, msg_ts: &str, f: &Value) -> InboundKind {
    let name = s(&f["name"]).unwrap_or("file").to_string();
    let file_id = s(&f["id"]).unwrap_or("F");
    let id = format!("{msg_ts}/{file_id}");
    let size = f["size"].as_u64().unwrap_or(0);
    let cap = inner.cfg.max_file_bytes;
    let url = s(&f["url_private_download"]).or_else(|| s(&f["url_private"]));
    let note = |why: String| InboundKind::Message {
        id: id.clone(),
        body: Text::plain(format!("[file {name}: {why}]")),
        reply_to: None,
    };
    let Some(url) = url else {
        return note("not downloadable".into());
    };
    if size as usize > cap {
        return note(format!("{size} bytes, over the {cap} byte limit"));
    }
    match inner.web.download(url, cap).await {
        Ok(data) => InboundKind::Attachment {
            id,
            file: Attachment {
                mime: s(&f["mimetype"])
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                name,
                data,
            },
        },
        Err(e) => {
            warn!(file = file_id, error = %e, "file download failed");
            note("download failed".into())
        }
    }
}

async fn edited(inner: &Inner, e: &Value) -> Emits {
    let m = &e["message"];
    let (Some(channel), Some(msg_ts), Some(user)) = (s(&e["channel"]), s(&m["ts"]), s(&m["user"]))
    else {
        return Ok(Vec::new());
    };
    if !m["bot_id"].is_null() || s(&m["subtype"]) == Some("tombstone") {
        return Ok(Vec::new());
    }
    let text = m["text"].as_str().unwrap_or_default();
    if e["previous_message"]["text"].as_str() == Some(text) {
        return Ok(Vec::new()); // an unfurl or attachment change, not an edit
    }
    let Some(root) = case_thread(inner, channel, msg_ts, s(&m["thread_ts"]))? else {
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, user).await else {
        return Ok(Vec::new());
    };
    let edit_ts = s(&m["edited"]["ts"])
        .or_else(|| s(&e["event_ts"]))
        .or_else(|| s(&e["ts"]))
        .unwrap_or(msg_ts);
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: format!("{channel}:{msg_ts}:edit:{edit_ts}"),
            endpoint: endpoint(channel, &root),
            sender,
            at: ts::to_millis(edit_ts),
            kind: InboundKind::Edit {
                target: msg_ts.to_string(),
                body: body(inner, text).await,
            },
        },
        mark: None,
    }])
}

async fn deleted(inner: &Inner, e: &Value) -> Emits {
    let prev = &e["previous_message"];
    let (Some(channel), Some(target)) = (s(&e["channel"]), s(&e["deleted_ts"])) else {
        return Ok(Vec::new());
    };
    if !prev["bot_id"].is_null() {
        return Ok(Vec::new());
    }
    let Some(user) = s(&prev["user"]) else {
        return Ok(Vec::new());
    };
    let hint = s(&e["thread_ts"]).or_else(|| s(&prev["thread_ts"]));
    let Some(root) = case_thread(inner, channel, target, hint)? else {
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, user).await else {
        return Ok(Vec::new());
    };
    let at = s(&e["event_ts"]).unwrap_or(target);
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: format!("{channel}:{target}:delete"),
            endpoint: endpoint(channel, &root),
            sender,
            at: ts::to_millis(at),
            kind: InboundKind::Delete {
                target: target.to_string(),
            },
        },
        mark: None,
    }])
}

async fn reaction(inner: &Inner, e: &Value) -> Emits {
    let item = &e["item"];
    let (Some(channel), Some(target), Some(user), Some(name)) = (
        s(&item["channel"]),
        s(&item["ts"]),
        s(&e["user"]),
        s(&e["reaction"]),
    ) else {
        return Ok(Vec::new());
    };
    if s(&item["type"]).is_some_and(|t| t != "message") {
        return Ok(Vec::new());
    }
    let root = match case_thread(inner, channel, target, None)? {
        Some(r) => r,
        None if inner.store.is_case_thread(channel, target)? => target.to_string(),
        None => return Ok(Vec::new()),
    };
    let Some(sender) = person(inner, user).await else {
        return Ok(Vec::new());
    };
    let event_ts = s(&e["event_ts"]).unwrap_or(target);
    let id = format!("{channel}:{target}:react:{user}:{name}:{event_ts}");
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: id.clone(),
            endpoint: endpoint(channel, &root),
            sender,
            at: ts::to_millis(event_ts),
            kind: InboundKind::Reaction {
                id,
                target: target.to_string(),
                key: emoji::key_for_name(name),
            },
        },
        mark: None,
    }])
}

/// A `block_actions` payload: each action becomes a `Button`.
pub(crate) async fn interaction(inner: &Inner, p: &Value) -> Emits {
    if s(&p["type"]) != Some("block_actions") {
        return Ok(Vec::new());
    }
    let container = &p["container"];
    let channel = s(&container["channel_id"]).or_else(|| s(&p["channel"]["id"]));
    let message_ts = s(&container["message_ts"]).or_else(|| s(&p["message"]["ts"]));
    let (Some(channel), Some(message_ts), Some(user)) = (channel, message_ts, s(&p["user"]["id"]))
    else {
        return Ok(Vec::new());
    };
    let hint = s(&container["thread_ts"]).or_else(|| s(&p["message"]["thread_ts"]));
    let root = match case_thread(inner, channel, message_ts, hint)? {
        Some(r) => r,
        None if inner.store.is_case_thread(channel, message_ts)? => message_ts.to_string(),
        None => {
            debug!(
                channel,
                message_ts, "button on a message outside a case; ignored"
            );
            return Ok(Vec::new());
        }
    };
    let Some(sender) = person(inner, user).await else {
        return Ok(Vec::new());
    };
    let mut emits = Vec::new();
    for a in p["actions"].as_array().into_iter().flatten() {
        let Some(action) = s(&a["action_id"]) else {
            continue;
        };
        let value = s(&a["value"])
            .or_else(|| s(&a["selected_option"]["value"]))
            .unwrap_or_default();
        let action_ts = s(&a["action_ts"])
            .or_else(|| s(&p["trigger_id"]))
            .unwrap_or(message_ts);
        emits.push(Emit {
            inbound: Inbound {
                event_id: format!("{channel}:{message_ts}:action:{action}:{action_ts}:{user}"),
                endpoint: endpoint(channel, &root),
                sender: sender.clone(),
                at: ts::to_millis(action_ts),
                kind: InboundKind::Button {
                    action: action.to_string(),
                    value: value.to_string(),
                },
            },
            mark: None,
        });
    }
    Ok(emits)
}

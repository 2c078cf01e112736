//! Slack payloads to [`Inbound`]: human replies, edits, deletions and
//! files in case threads, reactions, and button/menu presses.
//!
//! Reading the payload and deciding whose activity is ignored is `parse`
//! (pure); this module adds what needs the store or the Web API: is the
//! thread a case, has the reply been relayed, is the sender a bot
//! (`users.info`), display names, file downloads. Ignored here: top-level
//! channel chatter and threads that are not case threads. Event ids are
//! derived from the message (`{channel}:{ts}`, with `:edit:{edited ts}`,
//! `:delete`, …) so live delivery, redelivery and catch-up of one thing
//! share an id. The invariant: never panics on any payload; a message
//! text over Slack's 40,000 characters is cut with a marker, not refused.

use handoff_bridge_api::{
    Attachment, BridgeError, Endpoint, Inbound, InboundKind, Standing, Text, UserRef,
};
use serde_json::Value;
use tracing::{debug, warn};

use crate::bridge::Inner;
use crate::directory::UserInfo;
use crate::inbound::{Emit, Mark};
use crate::limits::{fit, MAX_TEXT_CHARS};
use crate::parse::{self, s, Event, Skip};
use crate::{emoji, mrkdwn, ts, NETWORK};

type Emits = Result<Vec<Emit>, BridgeError>;

fn skipped(why: Skip) -> Emits {
    debug!(%why, "slack payload not relayed");
    Ok(Vec::new())
}

/// An `event_callback` payload.
pub(crate) async fn event(inner: &Inner, payload: &Value) -> Emits {
    match parse::event(payload, &inner.senders) {
        Ok(Event::Posted(p)) => posted(inner, p).await,
        Ok(Event::Edited(e)) => edited(inner, e).await,
        Ok(Event::Deleted(d)) => deleted(inner, d).await,
        Ok(Event::Reacted(r)) => reaction(inner, r).await,
        Err(why) => skipped(why),
    }
}

fn endpoint(channel: &str, root: &str) -> Endpoint {
    Endpoint::new(NETWORK, channel).in_thread(root)
}

/// The sender, or `None` when `users.info` says it is a bot. Their
/// [`Standing`] says what Slack told of them; the core decides whether
/// that makes them an agent.
async fn person(inner: &Inner, user: &str) -> Option<UserRef> {
    let info = inner.directory.user(&inner.web, user).await;
    if info.is_bot {
        debug!(user, "sender is a bot user; not relayed");
        return None;
    }
    let standing = standing(inner, user, &info).await;
    Some(UserRef {
        network: NETWORK.into(),
        id: user.to_string(),
        display_name: info.display_name,
        is_bot: false,
        standing,
    })
}

/// Where `user` stands in the bot's workspace: a failed lookup is
/// Unknown; guests, and users of another workspace (Slack Connect), are
/// told apart from full members, whose watched user groups are listed.
async fn standing(inner: &Inner, user: &str, info: &UserInfo) -> Standing {
    if !info.found {
        return Standing::Unknown;
    }
    if info.guest {
        return Standing::Guest;
    }
    let other_team = info
        .team_id
        .as_deref()
        .is_some_and(|t| !inner.bot.team_id.is_empty() && t != inner.bot.team_id);
    if info.stranger || other_team {
        return Standing::External;
    }
    let mut groups = Vec::new();
    for group in &inner.cfg.agent_groups {
        let members = inner.directory.group_members(&inner.web, group).await;
        if members.is_some_and(|m| m.contains(user)) {
            groups.push(group.clone());
        }
    }
    Standing::Member { groups }
}

/// Converts mrkdwn (cut to Slack's text limit), resolving `<@U…>`
/// mentions to display names.
async fn body(inner: &Inner, text: &str) -> Text {
    let text = fit(text, MAX_TEXT_CHARS);
    if matches!(text, std::borrow::Cow::Owned(_)) {
        warn!(
            chars = MAX_TEXT_CHARS,
            "slack message text over the limit; relayed cut"
        );
    }
    let mut names = Vec::new();
    for id in mrkdwn::user_mentions(&text) {
        let info = inner.directory.user(&inner.web, &id).await;
        names.push((id, info.display_name));
    }
    mrkdwn::to_text(&text, |id| {
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

/// A message object read back by catch-up in `channel`.
pub(crate) async fn message(inner: &Inner, channel: &str, m: &Value) -> Emits {
    match parse::message(channel, m, &inner.senders) {
        Ok(p) => posted(inner, p).await,
        Err(why) => skipped(why),
    }
}

/// A new message in a thread (live or read back).
async fn posted(inner: &Inner, p: parse::Posted<'_>) -> Emits {
    let (channel, root, msg_ts) = (p.channel, p.root, p.ts);
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
    let Some(sender) = person(inner, p.user).await else {
        return Ok(Vec::new());
    };
    inner.store.record_thread(channel, msg_ts, root)?;
    let mut kinds = Vec::new();
    if !p.text.trim().is_empty() {
        kinds.push(InboundKind::Message {
            id: msg_ts.to_string(),
            body: body(inner, p.text).await,
            reply_to: None,
        });
    }
    for f in p.files {
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
                customer_endpoint: false,
                encrypted: false,
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
    if !inner.web.file_host_allowed(url) {
        warn!(
            file = file_id,
            "file URL is not on an allowed Slack file host; not downloaded"
        );
        return note("not on a Slack file host, not downloaded".into());
    }
    if usize::try_from(size).map_or(true, |n| n > cap) {
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

async fn edited(inner: &Inner, e: parse::Edited<'_>) -> Emits {
    let Some(root) = case_thread(inner, e.channel, e.ts, e.thread_hint)? else {
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, e.user).await else {
        return Ok(Vec::new());
    };
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: format!("{}:{}:edit:{}", e.channel, e.ts, e.edit_ts),
            endpoint: endpoint(e.channel, &root),
            sender,
            at: ts::to_millis(e.edit_ts),
            kind: InboundKind::Edit {
                target: e.ts.to_string(),
                body: body(inner, e.text).await,
            },
            customer_endpoint: false,
            encrypted: false,
        },
        mark: None,
    }])
}

async fn deleted(inner: &Inner, d: parse::Deleted<'_>) -> Emits {
    let Some(root) = case_thread(inner, d.channel, d.target, d.thread_hint)? else {
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, d.user).await else {
        return Ok(Vec::new());
    };
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: format!("{}:{}:delete", d.channel, d.target),
            endpoint: endpoint(d.channel, &root),
            sender,
            at: ts::to_millis(d.at),
            kind: InboundKind::Delete {
                target: d.target.to_string(),
            },
            customer_endpoint: false,
            encrypted: false,
        },
        mark: None,
    }])
}

/// The case a message belongs to, the message being the root itself
/// included (reactions and buttons on the summary card).
fn case_of(
    inner: &Inner,
    channel: &str,
    ts: &str,
    hint: Option<&str>,
) -> Result<Option<String>, BridgeError> {
    match case_thread(inner, channel, ts, hint)? {
        Some(r) => Ok(Some(r)),
        None if inner.store.is_case_thread(channel, ts)? => Ok(Some(ts.to_string())),
        None => Ok(None),
    }
}

async fn reaction(inner: &Inner, r: parse::Reacted<'_>) -> Emits {
    let Some(root) = case_of(inner, r.channel, r.target, None)? else {
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, r.user).await else {
        return Ok(Vec::new());
    };
    let id = format!(
        "{}:{}:react:{}:{}:{}",
        r.channel, r.target, r.user, r.name, r.event_ts
    );
    Ok(vec![Emit {
        inbound: Inbound {
            event_id: id.clone(),
            endpoint: endpoint(r.channel, &root),
            sender,
            at: ts::to_millis(r.event_ts),
            kind: InboundKind::Reaction {
                id,
                target: r.target.to_string(),
                key: emoji::key_for_name(r.name),
            },
            customer_endpoint: false,
            encrypted: false,
        },
        mark: None,
    }])
}

/// A `block_actions` payload: each action becomes a `Button`.
pub(crate) async fn interaction(inner: &Inner, payload: &Value) -> Emits {
    let p = match parse::interaction(payload, &inner.senders) {
        Ok(p) => p,
        Err(why) => return skipped(why),
    };
    let Some(root) = case_of(inner, p.channel, p.message_ts, p.thread_hint)? else {
        debug!(
            channel = p.channel,
            message_ts = p.message_ts,
            "button on a message outside a case; ignored"
        );
        return Ok(Vec::new());
    };
    let Some(sender) = person(inner, p.user).await else {
        return Ok(Vec::new());
    };
    let emits = p
        .actions
        .iter()
        .map(|a| Emit {
            inbound: Inbound {
                event_id: format!(
                    "{}:{}:action:{}:{}:{}",
                    p.channel, p.message_ts, a.action_id, a.action_ts, p.user
                ),
                endpoint: endpoint(p.channel, &root),
                sender: sender.clone(),
                at: ts::to_millis(a.action_ts),
                kind: InboundKind::Button {
                    action: a.action_id.to_string(),
                    value: a.value.to_string(),
                },
                customer_endpoint: false,
                encrypted: false,
            },
            mark: None,
        })
        .collect();
    Ok(emits)
}

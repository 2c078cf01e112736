//! Reading raw Slack payloads (`event_callback` events, `block_actions`
//! interactions, messages read back by catch-up) into typed values, and
//! deciding whose activity is never relayed: the bot itself, any app or
//! bot (`bot_id`), configured ignored users, and anything carrying
//! handoff's relay marker (message metadata `handoff_outgoing`, which
//! every handoff instance puts on what it posts).
//!
//! Pure: no I/O, no store, no clock, so it is property-tested against
//! arbitrary JSON. Not for the case-thread rules or looking people up
//! (`translate`). The invariant: never panics on any `Value`; a missing or
//! wrongly typed field is a [`Skip`] with a reason, never an error.

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;

/// The `metadata.event_type` every handoff instance puts on its posts.
pub(crate) const RELAY_MARKER: &str = "handoff_outgoing";

/// Why a payload is not relayed (for debug logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Skip(pub &'static str);

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Who is never relayed, besides every app or bot (`bot_id`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Senders {
    /// The bot's own user id (`auth.test`).
    pub own_user: String,
    /// Configured user ids (`U…`/`W…`) and bot ids (`B…`).
    pub ignored: HashSet<String>,
}

impl Senders {
    fn check_user(&self, user: &str) -> Result<(), Skip> {
        if user == self.own_user {
            Err(Skip("the bot's own message"))
        } else if self.ignored.contains(user) {
            Err(Skip("an ignored user"))
        } else {
            Ok(())
        }
    }

    /// A message object (event, `message_changed.message`, read back).
    fn check_message(&self, m: &Value) -> Result<(), Skip> {
        if !m["bot_id"].is_null() {
            return Err(Skip("posted by an app or bot"));
        }
        if m["metadata"]["event_type"].as_str() == Some(RELAY_MARKER) {
            return Err(Skip("carries handoff's relay marker"));
        }
        match s(&m["user"]) {
            Some(user) => self.check_user(user),
            None => Err(Skip("no user")),
        }
    }
}

/// A non-empty string field.
pub(crate) fn s(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// What an `event_callback` is about.
#[derive(Debug, PartialEq)]
pub(crate) enum Event<'a> {
    Posted(Posted<'a>),
    Edited(Edited<'a>),
    Deleted(Deleted<'a>),
    Reacted(Reacted<'a>),
}

/// A new message in a thread.
#[derive(Debug, PartialEq)]
pub(crate) struct Posted<'a> {
    pub channel: &'a str,
    pub ts: &'a str,
    pub user: &'a str,
    /// The thread root (never the message itself).
    pub root: &'a str,
    pub text: &'a str,
    pub files: &'a [Value],
}

/// A `message_changed`.
#[derive(Debug, PartialEq)]
pub(crate) struct Edited<'a> {
    pub channel: &'a str,
    /// The edited message's ts.
    pub ts: &'a str,
    pub user: &'a str,
    pub thread_hint: Option<&'a str>,
    pub text: &'a str,
    /// When it was edited (the edit's own ts).
    pub edit_ts: &'a str,
}

/// A `message_deleted`.
#[derive(Debug, PartialEq)]
pub(crate) struct Deleted<'a> {
    pub channel: &'a str,
    pub target: &'a str,
    pub user: &'a str,
    pub thread_hint: Option<&'a str>,
    pub at: &'a str,
}

/// A `reaction_added` on a message.
#[derive(Debug, PartialEq)]
pub(crate) struct Reacted<'a> {
    pub channel: &'a str,
    pub target: &'a str,
    pub user: &'a str,
    pub name: &'a str,
    pub event_ts: &'a str,
}

/// An `event_callback` payload.
pub(crate) fn event<'a>(payload: &'a Value, who: &Senders) -> Result<Event<'a>, Skip> {
    let e = &payload["event"];
    match (s(&e["type"]), s(&e["subtype"])) {
        (Some("message"), None | Some("thread_broadcast") | Some("file_share")) => {
            let channel = s(&e["channel"]).ok_or(Skip("message without a channel"))?;
            message(channel, e, who).map(Event::Posted)
        }
        (Some("message"), Some("message_changed")) => edited(e, who).map(Event::Edited),
        (Some("message"), Some("message_deleted")) => deleted(e, who).map(Event::Deleted),
        (Some("reaction_added"), _) => reacted(e, who).map(Event::Reacted),
        _ => Err(Skip("an event kind that is not relayed")),
    }
}

/// A message object (live or read back by catch-up) in `channel`.
pub(crate) fn message<'a>(
    channel: &'a str,
    m: &'a Value,
    who: &Senders,
) -> Result<Posted<'a>, Skip> {
    let ts = s(&m["ts"]).ok_or(Skip("message without a ts"))?;
    let relayable = matches!(
        s(&m["subtype"]),
        None | Some("thread_broadcast") | Some("file_share")
    );
    if !relayable {
        return Err(Skip("a message subtype that is not relayed"));
    }
    who.check_message(m)?;
    let root = s(&m["thread_ts"])
        .filter(|t| *t != ts)
        .ok_or(Skip("not a thread reply"))?;
    Ok(Posted {
        channel,
        ts,
        user: s(&m["user"]).unwrap_or_default(),
        root,
        text: m["text"].as_str().unwrap_or_default(),
        files: m["files"].as_array().map(Vec::as_slice).unwrap_or(&[]),
    })
}

fn edited<'a>(e: &'a Value, who: &Senders) -> Result<Edited<'a>, Skip> {
    let m = &e["message"];
    let channel = s(&e["channel"]).ok_or(Skip("edit without a channel"))?;
    let ts = s(&m["ts"]).ok_or(Skip("edit without the message ts"))?;
    if s(&m["subtype"]) == Some("tombstone") {
        return Err(Skip("a deleted thread parent"));
    }
    who.check_message(m)?;
    let text = m["text"].as_str().unwrap_or_default();
    if e["previous_message"]["text"].as_str() == Some(text) {
        return Err(Skip("an unfurl or attachment change, not an edit"));
    }
    let edit_ts = s(&m["edited"]["ts"])
        .or_else(|| s(&e["event_ts"]))
        .or_else(|| s(&e["ts"]))
        .unwrap_or(ts);
    Ok(Edited {
        channel,
        ts,
        user: s(&m["user"]).unwrap_or_default(),
        thread_hint: s(&m["thread_ts"]),
        text,
        edit_ts,
    })
}

fn deleted<'a>(e: &'a Value, who: &Senders) -> Result<Deleted<'a>, Skip> {
    let prev = &e["previous_message"];
    let channel = s(&e["channel"]).ok_or(Skip("deletion without a channel"))?;
    let target = s(&e["deleted_ts"]).ok_or(Skip("deletion without deleted_ts"))?;
    who.check_message(prev)?;
    Ok(Deleted {
        channel,
        target,
        user: s(&prev["user"]).unwrap_or_default(),
        thread_hint: s(&e["thread_ts"]).or_else(|| s(&prev["thread_ts"])),
        at: s(&e["event_ts"]).unwrap_or(target),
    })
}

fn reacted<'a>(e: &'a Value, who: &Senders) -> Result<Reacted<'a>, Skip> {
    let item = &e["item"];
    let (Some(channel), Some(target), Some(user), Some(name)) = (
        s(&item["channel"]),
        s(&item["ts"]),
        s(&e["user"]),
        s(&e["reaction"]),
    ) else {
        return Err(Skip("reaction without channel, ts, user or name"));
    };
    if s(&item["type"]).is_some_and(|t| t != "message") {
        return Err(Skip("a reaction on something other than a message"));
    }
    who.check_user(user)?;
    Ok(Reacted {
        channel,
        target,
        user,
        name,
        event_ts: s(&e["event_ts"]).unwrap_or(target),
    })
}

/// A `block_actions` interaction.
#[derive(Debug, PartialEq)]
pub(crate) struct Pressed<'a> {
    pub channel: &'a str,
    pub message_ts: &'a str,
    pub user: &'a str,
    pub thread_hint: Option<&'a str>,
    pub actions: Vec<Action<'a>>,
}

/// One pressed button or chosen menu option.
#[derive(Debug, PartialEq)]
pub(crate) struct Action<'a> {
    pub action_id: &'a str,
    pub value: &'a str,
    pub action_ts: &'a str,
}

/// An interaction payload; only `block_actions` are relayed.
pub(crate) fn interaction<'a>(p: &'a Value, who: &Senders) -> Result<Pressed<'a>, Skip> {
    if s(&p["type"]) != Some("block_actions") {
        return Err(Skip("an interaction that is not block_actions"));
    }
    let container = &p["container"];
    let channel = s(&container["channel_id"]).or_else(|| s(&p["channel"]["id"]));
    let message_ts = s(&container["message_ts"]).or_else(|| s(&p["message"]["ts"]));
    let (Some(channel), Some(message_ts), Some(user)) = (channel, message_ts, s(&p["user"]["id"]))
    else {
        return Err(Skip("block_actions without channel, message or user"));
    };
    who.check_user(user)?;
    let actions = p["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let action_id = s(&a["action_id"])?;
            Some(Action {
                action_id,
                value: s(&a["value"])
                    .or_else(|| s(&a["selected_option"]["value"]))
                    .unwrap_or_default(),
                action_ts: s(&a["action_ts"])
                    .or_else(|| s(&p["trigger_id"]))
                    .unwrap_or(message_ts),
            })
        })
        .collect();
    Ok(Pressed {
        channel,
        message_ts,
        user,
        thread_hint: s(&container["thread_ts"]).or_else(|| s(&p["message"]["thread_ts"])),
        actions,
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

/// A stable id for one interaction payload (its `trigger_id`, else its
/// message, user and first action time), for the interaction journal.
pub(crate) fn interaction_id(p: &Value) -> String {
    if let Some(trigger) = s(&p["trigger_id"]) {
        return trigger.to_string();
    }
    let first = &p["actions"][0];
    format!(
        "{}:{}:{}:{}",
        s(&p["container"]["channel_id"]).unwrap_or_default(),
        s(&p["container"]["message_ts"]).unwrap_or_default(),
        s(&p["user"]["id"]).unwrap_or_default(),
        s(&first["action_ts"]).unwrap_or_default(),
    )
}

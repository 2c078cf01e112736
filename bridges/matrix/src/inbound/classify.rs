//! What one raw timeline event means, read without any I/O: a message (text
//! or media, with its reply and native thread), an edit, a reaction, a
//! redaction, or a member joining or leaving; or why it is skipped.
//!
//! Skipped: events that do not parse, events older than the bridge's first
//! start, the bot's own events, configured ignored users, notices, and
//! anything carrying [`RELAY_MARKER`] in its content (what every handoff
//! instance puts on what it sends, so two instances in one room never relay
//! each other). Not for thread-per-customer, media downloads or display
//! names (`inbound`). The invariant: never panics on any input; all it
//! returns is owned, validated data.

use std::collections::HashSet;

use handoff_bridge_api::{Millis, Text};
use matrix_sdk::ruma::events::room::member::MembershipChange;
use matrix_sdk::ruma::events::room::message::sanitize::remove_plain_reply_fallback;
use matrix_sdk::ruma::events::room::message::{
    MessageFormat, MessageType, OriginalSyncRoomMessageEvent, Relation,
};
use matrix_sdk::ruma::events::room::redaction::SyncRoomRedactionEvent;
use matrix_sdk::ruma::events::{
    AnySyncMessageLikeEvent, AnySyncStateEvent, AnySyncTimelineEvent, SyncMessageLikeEvent,
    SyncStateEvent,
};
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedUserId, UserId};
use serde::Deserialize;

use crate::media::{self, IncomingMedia};

/// The content field every handoff instance adds to the events it sends.
pub const RELAY_MARKER: &str = "org.handoff.relay";

/// Whose events and which events are never forwarded.
pub struct Filter<'a> {
    pub own_id: &'a UserId,
    pub ignore_users: &'a HashSet<String>,
    /// Events older than this are history.
    pub first_start: Millis,
}

impl Filter<'_> {
    fn ignores(&self, user: &UserId) -> bool {
        user == self.own_id || self.ignore_users.contains(user.as_str())
    }
}

/// A forwardable event, before threads, media and names are looked up.
#[derive(Debug)]
pub struct Classified {
    pub event_id: String,
    /// Who it is about: the sender, or for membership the member.
    pub actor: OwnedUserId,
    pub at: Millis,
    pub what: What,
}

/// What happened.
#[derive(Debug)]
pub enum What {
    /// A text (or emote) message; `thread` is its native `m.thread` root.
    Text {
        body: Text,
        reply_to: Option<String>,
        thread: Option<String>,
    },
    /// An image, file, audio or video.
    Media {
        media: IncomingMedia,
        reply_to: Option<String>,
        thread: Option<String>,
    },
    Edit {
        target: String,
        body: Text,
    },
    Reaction {
        target: String,
        key: String,
    },
    Delete {
        target: String,
    },
    Joined,
    Left,
}

/// Why an event is not forwarded (for debug logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skip(pub &'static str);

#[derive(Deserialize)]
struct MarkerProbe {
    #[serde(rename = "org.handoff.relay")]
    relay: Option<serde::de::IgnoredAny>,
}

/// True when the event's content carries [`RELAY_MARKER`].
fn is_relay(raw: &Raw<AnySyncTimelineEvent>) -> bool {
    matches!(
        raw.get_field::<MarkerProbe>("content"),
        Ok(Some(MarkerProbe { relay: Some(_) }))
    )
}

/// Classifies one event.
pub fn classify(raw: &Raw<AnySyncTimelineEvent>, filter: &Filter<'_>) -> Result<Classified, Skip> {
    let event = raw.deserialize().map_err(|e| {
        tracing::debug!(error = %e, "skipping an event we cannot parse");
        Skip("an event that does not parse")
    })?;
    let at = Millis::from(event.origin_server_ts().0);
    if at < filter.first_start {
        return Err(Skip("history from before the first start"));
    }
    if filter.ignores(event.sender()) {
        return Err(Skip("the bot itself or an ignored user"));
    }
    if is_relay(raw) {
        return Err(Skip("relayed by a handoff instance"));
    }
    let mut actor = event.sender().to_owned();
    let what = match &event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(ev),
        )) => message(ev)?,
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::Reaction(
            SyncMessageLikeEvent::Original(ev),
        )) => What::Reaction {
            target: ev.content.relates_to.event_id.to_string(),
            key: ev.content.relates_to.key.clone(),
        },
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomRedaction(
            SyncRoomRedactionEvent::Original(ev),
        )) => {
            let target = ev.content.redacts.clone().or_else(|| ev.redacts.clone());
            What::Delete {
                target: target
                    .ok_or(Skip("a redaction without a target"))?
                    .to_string(),
            }
        }
        AnySyncTimelineEvent::State(AnySyncStateEvent::RoomMember(SyncStateEvent::Original(
            ev,
        ))) => {
            let what = match ev.membership_change() {
                MembershipChange::Joined | MembershipChange::InvitationAccepted => What::Joined,
                MembershipChange::Left
                | MembershipChange::Kicked
                | MembershipChange::Banned
                | MembershipChange::KickedAndBanned => What::Left,
                _ => return Err(Skip("a membership change that is not a join or leave")),
            };
            // The member whose membership changed, not who changed it.
            actor = ev.state_key.clone();
            if filter.ignores(&actor) {
                return Err(Skip("the bot itself or an ignored user"));
            }
            what
        }
        _ => return Err(Skip("an event kind that is not forwarded")),
    };
    Ok(Classified {
        event_id: event.event_id().to_string(),
        actor,
        at,
        what,
    })
}

/// An `m.room.message`: edit, media or text, with reply and thread.
fn message(ev: &OriginalSyncRoomMessageEvent) -> Result<What, Skip> {
    let (thread, reply_to) = match &ev.content.relates_to {
        Some(Relation::Replacement(r)) => {
            if matches!(r.new_content.msgtype, MessageType::Notice(_)) {
                return Err(Skip("an edit of a notice"));
            }
            return Ok(What::Edit {
                target: r.event_id.to_string(),
                body: text_of(&r.new_content.msgtype, false),
            });
        }
        Some(Relation::Thread(t)) => {
            let reply = (!t.is_falling_back)
                .then(|| t.in_reply_to.as_ref().map(|r| r.event_id.to_string()))
                .flatten();
            (Some(t.event_id.to_string()), reply)
        }
        Some(Relation::Reply(r)) => (None, Some(r.in_reply_to.event_id.to_string())),
        _ => (None, None),
    };
    if matches!(
        ev.content.msgtype,
        MessageType::Notice(_) | MessageType::ServerNotice(_)
    ) {
        return Err(Skip("a notice"));
    }
    if let Some(media) = media::incoming(&ev.content.msgtype) {
        // A file captioned as an internal note is the note, not a file to
        // pass on: the core keeps it from the customer like any `!note`.
        if let Some(note) = media::caption(&ev.content.msgtype).filter(|c| is_note(c)) {
            return Ok(What::Text {
                body: Text::plain(format!("{note} [file: {}]", media.name)),
                reply_to,
                thread,
            });
        }
        return Ok(What::Media {
            media,
            reply_to,
            thread,
        });
    }
    let body = text_of(&ev.content.msgtype, reply_to.is_some());
    Ok(What::Text {
        body,
        reply_to,
        thread,
    })
}

/// `!note …` (the agents' internal-note command), as the core parses it.
fn is_note(caption: &str) -> bool {
    let t = caption.trim_start();
    t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("!note"))
        && t[5..].chars().next().is_none_or(char::is_whitespace)
}

/// The plain and HTML text of a message, without reply fallbacks.
pub fn text_of(msgtype: &MessageType, is_reply: bool) -> Text {
    let formatted = match msgtype {
        MessageType::Text(c) => c.formatted.as_ref(),
        MessageType::Emote(c) => c.formatted.as_ref(),
        MessageType::Notice(c) => c.formatted.as_ref(),
        _ => None,
    };
    let html = formatted
        .filter(|f| f.format == MessageFormat::Html)
        .map(|f| strip_html_reply_fallback(&f.body).to_owned());
    let plain = if is_reply {
        remove_plain_reply_fallback(msgtype.body())
    } else {
        msgtype.body()
    };
    Text {
        plain: plain.to_owned(),
        html,
    }
}

fn strip_html_reply_fallback(html: &str) -> &str {
    match html.find("</mx-reply>") {
        Some(end) if html.starts_with("<mx-reply>") => &html[end + "</mx-reply>".len()..],
        _ => html,
    }
}

//! One Matrix timeline event (already decrypted by matrix-sdk) to at most
//! one `Inbound`: messages, edits, redactions, reactions, replies,
//! attachments, joins and leaves.
//!
//! Not for deciding what to do with them (the core does). Invariant: the
//! bot's own events, ignored users, notices and events older than the
//! bridge's first start are never forwarded; `event_id` is always the
//! Matrix event id so the core can dedupe re-deliveries.

use handoff_bridge_api::{Endpoint, Inbound, InboundKind, Millis, Text, UserRef};
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
use matrix_sdk::ruma::UserId;
use matrix_sdk::Room;

use crate::media::{self, Download};
use crate::{threads, Shared, NETWORK};
use handoff_bridge_api::BridgeError;

/// Converts one event; `Ok(None)` for events the core does not need.
pub async fn convert(
    shared: &Shared,
    room: &Room,
    raw: &Raw<AnySyncTimelineEvent>,
) -> Result<Option<Inbound>, BridgeError> {
    let event = match raw.deserialize() {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(room = %room.room_id(), error = %e, "skipping an event we cannot parse");
            return Ok(None);
        }
    };
    let at = Millis::from(event.origin_server_ts().0);
    if at < shared.first_start || is_ignored(shared, event.sender()) {
        return Ok(None);
    }
    let event_id = event.event_id().to_string();
    let mut actor = event.sender().to_owned();
    let (kind, thread) = match &event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(ev),
        )) => match message(shared, room, ev).await? {
            Some(found) => found,
            None => return Ok(None),
        },
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::Reaction(
            SyncMessageLikeEvent::Original(ev),
        )) => (
            InboundKind::Reaction {
                id: event_id.clone(),
                target: ev.content.relates_to.event_id.to_string(),
                key: ev.content.relates_to.key.clone(),
            },
            threads::existing(shared, room, ev.sender.as_str()).await?,
        ),
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomRedaction(
            SyncRoomRedactionEvent::Original(ev),
        )) => {
            let Some(target) = ev.content.redacts.clone().or_else(|| ev.redacts.clone()) else {
                return Ok(None);
            };
            (
                InboundKind::Delete {
                    target: target.to_string(),
                },
                threads::existing(shared, room, ev.sender.as_str()).await?,
            )
        }
        AnySyncTimelineEvent::State(AnySyncStateEvent::RoomMember(SyncStateEvent::Original(
            ev,
        ))) => {
            let kind = match ev.membership_change() {
                MembershipChange::Joined | MembershipChange::InvitationAccepted => {
                    InboundKind::Joined
                }
                MembershipChange::Left
                | MembershipChange::Kicked
                | MembershipChange::Banned
                | MembershipChange::KickedAndBanned => InboundKind::Left,
                _ => return Ok(None),
            };
            // The member whose membership changed, not who changed it.
            actor = ev.state_key.clone();
            if is_ignored(shared, &actor) {
                return Ok(None);
            }
            (kind, None)
        }
        _ => return Ok(None),
    };
    let display_name = match room.get_member_no_sync(&actor).await {
        Ok(Some(member)) => member.display_name().map(str::to_owned),
        _ => None,
    };
    Ok(Some(Inbound {
        event_id,
        endpoint: Endpoint {
            network: NETWORK.to_owned(),
            room: room.room_id().to_string(),
            thread,
        },
        sender: UserRef {
            network: NETWORK.to_owned(),
            id: actor.to_string(),
            display_name,
            is_bot: false,
        },
        at,
        kind,
    }))
}

fn is_ignored(shared: &Shared, user: &UserId) -> bool {
    user == shared.own_id || shared.ignore_users.contains(user.as_str())
}

/// An `m.room.message`: edit, attachment or text, with its thread.
async fn message(
    shared: &Shared,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
) -> Result<Option<(InboundKind, Option<String>)>, BridgeError> {
    let sender = ev.sender.as_str();
    let id = ev.event_id.to_string();
    let (mut thread, reply_to) = match &ev.content.relates_to {
        Some(Relation::Replacement(r)) => {
            if matches!(r.new_content.msgtype, MessageType::Notice(_)) {
                return Ok(None);
            }
            let kind = InboundKind::Edit {
                target: r.event_id.to_string(),
                body: text_of(&r.new_content.msgtype, false),
            };
            return Ok(Some((kind, threads::existing(shared, room, sender).await?)));
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
        return Ok(None);
    }
    if thread.is_none() {
        thread = threads::for_top_level_message(shared, room, sender, &id).await?;
    }
    if let Some(found) = media::incoming(&ev.content.msgtype) {
        let kind = match media::download(shared, found).await? {
            Download::File(file) => InboundKind::Attachment { id, file },
            Download::TooLarge { name, size } => InboundKind::Message {
                id,
                body: Text::plain(format!(
                    "[file not forwarded: {name} is {size} bytes, over the {} byte limit]",
                    shared.cfg.max_media_bytes
                )),
                reply_to,
            },
        };
        return Ok(Some((kind, thread)));
    }
    let body = text_of(&ev.content.msgtype, reply_to.is_some());
    Ok(Some((InboundKind::Message { id, body, reply_to }, thread)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_fallbacks_are_removed() {
        let m = MessageType::text_html(
            "> <@a:x> question\n\nanswer",
            "<mx-reply><blockquote>q</blockquote></mx-reply><b>answer</b>",
        );
        let t = text_of(&m, true);
        assert_eq!(t.plain, "answer");
        assert_eq!(t.html.as_deref(), Some("<b>answer</b>"));
        let plain = text_of(&MessageType::text_plain("> not a reply"), false);
        assert_eq!(plain.plain, "> not a reply");
        assert_eq!(plain.html, None);
    }
}

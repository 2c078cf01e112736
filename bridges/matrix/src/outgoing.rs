//! Carrying out one `Action` on Matrix: send (reply, thread, relayed
//! name), edit, redact, react, upload, notify; cases are handed to `case`.
//!
//! Not for remembering completed keys (the caller records the result).
//! Invariant: every event is sent with a transaction id derived from the
//! action's key and step, so a retried action is deduplicated by the
//! homeserver even when our own record of it was lost; every event's
//! content carries the relay marker (`org.handoff.relay`), so another
//! handoff instance in the room never relays it back; every message sets
//! `m.mentions` (empty unless the action means to ping), so an `@room` or a
//! user id in relayed text pings nobody; and content over the size limit is
//! cut rather than refused by the server on every retry.

use handoff_bridge_api::{Action, Attachment, BridgeError, Delivered, Endpoint, MessageRef, Text};
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::{Annotation, InReplyTo, Reply, Thread};
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent, TextMessageEventContent,
};
use matrix_sdk::ruma::events::{Mentions, MessageLikeEventContent};
use matrix_sdk::ruma::{OwnedEventId, OwnedUserId};
use matrix_sdk::Room;

use crate::error::{from_http, from_sdk, rejected};
use crate::format::{classify_mention, sanitize_html, with_mention, with_name, Mention};
use crate::inbound::classify::RELAY_MARKER;
use crate::ledger::txn_id;
use crate::limits::{fit_content, MAX_CONTENT_BYTES};
use crate::{case, media, rooms, Shared, NETWORK};

/// Carries out `action` (idempotency key `key`).
pub async fn carry_out(
    shared: &Shared,
    key: &str,
    action: &Action,
) -> Result<Delivered, BridgeError> {
    match action {
        Action::Send {
            to,
            body,
            reply_to,
            as_name,
        } => {
            let text = match as_name {
                Some(name) => with_name(name, body),
                None => body.clone(),
            };
            let room = rooms::joined(shared, &to.room).await?;
            let reply = reply_to.as_deref().map(event_id).transpose()?;
            let content = placed(message(&text, false), to, reply)?;
            let id = send(&room, content, key, "send").await?;
            Ok(delivered_message(&room, to, id))
        }
        // Matrix has no buttons for customers: the question's text lists
        // its choices, and the customer types one.
        Action::Ask { to, body, .. } => {
            let room = rooms::joined(shared, &to.room).await?;
            let content = placed(message(body, false), to, None)?;
            let id = send(&room, content, key, "send").await?;
            Ok(delivered_message(&room, to, id))
        }
        Action::Edit { target, body } => {
            let room = rooms::joined(shared, &target.endpoint.room).await?;
            let content = message(body, false)
                .make_replacement(ReplacementMetadata::new(event_id(&target.id)?, None));
            let id = send(&room, content, key, "edit").await?;
            Ok(delivered_message(&room, &target.endpoint, id))
        }
        Action::Delete { target } => {
            let room = rooms::joined(shared, &target.endpoint.room).await?;
            room.redact(&event_id(&target.id)?, None, Some(txn_id(key, "redact")))
                .await
                .map_err(|e| from_http(&format!("redacting {}", target.id), &e))?;
            Ok(Delivered::Done)
        }
        Action::React { target, key: emoji } => {
            let room = rooms::joined(shared, &target.endpoint.room).await?;
            let content =
                ReactionEventContent::new(Annotation::new(event_id(&target.id)?, emoji.clone()));
            let id = send(&room, content, key, "react").await?;
            Ok(delivered_message(&room, &target.endpoint, id))
        }
        Action::Upload { to, file, as_name } => upload(shared, key, to, file, as_name).await,
        Action::Notify { to, body, mention } => {
            notify(shared, key, to, body, mention.as_deref()).await
        }
        // Matrix has no message for one member alone: a notice naming them.
        Action::Explain { to, user, body } => notify(shared, key, to, body, Some(user)).await,
        // Nothing is kept per case beyond small records keyed by event;
        // what is written in the old room keeps arriving for the notice.
        Action::CloseCase { .. } | Action::ReopenCase { .. } => Ok(Delivered::Done),
        Action::OpenCase { desk, summary } => case::open(shared, key, desk, summary).await,
        Action::UpdateSummary {
            summary_message,
            summary,
        } => case::update_summary(shared, key, summary_message, summary).await,
    }
}

async fn upload(
    shared: &Shared,
    key: &str,
    to: &Endpoint,
    file: &Attachment,
    as_name: &Option<String>,
) -> Result<Delivered, BridgeError> {
    let room = rooms::joined(shared, &to.room).await?;
    let thread = to.thread.as_deref().map(event_id).transpose()?;
    let caption = as_name.as_ref().map(|name| {
        let t = with_name(name, &Text::plain(file.name.clone()));
        match t.html {
            Some(html) => TextMessageEventContent::html(t.plain, html),
            None => TextMessageEventContent::plain(t.plain),
        }
    });
    let id = media::upload(&room, file, thread, caption, key).await?;
    Ok(delivered_message(&room, to, id))
}

/// A text (or notice) message with HTML when the text has it. The HTML
/// may be a customer's or agent's own: it is sanitised here, on the way
/// out, whatever path it took.
pub fn message(text: &Text, notice: bool) -> RoomMessageEventContent {
    match (text.html.as_deref().map(sanitize_html), notice) {
        (Some(html), false) => RoomMessageEventContent::text_html(&text.plain, html),
        (Some(html), true) => RoomMessageEventContent::notice_html(&text.plain, html),
        (None, false) => RoomMessageEventContent::text_plain(&text.plain),
        (None, true) => RoomMessageEventContent::notice_plain(&text.plain),
    }
}

/// Puts `content` in the endpoint's thread (with the reply fallback fields)
/// and/or makes it a reply.
fn placed(
    mut content: RoomMessageEventContent,
    to: &Endpoint,
    reply: Option<OwnedEventId>,
) -> Result<RoomMessageEventContent, BridgeError> {
    let thread = to.thread.as_deref().map(event_id).transpose()?;
    content.relates_to = match (thread, reply) {
        (Some(root), Some(reply)) => Some(Relation::Thread(Thread::reply(root, reply))),
        (Some(root), None) => Some(Relation::Thread(Thread::plain(root.clone(), root))),
        (None, Some(reply)) => Some(Relation::Reply(Reply::new(InReplyTo::new(reply)))),
        (None, None) => None,
    };
    Ok(content)
}

/// Sends a message-like event with the transaction id of (key, step),
/// marked as handoff's ([`RELAY_MARKER`]) and cut to the size limit.
pub async fn send(
    room: &Room,
    content: impl MessageLikeEventContent,
    key: &str,
    step: &str,
) -> Result<OwnedEventId, BridgeError> {
    let txn = txn_id(key, step);
    let event_type = content.event_type().to_string();
    let mut json = serde_json::to_value(&content)
        .map_err(|e| rejected(format!("encoding a {event_type} event: {e}")))?;
    if fit_content(&mut json, MAX_CONTENT_BYTES) {
        tracing::warn!(room = %room.room_id(), %event_type, limit_bytes = MAX_CONTENT_BYTES,
            "event content over Matrix's size limit; sending it cut with a marker");
    }
    if event_type == "m.room.message" {
        no_implicit_mentions(&mut json);
    }
    if let Some(obj) = json.as_object_mut() {
        obj.insert(RELAY_MARKER.to_owned(), serde_json::Value::Bool(true));
    }
    let sent = room
        .send_raw(&event_type, json)
        .with_transaction_id(&txn)
        .await
        .map_err(|e| from_sdk(&format!("sending to {}", room.room_id()), &e))?;
    Ok(sent.response.event_id)
}

/// Gives a message (and an edit's new content) an empty `m.mentions`
/// unless it already names whom to ping: clients that see no `m.mentions`
/// fall back to pinging for `@room` and names found in the body.
pub fn no_implicit_mentions(json: &mut serde_json::Value) {
    const KEY: &str = "m.mentions";
    let Some(obj) = json.as_object_mut() else {
        return;
    };
    obj.entry(KEY).or_insert_with(|| serde_json::json!({}));
    if let Some(new) = obj.get_mut("m.new_content").and_then(|n| n.as_object_mut()) {
        new.entry(KEY).or_insert_with(|| serde_json::json!({}));
    }
}

/// Parses an event id the core handed back to us.
pub fn event_id(id: &str) -> Result<OwnedEventId, BridgeError> {
    OwnedEventId::try_from(id).map_err(|e| rejected(format!("{id:?} is not an event id: {e}")))
}

/// A message ref in `room` (always by room id, even if the action named an
/// alias), keeping the thread the action addressed.
fn delivered_message(room: &Room, endpoint: &Endpoint, id: OwnedEventId) -> Delivered {
    Delivered::Message(MessageRef {
        endpoint: Endpoint {
            network: NETWORK.to_owned(),
            room: room.room_id().to_string(),
            thread: endpoint.thread.clone(),
        },
        id: id.to_string(),
    })
}

/// A notice at `to`, with `mention` (a user id, `@room`) in front.
async fn notify(
    shared: &Shared,
    key: &str,
    to: &Endpoint,
    body: &Text,
    mention: Option<&str>,
) -> Result<Delivered, BridgeError> {
    let room = rooms::joined(shared, &to.room).await?;
    let mention = mention.map(classify_mention);
    let text = match &mention {
        Some(m) => with_mention(m, body),
        None => body.clone(),
    };
    let mut content = message(&text, true);
    content.mentions = Some(match &mention {
        Some(Mention::User(id)) => match OwnedUserId::try_from(id.as_str()) {
            Ok(user) => Mentions::with_user_ids([user]),
            Err(_) => Mentions::new(),
        },
        Some(Mention::Room) => Mentions::with_room_mention(),
        _ => Mentions::new(),
    });
    let content = placed(content, to, None)?;
    let id = send(&room, content, key, "notify").await?;
    Ok(delivered_message(&room, to, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(c: &RoomMessageEventContent) -> serde_json::Value {
        let mut v = serde_json::to_value(c).expect("json");
        no_implicit_mentions(&mut v);
        v
    }

    #[test]
    fn relayed_text_pings_nobody() {
        let v = json(&message(&Text::plain("@room look @alice:x"), false));
        assert_eq!(v["m.mentions"], serde_json::json!({}), "{v}");
    }

    #[test]
    fn an_edit_pings_nobody_either() {
        let id = event_id("$orig:x").expect("id");
        let c = message(&Text::plain("@room again"), false)
            .make_replacement(ReplacementMetadata::new(id, None));
        let v = json(&c);
        assert_eq!(v["m.mentions"], serde_json::json!({}), "{v}");
        assert_eq!(
            v["m.new_content"]["m.mentions"],
            serde_json::json!({}),
            "{v}"
        );
    }

    /// An edit carrying a customer's HTML is sanitised too.
    #[test]
    fn an_edit_carries_no_script() {
        let id = event_id("$orig:x").expect("id");
        let text = Text {
            plain: "hi".into(),
            html: Some("hi<script>steal()</script><img src=x onerror=y()>".into()),
        };
        let v = json(&message(&text, false).make_replacement(ReplacementMetadata::new(id, None)));
        let s = v.to_string();
        assert!(!s.contains("script") && !s.contains("onerror"), "{s}");
        assert_eq!(v["m.new_content"]["formatted_body"], "hi", "{v}");
    }

    #[test]
    fn a_meant_mention_is_kept() {
        let mut c = message(&Text::plain("ping"), true);
        c.mentions = Some(Mentions::with_room_mention());
        let v = json(&c);
        assert_eq!(v["m.mentions"]["room"], serde_json::json!(true), "{v}");
    }
}

//! The widget's WebSocket protocol: JSON text frames, `{"type": ...}`.
//!
//! The client opens with `hello` (its token, the last `seq` it saw, and
//! optionally a signed identity); the server answers `welcome`, replays
//! the `entry` frames after that `seq`, then `synced`, and from then on
//! pushes new entries live. Client messages carry a client-made `id`;
//! the server answers `ack` once the message is durably taken (also for a
//! repeat of an id it already took, which it does not take again).

use handoff_bridge_api::{Choice, Millis};
use serde::{Deserialize, Serialize};

/// A frame from the widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame of every connection.
    Hello {
        /// The session token from an earlier `welcome`; none for a new visitor.
        #[serde(default)]
        token: Option<String>,
        /// The last `seq` this client saw; entries after it are replayed.
        #[serde(default)]
        last_seen: Option<u64>,
        /// A logged-in user, signed by the site's backend.
        #[serde(default)]
        user: Option<ClaimedUser>,
    },
    /// The visitor wrote `text`; `id` is the client's id for it.
    Message { id: String, text: String },
    /// The visitor changed their message `target` (an entry's message id).
    Edit {
        id: String,
        target: String,
        text: String,
    },
    /// The visitor deleted their message `target`.
    Delete { id: String, target: String },
    /// The visitor reacted with `key` (an emoji) to message `target`.
    React {
        id: String,
        target: String,
        key: String,
    },
}

/// An identity the site's backend vouches for (see `identity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimedUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `hex(HMAC-SHA256(identity_secret, id))`.
    pub hash: String,
}

/// A frame to the widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The session this connection belongs to. `token` is the one to keep
    /// (a new one when the client's was unknown or expired: `fresh`).
    Welcome {
        token: String,
        session: String,
        expires_at: Millis,
        fresh: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// One event of the conversation (replayed or live).
    Entry(Entry),
    /// The replay is complete; entries after this are live.
    Synced { last_seq: u64 },
    /// The client's frame `id` is taken (durably).
    Ack { id: String },
    /// Someone of the team is (`on`) or no longer is writing a reply.
    /// Passing: not in the history, not replayed.
    Typing { on: bool },
    /// Something the client sent was refused. `id` names the frame, if it
    /// had one; `retry_after_ms` says when to try again (rate limits).
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not valid JSON or not a known frame.
    BadFrame,
    /// The first frame was not `hello`, or none came in time.
    NoHello,
    /// The identity hash does not verify.
    Identity,
    /// The text is longer than `max_message_chars`.
    TooLarge,
    /// Too many messages; wait `retry_after_ms`.
    RateLimited,
    /// The server could not keep the message (storage failed); resend.
    Unavailable,
}

/// One event in a session's history, numbered by `seq` (from 1, never
/// reused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub at: Millis,
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Visitor,
    /// A person of the team (relayed under their name).
    Agent,
    /// The bot itself.
    Bot,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// A message; `id` is what edits and deletes name.
    Message {
        id: String,
        from: Author,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        text: String,
        /// Likely answers to offer as buttons (a question of the bot's);
        /// pressing one sends its `reply` as the visitor's message.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        choices: Vec<Choice>,
    },
    /// Message `target` now reads `text`.
    Edit { target: String, text: String },
    /// Message `target` was deleted.
    Delete { target: String },
    /// A notice from the bot that is not part of the conversation proper.
    Notice { text: String },
}

/// The id of a visitor's message, from the client's id for it.
pub fn visitor_message_id(client_id: &str) -> String {
    format!("v-{client_id}")
}

/// Whether a client-made id is acceptable: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_their_documented_shape() {
        let e = ServerFrame::Entry(Entry {
            seq: 3,
            at: 5,
            kind: EntryKind::Message {
                id: "b-3".into(),
                from: Author::Agent,
                name: Some("Alice".into()),
                text: "<b>hi</b>".into(),
                choices: Vec::new(),
            },
        });
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "entry");
        assert_eq!(v["kind"], "message");
        assert_eq!(v["from"], "agent");
        assert_eq!(v["text"], "<b>hi</b>");
        let back: ServerFrame = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        let hello: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","token":"t","last_seen":4}"#).unwrap();
        assert!(matches!(
            hello,
            ClientFrame::Hello {
                last_seen: Some(4),
                ..
            }
        ));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"hello","x":1}"#).is_err());
    }

    #[test]
    fn client_ids_are_short_and_plain() {
        assert!(valid_client_id("a1_B-2"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("a/b"));
        assert!(!valid_client_id(&"x".repeat(65)));
    }
}

//! The contract between handoff's core and every chat network.
//!
//! A bridge is one chat network (Matrix, Slack, ...). It turns network events
//! into [`Inbound`] values addressed by opaque [`Endpoint`]s and carries out
//! [`Outgoing`] actions. The core never sees a network SDK type; a bridge never
//! sees the case state machine. Ids inside `Endpoint` and [`MessageRef`] are
//! minted and parsed only by the bridge that owns the network.
//!
//! Invariant: every [`Outgoing`] carries an idempotency key that is stable
//! across restarts, so a bridge can make a retried action a no-op.

pub mod backoff;
mod base64_bytes;
pub mod card;
pub mod settings;

use std::fmt;

pub use card::{Button, CardField, CardState, CardTurn, CaseStatus, CaseSummary};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// Where messages go: a room or channel, optionally a thread inside it.
///
/// `network` names the bridge ("matrix", "slack"); `room` and `thread` are
/// opaque to everyone but that bridge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl Endpoint {
    pub fn new(network: impl Into<String>, room: impl Into<String>) -> Self {
        Endpoint {
            network: network.into(),
            room: room.into(),
            thread: None,
        }
    }

    pub fn in_thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = Some(thread.into());
        self
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.thread {
            Some(t) => write!(f, "{}:{}/{}", self.network, self.room, t),
            None => write!(f, "{}:{}", self.network, self.room),
        }
    }
}

/// One message on one network: the endpoint it lives in and its network id
/// (a Matrix event id, a Slack `ts`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageRef {
    pub endpoint: Endpoint,
    pub id: String,
}

/// A person (or bot) on a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub network: String,
    /// Network user id (`@alice:example.org`, `U024BE7LH`).
    pub id: String,
    /// Human-readable name, when the network told us one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// True when the network marks this sender as a bot or app.
    #[serde(default)]
    pub is_bot: bool,
    /// What the network says about the person's place in the bot's own
    /// workspace, for the core's agent rule (Unchecked where the network
    /// has no such notion, as on Matrix).
    #[serde(default, skip_serializing_if = "Standing::is_unchecked")]
    pub standing: Standing,
}

/// A person's place in the workspace the bot belongs to, as the bridge
/// found it. The core decides who is an agent; the bridge only reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Standing {
    /// The network has no such notion, or the bridge did not look.
    #[default]
    Unchecked,
    /// A full member of the bot's workspace; `groups` are the watched
    /// groups (Slack user groups, by id and `@handle`) they belong to.
    Member {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<String>,
    },
    /// A guest of the workspace (Slack: restricted or ultra-restricted).
    Guest,
    /// From another organisation (Slack Connect).
    External,
    /// The network could not say (a failed lookup).
    Unknown,
}

impl Standing {
    pub fn is_unchecked(&self) -> bool {
        *self == Standing::Unchecked
    }
}

impl UserRef {
    /// The display name, or the id when there is none.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }
}

/// Message text: always a plain form; optionally HTML (Matrix
/// `formatted_body`) the receiving bridge may convert to its own markup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub plain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl Text {
    pub fn plain(s: impl Into<String>) -> Self {
        Text {
            plain: s.into(),
            html: None,
        }
    }
}

/// A file or image carried across networks. The source bridge downloads it;
/// the target bridge uploads it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub mime: String,
    /// Base64 in JSON (the old array of numbers is still read).
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// Something that happened on a network, addressed to the core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    /// Network-unique id of this event, used to process it at most once.
    pub event_id: String,
    /// Where it happened.
    pub endpoint: Endpoint,
    /// Who did it.
    pub sender: UserRef,
    /// When the network says it happened.
    pub at: Millis,
    pub kind: InboundKind,
    /// The bridge knows `endpoint` as a place customers talk: a configured
    /// customer room, a direct chat a customer invited the bot to, or a
    /// customer's thread in one. Only there does an event that is on no
    /// desk count as a customer's; anywhere else it is staff chatter,
    /// never answered (roles come from configuration, never from "not a
    /// desk right now").
    #[serde(default)]
    pub customer_endpoint: bool,
    /// `endpoint` is end-to-end encrypted on its network (an encrypted
    /// Matrix room): a case opened for its customer asks for a desk that
    /// is encrypted too ([`DeskTarget::PrivateRoom`]'s `encrypted`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// What kind of thing happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundKind {
    /// A new message. `id` is its network message id.
    Message {
        id: String,
        body: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The sender changed an earlier message `target`.
    Edit { target: String, body: Text },
    /// The message `target` was deleted or redacted.
    Delete { target: String },
    /// A reaction `key` (an emoji) on message `target`; `id` is the reaction's own id.
    Reaction {
        id: String,
        target: String,
        key: String,
    },
    /// A file or image.
    Attachment { id: String, file: Attachment },
    /// The sender joined the endpoint.
    Joined,
    /// The sender left the endpoint.
    Left,
    /// The sender pressed a button the bot posted (Slack Block Kit).
    /// `action` is the button's action id, `value` its value.
    Button { action: String, value: String },
    /// The sender started (`on`) or stopped typing at the endpoint. A
    /// passing signal: never stored, never acknowledged twice, lost
    /// without harm.
    Typing { on: bool },
}

/// Where a team's cases are opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskTarget {
    /// A new private room per case, with `invite` invited; end-to-end
    /// encrypted when `encrypted` (the customer's own endpoint is), where
    /// the network can encrypt.
    PrivateRoom {
        invite: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        encrypted: bool,
    },
    /// A thread per case in an existing room or channel.
    Thread { room: String },
}

/// An action for a bridge to carry out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Stable across restarts: a retried action with the same key must not
    /// be carried out twice.
    pub key: String,
    pub action: Action,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Post a message. `as_name` asks the bridge to show it as said by that
    /// person (a relayed agent or customer) where the network allows.
    Send {
        to: Endpoint,
        body: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_name: Option<String>,
    },
    /// Replace the text of an earlier message the bot sent.
    Edit { target: MessageRef, body: Text },
    /// Delete (redact) a message the bot sent.
    Delete { target: MessageRef },
    /// React to a message.
    React { target: MessageRef, key: String },
    /// Upload a file.
    Upload {
        to: Endpoint,
        file: Attachment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        as_name: Option<String>,
    },
    /// Open a case on a desk: create the private room or the thread, post the
    /// summary first and pin it.
    OpenCase {
        desk: DeskTarget,
        summary: CaseSummary,
    },
    /// Replace the pinned summary in place.
    UpdateSummary {
        summary_message: MessageRef,
        summary: CaseSummary,
    },
    /// Tell the members of a case something that is not part of the relay
    /// (a ping when the SLA is missed); `mention` is the network's mention
    /// text (`@here`, a user id) to prepend.
    Notify {
        to: Endpoint,
        body: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mention: Option<String>,
    },
    /// The case on `desk` is over there (resolved, or moved to another
    /// desk): the bridge may forget what it keeps to follow it (threads it
    /// catches up). What people still write there keeps arriving, so the
    /// core can answer it with a notice.
    CloseCase { desk: Endpoint },
    /// The case on `desk` is open there again after a [`Action::CloseCase`]
    /// (the customer came back soon after it was resolved): the bridge
    /// follows it again as when it was opened.
    ReopenCase { desk: Endpoint },
    /// Ask the customer at `to` something with a few likely answers
    /// (a rating, "did you mean …?"): where the network has buttons for
    /// customers they show `choices`, and pressing one sends its `reply`
    /// as the customer's message; elsewhere `body` alone is sent, so it
    /// must read well on its own (numbered choices in the text).
    Ask {
        to: Endpoint,
        body: Text,
        choices: Vec<Choice>,
    },
    /// Tell one person at `to` something only they need (why what they
    /// wrote goes nowhere): Slack shows it to them alone (ephemeral);
    /// elsewhere a notice addressed to them.
    Explain {
        to: Endpoint,
        user: String,
        body: Text,
    },
}

/// One offered answer of an [`Action::Ask`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What the button says.
    pub label: String,
    /// What pressing it sends as the customer's message (the same text
    /// they could type: "5", "2", "person").
    pub reply: String,
}

/// What a bridge did, so the core can store the new ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delivered {
    /// A message now exists with this ref.
    Message(MessageRef),
    /// A case was opened: where its conversation happens, and the pinned
    /// summary message.
    CaseOpened {
        endpoint: Endpoint,
        summary: MessageRef,
    },
    /// Done; nothing new to remember.
    Done,
}

/// What a network can do. The core asks before it plans an action a network
/// lacks, and a bridge answers [`BridgeError::Unsupported`] if asked anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub edit: bool,
    pub delete: bool,
    pub react: bool,
    pub upload: bool,
    pub threads: bool,
    pub private_rooms: bool,
    pub pins: bool,
    /// People can press buttons the bot posts: a summary card's actions
    /// on a desk (Slack), an [`Action::Ask`]'s choices for customers (the
    /// web widget).
    pub buttons: bool,
    /// The bridge shows someone typing at an endpoint ([`Bridge::typing`])
    /// and reports people typing ([`InboundKind::Typing`]).
    #[serde(default)]
    pub typing: bool,
    /// Customers write here: a message on this network that is on no
    /// desk (current or former) is a customer's. Without it, such a
    /// message is staff chatter and is never answered.
    pub customers: bool,
}

/// Why a bridge could not carry out an action.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The network has no such capability.
    #[error("{network} does not support {what}")]
    Unsupported { network: String, what: String },
    /// The network asked us to slow down; retry after the given delay.
    #[error("rate limited by {network}; retry after {retry_after_ms} ms")]
    RateLimited {
        network: String,
        retry_after_ms: u64,
    },
    /// A passing failure (connection refused, 5xx, timeout): retry with backoff.
    #[error("{network} is unavailable: {detail}")]
    Unavailable { network: String, detail: String },
    /// The network refused the action for good (unknown room, no permission):
    /// retrying will not help.
    #[error("{network} refused: {detail}")]
    Rejected { network: String, detail: String },
    /// Credentials are wrong or revoked.
    #[error("{network} authentication failed: {detail}")]
    Auth { network: String, detail: String },
}

impl BridgeError {
    /// True when the same action may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BridgeError::RateLimited { .. } | BridgeError::Unavailable { .. }
        )
    }
}

/// Small durable state a bridge keeps between runs (sync tokens, thread
/// roots, last seen timestamps), backed by the core's store. Keys are the
/// bridge's own; values are opaque bytes. `put` is durable when it returns.
pub trait BridgeState: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Like `put`, readable at once, but made durable only by the next
    /// durable write of any record (or, if none came for a second, by this
    /// one). For records whose loss in a crash costs idempotent work again,
    /// never data: a sync token (the core dedupes what is offered again),
    /// the result of a send the network itself deduplicates. Saves an
    /// fsync per call on the relay path. Defaults to `put`.
    fn put_lazy(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.put(key, value)
    }
    /// Removes a record (durably); removing a missing one is fine. Bridges
    /// prune with it: a delivery record once the core stored the delivery
    /// ([`Bridge::forget`]), a case's records once it closed.
    fn delete(&self, key: &str) -> Result<(), String>;
}

/// A [`BridgeState`] in memory, for tests and tools: it also keeps every
/// write in order with whether it was durable (`put`) or lazy
/// (`put_lazy`), and [`MemoryState::clear`] simulates losing the state.
#[derive(Debug, Default)]
pub struct MemoryState {
    values: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    writes: std::sync::Mutex<Vec<(String, bool)>>,
}

impl MemoryState {
    /// Forgets every value (the write log stays).
    pub fn clear(&self) {
        lock(&self.values).clear();
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        lock(&self.values).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every write so far: (key, durable).
    pub fn writes(&self) -> Vec<(String, bool)> {
        lock(&self.writes).clone()
    }

    fn write(&self, key: &str, value: &[u8], durable: bool) {
        lock(&self.writes).push((key.to_owned(), durable));
        lock(&self.values).insert(key.to_owned(), value.to_vec());
    }
}

/// A test double's lock, usable even after a panicking test poisoned it.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BridgeState for MemoryState {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(lock(&self.values).get(key).cloned())
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.write(key, value, true);
        Ok(())
    }
    fn put_lazy(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.write(key, value, false);
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        lock(&self.values).remove(key);
        Ok(())
    }
}

/// One inbound event on its way to the core, with the promise to say when
/// the core is done with it.
#[derive(Debug)]
pub struct Incoming {
    pub event: Inbound,
    /// Fire once the event is handled; `None` when the bridge did not ask.
    pub ack: Option<Ack>,
}

/// The core's word that an inbound event is handled: its effects (or the
/// decision to ignore it) are durably stored. Dropping an `Ack` without
/// calling [`Ack::handled`] means the event was *not* handled (the store
/// failed, the core is stopping): the bridge must offer it again.
#[derive(Debug)]
pub struct Ack(tokio::sync::oneshot::Sender<()>);

impl Ack {
    /// The event is handled; the bridge may forget it.
    pub fn handled(self) {
        let _ = self.0.send(());
    }
}

/// What a bridge waits on to learn whether the core handled an event.
#[derive(Debug)]
pub struct Handled(tokio::sync::oneshot::Receiver<()>);

impl Handled {
    /// True once the core handled the event; false if it never will (the
    /// [`Ack`] was dropped).
    pub async fn wait(self) -> bool {
        self.0.await.is_ok()
    }
}

/// The core stopped listening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the core stopped listening for inbound events")]
pub struct Closed;

/// Where a bridge delivers what happened on its network.
///
/// A bridge that keeps its own position on the network (a sync token, a
/// last seen timestamp) moves it only past events the core acknowledged
/// ([`InboundSender::send_tracked`]); that closes the window in which a
/// crash between "handed over" and "stored" would lose them.
#[derive(Clone, Debug)]
pub struct InboundSender(tokio::sync::mpsc::Sender<Incoming>);

impl InboundSender {
    /// Hands `event` over without waiting to learn whether it was handled.
    pub async fn send(&self, event: Inbound) -> Result<(), Closed> {
        self.0
            .send(Incoming { event, ack: None })
            .await
            .map_err(|_| Closed)
    }

    /// Hands `event` over; the returned [`Handled`] resolves once the core
    /// stored it (or decided to ignore it).
    pub async fn send_tracked(&self, event: Inbound) -> Result<Handled, Closed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .send(Incoming {
                event,
                ack: Some(Ack(tx)),
            })
            .await
            .map_err(|_| Closed)?;
        Ok(Handled(rx))
    }

    /// Resolves when the core stopped listening.
    pub async fn closed(&self) {
        self.0.closed().await
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The core's end of an inbound channel.
#[derive(Debug)]
pub struct InboundReceiver(tokio::sync::mpsc::Receiver<Incoming>);

impl InboundReceiver {
    /// The next event with its acknowledgement, for a core that stores.
    pub async fn recv_tracked(&mut self) -> Option<Incoming> {
        self.0.recv().await
    }

    /// The next event, acknowledged as handled on receipt (tests, tools).
    pub async fn recv(&mut self) -> Option<Inbound> {
        let Incoming { event, ack } = self.0.recv().await?;
        if let Some(ack) = ack {
            ack.handled();
        }
        Some(event)
    }
}

/// A bounded channel from bridges to the core.
pub fn inbound_channel(capacity: usize) -> (InboundSender, InboundReceiver) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (InboundSender(tx), InboundReceiver(rx))
}

/// One chat network.
///
/// `run` connects and forwards events until the connection is closed for
/// good; `send` carries out one action. Both may be called concurrently.
#[async_trait::async_trait]
pub trait Bridge: Send + Sync {
    /// The network name used in [`Endpoint::network`].
    fn network(&self) -> &str;

    /// What this network can do.
    fn capabilities(&self) -> Capabilities;

    /// Connect and forward inbound events until shut down.
    async fn run(&self, inbound: InboundSender) -> Result<(), BridgeError>;

    /// Carry out one action. Must be idempotent per [`Outgoing::key`].
    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError>;

    /// Show (`on`) or stop showing that the bot's side is typing at `to`
    /// (an agent is writing the customer a reply). Passing and best effort:
    /// never queued or retried. Networks without it do nothing.
    async fn typing(&self, _to: &Endpoint, _on: bool) -> Result<(), BridgeError> {
        Ok(())
    }

    /// True while the bridge is connected (for readiness probes).
    fn is_connected(&self) -> bool {
        true
    }

    /// The core has durably stored the delivery of `key` and will never
    /// send it again: the bridge may drop what it kept to make a repeat of
    /// `key` harmless. Best effort (a failure only keeps a record).
    fn forget(&self, _key: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Inbound {
        Inbound {
            event_id: id.into(),
            endpoint: Endpoint::new("matrix", "!r:x"),
            sender: UserRef {
                network: "matrix".into(),
                id: "@c:x".into(),
                display_name: None,
                is_bot: false,
                standing: Default::default(),
            },
            at: 0,
            kind: InboundKind::Message {
                id: id.into(),
                body: Text::plain("hi"),
                reply_to: None,
            },
            customer_endpoint: true,
            encrypted: false,
        }
    }

    #[tokio::test]
    async fn acks_say_whether_the_core_handled_an_event() {
        let (tx, mut rx) = inbound_channel(4);
        let first = tx.send_tracked(event("$1")).await.unwrap();
        let second = tx.send_tracked(event("$2")).await.unwrap();
        let a = rx.recv_tracked().await.unwrap();
        assert_eq!(a.event.event_id, "$1");
        a.ack.unwrap().handled();
        assert!(first.wait().await);
        // Dropped unacknowledged: not handled, offer it again.
        drop(rx.recv_tracked().await.unwrap());
        assert!(!second.wait().await);
        // Plain `recv` acknowledges on receipt.
        let third = tx.send_tracked(event("$3")).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().event_id, "$3");
        assert!(third.wait().await);
        drop(rx);
        assert_eq!(tx.send(event("$4")).await, Err(Closed));
        assert!(tx.is_closed());
    }

    #[test]
    fn endpoint_display_shows_thread() {
        let e = Endpoint::new("slack", "C1").in_thread("123.456");
        assert_eq!(e.to_string(), "slack:C1/123.456");
        assert_eq!(Endpoint::new("matrix", "!r:x").to_string(), "matrix:!r:x");
    }

    #[test]
    fn retryable_errors() {
        let n = || "slack".to_string();
        assert!(BridgeError::RateLimited {
            network: n(),
            retry_after_ms: 1
        }
        .is_retryable());
        assert!(!BridgeError::Unsupported {
            network: n(),
            what: "edit".into()
        }
        .is_retryable());
        assert!(!BridgeError::Rejected {
            network: n(),
            detail: "channel_not_found".into()
        }
        .is_retryable());
    }

    #[test]
    fn inbound_round_trips_through_json() {
        let ev = Inbound {
            event_id: "$e".into(),
            endpoint: Endpoint::new("matrix", "!r:x"),
            sender: UserRef {
                network: "matrix".into(),
                id: "@a:x".into(),
                display_name: Some("Alice".into()),
                is_bot: false,
                standing: Default::default(),
            },
            at: 1,
            kind: InboundKind::Message {
                id: "$e".into(),
                body: Text::plain("hi"),
                reply_to: None,
            },
            customer_endpoint: true,
            encrypted: false,
        };
        let s = serde_json::to_string(&ev).unwrap();
        let back: Inbound = serde_json::from_str(&s).unwrap();
        assert_eq!(ev, back);
    }
}

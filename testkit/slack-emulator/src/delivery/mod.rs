//! The outbox: wraps events in Slack's `event_callback` envelope, sends
//! them and interactions through Socket Mode or the Events API, and keeps a
//! log of every delivery attempt for tests.
//!
//! Not for deciding which events a change causes (`state::ops`). The
//! invariant: an event keeps one `event_id` across all its redeliveries;
//! each attempt is one `DeliveryRecord`.

pub mod http;
pub mod socket;

use crate::config::{Delivery as DeliveryMode, EmulatorConfig};
use crate::emulator::Inner;
use crate::ts::now_secs;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// An `event_callback` (Events API) / `events_api` envelope.
    Event,
    /// A `block_actions` payload.
    Interaction,
}

/// How one delivery attempt ended (so far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Sent, waiting for an ack or answer.
    Pending,
    /// Waiting for a Socket Mode connection to send it on.
    Queued,
    /// Acknowledged over Socket Mode.
    Acked,
    /// Not acknowledged in time; redelivered if retries remain.
    TimedOut,
    /// The HTTP receiver answered with this status.
    Status(u16),
    /// The HTTP receiver could not be reached.
    ConnectionFailed,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub kind: DeliveryKind,
    /// The `event_id` (events only).
    pub event_id: Option<String>,
    /// The Socket Mode `envelope_id` (Socket Mode only).
    pub envelope_id: Option<String>,
    /// 0 for the first attempt, then 1, 2, …
    pub attempt: u32,
    pub outcome: DeliveryOutcome,
    /// The `event_callback` or interaction payload.
    pub payload: Value,
}

impl DeliveryRecord {
    /// The inner event's `type` (`message`, `reaction_added`, …) or the
    /// interaction's `type` (`block_actions`).
    pub fn event_type(&self) -> Option<&str> {
        match self.kind {
            DeliveryKind::Event => self.payload["event"]["type"].as_str(),
            DeliveryKind::Interaction => self.payload["type"].as_str(),
        }
    }
}

/// Sends events and keeps the delivery log.
pub struct Outbox {
    pub socket: socket::SocketHub,
    log: Mutex<Vec<DeliveryRecord>>,
}

impl Outbox {
    pub fn new(_config: &EmulatorConfig) -> Outbox {
        Outbox {
            socket: socket::SocketHub::default(),
            log: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<DeliveryRecord>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.lock().clone()
    }

    /// Adds a record and returns its index.
    pub fn record(&self, record: DeliveryRecord) -> usize {
        let mut log = self.lock();
        log.push(record);
        log.len() - 1
    }

    pub fn update(&self, index: usize, f: impl FnOnce(&mut DeliveryRecord)) {
        if let Some(record) = self.lock().get_mut(index) {
            f(record);
        }
    }
}

/// Wraps each event in an `event_callback` and sends it.
pub(crate) fn emit_events(inner: &Arc<Inner>, events: Vec<Value>) {
    for event in events {
        emit_event(inner, event);
    }
}

/// Wraps one event in an `event_callback`, sends it, and returns its
/// `event_id`.
pub(crate) fn emit_event(inner: &Arc<Inner>, event: Value) -> String {
    let callback = {
        let mut ws = inner.workspace();
        let event_id = ws.mint_id("Ev");
        let context = format!("4-{}", ws.mint_uuid());
        json!({
            "token": "emulatorverificationtoken",
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": null,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now_secs(),
            "authorizations": [{
                "enterprise_id": null,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
            "event_context": context,
        })
    };
    let event_id = callback["event_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    send(inner, DeliveryKind::Event, callback, 0);
    event_id
}

/// Sends a `block_actions` (or other interaction) payload.
pub(crate) fn emit_interaction(inner: &Arc<Inner>, payload: Value) {
    send(inner, DeliveryKind::Interaction, payload, 0);
}

/// Delivers an event already delivered once again, as retry `attempt`
/// (a new envelope id over Socket Mode; `X-Slack-Retry-Num` over HTTP).
pub(crate) fn redeliver(inner: &Arc<Inner>, payload: Value, attempt: u32) {
    send(inner, DeliveryKind::Event, payload, attempt);
}

fn send(inner: &Arc<Inner>, kind: DeliveryKind, payload: Value, attempt: u32) {
    match &inner.config.delivery {
        DeliveryMode::SocketMode => socket::send(inner, kind, payload, attempt),
        DeliveryMode::EventsApi { .. } => {
            let task_inner = inner.clone();
            inner
                .runtime
                .spawn(async move { http::deliver(task_inner, kind, payload, attempt).await });
        }
    }
    inner.bump();
}

//! Socket Mode: tickets minted by `apps.connections.open`, the websocket
//! endpoint, `hello`/`disconnect` messages, envelopes, acks and
//! redelivery of unacknowledged envelopes.
//!
//! Not for HTTP delivery (`http`). The invariant: each envelope goes to
//! exactly one open connection (round robin); an envelope not acked within
//! the ack timeout is redelivered with a new `envelope_id`, the same
//! payload (same `event_id`) and `retry_attempt` + 1, while retries remain.

use super::{DeliveryKind, DeliveryOutcome, DeliveryRecord};
use crate::emulator::Inner;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, warn};

enum Command {
    Text(String),
    Disconnect(String),
    Drop,
}

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<Command>,
}

struct Queued {
    kind: DeliveryKind,
    payload: Value,
    attempt: u32,
}

struct InFlight {
    kind: DeliveryKind,
    payload: Value,
    attempt: u32,
    record: usize,
}

#[derive(Default)]
struct HubState {
    conns: Vec<Conn>,
    next_conn: u64,
    round_robin: usize,
    tickets: HashSet<String>,
    waiting: VecDeque<(Queued, usize)>,
    in_flight: HashMap<String, InFlight>,
    refuse_until: Option<Instant>,
}

/// The Socket Mode side of the outbox.
#[derive(Default)]
pub struct SocketHub {
    state: Mutex<HubState>,
}

impl SocketHub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a one-time ticket for the websocket URL.
    pub fn add_ticket(&self, ticket: String) {
        self.lock().tickets.insert(ticket);
    }

    pub fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    pub fn drop_all(&self) {
        for conn in self.lock().conns.drain(..) {
            let _ = conn.tx.send(Command::Drop);
        }
    }

    pub fn disconnect_all(&self, reason: &str) {
        for conn in self.lock().conns.drain(..) {
            let _ = conn.tx.send(Command::Disconnect(reason.to_string()));
        }
    }

    pub fn refuse_for(&self, how_long: Duration) {
        self.lock().refuse_until = Some(Instant::now() + how_long);
    }

    /// Sends `text` as-is on every open connection; returns how many.
    pub fn send_raw_frame(&self, text: &str) -> usize {
        let state = self.lock();
        for conn in &state.conns {
            let _ = conn.tx.send(Command::Text(text.to_string()));
        }
        state.conns.len()
    }

    fn remove_conn(&self, id: u64) {
        self.lock().conns.retain(|c| c.id != id);
    }

    /// Marks an envelope acknowledged; false if it was unknown or late.
    fn ack(&self, inner: &Inner, envelope_id: &str) -> bool {
        let found = self.lock().in_flight.remove(envelope_id);
        match found {
            Some(flight) => {
                inner
                    .outbox
                    .update(flight.record, |r| r.outcome = DeliveryOutcome::Acked);
                inner.bump();
                true
            }
            None => false,
        }
    }
}

fn envelope(kind: DeliveryKind, envelope_id: &str, payload: &Value, attempt: u32) -> Value {
    match kind {
        DeliveryKind::Event => json!({
            "envelope_id": envelope_id,
            "payload": payload,
            "type": "events_api",
            "accepts_response_payload": false,
            "retry_attempt": attempt,
            "retry_reason": if attempt == 0 { "" } else { "timeout" },
        }),
        DeliveryKind::Interaction => json!({
            "envelope_id": envelope_id,
            "payload": payload,
            "type": "interactive",
            "accepts_response_payload": false,
        }),
    }
}

/// Sends (or queues until a connection opens) one envelope.
pub(crate) fn send(inner: &Arc<Inner>, kind: DeliveryKind, payload: Value, attempt: u32) {
    let hub = &inner.outbox.socket;
    let mut state = hub.lock();
    let queued = Queued {
        kind,
        payload,
        attempt,
    };
    if state.conns.is_empty() || !state.waiting.is_empty() {
        let record = inner.outbox.record(DeliveryRecord {
            kind,
            event_id: queued.payload["event_id"].as_str().map(str::to_string),
            envelope_id: None,
            attempt,
            outcome: DeliveryOutcome::Queued,
            payload: queued.payload.clone(),
        });
        state.waiting.push_back((queued, record));
        if !state.conns.is_empty() {
            drain_locked(inner, &mut state);
        }
        return;
    }
    dispatch_locked(inner, &mut state, queued, None);
}

/// Sends every queued envelope, oldest first, while a connection is open.
fn drain_locked(inner: &Arc<Inner>, state: &mut HubState) {
    while !state.conns.is_empty() {
        let Some((queued, record)) = state.waiting.pop_front() else {
            break;
        };
        dispatch_locked(inner, state, queued, Some(record));
    }
}

/// Puts one envelope on a connection (round robin) and arms its ack timer.
/// The caller holds the hub lock and has checked there is a connection.
fn dispatch_locked(
    inner: &Arc<Inner>,
    state: &mut HubState,
    queued: Queued,
    record: Option<usize>,
) {
    let Queued {
        kind,
        payload,
        attempt,
    } = queued;
    let envelope_id = crate::ids::uuid();
    state.round_robin = state.round_robin.wrapping_add(1);
    let index = state.round_robin % state.conns.len();
    let text = envelope(kind, &envelope_id, &payload, attempt).to_string();
    let record = match record {
        Some(index) => {
            let id = envelope_id.clone();
            inner.outbox.update(index, |r| {
                r.envelope_id = Some(id);
                r.outcome = DeliveryOutcome::Pending;
            });
            index
        }
        None => inner.outbox.record(DeliveryRecord {
            kind,
            event_id: payload["event_id"].as_str().map(str::to_string),
            envelope_id: Some(envelope_id.clone()),
            attempt,
            outcome: DeliveryOutcome::Pending,
            payload: payload.clone(),
        }),
    };
    let _ = state.conns[index].tx.send(Command::Text(text));
    state.in_flight.insert(
        envelope_id.clone(),
        InFlight {
            kind,
            payload,
            attempt,
            record,
        },
    );
    let task_inner = inner.clone();
    inner.runtime.spawn(async move {
        let timeout = task_inner.config.socket_ack_timeout;
        if task_inner.sleep(timeout).await {
            redeliver_if_unacked(task_inner, envelope_id).await;
        }
    });
}

async fn redeliver_if_unacked(inner: Arc<Inner>, envelope_id: String) {
    let Some(flight) = inner.outbox.socket.lock().in_flight.remove(&envelope_id) else {
        return;
    };
    inner
        .outbox
        .update(flight.record, |r| r.outcome = DeliveryOutcome::TimedOut);
    inner.bump();
    // Slack does not retry interactions: the user sees an error instead.
    if flight.kind == DeliveryKind::Interaction {
        return;
    }
    let delays = &inner.config.retry_delays;
    let Some(delay) = delays.get(flight.attempt as usize).copied() else {
        warn!(%envelope_id, "socket mode envelope never acknowledged; giving up");
        return;
    };
    if inner.sleep(delay).await {
        send(&inner, flight.kind, flight.payload, flight.attempt + 1);
    }
}

/// `GET /link/?ticket=…`: the Socket Mode websocket.
pub(crate) async fn upgrade(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    {
        let mut state = inner.outbox.socket.lock();
        if state.refuse_until.is_some_and(|t| Instant::now() < t) {
            return (StatusCode::SERVICE_UNAVAILABLE, "refusing connections").into_response();
        }
        let ticket = query.get("ticket").map(String::as_str).unwrap_or("");
        if !state.tickets.remove(ticket) {
            return (StatusCode::UNAUTHORIZED, "invalid or used ticket").into_response();
        }
    }
    ws.on_upgrade(move |socket| run_connection(inner, socket))
}

async fn run_connection(inner: Arc<Inner>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let count = inner.outbox.socket.connection_count() + 1;
    let hello = json!({
        "type": "hello",
        "num_connections": count,
        "debug_info": {
            "host": "applink-emulator",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": inner.config.app_id},
    });
    // `hello` goes out before the connection can be handed any envelope.
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let id = {
        let mut state = inner.outbox.socket.lock();
        state.next_conn += 1;
        let id = state.next_conn;
        state.conns.push(Conn { id, tx });
        drain_locked(&inner, &mut state);
        id
    };
    inner.bump();
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Command::Disconnect(reason)) => {
                    let message = json!({
                        "type": "disconnect",
                        "reason": reason,
                        "debug_info": {"host": "applink-emulator"},
                    });
                    let _ = socket.send(Message::Text(message.to_string().into())).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                Some(Command::Drop) | None => break,
            },
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => on_client_text(&inner, text.as_str()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    inner.outbox.socket.remove_conn(id);
    inner.bump();
    debug!(connection = id, "socket mode connection closed");
}

fn on_client_text(inner: &Inner, text: &str) {
    let envelope_id = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["envelope_id"].as_str().map(str::to_string));
    match envelope_id {
        Some(id) => {
            if !inner.outbox.socket.ack(inner, &id) {
                debug!(envelope_id = %id, "ack for an unknown or expired envelope");
            }
        }
        None => warn!("socket mode client sent a frame without envelope_id"),
    }
}

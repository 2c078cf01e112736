//! The router: turns bridge events into state-machine events, one ordered
//! worker per conversation, and carries out effects through the durable
//! outbox.
//!
//! Flow for one inbound event: dedupe by event id → find its conversation
//! (a case desk → agent event; otherwise the customer's conversation) →
//! that conversation's worker steps the machine and commits state, case,
//! outbox entries and the event id in one transaction → the conversation's
//! delivery task sends the entries in order, retrying what may succeed
//! later. Different conversations run in parallel; within one, nothing
//! overtakes anything.

mod delivery;
pub mod resolve;
#[cfg(test)]
mod tests;
mod worker;
pub mod world;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoff_bridge_api::{Ack, Bridge, Inbound, InboundKind, MessageRef, Millis};
use tokio::sync::{mpsc, watch};

use crate::case::{ConversationKey, Customer};
use crate::conversation::{AgentEvent, CustomerEvent, Engine, Event};
use crate::store::{Store, StoreError};

pub use worker::Job;

/// Where time comes from (a fixed clock in tests).
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The system clock.
pub struct SystemClock;

/// The system clock moved by a fixed offset (tests and demos of business
/// hours: see `HANDOFF_FAKE_NOW`).
pub struct ShiftedClock {
    pub offset: Millis,
}

impl Clock for ShiftedClock {
    fn now(&self) -> Millis {
        SystemClock.now() + self.offset
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

/// What every worker shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub bridges: HashMap<String, Arc<dyn Bridge>>,
    pub clock: Arc<dyn Clock>,
    pub retry: RetryPolicy,
}

/// An inbound event's conversation, what it means there, and (for customer
/// events) who the customer is.
type Classified = (ConversationKey, Event, Option<Customer>);

/// Routes events to per-conversation workers.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
    workers: Arc<Mutex<HashMap<ConversationKey, mpsc::UnboundedSender<Job>>>>,
    /// The first failure that must stop the daemon (see [`Router::failures`]).
    failure: Arc<watch::Sender<Option<String>>>,
}

impl Router {
    pub fn new(shared: Shared) -> Router {
        Router {
            shared: Arc::new(shared),
            workers: Arc::new(Mutex::new(HashMap::new())),
            failure: Arc::new(watch::channel(None).0),
        }
    }

    /// Watches for a failure the daemon must stop on (a store write, or
    /// credentials a network refused): it stops on the first one rather
    /// than carry on while work goes unrecorded or undelivered (the bridges
    /// offer unacknowledged events again after the restart; the outbox
    /// keeps what was not sent).
    pub fn failures(&self) -> watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }

    /// Reports a failure that left an event unrecorded or a delivery
    /// undone.
    fn fail(&self, e: &dyn std::fmt::Display) {
        tracing::error!(error = %e, "stopping so that nothing is lost");
        self.failure.send_if_modified(|f| {
            let first = f.is_none();
            if first {
                *f = Some(e.to_string());
            }
            first
        });
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Re-queues outbox entries left from a previous run, per conversation.
    pub fn drain_outbox(&self) -> Result<usize, crate::store::StoreError> {
        let pending = self.shared.store.outbox_pending()?;
        let n = pending.len();
        let mut by_conv: HashMap<ConversationKey, Vec<(u64, crate::case::OutboxEntry)>> =
            HashMap::new();
        for (seq, e) in pending {
            by_conv
                .entry(e.conversation.clone())
                .or_default()
                .push((seq, e));
        }
        for (key, entries) in by_conv {
            self.send(key, Job::Deliver(entries));
        }
        Ok(n)
    }

    /// Sends a timer tick to every conversation with an open case.
    pub fn tick_open_cases(&self) {
        match self.shared.store.open_cases() {
            Ok(cases) => {
                let now = self.shared.clock.now();
                let snapshot = Arc::new(world::Snapshot::read(
                    self.shared.store.as_ref(),
                    &cases,
                    now,
                ));
                for c in cases {
                    self.send(c.conversation.clone(), Job::Tick(snapshot.clone()));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list open cases for timers"),
        }
    }

    /// Handles one event from a bridge.
    pub fn dispatch(&self, ev: Inbound) {
        self.dispatch_tracked(ev, None)
    }

    /// Handles one event and fires `ack` once it is handled: its effects
    /// committed, or it is known to need none (seen before, from a bot, in
    /// no conversation). On a store failure `ack` is dropped unfired, so the
    /// bridge offers the event again.
    pub fn dispatch_tracked(&self, ev: Inbound, ack: Option<Ack>) {
        let _span =
            tracing::info_span!("inbound", event = %ev.event_id, at = %ev.endpoint).entered();
        let handled = |ack: Option<Ack>| {
            if let Some(a) = ack {
                a.handled()
            }
        };
        match self.shared.store.is_seen(&ev.event_id) {
            Ok(true) => {
                tracing::debug!("already handled; skipped");
                return handled(ack);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot check whether the event was handled");
                return self.fail(&e);
            }
        }
        if ev.sender.is_bot {
            return handled(ack);
        }
        match self.classify(&ev) {
            Ok(Some((key, event, customer))) => self.send(
                key,
                Job::Inbound {
                    id: ev.event_id,
                    event: Box::new(event),
                    customer: customer.map(Box::new),
                    ack,
                },
            ),
            Ok(None) => {
                tracing::debug!("not part of any conversation; ignored");
                handled(ack)
            }
            Err(e) => self.fail(&e),
        }
    }

    /// Which conversation an event belongs to, and what it means there.
    fn classify(&self, ev: &Inbound) -> Result<Option<Classified>, StoreError> {
        let store = &self.shared.store;
        let desk_case = store.case_by_desk(&ev.endpoint)?;
        let msg = |id: &str| MessageRef {
            endpoint: ev.endpoint.clone(),
            id: id.to_string(),
        };
        if let Some(case_id) = desk_case {
            let Some(case) = store.case(case_id)? else {
                return Ok(None);
            };
            let event = match &ev.kind {
                InboundKind::Message { id, body, reply_to } => AgentEvent::Message {
                    msg: msg(id),
                    text: body.clone(),
                    reply_to: reply_to.as_deref().map(msg),
                },
                InboundKind::Edit { target, body } => AgentEvent::Edit {
                    target: msg(target),
                    text: body.clone(),
                },
                InboundKind::Delete { target } => AgentEvent::Delete {
                    target: msg(target),
                },
                InboundKind::Reaction { id, target, key } => AgentEvent::Reaction {
                    reaction: msg(id),
                    target: msg(target),
                    key: key.clone(),
                },
                InboundKind::Attachment { id, file } => AgentEvent::File {
                    msg: msg(id),
                    file: file.clone(),
                },
                InboundKind::Button { action, value } => AgentEvent::Button {
                    action: action.clone(),
                    value: value.clone(),
                },
                InboundKind::Joined => {
                    let agents = self
                        .shared
                        .engine
                        .config
                        .team(&case.team)
                        .map(|t| t.agents.clone())
                        .unwrap_or_default();
                    if !agents.is_empty() && !agents.contains(&ev.sender.id) {
                        tracing::warn!(user = %ev.sender.id, case = case.id, "a user who is not an agent of the team joined the case room; their messages are ignored");
                    }
                    return Ok(None);
                }
                InboundKind::Left => return Ok(None),
            };
            return Ok(Some((
                case.conversation,
                Event::Agent {
                    agent: ev.sender.clone(),
                    event,
                },
                None,
            )));
        }
        let customer = Customer {
            user: ev.sender.clone(),
            endpoint: ev.endpoint.clone(),
        };
        let key = ConversationKey::new(&customer.endpoint, &customer.user);
        let event = match &ev.kind {
            InboundKind::Message { id, body, reply_to } => CustomerEvent::Message {
                msg: msg(id),
                text: body.clone(),
                reply_to: reply_to.as_deref().map(msg),
            },
            InboundKind::Edit { target, body } => CustomerEvent::Edit {
                target: msg(target),
                text: body.clone(),
            },
            InboundKind::Delete { target } => CustomerEvent::Delete {
                target: msg(target),
            },
            InboundKind::Reaction { id, target, key } => CustomerEvent::Reaction {
                reaction: msg(id),
                target: msg(target),
                key: key.clone(),
            },
            InboundKind::Attachment { id, file } => CustomerEvent::File {
                msg: msg(id),
                file: file.clone(),
            },
            InboundKind::Left => CustomerEvent::Left,
            InboundKind::Joined | InboundKind::Button { .. } => return Ok(None),
        };
        // Customers live on networks that have customer rooms; a message in
        // a desk channel that is not a case thread is staff chatter.
        if !self.is_customer_network(&ev.endpoint.network) {
            return Ok(None);
        }
        Ok(Some((key, Event::Customer(event), Some(customer))))
    }

    fn is_customer_network(&self, network: &str) -> bool {
        network == "matrix"
    }

    /// Sends a job to the conversation's worker, starting it if needed.
    pub fn send(&self, key: ConversationKey, job: Job) {
        let mut job = job;
        for _ in 0..2 {
            let tx = {
                let Ok(mut workers) = self.workers.lock() else {
                    tracing::error!("worker table poisoned");
                    return;
                };
                match workers.get(&key) {
                    Some(tx) if !tx.is_closed() => tx.clone(),
                    _ => {
                        let tx = worker::spawn(self.clone(), key.clone());
                        workers.insert(key.clone(), tx.clone());
                        tx
                    }
                }
            };
            match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(j)) => job = j,
            }
        }
        tracing::error!(conversation = %key, "could not start a worker for the conversation");
    }

    /// Forgets a worker that stopped (idle).
    fn forget(&self, key: &ConversationKey) {
        if let Ok(mut workers) = self.workers.lock() {
            if workers.get(key).is_some_and(|tx| tx.is_closed()) {
                workers.remove(key);
            }
        }
    }
}

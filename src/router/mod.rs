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
//!
//! Timer ticks wake only the conversations a tick can change: the router
//! keeps each conversation's [`TickWatch`] (its timers and told queue
//! place, as of its last committed state, published by its worker) and
//! sends [`Job::Tick`] only where a timer ran out or the queue moved
//! enough. A conversation it knows nothing about yet (after a start) is
//! read once from the store, without starting its worker. Invariant: a
//! published watch is never older than a state-changing job already
//! handed to the worker (sending such a job drops the watch; the worker
//! publishes only when its queue is empty), so no due tick is skipped.
//! The open cases themselves (ids, teams, queue) are read from the store
//! again only after a worker wrote a case, since workers are their only
//! writers; an idle daemon's tick costs no store reads.

mod classify;
mod delivery;
pub mod resolve;
pub mod roles;
#[cfg(test)]
mod tests;
mod ticks;
mod typing;
mod worker;
pub mod world;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoff_bridge_api::{Ack, Bridge, Inbound, Millis};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::case::ConversationKey;
use crate::conversation::Engine;
use crate::store::Store;

use classify::Classified;
use ticks::{OpenList, Watch};

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

/// Routes events to per-conversation workers.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
    workers: Arc<Mutex<HashMap<ConversationKey, mpsc::Sender<Job>>>>,
    /// Per conversation, what its next tick depends on (module docs).
    watches: Arc<Mutex<HashMap<ConversationKey, Watch>>>,
    /// Timer ticks handed to workers since the start.
    ticks_sent: Arc<AtomicU64>,
    /// Commits that wrote a case (counted after the write).
    case_writes: Arc<AtomicU64>,
    /// The open cases of the last read, reused while no case was written.
    open: Arc<Mutex<Option<OpenList>>>,
    /// The first failure that must stop the daemon (see [`Router::failures`]).
    failure: Arc<watch::Sender<Option<String>>>,
    /// Outbox entries held in delivery lanes' memory: now, and the most
    /// since the start (see [`Router::deliveries_queued`]).
    queued: Arc<(AtomicU64, AtomicU64)>,
}

impl Router {
    pub fn new(shared: Shared) -> Router {
        Router {
            shared: Arc::new(shared),
            workers: Arc::new(Mutex::new(HashMap::new())),
            watches: Arc::new(Mutex::new(HashMap::new())),
            ticks_sent: Arc::new(AtomicU64::new(0)),
            case_writes: Arc::new(AtomicU64::new(0)),
            open: Arc::new(Mutex::new(None)),
            failure: Arc::new(watch::channel(None).0),
            queued: Arc::new((AtomicU64::new(0), AtomicU64::new(0))),
        }
    }

    /// Outbox entries held in delivery lanes' memory now, and the most at
    /// once since the start. Each lane holds at most
    /// `LANE_QUEUE` (in `delivery.rs`); the rest wait only in the outbox.
    pub fn deliveries_queued(&self) -> (u64, u64) {
        (
            self.queued.0.load(Ordering::Relaxed),
            self.queued.1.load(Ordering::Relaxed),
        )
    }

    /// Counts entries entering (`1`) or leaving (`-1`) a lane's memory.
    fn delivery_queued(&self, change: i8) {
        if change > 0 {
            let now = self.queued.0.fetch_add(1, Ordering::Relaxed) + 1;
            self.queued.1.fetch_max(now, Ordering::Relaxed);
        } else {
            self.queued.0.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Timer ticks handed to conversation workers since the start (each
    /// one wakes a worker that loads its conversation).
    pub fn ticks_sent(&self) -> u64 {
        self.ticks_sent.load(Ordering::Relaxed)
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
    pub async fn drain_outbox(&self) -> Result<usize, crate::store::StoreError> {
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
            self.send(key, Job::Deliver(entries)).await;
        }
        Ok(n)
    }

    /// Handles one event from a bridge.
    pub async fn dispatch(&self, ev: Inbound) {
        self.dispatch_tracked(ev, None).await
    }

    /// Handles one event and fires `ack` once it is handled: its effects
    /// committed, or it is known to need none (seen before, from a bot, in
    /// no conversation). On a store failure `ack` is dropped unfired, so the
    /// bridge offers the event again.
    ///
    /// Waits while the conversation's worker is [`worker::JOB_QUEUE`] jobs
    /// behind: back-pressure that slows the intake (and so the bridges'
    /// reading) instead of growing memory without bound.
    pub async fn dispatch_tracked(&self, ev: Inbound, ack: Option<Ack>) {
        let span = tracing::info_span!("inbound", event = %ev.event_id, at = %ev.endpoint);
        let job = {
            let _span = span.enter();
            self.classify_job(ev, ack)
        };
        if let Some((key, job)) = job {
            self.send(key, job).instrument(span).await;
        }
    }

    /// What becomes of one inbound event: a job for a conversation, or
    /// nothing (handled here: seen before, from a bot, in no conversation,
    /// or the store failed).
    fn classify_job(&self, ev: Inbound, ack: Option<Ack>) -> Option<(ConversationKey, Job)> {
        let handled = |ack: Option<Ack>| {
            if let Some(a) = ack {
                a.handled()
            }
        };
        match self.shared.store.is_seen(&ev.event_id) {
            Ok(true) => {
                tracing::debug!("already handled; skipped");
                handled(ack);
                return None;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot check whether the event was handled");
                self.fail(&e);
                return None;
            }
        }
        if ev.sender.is_bot {
            handled(ack);
            return None;
        }
        if let handoff_bridge_api::InboundKind::Typing { on } = ev.kind {
            self.typing(&ev, on);
            handled(ack);
            return None;
        }
        match self.classify(&ev) {
            Ok(Some(Classified::Event(key, event, customer))) => Some((
                key,
                Job::Inbound {
                    id: ev.event_id,
                    event,
                    customer,
                    ack,
                },
            )),
            Ok(Some(Classified::Notice {
                conversation,
                case,
                at,
                notice,
            })) => Some((
                conversation,
                Job::Notice {
                    id: ev.event_id,
                    case,
                    at: Box::new(at),
                    text: notice,
                    ack,
                },
            )),
            Ok(None) => {
                tracing::debug!("not part of any conversation; ignored");
                handled(ack);
                None
            }
            Err(e) => {
                self.fail(&e);
                None
            }
        }
    }

    /// The job queue of `key`'s worker, started if needed.
    fn worker(&self, key: &ConversationKey) -> Option<mpsc::Sender<Job>> {
        let Ok(mut workers) = self.workers.lock() else {
            tracing::error!("worker table poisoned");
            return None;
        };
        Some(match workers.get(key) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let tx = worker::spawn(self.clone(), key.clone());
                workers.insert(key.clone(), tx.clone());
                tx
            }
        })
    }

    /// Sends a job to the conversation's worker, starting it if needed;
    /// waits while its queue is full.
    pub async fn send(&self, key: ConversationKey, job: Job) {
        let changes_state = matches!(
            job,
            Job::Inbound { .. } | Job::Opened { .. } | Job::Hold { .. }
        );
        for _ in 0..2 {
            let Some(tx) = self.worker(&key) else {
                return;
            };
            let Ok(permit) = tx.reserve().await else {
                continue; // the worker stopped meanwhile: start a new one
            };
            // A state-changing job is queued and the watch dropped under
            // the watch table's lock: the worker publishes (under the same
            // lock, when its queue is empty) either before both or after
            // both, never in between (module docs).
            let watches = changes_state.then(|| self.watches.lock().ok()).flatten();
            permit.send(job);
            if let Some(mut w) = watches {
                w.remove(&key);
            }
            return;
        }
        tracing::error!(conversation = %key, "could not start a worker for the conversation");
    }

    /// Writes a privacy erasure (`crate::privacy`) while the workers of
    /// the conversations it touches hold still with no cached state, so
    /// nothing they held is written back over it; they reload from the
    /// store afterwards.
    pub async fn erase(
        &self,
        plan: &crate::privacy::Plan,
    ) -> Result<crate::store::Erased, crate::store::StoreError> {
        if plan.is_empty() {
            return Ok(Default::default());
        }
        let mut releases = Vec::with_capacity(plan.hold.len());
        for key in &plan.hold {
            let (held_tx, held) = tokio::sync::oneshot::channel();
            let (release, release_rx) = tokio::sync::oneshot::channel::<()>();
            self.send(
                key.clone(),
                Job::Hold {
                    held: held_tx,
                    release: release_rx,
                },
            )
            .await;
            // A worker that stopped meanwhile holds nothing either.
            let _ = held.await;
            releases.push(release);
        }
        let done = crate::privacy::apply(self.shared.store.as_ref(), plan);
        drop(releases);
        done
    }

    /// One retention run (`[privacy] keep`): erases what expired by now.
    pub async fn expire(
        &self,
        keep: Duration,
    ) -> Result<crate::privacy::Expired, crate::store::StoreError> {
        let now = self.shared.clock.now();
        let keep_ms = Millis::try_from(keep.as_millis()).unwrap_or(Millis::MAX);
        let plan = crate::privacy::plan_expiry(self.shared.store.as_ref(), keep_ms, now)?;
        self.erase(&plan).await?;
        Ok(crate::privacy::expired(&plan))
    }

    /// Queues a job only if the worker has room; false if it is behind.
    /// For timer ticks: a worker that is behind is ticked again on a later
    /// round, since its watch is only refreshed once it catches up.
    fn offer(&self, key: ConversationKey, job: Job) -> bool {
        let Some(tx) = self.worker(&key) else {
            return false;
        };
        match tx.try_send(job) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!(conversation = %key, "worker behind; tick skipped this round");
                false
            }
            Err(mpsc::error::TrySendError::Closed(job)) => match self.worker(&key) {
                Some(tx) => tx.try_send(job).is_ok(),
                None => false,
            },
        }
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

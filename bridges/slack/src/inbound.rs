//! The inbound worker: raw Slack payloads (from Socket Mode or the Events
//! API) and catch-up requests go through one bounded queue, in arrival
//! order, are translated to [`Inbound`] values and handed to the core; a
//! second task (the acker) waits, in the same order, until the core
//! stored them and only then tells the transport it may acknowledge.
//!
//! Not for the translation rules (`translate`) or catch-up reads
//! (`catchup`). The invariants: a payload is reported stored only after
//! the core committed everything it carries (or decided to ignore it), so
//! Slack acknowledgements never run ahead of the store; a human reply is
//! marked relayed in the durable thread progress only after the core
//! stored it, and never in a thread whose catch-up read failed (so a live
//! reply cannot move progress past replies still missed); a failed
//! catch-up is retried with backoff, never skipped; button presses, which
//! Slack never redelivers, are journaled durably before they are handed
//! over and replayed after a restart until the core stored them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handoff_bridge_api::{BridgeError, Handled, InboundSender};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::bridge::Inner;
use crate::{catchup, translate};

/// Catch-up requests this soon after the last one are dropped.
const CATCH_UP_COALESCE: Duration = Duration::from_secs(2);
/// Payloads waiting for translation; transports wait (back-pressure) when
/// it is full, so Slack sees slower acks, never lost events.
pub(crate) const QUEUE: usize = 64;
/// Handed-over payloads waiting for the core's commit.
const IN_FLIGHT: usize = 256;

/// Test-only hook (see docs/reliability.md, the Slack crash test): when
/// this environment variable is `1`, the worker translates (and journals)
/// every payload but never hands it to the core and never reports it
/// stored, so the process can be killed at a known point between Slack's
/// delivery and the core's commit. Never set it in production.
pub const TEST_HOLD_ENV: &str = "HANDOFF_TEST_SLACK_HOLD_INBOUND";

/// What the transports enqueue.
#[derive(Debug)]
pub(crate) enum Raw {
    /// An `event_callback` payload.
    Event(Value),
    /// An interaction payload (`block_actions`).
    Interaction(Value),
    /// (Re)connected: read what was missed.
    CatchUp,
    /// A retry after a failed catch-up read or an event the core did not
    /// store (never coalesced away).
    Retry,
}

/// One queued payload and where to report whether it was stored.
#[derive(Debug)]
pub(crate) struct Job {
    pub raw: Raw,
    /// `true` once the core stored what the payload carries (the transport
    /// may acknowledge); `false` or dropped when it did not.
    pub stored: Option<oneshot::Sender<bool>>,
}

/// Hands `raw` to the worker (waiting while the queue is full) and
/// returns the receiver saying whether it was stored.
pub(crate) async fn submit(
    queue: &mpsc::Sender<Job>,
    raw: Raw,
) -> Result<oneshot::Receiver<bool>, BridgeError> {
    let (tx, rx) = oneshot::channel();
    queue
        .send(Job {
            raw,
            stored: Some(tx),
        })
        .await
        .map_err(|_| BridgeError::Unavailable {
            network: crate::NETWORK.into(),
            detail: "the inbound worker stopped".into(),
        })?;
    Ok(rx)
}

/// A human reply to mark relayed once it was handed over.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mark {
    pub channel: String,
    pub root: String,
    pub event_id: String,
    pub ts: String,
}

/// One Inbound to hand over, and what to remember after.
#[derive(Debug)]
pub(crate) struct Emit {
    pub inbound: handoff_bridge_api::Inbound,
    pub mark: Option<Mark>,
}

/// A case thread as `(channel, root ts)`.
pub(crate) type Thread = (String, String);

/// What the acker waits for and does after, for one payload.
#[derive(Default)]
struct Pending {
    handled: Vec<Handled>,
    /// Event ids handed over for this payload.
    ids: Vec<String>,
    /// Event ids this payload carried that were already in flight (handed
    /// over for an earlier payload): it is stored only if they were.
    repeats: Vec<String>,
    marks: Vec<Mark>,
    /// Threads a catch-up read completely: their progress may move again.
    read: Vec<Thread>,
    /// Journaled interactions to forget once stored.
    journaled: Vec<String>,
    stored: Option<oneshot::Sender<bool>>,
}

/// Event ids handed to the core whose commit the acker has not seen yet:
/// a redelivery or catch-up of one of them is not handed over twice.
#[derive(Default)]
struct InFlight(Mutex<HashSet<String>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ids of events the core did not store in this run (bounded).
const FAILED_IDS: usize = 4096;

/// Threads whose last catch-up read failed; their progress stays put
/// until a retry reads them.
#[derive(Default)]
struct Unread(Mutex<HashSet<Thread>>);

impl Unread {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Thread>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs until every sender of `rx` is gone or the core stops listening.
/// `queue` (weak) lets the worker schedule its own catch-up retries.
pub(crate) async fn run_worker(
    inner: Arc<Inner>,
    mut rx: mpsc::Receiver<Job>,
    queue: mpsc::WeakSender<Job>,
    tx: InboundSender,
) {
    let hold = std::env::var(TEST_HOLD_ENV).is_ok_and(|v| v == "1");
    if hold {
        warn!(
            env = TEST_HOLD_ENV,
            "TEST HOOK: Slack events are never handed to the core"
        );
    }
    let unread = Arc::new(Unread::default());
    let in_flight = Arc::new(InFlight::default());
    let (ack_tx, ack_rx) = mpsc::channel::<Pending>(IN_FLIGHT);
    let acker = tokio::spawn(run_acker(
        inner.clone(),
        ack_rx,
        unread.clone(),
        in_flight.clone(),
        queue.clone(),
    ));
    let mut last_catch_up: Option<Instant> = None;
    let mut backoff = catch_up_backoff();
    while let Some(Job { raw, stored }) = rx.recv().await {
        let mut pending = Pending {
            stored,
            ..Pending::default()
        };
        let result = match &raw {
            Raw::Event(payload) => translate::event(&inner, payload).await,
            Raw::Interaction(payload) => match journal(&inner, payload).await {
                Ok(id) => {
                    pending.journaled.push(id);
                    translate::interaction(&inner, payload).await
                }
                Err(e) => Err(e),
            },
            // Each socket says hello: one read-back covers them all.
            Raw::CatchUp if last_catch_up.is_some_and(|t| t.elapsed() < CATCH_UP_COALESCE) => {
                continue
            }
            Raw::CatchUp | Raw::Retry => {
                last_catch_up = Some(Instant::now());
                match catch_up(&inner, &unread).await {
                    Ok(found) => {
                        pending.read = found.read;
                        pending.journaled = found.journaled;
                        if found.complete {
                            backoff = catch_up_backoff();
                        } else {
                            retry_later(&queue, next_delay(&mut backoff));
                        }
                        Ok(found.emits)
                    }
                    Err(e) => {
                        retry_later(&queue, next_delay(&mut backoff));
                        Err(e)
                    }
                }
            }
        };
        let emits = match result {
            Ok(emits) => emits,
            Err(e) => {
                // Not acknowledged: Slack delivers it again.
                warn!(error = %e, "could not translate a Slack payload; not acknowledged");
                continue;
            }
        };
        if hold {
            for emit in &emits {
                info!(event_id = %emit.inbound.event_id, "TEST HOOK: holding a Slack event");
            }
            continue;
        }
        for emit in emits {
            let id = emit.inbound.event_id.clone();
            if !in_flight.lock().insert(id.clone()) {
                debug!(event_id = %id, "already handed over; waiting for that commit");
                pending.repeats.push(id);
                continue;
            }
            debug!(event_id = %id, "relaying slack event");
            let Ok(handled) = tx.send_tracked(emit.inbound).await else {
                debug!("the core stopped listening; inbound worker ends");
                return;
            };
            pending.handled.push(handled);
            pending.ids.push(id);
            pending.marks.extend(emit.mark);
        }
        if ack_tx.send(pending).await.is_err() {
            return;
        }
    }
    drop(ack_tx);
    let _ = acker.await;
}

/// Waits, in hand-over order, until the core stored each payload; then
/// moves thread progress, forgets journaled presses and tells the
/// transport. A payload the core did not store is not acknowledged (Slack
/// delivers it again), its threads keep their progress until a catch-up
/// reads them again, and that catch-up is requested.
async fn run_acker(
    inner: Arc<Inner>,
    mut rx: mpsc::Receiver<Pending>,
    unread: Arc<Unread>,
    in_flight: Arc<InFlight>,
    queue: mpsc::WeakSender<Job>,
) {
    let mut failed_ids: HashSet<String> = HashSet::new();
    while let Some(p) = rx.recv().await {
        let mut all = true;
        for handled in p.handled {
            all &= handled.wait().await;
        }
        all &= !p.repeats.iter().any(|id| failed_ids.contains(id));
        {
            let mut flying = in_flight.lock();
            for id in &p.ids {
                flying.remove(id);
            }
        }
        if !all {
            warn!(
                events = p.ids.len(),
                "the core did not store a Slack payload; not acknowledged, offered again"
            );
            if failed_ids.len() > FAILED_IDS {
                failed_ids.clear();
            }
            failed_ids.extend(p.ids);
            unread
                .lock()
                .extend(p.marks.iter().map(|m| (m.channel.clone(), m.root.clone())));
            retry_later(&queue, CATCH_UP_COALESCE);
            // Dropping `stored` tells the transport not to acknowledge.
            continue;
        }
        {
            let mut unread = unread.lock();
            for t in &p.read {
                unread.remove(t);
            }
        }
        for mark in &p.marks {
            let blocked = unread
                .lock()
                .contains(&(mark.channel.clone(), mark.root.clone()));
            if blocked {
                debug!(channel = %mark.channel, root = %mark.root, "thread not read back yet; progress kept");
                continue;
            }
            if let Err(e) = remember(&inner, mark) {
                warn!(error = %e, "could not record relay progress");
            }
        }
        for id in &p.journaled {
            if let Err(e) = inner.store.journal_remove(id).await {
                warn!(error = %e, "could not drop a stored button press from the journal");
            }
        }
        if let Some(stored) = p.stored {
            let _ = stored.send(true);
        }
    }
}

/// Records an interaction durably before it is handed over (Slack never
/// redelivers one); returns its journal id.
async fn journal(inner: &Inner, payload: &Value) -> Result<String, BridgeError> {
    let id = crate::parse::interaction_id(payload);
    inner.store.journal_add(&id, payload).await?;
    Ok(id)
}

/// What one catch-up found.
struct Found {
    emits: Vec<Emit>,
    /// Threads read completely.
    read: Vec<Thread>,
    /// Journal ids replayed.
    journaled: Vec<String>,
    /// Whether nothing failed.
    complete: bool,
}

/// Journaled interactions first (presses handed over before a crash but
/// never stored), then every missed reply.
async fn catch_up(inner: &Inner, unread: &Unread) -> Result<Found, BridgeError> {
    let mut emits = Vec::new();
    let mut journaled = Vec::new();
    for (id, payload) in inner.store.journal()? {
        debug!(id, "replaying a journaled button press");
        emits.append(&mut translate::interaction(inner, &payload).await?);
        journaled.push(id);
    }
    let missed = catchup::missed(inner).await?;
    unread.lock().extend(missed.failed.iter().cloned());
    emits.extend(missed.emits);
    Ok(Found {
        emits,
        read: missed.read,
        journaled,
        complete: missed.failed.is_empty(),
    })
}

/// Retries of a failed catch-up: exponential from the coalescing window,
/// capped at a minute, jittered.
fn catch_up_backoff() -> backon::ExponentialBackoff {
    handoff_bridge_api::backoff::delays(CATCH_UP_COALESCE, Duration::from_secs(60))
}

fn next_delay(backoff: &mut backon::ExponentialBackoff) -> Duration {
    backoff.next().unwrap_or(Duration::from_secs(60))
}

/// Asks the worker for a catch-up after `delay`.
fn retry_later(queue: &mpsc::WeakSender<Job>, delay: Duration) {
    debug!(?delay, "catch-up requested");
    let queue = queue.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Some(queue) = queue.upgrade() {
            let _ = queue
                .send(Job {
                    raw: Raw::Retry,
                    stored: None,
                })
                .await;
        }
    });
}

fn remember(inner: &Inner, mark: &Mark) -> Result<(), BridgeError> {
    let mut progress = inner.store.progress(&mark.channel, &mark.root)?;
    progress.mark(&mark.event_id, &mark.ts);
    inner
        .store
        .save_progress(&mark.channel, &mark.root, &progress)
}

//! One conversation's delivery: sends its outbox entries in order per
//! destination, waiting and retrying (the shared capped exponential
//! backoff with jitter, `handoff_bridge_api::backoff`, or the network's
//! own `retry_after`) while a failure may pass,
//! so nothing is lost or reordered while other conversations go on.
//!
//! Two lanes per conversation: what goes to the customer and what goes to
//! the case desk. Order matters only within a destination, so a slow or
//! failing network on one side never holds up the other (an agent's reply
//! waiting out a homeserver outage does not delay the customer's next
//! message in the agents' thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::{BridgeError, Delivered};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::resolve::{resolve, After, Resolved};
use super::{Job, Router};
use crate::case::{CaseDesk, ConversationKey, OutboxEntry};
use crate::conversation::{Effect, Side};

/// Entries a lane holds in memory. Past it the lane is *spilled*: new
/// entries stay only in the outbox (where they already are) and the lane
/// reads them back, this many at a time, once it has caught up. Far above
/// what a conversation sends while its network is healthy, so only a long
/// outage with a chatty conversation ever spills.
pub const LANE_QUEUE: usize = 256;

type Item = (u64, Box<OutboxEntry>);

/// One destination's queue: its sender and whether entries were left in
/// the outbox because the queue was full.
struct Lane {
    tx: mpsc::Sender<Item>,
    spilled: Arc<AtomicBool>,
}

/// A conversation's deliveries: hands each committed entry to its
/// destination's lane, keeping sequence order within each lane, with at
/// most [`LANE_QUEUE`] entries per lane in memory. A lane (a task and a
/// queue) is only started once something goes that way: timer ticks wake
/// every open case, most of them with nothing to send. Lanes end once the
/// worker is gone and they have drained.
pub(super) struct Deliveries {
    router: Router,
    key: ConversationKey,
    jobs: mpsc::WeakSender<Job>,
    span: tracing::Span,
    lanes: [Option<Lane>; 2],
}

impl Deliveries {
    pub(super) fn new(
        router: Router,
        key: ConversationKey,
        jobs: mpsc::WeakSender<Job>,
        span: tracing::Span,
    ) -> Deliveries {
        Deliveries {
            router,
            key,
            jobs,
            span,
            lanes: [None, None],
        }
    }

    /// Queues entry `seq`, already committed to the outbox. Never waits:
    /// a full lane leaves it in the outbox for the lane to read back.
    pub(super) fn push(&mut self, seq: u64, entry: OutboxEntry) {
        let side = side_of(&entry.effect);
        let i = match side {
            Side::Customer => 0,
            Side::Desk => 1,
        };
        let lane = self.lanes[i].get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(LANE_QUEUE);
            let spilled = Arc::new(AtomicBool::new(false));
            tokio::spawn(
                lane(
                    self.router.clone(),
                    self.key.clone(),
                    side,
                    rx,
                    spilled.clone(),
                    self.jobs.clone(),
                )
                .instrument(self.span.clone()),
            );
            Lane { tx, spilled }
        });
        // Once spilled, nothing more is queued until the lane has read the
        // outbox back: a later entry queued ahead of a spilled one would
        // overtake it.
        if lane.spilled.load(Ordering::SeqCst) {
            return;
        }
        match lane.tx.try_send((seq, Box::new(entry))) {
            Ok(()) => self.router.delivery_queued(1),
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    seq,
                    queued = LANE_QUEUE,
                    "a delivery lane is full; later entries wait in the outbox"
                );
                lane.spilled.store(true, Ordering::SeqCst);
            }
            Err(TrySendError::Closed(_)) => {
                tracing::error!(
                    seq,
                    "a delivery lane stopped; the entry stays in the outbox"
                );
            }
        }
    }
}

/// Delivers one destination's entries in sequence order: first what is
/// queued, then, when the lane spilled, what waits in the outbox after
/// the last entry it delivered. An entry can come both ways (queued just
/// as the lane read the outbox); it is delivered once, by its sequence.
async fn lane(
    router: Router,
    key: ConversationKey,
    side: Side,
    mut rx: mpsc::Receiver<Item>,
    spilled: Arc<AtomicBool>,
    jobs: mpsc::WeakSender<Job>,
) {
    let mut last = 0u64;
    let mine = |e: &OutboxEntry| e.conversation == key && side_of(&e.effect) == side;
    loop {
        let item = match rx.try_recv() {
            Ok(item) => Some(item),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        };
        if let Some((seq, entry)) = item {
            router.delivery_queued(-1);
            if seq > last {
                last = seq;
                deliver(&router, &key, seq, *entry, &jobs).await;
            }
            continue;
        }
        if spilled.swap(false, Ordering::SeqCst) {
            let waiting = match router
                .shared
                .store
                .outbox_pending_after(last, LANE_QUEUE, &mine)
            {
                Ok(w) => w,
                Err(e) => {
                    // Left in the outbox: delivered after the restart.
                    tracing::error!(error = %e, "cannot read the outbox back");
                    router.fail(&e);
                    return;
                }
            };
            // A full page may have more behind it.
            if waiting.len() == LANE_QUEUE {
                spilled.store(true, Ordering::SeqCst);
            }
            for (seq, entry) in waiting {
                last = seq;
                deliver(&router, &key, seq, entry, &jobs).await;
            }
            continue;
        }
        match rx.recv().await {
            Some((seq, entry)) => {
                router.delivery_queued(-1);
                if seq > last {
                    last = seq;
                    deliver(&router, &key, seq, *entry, &jobs).await;
                }
            }
            // The worker is gone and nothing is queued; a spill noted just
            // before is read back by the next loop.
            None if spilled.load(Ordering::SeqCst) => {}
            None => return,
        }
    }
}

/// Which side an effect is delivered to.
fn side_of(effect: &Effect) -> Side {
    match effect {
        Effect::Say { .. } => Side::Customer,
        Effect::Relay { to, .. } => *to,
        Effect::OpenCase { .. }
        | Effect::UpdateSummary { .. }
        | Effect::Notify { .. }
        | Effect::CloseDesk { .. }
        | Effect::ReopenDesk { .. }
        | Effect::Explain { .. } => Side::Desk,
    }
}

fn case_of(effect: &Effect) -> u64 {
    match effect {
        Effect::Say { .. } => 0,
        Effect::OpenCase { case, .. }
        | Effect::UpdateSummary { case, .. }
        | Effect::Notify { case, .. }
        | Effect::CloseDesk { case, .. }
        | Effect::ReopenDesk { case, .. }
        | Effect::Explain { case, .. }
        | Effect::Relay { case, .. } => *case,
    }
}

async fn deliver(
    router: &Router,
    key: &ConversationKey,
    seq: u64,
    mut entry: OutboxEntry,
    jobs: &mpsc::WeakSender<Job>,
) {
    let shared = router.shared.clone();
    let store = &shared.store;
    let mut attempt = 0u32;
    let mut delays = handoff_bridge_api::backoff::delays(shared.retry.base, shared.retry.max);
    loop {
        let wait = match try_once(router, key, seq, &entry, jobs).await {
            Ok(()) => return,
            Err(Failure::Retry(wait)) => wait,
            Err(Failure::Store(e)) => {
                // The entry stays in the outbox; after the restart it is
                // delivered again (idempotent by its key).
                tracing::error!(error = %e, seq, "store error while delivering");
                router.fail(&e);
                return;
            }
            Err(Failure::Auth(e)) => {
                // Credentials revoked or wrong: every later send would fail
                // too. The entry stays in the outbox and the daemon stops,
                // so it is delivered once the token is fixed.
                tracing::error!(error = %e, seq, "the network refused our credentials");
                router.fail(&e);
                return;
            }
            Err(Failure::Give(reason)) => {
                // Kept, not dropped: an operator can see it (`/metrics`,
                // `handoff stats`) and retry it (`handoff outbox retry`).
                tracing::error!(seq, key = %entry.key, %reason, "delivery failed for good; parked");
                match store.outbox_park(seq, &reason) {
                    Ok(()) => crate::metrics::outbox_parked(),
                    // Erased meanwhile (`Router::erase`): nothing to keep.
                    Err(crate::store::StoreError::UnknownOutboxEntry { .. }) => {
                        tracing::debug!(seq, "the entry was erased meanwhile");
                    }
                    Err(e) => tracing::error!(error = %e, seq, "cannot park the outbox entry"),
                }
                return;
            }
        };
        let wait = if wait.is_zero() {
            delays.next().unwrap_or(shared.retry.max)
        } else {
            wait
        };
        attempt += 1;
        entry.attempts += 1;
        if let Err(e) = store.outbox_update(seq, &entry) {
            tracing::warn!(error = %e, seq, "cannot record the attempt");
        }
        tracing::warn!(
            seq,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "delivery will be retried"
        );
        tokio::time::sleep(wait).await;
    }
}

enum Failure {
    /// Retry after this long (zero: use the backoff).
    Retry(Duration),
    Store(crate::store::StoreError),
    /// The network rejected our credentials.
    Auth(BridgeError),
    Give(String),
}

async fn try_once(
    router: &Router,
    key: &ConversationKey,
    seq: u64,
    entry: &OutboxEntry,
    jobs: &mpsc::WeakSender<Job>,
) -> Result<(), Failure> {
    let shared = &router.shared;
    let store = shared.store.as_ref();
    let conv = store
        .conversation(key)
        .map_err(Failure::Store)?
        .ok_or_else(|| Failure::Give("the conversation is not in the store".into()))?;
    let case = match case_of(&entry.effect) {
        0 => None,
        id => store.case_head(id).map_err(Failure::Store)?,
    };
    let (network, outgoing, after) =
        match resolve(entry, &conv, case.as_ref(), store).map_err(Failure::Store)? {
            Resolved::Skip(why) => {
                tracing::warn!(seq, %why, "nothing to deliver");
                store.outbox_done(seq, &[], &[]).map_err(Failure::Store)?;
                return Ok(());
            }
            Resolved::Deliver {
                network,
                outgoing,
                after,
            } => (network, outgoing, after),
        };
    let bridge = shared
        .bridges
        .get(&network)
        .ok_or_else(|| Failure::Give(format!("no {network} bridge is running")))?;
    let started = std::time::Instant::now();
    let delivered = match bridge.send(&outgoing).await {
        Ok(d) => d,
        Err(BridgeError::RateLimited { retry_after_ms, .. }) => {
            crate::metrics::delivery_retry(&network, "rate_limited");
            return Err(Failure::Retry(Duration::from_millis(retry_after_ms.max(1))));
        }
        Err(e) if e.is_retryable() => {
            crate::metrics::delivery_retry(&network, "unavailable");
            tracing::warn!(error = %e, seq, "delivery failed; will retry");
            return Err(Failure::Retry(Duration::ZERO));
        }
        Err(e @ BridgeError::Auth { .. }) => {
            crate::metrics::delivery_failed(&network);
            return Err(Failure::Auth(e));
        }
        Err(e) => {
            crate::metrics::delivery_failed(&network);
            return Err(Failure::Give(e.to_string()));
        }
    };
    let took = started.elapsed();
    crate::metrics::delivery_ok(&network, took);
    tracing::debug!(seq, %network, ms = took.as_millis() as u64, "delivered");
    let stored = match (after, delivered) {
        (After::Map(source), Delivered::Message(m)) => {
            tracing::debug!(seq, source = %source.id, twin = %m.id, at = %m.endpoint, "twin recorded");
            store
                .outbox_done(seq, &[(source, m)], &[])
                .map_err(Failure::Store)
        }
        (After::CaseOpened(case), Delivered::CaseOpened { endpoint, summary }) => {
            let (done, wait) = oneshot::channel();
            let desk = CaseDesk { endpoint, summary };
            let sent = match jobs.upgrade() {
                Some(tx) => tx
                    .send(Job::Opened {
                        seq,
                        case,
                        desk: Box::new(desk),
                        done,
                    })
                    .await
                    .is_ok(),
                None => false,
            };
            if !sent || wait.await.is_err() {
                return Err(Failure::Give("the conversation worker stopped".into()));
            }
            Ok(())
        }
        _ => store.outbox_done(seq, &[], &[]).map_err(Failure::Store),
    };
    let stored = match stored {
        // Erased meanwhile (`Router::erase`): done, nothing to record.
        Err(Failure::Store(crate::store::StoreError::UnknownOutboxEntry { .. })) => {
            tracing::debug!(seq, "the entry was erased meanwhile");
            Ok(())
        }
        other => other,
    };
    if stored.is_ok() {
        // Stored for good: the key is never sent again.
        bridge.forget(&outgoing.key);
    }
    stored
}

//! Tick scheduling: which conversations a timer tick can change. The
//! router keeps each conversation's [`TickWatch`] as published by its
//! worker and the open cases as last read from the store, and sends
//! `Job::Tick` only where a timer ran out or the queue moved enough (see
//! the router's module docs for the invariant).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{world, Job, Router};
use crate::case::{Case, CaseId, CaseState, ConversationKey};
use crate::conversation::{Engine, State, TickWatch};

/// What the router knows about a conversation's next timer tick. No
/// entry: nothing known (not seen since the start, or a state-changing job
/// is on its way to the worker).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Watch {
    /// A tick is reading the conversation from the store (see
    /// [`Router::probe`]); whoever changes the conversation meanwhile
    /// removes or replaces this.
    Probing,
    /// As of the worker's last state; None when no tick can do anything
    /// until the state changes.
    Known(Option<TickWatch>),
}

/// What a worker publishes about its conversation's next tick.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Refresh {
    /// As of its current state, and whether that state has an open case.
    Known {
        watch: Option<TickWatch>,
        open_case: bool,
    },
    /// Its state is not known for sure (a store failure, an event handled
    /// by an earlier run): the next tick decides.
    Unknown,
}

impl Refresh {
    pub(super) fn of(engine: &Engine, state: Option<&State>) -> Refresh {
        match state {
            Some(s) => Refresh::Known {
                watch: engine.tick_watch(s),
                open_case: s.case.as_ref().is_some_and(|c| c.state.is_open()),
            },
            None => Refresh::Unknown,
        }
    }
}

/// An open case as the ticker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenCase {
    id: CaseId,
    conversation: ConversationKey,
    team: String,
    queued: bool,
}

impl OpenCase {
    /// What the open-case list holds of `case`; None once it is closed.
    fn of(case: &Case) -> Option<OpenCase> {
        case.state.is_open().then(|| OpenCase {
            id: case.id,
            conversation: case.conversation.clone(),
            team: case.team.clone(),
            queued: case.state == CaseState::Queued,
        })
    }

    /// Whether a write turning `before` into `after` changes the list (a
    /// new transcript turn or a desk does not).
    pub(super) fn changed(before: Option<&Case>, after: Option<&Case>) -> bool {
        before.and_then(OpenCase::of) != after.and_then(OpenCase::of)
    }
}

/// The open cases as last read from the store.
pub(super) struct OpenList {
    /// [`Router::case_writes`] just before the read.
    writes: u64,
    read_at: Instant,
    cases: Arc<Vec<OpenCase>>,
}

/// The ticker reads the open cases again after this long even if no
/// case was written meanwhile (a safety net; workers are the only
/// writers of cases).
pub(super) const OPEN_CASES_REREAD: Duration = Duration::from_secs(300);

impl Router {
    /// A worker wrote (or may have written) a case in a way that changes
    /// the open-case list ([`OpenCase::changed`]): the next tick reads the
    /// open cases again.
    pub(super) fn cases_written(&self) {
        self.case_writes.fetch_add(1, Ordering::SeqCst);
    }

    /// The open cases: as last read if no case was written since (and the
    /// read is recent), else read now. None on a store error (logged).
    /// Only the summaries are kept: holding 100k full cases (transcripts)
    /// through a tick would add their size to the daemon's memory.
    pub(super) fn open_cases(&self) -> Option<Arc<Vec<OpenCase>>> {
        let writes = self.case_writes.load(Ordering::SeqCst);
        if let Ok(cached) = self.open.lock() {
            if let Some(list) = cached.as_ref() {
                if list.writes == writes && list.read_at.elapsed() < OPEN_CASES_REREAD {
                    return Some(list.cases.clone());
                }
            }
        }
        let cases = match self.shared.store.open_cases() {
            Ok(cases) => cases,
            Err(e) => {
                tracing::error!(error = %e, "cannot list open cases for timers");
                return None;
            }
        };
        let list: Arc<Vec<OpenCase>> = Arc::new(cases.iter().filter_map(OpenCase::of).collect());
        if let Ok(mut cached) = self.open.lock() {
            *cached = Some(OpenList {
                writes,
                read_at: Instant::now(),
                cases: list.clone(),
            });
        }
        Some(list)
    }

    /// Sends a timer tick to every conversation with an open case that a
    /// tick can change now: a timer ran out, its place in the queue
    /// improved by the update step (team open), or nothing is known about
    /// it yet and reading it says so (see the module docs). Returns how
    /// many ticks were sent. The store reads (all open cases after a case
    /// was written; every conversation once after a start) block: on a
    /// multi-threaded runtime the other tasks move off this thread
    /// meanwhile.
    pub fn tick_open_cases(&self) -> usize {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.tick_now())
            }
            _ => self.tick_now(),
        }
    }

    pub(super) fn tick_now(&self) -> usize {
        let Some(open) = self.open_cases() else {
            return 0;
        };
        let queued = || {
            open.iter()
                .filter(|c| c.queued)
                .map(|c| (c.team.as_str(), c.id))
        };
        let now = self.shared.clock.now();
        // Queue places only: the first-reply history is read below if
        // some conversation is due.
        let queues = world::StoreWorld {
            store: self.shared.store.clone(),
            now,
            snapshot: Some(Arc::new(world::Snapshot::of_queue(queued(), &[]))),
        };
        let engine = &self.shared.engine;
        let mut due: Vec<&ConversationKey> = Vec::new();
        let mut unknown: Vec<usize> = Vec::new();
        {
            let Ok(watches) = self.watches.lock() else {
                tracing::error!("watch table poisoned");
                return 0;
            };
            for (i, c) in open.iter().enumerate() {
                match watches.get(&c.conversation) {
                    Some(Watch::Known(w)) => {
                        if w.as_ref().is_some_and(|w| engine.tick_due(w, now, &queues)) {
                            due.push(&c.conversation);
                        }
                    }
                    Some(Watch::Probing) | None => unknown.push(i),
                }
            }
        }
        let probed = unknown.len();
        for i in unknown {
            let c = &open[i];
            if self.probe(&c.conversation, now, &queues) {
                due.push(&c.conversation);
            }
        }
        tracing::debug!(open = open.len(), probed, due = due.len(), "timer tick");
        if due.is_empty() {
            return 0;
        }
        let snapshot = Arc::new(world::Snapshot::read_queue(
            self.shared.store.as_ref(),
            queued(),
            now,
        ));
        let sent = due.len();
        for key in due {
            self.ticks_sent.fetch_add(1, Ordering::Relaxed);
            self.offer(key.clone(), Job::Tick(snapshot.clone()));
        }
        sent
    }

    /// Whether the conversation `key` of an open case, of which nothing
    /// is known, needs a tick at `now`. Reads the conversation and its
    /// case from the store (as its worker would) rather than starting a
    /// worker, and records what it read as the watch unless the
    /// conversation changed meanwhile. A conversation with a worker, or
    /// that cannot be read, gets the tick (its worker decides).
    pub(super) fn probe(
        &self,
        key: &ConversationKey,
        now: handoff_bridge_api::Millis,
        queues: &world::StoreWorld,
    ) -> bool {
        match self.watches.lock() {
            Ok(mut w) => {
                w.insert(key.clone(), Watch::Probing);
            }
            Err(_) => return true,
        }
        // After marking: a job sent from here on removes the mark.
        if self.has_worker(key) {
            self.drop_probe(key);
            return true;
        }
        let store = &self.shared.store;
        let state = match store.conversation(key) {
            Ok(Some(conv)) => {
                // Timers need no transcript.
                let case = match conv.case {
                    Some(id) => store.case_head(id),
                    None => Ok(None),
                };
                case.map(|case| Some(State { conv, case }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        let watch = match state {
            Ok(Some(state)) => self.shared.engine.tick_watch(&state),
            // No conversation: its worker would find nothing to tick.
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %key, "cannot read the conversation for its timers");
                self.drop_probe(key);
                return true;
            }
        };
        let Ok(mut watches) = self.watches.lock() else {
            return true;
        };
        match watches.get(key) {
            // Unchanged since the mark, and still no worker to hand a
            // job to (a job is queued only after its worker is listed).
            Some(Watch::Probing) if !self.has_worker(key) => {
                let due = watch
                    .as_ref()
                    .is_some_and(|w| self.shared.engine.tick_due(w, now, queues));
                watches.insert(key.clone(), Watch::Known(watch));
                due
            }
            Some(Watch::Probing) => {
                watches.remove(key);
                true
            }
            // The worker published a newer state meanwhile.
            Some(Watch::Known(w)) => w
                .as_ref()
                .is_some_and(|w| self.shared.engine.tick_due(w, now, queues)),
            None => true,
        }
    }

    pub(super) fn drop_probe(&self, key: &ConversationKey) {
        if let Ok(mut w) = self.watches.lock() {
            if w.get(key) == Some(&Watch::Probing) {
                w.remove(key);
            }
        }
    }

    /// Whether `key` has a running worker (which may have jobs queued).
    pub(super) fn has_worker(&self, key: &ConversationKey) -> bool {
        self.workers
            .lock()
            .map(|w| w.get(key).is_some_and(|tx| !tx.is_closed()))
            .unwrap_or(true)
    }

    /// The worker of `key` publishes what its next tick depends on,
    /// provided its job queue is still empty (`idle`, checked under the
    /// table's lock, so that a job sent meanwhile is not overtaken). False
    /// if not published (try again after the next job).
    pub(super) fn publish_watch(
        &self,
        key: &ConversationKey,
        refresh: &Refresh,
        idle: impl FnOnce() -> bool,
    ) -> bool {
        let Ok(mut watches) = self.watches.lock() else {
            return false;
        };
        if !idle() {
            return false;
        }
        match refresh {
            // "Nothing to do" is kept only while the case is open: the
            // ticker visits open cases only, and closed ones would pile up.
            Refresh::Known {
                watch: None,
                open_case: false,
            }
            | Refresh::Unknown => {
                watches.remove(key);
            }
            Refresh::Known { watch, .. } => {
                watches.insert(key.clone(), Watch::Known(watch.clone()));
            }
        }
        true
    }
}

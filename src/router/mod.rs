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

mod delivery;
pub mod resolve;
pub mod roles;
#[cfg(test)]
mod tests;
mod worker;
pub mod world;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handoff_bridge_api::{Ack, Bridge, Endpoint, Inbound, InboundKind, MessageRef, Millis};
use tokio::sync::{mpsc, watch};

use crate::case::{Case, CaseId, CaseState, ConversationKey, Customer};
use crate::conversation::{AgentEvent, CustomerEvent, Engine, Event, State, TickWatch};
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

/// What an inbound event is for.
enum Classified {
    /// An event of the conversation, what it means there, and (for
    /// customer events) who the customer is.
    Event(ConversationKey, Box<Event>, Option<Box<Customer>>),
    /// Someone wrote on a former desk of a case (closed, or moved
    /// elsewhere): the case's conversation posts `notice` there once.
    Notice {
        conversation: ConversationKey,
        case: CaseId,
        at: handoff_bridge_api::Endpoint,
        notice: String,
    },
}

/// What the router knows about a conversation's next timer tick. No
/// entry: nothing known (not seen since the start, or a state-changing job
/// is on its way to the worker).
#[derive(Debug, Clone, PartialEq)]
enum Watch {
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
enum Refresh {
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
    fn of(engine: &Engine, state: Option<&State>) -> Refresh {
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
struct OpenCase {
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
    fn changed(before: Option<&Case>, after: Option<&Case>) -> bool {
        before.and_then(OpenCase::of) != after.and_then(OpenCase::of)
    }
}

/// The open cases as last read from the store.
struct OpenList {
    /// [`Router::case_writes`] just before the read.
    writes: u64,
    read_at: Instant,
    cases: Arc<Vec<OpenCase>>,
}

/// The ticker reads the open cases again after this long even if no
/// case was written meanwhile (a safety net; workers are the only
/// writers of cases).
const OPEN_CASES_REREAD: Duration = Duration::from_secs(300);

/// Routes events to per-conversation workers.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
    workers: Arc<Mutex<HashMap<ConversationKey, mpsc::UnboundedSender<Job>>>>,
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

    /// A worker wrote (or may have written) a case in a way that changes
    /// the open-case list ([`OpenCase::changed`]): the next tick reads the
    /// open cases again.
    fn cases_written(&self) {
        self.case_writes.fetch_add(1, Ordering::SeqCst);
    }

    /// The open cases: as last read if no case was written since (and the
    /// read is recent), else read now. None on a store error (logged).
    /// Only the summaries are kept: holding 100k full cases (transcripts)
    /// through a tick would add their size to the daemon's memory.
    fn open_cases(&self) -> Option<Arc<Vec<OpenCase>>> {
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

    fn tick_now(&self) -> usize {
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
            self.send(key.clone(), Job::Tick(snapshot.clone()));
        }
        sent
    }

    /// Whether the conversation `key` of an open case, of which nothing
    /// is known, needs a tick at `now`. Reads the conversation and its
    /// case from the store (as its worker would) rather than starting a
    /// worker, and records what it read as the watch unless the
    /// conversation changed meanwhile. A conversation with a worker, or
    /// that cannot be read, gets the tick (its worker decides).
    fn probe(
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
                let case = match conv.phase.case() {
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

    fn drop_probe(&self, key: &ConversationKey) {
        if let Ok(mut w) = self.watches.lock() {
            if w.get(key) == Some(&Watch::Probing) {
                w.remove(key);
            }
        }
    }

    /// Whether `key` has a running worker (which may have jobs queued).
    fn has_worker(&self, key: &ConversationKey) -> bool {
        self.workers
            .lock()
            .map(|w| w.get(key).is_some_and(|tx| !tx.is_closed()))
            .unwrap_or(true)
    }

    /// The worker of `key` publishes what its next tick depends on,
    /// provided its job queue is still empty (`idle`, checked under the
    /// table's lock, so that a job sent meanwhile is not overtaken). False
    /// if not published (try again after the next job).
    fn publish_watch(
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
            Ok(Some(Classified::Event(key, event, customer))) => self.send(
                key,
                Job::Inbound {
                    id: ev.event_id,
                    event,
                    customer,
                    ack,
                },
            ),
            Ok(Some(Classified::Notice {
                conversation,
                case,
                at,
                notice,
            })) => self.send(
                conversation,
                Job::Notice {
                    id: ev.event_id,
                    case,
                    at: Box::new(at),
                    text: notice,
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
    /// Roles come from what the endpoint is, never from what it is not
    /// right now: a desk (current or former, see [`roles`]) never speaks
    /// for a customer.
    fn classify(&self, ev: &Inbound) -> Result<Option<Classified>, StoreError> {
        let store = &self.shared.store;
        let current = match store.case_by_desk(&ev.endpoint)? {
            Some(id) => Some(id),
            // A native thread inside a case room is the case room.
            None if ev.endpoint.thread.is_some() => store.case_by_desk(&Endpoint::new(
                ev.endpoint.network.clone(),
                ev.endpoint.room.clone(),
            ))?,
            None => None,
        };
        if let Some(case_id) = current {
            let Some(case) = store.case_head(case_id)? else {
                return Ok(None);
            };
            if !case.state.is_open() && case.state != CaseState::Abandoned {
                return Ok(self.notice(ev, &case, None));
            }
            return Ok(self.agent_event(ev, case));
        }
        match roles::lookup(store.as_ref(), &ev.endpoint)? {
            Some(roles::Role::Case(id)) => {
                let Some(case) = store.case_head(id)? else {
                    return Ok(None);
                };
                let moved_to = (case.state.is_open() || case.state == CaseState::Abandoned)
                    .then(|| case.team.clone());
                return Ok(self.notice(ev, &case, moved_to));
            }
            // Staff chatter outside the case threads of a staff room.
            Some(roles::Role::StaffRoom) => return Ok(None),
            None => {}
        }
        self.customer_event(ev)
    }

    /// The notice for someone writing on a former desk of `case`: it moved
    /// to the team `moved_to`, or it is closed. Only messages and files
    /// get one (not reactions, edits, joins), and only the first since
    /// the case last changed (see [`roles::notice_due`]).
    fn notice(&self, ev: &Inbound, case: &Case, moved_to: Option<String>) -> Option<Classified> {
        if !matches!(
            ev.kind,
            InboundKind::Message { .. } | InboundKind::Attachment { .. }
        ) {
            return None;
        }
        let notice = match moved_to {
            Some(team) => format!(
                "case #{} moved to {team}; it continues on that team's desk",
                case.id
            ),
            None => format!(
                "case #{} is resolved; nothing written here reaches the customer",
                case.id
            ),
        };
        match roles::notice_due(self.shared.store.as_ref(), &ev.endpoint, &notice) {
            Ok(true) => Some(Classified::Notice {
                conversation: case.conversation.clone(),
                case: case.id,
                at: ev.endpoint.clone(),
                notice,
            }),
            Ok(false) => None,
            Err(e) => {
                // A lost notice costs nothing but the explanation.
                tracing::warn!(error = %e, "cannot record the notice on a former desk; not sent");
                None
            }
        }
    }

    /// An event on the current desk of the open case `case`.
    fn agent_event(&self, ev: &Inbound, case: Case) -> Option<Classified> {
        let msg = |id: &str| MessageRef {
            endpoint: ev.endpoint.clone(),
            id: id.to_string(),
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
                return None;
            }
            InboundKind::Left => return None,
        };
        Some(Classified::Event(
            case.conversation,
            Box::new(Event::Agent {
                agent: ev.sender.clone(),
                event,
            }),
            None,
        ))
    }

    /// An event where customers talk to the bot.
    fn customer_event(&self, ev: &Inbound) -> Result<Option<Classified>, StoreError> {
        let msg = |id: &str| MessageRef {
            endpoint: ev.endpoint.clone(),
            id: id.to_string(),
        };
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
        // Customers live only where their network says so: a message in a
        // room that is no customer's (a staff room before its first case,
        // a desk channel outside case threads) is staff chatter.
        if !ev.customer_endpoint || !self.is_customer_network(&ev.endpoint.network) {
            return Ok(None);
        }
        Ok(Some(Classified::Event(
            key,
            Box::new(Event::Customer(event)),
            Some(Box::new(customer)),
        )))
    }

    /// Whether customers write on `network`: its bridge says so in its
    /// [`handoff_bridge_api::Capabilities`].
    fn is_customer_network(&self, network: &str) -> bool {
        self.shared
            .bridges
            .get(network)
            .is_some_and(|b| b.capabilities().customers)
    }

    /// Sends a job to the conversation's worker, starting it if needed.
    pub fn send(&self, key: ConversationKey, job: Job) {
        let mut job = job;
        let changes_state = matches!(job, Job::Inbound { .. } | Job::Opened { .. });
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
            // A state-changing job is queued and the watch dropped under
            // the watch table's lock: the worker publishes (under the same
            // lock, when its queue is empty) either before both or after
            // both, never in between (module docs).
            let watches = changes_state.then(|| self.watches.lock().ok()).flatten();
            match tx.send(job) {
                Ok(()) => {
                    if let Some(mut w) = watches {
                        w.remove(&key);
                    }
                    return;
                }
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

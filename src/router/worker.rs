//! One conversation's worker: steps the state machine for each job in
//! arrival order and commits the result (state, case, outbox entries and
//! the handled event id) in one transaction, then hands the new outbox
//! entries to the conversation's delivery task.
//!
//! Invariant: this task is the only writer of its conversation and case;
//! the delivery task reports case-room creation back through
//! [`Job::Opened`] instead of writing the case itself.

use std::time::Duration;

use handoff_bridge_api::Ack;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use std::sync::Arc;

use super::ticks::{OpenCase, Refresh};
use super::world::{Snapshot, StoreWorld};
use super::Router;
use crate::case::{CaseDesk, CaseId, ConversationKey, Customer, OutboxEntry};
use crate::conversation::{Effect, Event, Refusal, State};
use crate::store::{Commit, StoreError};

/// Work for a conversation's worker.
#[derive(Debug)]
pub enum Job {
    /// An inbound event with its network id (for dedupe), for customer
    /// events who the customer is (to start a new conversation), and the
    /// bridge's acknowledgement, fired once the event is committed.
    Inbound {
        id: String,
        event: Box<Event>,
        customer: Option<Box<Customer>>,
        ack: Option<Ack>,
    },
    /// Check timers (SLA, abandonment, queue position), with the queues
    /// as read once for the whole tick.
    Tick(Arc<Snapshot>),
    /// Outbox entries left from before a restart.
    Deliver(Vec<(u64, OutboxEntry)>),
    /// Someone wrote on a former desk of case `case` (event `id`): post
    /// `text` at `at` once, with the event recorded as handled.
    Notice {
        id: String,
        case: CaseId,
        at: Box<handoff_bridge_api::Endpoint>,
        text: String,
        ack: Option<Ack>,
    },
    /// Hold still: drop the cached state, say so on `held`, and take no
    /// other job until `release` fires (or is dropped), while the store
    /// is changed under the conversation (`Router::erase`).
    Hold {
        held: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    },
    /// The delivery task opened case `case` on its desk (entry `seq`).
    Opened {
        seq: u64,
        case: CaseId,
        desk: Box<CaseDesk>,
        done: oneshot::Sender<()>,
    },
}

/// Jobs a conversation's worker may be behind before senders wait
/// (back-pressure; see `Router::dispatch_tracked`). Far above what one
/// person types, so only a stuck store or a flood ever reaches it.
pub const JOB_QUEUE: usize = 64;

/// After this long without jobs the cached state is dropped (reloaded from
/// the store on the next job) to keep memory proportional to activity.
const IDLE: Duration = Duration::from_secs(300);

/// Starts the worker and delivery task of `key`; returns the job queue.
pub(super) fn spawn(router: Router, key: ConversationKey) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(JOB_QUEUE);
    // `case` is filled in once the conversation has one (see
    // `Worker::note_case`), so every line about a case names it.
    let span =
        tracing::info_span!(parent: None, "conversation", key = %key, case = tracing::field::Empty);
    let deliveries =
        super::delivery::Deliveries::new(router.clone(), key.clone(), tx.downgrade(), span.clone());
    tokio::spawn(
        Worker {
            router,
            key,
            state: None,
            refresh: None,
            deliveries,
            case: None,
        }
        .run(rx)
        .instrument(span),
    );
    tx
}

struct Worker {
    router: Router,
    key: ConversationKey,
    state: Option<State>,
    /// What to publish as the conversation's tick watch once the job
    /// queue is empty (see [`Router::tick_open_cases`]).
    refresh: Option<Refresh>,
    deliveries: super::delivery::Deliveries,
    /// The case number last recorded on the conversation's span.
    case: Option<CaseId>,
}

impl Worker {
    /// Records `state`'s case number on the conversation's span (shared
    /// with its delivery task) when it is new, so that the lines that
    /// follow carry it.
    fn note_case(&mut self, state: &State) {
        let id = state.case.as_ref().map(|c| c.id);
        if id.is_some() && id != self.case {
            self.case = id;
            if let Some(id) = id {
                tracing::Span::current().record("case", id);
            }
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        loop {
            let job = match tokio::time::timeout(IDLE, rx.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_) => {
                    self.state = None;
                    continue;
                }
            };
            match job {
                Job::Inbound {
                    id,
                    event,
                    customer,
                    ack,
                } => {
                    if self.handle(Some(id), *event, customer.map(|c| *c), None) {
                        if let Some(ack) = ack {
                            ack.handled();
                        }
                    }
                }
                Job::Tick(snapshot) => {
                    self.handle(None, Event::Tick, None, Some(snapshot));
                    // Ticks can visit many open cases at once (timers
                    // running out together); keeping each one's state
                    // cached would hold all of them in memory at once.
                    if rx.is_empty() {
                        self.state = None;
                    }
                }
                Job::Notice {
                    id,
                    case,
                    at,
                    text,
                    ack,
                } => {
                    let now = self.router.shared.clock.now();
                    let notice = entries(
                        &self.key,
                        &id,
                        vec![Effect::Notify {
                            case,
                            text,
                            mention: None,
                            at: Some(*at),
                        }],
                    );
                    if self.commit_seen(Some(id), now, notice) {
                        if let Some(ack) = ack {
                            ack.handled();
                        }
                    }
                }
                Job::Hold { held, release } => {
                    self.state = None;
                    self.case = None;
                    let _ = held.send(());
                    let _ = release.await;
                }
                Job::Deliver(entries) => {
                    for (seq, e) in entries {
                        self.deliveries.push(seq, e);
                    }
                }
                Job::Opened {
                    seq,
                    case,
                    desk,
                    done,
                } => {
                    self.opened(seq, case, *desk);
                    let _ = done.send(());
                }
            }
            if let Some(r) = &self.refresh {
                if self.router.publish_watch(&self.key, r, || rx.is_empty()) {
                    self.refresh = None;
                }
            }
        }
        self.router.forget(&self.key);
    }

    /// Notes the conversation's state after a job (None: not known for
    /// sure), to publish as its tick watch.
    fn note(&mut self, state: Option<&State>) {
        self.refresh = Some(Refresh::of(&self.router.shared.engine, state));
    }

    /// The current state, from the cache or the store; a new conversation
    /// for a customer writing for the first time.
    fn load(&mut self, customer: Option<Customer>, now: i64) -> Result<Option<State>, StoreError> {
        Ok(self.load_or_start(customer, now)?.map(|(s, _)| s))
    }

    /// Like [`Worker::load`], also saying whether the conversation is new.
    fn load_or_start(
        &mut self,
        customer: Option<Customer>,
        now: i64,
    ) -> Result<Option<(State, bool)>, StoreError> {
        // Taken, not cloned (a long case's transcript is the bulk of it):
        // every caller puts back the state it ends with.
        if let Some(s) = self.state.take() {
            return Ok(Some((s, false)));
        }
        let store = &self.router.shared.store;
        Ok(match store.conversation(&self.key)? {
            Some(conv) => {
                let case = match conv.case {
                    Some(id) => store.case(id)?,
                    None => None,
                };
                Some((State { conv, case }, false))
            }
            None => customer.map(|c| (self.router.shared.engine.start(c, now), true)),
        })
    }

    /// Steps and commits one event; true once it is handled for good
    /// (committed, or committed before), false when the store failed.
    /// `snapshot`: the queues as read once for a timer tick.
    fn handle(
        &mut self,
        id: Option<String>,
        event: Event,
        customer: Option<Customer>,
        snapshot: Option<Arc<Snapshot>>,
    ) -> bool {
        let shared = self.router.shared.clone();
        let now = shared.clock.now();
        let is_agent = matches!(event, Event::Agent { .. });
        // A room that became end-to-end encrypted stays so for its
        // customer's later cases (rooms cannot turn encryption off).
        let encrypted = customer.as_ref().is_some_and(|c| c.encrypted);
        let (mut state, new) = match self.load_or_start(customer, now) {
            Ok(Some(s)) => {
                self.note_case(&s.0);
                s
            }
            Ok(None) => {
                tracing::debug!("no conversation for this event; ignored");
                self.note(None);
                return self.commit_seen(id, now, Vec::new());
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot load the conversation; event not handled");
                self.note(None);
                self.router.fail(&e);
                return false;
            }
        };
        if encrypted {
            state.conv.customer.encrypted = true;
        }
        if let Event::Customer(crate::conversation::CustomerEvent::Delete { target }) = &event {
            match self.redact_in_earlier_case(&state, &target.id, id.clone(), now) {
                // A conversation started by this very event is not
                // stored: nothing to keep cached.
                Ok(true) => {
                    self.state = (!new).then_some(state);
                    return true;
                }
                Ok(false) => {}
                Err(()) => {
                    self.state = (!new).then_some(state);
                    return false;
                }
            }
        }
        let world = StoreWorld {
            store: shared.store.clone(),
            now,
            snapshot,
        };
        let prefix = match &id {
            Some(id) => id.clone(),
            None => format!("{}/tick-{now}", self.key),
        };
        match shared.engine.step(&state, event, now, &world) {
            Ok(t) => {
                self.note_case(&t.state);
                let outbox = entries(&self.key, &prefix, t.effects);
                let case_changed = t.state.case != state.case;
                let commit = Commit {
                    at: now,
                    seen_event: id,
                    conversation: Some(t.state.conv.clone()),
                    cases: t
                        .state
                        .case
                        .clone()
                        .filter(|_| case_changed)
                        .into_iter()
                        .collect(),
                    outbox,
                    mappings: Vec::new(),
                    rewritten_turns: match &t.state.case {
                        Some(case) if case_changed => {
                            t.rewritten.iter().map(|i| (case.id, *i)).collect()
                        }
                        _ => Vec::new(),
                    },
                };
                let relist = OpenCase::changed(state.case.as_ref(), t.state.case.as_ref());
                match self.commit(commit, relist) {
                    Committed::Written => {
                        let before = if new { None } else { Some(&state) };
                        crate::metrics::record(
                            &t.state.conv.customer.endpoint.network,
                            &crate::metrics::observe(before, &t.state, now),
                        );
                        self.note(Some(&t.state));
                        self.state = Some(t.state);
                        true
                    }
                    Committed::Before => {
                        self.note(None);
                        if !new {
                            self.state = Some(state);
                        }
                        true
                    }
                    Committed::Failed => {
                        self.note(None);
                        false
                    }
                }
            }
            Err(refusal) => {
                // Refused: the state is as loaded.
                self.note(if new { None } else { Some(&state) });
                match refusal {
                    Refusal::Ignored => tracing::debug!("nothing to do"),
                    Refusal::NotAnAgent(_) => tracing::warn!(%refusal),
                    _ => tracing::info!(%refusal),
                }
                let mut notice = Vec::new();
                if let (Refusal::NotAnAgent(user), Some(case)) = (&refusal, &state.case) {
                    match super::roles::first_refusal(shared.store.as_ref(), case.id, user) {
                        Ok(true) => {
                            notice = entries(
                                &self.key,
                                &prefix,
                                vec![Effect::Explain {
                                    case: case.id,
                                    user: user.clone(),
                                    text: format!(
                                        "You are not an agent of the {} team, so nothing you write here reaches the customer of case #{} and your commands are not carried out. Ask an admin to add you to the team's agents.",
                                        case.team, case.id
                                    ),
                                }],
                            );
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot record the refusal; no explanation sent")
                        }
                    }
                } else if is_agent && tells_agent(&refusal) {
                    if let Some(case) = &state.case {
                        notice = entries(
                            &self.key,
                            &prefix,
                            vec![Effect::Notify {
                                case: case.id,
                                text: format!("⚠️ {refusal}"),
                                mention: None,
                                at: None,
                            }],
                        );
                    }
                }
                if !new {
                    self.state = Some(state);
                }
                if refusal == Refusal::NoCaseNumber {
                    // The store could not count cases: not handled, and the
                    // store error itself stops the daemon.
                    self.router
                        .fail(&"the store could not number a new case (see the error above)");
                    return false;
                }
                self.commit_seen(id, now, notice)
            }
        }
    }

    /// Records `id` as handled (with `outbox`, if any); true unless the
    /// store failed.
    /// A message deleted on its network after its case stopped being the
    /// conversation's (resolved, then a new stretch with the bot): its
    /// turn in that earlier case of the same customer loses its text
    /// too. `Ok(true)`: found there and committed; `Ok(false)`: not in an
    /// earlier case (the state machine handles it); `Err`: the store
    /// failed (the event is offered again).
    fn redact_in_earlier_case(
        &mut self,
        state: &State,
        source: &str,
        id: Option<String>,
        now: i64,
    ) -> Result<bool, ()> {
        let held =
            |turns: &[crate::case::Turn]| turns.iter().any(|t| t.source.as_deref() == Some(source));
        if held(&state.conv.turns) || state.case.as_ref().is_some_and(|c| held(&c.transcript)) {
            return Ok(false);
        }
        let store = self.router.shared.store.clone();
        let user = &state.conv.customer.user;
        let fail = |e: StoreError| {
            tracing::error!(error = %e, "cannot look up the deleted message's case");
        };
        let mut ids = store
            .cases_of_customer(&user.network, &user.id)
            .map_err(fail)?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        for case_id in ids {
            if state.case.as_ref().is_some_and(|c| c.id == case_id) {
                continue;
            }
            let Some(mut case) = store.case(case_id).map_err(fail)? else {
                continue;
            };
            // The same customer in the same place: a message id is only
            // unique within its room.
            if case.customer.endpoint.room != state.conv.customer.endpoint.room {
                continue;
            }
            let Some(i) = case
                .transcript
                .iter()
                .position(|t| t.source.as_deref() == Some(source) && !t.deleted)
            else {
                continue;
            };
            case.transcript[i].redact();
            tracing::info!(
                case = case_id,
                "a deleted message's text removed from an earlier case"
            );
            let committed = self.commit(
                Commit {
                    at: now,
                    seen_event: id,
                    rewritten_turns: vec![(case_id, i)],
                    cases: vec![case],
                    ..Commit::default()
                },
                false,
            );
            return match committed {
                Committed::Failed => Err(()),
                _ => Ok(true),
            };
        }
        Ok(false)
    }

    fn commit_seen(&mut self, id: Option<String>, now: i64, outbox: Vec<OutboxEntry>) -> bool {
        if id.is_none() && outbox.is_empty() {
            return true;
        }
        let c = self.commit(
            Commit {
                at: now,
                seen_event: id,
                outbox,
                ..Commit::default()
            },
            false,
        );
        c != Committed::Failed
    }

    /// Commits and queues the new entries; `relist`: the commit changes
    /// the open-case list.
    fn commit(&mut self, commit: Commit, relist: bool) -> Committed {
        let result = self.router.shared.store.commit(&commit);
        if relist && !matches!(result, Err(StoreError::AlreadySeen { .. })) {
            self.router.cases_written();
        }
        match result {
            Ok(seqs) => {
                for (seq, entry) in seqs.into_iter().zip(commit.outbox) {
                    self.deliveries.push(seq, entry);
                }
                Committed::Written
            }
            Err(StoreError::AlreadySeen { .. }) => {
                tracing::debug!("already handled by an earlier run");
                Committed::Before
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot save the conversation; the event was not handled");
                self.state = None;
                self.router.fail(&e);
                Committed::Failed
            }
        }
    }

    /// The desk confirmed the case room: record it in the case and finish
    /// the outbox entry in one write.
    fn opened(&mut self, seq: u64, case: CaseId, desk: CaseDesk) {
        let shared = self.router.shared.clone();
        let now = shared.clock.now();
        let state = match self.load(None, now) {
            Ok(Some(s)) => s,
            _ => {
                self.note(None);
                tracing::error!(case, "case opened for a conversation that cannot be loaded");
                let _ = shared.store.outbox_done(seq, &[], &[]);
                return;
            }
        };
        let world = StoreWorld {
            store: shared.store.clone(),
            now,
            snapshot: None,
        };
        // Known as a desk for good before the case names it (roles.rs).
        if let Err(e) = super::roles::remember(shared.store.as_ref(), &desk.endpoint, case) {
            tracing::error!(error = %e, "cannot record the desk; the case is opened again later");
            self.note(None);
            self.state = Some(state);
            self.router.fail(&e);
            return;
        }
        match shared
            .engine
            .step(&state, Event::CaseOpened { case, desk }, now, &world)
        {
            Ok(t) => {
                let cases: Vec<_> = t.state.case.clone().into_iter().collect();
                let done = shared.store.outbox_done(seq, &[], &cases);
                if OpenCase::changed(state.case.as_ref(), t.state.case.as_ref()) {
                    self.router.cases_written();
                }
                match done {
                    Ok(()) => {
                        tracing::info!(case, "case opened on the desk");
                        self.note(Some(&t.state));
                        self.state = Some(t.state);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot record the opened case");
                        self.note(None);
                        self.state = None;
                    }
                }
            }
            Err(r) => {
                self.note(Some(&state));
                self.state = Some(state);
                tracing::warn!(case, refusal = %r, "case opened but no longer current");
                let _ = shared.store.outbox_done(seq, &[], &[]);
            }
        }
    }
}

/// What became of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committed {
    Written,
    /// The event was committed by an earlier run; nothing was written.
    Before,
    /// The store failed; nothing was written.
    Failed,
}

/// Refusals worth telling the agent about (not strangers, not no-ops).
fn tells_agent(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::BadCommand(_)
            | Refusal::AlreadyYours(_)
            | Refusal::Transfer(_)
            | Refusal::Closed(..)
    )
}

fn entries(key: &ConversationKey, prefix: &str, effects: Vec<Effect>) -> Vec<OutboxEntry> {
    effects
        .into_iter()
        .enumerate()
        .map(|(i, effect)| OutboxEntry {
            conversation: key.clone(),
            key: format!("{prefix}/{i}"),
            effect,
            attempts: 0,
        })
        .collect()
}

//! Durable state: the [`Store`] trait, its sled and in-memory backends, and
//! the one test suite both must pass.
//!
//! The store owns what must survive a restart: conversations, cases (their
//! transcripts appended turn by turn) and their indexes (desk, customer, open, opened-at), the outbox, message-id
//! twins across networks, inbound event ids already handled (dedupe) and
//! small per-bridge state. It is not a cache and holds no logic beyond index
//! maintenance: the state machine decides, the store remembers.
//!
//! Invariant: a call that returns `Ok` after writing is durable (sled data
//! that matters is flushed before it is acknowledged), and a multi-record
//! write ([`Store::commit`], [`Store::outbox_done`]) lands entirely or not at
//! all. A record that fails to decode is reported as corrupt, never skipped
//! and never overwritten.
//!
//! The trait is synchronous on purpose: sled is embedded and synchronous and
//! every call is short (a few index lookups, one fsync on writes), so async
//! callers call it directly instead of paying for `spawn_blocking` on every
//! event. A future networked backend would make its own blocking choice.

pub mod memory;
pub mod sled;

mod codec;
#[cfg(test)]
mod equivalence;
mod error;
#[cfg(test)]
pub(crate) mod suite;

pub use error::StoreError;

use handoff_bridge_api::{Endpoint, MessageRef, Millis};

use crate::case::{Case, CaseId, Conversation, ConversationKey, OutboxEntry};

/// The format version this build writes. Stores with a higher version are
/// refused at open; lower versions are migrated at open (`sled::open`).
/// 2: twin keys hold network, room and id, no longer the thread.
/// 3: a case's transcript turns are records of their own, appended to;
/// the case record no longer holds them.
/// 4: a conversation links its case (`case`) instead of storing a phase
/// that repeated the case's state; summary cards in the outbox are data,
/// not markup. Both older forms are still read as they are (no record is
/// rewritten); the bump keeps older builds from misreading the new ones.
pub const FORMAT_VERSION: u32 = 4;

/// An outbox entry that failed for good: out of the delivery queue, kept
/// until an operator retries it (`handoff outbox retry`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Parked {
    pub entry: OutboxEntry,
    /// Why the network refused it (the last error).
    pub reason: String,
}

/// Everything the router writes after the state machine handled one inbound
/// event (or one timer): written in one transaction, durable on return.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Commit {
    /// When this happened; stamps `seen_event` for [`Store::prune_seen`].
    pub at: Millis,
    /// The inbound event handled. Committing an id already seen fails with
    /// [`StoreError::AlreadySeen`] and writes nothing, so a redelivered event
    /// can never queue its effects twice, even when two workers race.
    pub seen_event: Option<String>,
    /// The conversation's new state, if it changed.
    pub conversation: Option<Conversation>,
    /// Cases created or changed (indexes follow). Each holds its whole
    /// transcript; the turns beyond those already stored are appended.
    pub cases: Vec<Case>,
    /// Actions to queue, in order.
    pub outbox: Vec<OutboxEntry>,
    /// Message twins across networks, stored in both directions.
    pub mappings: Vec<(MessageRef, MessageRef)>,
    /// Turns already stored that changed in place (a deleted message's
    /// text removed): `(case, index)`, rewritten from that case in
    /// `cases`.
    pub rewritten_turns: Vec<(CaseId, usize)>,
}

/// What [`Store::erase`] removes or rewrites, in one write: the privacy
/// duties (a person's erasure, the retention period; `crate::privacy`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Erasure {
    /// Conversations removed, with their pending and parked outbox entries.
    pub conversations: Vec<ConversationKey>,
    /// Cases rewritten whole: the head (its indexes follow, as in a
    /// commit) and every stored turn, from the case's transcript (which
    /// holds as many turns as are stored, or more).
    pub cases: Vec<Case>,
    /// Messages whose twins are removed, in both directions.
    pub messages: Vec<MessageRef>,
    /// Bridge records removed: `(bridge, key)`.
    pub bridge_records: Vec<(String, String)>,
}

/// What an [`Erasure`] removed or rewrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    pub conversations: usize,
    pub cases: usize,
    pub turns: usize,
    pub outbox_entries: usize,
    pub twins: usize,
    #[serde(default)]
    pub bridge_records: usize,
}

/// Durable state of one handoff instance. Object-safe; used as
/// `Arc<dyn Store>` from many tasks at once.
pub trait Store: Send + Sync {
    /// Writes all of `c` atomically and durably, or nothing. Returns the
    /// outbox sequence numbers assigned to `c.outbox`, in order.
    fn commit(&self, c: &Commit) -> Result<Vec<u64>, StoreError>;

    /// Was this inbound event already committed (and not yet pruned)?
    fn is_seen(&self, event_id: &str) -> Result<bool, StoreError>;

    fn conversation(&self, key: &ConversationKey) -> Result<Option<Conversation>, StoreError>;

    /// All conversations, by key (used at start to re-arm timers).
    fn conversations(&self) -> Result<Vec<Conversation>, StoreError>;

    /// A new case id: counts up from 1, never the same twice, across
    /// restarts and concurrent callers (durable before it is returned).
    fn next_case_id(&self) -> Result<CaseId, StoreError>;

    /// The case with its whole transcript. Costs as much as the case is
    /// long; see [`Store::case_head`].
    fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError>;

    /// The case without its transcript (`transcript` is empty): the same
    /// cost however long the case is. For reading state, desk and team;
    /// never to be written back (that fails with
    /// [`StoreError::TranscriptBehind`]).
    fn case_head(&self, id: CaseId) -> Result<Option<Case>, StoreError>;

    /// The case whose desk (agent room or thread) is `endpoint`.
    fn case_by_desk(&self, endpoint: &Endpoint) -> Result<Option<CaseId>, StoreError>;

    /// The cases of one customer, newest (highest id) first.
    fn cases_of_customer(&self, network: &str, user_id: &str) -> Result<Vec<CaseId>, StoreError>;

    /// Cases that are queued or assigned, by id (from an index, not a
    /// scan), without their transcripts (as [`Store::case_head`]).
    fn open_cases(&self) -> Result<Vec<Case>, StoreError>;

    /// Cases opened at or after `since`, by id, without their transcripts
    /// (as [`Store::case_head`]; stats, wait estimates, export's listing).
    fn cases_since(&self, since: Millis) -> Result<Vec<Case>, StoreError>;

    /// The messages mapped to `m` on other networks, sorted.
    fn twins(&self, m: &MessageRef) -> Result<Vec<MessageRef>, StoreError>;

    /// Outbox entries not yet done, in sequence order.
    fn outbox_pending(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError>;

    /// At most `limit` pending entries after sequence `after` for which
    /// `keep` holds, in sequence order: a delivery lane catching up on
    /// what did not fit in its memory. It may read every later entry but
    /// holds only what it returns.
    fn outbox_pending_after(
        &self,
        after: u64,
        limit: usize,
        keep: &dyn Fn(&OutboxEntry) -> bool,
    ) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        Ok(self
            .outbox_pending()?
            .into_iter()
            .filter(|(seq, e)| *seq > after && keep(e))
            .take(limit)
            .collect())
    }

    /// Replaces a pending entry (e.g. `attempts + 1`). Fails with
    /// [`StoreError::UnknownOutboxEntry`] if it is gone: a delivered entry is
    /// never brought back.
    fn outbox_update(&self, seq: u64, entry: &OutboxEntry) -> Result<(), StoreError>;

    /// Atomically removes a delivered entry and records what its delivery
    /// produced (twins in both directions, changed cases). Fails with
    /// [`StoreError::UnknownOutboxEntry`], writing nothing, if it is gone.
    fn outbox_done(
        &self,
        seq: u64,
        mappings: &[(MessageRef, MessageRef)],
        cases: &[Case],
    ) -> Result<(), StoreError>;

    /// Atomically moves a pending entry that failed for good to the parked
    /// entries, with `reason`. Fails with
    /// [`StoreError::UnknownOutboxEntry`], writing nothing, if it is gone.
    fn outbox_park(&self, seq: u64, reason: &str) -> Result<(), StoreError>;

    /// Parked entries, in sequence order.
    fn outbox_parked(&self) -> Result<Vec<(u64, Parked)>, StoreError>;

    /// Atomically moves a parked entry back to the pending ones (same
    /// sequence number, attempts reset), to be delivered at the next
    /// start. Fails with [`StoreError::UnknownOutboxEntry`] if no entry
    /// `seq` is parked.
    fn outbox_unpark(&self, seq: u64) -> Result<(), StoreError>;

    /// Carries out `e` atomically and durably, or nothing. The caller keeps
    /// new writes for the erased conversations out meanwhile (their worker
    /// runs the erasure).
    fn erase(&self, e: &Erasure) -> Result<Erased, StoreError>;

    /// Small per-bridge state (sync tokens, last seen Slack ts).
    fn bridge_get(&self, bridge: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    fn bridge_put(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Like `bridge_put`, readable at once, but durable only once a later
    /// durable write lands (any record; the backend flushes everything
    /// before it), or at once when the last flush is a second old (see
    /// [`handoff_bridge_api::BridgeState::put_lazy`] for what may use it).
    fn bridge_put_lazy(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bridge_put(bridge, key, value)
    }

    /// Removes a bridge record (durably); removing a missing one is fine.
    fn bridge_delete(&self, bridge: &str, key: &str) -> Result<(), StoreError>;

    /// Forgets dedupe ids committed before `older_than`; returns how many.
    fn prune_seen(&self, older_than: Millis) -> Result<usize, StoreError>;
}

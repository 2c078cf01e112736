//! [`MemoryStore`]: the in-memory backend, for tests and dry runs.
//!
//! A mutex over ordered maps with the same observable semantics as the sled
//! backend (orders, counters, `AlreadySeen`/`UnknownOutboxEntry` refusals);
//! the shared suite and the equivalence property test hold it to that.
//! It is not durable: everything is gone when it is dropped.
//! Invariant: every method validates before it mutates, so a refused call
//! leaves nothing behind, and no mutation can panic halfway.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use handoff_bridge_api::{Endpoint, MessageRef, Millis};

use super::{Commit, Erased, Erasure, Parked, Store, StoreError};
use crate::case::{Case, CaseId, Conversation, ConversationKey, OutboxEntry};

/// Which message a ref names: network, room and id (the thread is where it
/// sits, not part of its identity; see `codec::message_key`).
type Identity = (String, String, String);

fn identity(m: &MessageRef) -> Identity {
    (
        m.endpoint.network.clone(),
        m.endpoint.room.clone(),
        m.id.clone(),
    )
}

/// A case without its transcript, as [`Store::case_head`] returns it.
fn head(case: &Case) -> Case {
    Case {
        transcript: Vec::new(),
        ..case.clone()
    }
}

#[derive(Default)]
struct Inner {
    seen: BTreeMap<String, Millis>,
    conversations: BTreeMap<ConversationKey, Conversation>,
    cases: BTreeMap<CaseId, Case>,
    by_desk: BTreeMap<Endpoint, CaseId>,
    by_customer: BTreeSet<(String, String, CaseId)>,
    open: BTreeSet<CaseId>,
    outbox: BTreeMap<u64, OutboxEntry>,
    parked: BTreeMap<u64, Parked>,
    /// (source identity, twin identity) → twin; see [`identity`].
    twins: BTreeMap<(Identity, Identity), MessageRef>,
    bridge: BTreeMap<(String, String), Vec<u8>>,
    last_case_id: CaseId,
    last_outbox_seq: u64,
}

impl Inner {
    /// Refuses cases holding fewer transcript turns than stored (read
    /// without them), as the sled backend does; checked before any write.
    fn check_transcripts(&self, cases: &[Case]) -> Result<(), StoreError> {
        // In write order: a case written twice in one call is checked
        // against its earlier copy, as sled does.
        let mut written: BTreeMap<CaseId, usize> = BTreeMap::new();
        for case in cases {
            let stored = written
                .get(&case.id)
                .copied()
                .unwrap_or_else(|| self.cases.get(&case.id).map_or(0, |c| c.transcript.len()));
            written.insert(case.id, case.transcript.len());
            if case.transcript.len() < stored {
                return Err(StoreError::TranscriptBehind {
                    path: "<memory>".into(),
                    case: case.id,
                    held: case.transcript.len(),
                    stored,
                });
            }
        }
        Ok(())
    }

    fn put_case(&mut self, case: &Case) {
        if let Some(old) = self.cases.get(&case.id) {
            let old_desk = old.desk.as_ref().map(|d| d.endpoint.clone());
            let old_customer = customer_entry(old);
            if let Some(ep) = old_desk {
                if self.by_desk.get(&ep) == Some(&case.id) {
                    self.by_desk.remove(&ep);
                }
            }
            self.by_customer.remove(&old_customer);
        }
        if let Some(d) = &case.desk {
            self.by_desk.insert(d.endpoint.clone(), case.id);
        }
        self.by_customer.insert(customer_entry(case));
        if case.state.is_open() {
            self.open.insert(case.id);
        } else {
            self.open.remove(&case.id);
        }
        self.cases.insert(case.id, case.clone());
    }

    fn put_twins(&mut self, mappings: &[(MessageRef, MessageRef)]) {
        for (a, b) in mappings {
            self.twins.insert((identity(a), identity(b)), b.clone());
            self.twins.insert((identity(b), identity(a)), a.clone());
        }
    }
}

fn customer_entry(case: &Case) -> (String, String, CaseId) {
    let user = &case.customer.user;
    (user.network.clone(), user.id.clone(), case.id)
}

/// The in-memory [`Store`].
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Mutations validate first and cannot panic midway, so a poisoned
        // lock (a panic elsewhere while holding it) still guards whole state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn commit(&self, c: &Commit) -> Result<Vec<u64>, StoreError> {
        let mut s = self.lock();
        if let Some(id) = &c.seen_event {
            if s.seen.contains_key(id) {
                return Err(StoreError::AlreadySeen {
                    event_id: id.clone(),
                });
            }
        }
        s.check_transcripts(&c.cases)?;
        if let Some(id) = &c.seen_event {
            s.seen.insert(id.clone(), c.at);
        }
        if let Some(conv) = &c.conversation {
            s.conversations.insert(conv.key.clone(), conv.clone());
        }
        for case in &c.cases {
            s.put_case(case);
        }
        let mut seqs = Vec::with_capacity(c.outbox.len());
        for entry in &c.outbox {
            s.last_outbox_seq += 1;
            let seq = s.last_outbox_seq;
            s.outbox.insert(seq, entry.clone());
            seqs.push(seq);
        }
        s.put_twins(&c.mappings);
        Ok(seqs)
    }

    fn is_seen(&self, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().seen.contains_key(event_id))
    }

    fn conversation(&self, key: &ConversationKey) -> Result<Option<Conversation>, StoreError> {
        Ok(self.lock().conversations.get(key).cloned())
    }

    fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        Ok(self.lock().conversations.values().cloned().collect())
    }

    fn next_case_id(&self) -> Result<CaseId, StoreError> {
        let mut s = self.lock();
        s.last_case_id += 1;
        Ok(s.last_case_id)
    }

    fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        Ok(self.lock().cases.get(&id).cloned())
    }

    fn case_head(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        Ok(self.lock().cases.get(&id).map(head))
    }

    fn case_by_desk(&self, endpoint: &Endpoint) -> Result<Option<CaseId>, StoreError> {
        Ok(self.lock().by_desk.get(endpoint).copied())
    }

    fn cases_of_customer(&self, network: &str, user_id: &str) -> Result<Vec<CaseId>, StoreError> {
        let s = self.lock();
        let from = (network.to_string(), user_id.to_string(), 0);
        let to = (network.to_string(), user_id.to_string(), CaseId::MAX);
        Ok(s.by_customer.range(from..=to).rev().map(|e| e.2).collect())
    }

    fn open_cases(&self) -> Result<Vec<Case>, StoreError> {
        let s = self.lock();
        Ok(s.open
            .iter()
            .filter_map(|id| s.cases.get(id))
            .map(head)
            .collect())
    }

    fn cases_since(&self, since: Millis) -> Result<Vec<Case>, StoreError> {
        // A scan: fine for tests; the sled backend keeps an index.
        let s = self.lock();
        Ok(s.cases
            .values()
            .filter(|c| c.opened_at >= since)
            .map(head)
            .collect())
    }

    fn twins(&self, m: &MessageRef) -> Result<Vec<MessageRef>, StoreError> {
        let s = self.lock();
        let from = identity(m);
        let mut out: Vec<MessageRef> = s
            .twins
            .iter()
            .filter(|((f, _), _)| *f == from)
            .map(|(_, to)| to.clone())
            .collect();
        out.sort();
        Ok(out)
    }

    fn outbox_pending(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let s = self.lock();
        Ok(s.outbox.iter().map(|(k, v)| (*k, v.clone())).collect())
    }

    fn outbox_pending_after(
        &self,
        after: u64,
        limit: usize,
        keep: &dyn Fn(&OutboxEntry) -> bool,
    ) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let s = self.lock();
        Ok(s.outbox
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .filter(|(_, e)| keep(e))
            .take(limit)
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }

    fn erase(&self, e: &Erasure) -> Result<Erased, StoreError> {
        let mut s = self.lock();
        s.check_transcripts(&e.cases)?;
        let mut done = Erased::default();
        for key in &e.conversations {
            done.conversations += usize::from(s.conversations.remove(key).is_some());
        }
        for case in &e.cases {
            s.put_case(case);
            done.cases += 1;
            done.turns += case.transcript.len();
        }
        let ours = |c: &ConversationKey| e.conversations.contains(c);
        let before = s.outbox.len() + s.parked.len();
        s.outbox.retain(|_, entry| !ours(&entry.conversation));
        s.parked.retain(|_, p| !ours(&p.entry.conversation));
        done.outbox_entries = before - s.outbox.len() - s.parked.len();
        for m in &e.messages {
            let from = identity(m);
            let twins: Vec<Identity> = s
                .twins
                .keys()
                .filter(|(f, _)| *f == from)
                .map(|(_, t)| t.clone())
                .collect();
            for t in twins {
                let one = s.twins.remove(&(from.clone(), t.clone())).is_some();
                let other = s.twins.remove(&(t, from.clone())).is_some();
                done.twins += usize::from(one || other);
            }
        }
        for (bridge, key) in &e.bridge_records {
            done.bridge_records +=
                usize::from(s.bridge.remove(&(bridge.clone(), key.clone())).is_some());
        }
        Ok(done)
    }

    fn outbox_update(&self, seq: u64, entry: &OutboxEntry) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.outbox.get_mut(&seq) {
            Some(e) => {
                *e = entry.clone();
                Ok(())
            }
            None => Err(StoreError::UnknownOutboxEntry { seq }),
        }
    }

    fn outbox_done(
        &self,
        seq: u64,
        mappings: &[(MessageRef, MessageRef)],
        cases: &[Case],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.outbox.contains_key(&seq) {
            return Err(StoreError::UnknownOutboxEntry { seq });
        }
        s.check_transcripts(cases)?;
        s.outbox.remove(&seq);
        s.put_twins(mappings);
        for case in cases {
            s.put_case(case);
        }
        Ok(())
    }

    fn outbox_park(&self, seq: u64, reason: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        let entry = s
            .outbox
            .remove(&seq)
            .ok_or(StoreError::UnknownOutboxEntry { seq })?;
        let reason = reason.to_string();
        s.parked.insert(seq, Parked { entry, reason });
        Ok(())
    }

    fn outbox_parked(&self) -> Result<Vec<(u64, Parked)>, StoreError> {
        let s = self.lock();
        Ok(s.parked.iter().map(|(k, v)| (*k, v.clone())).collect())
    }

    fn outbox_unpark(&self, seq: u64) -> Result<(), StoreError> {
        let mut s = self.lock();
        let mut p = s
            .parked
            .remove(&seq)
            .ok_or(StoreError::UnknownOutboxEntry { seq })?;
        p.entry.attempts = 0;
        s.outbox.insert(seq, p.entry);
        Ok(())
    }

    fn bridge_get(&self, bridge: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let s = self.lock();
        Ok(s.bridge
            .get(&(bridge.to_string(), key.to_string()))
            .cloned())
    }

    fn bridge_put(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.bridge
            .insert((bridge.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }

    fn bridge_delete(&self, bridge: &str, key: &str) -> Result<(), StoreError> {
        self.lock()
            .bridge
            .remove(&(bridge.to_string(), key.to_string()));
        Ok(())
    }

    fn prune_seen(&self, older_than: Millis) -> Result<usize, StoreError> {
        let mut s = self.lock();
        let before = s.seen.len();
        s.seen.retain(|_, at| *at >= older_than);
        Ok(before - s.seen.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryStore;
    use crate::store::suite::{store_suite, Fixture};

    fn fixture() -> Fixture {
        Fixture {
            store: Arc::new(MemoryStore::new()),
            _keep: None,
        }
    }

    store_suite!(fixture);
}

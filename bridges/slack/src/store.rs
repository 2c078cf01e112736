//! The bridge's durable memory, kept through the core's [`BridgeState`]:
//! completed Outgoing keys and what they delivered, which ts belongs to
//! which thread, the open case threads, and per thread the last human
//! reply relayed (for catch-up) plus recently relayed ts (for dedupe).
//!
//! Not for caches that may be lost (users, channel names live in `Inner`).
//! The invariant: a record is durable before the action it records is
//! reported done; keys are prefixed `slack/`. Records written on the way
//! to a durable one (a post's marker, name and thread before its delivery
//! record; an inbound reply's thread before the core's commit) are written
//! lazily and carried by that durable write, as is the relay progress,
//! whose loss only makes catch-up offer replies the core already stored.

use std::collections::VecDeque;
use std::sync::Arc;

use handoff_bridge_api::{BridgeError, BridgeState, Delivered};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::ts;
use crate::NETWORK;

/// The interaction journal's key.
const JOURNAL: &str = "slack/journal";

/// How many relayed ts per thread are remembered for dedupe.
const RECENT: usize = 64;

/// A case thread's relay progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Newest relayed human reply ts.
    pub last_seen: Option<String>,
    /// Recently relayed event ids, oldest first.
    pub recent: VecDeque<String>,
}

impl Progress {
    pub fn seen(&self, id: &str) -> bool {
        self.recent.iter().any(|r| r == id)
    }

    pub fn mark(&mut self, id: &str, message_ts: &str) {
        if !self.seen(id) {
            self.recent.push_back(id.to_string());
            while self.recent.len() > RECENT {
                self.recent.pop_front();
            }
        }
        let newer = self
            .last_seen
            .as_deref()
            .is_none_or(|old| ts::cmp(message_ts, old).is_gt());
        if newer {
            self.last_seen = Some(message_ts.to_string());
        }
    }
}

/// Typed access to the bridge's keys.
pub(crate) struct Store {
    state: Arc<dyn BridgeState>,
    /// Serialises read-modify-write of list records.
    lists: Mutex<()>,
}

/// Before keyed case records: every case thread ever, in one list.
const LEGACY_CASES: &str = "slack/cases";
/// The open case threads (catch-up reads these).
const OPEN_CASES: &str = "slack/open-cases";

fn case_key(channel: &str, root: &str) -> String {
    format!("slack/case/{channel}/{root}")
}

fn unavailable(what: &str, key: &str, e: String) -> BridgeError {
    BridgeError::Unavailable {
        network: NETWORK.into(),
        detail: format!("state store {what} {key}: {e}"),
    }
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, BridgeError> {
    serde_json::to_vec(value).map_err(|e| unavailable("encode", key, e.to_string()))
}

impl Store {
    pub fn new(state: Arc<dyn BridgeState>) -> Store {
        Store {
            state,
            lists: Mutex::new(()),
        }
    }

    fn get_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, BridgeError> {
        let Some(bytes) = self
            .state
            .get(key)
            .map_err(|e| unavailable("read", key, e))?
        else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!(key, error = %e, "unreadable bridge state record; ignoring it");
                Ok(None)
            }
        }
    }

    fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), BridgeError> {
        let bytes = encode(key, value)?;
        self.state
            .put(key, &bytes)
            .map_err(|e| unavailable("write", key, e))
    }

    /// `put_json`, made durable by the next durable write
    /// ([`BridgeState::put_lazy`]).
    fn put_json_lazy<T: Serialize>(&self, key: &str, value: &T) -> Result<(), BridgeError> {
        let bytes = encode(key, value)?;
        self.state
            .put_lazy(key, &bytes)
            .map_err(|e| unavailable("write", key, e))
    }

    pub fn delivered(&self, key: &str) -> Result<Option<Delivered>, BridgeError> {
        self.get_json(&format!("slack/out/{key}"))
    }

    pub fn record_delivered(&self, key: &str, d: &Delivered) -> Result<(), BridgeError> {
        self.put_json(&format!("slack/out/{key}"), d)
    }

    /// A value remembered for an Outgoing key while it is in progress
    /// (the file id of an upload).
    pub fn pending(&self, key: &str) -> Result<Option<String>, BridgeError> {
        self.get_json(&format!("slack/pending/{key}"))
    }

    pub fn record_pending(&self, key: &str, value: &str) -> Result<(), BridgeError> {
        self.put_json(&format!("slack/pending/{key}"), &value)
    }

    /// The thread root a message ts belongs to.
    pub fn thread_of(&self, channel: &str, ts: &str) -> Result<Option<String>, BridgeError> {
        self.get_json(&format!("slack/ts/{channel}/{ts}"))
    }

    pub fn record_thread(&self, channel: &str, ts: &str, root: &str) -> Result<(), BridgeError> {
        self.put_json_lazy(&format!("slack/ts/{channel}/{ts}"), &root)
    }

    /// The `as_name` a message was posted under with the prefix style.
    pub fn name_of(&self, channel: &str, ts: &str) -> Result<Option<String>, BridgeError> {
        self.get_json(&format!("slack/name/{channel}/{ts}"))
    }

    pub fn record_name(&self, channel: &str, ts: &str, name: &str) -> Result<(), BridgeError> {
        self.put_json_lazy(&format!("slack/name/{channel}/{ts}"), &name)
    }

    /// The idempotency marker (first `block_id`) a bot message was posted
    /// with, kept so edits keep it.
    pub fn marker_of(&self, channel: &str, ts: &str) -> Result<Option<String>, BridgeError> {
        self.get_json(&format!("slack/marker/{channel}/{ts}"))
    }

    pub fn record_marker(&self, channel: &str, ts: &str, marker: &str) -> Result<(), BridgeError> {
        self.put_json_lazy(&format!("slack/marker/{channel}/{ts}"), &marker)
    }

    /// Forgets the delivery record of `key` (and what was kept while it
    /// was in progress): the core stored the delivery for good.
    pub fn forget_delivery(&self, key: &str) -> Result<(), BridgeError> {
        for k in [format!("slack/out/{key}"), format!("slack/pending/{key}")] {
            self.state
                .delete(&k)
                .map_err(|e| unavailable("delete", &k, e))?;
        }
        Ok(())
    }

    /// Case threads still open, as `(channel, root ts)`: the ones catch-up
    /// reads. Bounded by the open cases (closed ones leave it).
    pub fn case_threads(&self) -> Result<Vec<(String, String)>, BridgeError> {
        self.migrate_case_list()?;
        Ok(self.get_json(OPEN_CASES)?.unwrap_or_default())
    }

    /// Whether `root` in `channel` is (or was) a case's thread: what is
    /// written there keeps reaching the core after the case closes, so it
    /// can answer with a notice. One keyed read, whatever the number of
    /// cases.
    pub fn is_case_thread(&self, channel: &str, root: &str) -> Result<bool, BridgeError> {
        if self.get_json::<String>(&case_key(channel, root))?.is_some() {
            return Ok(true);
        }
        // Records of a version before keyed cases.
        self.migrate_case_list()?;
        Ok(self.get_json::<String>(&case_key(channel, root))?.is_some())
    }

    pub async fn add_case_thread(&self, channel: &str, root: &str) -> Result<(), BridgeError> {
        let _guard = self.lists.lock().await;
        self.put_json(&case_key(channel, root), &"open")?;
        let mut open: Vec<(String, String)> = self.get_json(OPEN_CASES)?.unwrap_or_default();
        if !open.iter().any(|(c, r)| c == channel && r == root) {
            open.push((channel.to_string(), root.to_string()));
            self.put_json(OPEN_CASES, &open)?;
        }
        Ok(())
    }

    /// The case of thread `root` closed (or moved away): catch-up stops
    /// reading it; its replies still count as a case thread's.
    pub async fn close_case_thread(&self, channel: &str, root: &str) -> Result<(), BridgeError> {
        let _guard = self.lists.lock().await;
        self.put_json(&case_key(channel, root), &"closed")?;
        let mut open: Vec<(String, String)> = self.get_json(OPEN_CASES)?.unwrap_or_default();
        let before = open.len();
        open.retain(|(c, r)| !(c == channel && r == root));
        if open.len() != before {
            self.put_json(OPEN_CASES, &open)?;
        }
        Ok(())
    }

    /// Turns the one growing list of earlier versions (`slack/cases`) into
    /// keyed records plus the open list, once.
    fn migrate_case_list(&self) -> Result<(), BridgeError> {
        let Some(old) = self.get_json::<Vec<(String, String)>>(LEGACY_CASES)? else {
            return Ok(());
        };
        let mut open: Vec<(String, String)> = self.get_json(OPEN_CASES)?.unwrap_or_default();
        for (channel, root) in &old {
            self.put_json(&case_key(channel, root), &"open")?;
            if !open.iter().any(|(c, r)| c == channel && r == root) {
                open.push((channel.clone(), root.clone()));
            }
        }
        self.put_json(OPEN_CASES, &open)?;
        self.state
            .delete(LEGACY_CASES)
            .map_err(|e| unavailable("delete", LEGACY_CASES, e))
    }

    /// Interactions handed over but not yet stored by the core, as
    /// `(id, payload)`, oldest first.
    pub fn journal(&self) -> Result<Vec<(String, serde_json::Value)>, BridgeError> {
        Ok(self.get_json(JOURNAL)?.unwrap_or_default())
    }

    /// Adds an interaction to the journal, durably (Slack never
    /// redelivers one, so this record is all a crash leaves of it).
    pub async fn journal_add(
        &self,
        id: &str,
        payload: &serde_json::Value,
    ) -> Result<(), BridgeError> {
        let _guard = self.lists.lock().await;
        let mut entries = self.journal()?;
        if !entries.iter().any(|(i, _)| i == id) {
            entries.push((id.to_string(), payload.clone()));
            self.put_json(JOURNAL, &entries)?;
        }
        Ok(())
    }

    /// Forgets a journaled interaction the core stored. Lazy: a crash
    /// that loses this write only replays a press the core dedupes.
    pub async fn journal_remove(&self, id: &str) -> Result<(), BridgeError> {
        let _guard = self.lists.lock().await;
        let mut entries = self.journal()?;
        let before = entries.len();
        entries.retain(|(i, _)| i != id);
        if entries.len() != before {
            self.put_json_lazy(JOURNAL, &entries)?;
        }
        Ok(())
    }

    pub fn progress(&self, channel: &str, root: &str) -> Result<Progress, BridgeError> {
        Ok(self
            .get_json(&format!("slack/progress/{channel}/{root}"))?
            .unwrap_or_default())
    }

    pub fn save_progress(
        &self,
        channel: &str,
        root: &str,
        p: &Progress,
    ) -> Result<(), BridgeError> {
        self.put_json_lazy(&format!("slack/progress/{channel}/{root}"), p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_keeps_newest_ts_and_bounded_recent() {
        let mut p = Progress::default();
        p.mark("C:2.000001", "2.000001");
        p.mark("C:1.000001", "1.000001");
        assert_eq!(p.last_seen.as_deref(), Some("2.000001"));
        assert!(p.seen("C:1.000001"));
        for i in 0..100 {
            p.mark(&format!("C:{i}"), "3.000000");
        }
        assert_eq!(p.recent.len(), RECENT);
        assert!(!p.seen("C:1.000001"));
        assert_eq!(p.last_seen.as_deref(), Some("3.000000"));
    }

    #[tokio::test]
    async fn a_post_s_records_ride_on_its_durable_delivery_record() {
        let state = Arc::new(handoff_bridge_api::MemoryState::default());
        let store = Store::new(state.clone());
        // A reply posted in a case thread, as `outbound` records it.
        store.record_marker("C", "1.5", "m").unwrap();
        store.record_name("C", "1.5", "Ann").unwrap();
        store.record_thread("C", "1.5", "1.0").unwrap();
        store.add_case_thread("C", "1.0").await.unwrap();
        store.record_delivered("out:1", &Delivered::Done).unwrap();
        store
            .save_progress("C", "1.0", &Progress::default())
            .unwrap();
        let writes = state.writes();
        let durable: Vec<_> = writes.iter().filter(|w| w.1).map(|w| &w.0[..]).collect();
        assert_eq!(
            durable,
            ["slack/case/C/1.0", "slack/open-cases", "slack/out/out:1"]
        );
        assert_eq!(writes.len(), 7);
    }

    #[tokio::test]
    async fn closed_cases_leave_catch_up_but_stay_case_threads() {
        let state = Arc::new(handoff_bridge_api::MemoryState::default());
        let store = Store::new(state.clone());
        store.add_case_thread("C", "1.0").await.unwrap();
        store.add_case_thread("C", "2.0").await.unwrap();
        store.close_case_thread("C", "1.0").await.unwrap();
        assert_eq!(
            store.case_threads().unwrap(),
            vec![("C".to_string(), "2.0".to_string())]
        );
        assert!(
            store.is_case_thread("C", "1.0").unwrap(),
            "replies still count"
        );
        assert!(!store.is_case_thread("C", "3.0").unwrap());
        // A reopened case (`ReopenCase`) is caught up again.
        store.add_case_thread("C", "1.0").await.unwrap();
        assert_eq!(store.case_threads().unwrap().len(), 2);
        // Delivery records go once the core stored the delivery.
        store.record_delivered("k", &Delivered::Done).unwrap();
        store.record_pending("k", "F1").unwrap();
        store.forget_delivery("k").unwrap();
        assert_eq!(store.delivered("k").unwrap(), None);
        assert_eq!(store.pending("k").unwrap(), None);
    }

    #[test]
    fn the_old_case_list_becomes_keyed_records_once() {
        let state = Arc::new(handoff_bridge_api::MemoryState::default());
        let old = serde_json::to_vec(&vec![("C", "1.0"), ("D", "2.0")]).unwrap();
        handoff_bridge_api::BridgeState::put(state.as_ref(), "slack/cases", &old).unwrap();
        let store = Store::new(state.clone());
        assert!(store.is_case_thread("D", "2.0").unwrap());
        assert_eq!(store.case_threads().unwrap().len(), 2);
        assert_eq!(
            handoff_bridge_api::BridgeState::get(state.as_ref(), "slack/cases").unwrap(),
            None,
            "the list is gone"
        );
        assert!(store.is_case_thread("C", "1.0").unwrap());
    }
}

//! What the widget bridge keeps in its `BridgeState`, so a restart loses
//! nothing: sessions (`session/<sid>`), each session's bounded history
//! (`history/<sid>`), delivery records per outgoing key (`delivery/<key>`,
//! dropped by `forget`) and the visitor events the core has not yet
//! acknowledged (`pending`, offered again when the bridge runs again).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use handoff_bridge_api::{BridgeError, BridgeState, Delivered, Inbound};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::protocol::{Entry, EntryKind};
use crate::session::SessionRecord;
use crate::NETWORK;

/// A history entry as stored: the entry and the outgoing key that made it
/// (so a retried action finds its first result even without its
/// delivery record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub entry: Entry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One session's history: the last `limit` entries and the next seq.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub next_seq: u64,
    pub entries: VecDeque<Stored>,
}

impl History {
    /// Appends `kind` and trims to `limit` entries; the new entry.
    pub fn push(&mut self, kind: EntryKind, at: i64, key: Option<String>, limit: usize) -> Entry {
        self.next_seq = self.next_seq.max(1);
        let entry = Entry {
            seq: self.next_seq,
            at,
            kind,
        };
        self.next_seq += 1;
        self.entries.push_back(Stored {
            entry: entry.clone(),
            key,
        });
        while self.entries.len() > limit.max(1) {
            self.entries.pop_front();
        }
        entry
    }

    /// Entries after `seq`, oldest first.
    pub fn after(&self, seq: u64) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .map(|s| &s.entry)
            .filter(move |e| e.seq > seq)
    }

    /// The entry an outgoing `key` made, if it is still kept.
    pub fn by_key(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|s| s.key.as_deref() == Some(key))
            .map(|s| &s.entry)
    }

    /// Whether a message with `id` is (still) in the history.
    pub fn has_message(&self, id: &str) -> bool {
        self.entries
            .iter()
            .any(|s| matches!(&s.entry.kind, EntryKind::Message { id: m, .. } if m == id))
    }

    /// The last seq handed out (0: none).
    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }
}

/// Typed access to the bridge's state.
#[derive(Clone)]
pub struct Store(Arc<dyn BridgeState>);

fn unavailable(detail: String) -> BridgeError {
    BridgeError::Unavailable {
        network: NETWORK.into(),
        detail,
    }
}

impl Store {
    pub fn new(state: Arc<dyn BridgeState>) -> Self {
        Store(state)
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, BridgeError> {
        match self
            .0
            .get(key)
            .map_err(|e| unavailable(format!("reading {key}: {e}")))?
        {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| unavailable(format!("{key} is unreadable: {e}"))),
        }
    }

    fn put<T: Serialize>(&self, key: &str, value: &T, durable: bool) -> Result<(), BridgeError> {
        let bytes = serde_json::to_vec(value).map_err(|e| unavailable(e.to_string()))?;
        let done = if durable {
            self.0.put(key, &bytes)
        } else {
            self.0.put_lazy(key, &bytes)
        };
        done.map_err(|e| unavailable(format!("writing {key}: {e}")))
    }

    pub fn session(&self, sid: &str) -> Result<Option<SessionRecord>, BridgeError> {
        self.get(&format!("session/{sid}"))
    }

    pub fn put_session(
        &self,
        sid: &str,
        r: &SessionRecord,
        durable: bool,
    ) -> Result<(), BridgeError> {
        self.put(&format!("session/{sid}"), r, durable)
    }

    pub fn history(&self, sid: &str) -> Result<History, BridgeError> {
        Ok(self.get(&format!("history/{sid}"))?.unwrap_or_default())
    }

    pub fn put_history(&self, sid: &str, h: &History, durable: bool) -> Result<(), BridgeError> {
        self.put(&format!("history/{sid}"), h, durable)
    }

    /// Drops an expired session and its history.
    pub fn drop_session(&self, sid: &str) -> Result<(), BridgeError> {
        for key in [format!("session/{sid}"), format!("history/{sid}")] {
            self.0
                .delete(&key)
                .map_err(|e| unavailable(format!("deleting {key}: {e}")))?;
        }
        Ok(())
    }

    pub fn delivery(&self, key: &str) -> Result<Option<Delivered>, BridgeError> {
        self.get(&format!("delivery/{key}"))
    }

    /// Lazy: losing it costs a look through the history, never a repeat.
    pub fn put_delivery(&self, key: &str, d: &Delivered) -> Result<(), BridgeError> {
        self.put(&format!("delivery/{key}"), d, false)
    }

    pub fn forget_delivery(&self, key: &str) -> Result<(), String> {
        self.0.delete(&format!("delivery/{key}"))
    }

    pub fn pending(&self) -> Result<BTreeMap<String, Inbound>, BridgeError> {
        Ok(self.get("pending")?.unwrap_or_default())
    }

    /// Durable: this write is what makes a taken message survive a crash.
    pub fn put_pending(&self, p: &BTreeMap<String, Inbound>) -> Result<(), BridgeError> {
        self.put("pending", p, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(t: &str) -> EntryKind {
        EntryKind::Notice { text: t.into() }
    }

    #[test]
    fn history_is_bounded_and_numbered_for_ever() {
        let mut h = History::default();
        for i in 0..5 {
            h.push(note(&i.to_string()), 0, Some(format!("k{i}")), 3);
        }
        assert_eq!(h.entries.len(), 3);
        assert_eq!(h.last_seq(), 5);
        let after: Vec<u64> = h.after(3).map(|e| e.seq).collect();
        assert_eq!(after, [4, 5]);
        assert_eq!(h.after(0).count(), 3, "what was trimmed cannot be replayed");
        assert_eq!(h.by_key("k4").map(|e| e.seq), Some(5));
        assert!(h.by_key("k0").is_none());
    }
}

//! What the bridge remembers in the core's `BridgeState`, and the transaction
//! ids derived from idempotency keys.
//!
//! Owns the key layout (`matrix/done/…`, `matrix/thread/…`,
//! `matrix/sync_token`, `matrix/first_start`) and its encoding; not the decision of when to
//! record. Invariant: a transaction id depends only on (key, step), so a
//! retry after a crash reuses it and the homeserver deduplicates the send.

use std::sync::Arc;

use handoff_bridge_api::{BridgeState, Delivered, Millis};
use matrix_sdk::ruma::OwnedTransactionId;
use sha2::{Digest, Sha256};

use crate::error::{rejected, unavailable};
use handoff_bridge_api::BridgeError;

/// A transaction id for step `step` of the action with idempotency key `key`:
/// `hf` + 32 hex digits of SHA-256, valid in any URL path segment.
pub fn txn_id(key: &str, step: &str) -> OwnedTransactionId {
    OwnedTransactionId::from(format!(
        "hf{}",
        digest_hex(&format!("{key}\u{0}{step}"), 16)
    ))
}

/// A room alias localpart that names the case room of `key` (servers
/// refuse a second room with the same alias, which makes room creation
/// idempotent even across a crash between create and record).
///
/// Keyed with `secret` (the bot's password): case keys are guessable, and
/// an alias anyone can compute could be taken first by someone who wants
/// the case's summary and messages.
pub fn case_alias_localpart(secret: &str, key: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"handoff case room\0");
    mac.update(key.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("handoff-case-{hex}")
}

fn digest_hex(input: &str, bytes: usize) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest
        .iter()
        .take(bytes)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Typed access to the bridge's durable state.
#[derive(Clone)]
pub struct Ledger {
    state: Arc<dyn BridgeState>,
}

impl Ledger {
    pub fn new(state: Arc<dyn BridgeState>) -> Self {
        Ledger { state }
    }

    /// What an earlier run delivered for `key`, if it completed.
    pub fn delivered(&self, key: &str) -> Result<Option<Delivered>, BridgeError> {
        let Some(bytes) = self.get(&done_key(key))? else {
            return Ok(None);
        };
        // Acting again could post twice; a corrupt record is refused (the
        // core parks the entry, where an operator sees it).
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            tracing::error!(error = %e, key, "corrupt delivery record");
            rejected(format!("the delivery record of {key} is corrupt: {e}"))
        })
    }

    /// Records that `key` was carried out with result `delivered`.
    ///
    /// Written lazily: the core marks the outbox entry done right after
    /// (a durable write, which carries this record along). Lost in a crash
    /// before that, the action runs again with the same transaction ids,
    /// which the homeserver deduplicates (room creation by its alias).
    pub fn record(&self, key: &str, delivered: &Delivered) -> Result<(), BridgeError> {
        let bytes = serde_json::to_vec(delivered)
            .map_err(|e| unavailable(format!("encoding a delivery record: {e}")))?;
        self.put_lazy(&done_key(key), &bytes)
    }

    /// Drops the delivery record of `key` (the core stored the delivery).
    pub fn forget(&self, key: &str) -> Result<(), BridgeError> {
        let k = done_key(key);
        self.state
            .delete(&k)
            .map_err(|e| unavailable(format!("removing bridge state {k}: {e}")))
    }

    /// The thread root of `user` in `room`, if one was chosen.
    pub fn thread_root(&self, room: &str, user: &str) -> Result<Option<String>, BridgeError> {
        match self.get(&thread_key(room, user))? {
            None => Ok(None),
            Some(b) => String::from_utf8(b).map(Some).map_err(|e| {
                tracing::error!(error = %e, room, user, "corrupt thread record");
                rejected(format!(
                    "the thread record of {user} in {room} is corrupt: {e}"
                ))
            }),
        }
    }

    /// Makes `root` the thread of `user` in `room`.
    pub fn set_thread_root(&self, room: &str, user: &str, root: &str) -> Result<(), BridgeError> {
        self.put(&thread_key(room, user), root.as_bytes())
    }

    /// The native thread that message `event` in `room` was posted in, if
    /// recorded (for edits, reactions and redactions of it, which carry no
    /// thread of their own).
    pub fn thread_of(&self, room: &str, event: &str) -> Result<Option<String>, BridgeError> {
        Ok(self
            .get(&message_thread_key(room, event))?
            .and_then(|b| String::from_utf8(b).ok()))
    }

    /// Records that message `event` in `room` is in thread `root`. Lazy:
    /// the core's durable commit of that very message follows and carries
    /// it.
    pub fn set_thread_of(&self, room: &str, event: &str, root: &str) -> Result<(), BridgeError> {
        self.put_lazy(&message_thread_key(room, event), root.as_bytes())
    }

    /// Whether `room` was joined as a customer's direct chat (an invite
    /// accepted by `auto_join`, not a configured customer room).
    pub fn is_direct_chat(&self, room: &str) -> Result<bool, BridgeError> {
        Ok(self.get(&direct_key(room))?.is_some())
    }

    /// Records that `room` was joined as a customer's direct chat.
    pub fn set_direct_chat(&self, room: &str) -> Result<(), BridgeError> {
        self.put(&direct_key(room), b"1")
    }

    /// The sync token after the last batch whose events were all forwarded.
    pub fn sync_token(&self) -> Result<Option<String>, BridgeError> {
        Ok(self
            .get(SYNC_TOKEN_KEY)?
            .and_then(|b| String::from_utf8(b).ok()))
    }

    /// Records that every event up to `token` was forwarded.
    ///
    /// Written lazily: a token lost in a crash only makes the next sync
    /// start from an older one, and the core drops the events it already
    /// stored (their ids are in its dedupe record).
    pub fn set_sync_token(&self, token: &str) -> Result<(), BridgeError> {
        self.put_lazy(SYNC_TOKEN_KEY, token.as_bytes())
    }

    /// Records a fresh device's first token, durably: without it a restart
    /// would take what arrived since for history.
    pub fn set_first_sync_token(&self, token: &str) -> Result<(), BridgeError> {
        self.put(SYNC_TOKEN_KEY, token.as_bytes())
    }

    /// When the bridge first started (events older than this are history),
    /// recording `now` on the very first call.
    pub fn first_start(&self, now: Millis) -> Result<Millis, BridgeError> {
        const KEY: &str = "matrix/first_start";
        if let Some(bytes) = self.get(KEY)? {
            if let Ok(arr) = <[u8; 8]>::try_from(bytes.as_slice()) {
                return Ok(Millis::from_be_bytes(arr));
            }
            tracing::warn!("unreadable first-start record; resetting it");
        }
        self.put(KEY, &now.to_be_bytes())?;
        Ok(now)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BridgeError> {
        self.state
            .get(key)
            .map_err(|e| unavailable(format!("reading bridge state {key}: {e}")))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), BridgeError> {
        self.state
            .put(key, value)
            .map_err(|e| unavailable(format!("writing bridge state {key}: {e}")))
    }

    fn put_lazy(&self, key: &str, value: &[u8]) -> Result<(), BridgeError> {
        self.state
            .put_lazy(key, value)
            .map_err(|e| unavailable(format!("writing bridge state {key}: {e}")))
    }
}

const SYNC_TOKEN_KEY: &str = "matrix/sync_token";

fn done_key(key: &str) -> String {
    format!("matrix/done/{}", digest_hex(key, 16))
}

fn direct_key(room: &str) -> String {
    format!("matrix/direct/{room}")
}

fn message_thread_key(room: &str, event: &str) -> String {
    format!("matrix/in-thread/{room}|{event}")
}

pub(crate) fn thread_key(room: &str, user: &str) -> String {
    format!("matrix/thread/{room}|{user}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_bridge_api::MemoryState;

    #[test]
    fn only_a_fresh_device_s_first_token_is_written_durably() {
        let mem = Arc::new(MemoryState::default());
        let ledger = Ledger::new(mem.clone());
        ledger.set_first_sync_token("s0").unwrap();
        ledger.set_sync_token("s1").unwrap();
        ledger.record("k", &Delivered::Done).unwrap();
        assert_eq!(ledger.sync_token().unwrap().as_deref(), Some("s1"));
        let durable: Vec<bool> = mem.writes().iter().map(|w| w.1).collect();
        assert_eq!(durable, [true, false, false]);
    }

    #[test]
    fn txn_ids_are_stable_distinct_and_url_safe() {
        let a = txn_id("case-7/open", "summary");
        assert_eq!(a, txn_id("case-7/open", "summary"));
        assert_ne!(a, txn_id("case-7/open", "pin"));
        assert_ne!(a, txn_id("case-8/open", "summary"));
        assert_eq!(a.as_str().len(), 34);
        assert!(a.as_str().chars().all(|c| c.is_ascii_alphanumeric()));
        let weird = txn_id("ключ / with spaces?&#", "");
        assert!(weird.as_str().chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn case_alias_is_a_valid_localpart() {
        let a = case_alias_localpart("pw", "out:42");
        assert!(a.starts_with("handoff-case-"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(a, case_alias_localpart("pw", "out:42"));
        assert_ne!(a, case_alias_localpart("pw", "out:43"));
    }

    #[test]
    fn case_alias_needs_the_secret() {
        let a = case_alias_localpart("pw", "out:42");
        assert_ne!(a, case_alias_localpart("other", "out:42"));
        // Not the unkeyed digest an attacker could compute from the key.
        assert_ne!(a, format!("handoff-case-{}", digest_hex("out:42", 12)));
        assert_ne!(a, format!("handoff-case-{}", digest_hex("out:42", 16)));
    }

    #[test]
    fn ledger_round_trips() {
        let ledger = Ledger::new(Arc::new(MemoryState::default()));
        assert_eq!(ledger.delivered("k").unwrap(), None);
        ledger.record("k", &Delivered::Done).unwrap();
        assert_eq!(ledger.delivered("k").unwrap(), Some(Delivered::Done));
        ledger.set_thread_root("!r:x", "@a:x", "$root").unwrap();
        assert_eq!(
            ledger.thread_root("!r:x", "@a:x").unwrap().as_deref(),
            Some("$root")
        );
        assert!(!ledger.is_direct_chat("!dm:x").unwrap());
        ledger.set_direct_chat("!dm:x").unwrap();
        assert!(ledger.is_direct_chat("!dm:x").unwrap());
        assert!(!ledger.is_direct_chat("!other:x").unwrap());
        assert_eq!(ledger.first_start(5).unwrap(), 5);
        assert_eq!(ledger.first_start(9).unwrap(), 5);
    }

    #[test]
    fn corrupt_records_are_reported_not_reset() {
        let mem = Arc::new(MemoryState::default());
        let ledger = Ledger::new(mem.clone());
        mem.put(&done_key("k"), b"{not json").unwrap();
        let err = ledger.delivered("k").unwrap_err();
        assert!(matches!(err, BridgeError::Rejected { .. }), "{err}");
        assert!(err.to_string().contains("corrupt"), "{err}");
        mem.put(&thread_key("!r:x", "@a:x"), &[0xff, 0xfe]).unwrap();
        let err = ledger.thread_root("!r:x", "@a:x").unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}

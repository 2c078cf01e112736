//! The trees of the sled backend and the writes done inside a transaction.
//!
//! [`Tx`] is a view over every tree in one sled transaction; its methods
//! write one record *and* the index entries that follow from it, so no
//! caller can update a case and forget an index. It does no flushing and no
//! reads outside the transaction.
//! Invariant: a write never replaces a record that fails to decode; it
//! aborts the whole transaction with `CorruptRecord` instead.

use std::path::Path;

use ::sled::transaction::{ConflictableTransactionError, TransactionalTree};
use ::sled::IVec;
use handoff_bridge_api::{MessageRef, Millis};
use serde::{de::DeserializeOwned, Serialize};

use crate::case::{Case, Conversation, ConversationKey, OutboxEntry};
use crate::store::codec;
use crate::store::{Parked, StoreError};

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// One sled tree per kind of record or index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum T {
    /// Format version and counters.
    Meta,
    /// Inbound event id → commit time.
    Seen,
    /// (commit time, event id) → (), for pruning.
    SeenByTime,
    /// Conversation key → `Conversation`.
    Conversations,
    /// Case id → `Case`.
    Cases,
    /// Desk endpoint → case id.
    CaseByDesk,
    /// (network, user id, case id) → ().
    CasesByCustomer,
    /// Case id → () while the case is open.
    OpenCases,
    /// (opened at, case id) → ().
    CasesByOpened,
    /// Sequence number → `OutboxEntry`.
    Outbox,
    /// (message, twin) → twin `MessageRef`.
    Twins,
    /// (bridge, key) → raw bytes.
    Bridge,
    /// (case id, turn index) → `Turn`; case id alone → turn count.
    Turns,
    /// Sequence number → `Parked` (an outbox entry that failed for good).
    Parked,
}

impl T {
    pub(super) const ALL: [T; 14] = [
        T::Meta,
        T::Seen,
        T::SeenByTime,
        T::Conversations,
        T::Cases,
        T::CaseByDesk,
        T::CasesByCustomer,
        T::OpenCases,
        T::CasesByOpened,
        T::Outbox,
        T::Twins,
        T::Bridge,
        T::Turns,
        T::Parked,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            T::Meta => "meta",
            T::Seen => "seen",
            T::SeenByTime => "seen_by_time",
            T::Conversations => "conversations",
            T::Cases => "cases",
            T::CaseByDesk => "case_by_desk",
            T::CasesByCustomer => "cases_by_customer",
            T::OpenCases => "open_cases",
            T::CasesByOpened => "cases_by_opened",
            T::Outbox => "outbox",
            T::Twins => "twins",
            T::Bridge => "bridge",
            T::Turns => "turns",
            T::Parked => "outbox_parked",
        }
    }

    /// Keys are big-endian ids (shown as numbers in errors).
    pub(super) fn id_keyed(self) -> bool {
        matches!(self, T::Cases | T::OpenCases | T::Outbox | T::Parked)
    }
}

pub(super) const VERSION_KEY: &[u8] = b"format_version";
pub(super) const LAST_CASE_ID: &[u8] = b"last_case_id";
const LAST_OUTBOX_SEQ: &[u8] = b"last_outbox_seq";

/// Every tree, inside one transaction.
pub(super) struct Tx<'a> {
    pub(super) trees: &'a [TransactionalTree],
    pub(super) path: &'a Path,
}

fn abort<A>(e: StoreError) -> TxResult<A> {
    Err(ConflictableTransactionError::Abort(e))
}

impl Tx<'_> {
    fn t(&self, t: T) -> &TransactionalTree {
        &self.trees[t as usize]
    }

    fn corrupt(&self, t: T, key: &[u8], detail: impl ToString) -> StoreError {
        StoreError::corrupt_record(
            self.path,
            t.name(),
            codec::show_key(key, t.id_keyed()),
            detail,
        )
    }

    fn decode<V: DeserializeOwned>(&self, t: T, key: &[u8], bytes: &IVec) -> TxResult<V> {
        codec::decode(bytes).or_else(|e| abort(self.corrupt(t, key, e)))
    }

    fn encode<V: Serialize>(&self, what: &'static str, v: &V) -> TxResult<Vec<u8>> {
        codec::encode(v).or_else(|e| {
            abort(StoreError::Encode {
                path: self.path.to_path_buf(),
                what,
                detail: e.to_string(),
            })
        })
    }

    /// Records the event as handled; aborts if it already was.
    pub(super) fn mark_seen(&self, event_id: &str, at: Millis) -> TxResult<()> {
        let old = self
            .t(T::Seen)
            .insert(event_id.as_bytes(), &codec::millis_key(at))?;
        if old.is_some() {
            return abort(StoreError::AlreadySeen {
                event_id: event_id.to_string(),
            });
        }
        self.t(T::SeenByTime)
            .insert(codec::seen_time_key(at, event_id), &[])?;
        Ok(())
    }

    pub(super) fn put_conversation(&self, conv: &Conversation) -> TxResult<()> {
        let key = conv.key.0.as_bytes();
        if let Some(old) = self.t(T::Conversations).get(key)? {
            self.decode::<Conversation>(T::Conversations, key, &old)?;
        }
        let bytes = self.encode("a conversation", conv)?;
        self.t(T::Conversations).insert(key, bytes)?;
        Ok(())
    }

    /// Writes a case and moves its index entries from the old version.
    pub(super) fn put_case(&self, case: &Case) -> TxResult<()> {
        let key = codec::id_key(case.id);
        let id_value = key;
        let old: Option<Case> = match self.t(T::Cases).get(key)? {
            Some(bytes) => Some(self.decode(T::Cases, &key, &bytes)?),
            None => None,
        };
        let user = &case.customer.user;
        if let Some(old) = &old {
            if let Some(d) = &old.desk {
                let desk_key = codec::endpoint_key(&d.endpoint);
                let owner = self.t(T::CaseByDesk).get(&desk_key)?;
                if owner.as_deref() == Some(&id_value[..]) {
                    self.t(T::CaseByDesk).remove(desk_key)?;
                }
            }
            let ou = &old.customer.user;
            self.t(T::CasesByCustomer)
                .remove(codec::customer_key(&ou.network, &ou.id, old.id))?;
            self.t(T::CasesByOpened)
                .remove(codec::opened_key(old.opened_at, old.id))?;
        }
        if let Some(d) = &case.desk {
            self.t(T::CaseByDesk)
                .insert(codec::endpoint_key(&d.endpoint), &id_value)?;
        }
        self.t(T::CasesByCustomer)
            .insert(codec::customer_key(&user.network, &user.id, case.id), &[])?;
        self.t(T::CasesByOpened)
            .insert(codec::opened_key(case.opened_at, case.id), &[])?;
        if case.state.is_open() {
            self.t(T::OpenCases).insert(&key, &[])?;
        } else {
            self.t(T::OpenCases).remove(&key)?;
        }
        self.append_turns(case)?;
        let bytes = self.encode("a case", case)?;
        self.t(T::Cases).insert(&key, bytes)?;
        Ok(())
    }

    /// Overwrites stored turn `index` of `case` with the case's version
    /// (turns are otherwise only appended); one past the stored ones was
    /// just appended by [`Tx::put_case`] and is written again harmlessly.
    pub fn rewrite_turn(&self, case: &Case, index: usize) -> TxResult<()> {
        let (Some(turn), Ok(i)) = (case.transcript.get(index), u32::try_from(index)) else {
            return Ok(());
        };
        let bytes = self.encode("a transcript turn", turn)?;
        self.t(T::Turns)
            .insert(&codec::turn_key(case.id, i), bytes)?;
        Ok(())
    }

    /// Stores the turns of `case.transcript` the store does not hold yet
    /// and the new count; aborts if the case holds fewer than stored.
    fn append_turns(&self, case: &Case) -> TxResult<()> {
        let count_key = codec::id_key(case.id);
        let stored = match self.t(T::Turns).get(count_key)? {
            Some(v) => match codec::read_id(&v) {
                Some(n) => n as usize,
                None => return abort(self.corrupt(T::Turns, &count_key, "not a turn count")),
            },
            None => 0,
        };
        let held = case.transcript.len();
        if held < stored {
            return abort(StoreError::TranscriptBehind {
                path: self.path.to_path_buf(),
                case: case.id,
                held,
                stored,
            });
        }
        if held == stored {
            return Ok(());
        }
        for (i, turn) in case.transcript.iter().enumerate().skip(stored) {
            let Ok(index) = u32::try_from(i) else {
                return abort(StoreError::Encode {
                    path: self.path.to_path_buf(),
                    what: "a transcript turn",
                    detail: format!("case {} has more than {} turns", case.id, u32::MAX),
                });
            };
            let bytes = self.encode("a transcript turn", turn)?;
            self.t(T::Turns)
                .insert(&codec::turn_key(case.id, index), bytes)?;
        }
        self.t(T::Turns)
            .insert(&count_key, &codec::id_key(held as u64))?;
        Ok(())
    }

    /// Stores each pair in both directions.
    pub(super) fn put_twins(&self, mappings: &[(MessageRef, MessageRef)]) -> TxResult<()> {
        for (a, b) in mappings {
            let (ea, eb) = (
                self.encode("a message ref", a)?,
                self.encode("a message ref", b)?,
            );
            self.t(T::Twins).insert(codec::twin_key(a, b), eb)?;
            self.t(T::Twins).insert(codec::twin_key(b, a), ea)?;
        }
        Ok(())
    }

    /// Removes a conversation's record; whether there was one.
    pub(super) fn remove_conversation(&self, key: &ConversationKey) -> TxResult<bool> {
        Ok(self.t(T::Conversations).remove(key.0.as_bytes())?.is_some())
    }

    /// Removes outbox entry `seq`, pending or parked; whether there was one.
    pub(super) fn remove_outbox(&self, seq: u64) -> TxResult<bool> {
        let key = codec::id_key(seq);
        let pending = self.t(T::Outbox).remove(&key)?.is_some();
        let parked = self.t(T::Parked).remove(&key)?.is_some();
        Ok(pending || parked)
    }

    /// Removes a bridge record; whether there was one.
    pub(super) fn remove_bridge(&self, bridge: &str, key: &str) -> TxResult<bool> {
        Ok(self
            .t(T::Bridge)
            .remove(codec::bridge_key(bridge, key))?
            .is_some())
    }

    /// Removes each pair in both directions; how many pairs were there.
    pub(super) fn remove_twins(&self, pairs: &[(MessageRef, MessageRef)]) -> TxResult<usize> {
        let mut removed = 0;
        for (a, b) in pairs {
            let one = self.t(T::Twins).remove(codec::twin_key(a, b))?.is_some();
            let other = self.t(T::Twins).remove(codec::twin_key(b, a))?.is_some();
            removed += usize::from(one || other);
        }
        Ok(removed)
    }

    /// Queues an entry under the next sequence number.
    pub(super) fn push_outbox(&self, entry: &OutboxEntry) -> TxResult<u64> {
        let last = match self.t(T::Meta).get(LAST_OUTBOX_SEQ)? {
            Some(v) => match codec::read_id(&v) {
                Some(n) => n,
                None => return abort(self.corrupt(T::Meta, LAST_OUTBOX_SEQ, "not a counter")),
            },
            None => 0,
        };
        let seq = last + 1;
        self.t(T::Meta)
            .insert(LAST_OUTBOX_SEQ, &codec::id_key(seq))?;
        let bytes = self.encode("an outbox entry", entry)?;
        self.t(T::Outbox).insert(&codec::id_key(seq), bytes)?;
        Ok(seq)
    }

    /// Replaces a pending entry; aborts if it is gone or unreadable.
    pub(super) fn replace_outbox(&self, seq: u64, entry: &OutboxEntry) -> TxResult<()> {
        let key = codec::id_key(seq);
        match self.t(T::Outbox).get(key)? {
            Some(old) => self.decode::<OutboxEntry>(T::Outbox, &key, &old)?,
            None => return abort(StoreError::UnknownOutboxEntry { seq }),
        };
        let bytes = self.encode("an outbox entry", entry)?;
        self.t(T::Outbox).insert(&key, bytes)?;
        Ok(())
    }

    /// Removes a delivered entry; aborts if it is gone.
    pub(super) fn take_outbox(&self, seq: u64) -> TxResult<()> {
        match self.t(T::Outbox).remove(&codec::id_key(seq))? {
            Some(_) => Ok(()),
            None => abort(StoreError::UnknownOutboxEntry { seq }),
        }
    }

    /// Moves a pending entry to the parked ones; aborts if it is gone or
    /// unreadable.
    pub(super) fn park_outbox(&self, seq: u64, reason: &str) -> TxResult<()> {
        let key = codec::id_key(seq);
        let entry = match self.t(T::Outbox).remove(&key)? {
            Some(bytes) => self.decode::<OutboxEntry>(T::Outbox, &key, &bytes)?,
            None => return abort(StoreError::UnknownOutboxEntry { seq }),
        };
        let parked = Parked {
            entry,
            reason: reason.to_string(),
        };
        let bytes = self.encode("a parked outbox entry", &parked)?;
        self.t(T::Parked).insert(&key, bytes)?;
        Ok(())
    }

    /// Moves a parked entry back to the pending ones, attempts reset.
    pub(super) fn unpark_outbox(&self, seq: u64) -> TxResult<()> {
        let key = codec::id_key(seq);
        let mut parked = match self.t(T::Parked).remove(&key)? {
            Some(bytes) => self.decode::<Parked>(T::Parked, &key, &bytes)?,
            None => return abort(StoreError::UnknownOutboxEntry { seq }),
        };
        parked.entry.attempts = 0;
        let bytes = self.encode("an outbox entry", &parked.entry)?;
        self.t(T::Outbox).insert(&key, bytes)?;
        Ok(())
    }

    /// Forgets one dedupe id, given its by-time index key.
    pub(super) fn forget_seen(&self, time_key: &[u8]) -> TxResult<()> {
        self.t(T::SeenByTime).remove(time_key)?;
        if let Some(event_id) = time_key.get(8..) {
            self.t(T::Seen).remove(event_id)?;
        }
        Ok(())
    }

    /// Hands out the next case id.
    pub(super) fn next_case_id(&self) -> TxResult<u64> {
        let last = match self.t(T::Meta).get(LAST_CASE_ID)? {
            Some(v) => match codec::read_id(&v) {
                Some(n) => n,
                None => return abort(self.corrupt(T::Meta, LAST_CASE_ID, "not a counter")),
            },
            None => 0,
        };
        self.t(T::Meta)
            .insert(LAST_CASE_ID, &codec::id_key(last + 1))?;
        Ok(last + 1)
    }
}

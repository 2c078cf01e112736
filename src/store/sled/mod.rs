//! [`SledStore`]: the durable backend, one sled database per handoff.
//!
//! One tree per kind of record or index (see `tx::T`), JSON values,
//! big-endian id keys. A case's transcript turns are records of their own
//! under the case id, appended to, so writing a case costs the same however
//! long its transcript is. Multi-record writes run in one sled transaction over
//! all trees (sled retries it on conflict), and every write is flushed before
//! the call returns, except `bridge_put_lazy`'s, which the next flush
//! carries. Opening and its refusals live in `open`.
//! Invariant: sled data that matters is flushed before it is acknowledged,
//! and indexes change only together with the record they index.

mod open;
mod precheck;
#[cfg(test)]
mod tests;
mod tx;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use ::sled::transaction::{TransactionError, TransactionalTree};
use ::sled::Transactional;
use handoff_bridge_api::{Endpoint, MessageRef, Millis};
use serde::de::DeserializeOwned;

use self::open::sled_error;
use self::tx::{Tx, T};
use super::{codec, Commit, Erased, Erasure, Parked, Store, StoreError};
use crate::case::{Case, CaseId, Conversation, ConversationKey, OutboxEntry, Turn};

/// How many dedupe ids one pruning transaction removes at most.
const PRUNE_BATCH: usize = 1024;

/// A lazily written record waits for another write's flush at most this
/// long after the last flush (see [`Store::bridge_put_lazy`]).
const LAZY_FLUSH_MS: u64 = 1000;

/// The sled-backed [`Store`].
pub struct SledStore {
    db: ::sled::Db,
    trees: Vec<::sled::Tree>,
    path: PathBuf,
    opened: Instant,
    /// When the last flush ended, in ms since `opened`.
    flushed_at_ms: AtomicU64,
    /// Every write holds it shared; [`SledStore::copy_to`] holds it
    /// exclusively, so that its copy is of one point in time.
    gate: RwLock<()>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SledStore {
    /// Opens (or creates) the store at `path`. Fails without changing
    /// anything if it is in use, damaged, not a store, or from a newer
    /// handoff.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let (db, trees) = open::open_db(&path)?;
        Ok(SledStore {
            db,
            trees,
            path,
            opened: Instant::now(),
            flushed_at_ms: AtomicU64::new(0),
            gate: RwLock::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key and value of every tree, for tests that look for a trace.
    #[cfg(test)]
    pub(crate) fn raw_records(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (_, _, rows) in self.db.export() {
            for row in rows {
                out.extend(row);
            }
        }
        out
    }

    /// Copies every record into a new store at `to` (which must not
    /// exist yet), as of one point in time: writes wait while the copy
    /// runs. The copy is a store of its own, opened with [`SledStore::open`].
    pub fn copy_to(&self, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Io {
                path: to.to_path_buf(),
                op: "creating the copy",
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        let _quiet = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.flush()?;
        let copy = ::sled::Config::new()
            .path(to)
            .flush_every_ms(None)
            .open()
            .map_err(|e| sled_error(to, "creating the copy", e))?;
        // sled's import panics on an I/O error instead of returning it.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            copy.import(self.db.export())
        }))
        .map_err(|_| StoreError::Backend {
            path: to.to_path_buf(),
            op: "writing the copy",
            detail: "sled failed while importing (an I/O error; see the log)".into(),
        })?;
        copy.flush()
            .map_err(|e| sled_error(to, "flushing the copy", e))?;
        Ok(())
    }

    fn tree(&self, t: T) -> &::sled::Tree {
        &self.trees[t as usize]
    }

    fn err(&self, op: &'static str) -> impl FnOnce(::sled::Error) -> StoreError + '_ {
        move |e| sled_error(&self.path, op, e)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(self.err("flushing"))?;
        // `fetch_max`: a racing flush that finished earlier must not move
        // the mark back.
        self.flushed_at_ms
            .fetch_max(self.elapsed_ms(), Ordering::Relaxed);
        Ok(())
    }

    /// Writes a bridge record without flushing.
    fn bridge_insert(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let _open = self.gate.read().unwrap_or_else(|e| e.into_inner());
        self.tree(T::Bridge)
            .insert(codec::bridge_key(bridge, key), value)
            .map_err(self.err("writing bridge state"))?;
        Ok(())
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn flushed_ms_ago(&self) -> u64 {
        self.elapsed_ms()
            .saturating_sub(self.flushed_at_ms.load(Ordering::Relaxed))
    }

    /// Runs `f` in one transaction over every tree, then flushes.
    fn write<A>(
        &self,
        op: &'static str,
        f: impl Fn(&Tx<'_>) -> tx::TxResult<A>,
    ) -> Result<A, StoreError> {
        let _open = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let result = self
            .trees
            .as_slice()
            .transaction(|trees: &Vec<TransactionalTree>| {
                f(&Tx {
                    trees,
                    path: &self.path,
                })
            });
        let value = match result {
            Ok(v) => v,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(sled_error(&self.path, op, e)),
        };
        self.flush()?;
        Ok(value)
    }

    fn decode<V: DeserializeOwned>(&self, t: T, key: &[u8], bytes: &[u8]) -> Result<V, StoreError> {
        codec::decode(bytes).map_err(|e| {
            StoreError::corrupt_record(&self.path, t.name(), codec::show_key(key, t.id_keyed()), e)
        })
    }

    fn get<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>, StoreError> {
        match self.tree(t).get(key).map_err(self.err("reading"))? {
            Some(bytes) => self.decode(t, key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads an 8-byte id from an index value or key suffix.
    fn index_id(&self, t: T, key: &[u8], bytes: &[u8]) -> Result<CaseId, StoreError> {
        codec::read_id(bytes).ok_or_else(|| {
            StoreError::corrupt_record(
                &self.path,
                t.name(),
                codec::show_key(key, false),
                "not a case id",
            )
        })
    }

    /// A case record; with its transcript when `turns`.
    fn load_case(&self, id: CaseId, turns: bool) -> Result<Option<Case>, StoreError> {
        let Some(mut case) = self.get::<Case>(T::Cases, &codec::id_key(id))? else {
            return Ok(None);
        };
        if turns {
            case.transcript = self.turns(id)?;
        }
        Ok(Some(case))
    }

    /// Case `id`'s transcript: its count record, then every turn below the
    /// count, in order. A missing turn is a corrupt record. Turns are never
    /// rewritten, only appended (count and turns in one transaction), so
    /// turns beyond the count read here belong to a write that came after
    /// it and are left for the next read: a reader racing the case's
    /// worker sees a whole transcript as of one moment.
    fn turns(&self, id: CaseId) -> Result<Vec<Turn>, StoreError> {
        let prefix = codec::id_key(id);
        let bad = |key: &[u8], detail: &str| {
            StoreError::corrupt_record(
                &self.path,
                T::Turns.name(),
                codec::show_key(key, false),
                detail,
            )
        };
        let count = match self
            .tree(T::Turns)
            .get(prefix)
            .map_err(self.err("reading a transcript"))?
        {
            None => return Ok(Vec::new()),
            Some(v) => codec::read_id(&v).ok_or_else(|| bad(&prefix, "not a turn count"))? as usize,
        };
        // Capped: a damaged count must end as a corrupt record, not an
        // allocation failure.
        let mut out = Vec::with_capacity(count.min(4096));
        // The count record itself (the bare prefix) sorts first.
        for kv in self.tree(T::Turns).scan_prefix(prefix).skip(1) {
            if out.len() == count {
                break;
            }
            let (key, value) = kv.map_err(self.err("reading a transcript"))?;
            let index = <[u8; 4]>::try_from(&key[8..]).ok().map(u32::from_be_bytes);
            if index != Some(out.len() as u32) {
                return Err(bad(&key, "a transcript turn out of sequence"));
            }
            out.push(self.decode(T::Turns, &key, &value)?);
        }
        if out.len() != count {
            return Err(bad(
                &prefix,
                &format!("the case has {count} turns but {} are stored", out.len()),
            ));
        }
        Ok(out)
    }

    /// Loads cases listed by an index (with their transcripts when
    /// `turns`); a missing one means a broken index.
    fn load_cases(&self, index: T, ids: &[CaseId], turns: bool) -> Result<Vec<Case>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.load_case(id, turns)? {
                Some(case) => out.push(case),
                None => {
                    return Err(StoreError::corrupt_record(
                        &self.path,
                        index.name(),
                        id.to_string(),
                        "lists a case that does not exist",
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Ids at the end (last 8 bytes) of every key of an index scan.
    fn ids_in(&self, t: T, iter: ::sled::Iter) -> Result<Vec<CaseId>, StoreError> {
        let mut ids = Vec::new();
        for kv in iter {
            let (key, _) = kv.map_err(self.err("scanning an index"))?;
            let tail = key.len().checked_sub(8).map_or(&[][..], |at| &key[at..]);
            ids.push(self.index_id(t, &key, tail)?);
        }
        Ok(ids)
    }
}

impl Store for SledStore {
    fn commit(&self, c: &Commit) -> Result<Vec<u64>, StoreError> {
        self.write("committing", |tx| {
            // First, so a redelivered event is refused as such whatever
            // else the commit holds (an abort discards everything anyway).
            if let Some(id) = &c.seen_event {
                tx.mark_seen(id, c.at)?;
            }
            if let Some(conv) = &c.conversation {
                tx.put_conversation(conv)?;
            }
            for case in &c.cases {
                tx.put_case(case)?;
            }
            for (id, index) in &c.rewritten_turns {
                if let Some(case) = c.cases.iter().find(|x| x.id == *id) {
                    tx.rewrite_turn(case, *index)?;
                }
            }
            let mut seqs = Vec::with_capacity(c.outbox.len());
            for entry in &c.outbox {
                seqs.push(tx.push_outbox(entry)?);
            }
            tx.put_twins(&c.mappings)?;
            Ok(seqs)
        })
    }

    fn is_seen(&self, event_id: &str) -> Result<bool, StoreError> {
        self.tree(T::Seen)
            .contains_key(event_id.as_bytes())
            .map_err(self.err("reading dedupe ids"))
    }

    fn conversation(&self, key: &ConversationKey) -> Result<Option<Conversation>, StoreError> {
        self.get(T::Conversations, key.0.as_bytes())
    }

    fn conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(T::Conversations).iter() {
            let (key, value) = kv.map_err(self.err("reading conversations"))?;
            out.push(self.decode(T::Conversations, &key, &value)?);
        }
        Ok(out)
    }

    fn next_case_id(&self) -> Result<CaseId, StoreError> {
        self.write("allocating a case id", |tx| tx.next_case_id())
    }

    fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        self.load_case(id, true)
    }

    fn case_head(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        self.load_case(id, false)
    }

    fn case_by_desk(&self, endpoint: &Endpoint) -> Result<Option<CaseId>, StoreError> {
        let key = codec::endpoint_key(endpoint);
        match self
            .tree(T::CaseByDesk)
            .get(&key)
            .map_err(self.err("reading"))?
        {
            Some(v) => self.index_id(T::CaseByDesk, &key, &v).map(Some),
            None => Ok(None),
        }
    }

    fn cases_of_customer(&self, network: &str, user_id: &str) -> Result<Vec<CaseId>, StoreError> {
        let prefix = codec::customer_prefix(network, user_id);
        let iter = self.tree(T::CasesByCustomer).scan_prefix(prefix);
        let mut ids = self.ids_in(T::CasesByCustomer, iter)?;
        ids.reverse();
        Ok(ids)
    }

    fn open_cases(&self) -> Result<Vec<Case>, StoreError> {
        let ids = self.ids_in(T::OpenCases, self.tree(T::OpenCases).iter())?;
        self.load_cases(T::OpenCases, &ids, false)
    }

    fn cases_since(&self, since: Millis) -> Result<Vec<Case>, StoreError> {
        let from = codec::opened_key(since, 0);
        let iter = self.tree(T::CasesByOpened).range(from..);
        let mut ids = self.ids_in(T::CasesByOpened, iter)?;
        ids.sort_unstable();
        self.load_cases(T::CasesByOpened, &ids, false)
    }

    fn twins(&self, m: &MessageRef) -> Result<Vec<MessageRef>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(T::Twins).scan_prefix(codec::message_key(m)) {
            let (key, value) = kv.map_err(self.err("reading twins"))?;
            out.push(self.decode::<MessageRef>(T::Twins, &key, &value)?);
        }
        out.sort();
        Ok(out)
    }

    fn outbox_pending(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(T::Outbox).iter() {
            let (key, value) = kv.map_err(self.err("reading the outbox"))?;
            let seq = self.index_id(T::Outbox, &key, &key)?;
            out.push((seq, self.decode(T::Outbox, &key, &value)?));
        }
        Ok(out)
    }

    fn outbox_pending_after(
        &self,
        after: u64,
        limit: usize,
        keep: &dyn Fn(&OutboxEntry) -> bool,
    ) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let mut out = Vec::new();
        let Some(from) = after.checked_add(1) else {
            return Ok(out);
        };
        for kv in self.tree(T::Outbox).range(codec::id_key(from)..) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = kv.map_err(self.err("reading the outbox"))?;
            let seq = self.index_id(T::Outbox, &key, &key)?;
            let entry: OutboxEntry = self.decode(T::Outbox, &key, &value)?;
            if keep(&entry) {
                out.push((seq, entry));
            }
        }
        Ok(out)
    }

    fn erase(&self, e: &Erasure) -> Result<Erased, StoreError> {
        // Found before the write (a transaction cannot scan); the caller
        // keeps new writes for these conversations out meanwhile.
        let mut seqs = Vec::new();
        if !e.conversations.is_empty() {
            let ours = |c: &ConversationKey| e.conversations.contains(c);
            for (seq, entry) in self.outbox_pending()? {
                if ours(&entry.conversation) {
                    seqs.push(seq);
                }
            }
            for (seq, parked) in self.outbox_parked()? {
                if ours(&parked.entry.conversation) {
                    seqs.push(seq);
                }
            }
        }
        let mut pairs = Vec::new();
        for m in &e.messages {
            for twin in self.twins(m)? {
                pairs.push((m.clone(), twin));
            }
        }
        self.write("erasing", |tx| {
            let mut done = Erased::default();
            for key in &e.conversations {
                done.conversations += usize::from(tx.remove_conversation(key)?);
            }
            for case in &e.cases {
                tx.put_case(case)?;
                for i in 0..case.transcript.len() {
                    tx.rewrite_turn(case, i)?;
                }
                done.cases += 1;
                done.turns += case.transcript.len();
            }
            for seq in &seqs {
                done.outbox_entries += usize::from(tx.remove_outbox(*seq)?);
            }
            done.twins = tx.remove_twins(&pairs)?;
            for (bridge, key) in &e.bridge_records {
                done.bridge_records += usize::from(tx.remove_bridge(bridge, key)?);
            }
            Ok(done)
        })
    }

    fn outbox_update(&self, seq: u64, entry: &OutboxEntry) -> Result<(), StoreError> {
        self.write("updating an outbox entry", |tx| {
            tx.replace_outbox(seq, entry)
        })
    }

    fn outbox_done(
        &self,
        seq: u64,
        mappings: &[(MessageRef, MessageRef)],
        cases: &[Case],
    ) -> Result<(), StoreError> {
        self.write("completing an outbox entry", |tx| {
            tx.take_outbox(seq)?;
            tx.put_twins(mappings)?;
            for case in cases {
                tx.put_case(case)?;
            }
            Ok(())
        })
    }

    fn outbox_park(&self, seq: u64, reason: &str) -> Result<(), StoreError> {
        self.write("parking an outbox entry", |tx| tx.park_outbox(seq, reason))
    }

    fn outbox_parked(&self) -> Result<Vec<(u64, Parked)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(T::Parked).iter() {
            let (key, value) = kv.map_err(self.err("reading the parked outbox entries"))?;
            let seq = self.index_id(T::Parked, &key, &key)?;
            out.push((seq, self.decode(T::Parked, &key, &value)?));
        }
        Ok(out)
    }

    fn outbox_unpark(&self, seq: u64) -> Result<(), StoreError> {
        self.write("retrying a parked outbox entry", |tx| tx.unpark_outbox(seq))
    }

    fn bridge_get(&self, bridge: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .tree(T::Bridge)
            .get(codec::bridge_key(bridge, key))
            .map_err(self.err("reading bridge state"))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn bridge_put(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bridge_insert(bridge, key, value)?;
        self.flush()
    }

    fn bridge_put_lazy(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.bridge_insert(bridge, key, value)?;
        // sled writes one log: the next flush, whatever it is for, makes
        // this record durable too.
        if self.flushed_ms_ago() >= LAZY_FLUSH_MS {
            self.flush()?;
        }
        Ok(())
    }

    fn bridge_delete(&self, bridge: &str, key: &str) -> Result<(), StoreError> {
        self.tree(T::Bridge)
            .remove(codec::bridge_key(bridge, key))
            .map_err(self.err("removing bridge state"))?;
        self.flush()
    }

    fn prune_seen(&self, older_than: Millis) -> Result<usize, StoreError> {
        let end = codec::millis_key(older_than);
        let mut removed = 0;
        loop {
            let mut batch = Vec::with_capacity(PRUNE_BATCH);
            for kv in self.tree(T::SeenByTime).range(..end).take(PRUNE_BATCH) {
                batch.push(kv.map_err(self.err("scanning dedupe ids"))?.0);
            }
            if batch.is_empty() {
                return Ok(removed);
            }
            self.write("pruning dedupe ids", |tx| {
                batch.iter().try_for_each(|key| tx.forget_seen(key))
            })?;
            removed += batch.len();
        }
    }
}

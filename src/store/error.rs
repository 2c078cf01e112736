//! [`StoreError`]: what went wrong in the store, said so an operator can act.
//!
//! Every variant names the store path (or `<memory>`) and, for a bad record,
//! the tree and key. It never carries record values: bridge state may hold
//! sync tokens, and transcripts hold what customers wrote.
//! Invariant: a `Locked`, `Corrupt*` or `NewerFormat` error from `open`
//! means nothing in the store was changed.

use std::path::{Path, PathBuf};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another handle in this one) holds the store.
    #[error(
        "the store at {} is in use by another handoff process{}; stop it, or point `[bot] store` at another directory",
        .path.display(),
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked { path: PathBuf, pid: Option<u32> },

    /// The store's files are damaged (sled detected corruption, or the
    /// directory is not a handoff store).
    #[error(
        "the store at {} is corrupt ({detail}); it was left as it is: restore a backup or move it aside",
        .path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    /// One record does not decode. It is reported, never skipped or
    /// overwritten.
    #[error(
        "the store at {} has a corrupt record in `{tree}` at key {key} ({detail}); it was left as it is",
        .path.display()
    )]
    CorruptRecord {
        path: PathBuf,
        tree: &'static str,
        key: String,
        detail: String,
    },

    /// Written by a newer handoff with a format this build does not know.
    #[error(
        "the store at {} has format version {found}, but this handoff understands up to {supported}; run a newer handoff",
        .path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// Reading or writing the files failed (disk full, permissions, ...).
    #[error("I/O error on the store at {} while {op}: {source}", .path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The storage engine failed in a way that is not I/O or corruption.
    #[error("the store at {} failed while {op}: {detail}", .path.display())]
    Backend {
        path: PathBuf,
        op: &'static str,
        detail: String,
    },

    /// `commit` of an inbound event id that was already committed; nothing
    /// was written.
    #[error("inbound event {event_id:?} was already committed; nothing was written")]
    AlreadySeen { event_id: String },

    /// The outbox entry does not exist (already done, or never queued);
    /// nothing was written.
    #[error("outbox entry {seq} does not exist (already delivered?); nothing was written")]
    UnknownOutboxEntry { seq: u64 },

    /// A case was written back holding fewer transcript turns than the
    /// store has: it was read without them ([`crate::store::Store::case_head`])
    /// and must not be written. Nothing was written.
    #[error(
        "case {case} was written back with {held} transcript turns, but the store at {} holds {stored}; it was read without its transcript (a bug) and nothing was written",
        .path.display()
    )]
    TranscriptBehind {
        path: PathBuf,
        case: u64,
        held: usize,
        stored: usize,
    },

    /// A value could not be serialized.
    #[error("could not encode {what} for the store at {}: {detail}", .path.display())]
    Encode {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
}

impl StoreError {
    /// True for damaged files or records.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::CorruptRecord { .. }
        )
    }

    pub(crate) fn corrupt_record(
        path: &Path,
        tree: &'static str,
        key: String,
        detail: impl ToString,
    ) -> Self {
        StoreError::CorruptRecord {
            path: path.to_path_buf(),
            tree,
            key,
            detail: detail.to_string(),
        }
    }
}

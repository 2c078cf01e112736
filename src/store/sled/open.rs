//! Opening a sled store: refuse what must not be touched, say why.
//!
//! Order: the read-only `precheck` (lock, layout, checksums, marker); sled
//! opens it (a held lock becomes `Locked` with the holder's pid, damage
//! becomes `Corrupt`, a sled panic during recovery becomes `Corrupt` too);
//! the stored format version is one we know. Only then are the version (for
//! a new store), the format marker and our pid written.
//! Invariant: every refusal happens before handoff writes anything.

use std::io::ErrorKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use ::sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use ::sled::{IVec, Transactional};

use super::precheck::{self, holder_pid, MARKER_FILE, PID_FILE};
use super::tx::{T, VERSION_KEY};
use crate::case::Case;
use crate::store::{codec, StoreError, FORMAT_VERSION};

/// sled 0.34 re-wraps some OS errors with their `Debug` text as the message
/// (`Os { code: 28, kind: StorageFull, ... }`); give them back their plain
/// OS wording ("No space left on device (os error 28)").
fn plain_io(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error().is_some() {
        return e;
    }
    let text = e.to_string();
    let code = text
        .strip_prefix("Os { code: ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse::<i32>().ok());
    match code {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => e,
    }
}

/// Maps a sled error to a `StoreError` that says what to do.
pub(super) fn sled_error(path: &Path, op: &'static str, e: ::sled::Error) -> StoreError {
    match e {
        ::sled::Error::Io(io) if is_lock_error(&io) => StoreError::Locked {
            path: path.to_path_buf(),
            pid: holder_pid(path),
        },
        ::sled::Error::Io(source) => StoreError::Io {
            path: path.to_path_buf(),
            op,
            source: plain_io(source),
        },
        ::sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: match at {
                Some(at) => format!("sled found damaged data at {at:?} while {op}"),
                None => format!("sled found damaged data while {op}"),
            },
        },
        other => StoreError::Backend {
            path: path.to_path_buf(),
            op,
            detail: other.to_string(),
        },
    }
}

/// sled 0.34 reports a held lock as `Other("could not acquire lock on ...")`
/// wrapping the `WouldBlock` from `flock`.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
        || (e.kind() == ErrorKind::Other && e.to_string().contains("could not acquire lock"))
}

/// Opens sled and returns its trees in [`T::ALL`] order.
pub(super) fn open_db(path: &Path) -> Result<(::sled::Db, Vec<::sled::Tree>), StoreError> {
    let marker = precheck::check(path)?;
    // Every write flushes before it returns (see `SledStore::write`), so
    // sled's background flusher (every 500 ms by default) only costs CPU.
    let config = ::sled::Config::new()
        .path(path)
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(None);
    // sled 0.34 can panic instead of erroring on some damaged files.
    let db = match catch_unwind(AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Err(sled_error(path, "opening", e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "no message".into());
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("sled failed while recovering: {msg}"),
            });
        }
    };
    // Before `open_tree`, which would create missing trees.
    let has_meta = db
        .tree_names()
        .iter()
        .any(|n| n == T::Meta.name().as_bytes());
    if marker.is_some() && !has_meta {
        return Err(recovered_empty(path));
    }
    let mut trees = Vec::with_capacity(T::ALL.len());
    for t in T::ALL {
        trees.push(
            db.open_tree(t.name())
                .map_err(|e| sled_error(path, "opening a tree", e))?,
        );
    }
    check_version(path, &db, &trees, marker)?;
    if let Err(e) = std::fs::write(path.join(PID_FILE), std::process::id().to_string()) {
        // Only used to name the holder in a `Locked` error.
        tracing::warn!(path = %path.display(), error = %e, "could not write the pid file");
    }
    Ok((db, trees))
}

/// Checks the stored format version; writes it (and the marker) for a new
/// store.
fn check_version(
    path: &Path,
    db: &::sled::Db,
    trees: &[::sled::Tree],
    marker: Option<u32>,
) -> Result<(), StoreError> {
    let meta = &trees[T::Meta as usize];
    let stored = meta
        .get(VERSION_KEY)
        .map_err(|e| sled_error(path, "reading the format version", e))?;
    match stored {
        Some(v) => {
            let found = <[u8; 4]>::try_from(&v[..])
                .map(u32::from_be_bytes)
                .map_err(|_| {
                    StoreError::corrupt_record(
                        path,
                        T::Meta.name(),
                        codec::show_key(VERSION_KEY, false),
                        "not a version number",
                    )
                })?;
            if found > FORMAT_VERSION {
                return Err(StoreError::NewerFormat {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            if found < FORMAT_VERSION {
                migrate(path, trees, found)?;
                write_marker(path, FORMAT_VERSION)?;
            } else if marker.is_none() {
                write_marker(path, found)?;
            }
            Ok(())
        }
        None => {
            if marker.is_some() {
                return Err(recovered_empty(path));
            }
            if trees.iter().any(|t| !t.is_empty()) {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "records exist but the format version is missing".into(),
                });
            }
            meta.insert(VERSION_KEY, &FORMAT_VERSION.to_be_bytes())
                .map_err(|e| sled_error(path, "writing the format version", e))?;
            db.flush()
                .map_err(|e| sled_error(path, "flushing the format version", e))?;
            write_marker(path, FORMAT_VERSION)?;
            tracing::info!(path = %path.display(), version = FORMAT_VERSION, "created a new store");
            Ok(())
        }
    }
}

/// Brings a store written by format version `found` to [`FORMAT_VERSION`]
/// in one transaction (a crash leaves it wholly old or wholly new) and
/// flushes it.
///
/// Version 1 → 2: twin keys no longer hold the thread of either message
/// (see `codec::message_key`); every twin is re-keyed, none is dropped.
/// Version 2 → 3: each case's transcript moves out of the case record into
/// turn records of its own (see `codec::turn_key`); none is dropped.
fn migrate(path: &Path, trees: &[::sled::Tree], found: u32) -> Result<(), StoreError> {
    let twins = if found < 2 {
        twins_to_v2(path, &trees[T::Twins as usize], found)?
    } else {
        Vec::new()
    };
    let (cases, turns) = if found < 3 {
        cases_to_v3(path, &trees[T::Cases as usize])?
    } else {
        (Vec::new(), Vec::new())
    };
    trees
        .transaction(|tx: &Vec<TransactionalTree>| {
            let t = |which: T| &tx[which as usize];
            for (old, _, _) in &twins {
                t(T::Twins).remove(old.clone())?;
            }
            for (_, new, value) in &twins {
                t(T::Twins).insert(new.clone(), value.clone())?;
            }
            for (key, value) in &cases {
                t(T::Cases).insert(key.clone(), value.clone())?;
            }
            for (key, value) in &turns {
                t(T::Turns).insert(&key[..], value.clone())?;
            }
            t(T::Meta).insert(VERSION_KEY, &FORMAT_VERSION.to_be_bytes())?;
            Ok::<_, ConflictableTransactionError<()>>(())
        })
        .map_err(|e| match e {
            TransactionError::Storage(e) => sled_error(path, "migrating the store", e),
            TransactionError::Abort(()) => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: "the migration transaction aborted".into(),
            },
        })?;
    trees[T::Meta as usize]
        .flush()
        .map_err(|e| sled_error(path, "flushing the migrated store", e))?;
    tracing::info!(
        path = %path.display(),
        from = found,
        to = FORMAT_VERSION,
        twins = twins.len(),
        cases = cases.len(),
        turns = turns.len().saturating_sub(cases.len()),
        "migrated the store"
    );
    Ok(())
}

/// Format 1 twins with their format 2 keys: (old key, new key, value).
fn twins_to_v2(
    path: &Path,
    twins: &::sled::Tree,
    found: u32,
) -> Result<Vec<(IVec, Vec<u8>, IVec)>, StoreError> {
    let mut rekeyed = Vec::with_capacity(twins.len());
    for kv in twins.iter() {
        let (key, value) = kv.map_err(|e| sled_error(path, "reading twins to migrate", e))?;
        let bad = |detail: String| {
            StoreError::corrupt_record(path, T::Twins.name(), codec::show_key(&key, false), detail)
        };
        let from = codec::v1_twin_source(&key)
            .ok_or_else(|| bad(format!("not a format {found} twin key")))?;
        let to: handoff_bridge_api::MessageRef =
            codec::decode(&value).map_err(|e| bad(e.to_string()))?;
        rekeyed.push((key, codec::twin_key(&from, &to), value));
    }
    Ok(rekeyed)
}

/// A key and the bytes to store under it.
type Record = (Vec<u8>, Vec<u8>);

/// Every format 2 case record as format 3 writes it: the case records
/// without their transcripts, and each case's turn records and turn count.
fn cases_to_v3(
    path: &Path,
    cases: &::sled::Tree,
) -> Result<(Vec<Record>, Vec<Record>), StoreError> {
    let mut heads = Vec::with_capacity(cases.len());
    let mut turns = Vec::new();
    let encode = |what: &'static str, bytes: Result<Vec<u8>, serde_json::Error>| {
        bytes.map_err(|e| StoreError::Encode {
            path: path.to_path_buf(),
            what,
            detail: e.to_string(),
        })
    };
    for kv in cases.iter() {
        let (key, value) = kv.map_err(|e| sled_error(path, "reading cases to migrate", e))?;
        let case: Case = codec::decode(&value).map_err(|e| {
            StoreError::corrupt_record(path, T::Cases.name(), codec::show_key(&key, true), e)
        })?;
        for (i, turn) in case.transcript.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| StoreError::Encode {
                path: path.to_path_buf(),
                what: "a transcript turn",
                detail: format!("case {} has more than {} turns", case.id, u32::MAX),
            })?;
            turns.push((
                codec::turn_key(case.id, index).to_vec(),
                encode("a transcript turn", codec::encode(turn))?,
            ));
        }
        let count = case.transcript.len() as u64;
        turns.push((
            codec::id_key(case.id).to_vec(),
            codec::id_key(count).to_vec(),
        ));
        // Serializing a case leaves its transcript out.
        heads.push((key.to_vec(), encode("a case", codec::encode(&case))?));
    }
    Ok((heads, turns))
}

fn recovered_empty(path: &Path) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: "sled recovered none of handoff's records from a store handoff had written (damaged log?)"
            .into(),
    }
}

fn write_marker(path: &Path, version: u32) -> Result<(), StoreError> {
    std::fs::write(path.join(MARKER_FILE), version.to_string()).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        op: "writing the format marker",
        source,
    })
}

#[cfg(test)]
mod plain_io_tests {
    use super::plain_io;

    #[test]
    fn debug_wrapped_os_errors_get_their_wording_back() {
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "Os { code: 28, kind: StorageFull, message: \"No space left on device\" }",
        );
        let plain = plain_io(wrapped);
        assert_eq!(plain.raw_os_error(), Some(28));
        assert!(
            plain.to_string().starts_with("No space left on device"),
            "{plain}"
        );
        let other = std::io::Error::other("something else");
        assert_eq!(plain_io(other).to_string(), "something else");
    }
}

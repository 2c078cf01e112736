//! Backups and restores of everything a handoff instance keeps: the sled
//! store (copied from one point in time, also while the daemon writes to
//! it) and each network's data directory next to it (for Matrix: the
//! session, store key and matrix-sdk's SQLite state and crypto stores).
//! SQLite files are copied with SQLite's own `VACUUM INTO`, which reads
//! one transaction's view.
//!
//! A backup directory holds `handoff.sled/` and one `handoff.<network>/`
//! per network data directory the instance has. Restoring refuses a store
//! in use and, without `force`, any existing store or data directory.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::sled::SledStore;
use crate::store::{Store, StoreError};

/// The store's name inside a backup directory.
pub const STORE_DIR: &str = "handoff.sled";
/// Prefix of a network data directory's name inside a backup directory
/// (`handoff.<network>`).
const NETWORK_DIR_PREFIX: &str = "handoff.";

/// Files that belong to a running process, never copied.
const SKIPPED: &[&str] = &["handoff.pid"];

/// Where network `network` keeps its own state (sessions, crypto stores)
/// for the store at `store`: next to it, `<store without extension>.<network>`.
pub fn network_dir(store: &Path, network: &str) -> PathBuf {
    store.with_extension(network)
}

/// The data directories of `networks` for the store at `store`.
pub fn network_dirs<'a>(
    store: &Path,
    networks: impl IntoIterator<Item = &'a String>,
) -> Vec<(String, PathBuf)> {
    networks
        .into_iter()
        .map(|n| (n.clone(), network_dir(store, n)))
        .collect()
}

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{}: {what}: {source}", .path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{}: cannot copy the SQLite database: {detail}", .path.display())]
    Sqlite { path: PathBuf, detail: String },
    #[error("{}: {why}", .path.display())]
    Refused { why: String, path: PathBuf },
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// What a backup or restore copied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    /// The backup directory (backup) or the store (restore).
    pub path: PathBuf,
    /// Cases in the copied store.
    pub cases: usize,
    /// Conversations in the copied store.
    pub conversations: usize,
    /// Files copied from each network's data directory (relative paths),
    /// by network.
    pub network_files: std::collections::BTreeMap<String, Vec<String>>,
}

impl Report {
    /// One line per fact, for the command line.
    pub fn render(&self, verb: &str) -> String {
        let mut out = format!(
            "{verb} {}: {} case(s), {} conversation(s)\n",
            self.path.display(),
            self.cases,
            self.conversations
        );
        if self.network_files.is_empty() {
            out.push_str("  no network data directory\n");
        }
        for (network, files) in &self.network_files {
            out.push_str(&format!("  {network} data: {}\n", files.join(", ")));
        }
        out
    }
}

/// `to` must not exist or be an empty directory; it is created.
fn fresh_dir(to: &Path) -> Result<(), BackupError> {
    if to.exists() {
        let mut entries = fs::read_dir(to).map_err(io(to, "reading the target"))?;
        if entries.next().is_some() {
            return Err(BackupError::Refused {
                why: "the backup target is not empty; give a new directory".into(),
                path: to.to_path_buf(),
            });
        }
    }
    fs::create_dir_all(to).map_err(io(to, "creating the backup directory"))
}

/// Backs `store` (and each network data directory of `networks` that
/// exists, see [`network_dirs`]) up into `to`, a new or empty directory.
/// Safe while the daemon runs: call it with the daemon's own store.
pub fn backup(
    store: &SledStore,
    networks: &[(String, PathBuf)],
    to: &Path,
) -> Result<Report, BackupError> {
    fresh_dir(to)?;
    store.copy_to(&to.join(STORE_DIR))?;
    let mut network_files = std::collections::BTreeMap::new();
    for (network, dir) in networks {
        if dir.is_dir() {
            let target = to.join(format!("{NETWORK_DIR_PREFIX}{network}"));
            network_files.insert(network.clone(), copy_data_dir(dir, &target)?);
        }
    }
    let (cases, conversations) = count(&to.join(STORE_DIR))?;
    tracing::info!(to = %to.display(), cases, conversations, "backup written");
    Ok(Report {
        path: to.to_path_buf(),
        cases,
        conversations,
        network_files,
    })
}

/// Opens the store at `path` (checking it) and counts what it holds.
fn count(path: &Path) -> Result<(usize, usize), BackupError> {
    let store = SledStore::open(path)?;
    let cases = store.cases_since(i64::MIN)?.len();
    let conversations = store.conversations()?.len();
    drop(store);
    let _ = fs::remove_file(path.join("handoff.pid"));
    Ok((cases, conversations))
}

/// True when `path` starts with SQLite's file header.
fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| &head == b"SQLite format 3\0")
        .unwrap_or(false)
}

/// Copies a network data directory: SQLite databases through `VACUUM
/// INTO` (their `-wal`/`-shm` files are folded in), everything else as
/// files. Returns the relative paths written.
fn copy_data_dir(from: &Path, to: &Path) -> Result<Vec<String>, BackupError> {
    walk(
        from,
        to,
        "reading the Matrix directory",
        |source, target| {
            let name = source.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with("-wal") || name.ends_with("-shm") || name.ends_with("-journal") {
                return Ok(false);
            }
            if is_sqlite(source) {
                vacuum_into(source, target)?;
            } else {
                fs::copy(source, target).map_err(io(source, "copying"))?;
            }
            Ok(true)
        },
    )
}

/// Walks `from`, making each folder under `to` and handing each file with
/// its target to `file`, which returns whether it wrote it. Returns the
/// relative paths of the files written. `what` names the walk in errors.
fn walk(
    from: &Path,
    to: &Path,
    what: &'static str,
    mut file: impl FnMut(&Path, &Path) -> Result<bool, BackupError>,
) -> Result<Vec<String>, BackupError> {
    let mut written = Vec::new();
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|e| BackupError::Io {
            path: from.to_path_buf(),
            what,
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).map_err(io(&target, "creating a directory"))?;
        } else if file(entry.path(), &target)? {
            written.push(rel.display().to_string());
        }
    }
    Ok(written)
}

/// A consistent copy of a live SQLite database.
fn vacuum_into(from: &Path, to: &Path) -> Result<(), BackupError> {
    let err = |e: rusqlite::Error| BackupError::Sqlite {
        path: from.to_path_buf(),
        detail: e.to_string(),
    };
    let db = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    // matrix-sdk writes concurrently; wait for its locks rather than fail.
    db.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let target = to.to_str().ok_or_else(|| BackupError::Sqlite {
        path: to.to_path_buf(),
        detail: "the target path is not UTF-8".into(),
    })?;
    db.execute("VACUUM INTO ?1", [target]).map_err(err)?;
    Ok(())
}

/// Restores the backup in `from` into `store` and its Matrix directory.
/// Refuses while another process holds `store`, and refuses an existing
/// store or Matrix directory unless `force` (then they are moved aside to
/// `*.before-restore-<unix seconds>`).
pub fn restore(from: &Path, store: &Path, force: bool) -> Result<Report, BackupError> {
    let source = from.join(STORE_DIR);
    if !source.is_dir() {
        return Err(BackupError::Refused {
            why: format!("not a handoff backup (no {STORE_DIR} inside)"),
            path: from.to_path_buf(),
        });
    }
    // The network data directories in the backup, and where each goes.
    let mut networks = Vec::new();
    for entry in fs::read_dir(from).map_err(io(from, "reading the backup"))? {
        let entry = entry.map_err(io(from, "reading the backup"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(network) = name.strip_prefix(NETWORK_DIR_PREFIX) {
            if name != STORE_DIR && entry.path().is_dir() {
                networks.push((
                    network.to_string(),
                    entry.path(),
                    network_dir(store, network),
                ));
            }
        }
    }
    networks.sort();
    if occupied(store)? {
        // Opening fails with `Locked` while a daemon holds it; a damaged
        // store may be replaced (it is moved aside), but only with force.
        match SledStore::open(store) {
            Ok(s) => drop(s),
            Err(e @ StoreError::Locked { .. }) => return Err(e.into()),
            Err(e) if !force => return Err(e.into()),
            Err(_) => {}
        }
    }
    let mut moved = Vec::new();
    let targets = std::iter::once(store).chain(networks.iter().map(|(_, _, t)| t.as_path()));
    for target in targets {
        if !occupied(target)? {
            continue;
        }
        if !force {
            return Err(BackupError::Refused {
                why:
                    "already exists; restore over it with --force (it is moved aside, not deleted)"
                        .into(),
                path: target.to_path_buf(),
            });
        }
        moved.push(target);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for target in moved {
        let aside = PathBuf::from(format!("{}.before-restore-{stamp}", target.display()));
        fs::rename(target, &aside).map_err(io(target, "moving aside"))?;
        tracing::info!(from = %target.display(), to = %aside.display(), "moved aside before the restore");
    }
    copy_tree(&source, store)?;
    let mut network_files = std::collections::BTreeMap::new();
    for (network, from, to) in &networks {
        network_files.insert(network.clone(), copy_tree(from, to)?);
    }
    let (cases, conversations) = count(store)?;
    Ok(Report {
        path: store.to_path_buf(),
        cases,
        conversations,
        network_files,
    })
}

/// Exists and is not an empty directory.
fn occupied(path: &Path) -> Result<bool, BackupError> {
    if !path.exists() {
        return Ok(false);
    }
    if !path.is_dir() {
        return Ok(true);
    }
    let mut entries = fs::read_dir(path).map_err(io(path, "reading"))?;
    Ok(entries.next().is_some())
}

/// Copies the directory `from` to `to` (files and folders, modes kept);
/// returns the relative paths of the files.
fn copy_tree(from: &Path, to: &Path) -> Result<Vec<String>, BackupError> {
    walk(from, to, "reading the backup", |source, target| {
        if SKIPPED
            .iter()
            .any(|s| source.file_name() == Some(std::ffi::OsStr::new(s)))
        {
            return Ok(false);
        }
        fs::copy(source, target).map_err(io(target, "writing"))?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests;

//! Read-only checks of a store directory, done before sled may touch it.
//!
//! sled 0.34 recovers a damaged log by treating unreadable segments as free:
//! it zeroes or truncates them and comes up empty, and it rewrites a `conf`
//! it cannot read. That is silent data loss, so before sled opens anything
//! we refuse: a held lock; a non-empty directory that is not a sled store; a
//! `conf` whose checksum fails; a `db` file in which no segment header has a
//! valid checksum; and a store whose `handoff.format` marker names a newer
//! format. The marker also lets `open` notice a store that sled recovered
//! as empty although handoff had written it.
//! Invariant: nothing here writes; it reads sled's on-disk format as of
//! 0.34.7 (segment header = le crc32 ^ !0, then 16 checksummed bytes).

use std::fs::{File, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use crate::store::{StoreError, FORMAT_VERSION};

/// Holds the handoff format version; written once a store is created.
pub(super) const MARKER_FILE: &str = "handoff.format";
/// Written next to sled's files so a second process can name the holder.
pub(super) const PID_FILE: &str = "handoff.pid";

/// sled's default; a store's `conf` says which one it uses.
const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024;
const SEG_HEADER_LEN: usize = 20;

fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// The pid written by the process holding the store, if readable.
pub(super) fn holder_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path.join(PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Runs every check; returns the marker's format version (None: new store).
pub(super) fn check(path: &Path) -> Result<Option<u32>, StoreError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, "checking the store path")(e)),
        Ok(m) if !m.is_dir() => {
            return Err(corrupt(path, "the path is a file, not a store directory"))
        }
        Ok(_) => {}
    }
    let mut entries = std::fs::read_dir(path).map_err(io(path, "listing the store directory"))?;
    if entries.next().is_none() {
        return Ok(None);
    }
    let (conf, db) = (path.join("conf"), path.join("db"));
    match (conf.is_file(), db.is_file()) {
        (true, true) => {}
        (false, true) => {
            return Err(corrupt(
                path,
                "sled's `conf` file is missing (truncated or partly copied store?)",
            ))
        }
        (true, false) => {
            return Err(corrupt(
                path,
                "sled's `db` file is missing (truncated or partly copied store?)",
            ))
        }
        (false, false) => {
            return Err(corrupt(
                path,
                "the directory is not empty but holds no sled store (wrong path?)",
            ))
        }
    }
    probe_lock(path, &db)?;
    let segment_size = check_conf(path, &conf)?;
    check_segments(path, &db, segment_size)?;
    read_marker(path)
}

/// sled locks `db` exclusively; a shared lock attempt tells if it is held.
fn probe_lock(path: &Path, db: &Path) -> Result<(), StoreError> {
    let file = File::open(db).map_err(io(path, "opening sled's db file"))?;
    match file.try_lock_shared() {
        // Released when `file` closes; sled takes its own lock next.
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_path_buf(),
            pid: holder_pid(path),
        }),
        Err(TryLockError::Error(e)) => Err(io(path, "probing the store lock")(e)),
    }
}

/// Verifies `conf`'s checksum (sled itself only warns) and returns the
/// segment size it records.
fn check_conf(path: &Path, conf: &Path) -> Result<u64, StoreError> {
    let bytes = std::fs::read(conf).map_err(io(path, "reading sled's conf file"))?;
    let Some(body_len) = bytes.len().checked_sub(4).filter(|&n| n > 4) else {
        return Err(corrupt(path, "sled's `conf` file is truncated"));
    };
    let (body, crc) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err(corrupt(path, "sled's `conf` file fails its checksum"));
    }
    let text = String::from_utf8_lossy(body);
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| s.is_power_of_two() && *s >= SEG_HEADER_LEN as u64)
        .unwrap_or(DEFAULT_SEGMENT_SIZE);
    Ok(size)
}

/// A non-empty log must have at least one segment header sled can read;
/// otherwise sled would take the whole file for free space.
fn check_segments(path: &Path, db: &Path, segment_size: u64) -> Result<(), StoreError> {
    let mut file = File::open(db).map_err(io(path, "opening sled's db file"))?;
    let len = file
        .metadata()
        .map_err(io(path, "reading sled's db file"))?
        .len();
    if len < SEG_HEADER_LEN as u64 {
        return Ok(()); // a store created but never written
    }
    // Only the 20-byte header of each segment is read.
    let mut offset = 0u64;
    while offset + SEG_HEADER_LEN as u64 <= len {
        let mut h = [0u8; SEG_HEADER_LEN];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut h))
            .map_err(io(path, "reading sled's db file"))?;
        let stored = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) ^ 0xFFFF_FFFF;
        if crc32fast::hash(&h[4..]) == stored {
            return Ok(());
        }
        offset += segment_size;
    }
    Err(corrupt(
        path,
        "sled's `db` file holds no readable log segment (overwritten or not a sled file)",
    ))
}

fn read_marker(path: &Path) -> Result<Option<u32>, StoreError> {
    let text = match std::fs::read_to_string(path.join(MARKER_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, "reading the format marker")(e)),
    };
    let found: u32 = text.trim().parse().map_err(|_| {
        corrupt(
            path,
            format!("`{MARKER_FILE}` does not hold a version number"),
        )
    })?;
    if found > FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_segment_header_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let mut header = [0u8; SEG_HEADER_LEN];
        header[4..].copy_from_slice(&[7; 16]);
        let crc = crc32fast::hash(&header[4..]) ^ 0xFFFF_FFFF;
        header[..4].copy_from_slice(&crc.to_le_bytes());
        // Garbage first segment, valid second one.
        let mut file = vec![0xA5; 1024];
        file.extend_from_slice(&header);
        std::fs::write(&db, &file).unwrap();
        assert!(check_segments(dir.path(), &db, 1024).is_ok());
        std::fs::write(&db, &file[..1024 + 10]).unwrap();
        assert!(check_segments(dir.path(), &db, 1024)
            .unwrap_err()
            .is_corrupt());
    }
}

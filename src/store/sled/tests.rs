//! Tests only the sled backend needs: the shared suite on disk, reopening,
//! locking (in this process and from a child process), corrupt records and
//! damaged directories left untouched, and the format version.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::tx::{T, VERSION_KEY};
use super::SledStore;
use crate::case::CaseState;
use crate::store::codec;
use crate::store::suite::{case, conversation, entry, msg, store_suite, turn, with_desk, Fixture};
use crate::store::{Commit, Store, StoreError};

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("store")).unwrap();
    Fixture {
        store: Arc::new(store),
        _keep: Some(dir),
    }
}

store_suite!(fixture);

/// Every file under `dir` with its length and a hash of its bytes.
/// Opens the store at `path` again after a handle to it was dropped.
/// sled's I/O threads can hold the file lock a moment past the drop, so a
/// `Locked` from this very process is waited out (up to 10 s; anything
/// else, or a lock that stays, fails the test).
fn reopen(path: &Path) -> SledStore {
    for _ in 0..200 {
        match SledStore::open(path) {
            Err(StoreError::Locked { pid, .. }) if pid == Some(std::process::id()) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other.unwrap(),
        }
    }
    panic!(
        "{} stays locked by this process after its handle was dropped",
        path.display()
    );
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                out.insert(p.clone(), (bytes.len(), h.finish()));
            }
        }
    }
    out
}

#[test]
fn data_and_counters_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let conv = conversation("@a:x", 1);
    let c = with_desk(case(1, "@a:x", CaseState::Queued, 1), "t1");
    {
        let s = SledStore::open(&path).unwrap();
        assert_eq!(s.next_case_id().unwrap(), 1);
        s.commit(&Commit {
            at: 1,
            seen_event: Some("$e".into()),
            conversation: Some(conv.clone()),
            cases: vec![c.clone()],
            outbox: vec![entry("a")],
            mappings: vec![(msg("matrix", "!r", "$m"), msg("slack", "C", "1"))],
            rewritten_turns: Vec::new(),
        })
        .unwrap();
        s.bridge_put("matrix", "since", b"tok").unwrap();
    }
    let s = reopen(&path);
    assert!(s.is_seen("$e").unwrap());
    assert_eq!(s.conversations().unwrap(), vec![conv]);
    assert_eq!(s.open_cases().unwrap(), vec![c.clone()]);
    assert_eq!(s.case_by_desk(&c.desk.unwrap().endpoint).unwrap(), Some(1));
    assert_eq!(s.twins(&msg("slack", "C", "1")).unwrap().len(), 1);
    assert_eq!(
        s.bridge_get("matrix", "since").unwrap(),
        Some(b"tok".to_vec())
    );
    assert_eq!(s.next_case_id().unwrap(), 2);
    let seqs = s.commit(&Commit {
        outbox: vec![entry("b")],
        ..Commit::default()
    });
    assert_eq!(seqs.unwrap(), vec![2]);
}

#[test]
fn second_open_in_this_process_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _held = SledStore::open(dir.path()).unwrap();
    let err = SledStore::open(dir.path()).unwrap_err();
    let me = std::process::id();
    assert!(
        matches!(err, StoreError::Locked { pid: Some(p), .. } if p == me),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("is in use by another handoff process"),
        "{text}"
    );
    assert!(text.contains(&format!("(pid {me})")), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

/// This test binary, set to run only the ignored helper test `name` of
/// this module, with `env` naming the store directory.
fn child_test(name: &str, env: &str, store: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", &format!("store::sled::tests::{name}")])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(env, store);
    command
}

const CHILD_ENV: &str = "HANDOFF_STORE_TEST_HOLD";

/// Run by `second_process_sees_the_store_in_use` in a child process: holds
/// the store until its stdin closes.
#[test]
#[ignore = "helper process for second_process_sees_the_store_in_use"]
fn child_holds_the_store() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = SledStore::open(&path).unwrap();
    println!("HOLDING");
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).unwrap() > 0 {}
    drop(store);
}

#[test]
fn a_lazy_write_flushes_only_when_the_last_flush_is_a_second_old() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    s.bridge_put("matrix", "a", b"1").unwrap();
    s.bridge_put_lazy("matrix", "token", b"t1").unwrap();
    assert!(
        s.db.flush().unwrap() > 0,
        "the lazy write was flushed at once"
    );
    // The last flush long ago: this lazy write flushes by itself.
    s.flushed_at_ms
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let later = std::time::Instant::now() - std::time::Duration::from_secs(5);
    let s = SledStore { opened: later, ..s };
    s.bridge_put_lazy("matrix", "token", b"t2").unwrap();
    assert_eq!(
        s.db.flush().unwrap(),
        0,
        "the lazy write was left unflushed"
    );
}

const CRASH_ENV: &str = "HANDOFF_STORE_TEST_CRASH";

/// Run by `a_lazy_write_is_carried_by_the_next_flush` in a child process:
/// writes lazily, then durably, then dies without closing the store.
#[test]
#[ignore = "helper process for a_lazy_write_is_carried_by_the_next_flush"]
fn child_writes_then_dies() {
    let Ok(path) = std::env::var(CRASH_ENV) else {
        return;
    };
    let store = SledStore::open(&path).unwrap();
    // Freshly opened: the last flush is under a second old, so this one
    // waits for the next durable write.
    store.bridge_put_lazy("matrix", "token", b"t1").unwrap();
    store
        .commit(&Commit {
            at: 5,
            seen_event: Some("$e".into()),
            ..Commit::default()
        })
        .unwrap();
    println!("WROTE");
    // No drop, no flush on the way out: as if killed.
    std::process::abort();
}

#[test]
fn a_lazy_write_is_carried_by_the_next_flush() {
    let dir = tempfile::tempdir().unwrap();
    let out = child_test("child_writes_then_dies", CRASH_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("WROTE"),
        "the child never wrote"
    );
    assert!(!out.status.success(), "the child was meant to die");
    let s = SledStore::open(dir.path()).unwrap();
    assert!(s.is_seen("$e").unwrap());
    assert_eq!(
        s.bridge_get("matrix", "token").unwrap(),
        Some(b"t1".to_vec())
    );
}

#[test]
fn second_process_sees_the_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = child_test("child_holds_the_store", CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("HOLDING"));
    assert!(held, "the child never opened the store");
    let before = snapshot(dir.path());
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Locked { pid: Some(p), .. } if p == child.id()),
        "{err:?}"
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a refused open changed the files"
    );
    drop(child.stdin.take());
    // Drain the child's output so it never blocks or fails on a closed pipe.
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
    // Released with the process: opens again.
    SledStore::open(dir.path()).unwrap();
}

#[test]
fn corrupt_records_are_reported_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let garbage: &[u8] = b"\x00not json";
    let conv = conversation("@a:x", 1);
    let case_key = codec::id_key(5);
    s.tree(T::Cases).insert(case_key, garbage).unwrap();
    s.tree(T::OpenCases).insert(case_key, &[]).unwrap();
    s.tree(T::Conversations)
        .insert(conv.key.0.as_bytes(), garbage)
        .unwrap();

    let err = s.case(5).unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptRecord { tree: "cases", key, .. } if key == "5"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("corrupt record in `cases` at key 5"),
        "{err}"
    );
    assert!(s.open_cases().unwrap_err().is_corrupt());
    let err = s.conversations().unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::CorruptRecord {
                tree: "conversations",
                ..
            }
        ),
        "{err:?}"
    );

    // A commit that would replace either record fails as a whole: the
    // conversation is staged before the case, and neither lands.
    let mut fresh = conversation("@b:x", 2);
    fresh.misses_in_row = 1;
    let err = s
        .commit(&Commit {
            seen_event: Some("$e".into()),
            conversation: Some(fresh.clone()),
            cases: vec![case(5, "@a:x", CaseState::Queued, 1)],
            outbox: vec![entry("x")],
            mappings: vec![(msg("a", "b", "c"), msg("d", "e", "f"))],
            ..Commit::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptRecord { tree: "cases", .. }),
        "{err:?}"
    );
    assert_eq!(s.conversation(&fresh.key).unwrap(), None);
    assert!(!s.is_seen("$e").unwrap());
    assert!(s.tree(T::Outbox).is_empty());
    assert!(s.twins(&msg("a", "b", "c")).unwrap().is_empty());
    let err = s.commit(&Commit {
        conversation: Some(conv.clone()),
        ..Commit::default()
    });
    assert!(err.unwrap_err().is_corrupt());
    assert_eq!(s.tree(T::Cases).get(case_key).unwrap().unwrap(), garbage);
    assert_eq!(
        s.tree(T::Conversations)
            .get(conv.key.0.as_bytes())
            .unwrap()
            .unwrap(),
        garbage
    );

    // Outbox and index values are checked too.
    s.tree(T::Outbox).insert(codec::id_key(3), garbage).unwrap();
    let err = s.outbox_pending().unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptRecord { tree: "outbox", key, .. } if key == "3"),
        "{err:?}"
    );
    assert!(s.outbox_update(3, &entry("y")).unwrap_err().is_corrupt());
    let desk = crate::store::suite::with_desk(case(6, "@c:x", CaseState::Queued, 1), "t6");
    let endpoint = desk.desk.unwrap().endpoint;
    s.tree(T::CaseByDesk)
        .insert(codec::endpoint_key(&endpoint), b"xy".as_slice())
        .unwrap();
    let err = s.case_by_desk(&endpoint).unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::CorruptRecord {
                tree: "case_by_desk",
                ..
            }
        ),
        "{err:?}"
    );
}

fn assert_refused_untouched(path: &Path, expect: &str) {
    let before = snapshot(path);
    let err = SledStore::open(path).unwrap_err();
    assert!(err.is_corrupt(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(expect), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert_eq!(snapshot(path), before, "opening changed the files");
}

/// A store with some records, closed.
fn filled_store(path: &Path) {
    let s = SledStore::open(path).unwrap();
    for i in 0..50 {
        let c = case(i + 1, "@a:x", CaseState::Queued, i as i64);
        s.commit(&Commit {
            cases: vec![c],
            outbox: vec![entry("e")],
            ..Commit::default()
        })
        .unwrap();
    }
}

#[test]
fn a_directory_that_is_not_a_store_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"my files").unwrap();
    assert_refused_untouched(dir.path(), "holds no sled store");
    let file = dir.path().join("notes.txt");
    let err = SledStore::open(&file).unwrap_err();
    assert!(
        err.to_string().contains("is a file, not a store directory"),
        "{err}"
    );
}

#[test]
fn a_store_missing_its_conf_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    filled_store(dir.path());
    std::fs::remove_file(dir.path().join("conf")).unwrap();
    assert_refused_untouched(dir.path(), "`conf` file is missing");
}

#[test]
fn a_store_with_a_garbage_conf_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    filled_store(dir.path());
    std::fs::write(dir.path().join("conf"), b"garbage garbage garbage").unwrap();
    assert_refused_untouched(dir.path(), "corrupt");
}

#[test]
fn a_store_with_a_garbage_db_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    filled_store(dir.path());
    let db = dir.path().join("db");
    let len = std::fs::metadata(&db).unwrap().len() as usize;
    std::fs::write(&db, vec![0xA5; len]).unwrap();
    assert_refused_untouched(dir.path(), "corrupt");
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SledStore::open(dir.path()).unwrap();
        s.tree(T::Meta)
            .insert(VERSION_KEY, &99u32.to_be_bytes())
            .unwrap();
        s.flush().unwrap();
    }
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerFormat {
                found: 99,
                supported: crate::store::FORMAT_VERSION,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("run a newer handoff"), "{err}");
}

/// Marks the store in `dir` (open as `s`, closed here) as written by
/// format `version`.
fn stamp_format(s: SledStore, dir: &Path, version: u32) {
    s.tree(T::Meta)
        .insert(VERSION_KEY, &version.to_be_bytes())
        .unwrap();
    s.flush().unwrap();
    drop(s);
    std::fs::write(dir.join(super::precheck::MARKER_FILE), version.to_string()).unwrap();
}

#[test]
fn a_version_1_store_is_migrated_and_keeps_every_twin() {
    let dir = tempfile::tempdir().unwrap();
    let threaded = |room: &str, id: &str, thread: &str| {
        let mut m = msg("slack", room, id);
        m.endpoint.thread = Some(thread.into());
        m
    };
    let (customer, agent_copy) = (msg("matrix", "!c", "$1"), threaded("C1", "2.0", "1.0"));
    {
        // Written the way format 1 wrote twins, with the thread in the key.
        let s = SledStore::open(dir.path()).unwrap();
        let twins = s.tree(T::Twins);
        for (a, b) in [(&customer, &agent_copy), (&agent_copy, &customer)] {
            twins
                .insert(codec::v1_twin_key(a, b), codec::encode(b).unwrap())
                .unwrap();
        }
        stamp_format(s, dir.path(), 1);
    }

    let s = reopen(dir.path());
    assert_eq!(s.twins(&customer).unwrap(), vec![agent_copy.clone()]);
    // Found with or without the thread (a Slack reaction names no thread).
    assert_eq!(
        s.twins(&msg("slack", "C1", "2.0")).unwrap(),
        vec![customer.clone()]
    );
    assert_eq!(s.twins(&agent_copy).unwrap(), vec![customer.clone()]);
    assert_eq!(s.tree(T::Twins).len(), 2, "old keys left behind");
    let version = s.tree(T::Meta).get(VERSION_KEY).unwrap().unwrap();
    assert_eq!(&version[..], &crate::store::FORMAT_VERSION.to_be_bytes());
    let marker = std::fs::read_to_string(dir.path().join(super::precheck::MARKER_FILE)).unwrap();
    assert_eq!(marker, crate::store::FORMAT_VERSION.to_string());
}

#[test]
fn a_version_2_store_is_migrated_and_keeps_every_turn() {
    let dir = tempfile::tempdir().unwrap();
    let turns: Vec<_> = (0..30).map(|i| turn(i, i == 7)).collect();
    let mut long = with_desk(case(1, "@a:x", CaseState::Queued, 5), "t1");
    long.transcript = turns.clone();
    let empty = case(2, "@b:x", CaseState::Queued, 6);
    {
        // Format 2 kept the transcript inside the case record.
        let s = SledStore::open(dir.path()).unwrap();
        for c in [&long, &empty] {
            let mut json = serde_json::to_value(c).unwrap();
            json["transcript"] = serde_json::to_value(&c.transcript).unwrap();
            s.tree(T::Cases)
                .insert(codec::id_key(c.id), serde_json::to_vec(&json).unwrap())
                .unwrap();
        }
        stamp_format(s, dir.path(), 2);
    }

    let s = reopen(dir.path());
    assert_eq!(s.case(1).unwrap(), Some(long.clone()));
    assert_eq!(s.case(2).unwrap(), Some(empty));
    let record = s.tree(T::Cases).get(codec::id_key(1)).unwrap().unwrap();
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert!(record.get("transcript").is_none(), "{record}");
    assert_eq!(s.tree(T::Turns).len(), 30 + 2, "30 turns and two counts");
    let version = s.tree(T::Meta).get(VERSION_KEY).unwrap().unwrap();
    assert_eq!(&version[..], &crate::store::FORMAT_VERSION.to_be_bytes());
    // Appending after the migration continues the sequence.
    long.transcript.push(turn(30, false));
    s.commit(&Commit {
        cases: vec![long.clone()],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.case(1).unwrap(), Some(long));
}

#[test]
fn a_missing_turn_is_a_corrupt_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let mut c = case(5, "@a:x", CaseState::Queued, 5);
    c.transcript = (0..3).map(|i| turn(i, false)).collect();
    s.commit(&Commit {
        cases: vec![c],
        ..Commit::default()
    })
    .unwrap();
    s.tree(T::Turns).remove(codec::turn_key(5, 1)).unwrap();
    let err = s.case(5).unwrap_err();
    assert!(err.is_corrupt(), "{err:?}");
    assert!(err.to_string().contains("`turns`"), "{err}");
    // The head is still readable; the transcript is never silently short.
    assert!(s.case_head(5).unwrap().is_some());
}

#[test]
fn a_newer_format_marker_is_refused_before_sled_opens() {
    let dir = tempfile::tempdir().unwrap();
    filled_store(dir.path());
    std::fs::write(dir.path().join(super::precheck::MARKER_FILE), "99").unwrap();
    let before = snapshot(dir.path());
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerFormat { found: 99, .. }),
        "{err:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_store_sled_recovers_as_empty_is_refused_untouched() {
    // A valid sled log without handoff's records where handoff's store was:
    // sled opens it happily; the format marker says data is missing. (sled
    // itself writes its snapshot and preallocates while opening, so only
    // handoff's own files and the refusal are checked here.)
    let dir = tempfile::tempdir().unwrap();
    filled_store(dir.path());
    let other = tempfile::tempdir().unwrap();
    drop(::sled::open(other.path()).unwrap());
    for name in ["conf", "db"] {
        std::fs::copy(other.path().join(name), dir.path().join(name)).unwrap();
    }
    let marker = dir.path().join(super::precheck::MARKER_FILE);
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("recovered none of handoff's records"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        crate::store::FORMAT_VERSION.to_string()
    );
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(err.is_corrupt(), "a second attempt must refuse too: {err}");
}

#[test]
fn lock_errors_from_sled_map_to_in_use() {
    let io = std::io::Error::other("could not acquire lock on \"x/db\": WouldBlock");
    let err = super::open::sled_error(Path::new("/s"), "opening", ::sled::Error::Io(io));
    assert!(
        matches!(err, StoreError::Locked { pid: None, .. }),
        "{err:?}"
    );
    let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
    let err = super::open::sled_error(Path::new("/s"), "flushing", ::sled::Error::Io(io));
    assert!(
        err.to_string().contains("while flushing: disk full"),
        "{err}"
    );
}

//! Backup while another thread keeps writing, restore into a fresh
//! place, and the refusals of restore.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::case::CaseState;
use crate::store::suite::{case, turn, with_desk};
use crate::store::Commit;

/// Case `id` with `turns` transcript lines.
fn case_with(id: u64, turns: usize) -> crate::case::Case {
    let mut c = with_desk(
        case(id, &format!("@c{id}:x"), CaseState::Queued, 5),
        &format!("t{id}"),
    );
    c.transcript = (0..turns).map(|i| turn(i, i == 3)).collect();
    c
}

fn commit(s: &SledStore, n: usize, c: &crate::case::Case) {
    s.commit(&Commit {
        at: 5,
        seen_event: Some(format!("$ev{n}")),
        cases: vec![c.clone()],
        ..Commit::default()
    })
    .expect("commit");
}

#[test]
fn a_backup_taken_while_relaying_restores_every_case_and_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("live.sled");
    let store = Arc::new(SledStore::open(&store_path).unwrap());
    for id in 1..=20 {
        commit(&store, id as usize, &case_with(id, 6));
    }
    // A Matrix data directory with a session file and a live SQLite
    // database that a connection keeps open (as matrix-sdk does).
    let matrix = network_dir(&store_path, "matrix");
    fs::create_dir_all(matrix.join("store")).unwrap();
    fs::write(matrix.join("session.json"), br#"{"device_id":"DEV"}"#).unwrap();
    let db_path = matrix.join("store/matrix-sdk-crypto.sqlite3");
    let db = rusqlite::Connection::open(&db_path).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE keys(k TEXT); INSERT INTO keys VALUES ('olm');",
    )
    .unwrap();

    // A relay going on: case 21's transcript grows on another thread
    // while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let relay = {
        let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) || n < 5 {
                n += 1;
                commit(&store, 1000 + n, &case_with(21, n));
                written.store(n, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 3 {
        std::thread::yield_now();
    }
    let to = dir.path().join("backup");
    let report = backup(&store, &[("matrix".to_string(), matrix.clone())], &to).expect("backup");
    stop.store(true, Ordering::Relaxed);
    relay.join().unwrap();
    assert_eq!(report.cases, 21, "{report:?}");
    assert_eq!(
        report.network_files["matrix"],
        vec![
            "session.json".to_string(),
            "store/matrix-sdk-crypto.sqlite3".to_string()
        ]
    );

    // Restore into a fresh place: every case and transcript of the first
    // twenty is there whole; case 21 is there as of one moment (a prefix
    // of its lines, none torn).
    let fresh = dir.path().join("fresh/handoff.sled");
    fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    let restored = restore(&to, &fresh, false).expect("restore");
    assert_eq!(restored.cases, 21);
    let back = SledStore::open(&fresh).unwrap();
    for id in 1..=20 {
        assert_eq!(back.case(id).unwrap(), Some(case_with(id, 6)), "case {id}");
    }
    let relayed = back.case(21).unwrap().expect("case 21");
    let lines = relayed.transcript.len();
    assert!(lines >= 3, "{lines}");
    assert_eq!(relayed, case_with(21, lines));
    let copied = rusqlite::Connection::open(
        network_dir(&fresh, "matrix").join("store/matrix-sdk-crypto.sqlite3"),
    )
    .unwrap();
    let k: String = copied
        .query_row("SELECT k FROM keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(k, "olm");
    assert_eq!(
        fs::read(network_dir(&fresh, "matrix").join("session.json")).unwrap(),
        br#"{"device_id":"DEV"}"#
    );
}

#[test]
fn restore_refuses_a_store_in_use_and_an_existing_one_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.sled");
    let store = SledStore::open(&live).unwrap();
    commit(&store, 1, &case_with(1, 2));
    let to = dir.path().join("backup");
    backup(&store, &network_dirs(&live, [&"matrix".to_string()]), &to).unwrap();

    let err = restore(&to, &live, true).unwrap_err().to_string();
    assert!(err.contains("in use"), "{err}");

    let other = dir.path().join("other.sled");
    let s2 = SledStore::open(&other).unwrap();
    commit(&s2, 1, &case_with(7, 1));
    drop(s2);
    let err = restore(&to, &other, false).unwrap_err().to_string();
    assert!(err.contains("--force"), "{err}");
    assert!(SledStore::open(&other).unwrap().case(7).unwrap().is_some());

    let report = restore(&to, &other, true).unwrap();
    assert_eq!(report.cases, 1);
    let back = SledStore::open(&other).unwrap();
    assert!(back.case(7).unwrap().is_none());
    assert_eq!(back.case(1).unwrap(), Some(case_with(1, 2)));
    let aside = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("other.sled.before-restore-")
        })
        .count();
    assert_eq!(aside, 1, "the old store is moved aside, not deleted");

    let err = restore(dir.path(), &dir.path().join("x.sled"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a handoff backup"), "{err}");
    let err = backup(&store, &network_dirs(&live, [&"matrix".to_string()]), &to)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
}

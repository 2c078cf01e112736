//! Suite cases about writes: commit atomicity and dedupe, counters under
//! concurrency, the outbox, bridge state and pruning. Each takes a fresh
//! store; each is listed in `store_suite!`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread;

use super::{assigned, case, conversation, entry, msg, with_desk};
use crate::case::{CaseState, OutboxEntry};
use crate::store::{Commit, Store, StoreError};

pub(crate) fn commit_writes_everything(s: Arc<dyn Store>) {
    let id = s.next_case_id().unwrap();
    let conv = conversation("@a:x", 10);
    let c = with_desk(case(id, "@a:x", CaseState::Queued, 10), "t1");
    let seqs = s
        .commit(&Commit {
            at: 10,
            seen_event: Some("$e1".into()),
            conversation: Some(conv.clone()),
            cases: vec![c.clone()],
            outbox: vec![entry("one"), entry("two")],
            mappings: vec![(msg("matrix", "!r", "$m"), msg("slack", "C", "1.1"))],
            rewritten_turns: Vec::new(),
        })
        .unwrap();
    assert_eq!(seqs, vec![1, 2]);
    assert!(s.is_seen("$e1").unwrap());
    assert_eq!(s.conversation(&conv.key).unwrap(), Some(conv));
    assert_eq!(s.case(id).unwrap(), Some(c.clone()));
    assert_eq!(
        s.case_by_desk(&c.desk.as_ref().unwrap().endpoint).unwrap(),
        Some(id)
    );
    let pending = s.outbox_pending().unwrap();
    assert_eq!(pending, vec![(1, entry("one")), (2, entry("two"))]);
    assert_eq!(
        s.twins(&msg("matrix", "!r", "$m")).unwrap(),
        vec![msg("slack", "C", "1.1")]
    );
}

pub(crate) fn commit_of_seen_event_writes_nothing(s: Arc<dyn Store>) {
    let first = Commit {
        at: 1,
        seen_event: Some("$dup".into()),
        outbox: vec![entry("first")],
        ..Commit::default()
    };
    assert_eq!(s.commit(&first).unwrap(), vec![1]);
    let conv = conversation("@b:x", 2);
    let again = Commit {
        at: 2,
        seen_event: Some("$dup".into()),
        conversation: Some(conv.clone()),
        cases: vec![with_desk(case(7, "@b:x", CaseState::Queued, 2), "t7")],
        outbox: vec![entry("second")],
        mappings: vec![(msg("matrix", "!r", "$x"), msg("slack", "C", "9.9"))],
        rewritten_turns: Vec::new(),
    };
    let err = s.commit(&again).unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadySeen { ref event_id } if event_id == "$dup"),
        "{err}"
    );
    assert_eq!(s.conversation(&conv.key).unwrap(), None);
    assert_eq!(s.case(7).unwrap(), None);
    assert!(s.open_cases().unwrap().is_empty());
    assert_eq!(
        s.cases_of_customer("matrix", "@b:x").unwrap(),
        Vec::<u64>::new()
    );
    assert!(s.twins(&msg("matrix", "!r", "$x")).unwrap().is_empty());
    assert_eq!(s.outbox_pending().unwrap(), vec![(1, entry("first"))]);
    // The refused commit consumed no sequence number.
    let next = Commit {
        outbox: vec![entry("third")],
        ..Commit::default()
    };
    assert_eq!(s.commit(&next).unwrap(), vec![2]);
}

pub(crate) fn racing_commits_of_one_event_succeed_once(s: Arc<dyn Store>) {
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let s = s.clone();
            thread::spawn(move || {
                s.commit(&Commit {
                    at: i,
                    seen_event: Some("$race".into()),
                    outbox: vec![entry(&format!("from {i}"))],
                    ..Commit::default()
                })
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, StoreError::AlreadySeen { .. })));
    assert_eq!(s.outbox_pending().unwrap().len(), 1);
}

pub(crate) fn dedupe_marks_only_committed_events(s: Arc<dyn Store>) {
    assert!(!s.is_seen("$a").unwrap());
    s.commit(&Commit {
        at: 5,
        outbox: vec![entry("x")],
        ..Commit::default()
    })
    .unwrap();
    assert!(!s.is_seen("$a").unwrap());
    s.commit(&Commit {
        at: 5,
        seen_event: Some("$a".into()),
        ..Commit::default()
    })
    .unwrap();
    assert!(s.is_seen("$a").unwrap());
    assert!(!s.is_seen("$b").unwrap());
}

pub(crate) fn case_ids_count_up_from_one(s: Arc<dyn Store>) {
    let ids: Vec<_> = (0..3).map(|_| s.next_case_id().unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

pub(crate) fn case_ids_are_unique_across_threads(s: Arc<dyn Store>) {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            thread::spawn(move || {
                (0..25)
                    .map(|_| s.next_case_id().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), 100);
    assert_eq!(unique, (1..=100).collect());
}

pub(crate) fn outbox_seqs_are_unique_across_threads(s: Arc<dyn Store>) {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                let mut seqs = Vec::new();
                for i in 0..10 {
                    let e = entry(&format!("{t}-{i}"));
                    seqs.extend(
                        s.commit(&Commit {
                            outbox: vec![e.clone(), e],
                            ..Commit::default()
                        })
                        .unwrap(),
                    );
                }
                seqs
            })
        })
        .collect();
    let all: BTreeSet<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all, (1..=80).collect());
    let pending: Vec<u64> = s
        .outbox_pending()
        .unwrap()
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(pending, (1..=80).collect::<Vec<_>>());
}

pub(crate) fn outbox_keeps_order_and_updates(s: Arc<dyn Store>) {
    s.commit(&Commit {
        outbox: vec![entry("1"), entry("2")],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.commit(&Commit {
            outbox: vec![entry("3")],
            ..Commit::default()
        })
        .unwrap(),
        vec![3]
    );
    let mut retried = entry("2");
    retried.attempts = 4;
    s.outbox_update(2, &retried).unwrap();
    let pending = s.outbox_pending().unwrap();
    assert_eq!(
        pending,
        vec![(1, entry("1")), (2, retried), (3, entry("3"))]
    );
}

pub(crate) fn outbox_is_read_after_a_sequence_with_a_filter_and_a_limit(s: Arc<dyn Store>) {
    let texts = ["a", "b", "skip", "c", "d", "skip", "e"];
    s.commit(&Commit {
        outbox: texts.iter().map(|t| entry(t)).collect(),
        ..Commit::default()
    })
    .unwrap();
    s.outbox_done(2, &[], &[]).unwrap();
    let keep = |e: &OutboxEntry| e.key != "key-skip";
    let seqs = |after, limit| -> Vec<u64> {
        s.outbox_pending_after(after, limit, &keep)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect()
    };
    // Done (2) and filtered (3, 6) entries are left out; order is kept.
    assert_eq!(seqs(0, 10), vec![1, 4, 5, 7]);
    assert_eq!(seqs(1, 2), vec![4, 5]);
    assert_eq!(seqs(5, 10), vec![7]);
    assert_eq!(seqs(7, 10), Vec::<u64>::new());
    assert_eq!(seqs(u64::MAX, 10), Vec::<u64>::new());
    let read = s.outbox_pending_after(3, 1, &keep).unwrap();
    assert_eq!(read, vec![(4, entry("c"))]);
}

pub(crate) fn outbox_done_is_atomic_and_final(s: Arc<dyn Store>) {
    let e = entry("relay");
    s.commit(&Commit {
        outbox: vec![e.clone(), entry("next")],
        ..Commit::default()
    })
    .unwrap();
    let pair = (msg("matrix", "!r", "$src"), msg("slack", "C", "5.5"));
    let c = with_desk(case(9, "@a:x", assigned(), 1), "t9");
    s.outbox_done(1, std::slice::from_ref(&pair), std::slice::from_ref(&c))
        .unwrap();
    assert_eq!(s.outbox_pending().unwrap(), vec![(2, entry("next"))]);
    assert_eq!(s.twins(&pair.1).unwrap(), vec![pair.0.clone()]);
    assert_eq!(s.case(9).unwrap(), Some(c));
    // Done twice, or updated after done: refused, nothing written or revived.
    let late = (msg("matrix", "!r", "$late"), msg("slack", "C", "6.6"));
    let err = s
        .outbox_done(
            1,
            std::slice::from_ref(&late),
            &[case(10, "@b:x", CaseState::Queued, 1)],
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownOutboxEntry { seq: 1 }),
        "{err}"
    );
    assert!(s.twins(&late.0).unwrap().is_empty());
    assert_eq!(s.case(10).unwrap(), None);
    let err = s.outbox_update(1, &e).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownOutboxEntry { seq: 1 }),
        "{err}"
    );
    assert_eq!(s.outbox_pending().unwrap(), vec![(2, entry("next"))]);
}

pub(crate) fn bridge_state_is_per_bridge(s: Arc<dyn Store>) {
    assert_eq!(s.bridge_get("matrix", "since").unwrap(), None);
    s.bridge_put("matrix", "since", b"s1").unwrap();
    s.bridge_put("slack", "since", b"t1").unwrap();
    s.bridge_put("matrix", "since", b"s2").unwrap();
    assert_eq!(
        s.bridge_get("matrix", "since").unwrap(),
        Some(b"s2".to_vec())
    );
    assert_eq!(
        s.bridge_get("slack", "since").unwrap(),
        Some(b"t1".to_vec())
    );
    // Deleting is per bridge too, and deleting twice is fine.
    s.bridge_delete("slack", "since").unwrap();
    s.bridge_delete("slack", "since").unwrap();
    assert_eq!(s.bridge_get("slack", "since").unwrap(), None);
    assert_eq!(
        s.bridge_get("matrix", "since").unwrap(),
        Some(b"s2".to_vec())
    );
    // Prefix trap: ("ab", "c") is not ("a", "bc").
    s.bridge_put("ab", "c", b"1").unwrap();
    assert_eq!(s.bridge_get("a", "bc").unwrap(), None);
    s.bridge_put("x", "empty", b"").unwrap();
    assert_eq!(s.bridge_get("x", "empty").unwrap(), Some(Vec::new()));
    // A lazy write reads back at once and replaces like any other.
    s.bridge_put_lazy("matrix", "since", b"s3").unwrap();
    assert_eq!(
        s.bridge_get("matrix", "since").unwrap(),
        Some(b"s3".to_vec())
    );
    s.bridge_put("matrix", "since", b"s4").unwrap();
    s.bridge_put_lazy("slack", "since", b"t2").unwrap();
    assert_eq!(
        s.bridge_get("matrix", "since").unwrap(),
        Some(b"s4".to_vec())
    );
    assert_eq!(
        s.bridge_get("slack", "since").unwrap(),
        Some(b"t2".to_vec())
    );
}

pub(crate) fn prune_forgets_only_old_ids(s: Arc<dyn Store>) {
    for (id, at) in [("$old", 10), ("$mid", 20), ("$new", 30), ("$neg", -5)] {
        s.commit(&Commit {
            at,
            seen_event: Some(id.into()),
            ..Commit::default()
        })
        .unwrap();
    }
    assert_eq!(s.prune_seen(20).unwrap(), 2);
    assert!(!s.is_seen("$old").unwrap() && !s.is_seen("$neg").unwrap());
    assert!(s.is_seen("$mid").unwrap() && s.is_seen("$new").unwrap());
    assert_eq!(s.prune_seen(20).unwrap(), 0);
    // A forgotten id can be committed again, and pruned again later.
    s.commit(&Commit {
        at: 40,
        seen_event: Some("$old".into()),
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.prune_seen(35).unwrap(), 2);
    assert!(s.is_seen("$old").unwrap());
    assert!(!s.is_seen("$mid").unwrap());
}

pub(crate) fn parked_entries_are_kept_and_can_be_retried(s: Arc<dyn Store>) {
    s.commit(&Commit {
        outbox: vec![entry("bad"), entry("good")],
        ..Commit::default()
    })
    .unwrap();
    let mut tried = entry("bad");
    tried.attempts = 3;
    s.outbox_update(1, &tried).unwrap();
    s.outbox_park(1, "room not found").unwrap();
    // Out of the queue, but kept with its reason.
    assert_eq!(s.outbox_pending().unwrap(), vec![(2, entry("good"))]);
    let parked = s.outbox_parked().unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].0, 1);
    assert_eq!(parked[0].1.entry, tried);
    assert_eq!(parked[0].1.reason, "room not found");
    // Parking twice, or a done entry, is refused and writes nothing.
    let err = s.outbox_park(1, "again").unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownOutboxEntry { seq: 1 }),
        "{err}"
    );
    assert!(matches!(
        s.outbox_done(1, &[], &[]).unwrap_err(),
        StoreError::UnknownOutboxEntry { seq: 1 }
    ));
    // Retried: back in the queue under its number, attempts reset.
    s.outbox_unpark(1).unwrap();
    assert!(s.outbox_parked().unwrap().is_empty());
    assert_eq!(
        s.outbox_pending().unwrap(),
        vec![(1, entry("bad")), (2, entry("good"))]
    );
    let err = s.outbox_unpark(1).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownOutboxEntry { seq: 1 }),
        "{err}"
    );
    // New entries never reuse a parked entry's number.
    s.outbox_park(2, "gone").unwrap();
    let seqs = s
        .commit(&Commit {
            outbox: vec![entry("later")],
            ..Commit::default()
        })
        .unwrap();
    assert_eq!(seqs, vec![3]);
}

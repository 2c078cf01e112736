//! Suite cases about transcripts: turns are appended across commits and
//! read back whole and in order, `case_head` and `open_cases` leave them
//! out, and a case read without them cannot be written back. Each takes a
//! fresh store; each is listed in `store_suite!`.

use std::sync::Arc;

use super::{case, conversation, entry, msg, with_desk};
use crate::case::{CaseState, Speaker, Turn};
use crate::store::{Commit, Erased, Erasure, Store, StoreError};

/// Turn `i` of a test transcript: customer and bot by turns, `line {i}`.
pub(crate) fn turn(i: usize, internal: bool) -> Turn {
    Turn {
        at: i as i64,
        speaker: if i.is_multiple_of(2) {
            Speaker::Customer
        } else {
            Speaker::Bot
        },
        text: format!("line {i}"),
        faq: None,
        internal,
        source: None,
        deleted: false,
    }
}

pub(crate) fn transcripts_grow_by_appending(s: Arc<dyn Store>) {
    let mut c = with_desk(case(1, "@t:x", CaseState::Queued, 5), "t1");
    c.transcript = vec![turn(0, false), turn(1, false)];
    for step in 0..40usize {
        s.commit(&Commit {
            at: 5,
            seen_event: Some(format!("$grow{step}")),
            cases: vec![c.clone()],
            ..Commit::default()
        })
        .unwrap();
        assert_eq!(s.case(1).unwrap().as_ref(), Some(&c), "after step {step}");
        // One, none or several new turns per write.
        for k in 0..step % 3 {
            let i = c.transcript.len();
            c.transcript.push(turn(i, k == 1));
        }
    }
    assert!(c.transcript.len() > 40);
    // Other fields change without a new turn.
    c.state = CaseState::Resolved { by: "Ann".into() };
    s.outbox_done(
        s.commit(&Commit {
            outbox: vec![entry("x")],
            ..Commit::default()
        })
        .unwrap()[0],
        &[],
        &[c.clone()],
    )
    .unwrap();
    assert_eq!(s.case(1).unwrap(), Some(c.clone()));
    c.transcript.clear();
    assert_eq!(s.cases_since(0).unwrap(), vec![c], "listed without turns");
}

pub(crate) fn a_transcript_read_during_appends_is_whole(s: Arc<dyn Store>) {
    let mut c = with_desk(case(6, "@r:x", CaseState::Queued, 3), "t6");
    c.transcript = vec![turn(0, false)];
    s.commit(&Commit {
        cases: vec![c.clone()],
        ..Commit::default()
    })
    .unwrap();
    let writer = {
        let s = s.clone();
        let mut c = c.clone();
        std::thread::spawn(move || {
            for i in 1..300 {
                c.transcript.push(turn(i, false));
                s.commit(&Commit {
                    cases: vec![c.clone()],
                    ..Commit::default()
                })
                .unwrap();
            }
        })
    };
    let mut last = 0;
    while last < 300 {
        let read = s.case(6).unwrap().unwrap().transcript;
        assert!(
            read.len() >= last,
            "went back from {last} to {}",
            read.len()
        );
        for (i, t) in read.iter().enumerate() {
            assert_eq!(t, &turn(i, false), "turn {i} of {}", read.len());
        }
        last = read.len();
        if writer.is_finished() && last < 300 {
            assert_eq!(s.case(6).unwrap().unwrap().transcript.len(), 300);
            break;
        }
    }
    writer.join().unwrap();
}

pub(crate) fn heads_leave_the_transcript_out(s: Arc<dyn Store>) {
    let mut c = with_desk(case(3, "@h:x", CaseState::Queued, 7), "t3");
    c.transcript = (0..5).map(|i| turn(i, i == 2)).collect();
    s.commit(&Commit {
        at: 7,
        cases: vec![c.clone()],
        ..Commit::default()
    })
    .unwrap();
    let head = s.case_head(3).unwrap().unwrap();
    assert!(head.transcript.is_empty());
    assert_eq!(
        crate::case::Case {
            transcript: c.transcript.clone(),
            ..head.clone()
        },
        c
    );
    assert_eq!(s.open_cases().unwrap(), vec![head]);
    assert_eq!(s.case_head(99).unwrap(), None);
}

pub(crate) fn a_head_written_back_writes_nothing(s: Arc<dyn Store>) {
    let mut c = with_desk(case(4, "@w:x", CaseState::Queued, 9), "t4");
    c.transcript = (0..3).map(|i| turn(i, false)).collect();
    s.commit(&Commit {
        at: 9,
        cases: vec![c.clone()],
        ..Commit::default()
    })
    .unwrap();
    let mut head = s.case_head(4).unwrap().unwrap();
    head.state = CaseState::Resolved { by: "Bob".into() };
    let conv = conversation("@w:x", 9);
    let err = s
        .commit(&Commit {
            at: 9,
            seen_event: Some("$behind".into()),
            conversation: Some(conv.clone()),
            cases: vec![head.clone()],
            outbox: vec![entry("lost?")],
            ..Commit::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TranscriptBehind {
                case: 4,
                held: 0,
                stored: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert!(!s.is_seen("$behind").unwrap());
    assert_eq!(s.conversation(&conv.key).unwrap(), None);
    assert!(s.outbox_pending().unwrap().is_empty());
    assert_eq!(s.case(4).unwrap(), Some(c.clone()));

    let seq = s
        .commit(&Commit {
            outbox: vec![entry("y")],
            ..Commit::default()
        })
        .unwrap()[0];
    let err = s.outbox_done(seq, &[], &[head]).unwrap_err();
    assert!(
        matches!(err, StoreError::TranscriptBehind { .. }),
        "{err:?}"
    );
    assert_eq!(s.outbox_pending().unwrap().len(), 1, "entry still pending");
    assert_eq!(s.case(4).unwrap(), Some(c));
}

/// A deleted message's turn is rewritten in place (its text gone), while
/// every other turn stays as it was; the count does not change.
pub(crate) fn a_rewritten_turn_replaces_the_stored_one(s: Arc<dyn Store>) {
    let mut c = with_desk(case(5, "@r:x", CaseState::Queued, 5), "t5");
    c.transcript = (0..4).map(|i| turn(i, false)).collect();
    s.commit(&Commit {
        at: 5,
        cases: vec![c.clone()],
        ..Commit::default()
    })
    .unwrap();
    c.transcript[1].redact();
    c.transcript.push(turn(4, false));
    s.commit(&Commit {
        at: 6,
        cases: vec![c.clone()],
        rewritten_turns: vec![(5, 1)],
        ..Commit::default()
    })
    .unwrap();
    let back = s.case(5).unwrap().expect("case 5");
    assert_eq!(back, c);
    assert!(back.transcript[1].deleted && back.transcript[1].text.is_empty());
    assert_eq!(back.transcript[2].text, "line 2");
}

pub(crate) fn an_erasure_removes_and_rewrites_in_one_write(s: Arc<dyn Store>) {
    let gone = conversation("@gone:x", 1);
    let kept = conversation("@kept:x", 1);
    let mut c = with_desk(case(3, "@gone:x", CaseState::Abandoned, 1), "t3");
    c.transcript = (0..3).map(|i| turn(i, false)).collect();
    let mut gone_entry = entry("to gone");
    gone_entry.conversation = gone.key.clone();
    let mut parked = entry("parked for gone");
    parked.conversation = gone.key.clone();
    let mut kept_entry = entry("to kept");
    kept_entry.conversation = kept.key.clone();
    let (src, twin) = (msg("matrix", "!support:x", "$a"), msg("slack", "C", "1.1"));
    let (other, other_twin) = (msg("matrix", "!support:x", "$b"), msg("slack", "C", "2.2"));
    for conv in [&gone, &kept] {
        s.commit(&Commit {
            conversation: Some(conv.clone()),
            ..Commit::default()
        })
        .unwrap();
    }
    s.commit(&Commit {
        cases: vec![c.clone()],
        outbox: vec![parked, gone_entry, kept_entry.clone()],
        mappings: vec![
            (src.clone(), twin.clone()),
            (other.clone(), other_twin.clone()),
        ],
        ..Commit::default()
    })
    .unwrap();
    s.outbox_park(1, "refused").unwrap();
    s.bridge_put("web", "session/gone", b"visitor").unwrap();
    s.bridge_put("web", "session/kept", b"visitor").unwrap();

    // The case keeps its number and figures under another customer, every
    // turn loses its text; the conversation, its outbox entries (pending
    // and parked) and the twins of its messages go.
    let mut erased = c.clone();
    erased.customer.user.id = "erased".into();
    for t in &mut erased.transcript {
        t.redact();
    }
    let done = s
        .erase(&Erasure {
            conversations: vec![gone.key.clone()],
            cases: vec![erased.clone()],
            messages: vec![src.clone()],
            bridge_records: vec![
                ("web".into(), "session/gone".into()),
                ("web".into(), "never/there".into()),
            ],
        })
        .unwrap();
    assert_eq!(
        done,
        Erased {
            conversations: 1,
            cases: 1,
            turns: 3,
            outbox_entries: 2,
            twins: 1,
            bridge_records: 1,
        }
    );
    assert_eq!(s.bridge_get("web", "session/gone").unwrap(), None);
    assert!(s.bridge_get("web", "session/kept").unwrap().is_some());
    assert_eq!(s.case(3).unwrap(), Some(erased));
    assert!(s.cases_of_customer("matrix", "@gone:x").unwrap().is_empty());
    assert_eq!(s.cases_of_customer("matrix", "erased").unwrap(), vec![3]);
    assert_eq!(s.conversation(&gone.key).unwrap(), None);
    assert_eq!(s.conversation(&kept.key).unwrap(), Some(kept));
    assert_eq!(s.outbox_pending().unwrap(), vec![(3, kept_entry)]);
    assert!(s.outbox_parked().unwrap().is_empty());
    assert!(s.twins(&src).unwrap().is_empty());
    assert!(s.twins(&twin).unwrap().is_empty());
    assert_eq!(s.twins(&other).unwrap(), vec![other_twin]);

    // A case read without its transcript cannot be erased over it.
    let head = s.case_head(3).unwrap().unwrap();
    let err = s
        .erase(&Erasure {
            cases: vec![head],
            ..Erasure::default()
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::TranscriptBehind { .. }), "{err}");
}

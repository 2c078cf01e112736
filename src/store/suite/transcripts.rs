//! Suite cases about transcripts: turns are appended across commits and
//! read back whole and in order, `case_head` and `open_cases` leave them
//! out, and a case read without them cannot be written back. Each takes a
//! fresh store; each is listed in `store_suite!`.

use std::sync::Arc;

use super::{case, conversation, entry, with_desk};
use crate::case::{CaseState, Speaker, Turn};
use crate::store::{Commit, Store, StoreError};

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

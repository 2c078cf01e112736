//! Suite cases about reads and indexes: desk, customer (newest first),
//! open cases, opened-at, twins and the conversation list, each followed
//! through updates. Each takes a fresh store; each is listed in
//! `store_suite!`.

use std::sync::Arc;

use handoff_bridge_api::Endpoint;

use super::{assigned, case, conversation, entry, msg, resolved, with_desk};
use crate::case::CaseState;
use crate::store::{Commit, Store};

pub(crate) fn desk_index_follows_the_case(s: Arc<dyn Store>) {
    let a = with_desk(case(1, "@a:x", CaseState::Queued, 1), "t-a");
    let desk_a = a.desk.clone().unwrap().endpoint;
    s.commit(&Commit {
        cases: vec![case(1, "@a:x", CaseState::Queued, 1)],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.case_by_desk(&desk_a).unwrap(), None);
    s.commit(&Commit {
        cases: vec![a.clone()],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.case_by_desk(&desk_a).unwrap(), Some(1));
    let moved = with_desk(a, "t-b");
    let desk_b = moved.desk.clone().unwrap().endpoint;
    s.outbox_done(
        s.commit(&Commit {
            outbox: vec![entry("open")],
            ..Commit::default()
        })
        .unwrap()[0],
        &[],
        &[moved],
    )
    .unwrap();
    assert_eq!(s.case_by_desk(&desk_a).unwrap(), None);
    assert_eq!(s.case_by_desk(&desk_b).unwrap(), Some(1));
    // Same room, other thread, and other network: different desks.
    assert_eq!(
        s.case_by_desk(&Endpoint::new("slack", "C-desk")).unwrap(),
        None
    );
    let mut other_net = desk_b.clone();
    other_net.network = "matrix".into();
    assert_eq!(s.case_by_desk(&other_net).unwrap(), None);
}

pub(crate) fn customer_index_is_newest_first(s: Arc<dyn Store>) {
    let mut cases = vec![
        case(1, "@u:x", resolved(), 1),
        case(2, "@other:x", CaseState::Queued, 2),
        case(3, "@u:x", resolved(), 3),
        case(4, "@u:x", CaseState::Queued, 4),
    ];
    let mut elsewhere = case(5, "@u:x", CaseState::Queued, 5);
    elsewhere.customer.user.network = "slack".into();
    cases.push(elsewhere);
    s.commit(&Commit {
        cases,
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.cases_of_customer("matrix", "@u:x").unwrap(),
        vec![4, 3, 1]
    );
    assert_eq!(s.cases_of_customer("matrix", "@other:x").unwrap(), vec![2]);
    assert_eq!(s.cases_of_customer("slack", "@u:x").unwrap(), vec![5]);
    assert!(s.cases_of_customer("matrix", "@u").unwrap().is_empty());
    // Rewriting a case does not duplicate it in the index.
    s.commit(&Commit {
        cases: vec![case(3, "@u:x", assigned(), 3)],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.cases_of_customer("matrix", "@u:x").unwrap(),
        vec![4, 3, 1]
    );
}

pub(crate) fn open_cases_follow_state(s: Arc<dyn Store>) {
    let cases = vec![
        case(1, "@a:x", CaseState::Queued, 1),
        case(2, "@b:x", assigned(), 2),
        case(3, "@c:x", resolved(), 3),
        case(4, "@d:x", CaseState::Abandoned, 4),
    ];
    s.commit(&Commit {
        cases,
        ..Commit::default()
    })
    .unwrap();
    let ids = |s: &Arc<dyn Store>| {
        s.open_cases()
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&s), vec![1, 2]);
    s.commit(&Commit {
        cases: vec![case(1, "@a:x", resolved(), 1)],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(ids(&s), vec![2]);
    let seq = s
        .commit(&Commit {
            outbox: vec![entry("x")],
            ..Commit::default()
        })
        .unwrap()[0];
    s.outbox_done(
        seq,
        &[],
        &[
            case(3, "@c:x", CaseState::Queued, 3),
            case(2, "@b:x", resolved(), 2),
        ],
    )
    .unwrap();
    assert_eq!(ids(&s), vec![3]);
    assert_eq!(s.open_cases().unwrap()[0].state, CaseState::Queued);
}

pub(crate) fn cases_since_uses_opened_at(s: Arc<dyn Store>) {
    let cases = vec![
        case(1, "@a:x", CaseState::Queued, 300),
        case(2, "@b:x", CaseState::Queued, 100),
        case(3, "@c:x", resolved(), 200),
        case(4, "@d:x", CaseState::Queued, -50),
    ];
    s.commit(&Commit {
        cases,
        ..Commit::default()
    })
    .unwrap();
    let ids = |since| {
        s.cases_since(since)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(150), vec![1, 3]);
    assert_eq!(ids(200), vec![1, 3]);
    assert_eq!(ids(-100), vec![1, 2, 3, 4]);
    assert_eq!(ids(301), Vec::<u64>::new());
    s.commit(&Commit {
        cases: vec![case(2, "@b:x", CaseState::Queued, 250)],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(ids(150), vec![1, 2, 3]);
}

pub(crate) fn twins_are_stored_both_ways(s: Arc<dyn Store>) {
    let a = msg("matrix", "!r", "$a");
    let (b, c) = (msg("slack", "C1", "1.2"), msg("slack", "C1", "1.1"));
    // Prefix trap: room "C1" + id "23" vs room "C12" + id "3".
    let (p, q) = (msg("slack", "C1", "23"), msg("slack", "C12", "3"));
    s.commit(&Commit {
        mappings: vec![(a.clone(), b.clone()), (q.clone(), a.clone())],
        ..Commit::default()
    })
    .unwrap();
    let seq = s
        .commit(&Commit {
            outbox: vec![entry("x")],
            ..Commit::default()
        })
        .unwrap()[0];
    s.outbox_done(seq, &[(a.clone(), c.clone())], &[]).unwrap();
    assert_eq!(s.twins(&a).unwrap(), vec![c.clone(), b.clone(), q.clone()]);
    assert_eq!(s.twins(&b).unwrap(), vec![a.clone()]);
    assert_eq!(s.twins(&c).unwrap(), vec![a.clone()]);
    assert_eq!(s.twins(&q).unwrap(), vec![a.clone()]);
    assert!(s.twins(&p).unwrap().is_empty());
    // Storing a pair again does not duplicate it.
    s.commit(&Commit {
        mappings: vec![(b.clone(), a.clone())],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(s.twins(&b).unwrap(), vec![a]);
}

pub(crate) fn twins_are_found_without_the_thread(s: Arc<dyn Store>) {
    let customer = msg("matrix", "!r", "$a");
    let mut in_thread = msg("slack", "C1", "2.0");
    in_thread.endpoint.thread = Some("1.0".into());
    s.commit(&Commit {
        mappings: vec![(customer.clone(), in_thread.clone())],
        ..Commit::default()
    })
    .unwrap();
    // A Slack reaction names channel and ts only; the twin keeps its thread.
    assert_eq!(
        s.twins(&msg("slack", "C1", "2.0")).unwrap(),
        vec![customer.clone()]
    );
    assert_eq!(s.twins(&in_thread).unwrap(), vec![customer.clone()]);
    assert_eq!(s.twins(&customer).unwrap(), vec![in_thread]);
    assert!(s.twins(&msg("slack", "C2", "2.0")).unwrap().is_empty());
}

pub(crate) fn conversations_are_listed_by_key(s: Arc<dyn Store>) {
    for user in ["@c:x", "@a:x", "@b:x"] {
        s.commit(&Commit {
            conversation: Some(conversation(user, 1)),
            ..Commit::default()
        })
        .unwrap();
    }
    let mut changed = conversation("@b:x", 1);
    changed.misses_in_row = 2;
    s.commit(&Commit {
        conversation: Some(changed.clone()),
        ..Commit::default()
    })
    .unwrap();
    let all = s.conversations().unwrap();
    let keys: Vec<_> = all.iter().map(|c| c.customer.user.id.as_str()).collect();
    assert_eq!(keys, vec!["@a:x", "@b:x", "@c:x"]);
    assert_eq!(all[1], changed);
    assert_eq!(s.conversation(&changed.key).unwrap(), Some(changed));
}

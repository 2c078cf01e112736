//! Model-based property test: random operation sequences applied to the
//! memory and sled backends give identical results and identical
//! observable state after every step. The memory store is the model.

use std::sync::Arc;

use proptest::prelude::*;

use super::memory::MemoryStore;
use super::sled::SledStore;
use super::suite::{assigned, case, conversation, entry, msg, resolved, turn, with_desk};
use super::{Commit, Store};
use crate::case::{Case, CaseState};
use handoff_bridge_api::{Endpoint, MessageRef};

const USERS: [&str; 3] = ["@a:x", "@b:x", "@c:x"];

#[derive(Clone, Debug)]
enum Op {
    Commit(Box<Commit>),
    NextCaseId,
    OutboxUpdate {
        seq: u64,
        attempts: u32,
    },
    OutboxDone {
        seq: u64,
        mappings: Vec<(MessageRef, MessageRef)>,
        cases: Vec<Case>,
    },
    BridgePut {
        bridge: u8,
        key: u8,
        value: u8,
    },
    Prune {
        older_than: i64,
    },
}

fn message() -> impl Strategy<Value = MessageRef> {
    (0..2usize, 0..3u8).prop_map(|(net, id)| msg(["matrix", "slack"][net], "r", &id.to_string()))
}

fn a_case() -> impl Strategy<Value = Case> {
    (
        1..6u64,
        0..3usize,
        0..4u8,
        -3..3i64,
        proptest::option::of(0..3u8),
        0..4usize,
    )
        .prop_map(|(id, user, state, opened, desk, turns)| {
            let state = match state {
                0 => CaseState::Queued,
                1 => assigned(),
                2 => resolved(),
                _ => CaseState::Abandoned,
            };
            let mut c = case(id, USERS[user], state, opened);
            // Turn i is the same in every copy, so a longer transcript
            // extends a shorter one and a shorter one is "behind".
            c.transcript = (0..turns).map(|i| turn(i, i == 2)).collect();
            match desk {
                Some(d) => with_desk(c, &format!("t{d}")),
                None => c,
            }
        })
}

fn mappings() -> impl Strategy<Value = Vec<(MessageRef, MessageRef)>> {
    proptest::collection::vec((message(), message()), 0..2)
}

fn cases() -> impl Strategy<Value = Vec<Case>> {
    proptest::collection::vec(a_case(), 0..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            proptest::option::of(0..4u8),
            -3..3i64,
            proptest::option::of((0..3usize, 0..3u32)),
            cases(),
            0..3usize,
            mappings(),
        )
            .prop_map(|(seen, at, conv, cases, n, mappings)| Op::Commit(Box::new(Commit {
                at,
                seen_event: seen.map(|s| format!("$e{s}")),
                conversation: conv.map(|(u, misses)| {
                    let mut c = conversation(USERS[u], at);
                    c.misses_in_row = misses;
                    c
                }),
                cases,
                outbox: (0..n).map(|i| entry(&i.to_string())).collect(),
                mappings,
                rewritten_turns: Vec::new(),
            }))),
        1 => Just(Op::NextCaseId),
        1 => (0..6u64, 0..5u32).prop_map(|(seq, attempts)| Op::OutboxUpdate { seq, attempts }),
        2 => (0..6u64, mappings(), cases())
            .prop_map(|(seq, mappings, cases)| Op::OutboxDone { seq, mappings, cases }),
        1 => (0..2u8, 0..2u8, any::<u8>()).prop_map(|(bridge, key, value)| Op::BridgePut { bridge, key, value }),
        1 => (-3..4i64).prop_map(|older_than| Op::Prune { older_than }),
    ]
}

/// The result of an operation, comparable across backends (a store path
/// in an error reads `<memory>`).
fn apply(s: &dyn Store, op: &Op, path: &str) -> Result<String, String> {
    let r = match op {
        Op::Commit(c) => s.commit(c).map(|v| format!("{v:?}")),
        Op::NextCaseId => s.next_case_id().map(|v| v.to_string()),
        Op::OutboxUpdate { seq, attempts } => {
            let mut e = entry("updated");
            e.attempts = *attempts;
            s.outbox_update(*seq, &e).map(|_| String::new())
        }
        Op::OutboxDone {
            seq,
            mappings,
            cases,
        } => s.outbox_done(*seq, mappings, cases).map(|_| String::new()),
        Op::BridgePut { bridge, key, value } => s
            .bridge_put(&bridge.to_string(), &key.to_string(), &[*value])
            .map(|_| String::new()),
        Op::Prune { older_than } => s.prune_seen(*older_than).map(|n| n.to_string()),
    };
    r.map_err(|e| e.to_string().replace(path, "<memory>"))
}

/// Everything a caller can see, as one comparable string.
fn observe(s: &dyn Store) -> String {
    let mut out = String::new();
    let mut see = |label: &str, v: String| out.push_str(&format!("{label}: {v}\n"));
    see("outbox", format!("{:?}", s.outbox_pending().unwrap()));
    see("open", format!("{:?}", s.open_cases().unwrap()));
    see("since", format!("{:?}", s.cases_since(i64::MIN).unwrap()));
    see("since0", format!("{:?}", s.cases_since(0).unwrap()));
    for id in 1..6 {
        see("case", format!("{:?}", s.case(id).unwrap()));
    }
    see("convs", format!("{:?}", s.conversations().unwrap()));
    for u in USERS {
        see(
            u,
            format!("{:?}", s.cases_of_customer("matrix", u).unwrap()),
        );
    }
    for d in 0..3 {
        let ep = Endpoint::new("slack", "C-desk").in_thread(format!("t{d}"));
        see("desk", format!("{:?}", s.case_by_desk(&ep).unwrap()));
    }
    for net in ["matrix", "slack"] {
        for id in 0..3 {
            see(
                "twins",
                format!("{:?}", s.twins(&msg(net, "r", &id.to_string())).unwrap()),
            );
        }
    }
    for e in 0..4 {
        see(
            "seen",
            format!("{:?}", s.is_seen(&format!("$e{e}")).unwrap()),
        );
    }
    for b in 0..2 {
        for k in 0..2 {
            see(
                "bridge",
                format!(
                    "{:?}",
                    s.bridge_get(&b.to_string(), &k.to_string()).unwrap()
                ),
            );
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sled_behaves_like_the_memory_model(ops in proptest::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let sled: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let model: Arc<dyn Store> = Arc::new(MemoryStore::new());
        for (i, op) in ops.iter().enumerate() {
            let (got, want) = (apply(&*sled, op, &path), apply(&*model, op, "<memory>"));
            prop_assert_eq!(&got, &want, "step {}: {:?}", i, op);
            prop_assert_eq!(observe(&*sled), observe(&*model), "after step {}: {:?}", i, op);
        }
    }
}

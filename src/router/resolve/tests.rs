//! Resolving edits, deletes and reactions: only on this conversation's
//! own lines.

use handoff_bridge_api::{Action, Endpoint, MessageRef, Text};

use super::*;
use crate::case::CaseDesk;
use crate::conversation::Effect;
use crate::store::memory::MemoryStore;
use crate::store::suite::{case, conversation, user};
use crate::store::Commit;

fn at(endpoint: &Endpoint, id: &str) -> MessageRef {
    MessageRef {
        endpoint: endpoint.clone(),
        id: id.into(),
    }
}

/// Customers A and B share `!shared`; their cases are threads `tA`, `tB`
/// of one staff channel. B's line `$b` was relayed to B's thread, A's
/// line `$a` to A's thread.
fn setup() -> (MemoryStore, Conversation, Case) {
    let shared = Endpoint::new("matrix", "!shared:x");
    let staff = Endpoint::new("slack", "C-staff");
    let store = MemoryStore::new();
    store
        .commit(&Commit {
            mappings: vec![
                (at(&shared, "$a"), at(&staff.clone().in_thread("tA"), "1.1")),
                (at(&shared, "$b"), at(&staff.clone().in_thread("tB"), "2.2")),
            ],
            ..Commit::default()
        })
        .expect("commit");
    let mut conv = conversation("@a:x", 0);
    conv.customer.endpoint = shared;
    conv.customer.user = user("matrix", "@a:x");
    let mut c = case(1, "@a:x", crate::case::CaseState::Queued, 0);
    let desk = staff.in_thread("tA");
    c.desk = Some(CaseDesk {
        summary: at(&desk, "tA"),
        endpoint: desk,
    });
    (store, conv, c)
}

fn relay(conv: &Conversation, item: Relayed) -> OutboxEntry {
    OutboxEntry {
        conversation: conv.key.clone(),
        key: "k".into(),
        effect: Effect::Relay {
            case: 1,
            to: Side::Desk,
            item,
        },
        attempts: 0,
    }
}

fn items(target: &MessageRef) -> Vec<Relayed> {
    vec![
        Relayed::Edit {
            target: target.clone(),
            text: Text::plain("rewritten"),
        },
        Relayed::Delete {
            target: target.clone(),
        },
        Relayed::Reaction {
            source: MessageRef {
                endpoint: target.endpoint.clone(),
                id: "$react".into(),
            },
            target: target.clone(),
            key: "👎".into(),
        },
    ]
}

#[test]
fn a_customer_cannot_touch_another_customer_s_line() {
    let (store, conv, c) = setup();
    let theirs = at(&conv.customer.endpoint, "$b");
    for item in items(&theirs) {
        let r = resolve(&relay(&conv, item.clone()), &conv, Some(&c), &store).expect("resolve");
        assert!(matches!(r, Resolved::Skip(_)), "{item:?} resolved to {r:?}");
    }
}

#[test]
fn a_customer_edits_deletes_and_reacts_on_their_own_line() {
    let (store, conv, c) = setup();
    let mine = at(&conv.customer.endpoint, "$a");
    for item in items(&mine) {
        let r = resolve(&relay(&conv, item.clone()), &conv, Some(&c), &store).expect("resolve");
        let Resolved::Deliver { outgoing, .. } = &r else {
            panic!("{item:?} was not delivered: {r:?}");
        };
        let target = match &outgoing.action {
            Action::Edit { target, .. } | Action::Delete { target } => target,
            Action::React { target, .. } => target,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(target.id, "1.1");
    }
}

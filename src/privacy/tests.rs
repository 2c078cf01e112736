//! Planning erasures on the in-memory store: who `--customer` names, and
//! the report's wording. The erasure through the router (workers held,
//! no trace left in a sled store or an export) is in `router::tests`.

use std::sync::Arc;

use super::*;
use crate::store::memory::MemoryStore;
use crate::store::suite::{case, conversation};
use crate::store::Commit;

fn store_with(people: &[(&str, &str)]) -> Arc<MemoryStore> {
    let s = Arc::new(MemoryStore::new());
    for (network, id) in people {
        let mut conv = conversation(id, 1);
        conv.customer.user.network = (*network).into();
        conv.customer.endpoint.network = (*network).into();
        conv.key = ConversationKey::new(&conv.customer.endpoint, &conv.customer.user);
        s.commit(&Commit {
            conversation: Some(conv),
            ..Commit::default()
        })
        .unwrap();
    }
    s
}

fn none(_: &Endpoint, _: &str) -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn a_network_prefix_narrows_and_a_bare_id_matches_every_network() {
    let s = store_with(&[
        ("matrix", "@carol:x"),
        ("web", "@carol:x"),
        ("matrix", "@dave:x"),
    ]);
    let (plan, _) = plan_forget(s.as_ref(), "matrix:@carol:x", 1, &none).unwrap();
    assert_eq!(plan.erasure.conversations.len(), 1);
    assert!(plan.erasure.conversations[0].0.starts_with("matrix:"));
    let (plan, _) = plan_forget(s.as_ref(), " @carol:x ", 1, &none).unwrap();
    assert_eq!(plan.erasure.conversations.len(), 2, "{plan:?}");
    assert_eq!(plan.hold, plan.erasure.conversations);
    let (plan, cases) = plan_forget(s.as_ref(), "@nobody:x", 1, &none).unwrap();
    assert!(plan.is_empty() && cases.is_empty());
    assert!(matches!(
        plan_forget(s.as_ref(), "  ", 1, &none),
        Err(ForgetError::Empty(_))
    ));
}

#[test]
fn the_networks_name_the_bridge_records_to_erase() {
    let s = store_with(&[("web", "visitor-1")]);
    let records =
        |e: &Endpoint, user: &str| vec![(e.network.clone(), format!("session/{}/{user}", e.room))];
    let (plan, _) = plan_forget(s.as_ref(), "web:visitor-1", 1, &records).unwrap();
    assert_eq!(
        plan.erasure.bridge_records,
        vec![(
            "web".to_string(),
            "session/!support:x/visitor-1".to_string()
        )]
    );
}

#[test]
fn an_erased_case_keeps_its_figures_and_loses_the_person() {
    let s = Arc::new(MemoryStore::new());
    let mut c = case(4, "@carol:x", crate::case::CaseState::Abandoned, 10);
    c.customer.user.display_name = Some("Carol".into());
    c.csat = Some(5);
    s.commit(&Commit {
        cases: vec![c],
        ..Commit::default()
    })
    .unwrap();
    let report = forget(s.as_ref(), "@carol:x", 99, &none).unwrap();
    assert_eq!(report.cases, vec![4]);
    let back = s.case(4).unwrap().unwrap();
    assert_eq!(back.customer.user.id, "erased-4");
    assert_eq!(back.customer.user.display_name, None);
    assert_eq!(back.customer.endpoint.room, "erased-4");
    assert_eq!(back.csat, Some(5));
    assert_eq!(back.opened_at, 10);
    assert_eq!(back.erased_at, Some(99));
    let text = report.to_string();
    assert!(text.contains("cases erased: 1 (#4)"), "{text}");
    assert!(text.contains("delete it there"), "{text}");
    let nothing = forget(s.as_ref(), "@carol:x", 100, &none).unwrap();
    assert_eq!(nothing.to_string(), "nothing stored about @carol:x\n");
}

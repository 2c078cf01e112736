//! Stats over hand-built cases: every figure checked against the numbers
//! worked out by hand.

use super::*;
use crate::case::{ConversationKey, EscalationReason};
use crate::fixtures::{customer, engine, T0};

const MIN: Millis = 60_000;

fn conv(key: &str, last: Millis) -> Conversation {
    let mut c = engine().start(customer(), last).conv;
    c.key = ConversationKey(key.into());
    c.last_customer_at = last;
    c
}

fn case(id: u64, conv: &str, team: &str, opened: Millis) -> Case {
    Case {
        id,
        conversation: ConversationKey(conv.into()),
        customer: customer(),
        team: team.into(),
        reason: EscalationReason::AskedForHuman {
            phrase: "agent".into(),
        },
        intent: None,
        state: CaseState::Queued,
        opened_at: opened,
        bot_since: opened,
        first_human_reply_at: None,
        closed_at: None,
        desk: None,
        transcript: Vec::new(),
        sla_deadline: None,
        overdue: false,
        out_of_hours: false,
        transfers: Vec::new(),
        previous_cases: Vec::new(),
        told_position: None,
        csat: None,
    }
}

fn scenario() -> (Vec<Conversation>, Vec<Case>) {
    let convs = vec![
        conv("a", T0 + MIN),
        conv("b", T0 + 2 * MIN),
        conv("c", T0 + 3 * MIN),
        conv("d", T0 + 4 * MIN),
        conv("old", T0 - 100 * MIN),
    ];
    let mut c1 = case(1, "a", "billing", T0);
    c1.first_human_reply_at = Some(T0 + 2 * MIN);
    c1.state = CaseState::Resolved { by: "alice".into() };
    c1.closed_at = Some(T0 + 10 * MIN);
    c1.csat = Some(5);
    let mut c2 = case(2, "b", "tech", T0 + MIN);
    c2.reason = EscalationReason::Vip;
    c2.first_human_reply_at = Some(T0 + 5 * MIN);
    c2.overdue = true;
    c2.state = CaseState::Assigned {
        agent_id: "@bob:x".into(),
        agent: "Bob".into(),
    };
    let mut c3 = case(3, "c", "tech", T0 + 2 * MIN);
    c3.state = CaseState::Abandoned;
    let mut c4 = case(4, "old", "tech", T0 - 100 * MIN);
    c4.csat = Some(1);
    (convs, vec![c1, c2, c3, c4])
}

#[test]
fn figures_of_a_window() {
    let (convs, cases) = scenario();
    let s = Stats::compute(&convs, &cases, T0, T0 + 60 * MIN);
    assert_eq!(s.conversations, 4);
    assert_eq!(s.escalated_conversations, 3);
    assert_eq!(s.containment, Some(0.25));
    assert_eq!(s.cases, 3);
    assert_eq!((s.open, s.resolved, s.abandoned), (1, 1, 1));
    assert_eq!(s.escalations_by_reason.get("asked_for_human"), Some(&2));
    assert_eq!(s.escalations_by_reason.get("vip"), Some(&1));
    assert_eq!(s.escalations_by_team.get("tech"), Some(&2));
    // First replies: 120 s and 240 s.
    assert_eq!(s.first_reply.count, 2);
    assert_eq!(s.first_reply.median_secs, Some(120.0));
    assert_eq!(s.first_reply.p90_secs, Some(240.0));
    assert_eq!(s.resolution.median_secs, Some(600.0));
    assert_eq!(s.abandonment, Some(1.0 / 3.0));
    assert_eq!(s.sla_breaches, 1);
    // The old case's rating is outside the window.
    assert_eq!(s.csat.responses, 1);
    assert_eq!(s.csat.average, Some(5.0));
    let text = s.render();
    assert!(text.contains("containment:          25.0 %"), "{text}");
    assert!(text.contains("median 2m, p90 4m (2 cases)"), "{text}");
    assert!(
        text.contains("5.00 average from 1 rating(s) (5: 1)"),
        "{text}"
    );
}

#[test]
fn empty_window_says_not_available() {
    let (convs, cases) = scenario();
    let s = Stats::compute(&convs, &cases, T0 + 1000 * MIN, T0 + 2000 * MIN);
    assert_eq!((s.conversations, s.cases), (0, 0));
    assert_eq!(s.containment, None);
    let text = s.render();
    assert!(text.contains("containment:          n/a"), "{text}");
    assert!(text.contains("CSAT:                 no ratings"), "{text}");
}

#[test]
fn percentiles_use_nearest_rank() {
    let p = Percentiles::of((1..=10).map(f64::from).collect());
    assert_eq!((p.median_secs, p.p90_secs), (Some(5.0), Some(9.0)));
    let one = Percentiles::of(vec![7.0]);
    assert_eq!((one.median_secs, one.p90_secs), (Some(7.0), Some(7.0)));
}

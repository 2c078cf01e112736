//! Observations read off real state-machine steps (the fixture engine),
//! one lifecycle stage at a time.

use super::*;
use crate::conversation::{Engine, Event};
use crate::fixtures::*;

fn step(e: &Engine, s: &State, ev: Event, now: Millis, w: &FakeWorld) -> State {
    e.step(s, ev, now, w)
        .unwrap_or_else(|r| panic!("refused: {r}"))
        .state
}

#[test]
fn new_conversation_answered_from_the_faq() {
    let (e, w) = (engine(), FakeWorld::default());
    let s0 = e.start(customer(), T0);
    let s1 = step(&e, &s0, says("how do I reset my password?"), T0, &w);
    assert_eq!(
        observe(None, &s1, T0),
        vec![Observation::ConversationStarted, Observation::FaqAnswered]
    );
    // The same answer again, later: counted again.
    let s2 = step(&e, &s1, says("i forgot my password"), T0 + 1000, &w);
    assert_eq!(
        observe(Some(&s1), &s2, T0 + 1000),
        vec![Observation::FaqAnswered]
    );
    // A tick at the same state observes nothing.
    assert_eq!(observe(Some(&s2), &s2, T0 + 2000), vec![]);
}

#[test]
fn miss_then_escalation_by_request() {
    let (e, w) = (engine(), FakeWorld::default());
    let s0 = e.start(customer(), T0);
    let s1 = step(&e, &s0, says("what colour is the moon on tuesdays"), T0, &w);
    assert_eq!(
        observe(Some(&s0), &s1, T0),
        vec![Observation::FaqMiss],
        "{:?}",
        s1.conv
    );
    let s2 = step(&e, &s1, says("I want to talk to an agent"), T0 + 1, &w);
    assert_eq!(
        observe(Some(&s1), &s2, T0 + 1),
        vec![Observation::Escalated {
            reason: "asked_for_human",
            team: "tech".into()
        }]
    );
}

#[test]
fn first_reply_resolution_and_csat() {
    let (e, w) = (engine(), FakeWorld::default());
    let s0 = e.start(customer(), T0);
    let q = step(&e, &s0, says("I want to talk to an agent"), T0, &w);
    let a = step(&e, &q, agent_says(alice(), "!claim"), T0 + MINUTE, &w);
    // Claiming tells the customer a named person joined: that is the
    // first human reply.
    assert_eq!(
        observe(Some(&q), &a, T0 + MINUTE),
        vec![Observation::FirstHumanReply {
            team: "tech".into(),
            seconds: 60.0
        }]
    );
    let r = step(
        &e,
        &a,
        agent_says(alice(), "hello there"),
        T0 + 2 * MINUTE,
        &w,
    );
    assert_eq!(observe(Some(&a), &r, T0 + 2 * MINUTE), vec![]);
    let done = step(&e, &r, agent_says(alice(), "!resolve"), T0 + 5 * MINUTE, &w);
    assert_eq!(
        observe(Some(&r), &done, T0 + 5 * MINUTE),
        vec![Observation::Resolved {
            team: "tech".into(),
            seconds: 300.0
        }]
    );
    if done.conv.awaiting_csat {
        let rated = step(&e, &done, says("5"), T0 + 6 * MINUTE, &w);
        assert_eq!(
            observe(Some(&done), &rated, T0 + 6 * MINUTE),
            vec![Observation::Csat {
                team: "tech".into(),
                score: 5
            }]
        );
    }
}

#[test]
fn abandonment_and_return() {
    let (e, w) = (engine(), FakeWorld::default());
    let s0 = e.start(customer(), T0);
    let q = step(&e, &s0, says("I want to talk to an agent"), T0, &w);
    let gone = step(&e, &q, Event::Tick, T0 + 31 * MINUTE, &w);
    assert_eq!(
        observe(Some(&q), &gone, T0 + 31 * MINUTE),
        vec![Observation::Abandoned {
            team: "tech".into()
        }]
    );
    let back = step(&e, &gone, says("hello? still there?"), T0 + 40 * MINUTE, &w);
    assert_eq!(
        observe(Some(&gone), &back, T0 + 40 * MINUTE),
        vec![Observation::Returned {
            team: "tech".into()
        }]
    );
}

#[test]
fn sla_breach_with_fallback_is_a_breach_and_a_transfer() {
    let (e, w) = (engine(), FakeWorld::default());
    let s0 = e.start(customer(), T0);
    let q = step(
        &e,
        &s0,
        says("I need a refund for my invoice, agent please"),
        T0,
        &w,
    );
    assert_eq!(q.case.as_ref().map(|c| c.team.as_str()), Some("billing"));
    let late = step(&e, &q, Event::Tick, T0 + 11 * MINUTE, &w);
    let obs = observe(Some(&q), &late, T0 + 11 * MINUTE);
    assert!(
        obs.contains(&Observation::SlaBreached {
            team: "billing".into()
        }),
        "{obs:?}"
    );
    assert!(
        obs.contains(&Observation::Transferred {
            from: "billing".into(),
            to: "tech".into()
        }),
        "{obs:?}"
    );
}

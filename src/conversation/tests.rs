//! Transition tables of the case state machine: each test drives a state
//! through events and checks the new state and the exact effects.

use handoff_bridge_api::{Attachment, DeskTarget, Endpoint, MessageRef, Text};

use super::*;
use crate::case::{CaseState, EscalationReason, Phase};
use crate::fixtures::*;

fn step(e: &Engine, s: &State, ev: Event, now: Millis, w: &FakeWorld) -> Transition {
    e.step(s, ev, now, w)
        .unwrap_or_else(|r| panic!("refused: {r}"))
}

fn said(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Say { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn opened(t: &Transition) -> Option<(&str, &DeskTarget)> {
    t.effects.iter().find_map(|e| match e {
        Effect::OpenCase { network, desk, .. } => Some((network.as_str(), desk)),
        _ => None,
    })
}

fn count<F: Fn(&Effect) -> bool>(t: &Transition, f: F) -> usize {
    t.effects.iter().filter(|e| f(e)).count()
}

fn reason(t: &Transition) -> EscalationReason {
    t.state.case.as_ref().expect("a case").reason.clone()
}

/// A conversation escalated by asking for an agent (default team: tech).
fn queued(e: &Engine, w: &FakeWorld) -> State {
    let s = e.start(customer(), T0);
    step(e, &s, says("I want to talk to an agent"), T0, w).state
}

fn assigned(e: &Engine, w: &FakeWorld) -> State {
    let s = queued(e, w);
    step(e, &s, agent_says(alice(), "!claim"), T0 + MINUTE, w).state
}

#[test]
fn faq_question_is_answered_by_the_bot() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("how do I reset my password?"), T0, &w);
    assert_eq!(said(&t), vec!["Use the Forgot password link."]);
    assert_eq!(t.state.phase(), Phase::Bot);
    assert_eq!(t.state.conv.turns.len(), 2);
    assert_eq!(
        t.state.conv.last_answer.as_ref().unwrap().id,
        "reset_password"
    );
    assert!(t.state.case.is_none());
}

#[test]
fn misses_then_escalation_to_the_default_team() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("zebra quantum marmalade"), T0, &w);
    assert_eq!(t.state.conv.misses_in_row, 1);
    assert_eq!(said(&t), vec![e.config.messages.no_answer.clone()]);
    let t = step(&e, &t.state, says("purple elephant theorem"), T0 + 1000, &w);
    assert_eq!(t.state.phase(), Phase::Queued(1));
    assert_eq!(reason(&t), EscalationReason::RepeatedMisses { count: 2 });
    let (net, desk) = opened(&t).expect("case opened");
    assert_eq!(net, "matrix");
    assert_eq!(
        desk,
        &DeskTarget::PrivateRoom {
            invite: vec!["@alice:localhost".into(), "@bob:localhost".into()],
            encrypted: false,
        }
    );
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.team, "tech");
    assert_eq!(
        case.transcript.len(),
        4,
        "3 bot-time turns + handover notice"
    );
    assert!(said(&t)[0].contains("number 1 in line"), "{:?}", said(&t));
    assert!(t.state.conv.turns.is_empty());
}

#[test]
fn asking_for_a_person_escalates_at_once() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = step(
        &e,
        &e.start(customer(), T0),
        says("can I speak to a human please"),
        T0,
        &w,
    );
    assert!(matches!(reason(&t), EscalationReason::AskedForHuman { .. }));
    assert_eq!(count(&t, |e| matches!(e, Effect::OpenCase { .. })), 1);
}

#[test]
fn escalate_entry_routes_to_its_team_desk() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = step(
        &e,
        &e.start(customer(), T0),
        says("i want my money back"),
        T0,
        &w,
    );
    assert_eq!(
        reason(&t),
        EscalationReason::FaqEscalate {
            faq_id: "refund".into()
        }
    );
    assert_eq!(t.state.case.as_ref().unwrap().team, "billing");
    let (net, desk) = opened(&t).unwrap();
    assert_eq!(net, "slack");
    assert_eq!(
        desk,
        &DeskTarget::Thread {
            room: "#billing".into()
        }
    );
}

#[test]
fn human_topic_vip_and_topic_routing() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = step(
        &e,
        &e.start(customer(), T0),
        says("this is about a lawsuit"),
        T0,
        &w,
    );
    assert_eq!(
        reason(&t),
        EscalationReason::HumanTopic {
            topic: "lawsuit".into()
        }
    );
    let mut vip = customer();
    vip.user = user("@vip:localhost", "Victor");
    let t = step(&e, &e.start(vip, T0), says("hello"), T0, &w);
    assert_eq!(reason(&t), EscalationReason::Vip);
    let t = step(
        &e,
        &e.start(customer(), T0),
        says("my invoice is wrong, get me an agent"),
        T0,
        &w,
    );
    assert_eq!(t.state.case.unwrap().team, "billing", "routed by topic");
}

#[test]
fn rejecting_an_answer_escalates() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("how long does shipping take"), T0, &w);
    let t = step(&e, &t.state, says("that didn't help"), T0 + 1, &w);
    assert_eq!(
        reason(&t),
        EscalationReason::AnswerRejected {
            faq_id: Some("shipping_time".into())
        }
    );
}

#[test]
fn no_case_number_is_refused_without_change() {
    let (e, w) = (engine(), FakeWorld::default());
    w.out_of_numbers.set(true);
    let s = e.start(customer(), T0);
    assert_eq!(
        e.step(&s, says("agent"), T0, &w),
        Err(Refusal::NoCaseNumber)
    );
}

#[test]
fn queued_customer_messages_are_relayed_not_answered() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let t = step(&e, &s, says("how do I reset my password?"), T0 + 1, &w);
    assert_eq!(
        said(&t),
        vec![e.config.messages.still_waiting.clone()],
        "no FAQ answer"
    );
    assert_eq!(
        count(&t, |e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
        1
    );
    let t = step(&e, &t.state, says("also my phone is broken"), T0 + 2, &w);
    assert!(said(&t).is_empty(), "the wait notice is said once");
    assert_eq!(
        count(&t, |e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
        1
    );
}

#[test]
fn agent_reply_assigns_and_relays() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let t = step(
        &e,
        &s,
        agent_says(alice(), "Hi Carol, I'm on it"),
        T0 + MINUTE,
        &w,
    );
    assert_eq!(t.state.phase(), Phase::Assigned(1));
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.first_human_reply_at, Some(T0 + MINUTE));
    assert!(matches!(&case.state, CaseState::Assigned { agent, .. } if agent == "Alice"));
    assert_eq!(
        said(&t),
        vec!["Alice has joined and will help you from here."]
    );
    assert!(t.effects.iter().any(|e| matches!(e,
        Effect::Relay { to: Side::Customer, item: Relayed::Message { text, from, .. }, .. }
            if text.plain == "Hi Carol, I'm on it" && from == "Alice")));
    assert_eq!(count(&t, |e| matches!(e, Effect::UpdateSummary { .. })), 1);
    // A second message relays without re-announcing.
    let t = step(
        &e,
        &t.state,
        agent_says(alice(), "Could you send a screenshot?"),
        T0 + 2 * MINUTE,
        &w,
    );
    assert!(said(&t).is_empty());
    assert_eq!(count(&t, |e| matches!(e, Effect::UpdateSummary { .. })), 0);
}

#[test]
fn strangers_and_bots_are_refused() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let mallory = user("@mallory:localhost", "Mallory");
    assert_eq!(
        e.step(&s, agent_says(mallory, "!resolve"), T0, &w),
        Err(Refusal::NotAnAgent("@mallory:localhost".into()))
    );
    let mut bot = alice();
    bot.is_bot = true;
    assert!(matches!(
        e.step(&s, agent_says(bot, "hi"), T0, &w),
        Err(Refusal::NotAnAgent(_))
    ));
    let bot_conv = e.start(customer(), T0);
    assert_eq!(
        e.step(&bot_conv, agent_says(alice(), "hi"), T0, &w),
        Err(Refusal::NoCase)
    );
}

#[test]
fn claim_rules() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    assert_eq!(s.phase(), Phase::Assigned(1));
    assert_eq!(
        e.step(&s, agent_says(alice(), "!claim"), T0, &w),
        Err(Refusal::AlreadyYours(1))
    );
    let bob = user("@bob:localhost", "Bob");
    let t = step(&e, &s, agent_says(bob, "!claim"), T0 + 2 * MINUTE, &w);
    assert!(
        matches!(&t.state.case.as_ref().unwrap().state, CaseState::Assigned { agent, .. } if agent == "Bob")
    );
    assert_eq!(
        t.state.case.as_ref().unwrap().first_human_reply_at,
        Some(T0 + MINUTE),
        "first reply time is kept"
    );
}

#[test]
fn notes_stay_internal() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let t = step(
        &e,
        &s,
        agent_says(alice(), "!note customer is on legacy plan"),
        T0,
        &w,
    );
    assert!(t.effects.is_empty(), "{:?}", t.effects);
    let last = t
        .state
        .case
        .as_ref()
        .unwrap()
        .transcript
        .last()
        .unwrap()
        .clone();
    assert!(last.internal && last.text == "customer is on legacy plan");
    let t = step(
        &e,
        &t.state,
        agent_says(alice(), "// also internal"),
        T0,
        &w,
    );
    assert!(t.effects.is_empty());
    assert!(t.state.case.unwrap().transcript.last().unwrap().internal);
}

#[test]
fn bad_commands_are_refused_and_not_relayed() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let r = e.step(&s, agent_says(alice(), "!reslove"), T0, &w);
    assert!(matches!(
        r,
        Err(Refusal::BadCommand(CommandError::Unknown(_)))
    ));
    assert!(matches!(
        e.step(&s, agent_says(alice(), "!transfer sales"), T0, &w),
        Err(Refusal::Transfer(_))
    ));
    assert!(matches!(
        e.step(&s, agent_says(alice(), "!transfer tech"), T0, &w),
        Err(Refusal::Transfer(m)) if m.contains("already")
    ));
}

#[test]
fn resolve_then_rating_then_bot_answers_again() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let t = step(&e, &s, agent_says(alice(), "!resolve"), T0 + 5 * MINUTE, &w);
    assert_eq!(t.state.phase(), Phase::Resolved(1));
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.state, CaseState::Resolved { by: "Alice".into() });
    assert_eq!(case.closed_at, Some(T0 + 5 * MINUTE));
    assert_eq!(said(&t).len(), 2, "resolved notice and rating question");
    assert!(t.state.conv.awaiting_csat);
    assert_eq!(
        e.step(&t.state, agent_says(alice(), "one more thing"), T0, &w),
        Err(Refusal::Closed(
            1,
            "messages are no longer passed to the customer"
        ))
    );
    let t = step(&e, &t.state, says("5"), T0 + 6 * MINUTE, &w);
    assert_eq!(t.state.case.as_ref().unwrap().csat, Some(5));
    assert_eq!(said(&t), vec!["Thank you for rating us 5/5."]);
    assert_eq!(t.state.phase(), Phase::Bot);
    let t = step(
        &e,
        &t.state,
        says("what are your opening hours"),
        T0 + 7 * MINUTE,
        &w,
    );
    assert_eq!(said(&t), vec!["Mon to Fri, 9 to 5."]);
}

/// A case on the desk `!case:localhost`, assigned to Alice and resolved
/// by her at `T0 + 5 min`, with `reopen_within = "1h"`.
fn resolved_on_a_desk(w: &FakeWorld) -> (Engine, State) {
    let mut cfg = config_with("");
    cfg.conversation.reopen_within = std::time::Duration::from_secs(3600);
    let e = engine_with(cfg);
    let s = assigned(&e, w);
    let desk = crate::case::CaseDesk {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        summary: MessageRef {
            endpoint: Endpoint::new("matrix", "!case:localhost"),
            id: "$summary".into(),
        },
    };
    let s = step(&e, &s, Event::CaseOpened { case: 1, desk }, T0, w).state;
    let s = step(&e, &s, agent_says(alice(), "!resolve"), T0 + 5 * MINUTE, w).state;
    (e, s)
}

#[test]
fn writing_again_within_the_window_reopens_the_case_on_its_desk() {
    let w = FakeWorld::default();
    let (e, s) = resolved_on_a_desk(&w);
    let t = step(&e, &s, says("it broke again"), T0 + 20 * MINUTE, &w);
    assert_eq!(
        t.state.phase(),
        Phase::Queued(1),
        "the same case, waiting again"
    );
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.state, CaseState::Queued);
    assert_eq!(case.closed_at, None);
    assert_eq!(case.reopened, vec![T0 + 20 * MINUTE]);
    assert!(
        t.effects.iter().any(|e| matches!(e,
            Effect::ReopenDesk { case: 1, desk } if desk.room == "!case:localhost")),
        "{:?}",
        t.effects
    );
    assert!(t.effects.iter().any(|e| matches!(e,
        Effect::Notify { case: 1, text, at: None, .. } if text.contains("reopened"))));
    assert!(
        t.effects.iter().any(|e| matches!(e,
            Effect::Relay { case: 1, to: Side::Desk, item: Relayed::Message { text, .. } }
                if text.plain == "it broke again")),
        "the message goes to the same desk: {:?}",
        t.effects
    );
    assert_eq!(count(&t, |e| matches!(e, Effect::OpenCase { .. })), 0);
    assert!(said(&t)[0].contains("reopened"), "{:?}", said(&t));
    // Agents on the desk are heard again.
    let t = step(
        &e,
        &t.state,
        agent_says(alice(), "On it"),
        T0 + 21 * MINUTE,
        &w,
    );
    assert!(t.effects.iter().any(|e| matches!(
        e,
        Effect::Relay {
            to: Side::Customer,
            ..
        }
    )));
}

#[test]
fn a_rating_or_a_late_message_does_not_reopen() {
    let w = FakeWorld::default();
    let (e, s) = resolved_on_a_desk(&w);
    let t = step(&e, &s, says("4"), T0 + 6 * MINUTE, &w);
    assert_eq!(t.state.case.as_ref().unwrap().csat, Some(4));
    assert_eq!(t.state.phase(), Phase::Bot);
    let t = step(
        &e,
        &s,
        says("what are your opening hours"),
        T0 + 2 * 60 * MINUTE,
        &w,
    );
    assert_eq!(said(&t), vec!["Mon to Fri, 9 to 5."]);
    assert_eq!(t.state.phase(), Phase::Bot);
    assert!(!t
        .effects
        .iter()
        .any(|e| matches!(e, Effect::ReopenDesk { .. })));
    // Off by default.
    let e = engine();
    let s = assigned(&e, &w);
    let s = step(&e, &s, agent_says(alice(), "!resolve"), T0, &w).state;
    let t = step(&e, &s, says("what are your opening hours"), T0 + MINUTE, &w);
    assert_eq!(t.state.phase(), Phase::Bot);
}

#[test]
fn after_resolve_a_question_skips_the_rating() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let t = step(&e, &s, agent_says(alice(), "!resolve"), T0, &w);
    let t = step(&e, &t.state, says("when will my order arrive"), T0 + 1, &w);
    assert_eq!(said(&t), vec!["2 to 4 working days."]);
    assert!(!t.state.conv.awaiting_csat);
    assert_eq!(t.state.case.as_ref().unwrap().csat, None);
}

#[test]
fn transfer_moves_the_case_and_updates_the_old_summary() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let desk = crate::case::CaseDesk {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        summary: MessageRef {
            endpoint: Endpoint::new("matrix", "!case:localhost"),
            id: "$summary".into(),
        },
    };
    let s = step(
        &e,
        &s,
        Event::CaseOpened {
            case: 1,
            desk: desk.clone(),
        },
        T0,
        &w,
    )
    .state;
    let t = step(
        &e,
        &s,
        agent_says(alice(), "!transfer Billing"),
        T0 + MINUTE,
        &w,
    );
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.team, "billing");
    assert_eq!(case.state, CaseState::Queued);
    assert_eq!(case.desk, None);
    assert_eq!(case.transfers.len(), 1);
    assert_eq!(t.state.phase(), Phase::Queued(1));
    assert!(t.effects.iter().any(|e| matches!(e,
        Effect::UpdateSummary { message: Some(m), .. } if m == &desk.summary)));
    assert_eq!(opened(&t).unwrap().0, "slack");
    assert!(said(&t)[0].contains("billing team"));
    // The old desk is closed, after its summary says where the case went.
    let close = t
        .effects
        .iter()
        .position(|e| matches!(e, Effect::CloseDesk { desk: d, .. } if d == &desk.endpoint))
        .expect("the old desk is closed");
    let update = t
        .effects
        .iter()
        .position(|e| matches!(e, Effect::UpdateSummary { .. }))
        .unwrap();
    assert!(update < close, "{:?}", t.effects);
    // Resolving on the new desk closes that one.
    let new_desk = crate::case::CaseDesk {
        endpoint: Endpoint::new("slack", "C1").in_thread("1.0"),
        summary: MessageRef {
            endpoint: Endpoint::new("slack", "C1").in_thread("1.0"),
            id: "1.0".into(),
        },
    };
    let s = step(
        &e,
        &t.state,
        Event::CaseOpened {
            case: 1,
            desk: new_desk.clone(),
        },
        T0 + MINUTE,
        &w,
    )
    .state;
    let billing_agent = UserRef {
        network: "slack".into(),
        id: "U1".into(),
        display_name: None,
        is_bot: false,
        standing: handoff_bridge_api::Standing::Member { groups: vec![] },
    };
    let t = step(
        &e,
        &s,
        agent_says(billing_agent, "!resolve"),
        T0 + 2 * MINUTE,
        &w,
    );
    assert!(t
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CloseDesk { desk: d, .. } if d == &new_desk.endpoint)));
}

#[test]
fn buttons_work_like_commands() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let press = |action: &str, value: &str| Event::Agent {
        agent: alice(),
        event: AgentEvent::Button {
            action: action.into(),
            value: value.into(),
        },
    };
    let t = step(&e, &s, press("claim", ""), T0, &w);
    assert_eq!(t.state.phase(), Phase::Assigned(1));
    assert_eq!(
        e.step(&t.state, press("self_destruct", ""), T0, &w),
        Err(Refusal::Ignored)
    );
    let t = step(&e, &t.state, press("transfer", "billing"), T0, &w);
    assert_eq!(t.state.case.as_ref().unwrap().team, "billing");
    // Alice is not an agent of billing's Slack desk: her buttons there are
    // refused, not ignored.
    assert_eq!(
        e.step(&t.state, press("claim", ""), T0, &w),
        Err(Refusal::NotAnAgent("@alice:localhost".into()))
    );
}

#[test]
fn case_opened_records_the_desk_only_for_its_case() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let desk = crate::case::CaseDesk {
        endpoint: Endpoint::new("slack", "C1").in_thread("1.1"),
        summary: MessageRef {
            endpoint: Endpoint::new("slack", "C1"),
            id: "1.1".into(),
        },
    };
    let t = step(
        &e,
        &s,
        Event::CaseOpened {
            case: 1,
            desk: desk.clone(),
        },
        T0,
        &w,
    );
    assert_eq!(t.state.case.unwrap().desk, Some(desk.clone()));
    assert_eq!(
        e.step(&s, Event::CaseOpened { case: 9, desk }, T0, &w),
        Err(Refusal::NoCase)
    );
}

#[test]
fn sla_miss_moves_to_fallback_team() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = step(
        &e,
        &e.start(customer(), T0),
        says("agent, about my invoice"),
        T0,
        &w,
    )
    .state;
    assert_eq!(s.case.as_ref().unwrap().team, "billing");
    assert_eq!(
        s.case.as_ref().unwrap().sla_deadline,
        Some(T0 + 10 * MINUTE)
    );
    assert_eq!(
        e.step(&s, Event::Tick, T0 + 9 * MINUTE, &w),
        Err(Refusal::Ignored)
    );
    let t = step(&e, &s, Event::Tick, T0 + 10 * MINUTE, &w);
    assert!(t.effects.iter().any(|e| matches!(e,
        Effect::Notify { mention: Some(m), .. } if m == "@here")));
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.team, "tech");
    assert_eq!(
        case.reason,
        EscalationReason::SlaMissed {
            from: "billing".into()
        }
    );
    assert_eq!(opened(&t).unwrap().0, "matrix");
}

#[test]
fn sla_miss_without_fallback_pings_once() {
    let e = engine_with(config_with(
        "[[team]]\nname = \"sales\"\ndesk = \"slack:#sales\"\ntopics = [\"pricing\"]\nfirst_reply_sla = \"5m\"\n",
    ));
    let w = FakeWorld::default();
    let s = step(
        &e,
        &e.start(customer(), T0),
        says("agent: pricing question"),
        T0,
        &w,
    )
    .state;
    let t = step(&e, &s, Event::Tick, T0 + 5 * MINUTE, &w);
    assert_eq!(count(&t, |e| matches!(e, Effect::Notify { .. })), 1);
    assert!(t.state.case.as_ref().unwrap().overdue);
    assert_eq!(count(&t, |e| matches!(e, Effect::UpdateSummary { .. })), 1);
    assert_eq!(
        e.step(&t.state, Event::Tick, T0 + 6 * MINUTE, &w),
        Err(Refusal::Ignored)
    );
}

#[test]
fn silent_queued_customer_is_abandoned_and_can_return() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let t = step(&e, &s, Event::Tick, T0 + 30 * MINUTE, &w);
    assert_eq!(t.state.phase(), Phase::Abandoned(1));
    assert_eq!(t.state.case.as_ref().unwrap().state, CaseState::Abandoned);
    let t = step(&e, &t.state, says("sorry, I'm back"), T0 + 40 * MINUTE, &w);
    assert_eq!(t.state.phase(), Phase::Queued(1), "same case resumes");
    assert_eq!(t.state.case.as_ref().unwrap().id, 1);
    assert!(said(&t)[0].starts_with("Welcome back"));
    assert_eq!(
        count(&t, |e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
        1
    );
}

#[test]
fn leaving_while_queued_abandons() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    let t = step(&e, &s, Event::Customer(CustomerEvent::Left), T0, &w);
    assert_eq!(t.state.phase(), Phase::Abandoned(1));
    let b = e.start(customer(), T0);
    assert_eq!(
        e.step(&b, Event::Customer(CustomerEvent::Left), T0, &w),
        Err(Refusal::Ignored)
    );
}

#[test]
fn queue_position_updates_only_when_it_moves_enough() {
    let (e, w) = (engine(), FakeWorld::default());
    w.ahead.set(4);
    let s = queued(&e, &w);
    assert_eq!(s.case.as_ref().unwrap().told_position, Some(5));
    w.ahead.set(3);
    assert_eq!(
        e.step(&s, Event::Tick, T0 + MINUTE, &w),
        Err(Refusal::Ignored)
    );
    w.ahead.set(2);
    let t = step(&e, &s, Event::Tick, T0 + MINUTE, &w);
    assert!(said(&t)[0].contains("number 3 in line"), "{:?}", said(&t));
    assert_eq!(t.state.case.unwrap().told_position, Some(3));
}

#[test]
fn wait_is_estimated_from_history() {
    let (e, w) = (engine(), FakeWorld::default());
    *w.replies.borrow_mut() = vec![std::time::Duration::from_secs(8 * 60); 3];
    let s = queued(&e, &w);
    let text = &s.case.as_ref().unwrap().transcript.last().unwrap().text;
    assert!(text.contains("about 8 minutes"), "{text}");
}

#[test]
fn a_closed_team_with_fallback_when_closed_hands_the_case_to_its_open_fallback() {
    let e = engine_with(config_with(
        "[[team]]\nname = \"sales\"\ndesk = \"slack:#sales\"\ntopics = [\"pricing\"]\nhours = \"Mon-Fri 09:00-17:00 UTC\"\nfallback = \"tech\"\nfallback_when_closed = true\n",
    ));
    let w = FakeWorld::default();
    let saturday = T0 + 2 * 24 * 60 * MINUTE;
    let t = step(
        &e,
        &e.start(customer(), saturday),
        says("agent: pricing"),
        saturday,
        &w,
    );
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.team, "tech", "the open fallback takes the case");
    assert_eq!(case.closed_team.as_deref(), Some("sales"));
    assert!(!case.out_of_hours);
    assert!(
        !said(&t)[0].contains("opens again"),
        "the customer hears the open team's wait, not the closed one's: {:?}",
        said(&t)
    );
    let Some(Effect::OpenCase {
        network, summary, ..
    }) = t
        .effects
        .iter()
        .find(|e| matches!(e, Effect::OpenCase { .. }))
    else {
        panic!("no case opened: {:?}", t.effects)
    };
    assert_eq!(network, "matrix", "on the fallback team's desk");
    assert!(
        summary
            .plain()
            .contains("sales was closed, so its fallback took it"),
        "{}",
        summary.plain()
    );
    // In business hours the team keeps its own cases.
    let monday = saturday + 2 * 24 * 60 * MINUTE;
    let t = step(
        &e,
        &e.start(customer(), monday),
        says("agent: pricing"),
        monday,
        &w,
    );
    assert_eq!(t.state.case.as_ref().unwrap().team, "sales");
}

#[test]
fn out_of_hours_handover_names_the_opening_time() {
    let e = engine_with(config_with(
        "[[team]]\nname = \"sales\"\ndesk = \"slack:#sales\"\ntopics = [\"pricing\"]\nhours = \"Mon-Fri 09:00-17:00 UTC\"\n",
    ));
    let w = FakeWorld::default();
    let saturday = T0 + 2 * 24 * 60 * MINUTE;
    let t = step(
        &e,
        &e.start(customer(), saturday),
        says("agent: pricing"),
        saturday,
        &w,
    );
    assert!(t.state.case.as_ref().unwrap().out_of_hours);
    assert!(
        said(&t)[0].contains("opens again Mon 09:00 (UTC)"),
        "{:?}",
        said(&t)
    );
    // Out of hours the customer is not abandoned for being silent.
    assert_eq!(
        e.step(&t.state, Event::Tick, saturday + 60 * MINUTE, &w),
        Err(Refusal::Ignored)
    );
}

#[test]
fn edits_deletes_reactions_and_files_follow_while_human_owned() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = assigned(&e, &w);
    let file = Attachment {
        name: "shot.png".into(),
        mime: "image/png".into(),
        data: vec![1, 2, 3],
    };
    let evs = [
        CustomerEvent::Edit {
            target: msg_ref("$1"),
            text: Text::plain("fixed"),
        },
        CustomerEvent::Delete {
            target: msg_ref("$1"),
        },
        CustomerEvent::Reaction {
            reaction: msg_ref("$r"),
            target: msg_ref("$1"),
            key: "👍".into(),
        },
        CustomerEvent::File {
            msg: msg_ref("$f"),
            file: file.clone(),
        },
    ];
    for ev in evs.clone() {
        let t = step(&e, &s, Event::Customer(ev), T0, &w);
        assert_eq!(
            count(&t, |e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
            1
        );
    }
    // In the bot phase edits and deletes are ignored, a file is a miss.
    let b = e.start(customer(), T0);
    for ev in evs[..3].iter().cloned() {
        assert_eq!(
            e.step(&b, Event::Customer(ev), T0, &w),
            Err(Refusal::Ignored)
        );
    }
    let t = step(
        &e,
        &b,
        Event::Customer(CustomerEvent::File {
            msg: msg_ref("$f"),
            file,
        }),
        T0,
        &w,
    );
    assert_eq!(t.state.conv.misses_in_row, 1);
}

/// Agent B cannot edit, delete or react for agent A on A's relayed lines;
/// A can, and any agent may still react to the customer's lines.
#[test]
fn agents_edit_delete_and_react_only_on_their_own_lines() {
    let (e, w) = (engine(), FakeWorld::default());
    let bob = user("@bob:localhost", "Bob");
    let s = assigned(&e, &w);
    let line = "Your refund is on its way";
    let t = step(&e, &s, agent_says(alice(), line), T0 + MINUTE, &w);
    let alices = MessageRef {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        id: format!("$a-{}", line.len()),
    };
    let agent = |who: &UserRef, event: AgentEvent| Event::Agent {
        agent: who.clone(),
        event,
    };
    let edit = AgentEvent::Edit {
        target: alices.clone(),
        text: Text::plain("No refund for you"),
    };
    let delete = AgentEvent::Delete {
        target: alices.clone(),
    };
    let react = AgentEvent::Reaction {
        reaction: msg_ref("$bob-reacts"),
        target: alices.clone(),
        key: "👎".into(),
    };
    for ev in [edit.clone(), delete.clone(), react] {
        assert_eq!(
            e.step(&t.state, agent(&bob, ev), T0 + 2 * MINUTE, &w),
            Err(Refusal::NotTheAuthor("@bob:localhost".into()))
        );
    }
    // The author edits and deletes her own line.
    for ev in [edit, delete] {
        let done = step(&e, &t.state, agent(&alice(), ev), T0 + 2 * MINUTE, &w);
        assert_eq!(
            count(&done, |e| matches!(
                e,
                Effect::Relay {
                    to: Side::Customer,
                    ..
                }
            )),
            1
        );
    }
    // Bob reacts to the customer's line; only Bob may take it back.
    let bobs_reaction = MessageRef {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        id: "$bob-thumbs".into(),
    };
    let reacted = step(
        &e,
        &t.state,
        agent(
            &bob,
            AgentEvent::Reaction {
                reaction: bobs_reaction.clone(),
                target: msg_ref("$customer-line-twin"),
                key: "👍".into(),
            },
        ),
        T0 + 2 * MINUTE,
        &w,
    );
    let take_back = AgentEvent::Delete {
        target: bobs_reaction,
    };
    assert_eq!(
        e.step(
            &reacted.state,
            agent(&alice(), take_back.clone()),
            T0 + 3 * MINUTE,
            &w
        ),
        Err(Refusal::NotTheAuthor("@alice:localhost".into()))
    );
    step(
        &e,
        &reacted.state,
        agent(&bob, take_back),
        T0 + 3 * MINUTE,
        &w,
    );
    // A line the case does not know the author of is never edited.
    assert_eq!(
        e.step(
            &t.state,
            agent(
                &alice(),
                AgentEvent::Edit {
                    target: msg_ref("$unknown"),
                    text: Text::plain("rewritten"),
                },
            ),
            T0 + 2 * MINUTE,
            &w,
        ),
        Err(Refusal::NotTheAuthor("@alice:localhost".into()))
    );
}

/// The author list of a case stays bounded, newest kept.
#[test]
fn a_case_remembers_a_bounded_number_of_authors() {
    let (e, w) = (engine(), FakeWorld::default());
    let mut case = assigned(&e, &w).case.expect("a case");
    let line = |n: usize| MessageRef {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        id: format!("$line-{n}"),
    };
    for n in 0..crate::case::DESK_AUTHORS_KEPT + 10 {
        case.record_author(&line(n), "@alice:localhost");
    }
    assert_eq!(case.desk_authors.len(), crate::case::DESK_AUTHORS_KEPT);
    assert_eq!(case.author_of(&line(0)), None);
    let newest = line(crate::case::DESK_AUTHORS_KEPT + 9);
    // Found whatever thread the network reports the target in.
    let mut in_thread = newest.clone();
    in_thread.endpoint.thread = Some("$root".into());
    assert_eq!(case.author_of(&in_thread), Some("@alice:localhost"));
}

#[test]
fn previous_cases_are_in_the_new_case() {
    let (e, w) = (engine(), FakeWorld::default());
    w.previous.borrow_mut().push(crate::case::PreviousCase {
        id: 7,
        opened_at: T0 - 86_400_000,
        team: "tech".into(),
        reason: "customer asked for a person".into(),
        state: CaseState::Resolved { by: "Bob".into() },
    });
    let s = queued(&e, &w);
    assert_eq!(s.case.as_ref().unwrap().previous_cases[0].id, 7);
    let Some(Effect::OpenCase { summary, .. }) =
        step(&e, &e.start(customer(), T0), says("agent"), T0, &w)
            .effects
            .into_iter()
            .find(|e| matches!(e, Effect::OpenCase { .. }))
    else {
        panic!("no case opened")
    };
    assert!(summary.plain().contains("#7"), "{}", summary.plain());
}

mod notes_never_leak {
    use proptest::prelude::*;

    use super::*;

    const SECRET: &str = "zz-internal-zz";

    /// Training the FAQ once keeps 200 cases fast.
    fn shared_engine() -> &'static Engine {
        static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
        ENGINE.get_or_init(engine)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Customer(String),
        Agent(String),
        Note,
        Prefixed,
        /// A file named as a note, or with the internal prefix.
        NoteFile(bool),
        /// An earlier line edited into a note, or into a prefixed line.
        NoteEdit(bool),
        /// An ordinary file (relayed), so files flow in the run.
        File,
        Claim,
        Resolve,
        Transfer,
        Tick(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            "[a-z ]{0,12}".prop_map(Op::Customer),
            Just(Op::Customer("agent please".into())),
            "[a-z ]{0,12}".prop_map(Op::Agent),
            Just(Op::Note),
            Just(Op::Prefixed),
            any::<bool>().prop_map(Op::NoteFile),
            any::<bool>().prop_map(Op::NoteEdit),
            Just(Op::File),
            Just(Op::Claim),
            Just(Op::Resolve),
            Just(Op::Transfer),
            (0i64..40).prop_map(Op::Tick),
        ]
    }

    fn agent_event(event: AgentEvent) -> Event {
        Event::Agent {
            agent: alice(),
            event,
        }
    }

    fn customer_bound(e: &Effect) -> Option<String> {
        match e {
            Effect::Say { text, .. } => Some(text.clone()),
            Effect::Relay {
                to: Side::Customer,
                item,
                ..
            } => Some(format!("{item:?}")),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn no_note_reaches_the_customer(ops in proptest::collection::vec(op(), 1..40)) {
            let e = shared_engine();
            let w = FakeWorld::default();
            let mut s = e.start(customer(), T0);
            let mut now = T0;
            for op in ops {
                now += 1000;
                let ev = match op {
                    Op::Customer(t) => says(&t),
                    Op::Agent(t) => agent_says(alice(), &t),
                    Op::Note => agent_says(alice(), &format!("!note {SECRET}")),
                    Op::Prefixed => agent_says(alice(), &format!("// {SECRET}")),
                    Op::NoteFile(prefixed) => agent_event(AgentEvent::File {
                        msg: msg_ref("$file"),
                        file: Attachment {
                            name: if prefixed {
                                format!("// {SECRET}.pdf")
                            } else {
                                format!("!note {SECRET}.pdf")
                            },
                            mime: "application/pdf".into(),
                            data: SECRET.as_bytes().to_vec(),
                        },
                    }),
                    Op::NoteEdit(prefixed) => agent_event(AgentEvent::Edit {
                        target: msg_ref("$a-1"),
                        text: Text::plain(if prefixed {
                            format!("// {SECRET}")
                        } else {
                            format!("!note {SECRET}")
                        }),
                    }),
                    Op::File => agent_event(AgentEvent::File {
                        msg: msg_ref("$plain"),
                        file: Attachment {
                            name: "shot.png".into(),
                            mime: "image/png".into(),
                            data: vec![1, 2, 3],
                        },
                    }),
                    Op::Claim => agent_says(alice(), "!claim"),
                    Op::Resolve => agent_says(alice(), "!resolve"),
                    Op::Transfer => agent_says(alice(), "!transfer billing"),
                    Op::Tick(m) => { now += m * MINUTE; Event::Tick }
                };
                if let Ok(t) = e.step(&s, ev, now, &w) {
                    for eff in &t.effects {
                        if let Some(text) = customer_bound(eff) {
                            prop_assert!(!text.contains(SECRET), "leaked in {eff:?}");
                        }
                    }
                    s = t.state;
                }
            }
        }
    }
}

#[test]
fn a_request_for_a_person_routes_by_the_earlier_question() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("where can i find my invoice"), T0, &w);
    assert_eq!(said(&t), vec!["Invoices are under Billing."]);
    let t = step(&e, &t.state, says("please get me a human"), T0 + 1, &w);
    let case = t.state.case.as_ref().unwrap();
    assert_eq!(case.team, "billing", "routed by the invoice question");
    assert_eq!(case.intent.as_deref(), Some("invoice_copy"));
}

#[test]
fn a_customer_cannot_run_agent_commands() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = queued(&e, &w);
    for cmd in ["!resolve", "!claim", "!transfer billing", "!note secret"] {
        let t = step(&e, &s, says(cmd), T0 + MINUTE, &w);
        let case = t.state.case.as_ref().expect("the case");
        assert_eq!(case.state, CaseState::Queued, "{cmd} changed the case");
        assert_eq!(case.team, "tech", "{cmd} moved the case");
        assert!(
            t.effects
                .iter()
                .any(|e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
            "{cmd} was not relayed to the agents as customer text"
        );
    }
}

#[test]
fn a_flooding_customer_is_throttled_and_told_once() {
    let mut cfg = config_with("");
    cfg.conversation.rate_limit = 3;
    cfg.conversation.rate_window = std::time::Duration::from_secs(60);
    let e = engine_with(cfg);
    let w = FakeWorld::default();
    let s = queued(&e, &w);
    let slow_down = e.config.messages.slow_down.clone();
    let mut s = s;
    let mut relayed = 0;
    let mut told = 0;
    // The escalation message counted one; 9 more within the minute.
    for k in 0..9 {
        let t = step(&e, &s, says(&format!("line {k}")), T0 + 1000 + k, &w);
        relayed += t
            .effects
            .iter()
            .filter(|x| matches!(x, Effect::Relay { to: Side::Desk, .. }))
            .count();
        told += said(&t).iter().filter(|m| **m == slow_down).count();
        s = t.state;
    }
    assert_eq!(
        relayed, 2,
        "only the messages under the limit reach the desk"
    );
    assert_eq!(told, 1, "the customer is told once");
    // A minute later they are heard again.
    let t = step(&e, &s, says("still there?"), T0 + 2 * MINUTE, &w);
    assert!(
        t.effects
            .iter()
            .any(|x| matches!(x, Effect::Relay { to: Side::Desk, .. })),
        "{:?}",
        t.effects
    );
}

/// A case queued on `team` (of `engine_with(config)`), from a request
/// that names one of its topics.
fn queued_on(e: &Engine, w: &FakeWorld, ask: &str, team: &str) -> State {
    let t = step(e, &e.start(customer(), T0), says(ask), T0, w);
    assert_eq!(t.state.case.as_ref().unwrap().team, team);
    t.state
}

fn slack_user(id: &str, standing: handoff_bridge_api::Standing) -> UserRef {
    UserRef {
        network: "slack".into(),
        id: id.into(),
        display_name: None,
        is_bot: false,
        standing,
    }
}

#[test]
fn one_agent_rule_slack_default_is_full_members_of_this_workspace() {
    use handoff_bridge_api::Standing;
    let (e, w) = (engine(), FakeWorld::default());
    // billing: a Slack desk with no `agents`.
    let s = queued_on(&e, &w, "i want my money back", "billing");
    let member = slack_user("U1", Standing::Member { groups: vec![] });
    assert!(e.step(&s, agent_says(member, "hello"), T0, &w).is_ok());
    for (id, standing) in [
        ("U2", Standing::Guest),
        ("U3", Standing::External),
        ("U4", Standing::Unknown),
        // Not checked: no network said this is a member of the workspace.
        ("U5", Standing::Unchecked),
    ] {
        assert_eq!(
            e.step(
                &s,
                agent_says(slack_user(id, standing.clone()), "!resolve"),
                T0,
                &w
            ),
            Err(Refusal::NotAnAgent(id.into())),
            "{standing:?}"
        );
    }
}

#[test]
fn one_agent_rule_listed_ids_groups_and_channel_members() {
    use handoff_bridge_api::Standing;
    let patch = "[[team]]\nname = \"sales\"\ndesk = \"slack:#sales\"\nagents = [\"U1\", \"@sales-team\", \"SGROUP0001\"]\ntopics = [\"pricing\"]\n";
    let (e, w) = (engine_with(config_with(patch)), FakeWorld::default());
    let s = queued_on(&e, &w, "I want to talk to an agent about pricing", "sales");
    let member = |id: &str, groups: &[&str]| {
        slack_user(
            id,
            Standing::Member {
                groups: groups.iter().map(|g| g.to_string()).collect(),
            },
        )
    };
    let ok = |u: UserRef| e.step(&s, agent_says(u, "!claim"), T0, &w).is_ok();
    assert!(ok(member("U1", &[])), "listed by id");
    assert!(
        ok(member("U2", &["@sales-team"])),
        "a member of a listed group by handle"
    );
    assert!(
        ok(member("U3", &["SGROUP0001"])),
        "a member of a listed group by id"
    );
    assert!(!ok(member("U4", &[])), "a channel member not listed");
    assert!(!ok(member("U5", &["@other"])), "a member of another group");
    assert!(!ok(slack_user("U6", Standing::Guest)), "a guest not listed");
    // Listed by id: a guest or outsider counts; a failed lookup never does.
    assert!(ok(slack_user("U1", Standing::Guest)));
    assert!(!ok(slack_user("U1", Standing::Unknown)));
    // "channel-members": every full member.
    let patch = patch.replace(
        "[\"U1\", \"@sales-team\", \"SGROUP0001\"]",
        "[\"channel-members\"]",
    );
    let (e, w) = (engine_with(config_with(&patch)), FakeWorld::default());
    let s = queued_on(&e, &w, "I want to talk to an agent about pricing", "sales");
    assert!(e
        .step(&s, agent_says(member("U9", &[]), "!claim"), T0, &w)
        .is_ok());
    assert!(e
        .step(
            &s,
            agent_says(slack_user("U8", Standing::External), "!claim"),
            T0,
            &w
        )
        .is_err());
}

#[test]
fn a_deleted_message_leaves_no_text_in_the_transcript() {
    let (e, w) = (engine(), FakeWorld::default());
    // While the bot talks: the turn in the bot's history loses its text.
    let s = e.start(customer(), T0);
    let question = "my card is 4111 1111 1111 1111";
    let s = step(&e, &s, says(question), T0, &w).state;
    let delete = |id: &str| {
        Event::Customer(CustomerEvent::Delete {
            target: msg_ref(id),
        })
    };
    let asked = format!("$c-{}", question.len());
    let t = step(&e, &s, delete(&asked), T0 + 1, &w);
    let turn = &t.state.conv.turns[0];
    assert!(turn.deleted && turn.text.is_empty(), "{turn:?}");
    // In a case: the case's turn is rewritten and the desk told.
    let s = assigned(&e, &w);
    let line = "here is my address: 1 Main St";
    let s = step(&e, &s, says(line), T0 + 2 * MINUTE, &w).state;
    let id = format!("$c-{}", line.len());
    let t = step(&e, &s, delete(&id), T0 + 3 * MINUTE, &w);
    let case = t.state.case.as_ref().unwrap();
    let i = case
        .transcript
        .iter()
        .position(|x| x.source.as_deref() == Some(id.as_str()))
        .expect("the turn of the deleted message");
    assert!(case.transcript[i].deleted && case.transcript[i].text.is_empty());
    assert_eq!(t.rewritten, vec![i]);
    assert!(t.effects.iter().any(|e| matches!(
        e,
        Effect::Relay {
            to: Side::Desk,
            item: Relayed::Delete { .. },
            ..
        }
    )));
    // An agent's own line, even after the case was resolved.
    let s = t.state;
    let reply = "Thanks, noted";
    let s = step(&e, &s, agent_says(alice(), reply), T0 + 4 * MINUTE, &w).state;
    let s = step(&e, &s, agent_says(alice(), "!resolve"), T0 + 5 * MINUTE, &w).state;
    let own = MessageRef {
        endpoint: Endpoint::new("matrix", "!case:localhost"),
        id: format!("$a-{}", reply.len()),
    };
    let t = step(
        &e,
        &s,
        Event::Agent {
            agent: alice(),
            event: AgentEvent::Delete { target: own },
        },
        T0 + 6 * MINUTE,
        &w,
    );
    let case = t.state.case.as_ref().unwrap();
    assert!(
        case.transcript.iter().all(|x| x.text != reply),
        "{:?}",
        case.transcript
    );
    assert_eq!(t.rewritten.len(), 1);
}

#[test]
fn small_talk_is_answered_and_never_a_miss() {
    let (e, w) = (engine(), FakeWorld::default());
    let m = &e.config.messages;
    let greeting = m.greeting.replace("{bot}", "Helper");
    // (message, reply) in one conversation that has already missed once
    // (max_misses = 2): none of them may tip it over into a handover.
    let table: &[(&str, &str)] = &[
        ("Hello!", &greeting),
        ("thank you", &m.thanks),
        ("ok", &m.acknowledgement),
        ("Great.", &m.acknowledgement),
        ("bye", &m.goodbye),
    ];
    let s = e.start(customer(), T0);
    let mut s = step(&e, &s, says("zebra quantum marmalade"), T0, &w).state;
    assert_eq!(s.conv.misses_in_row, 1);
    for (i, (text, reply)) in table.iter().enumerate() {
        let t = step(&e, &s, says(text), T0 + i as i64 + 1, &w);
        assert_eq!(said(&t), vec![reply.to_string()], "{text}");
        assert_eq!(t.state.phase(), Phase::Bot, "{text}");
        assert_eq!(t.state.conv.misses_in_row, 1, "{text}");
        assert!(opened(&t).is_none(), "{text}");
        s = t.state;
    }
    // Recorded like any exchange: the customer's line, then the reply.
    let last: Vec<_> = s.conv.turns.iter().rev().take(2).collect();
    assert_eq!(last[1].text, "bye");
    assert_eq!(last[0].text, m.goodbye);
    // A real question is still looked up; small talk inside it is no excuse.
    let t = step(&e, &s, says("hi, how do I reset my password?"), T0 + 9, &w);
    assert_eq!(said(&t), vec!["Use the Forgot password link."]);
}

#[test]
fn small_talk_keeps_the_last_answer_for_didnt_help() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("how do I reset my password?"), T0, &w);
    let t = step(&e, &t.state, says("ok"), T0 + 1, &w);
    assert_eq!(
        t.state.conv.last_answer.as_ref().map(|h| h.id.as_str()),
        Some("reset_password")
    );
    let t = step(&e, &t.state, says("that didn't help"), T0 + 2, &w);
    assert_eq!(
        reason(&t),
        EscalationReason::AnswerRejected {
            faq_id: Some("reset_password".into())
        }
    );
}

#[test]
fn small_talk_while_a_human_owns_the_case_is_relayed() {
    let (e, w) = (engine(), FakeWorld::default());
    for s in [queued(&e, &w), assigned(&e, &w)] {
        let t = step(&e, &s, says("thanks"), T0 + 2 * MINUTE, &w);
        assert_eq!(
            count(&t, |e| matches!(e, Effect::Relay { to: Side::Desk, .. })),
            1
        );
        assert!(
            !said(&t).contains(&e.config.messages.thanks),
            "{:?}",
            said(&t)
        );
        assert_eq!(t.state.phase(), s.phase());
        let case = t.state.case.as_ref().expect("the case");
        assert!(
            case.transcript
                .iter()
                .any(|x| x.speaker == Speaker::Customer && x.text == "thanks"),
            "{:?}",
            case.transcript
        );
    }
}

#[test]
fn small_talk_from_a_vip_still_hands_over() {
    let (e, w) = (engine(), FakeWorld::default());
    let mut c = customer();
    c.user = user("@vip:localhost", "Vera");
    let t = step(&e, &e.start(c, T0), says("hello"), T0, &w);
    assert_eq!(reason(&t), EscalationReason::Vip);
}

#[test]
fn thanks_after_an_answer_is_not_a_miss() {
    let (e, w) = (engine(), FakeWorld::default());
    let s = e.start(customer(), T0);
    let t = step(&e, &s, says("how do I reset my password?"), T0, &w);
    assert_eq!(said(&t), vec!["Use the Forgot password link."]);
    let t = step(&e, &t.state, says("thanks"), T0 + 1, &w);
    assert_eq!(said(&t), vec![e.config.messages.thanks.clone()]);
    assert_eq!(t.state.conv.misses_in_row, 0);
    // max_misses = 2: one real miss, thanks again, then the second miss is
    // the one that hands over (the thanks in between counted for nothing).
    let t = step(&e, &t.state, says("zebra quantum marmalade"), T0 + 2, &w);
    assert_eq!(t.state.conv.misses_in_row, 1);
    let t = step(&e, &t.state, says("thank you"), T0 + 3, &w);
    assert_eq!(t.state.conv.misses_in_row, 1);
    assert!(opened(&t).is_none());
    let t = step(&e, &t.state, says("zebra quantum marmalade"), T0 + 4, &w);
    assert_eq!(reason(&t), EscalationReason::RepeatedMisses { count: 2 });
}

/// A question that shares words with two FAQ entries, and an engine whose
/// `min_confidence` sits just above the question's best match, so the
/// question falls in the clarifying band below it.
fn unsure() -> (Engine, &'static str) {
    let q = "password invoice";
    let faq = Faq::from_toml_str(FAQ, "faq.toml").expect("fixture faq");
    let best = faq.best(q).expect("shares words with the FAQ").confidence;
    let mut cfg = config_with("");
    cfg.bot.min_confidence = (best + 0.01).min(1.0);
    let e = engine_with(cfg);
    assert!(
        matches!(
            e.faq().decide(q, e.config.bot.min_confidence),
            crate::faq::Decision::Clarify(_)
        ),
        "the fixture question is not in the band"
    );
    (e, q)
}

/// The ids offered by the pending clarifying question.
fn offered(s: &State) -> Vec<String> {
    let c = s.conv.clarifying.as_ref().expect("a clarifying question");
    c.choices.iter().map(|h| h.id.clone()).collect()
}

#[test]
fn an_unsure_question_offers_numbered_choices_and_a_person() {
    let (e, q) = unsure();
    let w = FakeWorld::default();
    let t = step(&e, &e.start(customer(), T0), says(q), T0, &w);
    let ids = offered(&t.state);
    assert!((2..=3).contains(&ids.len()), "{ids:?}");
    assert!(ids.contains(&"reset_password".to_string()), "{ids:?}");
    assert!(ids.contains(&"invoice_copy".to_string()), "{ids:?}");
    let m = &e.config.messages;
    let text = said(&t).pop().expect("the question");
    assert!(text.starts_with(&m.clarify), "{text}");
    for (i, id) in ids.iter().enumerate() {
        let faq = e.faq();
        let title = clarify::title(&faq.entry(id).expect("offered entry").questions[0]);
        assert!(text.contains(&format!("\n{}. {title}", i + 1)), "{text}");
    }
    let person = ids.len() + 1;
    assert!(
        text.contains(&format!("\n{person}. {}", m.clarify_person)),
        "{text}"
    );
    // Asking is neither an answer nor a miss, and no case is opened.
    assert_eq!(t.state.phase(), Phase::Bot);
    assert!(opened(&t).is_none());
    assert_eq!(t.state.conv.misses_in_row, 0);
    assert!(t.state.conv.last_answer.is_none());
}

#[test]
fn a_number_or_a_title_answers_with_that_entry() {
    let (e, q) = unsure();
    let w = FakeWorld::default();
    let asked = step(&e, &e.start(customer(), T0), says(q), T0, &w).state;
    let ids = offered(&asked);
    for (i, id) in ids.iter().enumerate() {
        let entry = e.faq().entry(id).expect("offered entry").clone();
        for reply in [format!("{}", i + 1), entry.questions[0].to_uppercase()] {
            let t = step(&e, &asked, says(&reply), T0 + 1, &w);
            if entry.escalate {
                // An `escalate = true` entry picked: handed over like an
                // answer to it would be.
                assert_eq!(
                    reason(&t),
                    EscalationReason::FaqEscalate { faq_id: id.clone() }
                );
                continue;
            }
            assert_eq!(said(&t), vec![entry.answer.clone()], "{reply}");
            assert!(t.state.conv.clarifying.is_none(), "{reply}");
            assert_eq!(t.state.conv.misses_in_row, 0);
            assert_eq!(
                t.state.conv.last_answer.as_ref().map(|h| h.id.as_str()),
                Some(id.as_str())
            );
            assert!(opened(&t).is_none(), "{reply}");
        }
    }
}

#[test]
fn declining_the_choices_hands_over_as_clarify_declined() {
    let (e, q) = unsure();
    let w = FakeWorld::default();
    let asked = step(&e, &e.start(customer(), T0), says(q), T0, &w).state;
    let ids = offered(&asked);
    let last = (ids.len() + 1).to_string();
    for reply in [last.as_str(), "person", "None of these"] {
        let t = step(&e, &asked, says(reply), T0 + 1, &w);
        assert_eq!(
            reason(&t),
            EscalationReason::ClarifyDeclined {
                offered: ids.clone()
            },
            "{reply}"
        );
        assert!(opened(&t).is_some(), "{reply}");
        assert!(t.state.conv.clarifying.is_none());
        assert_eq!(reason(&t).label(), "clarify_declined");
    }
}

#[test]
fn anything_else_after_the_choices_is_a_new_question() {
    let (e, q) = unsure();
    let w = FakeWorld::default();
    let asked = step(&e, &e.start(customer(), T0), says(q), T0, &w).state;
    let t = step(&e, &asked, says("how long does shipping take"), T0 + 1, &w);
    assert_eq!(said(&t), vec!["2 to 4 working days."]);
    assert!(t.state.conv.clarifying.is_none());
    // A number beyond the choices is no choice either: a miss like any
    // unknown question.
    let t = step(&e, &asked, says("7"), T0 + 1, &w);
    assert!(t.state.conv.clarifying.is_none());
    assert_eq!(
        said(&t),
        vec![e.config.messages.no_answer.replace("{bot}", "Helper")]
    );
    assert_eq!(t.state.conv.misses_in_row, 1);
    // Small talk answers politely and drops the offer.
    let t = step(&e, &asked, says("thanks"), T0 + 1, &w);
    assert_eq!(said(&t), vec![e.config.messages.thanks.clone()]);
    assert!(t.state.conv.clarifying.is_none());
    // The offer is for the next message only: "1" later is a new question.
    let t = step(&e, &t.state, says("1"), T0 + 2, &w);
    assert!(
        !said(&t)
            .iter()
            .any(|x| x == "Use the Forgot password link." || x == "Invoices are under Billing."),
        "{:?}",
        said(&t)
    );
}

#[test]
fn asking_for_a_person_while_unsure_still_hands_over_at_once() {
    let (e, _) = unsure();
    let w = FakeWorld::default();
    let t = step(
        &e,
        &e.start(customer(), T0),
        says("password invoice, I want to talk to an agent"),
        T0,
        &w,
    );
    assert!(matches!(reason(&t), EscalationReason::AskedForHuman { .. }));
    assert!(t.state.conv.clarifying.is_none());
}

#[test]
fn a_choice_removed_by_a_reload_is_no_choice() {
    let (e, q) = unsure();
    let w = FakeWorld::default();
    let asked = step(&e, &e.start(customer(), T0), says(q), T0, &w).state;
    let ids = offered(&asked);
    let gone = ids[0].clone();
    // The admin removes the first offered entry; the reload swaps the FAQ
    // before the customer answers.
    let kept: Vec<_> = e
        .faq()
        .entries()
        .iter()
        .filter(|x| x.id != gone)
        .cloned()
        .collect();
    let params = crate::faq::MatcherParams::default();
    e.shared_faq()
        .store(Arc::new(Faq::from_entries(kept, &params)));
    let t = step(&e, &asked, says("1"), T0 + 1, &w);
    assert!(t.state.conv.clarifying.is_none());
    assert!(
        t.state.conv.last_answer.is_none(),
        "{:?}",
        t.state.conv.last_answer
    );
    // The second choice still answers from the new FAQ.
    let t = step(&e, &asked, says("2"), T0 + 1, &w);
    let second = e.faq().entry(&ids[1]).expect("kept").clone();
    if !second.escalate {
        assert_eq!(said(&t), vec![second.answer.clone()]);
    }
}

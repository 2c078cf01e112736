//! Gaps found in transcripts the real engine wrote, and their grouping.

use super::*;
use crate::conversation::{Engine, State, Transition};
use crate::fixtures::*;

fn run(e: &Engine, w: &FakeWorld, texts: &[&str]) -> Transition {
    let mut s: State = e.start(customer(), T0);
    let mut last = None;
    for (i, text) in texts.iter().enumerate() {
        let t = e
            .step(&s, says(text), T0 + i as i64 * 1000, w)
            .unwrap_or_else(|r| panic!("refused: {r}"));
        s = t.state.clone();
        last = Some(t);
    }
    last.expect("at least one message")
}

fn texts(qs: &[GapQuestion]) -> Vec<(&str, GapKind)> {
    qs.iter().map(|q| (q.text.as_str(), q.kind)).collect()
}

fn phrases(e: &Engine) -> SmallTalkPhrases {
    SmallTalkPhrases::new(&e.config.small_talk)
}

#[test]
fn misses_are_gaps_answers_and_small_talk_are_not() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = run(
        &e,
        &w,
        &[
            "hello",
            "how do I reset my password?",
            "thanks",
            "zebra quantum marmalade",
            "how do I reset my password?",
        ],
    );
    assert!(t.state.case.is_none());
    let gaps = gap_questions(&t.state.conv.turns, None, &phrases(&e));
    assert_eq!(
        texts(&gaps),
        vec![("zebra quantum marmalade", GapKind::NotAnswered)]
    );
}

#[test]
fn a_handover_for_misses_counts_its_trigger_a_request_for_a_person_does_not() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = run(
        &e,
        &w,
        &["zebra quantum marmalade", "purple elephant theorem"],
    );
    let case = t.state.case.as_ref().expect("handed over");
    let gaps = gap_questions(bot_part(case), Some(&case.reason), &phrases(&e));
    assert_eq!(
        texts(&gaps),
        vec![
            ("zebra quantum marmalade", GapKind::NotAnswered),
            ("purple elephant theorem", GapKind::NotAnswered)
        ]
    );
    let t = run(
        &e,
        &w,
        &["zebra quantum marmalade", "I want to talk to an agent"],
    );
    let case = t.state.case.as_ref().expect("handed over");
    let gaps = gap_questions(bot_part(case), Some(&case.reason), &phrases(&e));
    assert_eq!(
        texts(&gaps),
        vec![("zebra quantum marmalade", GapKind::NotAnswered)]
    );
}

#[test]
fn an_answer_that_did_not_help_is_a_gap() {
    let (e, w) = (engine(), FakeWorld::default());
    let t = run(
        &e,
        &w,
        &["when will my order arrive", "ok", "that didn't help"],
    );
    let case = t.state.case.as_ref().expect("handed over");
    let gaps = gap_questions(bot_part(case), Some(&case.reason), &phrases(&e));
    assert_eq!(
        texts(&gaps),
        vec![("when will my order arrive", GapKind::DidNotHelp)]
    );
}

/// An engine whose `min_confidence` puts `q` in the clarifying band.
fn unsure_engine(q: &str) -> Engine {
    let faq = crate::faq::Faq::from_toml_str(FAQ, "faq.toml").expect("fixture faq");
    let best = faq.best(q).expect("shares words with the FAQ").confidence;
    let mut cfg = config_with("");
    cfg.bot.min_confidence = (best + 0.01).min(1.0);
    let e = engine_with(cfg);
    assert!(matches!(
        e.faq().decide(q, e.config.bot.min_confidence),
        crate::faq::Decision::Clarify(_)
    ));
    e
}

#[test]
fn declined_choices_are_a_gap_a_picked_choice_is_not() {
    let q = "password invoice";
    let (e, w) = (unsure_engine(q), FakeWorld::default());
    let t = run(&e, &w, &[q, "person"]);
    let case = t.state.case.as_ref().expect("handed over");
    assert!(matches!(
        case.reason,
        EscalationReason::ClarifyDeclined { .. }
    ));
    let gaps = gap_questions(bot_part(case), Some(&case.reason), &phrases(&e));
    assert_eq!(texts(&gaps), vec![(q, GapKind::DeclinedChoices)]);
    // Picked by number: answered, so no gap; a "didn't help" afterwards
    // counts the clarified question, not the "1".
    let t = run(&e, &w, &[q, "1"]);
    assert!(t.state.case.is_none());
    assert!(gap_questions(&t.state.conv.turns, None, &phrases(&e)).is_empty());
    let t = run(&e, &w, &[q, "1", "that didn't help"]);
    let case = t.state.case.as_ref().expect("handed over");
    let gaps = gap_questions(bot_part(case), Some(&case.reason), &phrases(&e));
    assert_eq!(texts(&gaps), vec![(q, GapKind::DidNotHelp)]);
}

fn q(at: Millis, text: &str) -> GapQuestion {
    GapQuestion {
        at,
        text: text.into(),
        kind: GapKind::NotAnswered,
    }
}

#[test]
fn near_duplicates_are_grouped_biggest_first_and_masked() {
    let questions = vec![
        q(5, "can I change the delivery address?"),
        q(1, "how do I change my delivery address"),
        q(2, "do you sell gift cards"),
        q(3, "Change delivery address for my order"),
        q(4, "Do you sell gift cards?"),
        q(6, "my email is ann@example.org, change delivery address"),
        q(0, "before the window"),
        GapQuestion {
            kind: GapKind::DidNotHelp,
            ..q(7, "gift cards: do you sell them")
        },
    ];
    let masker = Masker::new(&crate::config::PrivacyConfig::default()).unwrap();
    let g = Gaps::compute(
        questions,
        1,
        10,
        crate::faq::cluster::DEFAULT_MIN_SIMILARITY,
        &masker,
    );
    assert_eq!(g.questions, 7);
    let counts: Vec<u64> = g.groups.iter().map(|x| x.count).collect();
    assert_eq!(counts, vec![4, 3], "{g:#?}");
    assert_eq!(g.groups[0].example, "how do I change my delivery address");
    assert_eq!(g.groups[1].example, "do you sell gift cards");
    assert_eq!((g.groups[1].not_answered, g.groups[1].did_not_help), (2, 1));
    // Wordings differing only in case are shown once.
    assert_eq!(g.groups[1].wordings.len(), 2, "{:?}", g.groups[1].wordings);
    let all = serde_json::to_string(&g).unwrap();
    assert!(!all.contains("ann@example.org"), "{all}");
    let text = g.render();
    assert!(text.contains("7 question(s)"), "{text}");
    assert!(text.contains("   4 x"), "{text}");
}

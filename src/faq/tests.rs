//! Unit tests of the public `Faq` API on small hand-written FAQs: loading
//! errors with positions, matching, odd inputs, determinism, evaluation and
//! the CLI. Self-contained: no file outside the repository is needed.

use super::eval::{evaluate, parse_cases};
use super::*;
use proptest::prelude::*;

const SMALL: &str = r#"
[[faq]]
id = "reset_password"
questions = [
  "how do I reset my password",
  "I forgot my password",
  "can't log in, forgot the password",
  "change my password please",
  "password reset link does not arrive",
]
answer = "Use the 'Forgot password' link on the login page."
team = "tech"
tags = ["account", "login"]

[[faq]]
id = "opening_hours"
questions = [
  "when are you open",
  "what are your opening hours",
  "are you open on sundays",
  "what time do you close today",
  "business hours of the shop",
]
answer = "Mon-Fri 9-17."

[[faq]]
id = "refund"
questions = [
  "I want a refund",
  "how do I get my money back",
  "refund my order",
  "can I return the item and be refunded",
  "money back for a broken product",
]
answer = "A human will handle your refund."
team = "billing"
escalate = true

[[faq]]
id = "shipping_time"
questions = [
  "how long does shipping take",
  "when will my parcel arrive",
  "delivery time to germany",
  "where is my package",
  "how many days for delivery",
]
answer = "2-4 working days."
"#;

fn small() -> Faq {
    Faq::from_toml_str(SMALL, "small.toml").expect("valid FAQ")
}

fn invalid(src: &str) -> (String, Position) {
    let err = Faq::from_toml_str(src, "faq.toml").expect_err("must be rejected");
    let pos = err.position().expect("error has a position");
    (err.to_string(), pos)
}

#[test]
fn faq_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Faq>();
}

#[test]
fn fields_are_kept() {
    let faq = small();
    assert_eq!(faq.entries().len(), 4);
    assert_eq!(faq.question_count(), 20);
    let reset = faq.entry("reset_password").expect("entry");
    assert_eq!(reset.team.as_deref(), Some("tech"));
    assert_eq!(reset.tags, vec!["account", "login"]);
    assert!(!reset.escalate);
    let refund = faq.entry("refund").expect("entry");
    assert!(refund.escalate);
    assert_eq!(refund.team.as_deref(), Some("billing"));
    assert!(faq.entry("nope").is_none());
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let (msg, pos) = invalid("[[faq]]\nid = \"a\"\nquestions = [\"x\"\nanswer = \"y\"\n");
    assert!(msg.starts_with("faq.toml:"), "{msg}");
    assert!(pos.line >= 3, "{pos:?}");
}

#[test]
fn unknown_key_is_an_error_at_its_line() {
    let src = "[[faq]]\nid = \"a\"\nquestions = [\"hi\"]\nanswer = \"y\"\nteem = \"x\"\n";
    let (msg, pos) = invalid(src);
    assert!(msg.contains("teem"), "{msg}");
    assert_eq!(pos.line, 5, "{msg}");
}

#[test]
fn duplicate_id_points_at_the_second_one() {
    let src = "[[faq]]\nid = \"a\"\nquestions = [\"hi\"]\nanswer = \"y\"\n\n\
               [[faq]]\nid = \"a\"\nquestions = [\"ho\"]\nanswer = \"z\"\n";
    let (msg, pos) = invalid(src);
    assert!(msg.contains("duplicate FAQ id \"a\""), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert_eq!(pos, Position { line: 7, column: 6 });
}

#[test]
fn empty_questions_and_blank_fields_are_errors() {
    let (msg, pos) = invalid("[[faq]]\nid = \"a\"\nquestions = []\nanswer = \"y\"\n");
    assert!(msg.contains("no questions"), "{msg}");
    assert_eq!(pos.line, 3);
    let (msg, pos) = invalid("[[faq]]\nid = \"a\"\nquestions = [\"ok\", \"?!\"]\nanswer = \"y\"\n");
    assert!(msg.contains("no letters or digits"), "{msg}");
    assert_eq!(
        pos,
        Position {
            line: 3,
            column: 20
        }
    );
    let (msg, _) = invalid("[[faq]]\nid = \" \"\nquestions = [\"hi\"]\nanswer = \"y\"\n");
    assert!(msg.contains("id must not be empty"), "{msg}");
    let (msg, _) = invalid("[[faq]]\nid = \"a\"\nquestions = [\"hi\"]\nanswer = \"\"\n");
    assert!(msg.contains("empty answer"), "{msg}");
    let (msg, _) = invalid("[[faq]]\nid = \"a\"\nquestions = [\"hi\"]\n");
    assert!(msg.contains("answer"), "{msg}");
}

#[test]
fn escalate_entries_may_have_no_answer() {
    let src = "[[faq]]\nid = \"a\"\nquestions = [\"cancel my account\"]\nanswer = \"\"\nescalate = true\n";
    let faq = Faq::from_toml_str(src, "faq.toml").expect("valid");
    assert!(faq.entries()[0].escalate);
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent-faq.toml");
    let err = Faq::load(&path).expect_err("missing file");
    let msg = err.to_string();
    assert!(msg.contains("absent-faq.toml"), "{msg}");
    assert!(matches!(err, FaqError::Read { .. }));
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("faq.toml");
    std::fs::write(&path, SMALL).expect("write");
    let faq = Faq::load(&path).expect("load");
    assert_eq!(faq.entries().len(), 4);
}

#[test]
fn exact_question_is_answered() {
    let faq = small();
    let m = faq
        .answer("how do I reset my password", DEFAULT_MIN_CONFIDENCE)
        .expect("answered");
    assert_eq!(m.id, "reset_password");
    assert_eq!(m.index, 0);
    assert!((0.0..=1.0).contains(&m.confidence));
}

#[test]
fn paraphrase_finds_the_right_entry() {
    let faq = small();
    let best = faq.best("I have forgotten my password").expect("a match");
    assert_eq!(best.id, "reset_password");
    let best = faq
        .best("How long will delivery of my parcel take?")
        .expect("a match");
    assert_eq!(best.id, "shipping_time");
}

#[test]
fn unrelated_question_is_not_answered() {
    let faq = small();
    for q in ["what is the capital of france", "tell me a joke about cats"] {
        assert!(
            faq.answer(q, DEFAULT_MIN_CONFIDENCE).is_none(),
            "{q:?} answered"
        );
    }
}

#[test]
fn top_is_ranked_and_starts_with_best() {
    let faq = small();
    let top = faq.top("refund my money", 3);
    assert_eq!(top.len(), 3);
    assert_eq!(top[0].id, "refund");
    assert_eq!(Some(&top[0]), faq.best("refund my money").as_ref());
    assert!(faq.top("refund my money", 0).is_empty());
    assert_eq!(faq.top("refund my money", 99).len(), 4);
}

#[test]
fn odd_inputs_do_not_match_or_panic() {
    let faq = small();
    for q in ["", "   \n\t", "🙂🙂🙂", "?!...", "\u{0}"] {
        assert!(faq.best(q).is_none(), "{q:?}");
        assert!(faq.answer(q, 0.0).is_none(), "{q:?}");
        assert!(faq.top(q, 3).is_empty(), "{q:?}");
    }
    let long = "password ".repeat(100_000);
    let m = faq.best(&long).expect("a match");
    assert!((0.0..=1.0).contains(&m.confidence));
}

#[test]
fn nan_threshold_never_answers() {
    let faq = small();
    assert!(faq.answer("how do I reset my password", f32::NAN).is_none());
}

#[test]
fn matching_is_deterministic() {
    let a = small();
    let b = small();
    for q in ["when are you open", "where is my package", "hello there"] {
        assert_eq!(a.top(q, 4), b.top(q, 4));
    }
}

#[test]
fn empty_faq_never_answers() {
    let faq = Faq::from_toml_str("", "empty.toml").expect("an empty FAQ is valid");
    assert!(faq.entries().is_empty());
    assert!(faq.best("anything").is_none());
}

const CASES: &str = r#"{"text": "how do I reset my password", "expect": "reset_password"}
{"text": "when are you open", "expect": "opening_hours"}

{"text": "what is the capital of france", "expect": null}
not json
{"expect": null}
{"text": "hi", "expect": "no_such_id"}
{"text": "hi"}
"#;

#[test]
fn eval_counts_and_skips_malformed_lines() {
    let faq = small();
    let (cases, skipped) = parse_cases(CASES, &faq);
    assert_eq!(cases.len(), 3);
    let lines: Vec<usize> = skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![5, 6, 7, 8]);
    assert!(skipped[2].reason.contains("no_such_id"));
    let r = evaluate(
        &faq,
        &cases,
        DEFAULT_MIN_CONFIDENCE,
        skipped.len(),
        &Default::default(),
    );
    assert_eq!((r.cases, r.in_scope_cases, r.oos_cases), (3, 2, 1));
    assert_eq!(r.in_scope_correct, 2);
    assert_eq!(r.oos_rejected, 1);
    assert_eq!(r.false_answers, 0);
    assert!((r.in_scope_accuracy() - 1.0).abs() < 1e-9);
    assert!(r.p99_us >= r.p50_us);
    // Answering everything turns the out-of-scope case into a false answer.
    let r = evaluate(&faq, &cases, 0.0, 0, &Default::default());
    assert_eq!(r.false_answers, 1);
    assert_eq!(r.oos_recall(), 0.0);
}

#[test]
fn cli_eval_json_is_one_object_on_the_last_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faq = dir.path().join("faq.toml");
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(&faq, SMALL).expect("write");
    std::fs::write(&cases, CASES).expect("write");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let cmd = cli::FaqCommand::Eval {
        faq,
        cases,
        json: true,
        min_confidence: DEFAULT_MIN_CONFIDENCE,
        hold_out_entries: None,
        seed: 1,
    };
    cli::run_with(cmd, &mut out, &mut err).expect("eval runs");
    let out = String::from_utf8(out).expect("utf8");
    let last = out.lines().last().expect("output");
    let v: serde_json::Value = serde_json::from_str(last).expect("json");
    assert_eq!(v["cases"], 3);
    assert_eq!(v["skipped_lines"], 4);
    assert_eq!(v["in_scope_accuracy"], 1.0);
    assert_eq!(v["oos_recall"], 1.0);
    assert!(v["p99_us"].is_number());
    let err = String::from_utf8(err).expect("utf8");
    assert!(err.contains("cases.jsonl:5: skipped"), "{err}");
}

#[test]
fn cli_ask_says_whether_it_would_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faq = dir.path().join("faq.toml");
    std::fs::write(&faq, SMALL).expect("write");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let cmd = cli::FaqCommand::Ask {
        faq,
        top: 2,
        min_confidence: DEFAULT_MIN_CONFIDENCE,
        question: vec!["I want a refund".into()],
    };
    cli::run_with(cmd, &mut out, &mut err).expect("ask runs");
    let out = String::from_utf8(out).expect("utf8");
    assert!(out.contains("refund  [team billing, escalate]"), "{out}");
    assert!(out.contains("would answer with refund"), "{out}");
}

proptest! {
    #[test]
    fn loader_never_panics_on_arbitrary_text(src in "\\PC{0,300}") {
        let _ = Faq::from_toml_str(&src, "fuzz.toml");
    }

    #[test]
    fn loader_never_panics_on_near_valid_toml(
        id in "[a-z\"\\\\ ]{0,6}",
        q in prop::collection::vec("[a-z ?!🙂\"]{0,12}", 0..4),
        key in prop::sample::select(vec!["answer", "team", "escalate", "tags", "bogus", "id"]),
        val in prop::sample::select(vec!["\"x\"", "true", "[\"a\"]", "[]", "1", "{ }", ""]),
        cut in 0usize..200,
    ) {
        let qs: Vec<String> = q.iter().map(|s| format!("{s:?}")).collect();
        let src = format!(
            "[[faq]]\nid = \"{id}\"\nquestions = [{}]\nanswer = \"a\"\n{key} = {val}\n",
            qs.join(", ")
        );
        let mut end = cut.min(src.len());
        while !src.is_char_boundary(end) { end -= 1; }
        let _ = Faq::from_toml_str(&src, "near.toml");
        let _ = Faq::from_toml_str(&src[..end], "near.toml");
    }

    #[test]
    fn confidences_stay_in_range(text in "\\PC{0,80}") {
        let faq = small();
        for m in faq.top(&text, 4) {
            prop_assert!((0.0..=1.0).contains(&m.confidence));
        }
    }
}

#[test]
fn eval_counts_three_way_outcomes_and_held_out_entries() {
    let faq = small();
    let (cases, _) = parse_cases(CASES, &faq);
    let r = evaluate(&faq, &cases, DEFAULT_MIN_CONFIDENCE, 0, &Default::default());
    assert_eq!(r.in_scope.total(), r.in_scope_cases);
    assert_eq!(r.oos.total(), r.oos_cases);
    assert_eq!(r.in_scope.answered_right, r.in_scope_correct);
    assert_eq!(r.held_out.total(), 0);
    let v = r.to_json();
    assert_eq!(v["in_scope"]["answered_right"], r.in_scope_correct);
    assert!(v["out_of_scope"]["declined"].is_number());
    // Holding out the entry of an in-scope case makes it must-not-answer.
    let id = cases
        .iter()
        .find_map(|c| c.expect.clone())
        .expect("an in-scope case");
    let held: std::collections::HashSet<String> = [id].into_iter().collect();
    let r = evaluate(&faq, &cases, DEFAULT_MIN_CONFIDENCE, 0, &held);
    assert!(r.held_out.total() >= 1);
    assert_eq!(r.in_scope_cases + r.oos_cases, r.cases);
    assert_eq!(
        r.in_scope.total() + r.oos.total() + r.held_out.total(),
        r.cases
    );
}

#[test]
fn held_out_entries_are_a_seeded_share() {
    let ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    let one = super::eval::pick_held_out(&ids, 0.2, 7);
    assert_eq!(one.len(), 2);
    assert_eq!(one, super::eval::pick_held_out(&ids, 0.2, 7));
    assert_eq!(super::eval::pick_held_out(&ids, 0.01, 7).len(), 1);
    assert!(super::eval::pick_held_out(&ids, 0.0, 7).is_empty());
}

//! Export output: who said what, notes marked internal, masks applied.

use super::*;
use crate::case::{ConversationKey, EscalationReason, Turn};
use crate::config::PrivacyConfig;
use crate::fixtures::{customer, T0};

fn turn(at: Millis, speaker: Speaker, text: &str, internal: bool) -> Turn {
    Turn {
        at,
        speaker,
        text: text.into(),
        faq: None,
        internal,
    }
}

fn resolved_case() -> Case {
    Case {
        id: 7,
        conversation: ConversationKey("k".into()),
        customer: customer(),
        team: "billing".into(),
        reason: EscalationReason::AskedForHuman {
            phrase: "agent".into(),
        },
        intent: Some("refund".into()),
        state: CaseState::Resolved { by: "Alice".into() },
        opened_at: T0,
        bot_since: T0,
        first_human_reply_at: Some(T0 + 60_000),
        closed_at: Some(T0 + 600_000),
        desk: None,
        transcript: vec![
            turn(
                T0,
                Speaker::Customer,
                "my card 4111 1111 1111 1111 was charged twice",
                false,
            ),
            turn(
                T0,
                Speaker::System,
                "A person from billing will be with you.",
                false,
            ),
            turn(
                T0 + 30_000,
                Speaker::Agent("Alice".into()),
                "customer is a reseller",
                true,
            ),
            turn(
                T0 + 60_000,
                Speaker::Agent("Alice".into()),
                "Refund on its way.",
                false,
            ),
        ],
        sla_deadline: None,
        overdue: false,
        out_of_hours: false,
        transfers: Vec::new(),
        previous_cases: Vec::new(),
        told_position: None,
        csat: Some(4),
    }
}

fn masker() -> Masker {
    Masker::new(&PrivacyConfig::default()).expect("default privacy config")
}

#[test]
fn jsonl_is_one_parsable_case_per_line() {
    let out = render(
        &[resolved_case(), resolved_case()],
        Format::Jsonl,
        &masker(),
        "Helper",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("valid JSON");
    assert_eq!(v["case"], 7);
    assert_eq!(v["state"], "resolved");
    assert_eq!(v["agent"], "Alice");
    assert_eq!(v["csat"], 4);
    let t = v["transcript"].as_array().expect("transcript");
    assert_eq!(t.len(), 4);
    assert_eq!(t[0]["speaker"], "customer");
    assert_eq!(t[1]["speaker"], "system");
    assert_eq!(t[2]["internal"], true);
    assert_eq!(t[3]["name"], "Alice");
    let first = t[0]["text"].as_str().unwrap_or_default();
    assert!(!first.contains("4111 1111"), "card not masked: {first}");
}

#[test]
fn markdown_marks_notes_internal() {
    let out = render(&[resolved_case()], Format::Markdown, &masker(), "Helper");
    assert!(out.starts_with("## Case #7 · billing · "), "{out}");
    assert!(
        out.contains("**Alice** (agent) *(internal note)*:\n  > customer is a reseller"),
        "{out}"
    );
    assert!(
        out.contains("**Alice** (agent):\n  > Refund on its way."),
        "{out}"
    );
    assert!(out.contains("- Rating: 4/5"), "{out}");
    assert!(!out.contains("4111 1111 1111 1111"), "{out}");
}

#[test]
fn format_names() {
    assert_eq!("jsonl".parse::<Format>(), Ok(Format::Jsonl));
    assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
    assert!("csv"
        .parse::<Format>()
        .unwrap_err()
        .contains("use jsonl or md"));
}

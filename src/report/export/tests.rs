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
        source: None,
        deleted: false,
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
        desk_authors: Vec::new(),
        closed_team: None,
        reopened: Vec::new(),
        erased_at: None,
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
    // csv was refused before CSV export existed; now it is a format.
    assert_eq!("csv".parse::<Format>(), Ok(Format::Csv));
    assert!("xlsx"
        .parse::<Format>()
        .unwrap_err()
        .contains("use jsonl, md or csv"));
}

#[test]
fn csv_is_one_masked_row_per_transcript_line() {
    let mut two = resolved_case();
    two.id = 8;
    two.transcript[3].text = "Refund, \"twice\", on its way.\nBye".into();
    let out = render(&[resolved_case(), two], Format::Csv, &masker(), "Helper");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[0], "case");
    assert_eq!(header.last().map(String::as_str), Some("text"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 8, "{out}");
    assert_eq!(&rows[0][0], "7");
    assert_eq!(&rows[0][1], "billing");
    assert_eq!(&rows[0][2], "resolved");
    assert_eq!(&rows[0][3], "Alice");
    assert_eq!(&rows[2][7], "agent");
    assert_eq!(&rows[2][9], "true");
    assert!(
        !rows[0][10].contains("4111 1111"),
        "card not masked: {}",
        &rows[0][10]
    );
    // Quotes, commas and newlines survive the round trip.
    assert_eq!(&rows[7][0], "8");
    assert_eq!(&rows[7][10], "Refund, \"twice\", on its way.\nBye");
}

#[test]
fn anonymized_exports_name_nobody() {
    let mut first = resolved_case();
    first.transcript[1].text = "Hi Carol, someone will be with you.".into();
    let mut other = resolved_case();
    other.id = 8;
    other.customer.user.id = "@dave:localhost".into();
    other.customer.user.display_name = Some("Dave".into());
    let mut cases = vec![first, other, resolved_case()];
    pseudonymize(&mut cases);
    for format in [Format::Jsonl, Format::Markdown, Format::Csv] {
        let out = render(&cases, format, &masker(), "Helper");
        for trace in ["carol", "Carol", "@dave", "Dave", "!support"] {
            assert!(!out.contains(trace), "{trace} in {format:?} export:\n{out}");
        }
        assert!(
            out.contains("customer-1") && out.contains("customer-2"),
            "{out}"
        );
    }
    // The same person keeps one alias within the export.
    assert_eq!(cases[0].customer.user.id, "customer-1");
    assert_eq!(cases[1].customer.user.id, "customer-2");
    assert_eq!(cases[2].customer.user.id, "customer-1");
    assert_eq!(
        cases[0].transcript[1].text,
        "Hi customer-1, someone will be with you."
    );
}

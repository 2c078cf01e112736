//! The summary card carries every fact agents need, masked; escaping is the bridges' job.

use super::*;
use crate::case::{
    Case, CaseState, ConversationKey, EscalationReason, FaqHit, PreviousCase, Speaker, Turn,
};
use crate::fixtures::*;

fn case() -> Case {
    let c = customer();
    Case {
        id: 42,
        conversation: ConversationKey::new(&c.endpoint, &c.user),
        customer: c,
        team: "billing".into(),
        reason: EscalationReason::AskedForHuman {
            phrase: "agent".into(),
        },
        intent: Some("invoice_copy".into()),
        state: CaseState::Queued,
        opened_at: T0 + 3 * MINUTE,
        bot_since: T0,
        first_human_reply_at: None,
        closed_at: None,
        desk: None,
        transcript: vec![
            Turn {
                at: T0,
                speaker: Speaker::Customer,
                text: "my card 4111 1111 1111 1111 was charged twice, mail me at c@x.org".into(),
                faq: None,
                internal: false,
                source: None,
                deleted: false,
            },
            Turn {
                at: T0 + MINUTE,
                speaker: Speaker::Bot,
                text: "Invoices are under *Billing*.".into(),
                faq: Some(FaqHit {
                    id: "invoice_copy".into(),
                    confidence: 0.71,
                }),
                internal: false,
                source: None,
                deleted: false,
            },
            Turn {
                at: T0 + 2 * MINUTE,
                speaker: Speaker::Agent("Alice".into()),
                text: "SECRET internal".into(),
                faq: None,
                internal: true,
                source: None,
                deleted: false,
            },
        ],
        sla_deadline: Some(T0 + 13 * MINUTE),
        overdue: true,
        out_of_hours: false,
        transfers: Vec::new(),
        previous_cases: vec![PreviousCase {
            id: 7,
            opened_at: T0 - 86_400_000,
            team: "tech".into(),
            reason: "VIP customer".into(),
            state: CaseState::Resolved { by: "Bob".into() },
        }],
        told_position: None,
        csat: None,
        desk_authors: Vec::new(),
        closed_team: None,
        reopened: Vec::new(),
        erased_at: None,
    }
}

fn render_default(case: &Case) -> CaseSummary {
    let cfg = config_with("");
    let masker = Masker::new(&cfg.privacy).unwrap();
    render(
        case,
        &SummaryContext {
            team: cfg.team("billing").unwrap(),
            teams: vec!["billing", "tech"],
            masker: &masker,
            turns: 10,
            bot_name: "Helper",
        },
    )
}

#[test]
fn card_has_every_fact() {
    let s = render_default(&case());
    let text = s.plain();
    assert_eq!(s.title, "Case #42 · billing · Carol");
    assert_eq!(s.state.status, CaseStatus::Waiting);
    for want in [
        "Waiting for an agent",
        "Customer: Carol (@carol:localhost) on matrix, in !support:localhost",
        "Why handed over: customer asked for a person",
        "Intent: invoice_copy",
        "3 min, 1 message(s) before the handover",
        "billing · opened 10:03",
        "first reply by 10:13",
        "OVERDUE",
        "#7 (2026-11-25, tech, resolved: VIP customer)",
        "FAQ invoice_copy, 71% sure",
        "1 internal note(s)",
        "!claim",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let labels: Vec<_> = s.fields.iter().map(|f| f.label.as_str()).collect();
    assert_eq!(labels[..2], ["Customer", "Why handed over"]);
}

#[test]
fn pii_is_masked_and_notes_hidden() {
    let s = render_default(&case());
    let text = serde_json::to_string(&s).unwrap();
    assert!(!text.contains("4111 1111"), "{text}");
    assert!(text.contains("••••1111"), "{text}");
    assert!(!text.contains("c@x.org"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(s.notes, 1);
}

#[test]
fn customer_text_is_carried_as_written_for_bridges_to_escape() {
    let mut c = case();
    c.transcript[0].text = "<b>hi</b> *x* & y".into();
    let s = render_default(&c);
    assert_eq!(s.turns[0].text, "<b>hi</b> *x* & y");
    assert_eq!(s.turns[0].who, "Carol");
    assert_eq!(s.turns[0].at, "10:00");
}

#[test]
fn buttons_and_commands_only_while_open_and_transfer_lists_other_teams() {
    let s = render_default(&case());
    let actions: Vec<_> = s.buttons.iter().map(|b| b.action.as_str()).collect();
    assert_eq!(actions, ["claim", "resolve", "transfer"]);
    assert_eq!(
        s.buttons[2].options,
        vec![("tech".to_string(), "tech".to_string())]
    );
    assert!(s.commands.iter().any(|c| c == "!resolve"));
    let mut c = case();
    c.state = CaseState::Resolved { by: "Alice".into() };
    let s = render_default(&c);
    assert!(s.buttons.is_empty());
    assert!(s.commands.is_empty());
    assert_eq!(s.state.status, CaseStatus::Resolved);
    assert_eq!(s.state.text, "Resolved by Alice");
    assert!(!s.plain().contains("Commands"));
}

#[test]
fn turn_limit_keeps_the_latest() {
    let mut c = case();
    c.transcript = (0..30)
        .map(|i| Turn {
            at: T0,
            speaker: Speaker::Customer,
            text: format!("message {i}"),
            faq: None,
            internal: false,
            source: None,
            deleted: false,
        })
        .collect();
    let s = render_default(&c);
    let texts: Vec<_> = s.turns.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts.len(), 10);
    assert_eq!(texts[0], "message 20");
    assert_eq!(texts[9], "message 29");
}

//! The summary shows every fact agents need, masked and escaped.

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
            },
            Turn {
                at: T0 + 2 * MINUTE,
                speaker: Speaker::Agent("Alice".into()),
                text: "SECRET internal".into(),
                faq: None,
                internal: true,
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
fn markdown_card_has_every_fact() {
    let s = render_default(&case());
    let md = &s.markdown;
    assert_eq!(s.title, "Case #42 · billing · Carol");
    for want in [
        "Waiting for an agent",
        "Carol (@carol:localhost) on matrix, in !support:localhost",
        "customer asked for a person",
        "invoice\\_copy",
        "3 min, 1 message(s) before the handover",
        "billing · opened 10:03",
        "first reply by 10:13",
        "OVERDUE",
        "\\#7 (2026-11-25, tech, resolved: VIP customer)",
        "FAQ invoice\\_copy, 71% sure",
        "1 internal note(s)",
        "!claim",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
}

#[test]
fn pii_is_masked_and_notes_hidden() {
    let s = render_default(&case());
    for text in [&s.markdown, &s.plain, &s.mrkdwn_sections.join("\n")] {
        assert!(!text.contains("4111 1111"), "{text}");
        assert!(text.contains("••••1111"), "{text}");
        assert!(!text.contains("c@x.org"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[test]
fn markup_in_customer_text_is_escaped() {
    let mut c = case();
    c.transcript[0].text = "<b>hi</b> *x* & y".into();
    let s = render_default(&c);
    assert!(
        s.markdown.contains("\\<b\\>hi\\</b\\> \\*x\\*"),
        "{}",
        s.markdown
    );
    assert!(s.mrkdwn_sections[1].contains("&lt;b&gt;hi&lt;/b&gt; *x* &amp; y"));
}

#[test]
fn buttons_only_while_open_and_transfer_lists_other_teams() {
    let s = render_default(&case());
    let actions: Vec<_> = s.buttons.iter().map(|b| b.action.as_str()).collect();
    assert_eq!(actions, ["claim", "resolve", "transfer"]);
    assert_eq!(
        s.buttons[2].options,
        vec![("tech".to_string(), "tech".to_string())]
    );
    let mut c = case();
    c.state = CaseState::Resolved { by: "Alice".into() };
    let s = render_default(&c);
    assert!(s.buttons.is_empty());
    assert!(s.markdown.contains("Resolved by Alice"));
    assert!(!s.markdown.contains("Commands"));
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
        })
        .collect();
    let s = render_default(&c);
    assert!(s.markdown.contains("message 29"));
    assert!(s.markdown.contains("message 20"));
    assert!(!s.markdown.contains("message 19"));
}

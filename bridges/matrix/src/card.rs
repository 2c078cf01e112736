//! The case summary card as Matrix HTML: a heading, the state, the facts
//! as a list, the latest turns as a quote, the note count and the desk
//! commands. Pure; `case` posts and edits it.
//!
//! Invariant: every string of the card is escaped before it enters HTML,
//! so nothing a customer wrote is ever interpreted as markup.

use handoff_bridge_api::CaseSummary;

use crate::format::escape_html;

/// The `formatted_body` of the summary message.
pub fn html(card: &CaseSummary) -> String {
    let e = |s: &str| escape_html(s).replace('\n', "<br>");
    let mut h = format!(
        "<h3>{}</h3>\n<p><strong>State:</strong> {}</p>\n<ul>\n",
        e(&card.title),
        e(&card.state_line())
    );
    for f in &card.fields {
        h.push_str(&format!(
            "<li><strong>{}:</strong> {}</li>\n",
            e(&f.label),
            e(&f.value)
        ));
    }
    h.push_str("</ul>\n<p><strong>Conversation so far</strong></p>\n");
    if card.turns.is_empty() {
        h.push_str("<p><em>(nothing said yet)</em></p>\n");
    } else {
        let lines: Vec<String> = card
            .turns
            .iter()
            .map(|t| format!("<strong>{}</strong> {} {}", e(&t.who), e(&t.at), e(&t.text)))
            .collect();
        h.push_str(&format!(
            "<blockquote>{}</blockquote>\n",
            lines.join("<br>\n")
        ));
    }
    if card.notes > 0 {
        h.push_str(&format!(
            "<p><em>{} internal note(s) in this case.</em></p>\n",
            card.notes
        ));
    }
    if !card.commands.is_empty() {
        let cmds: Vec<String> = card
            .commands
            .iter()
            .map(|c| format!("<code>{}</code>", e(c)))
            .collect();
        h.push_str(&format!("<p>Commands: {}</p>\n", cmds.join(" · ")));
    }
    h
}

#[cfg(test)]
mod tests {
    use handoff_bridge_api::{CardTurn, CaseStatus};

    use super::*;

    fn card() -> CaseSummary {
        let mut c = CaseSummary::new("Case #1 · <tech>", CaseStatus::Waiting, "Waiting")
            .field("Customer", "Bo & co\nline two");
        c.turns.push(CardTurn {
            who: "Bo".into(),
            at: "10:00".into(),
            text: "<script>alert(1)</script> *x*".into(),
        });
        c.notes = 1;
        c.commands = vec!["!claim".into()];
        c
    }

    #[test]
    fn every_part_is_shown_and_escaped() {
        let h = html(&card());
        for want in [
            "<h3>Case #1 · &lt;tech&gt;</h3>",
            "<strong>State:</strong> 🟡 Waiting",
            "<li><strong>Customer:</strong> Bo &amp; co<br>line two</li>",
            "<strong>Bo</strong> 10:00 &lt;script&gt;alert(1)&lt;/script&gt; *x*",
            "1 internal note(s)",
            "<code>!claim</code>",
        ] {
            assert!(h.contains(want), "missing {want:?} in\n{h}");
        }
        assert!(!h.contains("<script>"));
    }

    #[test]
    fn a_closed_card_has_no_commands_and_says_when_empty() {
        let c = CaseSummary::new("Case #2", CaseStatus::Resolved, "Resolved by Al");
        let h = html(&c);
        assert!(h.contains("✅ Resolved by Al"));
        assert!(h.contains("(nothing said yet)"));
        assert!(!h.contains("Commands"));
    }
}

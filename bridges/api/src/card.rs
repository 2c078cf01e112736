//! The case summary card as data: title, state, labelled facts, the latest
//! turns of the conversation, how many internal notes exist, the commands
//! agents may type and the actions offered as buttons.
//!
//! The core fills it with plain text (already masked for PII); each bridge
//! renders it to its own markup (HTML on Matrix, Block Kit on Slack, ...)
//! and escapes every string for that markup. Nothing here is markup, so a
//! new network needs no knowledge of the others' syntax. [`CaseSummary::plain`]
//! is the plain-text rendering every network can use as a fallback.
//!
//! Stored outbox entries written before the card existed (a title plus
//! pre-rendered Markdown, mrkdwn and plain text) still deserialize: they
//! become a card whose one fact is the old plain text.

use serde::{Deserialize, Serialize};

/// The context card of a case, posted first on the desk and kept up to date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "wire::AnySummary")]
pub struct CaseSummary {
    /// Short title, e.g. "Case #42 · billing · Alice".
    pub title: String,
    /// Where the case stands.
    pub state: CardState,
    /// Labelled facts, in display order ("Customer", "Why handed over", ...).
    pub fields: Vec<CardField>,
    /// The latest turns of the conversation, oldest first.
    pub turns: Vec<CardTurn>,
    /// How many internal notes the case holds (never shown on the card).
    pub notes: u32,
    /// Commands agents may type on the desk while the case is open
    /// (e.g. "!claim", "!note <text>"); empty once it is closed.
    pub commands: Vec<String>,
    /// Actions offered as buttons where the network has them.
    pub buttons: Vec<Button>,
}

/// Where a case stands: a status bridges may style, and its wording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardState {
    pub status: CaseStatus,
    /// E.g. "Assigned to Alice".
    pub text: String,
}

/// The status of a case on its card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Waiting,
    Assigned,
    Resolved,
    Abandoned,
}

impl CaseStatus {
    /// A coloured symbol for the status, for networks that show emoji.
    pub fn symbol(self) -> &'static str {
        match self {
            CaseStatus::Waiting => "🟡",
            CaseStatus::Assigned => "🟢",
            CaseStatus::Resolved => "✅",
            CaseStatus::Abandoned => "⚪",
        }
    }

    /// Whether agents can still act on the case.
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::Waiting | CaseStatus::Assigned)
    }
}

/// One labelled fact of the card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardField {
    pub label: String,
    pub value: String,
}

/// One turn of the conversation as the card shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardTurn {
    /// Who spoke, e.g. "Alice" or "Handoff (FAQ refund, 82% sure)".
    pub who: String,
    /// When, as the team reads clocks ("14:02").
    pub at: String,
    pub text: String,
}

/// A button on the summary card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// Stable action id, e.g. "claim", "resolve", "transfer".
    pub action: String,
    pub label: String,
    /// For menus: `(value, label)` options; empty for a plain button.
    #[serde(default)]
    pub options: Vec<(String, String)>,
}

impl CaseSummary {
    /// A card with a title and state and nothing else (tests, placeholders).
    pub fn new(title: impl Into<String>, status: CaseStatus, state: impl Into<String>) -> Self {
        CaseSummary {
            title: title.into(),
            state: CardState {
                status,
                text: state.into(),
            },
            fields: Vec::new(),
            turns: Vec::new(),
            notes: 0,
            commands: Vec::new(),
            buttons: Vec::new(),
        }
    }

    /// Adds a labelled fact.
    pub fn field(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push(CardField {
            label: label.into(),
            value: value.into(),
        });
        self
    }

    /// The state line: symbol and wording ("🟢 Assigned to Alice").
    pub fn state_line(&self) -> String {
        if self.state.text.is_empty() {
            self.state.status.symbol().to_string()
        } else {
            format!("{} {}", self.state.status.symbol(), self.state.text)
        }
    }

    /// The card as plain text: for notifications, fallbacks and networks
    /// without markup.
    pub fn plain(&self) -> String {
        let mut s = format!("{}\nState: {}\n", self.title, self.state_line());
        for f in &self.fields {
            s.push_str(&format!("{}: {}\n", f.label, f.value));
        }
        if !self.turns.is_empty() {
            s.push_str("Conversation so far:\n");
        }
        for t in &self.turns {
            s.push_str(&format!("  {} {}: {}\n", t.at, t.who, t.text));
        }
        if self.notes > 0 {
            s.push_str(&format!("{} internal note(s) in this case.\n", self.notes));
        }
        if !self.commands.is_empty() {
            s.push_str(&format!("Commands: {}\n", self.commands.join(" · ")));
        }
        s
    }
}

/// What a stored summary may look like: the card, or the pre-rendered
/// markup of format version 1.
mod wire {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum AnySummary {
        Card(Card),
        Markup(Markup),
    }

    #[derive(Deserialize)]
    pub struct Card {
        title: String,
        state: CardState,
        #[serde(default)]
        fields: Vec<CardField>,
        #[serde(default)]
        turns: Vec<CardTurn>,
        #[serde(default)]
        notes: u32,
        #[serde(default)]
        commands: Vec<String>,
        #[serde(default)]
        buttons: Vec<Button>,
    }

    /// Version 1: `{title, markdown, mrkdwn_sections, plain, buttons}`.
    #[derive(Deserialize)]
    pub struct Markup {
        title: String,
        #[serde(default)]
        plain: String,
        #[serde(default)]
        buttons: Vec<Button>,
    }

    impl From<AnySummary> for CaseSummary {
        fn from(any: AnySummary) -> Self {
            match any {
                AnySummary::Card(c) => CaseSummary {
                    title: c.title,
                    state: c.state,
                    fields: c.fields,
                    turns: c.turns,
                    notes: c.notes,
                    commands: c.commands,
                    buttons: c.buttons,
                },
                // The old card kept its state inside the text; buttons were
                // offered only while the case was open.
                AnySummary::Markup(m) => {
                    let status = if m.buttons.is_empty() {
                        CaseStatus::Resolved
                    } else {
                        CaseStatus::Waiting
                    };
                    let mut card = CaseSummary::new(m.title, status, "");
                    if !m.plain.trim().is_empty() {
                        card = card.field("Summary", m.plain.trim());
                    }
                    card.buttons = m.buttons;
                    card
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> CaseSummary {
        let mut c = CaseSummary::new(
            "Case #7 · tech · Bo",
            CaseStatus::Assigned,
            "Assigned to Al",
        )
        .field("Customer", "Bo <b>");
        c.turns.push(CardTurn {
            who: "Bo".into(),
            at: "14:02".into(),
            text: "it broke".into(),
        });
        c.notes = 2;
        c.commands = vec!["!claim".into(), "!resolve".into()];
        c
    }

    #[test]
    fn round_trips_through_json() {
        let c = card();
        let json = serde_json::to_string(&c).unwrap();
        let back: CaseSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn plain_has_every_part() {
        let p = card().plain();
        for part in [
            "Case #7 · tech · Bo",
            "State: 🟢 Assigned to Al",
            "Customer: Bo <b>",
            "14:02 Bo: it broke",
            "2 internal note(s)",
            "Commands: !claim · !resolve",
        ] {
            assert!(p.contains(part), "{part:?} missing from {p}");
        }
    }

    #[test]
    fn version_1_markup_is_read_as_a_card() {
        let v1 = r#"{"title":"Case #3","markdown":"**x**","mrkdwn_sections":["*x*"],
                     "plain":"Case #3\nState: waiting","buttons":[{"action":"claim","label":"Claim"}]}"#;
        let c: CaseSummary = serde_json::from_str(v1).unwrap();
        assert_eq!(c.title, "Case #3");
        assert_eq!(c.state.status, CaseStatus::Waiting);
        assert_eq!(c.fields[0].value, "Case #3\nState: waiting");
        assert_eq!(c.buttons[0].action, "claim");
    }

    #[test]
    fn a_card_without_state_or_title_is_an_error() {
        assert!(serde_json::from_str::<CaseSummary>(r#"{"fields":[]}"#).is_err());
    }
}

//! Block Kit for what the bot posts: the case summary card (header,
//! sections, Claim/Resolve buttons, a Transfer select) and plain message
//! bodies as sections, each carrying an idempotency marker.
//!
//! Not for posting (`outbound`). The invariant: every bot message's first
//! block has `block_id` = [`marker`] of its Outgoing key, which Slack keeps,
//! so a message can be found again after a crash; Slack's limits (50
//! blocks, 3000 chars per section, 150 per header) are respected.

use handoff_bridge_api::{Button, CaseSummary};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::slackify::escape;

const MAX_BLOCKS: usize = 50;
const MAX_SECTION: usize = 3000;
const MAX_HEADER: usize = 150;
const MAX_OPTIONS: usize = 100;
const MAX_LABEL: usize = 75;

/// The `block_id` that marks the message posted for an Outgoing key.
pub fn marker(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("ho-{}", &hex::encode(digest)[..32])
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits text into pieces of at most `max` chars, preferring line breaks.
fn chunks(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.chars().count() + line.chars().count() > max && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if line.chars().count() > max {
            let chars: Vec<char> = line.chars().collect();
            for piece in chars.chunks(max) {
                out.push(piece.iter().collect());
            }
        } else {
            current.push_str(line);
        }
    }
    if !current.is_empty() || out.is_empty() {
        out.push(current);
    }
    out
}

/// A message body as section blocks; the first carries the marker.
pub fn text_blocks(mrkdwn: &str, marker: &str) -> Value {
    let mut blocks: Vec<Value> = chunks(mrkdwn, MAX_SECTION)
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .take(MAX_BLOCKS)
        .map(|c| json!({"type": "section", "text": {"type": "mrkdwn", "text": c}}))
        .collect();
    if blocks.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "plain_text", "text": " "}}));
    }
    blocks[0]["block_id"] = json!(marker);
    Value::Array(blocks)
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": truncate(text, max), "emoji": true})
}

fn element(button: &Button) -> Value {
    if button.options.is_empty() {
        let mut b = json!({
            "type": "button",
            "action_id": button.action,
            "value": button.action,
            "text": plain(&button.label, MAX_LABEL),
        });
        match button.action.as_str() {
            "claim" => b["style"] = json!("primary"),
            "resolve" => b["style"] = json!("danger"),
            _ => {}
        }
        return b;
    }
    let options: Vec<Value> = button
        .options
        .iter()
        .take(MAX_OPTIONS)
        .map(|(value, label)| json!({"text": plain(label, MAX_LABEL), "value": value}))
        .collect();
    json!({
        "type": "static_select",
        "action_id": button.action,
        "placeholder": plain(&button.label, MAX_LABEL),
        "options": options,
    })
}

/// The card's text as mrkdwn sections: state and facts, the conversation,
/// and a footer with the note count and commands. Every string from the
/// card is escaped, so nothing a customer wrote becomes a mention or link.
fn card_sections(card: &CaseSummary) -> Vec<String> {
    let mut head = format!("*State:* {}", escape(&card.state_line()));
    for f in &card.fields {
        head.push_str(&format!("\n*{}:* {}", escape(&f.label), escape(&f.value)));
    }
    let mut talk = String::from("*Conversation so far*");
    if card.turns.is_empty() {
        talk.push_str("\n_(nothing said yet)_");
    }
    for t in &card.turns {
        talk.push_str(&format!(
            "\n>*{}* {} {}",
            escape(&t.who),
            escape(&t.at),
            escape(&t.text).replace('\n', "\n>")
        ));
    }
    let mut sections = vec![head, talk];
    let mut foot = Vec::new();
    if card.notes > 0 {
        foot.push(format!("_{} internal note(s)._", card.notes));
    }
    if !card.commands.is_empty() {
        let cmds: Vec<String> = card
            .commands
            .iter()
            .map(|c| format!("`{}`", escape(c)))
            .collect();
        foot.push(format!("Commands in this thread: {}", cmds.join(" · ")));
    }
    if !foot.is_empty() {
        sections.push(foot.join(" "));
    }
    sections
}

/// The summary card: header, its mrkdwn sections, and the buttons (menus
/// for buttons with options) in one actions block.
pub fn summary_blocks(summary: &CaseSummary, marker: &str) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "block_id": marker,
        "text": plain(&summary.title, MAX_HEADER),
    })];
    let room = MAX_BLOCKS - 2;
    for section in card_sections(summary) {
        for piece in chunks(&section, MAX_SECTION) {
            if blocks.len() <= room {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": piece}}));
            }
        }
    }
    let elements: Vec<Value> = summary.buttons.iter().take(25).map(element).collect();
    if !elements.is_empty() {
        blocks
            .push(json!({"type": "actions", "block_id": "handoff-actions", "elements": elements}));
    }
    Value::Array(blocks)
}

#[cfg(test)]
mod tests {
    use handoff_bridge_api::{CardTurn, CaseStatus};

    use super::*;

    fn summary() -> CaseSummary {
        let mut c = CaseSummary::new("Case #42 · billing · Alice", CaseStatus::Waiting, "Waiting")
            .field("Customer", "Alice <!channel> & co");
        c.turns.push(CardTurn {
            who: "Alice".into(),
            at: "10:00".into(),
            text: "<https://evil|click> *x*\nsecond".into(),
        });
        c.commands = vec!["!claim".into()];
        c.buttons = vec![
            Button {
                action: "claim".into(),
                label: "Claim".into(),
                options: vec![],
            },
            Button {
                action: "transfer".into(),
                label: "Transfer".into(),
                options: vec![("tech".into(), "Tech".into())],
            },
        ];
        c
    }

    #[test]
    fn summary_has_header_sections_and_actions() {
        let b = summary_blocks(&summary(), "ho-1");
        let b = b.as_array().unwrap();
        assert_eq!(b.len(), 5);
        assert_eq!(b[0]["type"], "header");
        assert_eq!(b[0]["block_id"], "ho-1");
        assert_eq!(
            b[1]["text"]["text"],
            "*State:* 🟡 Waiting\n*Customer:* Alice &lt;!channel&gt; &amp; co"
        );
        assert_eq!(
            b[2]["text"]["text"],
            "*Conversation so far*\n>*Alice* 10:00 &lt;https://evil|click&gt; *x*\n>second"
        );
        assert_eq!(b[3]["text"]["text"], "Commands in this thread: `!claim`");
        assert_eq!(b[4]["elements"][0]["type"], "button");
        assert_eq!(b[4]["elements"][0]["action_id"], "claim");
        assert_eq!(b[4]["elements"][1]["type"], "static_select");
        assert_eq!(b[4]["elements"][1]["options"][0]["value"], "tech");
    }

    #[test]
    fn long_text_is_split_and_marked() {
        let long = "x".repeat(7000);
        let b = text_blocks(&long, "ho-2");
        assert_eq!(b.as_array().unwrap().len(), 3);
        assert_eq!(b[0]["block_id"], "ho-2");
        assert!(b[1].get("block_id").is_none());
        assert_eq!(text_blocks("", "m")[0]["block_id"], "m");
    }

    #[test]
    fn markers_are_stable_and_distinct() {
        assert_eq!(marker("a"), marker("a"));
        assert_ne!(marker("a"), marker("b"));
        assert!(marker("a").len() < 255);
        assert!(marker("a").starts_with("ho-"));
    }
}

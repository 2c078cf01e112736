//! The clarifying step: when the matcher is unsure between a few FAQ
//! entries, the bot asks "Did you mean: 1. … 2. … 3. talk to a person?"
//! and reads the customer's next message as the answer.
//!
//! Pure text work: rendering the question (numbered in the text, and as
//! buttons for networks that offer customers buttons: pressing one sends
//! the text it shows, read back like a typed reply) and parsing the reply ("2", an entry's title or id, "person", or anything
//! else, which is a new question). The engine keeps the offer in
//! [`crate::case::Conversation::clarifying`] and acts on the reply.

use handoff_bridge_api::Choice;

use crate::config::Messages;
use crate::escalation::normalize;
use crate::faq::Faq;

/// What the customer's message says about the offered choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The choice at this index (0-based).
    Choice(usize),
    /// None of them: a person, please.
    Decline,
    /// Not an answer to the question: a new question.
    Other,
}

/// Words that turn down every offered entry (besides the last number).
const DECLINE: &[&str] = &[
    "person",
    "a person",
    "talk to a person",
    "human",
    "none",
    "none of these",
    "none of them",
    "none of the above",
    "neither",
    "no",
    "nope",
];

/// Reads `text` as an answer to choices titled `titles` (with ids `ids`),
/// the last option being "talk to a person".
pub fn parse_reply(text: &str, titles: &[&str], ids: &[&str], messages: &Messages) -> Reply {
    let said = normalize(text);
    let said = said.trim();
    let bare = said
        .trim_start_matches("number ")
        .trim_start_matches("option ");
    if let Ok(n) = bare.parse::<usize>() {
        return match n {
            n if (1..=titles.len()).contains(&n) => Reply::Choice(n - 1),
            n if n == titles.len() + 1 => Reply::Decline,
            _ => Reply::Other,
        };
    }
    if DECLINE.contains(&said) || said == normalize(&messages.clarify_person).trim() {
        return Reply::Decline;
    }
    let same = |x: &str| normalize(x).trim() == said;
    match titles.iter().position(|t| same(t)) {
        Some(i) => Reply::Choice(i),
        None => ids
            .iter()
            .position(|id| same(id))
            .map_or(Reply::Other, Reply::Choice),
    }
}

/// How an entry is named in a choice: its first question, as the admin
/// wrote it, with a capital letter.
pub fn title(first_question: &str) -> String {
    let q = first_question.trim();
    let mut chars = q.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How the entry `id` of `faq` is named in a choice: [`title`] of its
/// first question, or the id itself when it has none (or is gone).
pub fn title_of(faq: &Faq, id: &str) -> String {
    faq.entry(id)
        .and_then(|e| e.questions.first())
        .map(|q| title(q))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| id.to_string())
}

/// The question as sent to the customer (one choice per line) and as kept
/// in the transcript (one line, for the case summary).
pub fn render(titles: &[String], m: &Messages) -> (String, String) {
    let person = titles.len() + 1;
    let mut sent = m.clarify.clone();
    let mut line = m.clarify.clone();
    for (i, t) in titles.iter().enumerate() {
        sent.push_str(&format!("\n{}. {t}", i + 1));
        line.push_str(&format!(" {}. {t}", i + 1));
    }
    sent.push_str(&format!("\n{person}. {}", m.clarify_person));
    line.push_str(&format!(" {person}. {}", m.clarify_person));
    if !m.clarify_hint.trim().is_empty() {
        sent.push_str(&format!("\n{}", m.clarify_hint));
    }
    (sent, line)
}

/// The same offer as buttons: each entry's title (pressing it sends the
/// title, which [`parse_reply`] reads as that choice), then the person.
pub fn choices(titles: &[String], m: &Messages) -> Vec<Choice> {
    titles
        .iter()
        .chain(std::iter::once(&m.clarify_person))
        .map(|t| Choice {
            label: t.clone(),
            reply: t.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_reads_back_as_its_choice() {
        let m = Messages::default();
        let titles = vec![
            "How do I reset my password".to_string(),
            "Where can I find my invoice".to_string(),
        ];
        let buttons = choices(&titles, &m);
        assert_eq!(buttons.len(), 3);
        let t: Vec<&str> = titles.iter().map(String::as_str).collect();
        let ids = ["reset_password", "invoice_copy"];
        assert_eq!(
            parse_reply(&buttons[0].reply, &t, &ids, &m),
            Reply::Choice(0)
        );
        assert_eq!(
            parse_reply(&buttons[1].reply, &t, &ids, &m),
            Reply::Choice(1)
        );
        assert_eq!(parse_reply(&buttons[2].reply, &t, &ids, &m), Reply::Decline);
        assert_eq!(buttons[2].label, m.clarify_person);
    }

    #[test]
    fn replies() {
        let m = Messages::default();
        let titles = ["How do I reset my password", "Where can I find my invoice"];
        let ids = ["reset_password", "invoice_copy"];
        let table: &[(&str, Reply)] = &[
            ("1", Reply::Choice(0)),
            (" 2. ", Reply::Choice(1)),
            ("number 2", Reply::Choice(1)),
            ("3", Reply::Decline),
            ("4", Reply::Other),
            ("0", Reply::Other),
            ("person", Reply::Decline),
            ("None of these!", Reply::Decline),
            ("no", Reply::Decline),
            ("None of these: talk to a person", Reply::Decline),
            ("where can I find my invoice?", Reply::Choice(1)),
            ("invoice_copy", Reply::Choice(1)),
            ("my invoice is wrong", Reply::Other),
            ("how long does shipping take", Reply::Other),
            ("", Reply::Other),
        ];
        for (text, want) in table {
            assert_eq!(parse_reply(text, &titles, &ids, &m), *want, "{text:?}");
        }
    }

    #[test]
    fn rendering() {
        let m = Messages::default();
        let titles = vec![title("how do i reset my password"), title("reset link")];
        assert_eq!(titles[0], "How do i reset my password");
        let (sent, line) = render(&titles, &m);
        assert_eq!(
            sent,
            format!(
                "{}\n1. How do i reset my password\n2. Reset link\n3. {}\n{}",
                m.clarify, m.clarify_person, m.clarify_hint
            )
        );
        assert!(!line.contains('\n'));
        assert!(line.contains("2. Reset link 3. "), "{line}");
    }
}

//! When the bot hands a customer to a human, and why.
//!
//! [`Rules::check`] looks at one customer message (its text, the sender, what
//! the FAQ matcher made of it, and the misses so far) and returns the
//! [`EscalationReason`] of the first rule that fires, or `None` when the bot
//! may keep going. It is pure: no clock, no store, no network.
//!
//! Phrases match whole words, case- and punctuation-insensitively, so
//! "agent" fires on "Agent, please!" and "agents" but not on "agenda".

use std::collections::HashSet;

use crate::case::{EscalationReason, FaqHit};
use crate::config::EscalationConfig;

/// What the rules look at for one customer message.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    pub text: &'a str,
    pub sender: &'a str,
    /// The best FAQ match, whether confident enough to answer or not.
    pub best: Option<&'a FaqHit>,
    /// True when the bot is confident enough to answer with `best`.
    pub answerable: bool,
    /// True when `best` is an `escalate = true` entry.
    pub best_escalates: bool,
    /// Misses in a row before this message.
    pub misses_before: u32,
    /// The bot's previous answer, if the last bot turn was one.
    pub last_answer: Option<&'a FaqHit>,
}

/// The escalation rules of one config, prepared for matching.
#[derive(Debug, Clone)]
pub struct Rules {
    ask: Vec<String>,
    topics: Vec<String>,
    anger: Vec<String>,
    reject: Vec<String>,
    vip: HashSet<String>,
    max_misses: u32,
}

impl Rules {
    pub fn new(cfg: &EscalationConfig) -> Rules {
        let norm = |xs: &[String]| -> Vec<String> {
            xs.iter()
                .map(|p| normalize(p))
                .filter(|p| !p.trim().is_empty())
                .collect()
        };
        Rules {
            ask: norm(&cfg.ask_phrases),
            topics: norm(&cfg.human_topics),
            anger: norm(&cfg.anger_words),
            reject: norm(&cfg.reject_phrases),
            vip: cfg.vip.iter().cloned().collect(),
            max_misses: cfg.max_misses,
        }
    }

    /// The reason to hand over now, if any. Rules are tried in this order:
    /// VIP, explicit request, anger, human-only topic, answer rejected,
    /// `escalate = true` FAQ entry, too many misses.
    pub fn check(&self, t: &Turn<'_>) -> Option<EscalationReason> {
        let text = normalize(t.text);
        if self.vip.contains(t.sender) {
            return Some(EscalationReason::Vip);
        }
        if let Some(p) = find_phrase(&text, &self.ask) {
            return Some(EscalationReason::AskedForHuman { phrase: p });
        }
        if let Some(w) = find_phrase(&text, &self.anger) {
            return Some(EscalationReason::Anger { word: w });
        }
        if is_shouting(t.text) {
            return Some(EscalationReason::Anger {
                word: "shouting".into(),
            });
        }
        if let Some(topic) = find_phrase(&text, &self.topics) {
            return Some(EscalationReason::HumanTopic { topic });
        }
        if t.last_answer.is_some() && find_phrase(&text, &self.reject).is_some() {
            return Some(EscalationReason::AnswerRejected {
                faq_id: t.last_answer.map(|a| a.id.clone()),
            });
        }
        if t.answerable && t.best_escalates {
            if let Some(hit) = t.best {
                return Some(EscalationReason::FaqEscalate {
                    faq_id: hit.id.clone(),
                });
            }
        }
        let misses = t.misses_before + u32::from(!t.answerable);
        if !t.answerable && self.max_misses > 0 && misses >= self.max_misses {
            return Some(EscalationReason::RepeatedMisses { count: misses });
        }
        None
    }

    /// The first configured human-only topic mentioned in `text`, used by
    /// routing to pick the team that owns it.
    pub fn topic_in(&self, text: &str) -> Option<String> {
        find_phrase(&normalize(text), &self.topics)
    }
}

/// Lowercase words separated by single spaces, with a space at both ends,
/// apostrophes unified and other punctuation dropped.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut space = true;
    for c in text.chars() {
        let c = if c == '\u{2019}' || c == '`' { '\'' } else { c };
        if c.is_alphanumeric() || c == '\'' {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if !space {
        out.push(' ');
    }
    out
}

/// The first phrase of `phrases` (normalized) occurring as whole words in
/// `text` (normalized), also with a plural "s". Returns it without padding.
fn find_phrase(text: &str, phrases: &[String]) -> Option<String> {
    phrases
        .iter()
        .find(|p| {
            let core = p.trim_end();
            text.contains(p.as_str()) || text.contains(&format!("{core}s "))
        })
        .map(|p| p.trim().to_string())
}

/// Mostly capital letters over several words, with an exclamation mark.
fn is_shouting(text: &str) -> bool {
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count();
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    words >= 4 && text.contains('!') && upper * 10 >= letters.len() * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::new(&EscalationConfig {
            human_topics: vec!["Refund".into(), "cancel my account".into()],
            vip: vec!["@ceo:x".into()],
            max_misses: 2,
            ..EscalationConfig::default()
        })
    }

    fn turn(text: &str) -> Turn<'_> {
        Turn {
            text,
            sender: "@c:x",
            best: None,
            answerable: true,
            best_escalates: false,
            misses_before: 0,
            last_answer: None,
        }
    }

    #[test]
    fn asking_for_a_person() {
        let r = rules();
        for text in [
            "I want a HUMAN!",
            "agent please",
            "can I talk to a person?",
            "Any agents around",
        ] {
            assert!(
                matches!(
                    r.check(&turn(text)),
                    Some(EscalationReason::AskedForHuman { .. })
                ),
                "{text}"
            );
        }
        assert_eq!(r.check(&turn("what's on the agenda")), None);
        assert_eq!(r.check(&turn("humane society opening hours")), None);
    }

    #[test]
    fn misses_in_a_row() {
        let r = rules();
        let mut t = turn("blorp");
        t.answerable = false;
        assert_eq!(r.check(&t), None, "first miss");
        t.misses_before = 1;
        assert_eq!(
            r.check(&t),
            Some(EscalationReason::RepeatedMisses { count: 2 })
        );
        t.answerable = true;
        assert_eq!(r.check(&t), None, "an answer resets the count");
    }

    #[test]
    fn zero_max_misses_never_escalates_on_misses() {
        let cfg = EscalationConfig {
            max_misses: 0,
            ..EscalationConfig::default()
        };
        let mut t = turn("blorp");
        t.answerable = false;
        t.misses_before = 10;
        assert_eq!(Rules::new(&cfg).check(&t), None);
    }

    #[test]
    fn human_topics() {
        let r = rules();
        assert_eq!(
            r.check(&turn("I need a refund for order 5")),
            Some(EscalationReason::HumanTopic {
                topic: "refund".into()
            })
        );
        assert!(r.check(&turn("please cancel my account now")).is_some());
        assert_eq!(r.topic_in("refunds?"), Some("refund".into()));
        assert_eq!(r.check(&turn("cancel my order")), None);
    }

    #[test]
    fn anger_words_and_shouting() {
        let r = rules();
        assert_eq!(
            r.check(&turn("this is ridiculous")),
            Some(EscalationReason::Anger {
                word: "ridiculous".into()
            })
        );
        assert_eq!(
            r.check(&turn("WHY IS MY ORDER NOT HERE YET!")),
            Some(EscalationReason::Anger {
                word: "shouting".into()
            })
        );
        assert_eq!(r.check(&turn("I LOVE IT")), None, "no exclamation, short");
        assert_eq!(r.check(&turn("Is the API up?")), None);
    }

    #[test]
    fn vip_senders() {
        let r = rules();
        let mut t = turn("hello");
        t.sender = "@ceo:x";
        assert_eq!(r.check(&t), Some(EscalationReason::Vip));
    }

    #[test]
    fn rejected_answer_needs_a_previous_answer() {
        let r = rules();
        let last = FaqHit {
            id: "shipping".into(),
            confidence: 0.9,
        };
        let mut t = turn("that didn’t help at all");
        assert_eq!(r.check(&t), None, "nothing was answered yet");
        t.last_answer = Some(&last);
        assert_eq!(
            r.check(&t),
            Some(EscalationReason::AnswerRejected {
                faq_id: Some("shipping".into())
            })
        );
    }

    #[test]
    fn escalate_entries_fire_only_when_matched_confidently() {
        let r = rules();
        let hit = FaqHit {
            id: "talk_to_human".into(),
            confidence: 0.9,
        };
        let mut t = turn("could someone look at this");
        t.best = Some(&hit);
        t.best_escalates = true;
        assert_eq!(
            r.check(&t),
            Some(EscalationReason::FaqEscalate {
                faq_id: "talk_to_human".into()
            })
        );
        t.answerable = false;
        assert_eq!(r.check(&t), None);
    }

    #[test]
    fn normalize_words() {
        assert_eq!(normalize("Hello,   World!!"), " hello world ");
        assert_eq!(normalize("didn’t"), " didn't ");
        assert_eq!(normalize(""), " ");
    }
}

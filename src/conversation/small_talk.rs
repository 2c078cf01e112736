//! Small talk: greetings, thanks, goodbyes and "ok" that the bot answers
//! politely instead of looking them up in the FAQ.
//!
//! A message is small talk only when the whole of it, normalised like the
//! escalation phrases (case, punctuation and emoji dropped), is one of the
//! `[small_talk]` phrases: "thanks!" is, "thanks, but my card is still
//! blocked" is a question. Owns only the recognition; the engine decides
//! when to answer (never while a human owns the case) and what to say.

use std::collections::HashMap;

use crate::config::{Messages, SmallTalkConfig};
use crate::escalation::normalize;

/// What kind of small talk a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmallTalk {
    Greeting,
    Thanks,
    Goodbye,
    Acknowledgement,
}

impl SmallTalk {
    /// The configured reply to this kind.
    pub fn reply<'a>(&self, m: &'a Messages) -> &'a str {
        match self {
            SmallTalk::Greeting => &m.greeting,
            SmallTalk::Thanks => &m.thanks,
            SmallTalk::Goodbye => &m.goodbye,
            SmallTalk::Acknowledgement => &m.acknowledgement,
        }
    }
}

/// The phrases of one config, normalised for whole-message lookup.
#[derive(Debug, Clone, Default)]
pub struct SmallTalkPhrases {
    phrases: HashMap<String, SmallTalk>,
}

impl SmallTalkPhrases {
    pub fn new(cfg: &SmallTalkConfig) -> SmallTalkPhrases {
        let mut phrases = HashMap::new();
        let lists = [
            (&cfg.greetings, SmallTalk::Greeting),
            (&cfg.thanks, SmallTalk::Thanks),
            (&cfg.goodbyes, SmallTalk::Goodbye),
            (&cfg.acknowledgements, SmallTalk::Acknowledgement),
        ];
        for (list, kind) in lists {
            for p in list {
                let key = normalize(p).trim().to_string();
                if !key.is_empty() {
                    // The first list naming a phrase decides its kind.
                    phrases.entry(key).or_insert(kind);
                }
            }
        }
        SmallTalkPhrases { phrases }
    }

    /// The kind of small talk `text` is, if all of it is a phrase.
    pub fn classify(&self, text: &str) -> Option<SmallTalk> {
        let key = normalize(text);
        self.phrases.get(key.trim()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_messages_only() {
        let p = SmallTalkPhrases::new(&SmallTalkConfig::default());
        let table: &[(&str, Option<SmallTalk>)] = &[
            ("thanks", Some(SmallTalk::Thanks)),
            ("Thank you!!", Some(SmallTalk::Thanks)),
            ("  thank   you 🙏 ", Some(SmallTalk::Thanks)),
            ("Hello", Some(SmallTalk::Greeting)),
            ("hi there :)", Some(SmallTalk::Greeting)),
            ("Bye!", Some(SmallTalk::Goodbye)),
            ("ok", Some(SmallTalk::Acknowledgement)),
            ("OK.", Some(SmallTalk::Acknowledgement)),
            ("great", Some(SmallTalk::Acknowledgement)),
            // A question that starts or ends with small talk is a question.
            ("hi, how do I reset my password?", None),
            ("thanks but my card is still blocked", None),
            ("ok so where is my order", None),
            ("thinking", None),
            ("", None),
            ("👍", None),
        ];
        for (text, want) in table {
            assert_eq!(p.classify(text), *want, "{text:?}");
        }
    }

    #[test]
    fn phrases_are_configurable() {
        let cfg = SmallTalkConfig {
            greetings: vec!["Moin!".into()],
            thanks: vec!["danke".into(), "".into()],
            goodbyes: Vec::new(),
            acknowledgements: vec!["danke".into()],
        };
        let p = SmallTalkPhrases::new(&cfg);
        assert_eq!(p.classify("moin"), Some(SmallTalk::Greeting));
        // Listed twice: the first list wins.
        assert_eq!(p.classify("Danke."), Some(SmallTalk::Thanks));
        // The defaults are replaced, not extended; empty phrases are dropped.
        assert_eq!(p.classify("hello"), None);
        assert_eq!(p.classify(""), None);
    }
}

//! Masking personal data (card numbers, e-mail addresses, phone numbers and
//! admin-configured patterns) in text shown on the agents' desk.
//!
//! Masking is for the summary card and exports; relayed messages stay as
//! the customer wrote them (the agent needs them to help). Card numbers are
//! only masked when they pass the Luhn check, so order numbers and dates
//! survive; the last four digits stay visible because agents use them to
//! tell cards apart.

use std::borrow::Cow;

use regex::Regex;

use crate::config::PrivacyConfig;

/// Applies the configured masks to text.
#[derive(Debug, Clone)]
pub struct Masker {
    card: Option<Regex>,
    email: Option<Regex>,
    phone: Option<Regex>,
    extra: Vec<Regex>,
}

impl Masker {
    /// Builds the masks named in `cfg`. Unknown names and invalid regular
    /// expressions are errors that say which.
    pub fn new(cfg: &PrivacyConfig) -> Result<Masker, String> {
        let mut m = Masker {
            card: None,
            email: None,
            phone: None,
            extra: Vec::new(),
        };
        for name in &cfg.mask {
            match name.as_str() {
                "card" => m.card = Some(compile(r"\b(?:\d[ -]?){12,18}\d\b")?),
                "email" => {
                    m.email = Some(compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b")?)
                }
                "phone" => {
                    m.phone = Some(compile(
                        r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){6,13}\b",
                    )?)
                }
                other => {
                    return Err(format!(
                        "[privacy] mask {other:?} is unknown; use \"card\", \"email\" or \"phone\""
                    ))
                }
            }
        }
        for p in &cfg.extra_patterns {
            m.extra.push(Regex::new(p).map_err(|e| {
                format!("[privacy] extra_patterns: {p:?} is not a valid regular expression: {e}")
            })?);
        }
        Ok(m)
    }

    /// No masking at all.
    pub fn none() -> Masker {
        Masker {
            card: None,
            email: None,
            phone: None,
            extra: Vec::new(),
        }
    }

    /// `text` with every configured pattern masked.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        if let Some(re) = &self.card {
            out = replace(out, re, |m| {
                let digits: String = m.chars().filter(char::is_ascii_digit).collect();
                if luhn(&digits) {
                    format!("[card ••••{}]", &digits[digits.len() - 4..])
                } else {
                    m.to_string()
                }
            });
        }
        if let Some(re) = &self.email {
            out = replace(out, re, |_| "[email]".to_string());
        }
        if let Some(re) = &self.phone {
            out = replace(out, re, |_| "[phone]".to_string());
        }
        for re in &self.extra {
            out = replace(out, re, |_| "[hidden]".to_string());
        }
        out
    }
}

fn compile(p: &str) -> Result<Regex, String> {
    Regex::new(p).map_err(|e| format!("built-in pattern failed to compile: {e}"))
}

fn replace<'a>(text: Cow<'a, str>, re: &Regex, f: impl Fn(&str) -> String) -> Cow<'a, str> {
    if !re.is_match(&text) {
        return text;
    }
    Cow::Owned(
        re.replace_all(&text, |c: &regex::Captures<'_>| f(&c[0]))
            .into_owned(),
    )
}

/// The Luhn checksum used by payment card numbers.
fn luhn(digits: &str) -> bool {
    if digits.len() < 13 {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Masker {
        Masker::new(&PrivacyConfig::default()).unwrap()
    }

    #[test]
    fn masks_valid_cards_keeping_last_four() {
        let m = all();
        assert_eq!(
            m.mask("my card is 4111 1111 1111 1111 thanks"),
            "my card is [card ••••1111] thanks"
        );
        assert_eq!(m.mask("4242-4242-4242-4242"), "[card ••••4242]");
    }

    #[test]
    fn leaves_non_luhn_numbers_that_are_not_phones() {
        let m = Masker::new(&PrivacyConfig {
            mask: vec!["card".into()],
            extra_patterns: vec![],
            keep: None,
        })
        .unwrap();
        assert_eq!(m.mask("order 1234567890123"), "order 1234567890123");
    }

    #[test]
    fn masks_emails_and_phones() {
        let m = all();
        assert_eq!(
            m.mask("write to Jane.Doe+x@example.co.uk or call +49 30 1234567"),
            "write to [email] or call [phone]"
        );
        assert_eq!(m.mask("call (030) 123-4567"), "call [phone]");
    }

    #[test]
    fn keeps_ordinary_text_borrowed() {
        let m = all();
        assert!(matches!(
            m.mask("hello, order #42 from 2026"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn extra_patterns_and_errors() {
        let m = Masker::new(&PrivacyConfig {
            mask: vec![],
            extra_patterns: vec![r"ACC-\d+".into()],
            keep: None,
        })
        .unwrap();
        assert_eq!(m.mask("account ACC-991"), "account [hidden]");
        let err = Masker::new(&PrivacyConfig {
            mask: vec!["ssn".into()],
            extra_patterns: vec![],
            keep: None,
        })
        .unwrap_err();
        assert!(err.contains("ssn"));
        let err = Masker::new(&PrivacyConfig {
            mask: vec![],
            extra_patterns: vec!["(".into()],
            keep: None,
        })
        .unwrap_err();
        assert!(err.contains("not a valid regular expression"));
        assert_eq!(Masker::none().mask("a@b.co"), "a@b.co");
    }

    #[test]
    fn luhn_checks() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("0"));
    }
}

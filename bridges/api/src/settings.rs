//! Config-file helpers shared by the core and every network plugin:
//! `${VAR}` expansion for config strings, the [`Secret`] wrapper that
//! keeps tokens and passwords out of logs and `Debug` output, and
//! [`section`], which lets a network parse its own `[name]` table from the
//! whole document (so its errors carry the document's line numbers).
//!
//! Expansion happens while TOML is deserialized, so a missing variable is
//! reported by the TOML parser with the line and column of the string that
//! named it. The lookup is injectable (a thread-local set by the loader) so
//! tests never have to mutate the process environment.

use std::cell::RefCell;
use std::fmt;

use serde::{Deserialize, Deserializer};

type Lookup = Box<dyn Fn(&str) -> Option<String>>;

thread_local! {
    static LOOKUP: RefCell<Option<Lookup>> = const { RefCell::new(None) };
}

/// Runs `f` with `lookup` answering `${VAR}` references on this thread.
pub fn with_lookup<T>(lookup: Lookup, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            LOOKUP.with(|l| *l.borrow_mut() = None);
        }
    }
    LOOKUP.with(|l| *l.borrow_mut() = Some(lookup));
    let _reset = Reset;
    f()
}

fn lookup(name: &str) -> Option<String> {
    LOOKUP.with(|l| match &*l.borrow() {
        Some(f) => f(name),
        None => std::env::var(name).ok(),
    })
}

/// Replaces every `${NAME}` in `s` by the variable's value. `$$` is a
/// literal `$`. A missing variable or an unclosed `${` is an error naming it.
pub fn expand(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
            let name = &tail[..end];
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("`${{{name}}}` is not a valid variable name"));
            }
            let value =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Deserializes a string with `${VAR}` expanded (for `deserialize_with`).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    expand(&raw).map_err(serde::de::Error::custom)
}

/// Like [`string`], for an `http://` or `https://` base URL (e.g. a
/// homeserver): anything else is an error at the value.
pub fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = string(d)?;
    match url::Url::parse(&value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(value),
        Ok(u) => Err(serde::de::Error::custom(format!(
            "{value:?} is not an http(s) URL (scheme {:?}); write it like \"https://matrix.example.org\"",
            u.scheme()
        ))),
        Err(e) => Err(serde::de::Error::custom(format!(
            "{value:?} is not a URL ({e}); write it like \"https://matrix.example.org\""
        ))),
    }
}

/// Like [`string`], for optional fields.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string(d).map(Some)
}

/// Deserializes the top-level table `[name]` of the TOML document `src`
/// into `T`, or None when the document has no such table. Other tables
/// are skipped unread. Errors carry spans into `src`, so callers report
/// them with the document's line and column. `${VAR}` references expand
/// through the lookup of [`with_lookup`] (or the process environment).
pub fn section<T: serde::de::DeserializeOwned>(
    src: &str,
    name: &str,
) -> Result<Option<toml::Spanned<T>>, toml::de::Error> {
    struct Seed<'a, T> {
        name: &'a str,
        out: std::marker::PhantomData<T>,
    }
    impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for Seed<'_, T> {
        type Value = Option<toml::Spanned<T>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a TOML document")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == self.name {
                    found = Some(map.next_value::<toml::Spanned<T>>()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    impl<'de, T: serde::de::DeserializeOwned> serde::de::DeserializeSeed<'de> for Seed<'_, T> {
        type Value = Option<toml::Spanned<T>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    let de = toml::Deserializer::parse(src)?;
    serde::de::DeserializeSeed::deserialize(
        Seed {
            name,
            out: std::marker::PhantomData,
        },
        de,
    )
}

/// A secret (password, token, signing secret). Its `Debug` and `Display`
/// never show the value; call [`Secret::expose`] where it is really used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret value, for the one place that sends it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = string(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom("secret is empty"));
        }
        Ok(Secret(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("xoxb-1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_known_variables() {
        let out = with_lookup(Box::new(env), || expand("a ${TOKEN} b ${EMPTY}c"));
        assert_eq!(out.unwrap(), "a xoxb-1 b c");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = with_lookup(Box::new(env), || expand("${NOPE}")).unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn dollar_escapes_and_lone_dollars() {
        let out = with_lookup(Box::new(env), || expand("cost $5, $${TOKEN}"));
        assert_eq!(out.unwrap(), "cost $5, ${TOKEN}");
    }

    #[test]
    fn unclosed_and_invalid_names_fail() {
        assert!(expand("${OPEN").unwrap_err().contains("unclosed"));
        assert!(expand("${A-B}").unwrap_err().contains("not a valid"));
    }

    #[derive(serde::Deserialize, Debug)]
    struct Net {
        token: Secret,
    }

    #[test]
    fn a_section_is_read_alone_with_the_documents_positions() {
        let doc = "[bot]\nname = 1\n\n[net]\ntoken = \"${TOKEN}\"\n";
        let got = with_lookup(Box::new(env), || section::<Net>(doc, "net")).unwrap();
        let got = got.expect("the section");
        assert_eq!(got.get_ref().token.expose(), "xoxb-1");
        assert_eq!(
            &doc[got.span()][..5],
            "[net]",
            "the span starts at the header"
        );
        assert!(section::<Net>(doc, "other").unwrap().is_none());
        let bad = "[bot]\n[net]\ntoken = 3\n";
        let err = section::<Net>(bad, "net").unwrap_err();
        let at = err.span().expect("a span").start;
        assert_eq!(bad[..at].matches('\n').count() + 1, 3, "{err}");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }
}

//! `${VAR}` expansion for config strings, and the [`Secret`] wrapper that
//! keeps tokens and passwords out of logs and `Debug` output.
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
pub(crate) fn with_lookup<T>(lookup: Lookup, f: impl FnOnce() -> T) -> T {
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
    match reqwest::Url::parse(&value) {
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

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }
}

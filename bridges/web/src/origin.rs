//! Which web origins may talk to the widget server: the sites in
//! `allowed_origins` plus the server's own (`public_url`, where the demo
//! page lives). Origins are compared in their serialised form
//! (`scheme://host[:port]`, default ports dropped, host lower-cased).

use std::collections::HashSet;

/// `s` as a normalised origin, or None when it is no http(s) origin (a
/// path, query or user part makes it no origin).
pub fn normalise(s: &str) -> Option<String> {
    let u = url::Url::parse(s).ok()?;
    let bare = matches!(u.path(), "" | "/")
        && u.query().is_none()
        && u.fragment().is_none()
        && u.username().is_empty()
        && u.password().is_none();
    if !bare || !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// The origins allowed to embed the widget.
#[derive(Debug, Clone)]
pub struct Origins(HashSet<String>);

impl Origins {
    /// `allowed` plus the origin of `public_url`.
    pub fn new(allowed: &[String], public_url: &str) -> Self {
        let mut set: HashSet<String> = allowed.iter().filter_map(|o| normalise(o)).collect();
        if let Ok(u) = url::Url::parse(public_url) {
            set.insert(u.origin().ascii_serialization());
        }
        Origins(set)
    }

    /// Whether the `Origin` header value `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        normalise(origin).is_some_and(|o| self.0.contains(&o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_normalised() {
        let o = Origins::new(
            &["https://WWW.Example.com:443".into()],
            "http://127.0.0.1:8090/chat",
        );
        assert!(o.allows("https://www.example.com"));
        assert!(o.allows("http://127.0.0.1:8090"));
        assert!(!o.allows("https://evil.example.com"));
        assert!(!o.allows("http://www.example.com"), "scheme matters");
        assert!(!o.allows("null"));
        assert_eq!(normalise("https://a.example/path"), None);
        assert_eq!(normalise("ftp://a.example"), None);
    }
}

//! Pure text shaping for outgoing Matrix messages: the bold "Name:"
//! prefix of relayed messages, mention pills, HTML escaping.
//!
//! No I/O and no matrix-sdk calls; `outgoing` turns the results into event
//! content. Invariant: text that came from users is always escaped before
//! it enters HTML, and HTML that came from users (a customer's or agent's formatted message) is
//! cut down to a safe subset by [`sanitize_html`] before it is sent.

use handoff_bridge_api::Text;

/// Escapes `&`, `<`, `>`, `"` and `'` for use in HTML text or attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Cuts user-supplied HTML down to a safe subset (`ammonia`): b, i, em,
/// strong, code, pre, p, br, ul/ol/li, blockquote, and links to http(s)
/// or mailto only. Scripts and styles go with their content; every other
/// tag and attribute (`onerror`, `style`, images that load on view) is
/// dropped, keeping the text inside.
pub fn sanitize_html(html: &str) -> String {
    static CLEANER: std::sync::OnceLock<ammonia::Builder<'static>> = std::sync::OnceLock::new();
    CLEANER
        .get_or_init(|| {
            let mut b = ammonia::Builder::empty();
            b.tags(
                [
                    "b",
                    "i",
                    "em",
                    "strong",
                    "code",
                    "pre",
                    "a",
                    "br",
                    "p",
                    "ul",
                    "ol",
                    "li",
                    "blockquote",
                ]
                .into(),
            )
            .tag_attributes([("a", ["href"].into())].into())
            .url_schemes(["http", "https", "mailto"].into())
            .link_rel(Some("noopener noreferrer"))
            .clean_content_tags(["script", "style"].into());
            b
        })
        .clean(html)
        .to_string()
}

/// The HTML form of `text`: its own HTML, or its plain form escaped with
/// line breaks kept.
pub fn html_of(text: &Text) -> String {
    match &text.html {
        Some(h) => sanitize_html(h),
        None => escape_html(&text.plain).replace('\n', "<br>"),
    }
}

/// Prefixes `text` with a bold `Name:`: plain `**Name:** text`, HTML
/// `<strong>Name:</strong> text`.
pub fn with_name(name: &str, text: &Text) -> Text {
    Text {
        plain: format!("**{name}:** {}", text.plain),
        html: Some(format!(
            "<strong>{}:</strong> {}",
            escape_html(name),
            html_of(text)
        )),
    }
}

/// What a `Notify` mention becomes.
#[derive(Debug, PartialEq, Eq)]
pub enum Mention {
    /// A Matrix user id: a pill and `m.mentions.user_ids`.
    User(String),
    /// `@room` (or Slack-style `@here`/`@channel`): `m.mentions.room`.
    Room,
    /// Anything else: prepended as text.
    Text(String),
}

/// Classifies a mention string.
pub fn classify_mention(mention: &str) -> Mention {
    let m = mention.trim();
    if matches!(m, "@room" | "@here" | "@channel" | "@everyone") {
        Mention::Room
    } else if m.starts_with('@') && m.contains(':') && !m.contains(char::is_whitespace) {
        Mention::User(m.to_owned())
    } else {
        Mention::Text(m.to_owned())
    }
}

/// `text` with `mention` in front: a matrix.to pill for users.
pub fn with_mention(mention: &Mention, text: &Text) -> Text {
    match mention {
        Mention::User(id) => Text {
            plain: format!("{id}: {}", text.plain),
            html: Some(format!(
                "<a href=\"https://matrix.to/#/{}\">{}</a>: {}",
                escape_html(id),
                escape_html(id),
                html_of(text)
            )),
        },
        Mention::Room => Text {
            plain: format!("@room: {}", text.plain),
            html: Some(format!("@room: {}", html_of(text))),
        },
        Mention::Text(t) if t.is_empty() => text.clone(),
        Mention::Text(t) => Text {
            plain: format!("{t} {}", text.plain),
            html: text
                .html
                .as_ref()
                .map(|h| format!("{} {h}", escape_html(t))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_name_prefix_is_bold_and_escaped() {
        let t = with_name("Bob <ops>", &Text::plain("a < b\nnext"));
        assert_eq!(t.plain, "**Bob <ops>:** a < b\nnext");
        assert_eq!(
            t.html.as_deref(),
            Some("<strong>Bob &lt;ops&gt;:</strong> a &lt; b<br>next")
        );
        let h = with_name(
            "Al",
            &Text {
                plain: "x".into(),
                html: Some("<em>x</em>".into()),
            },
        );
        assert_eq!(h.html.as_deref(), Some("<strong>Al:</strong> <em>x</em>"));
    }

    /// Injection attempts in a customer's formatted message are dropped;
    /// the safe subset and the words survive.
    #[test]
    fn user_html_is_sanitised() {
        let dirty = "<p>hi <script>alert(1)</script><img src=x onerror=\"alert(2)\">\
            <a href=\"javascript:alert(3)\">click</a> <a href=\"https://ok.example\">ok</a>\
            <b onclick=\"x()\">bold</b><style>p{}</style><iframe src=\"https://x\"></iframe></p>";
        let clean = sanitize_html(dirty);
        for bad in [
            "<script",
            "alert(1)",
            "<img",
            "onerror",
            "javascript:",
            "onclick",
            "<style",
            "<iframe",
        ] {
            assert!(!clean.contains(bad), "{bad} left in {clean}");
        }
        assert!(clean.contains("<a href=\"https://ok.example\""), "{clean}");
        assert!(clean.contains("<b>bold</b>"), "{clean}");
        assert!(clean.contains("click"), "{clean}");
        let relayed = with_name(
            "Carol",
            &Text {
                plain: "x".into(),
                html: Some(dirty.into()),
            },
        );
        assert!(!relayed.html.unwrap().contains("<script"));
    }

    #[test]
    fn mentions_are_classified_and_rendered() {
        assert_eq!(
            classify_mention("@alice:localhost"),
            Mention::User("@alice:localhost".into())
        );
        assert_eq!(classify_mention("@here"), Mention::Room);
        assert_eq!(classify_mention("team"), Mention::Text("team".into()));
        let t = with_mention(&classify_mention("@alice:localhost"), &Text::plain("SLA"));
        assert_eq!(t.plain, "@alice:localhost: SLA");
        assert!(t
            .html
            .unwrap()
            .starts_with("<a href=\"https://matrix.to/#/@alice:localhost\">"));
    }
}

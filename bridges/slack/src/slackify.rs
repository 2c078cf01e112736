//! handoff's [`Text`] (Matrix HTML, or Markdown-ish plain text) to Slack
//! mrkdwn for the messages the bot posts.
//!
//! Uses `html` when present: `<b>/<strong>` → `*`, `<i>/<em>` → `_`,
//! `<s>/<del>` → `~`, `<code>`, `<pre>`, `<a href>` → `<url|label>`,
//! `<br>`/`<p>` → newlines, lists → bullets, Matrix reply fallbacks
//! (`<mx-reply>`) dropped, other tags stripped. Not for the other direction
//! (`mrkdwn`). The invariant: user text can never produce a Slack control
//! sequence: `&`, `<`, `>` in text are always escaped.

use handoff_bridge_api::Text;

/// Escapes Slack's three control characters.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// The mrkdwn for a message body.
pub fn to_mrkdwn(body: &Text) -> String {
    match body.html.as_deref() {
        Some(html) if !html.trim().is_empty() => html_to_mrkdwn(html),
        _ => markdown_to_mrkdwn(&body.plain),
    }
}

fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let num = entity.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// HTML text with entities decoded.
fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after.find(';').filter(|&end| end <= 10) {
            Some(end) if decode_entity(&after[..end]).is_some() => {
                out.extend(decode_entity(&after[..end]));
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

struct Tag<'a> {
    name: String,
    closing: bool,
    raw: &'a str,
}

fn parse_tag(raw: &str) -> Tag<'_> {
    let inner = raw.trim();
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let name: String = inner
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase();
    Tag { name, closing, raw }
}

fn attr(raw: &str, name: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let rest = &raw[at..];
    let value = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].split(q).next()?,
        _ => rest.split(|c: char| c.is_whitespace() || c == '>').next()?,
    };
    Some(html_text(value))
}

/// Converts Matrix-style HTML to mrkdwn.
pub fn html_to_mrkdwn(html: &str) -> String {
    let mut out = String::new();
    let mut links: Vec<(String, usize)> = Vec::new();
    let mut in_pre = 0usize;
    let mut skip = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skip == 0 {
                out.push_str(&escape(&html_text(rest)));
            }
            break;
        };
        if skip == 0 {
            out.push_str(&escape(&html_text(&rest[..lt])));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            if skip == 0 {
                out.push_str(&escape(&html_text(&rest[lt..])));
            }
            break;
        };
        let tag = parse_tag(&after[..gt]);
        rest = &after[gt + 1..];
        if tag.name == "mx-reply" {
            skip = if tag.closing {
                skip.saturating_sub(1)
            } else {
                skip + 1
            };
            continue;
        }
        if skip > 0 {
            continue;
        }
        apply_tag(&tag, &mut out, &mut links, &mut in_pre);
    }
    out.trim_end().to_string()
}

fn apply_tag(
    tag: &Tag<'_>,
    out: &mut String,
    links: &mut Vec<(String, usize)>,
    in_pre: &mut usize,
) {
    match (tag.name.as_str(), tag.closing) {
        ("b" | "strong", _) => out.push('*'),
        ("i" | "em", _) => out.push('_'),
        ("s" | "del" | "strike", _) => out.push('~'),
        ("code", _) if *in_pre == 0 => out.push('`'),
        ("pre", false) => {
            *in_pre += 1;
            out.push_str("```\n");
        }
        ("pre", true) => {
            *in_pre = in_pre.saturating_sub(1);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("```\n");
        }
        ("a", false) => links.push((attr(tag.raw, "href").unwrap_or_default(), out.len())),
        ("a", true) => {
            if let Some((href, start)) = links.pop() {
                let label = out.split_off(start.min(out.len()));
                // Only web and mail links: `<!channel|x>`, `<@U…|x>` or
                // `<#C…|x>` built from an href would ping or point for
                // the customer.
                if href.is_empty() || !linkable(&href) {
                    out.push_str(&label);
                } else if label.is_empty() || label == escape(&href) {
                    out.push_str(&format!("<{}>", escape(&href)));
                } else {
                    out.push_str(&format!("<{}|{}>", escape(&href), label));
                }
            }
        }
        ("br", _) => out.push('\n'),
        ("p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => out.push_str("\n\n"),
        ("li", false) => out.push_str("• "),
        ("li", true) => out.push('\n'),
        ("blockquote", false) => out.push_str("&gt; "),
        ("blockquote", true) | ("ul" | "ol", true) => out.push('\n'),
        _ => {}
    }
}

/// Converts the Markdown-ish plain text the core writes: `**b**` → `*b*`,
/// `__i__` → `_i_`, `~~s~~` → `~s~`, `[label](url)` → `<url|label>`;
/// everything else is escaped text.
pub fn markdown_to_mrkdwn(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            if let Some(end) = rest[1..].find('`') {
                out.push_str(&escape(&rest[..end + 2]));
                rest = &rest[end + 2..];
                continue;
            }
        }
        if let Some((pair, marker)) = [("**", '*'), ("__", '_'), ("~~", '~')]
            .into_iter()
            .find(|(p, _)| rest.starts_with(p))
        {
            if let Some(end) = rest[2..].find(pair).filter(|&e| e > 0) {
                out.push(marker);
                out.push_str(&escape(&rest[2..2 + end]));
                out.push(marker);
                rest = &rest[2 + end + 2..];
                continue;
            }
        }
        if c == '[' {
            if let Some(link) = markdown_link(rest) {
                out.push_str(&format!("<{}|{}>", escape(link.url), escape(link.label)));
                rest = &rest[link.len..];
                continue;
            }
        }
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

struct MdLink<'a> {
    label: &'a str,
    url: &'a str,
    len: usize,
}

/// A URL Slack may show as a link: http(s) or mailto, no whitespace.
fn linkable(url: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| url.starts_with(p))
        && !url.contains(char::is_whitespace)
}

fn markdown_link(s: &str) -> Option<MdLink<'_>> {
    let close = s.find("](")?;
    let label = &s[1..close];
    if label.contains(['[', ']', '\n']) {
        return None;
    }
    let url_start = close + 2;
    let url_end = url_start + s[url_start..].find(')')?;
    let url = &s[url_start..url_end];
    linkable(url).then_some(MdLink {
        label,
        url,
        len: url_end + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(html: &str) -> String {
        to_mrkdwn(&Text {
            plain: String::new(),
            html: Some(html.into()),
        })
    }

    #[test]
    fn html_formatting_becomes_mrkdwn() {
        assert_eq!(h("<b>bold</b> <strong>s</strong>"), "*bold* *s*");
        assert_eq!(h("<i>it</i> <em>e</em> <del>x</del>"), "_it_ _e_ ~x~");
        assert_eq!(h("use <code>ls</code>"), "use `ls`");
        assert_eq!(
            h("<pre><code>a &lt; b\n</code></pre>"),
            "```\na &lt; b\n```"
        );
        assert_eq!(h("one<br>two<br/>three"), "one\ntwo\nthree");
        assert_eq!(h("<p>a</p><p>b</p>"), "a\n\nb");
        assert_eq!(h("<ul><li>x</li><li>y</li></ul>"), "• x\n• y");
    }

    #[test]
    fn links_and_stripped_tags() {
        assert_eq!(
            h("see <a href=\"https://x.io/?a=1&amp;b=2\">the <b>docs</b></a>"),
            "see <https://x.io/?a=1&amp;b=2|the *docs*>"
        );
        assert_eq!(h("<a href='https://a.b'>https://a.b</a>"), "<https://a.b>");
        assert_eq!(
            h("<font color=red>hi</font> <span>there</span>"),
            "hi there"
        );
        assert_eq!(
            h("<mx-reply><blockquote>old</blockquote></mx-reply>new"),
            "new"
        );
    }

    /// Customer text, plain or HTML, never becomes a Slack mention or
    /// broadcast: `<!channel>`, `<!here>`, `<@U…>`, `<#C…>` stay text.
    #[test]
    fn customer_text_cannot_ping() {
        for attack in [
            "<!channel> <!here> <!everyone> <@U0123> <#C042|general>",
            "&lt;!channel&gt; &lt;@U0123&gt;",
            "[boom](<!channel>) [x](!here)",
        ] {
            for body in [
                Text::plain(attack),
                Text {
                    plain: attack.into(),
                    html: Some(attack.into()),
                },
            ] {
                let m = to_mrkdwn(&body);
                assert!(
                    !m.contains("<!") && !m.contains("<@") && !m.contains("<#"),
                    "{body:?} → {m}"
                );
            }
        }
        for href in ["!channel", "@U0123", "#C042", "javascript:x()"] {
            let m = h(&format!("<a href=\"{href}\">click</a>"));
            assert_eq!(m, "click", "{href}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_text_makes_a_control_sequence(s in "[<>!@#|&;:/a-zA-Z0-9 \\[\\]()\"=]{0,40}") {
            for body in [Text::plain(s.clone()), Text { plain: s.clone(), html: Some(s.clone()) }] {
                let m = to_mrkdwn(&body);
                proptest::prop_assert!(
                    !m.contains("<!") && !m.contains("<@") && !m.contains("<#"),
                    "{:?} → {}", body, m
                );
            }
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(h("a &amp; b &lt;!here&gt;"), "a &amp; b &lt;!here&gt;");
        assert_eq!(h("&#x1F600; &#65;"), "😀 A");
        assert_eq!(h("broken <b"), "broken &lt;b");
        let t = Text::plain("<!channel> & <@U1>");
        assert_eq!(to_mrkdwn(&t), "&lt;!channel&gt; &amp; &lt;@U1&gt;");
    }

    #[test]
    fn markdown_ish_plain_text() {
        assert_eq!(
            to_mrkdwn(&Text::plain(
                "**Case** __new__ ~~old~~ [docs](https://d.io/x)"
            )),
            "*Case* _new_ ~old~ <https://d.io/x|docs>"
        );
        assert_eq!(to_mrkdwn(&Text::plain("[not](a link)")), "[not](a link)");
        assert_eq!(to_mrkdwn(&Text::plain("`a<b`")), "`a&lt;b`");
        assert_eq!(to_mrkdwn(&Text::plain("2 ** 3")), "2 ** 3");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "<", "<a href", "&#xZZ;", "&", "</a>", "<pre>", "**", "[", "[x](", "é<b>ü",
        ] {
            let _ = h(s);
            let _ = to_mrkdwn(&Text::plain(s));
        }
    }
}

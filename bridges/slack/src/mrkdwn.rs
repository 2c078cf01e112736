//! Slack mrkdwn (what agents type in Slack) to handoff's [`Text`]: a plain
//! form and, when there was formatting, HTML for Matrix.
//!
//! Handles `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ``` blocks,
//! `<url|label>`, `<@U…>` (display names supplied by the caller),
//! `<#C…|name>`, `<!here>` and the `&amp;`/`&lt;`/`&gt;` escapes. Not for the
//! other direction (`slackify`). The invariant: never panics on any input,
//! and everything in the HTML that came from the user is HTML-escaped.

use handoff_bridge_api::Text;

/// One lexed unit of mrkdwn.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Char(char),
    /// `<…>` token, already resolved.
    Link {
        plain: String,
        html: String,
    },
    Code(String),
    Pre(String),
}

/// User ids mentioned as `<@U…>` or `<@U…|name>`, in order, without repeats.
pub fn user_mentions(src: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("<@") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('>') else { break };
        let id = after[..end].split('|').next().unwrap_or("").to_string();
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
        rest = &after[end..];
    }
    ids
}

/// Converts mrkdwn to plain text (markers kept, tokens resolved, escapes
/// undone) and HTML (only when something was formatted).
pub fn to_text(src: &str, name_of: impl Fn(&str) -> Option<String>) -> Text {
    let pieces = lex(src, &name_of);
    let mut out = Out::default();
    render(&pieces, &mut out);
    Text {
        plain: out.plain,
        html: out.formatted.then_some(out.html),
    }
}

#[derive(Default)]
struct Out {
    plain: String,
    html: String,
    formatted: bool,
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn lex(src: &str, name_of: &impl Fn(&str) -> Option<String>) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        if let Some(body) = rest.strip_prefix("```") {
            if let Some(end) = body.find("```") {
                let inner = body[..end].trim_start_matches('\n').trim_end_matches('\n');
                pieces.push(Piece::Pre(decode_entities(inner)));
                i += 3 + end + 3;
                continue;
            }
        }
        if let Some(body) = rest.strip_prefix('`') {
            if let Some(end) = body.find(['`', '\n']) {
                if body[end..].starts_with('`') && end > 0 {
                    pieces.push(Piece::Code(decode_entities(&body[..end])));
                    i += 1 + end + 1;
                    continue;
                }
            }
        }
        if let Some(body) = rest.strip_prefix('<') {
            if let Some(end) = body.find('>') {
                pieces.push(link(&body[..end], name_of));
                i += 1 + end + 1;
                continue;
            }
        }
        let entity = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
            .into_iter()
            .find(|(e, _)| rest.starts_with(e));
        if let Some((e, c)) = entity {
            pieces.push(Piece::Char(c));
            i += e.len();
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        pieces.push(Piece::Char(c));
        i += c.len_utf8();
    }
    pieces
}

/// Resolves the inside of a `<…>` token.
fn link(token: &str, name_of: &impl Fn(&str) -> Option<String>) -> Piece {
    let (target, label) = match token.split_once('|') {
        Some((t, l)) => (t, Some(decode_entities(l))),
        None => (token, None),
    };
    let plain = if let Some(id) = target.strip_prefix('@') {
        let name = name_of(id).or(label).unwrap_or_else(|| id.to_string());
        format!("@{name}")
    } else if let Some(id) = target.strip_prefix('#') {
        format!("#{}", label.unwrap_or_else(|| id.to_string()))
    } else if let Some(special) = target.strip_prefix('!') {
        match special {
            "here" | "channel" | "everyone" => format!("@{special}"),
            _ => label.unwrap_or_else(|| special.to_string()),
        }
    } else {
        let url = decode_entities(target);
        let label = label.unwrap_or_else(|| url.clone());
        let plain = if label == url {
            url.clone()
        } else {
            format!("{label} ({url})")
        };
        let html = format!(
            "<a href=\"{}\">{}</a>",
            escape_html(&url),
            escape_html(&label)
        );
        return Piece::Link { plain, html };
    };
    Piece::Link {
        html: escape_html(&plain),
        plain,
    }
}

fn is_marker(c: char) -> Option<&'static str> {
    match c {
        '*' => Some("strong"),
        '_' => Some("em"),
        '~' => Some("del"),
        _ => None,
    }
}

/// True when the piece does not glue a marker to a word.
fn is_boundary(p: Option<&Piece>) -> bool {
    match p {
        None => true,
        Some(Piece::Char(c)) => !c.is_alphanumeric(),
        Some(_) => false,
    }
}

fn is_space(p: Option<&Piece>) -> bool {
    matches!(p, Some(Piece::Char(c)) if c.is_whitespace())
}

/// The closing marker for an opening one at `open`, on the same line:
/// `Ok(index)`, or `Err(end)` with the index where the search stopped.
fn closing(pieces: &[Piece], open: usize, marker: char) -> Result<usize, usize> {
    if is_space(pieces.get(open + 1)) || open + 1 >= pieces.len() {
        return Err(open);
    }
    for j in open + 2..pieces.len() {
        match &pieces[j] {
            Piece::Char('\n') | Piece::Pre(_) => return Err(j),
            Piece::Char(c)
                if *c == marker
                    && !is_space(pieces.get(j - 1))
                    && is_boundary(pieces.get(j + 1)) =>
            {
                return Ok(j);
            }
            _ => {}
        }
    }
    Err(pieces.len())
}

/// Per marker, the index up to which a search for a closer already
/// failed. Whether a piece can close does not depend on the opener, so a
/// later opener before that index fails too: skipping it keeps a line of
/// 40,000 unclosed markers linear instead of quadratic.
#[derive(Default)]
struct NoCloser([usize; 3]);

impl NoCloser {
    fn slot(marker: char) -> usize {
        match marker {
            '*' => 0,
            '_' => 1,
            _ => 2,
        }
    }

    fn span(&mut self, pieces: &[Piece], open: usize, marker: char) -> Option<usize> {
        let slot = Self::slot(marker);
        if open < self.0[slot] {
            return None;
        }
        match closing(pieces, open, marker) {
            Ok(j) => Some(j),
            Err(end) => {
                self.0[slot] = end;
                None
            }
        }
    }
}

fn render(pieces: &[Piece], out: &mut Out) {
    let mut i = 0;
    let mut no_closer = NoCloser::default();
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Char(c) => {
                let left_ok = i == 0 || is_boundary(pieces.get(i - 1));
                let span = is_marker(*c)
                    .filter(|_| left_ok)
                    .and_then(|tag| no_closer.span(pieces, i, *c).map(|j| (tag, j)));
                if let Some((tag, j)) = span {
                    out.formatted = true;
                    out.plain.push(*c);
                    out.html.push_str(&format!("<{tag}>"));
                    render(&pieces[i + 1..j], out);
                    out.plain.push(*c);
                    out.html.push_str(&format!("</{tag}>"));
                    i = j + 1;
                    continue;
                }
                out.plain.push(*c);
                if *c == '\n' {
                    out.html.push_str("<br>");
                } else {
                    out.html.push_str(&escape_html(&c.to_string()));
                }
            }
            Piece::Link { plain, html } => {
                out.formatted |= html.starts_with("<a ");
                out.plain.push_str(plain);
                out.html.push_str(html);
            }
            Piece::Code(code) => {
                out.formatted = true;
                out.plain.push_str(&format!("`{code}`"));
                out.html
                    .push_str(&format!("<code>{}</code>", escape_html(code)));
            }
            Piece::Pre(code) => {
                out.formatted = true;
                out.plain.push_str(&format!("```\n{code}\n```"));
                out.html
                    .push_str(&format!("<pre><code>{}</code></pre>", escape_html(code)));
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(id: &str) -> Option<String> {
        (id == "U123").then(|| "Alice".to_string())
    }

    fn html(src: &str) -> String {
        to_text(src, names).html.unwrap_or_default()
    }

    #[test]
    fn plain_text_has_no_html() {
        let t = to_text("just words, 2 * 3 = 6", names);
        assert_eq!(t.plain, "just words, 2 * 3 = 6");
        assert_eq!(t.html, None);
    }

    #[test]
    fn emphasis_and_code() {
        assert_eq!(
            html("*bold* and _it_"),
            "<strong>bold</strong> and <em>it</em>"
        );
        assert_eq!(html("~gone~!"), "<del>gone</del>!");
        assert_eq!(html("run `ls -l` now"), "run <code>ls -l</code> now");
        assert_eq!(
            html("```\nfn main() {}\n```"),
            "<pre><code>fn main() {}</code></pre>"
        );
        assert_eq!(html("*_both_*"), "<strong><em>both</em></strong>");
        let t = to_text("*bold*", names);
        assert_eq!(t.plain, "*bold*");
    }

    #[test]
    fn markers_inside_words_are_text() {
        let t = to_text("snake_case_name and a*b*c", names);
        assert_eq!(t.plain, "snake_case_name and a*b*c");
        assert_eq!(t.html, None);
        assert_eq!(to_text("* not bold *", names).html, None);
    }

    #[test]
    fn links_mentions_and_channels() {
        let t = to_text("see <https://x.io/a?b=1&amp;c=2|the docs>", names);
        assert_eq!(t.plain, "see the docs (https://x.io/a?b=1&c=2)");
        assert_eq!(
            t.html.as_deref(),
            Some("see <a href=\"https://x.io/a?b=1&amp;c=2\">the docs</a>")
        );
        let t = to_text("<@U123> and <@U999|bob> in <#C1|general> <!here>", names);
        assert_eq!(t.plain, "@Alice and @bob in #general @here");
        assert_eq!(to_text("<https://a.b>", names).plain, "https://a.b");
    }

    #[test]
    fn escapes_are_undone_and_html_is_escaped() {
        let t = to_text("a &lt;b&gt; &amp; *c<d*", names);
        assert_eq!(t.plain, "a <b> & *c<d*");
        let t = to_text("*x* &lt;script&gt;", names);
        assert_eq!(t.html.as_deref(), Some("<strong>x</strong> &lt;script&gt;"));
        assert_eq!(html("*a*\nb"), "<strong>a</strong><br>b");
    }

    #[test]
    fn mentions_are_listed_once() {
        assert_eq!(
            user_mentions("<@U1> hi <@U2|bob> <@U1> <@"),
            vec!["U1".to_string(), "U2".to_string()]
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "*", "_", "`", "```", "<", "&", "&am", "*_~`<>|", "é*ü*", "<@>", "\n*\n*",
        ] {
            let _ = to_text(s, names);
        }
    }

    #[test]
    fn a_long_line_of_unclosed_markers_stays_plain() {
        let src = "*a _b ~c ".repeat(4_500);
        let t = to_text(&src, names);
        assert_eq!(t.plain, src);
        assert_eq!(t.html, None);
        // Openers that fail on one line do not stop a span on the next.
        let src = format!("{}\n*x* end", "*a ".repeat(1_000));
        let html = to_text(&src, names).html.unwrap();
        assert!(html.ends_with("<br><strong>x</strong> end"), "{html}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_converts_and_html_escapes_it(
            src in "(\\PC|[*_~`<>&|@!#\n]){0,300}"
        ) {
            let t = to_text(&src, names);
            let _ = user_mentions(&src);
            if let Some(html) = t.html {
                proptest::prop_assert!(!html.contains("<script"), "{}", html);
            }
        }
    }
}

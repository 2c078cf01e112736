//! Size limits on what crosses the Slack boundary, and shortening text to
//! fit them: Slack refuses a message text over 40,000 characters
//! (`msg_too_long`), so a longer body is cut with a visible marker rather
//! than failing the same way on every retry; Events API request bodies
//! over 1 MiB are refused before they are read.
//!
//! Not for Block Kit limits per block (`blocks`). The invariant: [`fit`]
//! returns at most `max` characters (for any `max` longer than its
//! marker), cuts only at a character boundary, and says how much was
//! dropped.

use std::borrow::Cow;

/// Slack's limit on a message's `text`, in characters.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// The largest Events API request body the listener reads (Slack's own
/// payloads are far below this).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `text` unchanged when it has at most `max` characters; otherwise its
/// start (cut at a line break or space near the limit when there is one)
/// followed by `… [truncated: N more characters]`, `max` characters in all.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    let total = text.chars().count();
    if total <= max {
        return Cow::Borrowed(text);
    }
    // The marker's digits depend on how much is cut; the total bounds it.
    let marker_len = marker(total).chars().count();
    let keep = max.saturating_sub(marker_len);
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    // Prefer a word or line boundary within the last 200 characters.
    let head = match head.rfind(['\n', ' ']) {
        Some(i) if head[i..].chars().count() <= 200 => &head[..i],
        _ => head,
    };
    let dropped = total - head.chars().count();
    let mut out = String::with_capacity(head.len() + marker_len);
    out.push_str(head);
    out.push_str(&marker(dropped));
    Cow::Owned(out)
}

fn marker(dropped: usize) -> String {
    format!("… [truncated: {dropped} more characters]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert!(matches!(fit("hello", 10), Cow::Borrowed("hello")));
        assert_eq!(fit("", 0), "");
    }

    #[test]
    fn long_text_is_cut_with_a_marker_within_the_limit() {
        let text = "word ".repeat(20_000);
        let out = fit(&text, MAX_TEXT_CHARS);
        assert!(out.chars().count() <= MAX_TEXT_CHARS, "{}", out.len());
        assert!(out.starts_with("word word"));
        assert!(
            out.ends_with("more characters]"),
            "{}",
            &out[out.len() - 60..]
        );
        let dropped: usize = out
            .rsplit("truncated: ")
            .next()
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let kept = out.find('…').map(|i| out[..i].chars().count()).unwrap();
        assert_eq!(kept + dropped, 100_000);
    }

    #[test]
    fn multibyte_text_is_cut_at_a_char_boundary() {
        let text = "ü".repeat(50);
        let out = fit(&text, 45);
        assert!(out.chars().count() <= 45);
        assert!(out.starts_with('ü'));
    }

    #[test]
    fn a_limit_smaller_than_the_marker_keeps_only_the_marker() {
        let out = fit("abcdefghijklmnopqrstuvwxyz0123456789abcdefghij", 5);
        assert!(out.starts_with('…'), "{out}");
    }
}

//! Keeping outgoing events under Matrix's size limit. A homeserver refuses
//! an event over 65,536 bytes (`M_TOO_LARGE`), which no retry cures, so
//! content over [`MAX_CONTENT_BYTES`] is shortened instead: first its HTML
//! is dropped (cutting HTML could break its markup), then the plain
//! `body` (and an edit's `m.new_content.body`) is cut with a visible
//! marker saying how much is missing.
//!
//! Pure JSON work on the serialized content; not for deciding what to send
//! (`outgoing`). The invariant: content that fits is left byte-for-byte
//! alone; cut content serializes to at most the limit whenever the text
//! fields are what made it large.

use serde_json::Value;

/// The largest event content sent. The whole event (sender, room id,
/// hashes, signatures, prev/auth events) must stay under 65,536 bytes,
/// and in an encrypted room the content becomes base64 ciphertext (4/3
/// larger), so the content gets a little under three quarters of it.
pub const MAX_CONTENT_BYTES: usize = 40 * 1024;

/// Where the text of a message event lives.
const TEXT_HOLDERS: [&[&str]; 2] = [&[], &["m.new_content"]];

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn holder<'a>(
    content: &'a mut Value,
    path: &[&str],
) -> Option<&'a mut serde_json::Map<String, Value>> {
    path.iter()
        .try_fold(content, |v, k| v.get_mut(*k))
        .and_then(Value::as_object_mut)
}

/// `text` cut to its first `keep` characters plus a marker; `None` when
/// nothing needs cutting.
fn cut(text: &str, keep: usize) -> Option<String> {
    let (at, _) = text.char_indices().nth(keep)?;
    let dropped = text[at..].chars().count();
    Some(format!(
        "{}… [truncated: {dropped} more characters]",
        &text[..at]
    ))
}

/// Shortens `content` to at most `max` serialized bytes; returns true
/// when it had to change anything.
pub fn fit_content(content: &mut Value, max: usize) -> bool {
    if size(content) <= max {
        return false;
    }
    let mut bodies: Vec<(usize, String)> = Vec::new();
    for (i, path) in TEXT_HOLDERS.iter().enumerate() {
        if let Some(obj) = holder(content, path) {
            obj.remove("formatted_body");
            obj.remove("format");
            if let Some(Value::String(body)) = obj.get("body") {
                bodies.push((i, body.clone()));
            }
        }
    }
    let set = |content: &mut Value, keep: usize| {
        for (i, body) in &bodies {
            if let Some(obj) = holder(content, TEXT_HOLDERS[*i]) {
                let text = cut(body, keep).unwrap_or_else(|| body.clone());
                obj.insert("body".to_owned(), Value::String(text));
            }
        }
    };
    if size(content) <= max {
        return true;
    }
    // The largest number of characters kept per body that still fits
    // (size grows with it, so a binary search finds it).
    let longest = bodies
        .iter()
        .map(|(_, b)| b.chars().count())
        .max()
        .unwrap_or(0);
    let (mut lo, mut hi) = (0usize, longest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        set(content, mid);
        if size(content) <= max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    set(content, lo);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn small_content_is_untouched() {
        let mut c = json!({"msgtype": "m.text", "body": "hi", "format": "org.matrix.custom.html",
            "formatted_body": "<b>hi</b>"});
        let before = c.clone();
        assert!(!fit_content(&mut c, MAX_CONTENT_BYTES));
        assert_eq!(c, before);
    }

    #[test]
    fn large_text_loses_html_then_is_cut_with_a_marker() {
        let body = "word ".repeat(20_000);
        let mut c = json!({"msgtype": "m.text", "body": body, "format": "org.matrix.custom.html",
            "formatted_body": format!("<p>{body}</p>")});
        assert!(fit_content(&mut c, MAX_CONTENT_BYTES));
        assert!(size(&c) <= MAX_CONTENT_BYTES);
        assert!(c.get("formatted_body").is_none() && c.get("format").is_none());
        let cut = c["body"].as_str().unwrap();
        assert!(cut.starts_with("word word"));
        assert!(cut.ends_with("more characters]"));
        assert!(cut.len() > MAX_CONTENT_BYTES - 200, "keeps as much as fits");
    }

    #[test]
    fn an_edit_cuts_both_bodies() {
        let body = "ü".repeat(40_000);
        let mut c = json!({"msgtype": "m.text", "body": format!("* {body}"),
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$e:x"}});
        assert!(fit_content(&mut c, MAX_CONTENT_BYTES));
        assert!(size(&c) <= MAX_CONTENT_BYTES);
        assert!(c["m.new_content"]["body"]
            .as_str()
            .unwrap()
            .ends_with("characters]"));
        assert_eq!(c["m.relates_to"]["event_id"], "$e:x");
    }

    #[test]
    fn html_alone_over_the_limit_is_dropped_and_the_text_kept() {
        let mut c = json!({"msgtype": "m.text", "body": "short",
            "format": "org.matrix.custom.html", "formatted_body": "<i>x</i>".repeat(10_000)});
        assert!(fit_content(&mut c, MAX_CONTENT_BYTES));
        assert_eq!(c["body"], "short");
        assert!(c.get("formatted_body").is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_text_fits_after_cutting(
            unit in "\\PC{1,4}|[\"\\\\\\u{0}-\\u{1f}]{1,4}",
            repeats in 0usize..30_000,
            max in 1_000usize..50_000,
        ) {
            let body = unit.repeat(repeats);
            let mut c = json!({"msgtype": "m.text", "body": body,
                "m.new_content": {"msgtype": "m.text", "body": body}});
            fit_content(&mut c, max);
            prop_assert!(size(&c) <= max, "{} > {}", size(&c), max);
            let kept = c["body"].as_str().unwrap();
            let head = kept.split("… [truncated").next().unwrap();
            prop_assert!(body.starts_with(head));
        }
    }
}

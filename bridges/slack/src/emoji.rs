//! Slack emoji names (`thumbsup`, `white_check_mark`) to Unicode and back,
//! through the `emojis` crate's Unicode and GitHub (gemoji) shortcode
//! tables, which Slack's standard names follow, plus the few Slack names
//! that differ from gemoji's.
//!
//! Not for custom workspace emoji: names without a Unicode character stay
//! `:name:` on the way in, and a Unicode key without a shortcode is refused
//! on the way out. The invariant: lookups ignore skin-tone suffixes and the
//! U+FE0F variation selector, so `❤` and `❤️` are the same key.

/// Slack's names where they differ from gemoji's: (Slack, gemoji).
const SLACK_NAMES: &[(&str, &str)] = &[
    ("thinking_face", "thinking"),
    ("hugging_face", "hugs"),
    ("face_with_rolling_eyes", "roll_eyes"),
    ("robot_face", "robot"),
];

fn bare_name(name: &str) -> &str {
    let name = name.trim().trim_matches(':');
    name.split("::").next().unwrap_or(name)
}

/// The emoji for `unicode`, with or without the variation selector.
fn lookup(unicode: &str) -> Option<&'static emojis::Emoji> {
    emojis::get(unicode).or_else(|| {
        let bare: String = unicode.chars().filter(|c| *c != '\u{FE0F}').collect();
        emojis::get(&bare).or_else(|| emojis::get(&format!("{bare}\u{FE0F}")))
    })
}

/// The reaction key handoff uses for a Slack emoji name: Unicode when
/// known, `:name:` otherwise.
pub fn key_for_name(name: &str) -> String {
    let bare = bare_name(name);
    let gemoji = SLACK_NAMES
        .iter()
        .find(|(slack, _)| *slack == bare)
        .map_or(bare, |(_, g)| g);
    match emojis::get_by_shortcode(gemoji) {
        Some(e) => e.as_str().to_string(),
        None => format!(":{bare}:"),
    }
}

/// The Slack emoji name for a reaction key: the shortcode of a Unicode
/// emoji, or a `:name:` key as given. `None` when Slack would not know it.
pub fn name_for_key(key: &str) -> Option<String> {
    let key = key.trim();
    if key.len() > 2 && key.starts_with(':') && key.ends_with(':') {
        let name = bare_name(key);
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '\''));
        return valid.then(|| name.to_string());
    }
    let gemoji = lookup(key)?.shortcode()?;
    let slack = SLACK_NAMES
        .iter()
        .find(|(_, g)| *g == gemoji)
        .map_or(gemoji, |(slack, _)| slack);
    Some(slack.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_unicode_and_back() {
        assert_eq!(key_for_name("thumbsup"), "👍");
        assert_eq!(key_for_name("+1::skin-tone-3"), "👍");
        assert_eq!(key_for_name("white_check_mark"), "✅");
        assert_eq!(key_for_name("partyparrot"), ":partyparrot:");
        assert_eq!(name_for_key("👍").as_deref(), Some("+1"));
        assert_eq!(name_for_key("✅").as_deref(), Some("white_check_mark"));
        assert_eq!(name_for_key("❤️").as_deref(), Some("heart"));
        assert_eq!(
            name_for_key(":partyparrot:").as_deref(),
            Some("partyparrot")
        );
    }

    #[test]
    fn the_whole_unicode_set_and_slack_s_own_names() {
        // Beyond the old 50-entry table.
        assert_eq!(key_for_name("flamingo"), "🦩");
        assert_eq!(name_for_key("🦩").as_deref(), Some("flamingo"));
        assert_eq!(key_for_name("thinking_face"), "🤔");
        assert_eq!(name_for_key("🤔").as_deref(), Some("thinking_face"));
        assert_eq!(name_for_key("❤").as_deref(), Some("heart"));
        assert_eq!(key_for_name("heart"), "❤\u{FE0F}");
        // Every emoji with a shortcode goes out and comes back the same.
        for e in emojis::iter().filter(|e| e.shortcode().is_some()) {
            let name = name_for_key(e.as_str()).expect("named");
            assert_eq!(key_for_name(&name), e.as_str(), "{name}");
        }
    }

    #[test]
    fn unknown_unicode_is_refused() {
        assert_eq!(name_for_key("a"), None);
        assert_eq!(name_for_key("👍👍"), None);
        assert_eq!(name_for_key("::"), None);
        assert_eq!(name_for_key(":bad name:"), None);
    }
}

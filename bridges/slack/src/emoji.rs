//! Slack emoji names (`thumbsup`, `white_check_mark`) to Unicode and back,
//! for the reactions most used in support work.
//!
//! Not a complete emoji database: names without an entry stay `:name:` on
//! the way in, and a Unicode key without one is refused on the way out.
//! The invariant: lookups ignore skin-tone suffixes and the U+FE0F variation
//! selector, so `❤` and `❤️` are the same key.

/// (Slack name, Unicode) pairs; the first name for a character is the one
/// used when reacting.
const TABLE: &[(&str, &str)] = &[
    ("+1", "👍"),
    ("thumbsup", "👍"),
    ("-1", "👎"),
    ("thumbsdown", "👎"),
    ("white_check_mark", "✅"),
    ("heavy_check_mark", "✔"),
    ("x", "❌"),
    ("eyes", "👀"),
    ("heart", "❤"),
    ("smile", "😄"),
    ("slightly_smiling_face", "🙂"),
    ("grinning", "😀"),
    ("joy", "😂"),
    ("wink", "😉"),
    ("sweat_smile", "😅"),
    ("thinking_face", "🤔"),
    ("hugging_face", "🤗"),
    ("slightly_frowning_face", "🙁"),
    ("cry", "😢"),
    ("sob", "😭"),
    ("rage", "😡"),
    ("tada", "🎉"),
    ("pray", "🙏"),
    ("clap", "👏"),
    ("raised_hands", "🙌"),
    ("wave", "👋"),
    ("ok_hand", "👌"),
    ("muscle", "💪"),
    ("point_up", "☝"),
    ("fire", "🔥"),
    ("rocket", "🚀"),
    ("star", "⭐"),
    ("sparkles", "✨"),
    ("100", "💯"),
    ("bulb", "💡"),
    ("memo", "📝"),
    ("hourglass", "⌛"),
    ("hourglass_flowing_sand", "⏳"),
    ("warning", "⚠"),
    ("no_entry", "⛔"),
    ("question", "❓"),
    ("exclamation", "❗"),
    ("heavy_plus_sign", "➕"),
    ("arrow_right", "➡"),
    ("phone", "☎"),
    ("email", "📧"),
    ("lock", "🔒"),
    ("moneybag", "💰"),
    ("bug", "🐛"),
    ("wrench", "🔧"),
];

fn normalize(unicode: &str) -> String {
    unicode.chars().filter(|c| *c != '\u{FE0F}').collect()
}

fn bare_name(name: &str) -> &str {
    let name = name.trim().trim_matches(':');
    name.split("::").next().unwrap_or(name)
}

/// The reaction key handoff uses for a Slack emoji name: Unicode when
/// known, `:name:` otherwise.
pub fn key_for_name(name: &str) -> String {
    let bare = bare_name(name);
    TABLE
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(_, u)| (*u).to_string())
        .unwrap_or_else(|| format!(":{bare}:"))
}

/// The Slack emoji name for a reaction key: Unicode from the table, or a
/// `:name:` key as given. `None` when Slack would not know it.
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
    let wanted = normalize(key);
    TABLE
        .iter()
        .find(|(_, u)| normalize(u) == wanted)
        .map(|(n, _)| (*n).to_string())
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
    fn unknown_unicode_is_refused() {
        assert_eq!(name_for_key("🦩"), None);
        assert_eq!(name_for_key("::"), None);
        assert_eq!(name_for_key(":bad name:"), None);
    }
}

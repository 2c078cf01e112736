//! Text normalisation and feature extraction for the FAQ matcher.
//!
//! Turns a question into hashed features: stemmed word unigrams and bigrams,
//! and character 3–5-grams taken inside word boundaries (`" word "`), so
//! typos and inflections still share most features. It knows nothing about
//! weights or entries; that is `index.rs` and `model.rs`.
//!
//! Invariant: extraction is a pure, deterministic function of the text (the
//! hash is fixed FNV-1a, never a randomly seeded hasher), so an index built
//! from a file always scores a question the same way.

/// Inputs are cut to this many characters before matching: a chat message
/// longer than this is not an FAQ question, and the cap bounds latency.
pub(crate) const MAX_INPUT_CHARS: usize = 2_000;

/// Which feature family a hashed feature belongs to; each family is
/// normalised separately so neither dominates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Word,
    Char,
}

/// Lowercases, keeps letters and digits of any script, drops apostrophes
/// (so "don't" and "dont" agree) and turns everything else into single
/// spaces. The result has no leading or trailing space.
pub(crate) fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_INPUT_CHARS * 2));
    let mut pending_space = false;
    for c in text.chars().take(MAX_INPUT_CHARS) {
        if c == '\'' || c == '\u{2019}' {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// A light English suffix stripper (plural, -ing, -ed). Deliberately weak:
/// the character n-grams already catch most inflection, and an aggressive
/// stemmer merges words that mean different things.
pub(crate) fn stem(word: &str) -> &str {
    let n = word.len();
    if !word.is_ascii() || n <= 3 {
        return word;
    }
    if n > 5 && word.ends_with("ing") {
        return &word[..n - 3];
    }
    if n > 4 && word.ends_with("ed") && !word.ends_with("eed") {
        return &word[..n - 2];
    }
    if word.ends_with("ies") && n > 4 {
        return &word[..n - 2];
    }
    if word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return &word[..n - 1];
    }
    word
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Hash of a feature, tagged with a kind byte so that e.g. the word "abc"
/// and the character trigram "abc" never collide by construction.
fn feature_hash(kind: u8, parts: &[&[u8]]) -> u64 {
    let mut h = fnv(FNV_OFFSET, &[kind]);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h = fnv(h, &[0xff]);
        }
        h = fnv(h, p);
    }
    h
}

/// Appends the hashed features of `text` to `out` (duplicates kept: they
/// are term counts). Returns nothing for text without letters or digits.
pub(crate) fn features(text: &str, out: &mut Vec<(u64, Family)>) {
    let norm = normalise(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    let mut prev: Option<&str> = None;
    for w in &words {
        let s = stem(w);
        out.push((feature_hash(b'w', &[s.as_bytes()]), Family::Word));
        if let Some(p) = prev {
            out.push((
                feature_hash(b'b', &[p.as_bytes(), s.as_bytes()]),
                Family::Word,
            ));
        }
        prev = Some(s);
    }
    let mut chars: Vec<char> = Vec::with_capacity(64);
    let mut buf = [0u8; 4];
    let mut gram = Vec::with_capacity(24);
    for w in &words {
        chars.clear();
        chars.push(' ');
        chars.extend(w.chars());
        chars.push(' ');
        for n in 3..=5 {
            if chars.len() < n {
                break;
            }
            for window in chars.windows(n) {
                gram.clear();
                for c in window {
                    gram.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                out.push((feature_hash(b'c', &[&gram]), Family::Char));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_strips_punctuation_and_case() {
        assert_eq!(normalise("  Don't PANIC!!  Now?"), "dont panic now");
        assert_eq!(normalise("Größe—Über"), "größe über");
        assert_eq!(normalise("🙂🙂 ..."), "");
    }

    #[test]
    fn stem_is_light() {
        assert_eq!(stem("cards"), "card");
        assert_eq!(stem("booking"), "book");
        assert_eq!(stem("blocked"), "block");
        assert_eq!(stem("class"), "class");
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("ring"), "ring");
    }

    #[test]
    fn features_are_deterministic_and_empty_for_symbols() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        features("Where is my card?", &mut a);
        features("where is my CARD", &mut b);
        assert_eq!(a, b);
        assert!(a.iter().any(|(_, f)| *f == Family::Char));
        let mut none = Vec::new();
        features("?!? 🙂", &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn long_input_is_capped() {
        let long = "word ".repeat(10_000);
        assert!(normalise(&long).chars().count() <= MAX_INPUT_CHARS);
    }
}

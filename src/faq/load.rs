//! Reading and validating FAQ files (`[[faq]]` tables in TOML).
//!
//! Owns the file format: which keys exist, which are required, and the
//! semantic checks TOML cannot express (unique ids, non-empty questions).
//! It builds no index; `Faq::from_toml_str` does that with the entries
//! returned here.
//!
//! Invariant: every rejection is a `FaqError` with the origin and a
//! line:column; no input can make this module panic.

use serde::Deserialize;
use toml::Spanned;

use super::error::{position_of, FaqError};
use super::text::normalise;
use super::FaqEntry;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    faq: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    questions: Spanned<Vec<Spanned<String>>>,
    answer: Spanned<String>,
    team: Option<Spanned<String>>,
    #[serde(default)]
    escalate: bool,
    #[serde(default)]
    tags: Vec<String>,
}

struct Ctx<'a> {
    src: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn error(&self, offset: Option<usize>, message: impl Into<String>) -> FaqError {
        FaqError::Invalid {
            origin: self.origin.to_owned(),
            position: offset.map(|o| position_of(self.src, o)),
            message: message.into(),
        }
    }
}

/// Parses and validates `src`; `origin` (usually the path) names it in
/// errors.
pub(crate) fn parse_entries(src: &str, origin: &str) -> Result<Vec<FaqEntry>, FaqError> {
    let ctx = Ctx { src, origin };
    let raw: RawFile = toml::from_str(src)
        .map_err(|e| ctx.error(e.span().map(|s| s.start), e.message().trim().to_owned()))?;
    let mut entries: Vec<FaqEntry> = Vec::with_capacity(raw.faq.len());
    let mut seen = std::collections::HashMap::new();
    for table in raw.faq {
        let table_at = table.span().start;
        let entry = table.into_inner();
        let id = entry.id.get_ref().trim().to_owned();
        let id_at = entry.id.span().start;
        if id.is_empty() {
            return Err(ctx.error(Some(id_at), "FAQ entry id must not be empty"));
        }
        if let Some(first) = seen.insert(id.clone(), id_at) {
            let p = position_of(src, first);
            return Err(ctx.error(
                Some(id_at),
                format!("duplicate FAQ id {id:?} (first defined at line {})", p.line),
            ));
        }
        let questions_at = entry.questions.span().start;
        let questions = entry.questions.into_inner();
        if questions.is_empty() {
            return Err(ctx.error(
                Some(questions_at),
                format!("FAQ entry {id:?} has no questions"),
            ));
        }
        let mut texts = Vec::with_capacity(questions.len());
        for q in questions {
            if normalise(q.get_ref()).is_empty() {
                return Err(ctx.error(
                    Some(q.span().start),
                    format!("a question of FAQ entry {id:?} has no letters or digits to match on"),
                ));
            }
            texts.push(q.into_inner());
        }
        if entry.answer.get_ref().trim().is_empty() && !entry.escalate {
            return Err(ctx.error(
                Some(entry.answer.span().start),
                format!("FAQ entry {id:?} has an empty answer (set escalate = true for human-only topics)"),
            ));
        }
        let team = match entry.team {
            Some(t) if t.get_ref().trim().is_empty() => {
                return Err(ctx.error(Some(t.span().start), "team must not be empty"));
            }
            Some(t) => Some(t.into_inner()),
            None => None,
        };
        tracing::trace!(id = %id, at = table_at, "FAQ entry parsed");
        entries.push(FaqEntry {
            id,
            questions: texts,
            answer: entry.answer.into_inner(),
            team,
            escalate: entry.escalate,
            tags: entry.tags,
        });
    }
    Ok(entries)
}

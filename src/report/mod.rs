//! Manager reports over the store: `stats` figures and `export`
//! transcripts, the same from the CLI and from the daemon's `/api`.
//!
//! This module only reads; [`stats`] and [`export`] take a [`Store`] and
//! return finished text, so the CLI can print what it computed itself (the
//! store is free) or what the running daemon computed (the store is held by
//! `handoff run`: sled allows one process) without a second code path.

pub mod export;
pub mod gaps;
pub mod stats;

use handoff_bridge_api::Millis;

use crate::case::CaseId;
use crate::config::Config;
use crate::pii::Masker;
use crate::store::{Store, StoreError};

pub use export::Format;
pub use gaps::Gaps;
pub use stats::Stats;

/// How `stats` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    Text,
    Json,
    Csv,
}

impl std::str::FromStr for StatsFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<StatsFormat, String> {
        match s {
            "text" => Ok(StatsFormat::Text),
            "json" => Ok(StatsFormat::Json),
            "csv" => Ok(StatsFormat::Csv),
            other => Err(format!(
                "unknown stats format {other:?}: use text, json or csv"
            )),
        }
    }
}

impl Stats {
    /// The figures in `format`.
    pub fn format(&self, format: StatsFormat) -> Result<String, ReportError> {
        Ok(match format {
            StatsFormat::Text => self.render(),
            StatsFormat::Json => {
                serde_json::to_string_pretty(self)
                    .map_err(|e| ReportError::Output(e.to_string()))?
                    + "\n"
            }
            StatsFormat::Csv => self
                .to_csv()
                .map_err(|e| ReportError::Output(e.to_string()))?,
        })
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("there is no case #{0} in the store")]
    NoSuchCase(CaseId),
    #[error("bad [privacy] settings: {0}")]
    Privacy(String),
    #[error("cannot write the report: {0}")]
    Output(String),
}

/// Which cases to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    Case(CaseId),
    Since(Millis),
}

/// The stats for `[since, now]`, business times by `config`'s teams.
pub fn stats(
    store: &dyn Store,
    config: &Config,
    since: Millis,
    now: Millis,
) -> Result<Stats, ReportError> {
    let conversations = store.conversations()?;
    let cases = store.cases_since(since)?;
    let mut stats = Stats::compute(&conversations, &cases, since, now, &config.teams);
    stats.parked_outbox = store.outbox_parked()?.len() as u64;
    Ok(stats)
}

/// The selected cases' transcripts in `format`.
pub fn export(
    store: &dyn Store,
    config: &Config,
    selection: Selection,
    format: Format,
    anonymize: bool,
) -> Result<String, ReportError> {
    let mut cases = match selection {
        Selection::Case(id) => vec![store.case(id)?.ok_or(ReportError::NoSuchCase(id))?],
        Selection::Since(since) => {
            let mut whole = Vec::new();
            for head in store.cases_since(since)? {
                // Cases are never deleted: gone means a broken store.
                whole.push(
                    store
                        .case(head.id)?
                        .ok_or(ReportError::NoSuchCase(head.id))?,
                );
            }
            whole
        }
    };
    if anonymize {
        export::pseudonymize(&mut cases);
    }
    let masker = Masker::new(&config.privacy).map_err(ReportError::Privacy)?;
    Ok(export::render(&cases, format, &masker, &config.bot.name))
}

/// The FAQ gaps of `[since, now]`: unanswered questions of conversations
/// and of cases opened in the window, grouped at `min_similarity`.
pub fn gaps(
    store: &dyn Store,
    config: &Config,
    since: Millis,
    now: Millis,
    min_similarity: f32,
) -> Result<Gaps, ReportError> {
    let small_talk = crate::conversation::SmallTalkPhrases::new(&config.small_talk);
    let mut questions = Vec::new();
    for conv in store.conversations()? {
        if conv.last_customer_at >= since {
            questions.extend(gaps::gap_questions(&conv.turns, None, &small_talk));
        }
    }
    for head in store.cases_since(since)? {
        let case = store
            .case(head.id)?
            .ok_or(ReportError::NoSuchCase(head.id))?;
        questions.extend(gaps::gap_questions(
            gaps::bot_part(&case),
            Some(&case.reason),
            &small_talk,
        ));
    }
    let masker = Masker::new(&config.privacy).map_err(ReportError::Privacy)?;
    Ok(Gaps::compute(
        questions,
        since,
        now,
        min_similarity,
        &masker,
    ))
}

//! The configuration file: TOML → typed, validated [`Config`].
//!
//! Every problem is reported as `file:line:column: what is wrong`, whether
//! the TOML parser found it (syntax, unknown keys, wrong types, bad
//! durations, business hours or `${VAR}` references) or validation did
//! (teams, desks, defaults, FAQ path). Relative paths are resolved against
//! the directory of the config file. Secrets are [`env::Secret`]s, which
//! never print.

pub mod env;
mod networks;
mod sections;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

pub use env::Secret;
pub use networks::{NetworkDef, NetworkSettings, ParseSection};
pub use sections::*;

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    pub bot: BotConfig,
    /// Each configured network's own table, parsed by its plugin, by name.
    pub networks: BTreeMap<String, Arc<dyn NetworkSettings>>,
    pub escalation: EscalationConfig,
    pub conversation: ConversationConfig,
    pub messages: Messages,
    pub small_talk: SmallTalkConfig,
    pub privacy: PrivacyConfig,
    pub metrics: Option<MetricsConfig>,
    pub log: LogConfig,
    pub teams: Vec<Team>,
    /// Keys still accepted but deprecated, each as `file:line:column:
    /// what to use instead` (printed by `check-config`, logged by `run`).
    pub deprecations: Vec<String>,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The core's tables; every other top-level table must be a network's
/// (`other`), parsed by that network's plugin.
#[derive(Deserialize)]
struct RawConfig {
    bot: RawBot,
    #[serde(default)]
    escalation: EscalationConfig,
    #[serde(default)]
    conversation: ConversationConfig,
    #[serde(default)]
    messages: Messages,
    #[serde(default)]
    small_talk: SmallTalkConfig,
    privacy: Option<Spanned<PrivacyConfig>>,
    metrics: Option<MetricsConfig>,
    #[serde(default)]
    log: LogConfig,
    #[serde(default, rename = "team")]
    teams: Vec<Spanned<RawTeam>>,
    /// The networks' tables, parsed by their plugins (names checked there).
    #[serde(flatten)]
    _networks: BTreeMap<String, serde::de::IgnoredAny>,
}

impl Config {
    /// Reads and validates `path`, expanding `${VAR}` from the process
    /// environment; `networks` are the plugins this build has.
    pub fn load(path: &Path, networks: &[NetworkDef]) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&src, path, |name| std::env::var(name).ok(), networks)
    }

    /// Parses `src` as if read from `path`, answering `${VAR}` with `env`.
    /// Relative paths inside resolve against `path`'s directory. Checks
    /// that the FAQ file exists but does not load it. A top-level table
    /// that is not the core's must be one of `networks`, which parses it.
    pub fn parse(
        src: &str,
        path: &Path,
        env: impl Fn(&str) -> Option<String> + 'static,
        networks: &[NetworkDef],
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_col(src, span.start);
            ConfigError::Invalid {
                path: file.clone(),
                line,
                column,
                message,
            }
        };
        let parsed = env::with_lookup(Box::new(env), || {
            // The tables first (syntax errors; nothing expanded yet), then
            // the core's and each network's, reporting whichever problem
            // comes first in the document, as one parse would.
            let tables: BTreeMap<String, Spanned<serde::de::IgnoredAny>> =
                toml::from_str(src).map_err(toml_error)?;
            let mut problems: Vec<Located> = Vec::new();
            let mut sections = BTreeMap::new();
            for (name, table) in &tables {
                if CORE_TABLES.contains(&name.as_str()) {
                    continue;
                }
                let Some(def) = networks.iter().find(|n| n.name == name) else {
                    let known: Vec<&str> = networks.iter().map(|n| n.name).collect();
                    problems.push((
                        table.span(),
                        format!(
                            "unknown table [{name}]: not part of the config nor a network this build has ({})",
                            known.join(", ")
                        ),
                    ));
                    continue;
                };
                match (def.parse)(src) {
                    Ok(Some(settings)) => {
                        sections.insert(name.clone(), settings);
                    }
                    Ok(None) => {}
                    Err(problem) => problems.push(problem),
                }
            }
            let raw = toml::from_str::<RawConfig>(src).map_err(toml_error);
            if let Err(problem) = &raw {
                problems.push(problem.clone());
            }
            problems.sort_by_key(|(span, _)| span.start);
            match (raw, problems.into_iter().next()) {
                (Ok(raw), None) => Ok((raw, sections)),
                (_, Some(first)) => Err(first),
                (Err(e), None) => Err(e),
            }
        });
        let (raw, networks_set) = parsed.map_err(|(s, m)| at(s, m))?;
        let base = path.parent().unwrap_or(Path::new("."));

        let bot = raw.bot.resolve(base).map_err(|(s, m)| at(s, m))?;
        let teams = validate_teams(raw.teams, networks, &|n| networks_set.contains_key(n), base)
            .map_err(|(s, m)| at(s, m))?;
        let mut deprecations = Vec::new();
        let mut conversation = raw.conversation;
        for (name, settings) in &networks_set {
            let Some(old) = settings.deprecated_internal_prefix() else {
                continue;
            };
            let (line, column) = line_col(src, old.span().start);
            let what = if conversation.internal_prefix.is_some() {
                "ignored, [conversation] internal_prefix is set"
            } else {
                "move it to [conversation] internal_prefix"
            };
            deprecations.push(format!(
                "{file}:{line}:{column}: [{name}] internal_prefix is deprecated; {what}"
            ));
            if conversation.internal_prefix.is_none() {
                conversation.internal_prefix = Some(old.get_ref().clone());
            }
        }
        let privacy = match raw.privacy {
            Some(p) => {
                let span = p.span();
                let p = p.into_inner();
                p.check().map_err(|m| at(span, m))?;
                p
            }
            None => PrivacyConfig::default(),
        };
        Ok(Config {
            path: path.to_path_buf(),
            bot,
            networks: networks_set,
            escalation: raw.escalation,
            conversation,
            messages: raw.messages,
            small_talk: raw.small_talk,
            privacy,
            metrics: raw.metrics,
            log: raw.log,
            teams,
            deprecations,
        })
    }

    /// Agent messages starting with this are internal notes, on every
    /// desk; None when turned off (an empty prefix).
    pub fn internal_prefix(&self) -> Option<&str> {
        let prefix = self
            .conversation
            .internal_prefix
            .as_deref()
            .unwrap_or(DEFAULT_INTERNAL_PREFIX);
        (!prefix.is_empty()).then_some(prefix)
    }

    /// The settings of network `name`, if it is configured and its plugin
    /// parsed them into a `T`.
    pub fn settings<T: 'static>(&self, name: &str) -> Option<&T> {
        self.networks.get(name)?.as_any().downcast_ref::<T>()
    }

    /// The team cases go to when no topic matches.
    pub fn default_team(&self) -> &Team {
        // Validation guarantees exactly one default team exists.
        self.teams
            .iter()
            .find(|t| t.default)
            .unwrap_or(&self.teams[0])
    }

    /// The team called `name` (case-insensitive).
    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, tail)| tail)
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A problem and where in the document it is.
pub type Located = (std::ops::Range<usize>, String);

/// The core's top-level tables ([`RawConfig`]'s fields); any other table
/// is a network's.
const CORE_TABLES: &[&str] = &[
    "bot",
    "escalation",
    "conversation",
    "messages",
    "small_talk",
    "privacy",
    "metrics",
    "log",
    "team",
];

fn toml_error(e: toml::de::Error) -> Located {
    (e.span().unwrap_or(0..0), e.message().trim().to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBot {
    #[serde(default = "default_bot_name")]
    name: String,
    #[serde(deserialize_with = "env::string")]
    store: String,
    faq: Spanned<String>,
    #[serde(default = "default_min_confidence")]
    min_confidence: Spanned<f32>,
}

fn default_bot_name() -> String {
    "Helper".into()
}

fn default_min_confidence() -> Spanned<f32> {
    Spanned::new(0..0, crate::faq::DEFAULT_MIN_CONFIDENCE)
}

impl RawBot {
    fn resolve(self, base: &Path) -> Result<BotConfig, Located> {
        let faq_span = self.faq.span();
        let faq_raw = env::expand(self.faq.get_ref()).map_err(|m| (faq_span.clone(), m))?;
        let faq = base.join(&faq_raw);
        if !faq.is_file() {
            return Err((
                faq_span,
                format!("FAQ file {} does not exist", faq.display()),
            ));
        }
        let c = *self.min_confidence.get_ref();
        if !(0.0..=1.0).contains(&c) {
            return Err((
                self.min_confidence.span(),
                format!("min_confidence must be between 0 and 1, not {c}"),
            ));
        }
        Ok(BotConfig {
            name: self.name,
            store: base.join(self.store),
            faq,
            min_confidence: c,
        })
    }
}

fn validate_teams(
    raw: Vec<Spanned<RawTeam>>,
    networks: &[NetworkDef],
    configured: &dyn Fn(&str) -> bool,
    base: &Path,
) -> Result<Vec<Team>, Located> {
    if raw.is_empty() {
        return Err((
            0..0,
            "no [[team]] is configured: add at least one team with a desk".into(),
        ));
    }
    let mut teams: Vec<Team> = Vec::with_capacity(raw.len());
    let mut default_seen: Option<String> = None;
    let spans: Vec<_> = raw.iter().map(|t| t.span()).collect();
    for (t, span) in raw.into_iter().zip(spans.iter().cloned()) {
        let t = t.into_inner();
        if teams.iter().any(|o| o.name.eq_ignore_ascii_case(&t.name)) {
            return Err((span, format!("team {:?} is defined twice", t.name)));
        }
        if let Some(flag) = t.default.as_ref().filter(|d| *d.get_ref()) {
            if let Some(first) = &default_seen {
                return Err((
                    flag.span(),
                    format!(
                        "teams {first:?} and {:?} are both `default = true`; only one team can be the default",
                        t.name
                    ),
                ));
            }
            default_seen = Some(t.name.clone());
        }
        teams.push(t.into_team(span, networks, configured, base)?);
    }
    if default_seen.is_none() {
        if teams.len() == 1 {
            teams[0].default = true;
        } else {
            return Err((
                spans[0].clone(),
                "several teams but none is `default = true`: mark the team that takes unrouted cases"
                    .into(),
            ));
        }
    }
    for (t, span) in teams.iter().zip(spans) {
        if t.fallback_when_closed && t.fallback.is_none() {
            return Err((
                span,
                format!(
                    "team {:?}: `fallback_when_closed = true` needs a `fallback` team",
                    t.name
                ),
            ));
        }
        if let Some(f) = &t.fallback {
            if !teams.iter().any(|o| o.name.eq_ignore_ascii_case(f)) {
                return Err((
                    span,
                    format!("team {:?}: fallback team {f:?} does not exist", t.name),
                ));
            }
            if f.eq_ignore_ascii_case(&t.name) {
                return Err((
                    span,
                    format!("team {:?} cannot be its own fallback", t.name),
                ));
            }
        }
    }
    Ok(teams)
}

#[cfg(test)]
mod tests;

//! The tables of the config file, one struct each, with their defaults.
//!
//! Values that have a grammar (durations, business hours, desks) are
//! parsed during deserialization so their errors carry the TOML position.
//! Defaults live here, next to the field they fill; `config/example.toml`
//! documents the same values and a test keeps the two in step.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::env::{self, Secret};
use super::{Located, NetworkDef};
use crate::hours::BusinessHours;

/// `[bot]`
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The name the bot uses for itself in messages.
    pub name: String,
    /// Directory of the sled store.
    pub store: PathBuf,
    /// The FAQ file.
    pub faq: PathBuf,
    /// Below this confidence the bot does not answer.
    pub min_confidence: f32,
}

/// In a team's `agents`: everyone who can write on the desk and is a full
/// member there (`Standing::Member`: never a guest, an outsider or
/// someone the network could not look up).
pub const CHANNEL_MEMBERS: &str = "channel-members";

/// The internal prefix when none is configured.
pub const DEFAULT_INTERNAL_PREFIX: &str = "//";

/// `[escalation]`: when the bot hands over.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Phrases with which a customer asks for a person.
    pub ask_phrases: Vec<String>,
    /// Hand over after this many unanswered messages in a row (0: never).
    pub max_misses: u32,
    /// Topics (words or phrases) only humans handle.
    pub human_topics: Vec<String>,
    /// Words that signal anger or distress.
    pub anger_words: Vec<String>,
    /// Phrases with which a customer says the answer did not help.
    pub reject_phrases: Vec<String>,
    /// Customers (user ids) who always get a person.
    pub vip: Vec<String>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        EscalationConfig {
            ask_phrases: v(&[
                "human",
                "agent",
                "real person",
                "talk to a person",
                "speak to someone",
                "representative",
                "operator",
            ]),
            max_misses: 2,
            human_topics: Vec::new(),
            anger_words: v(&[
                "angry",
                "furious",
                "ridiculous",
                "unacceptable",
                "terrible",
                "worst",
                "scam",
                "useless",
                "lawyer",
                "complaint",
            ]),
            reject_phrases: v(&[
                "didn't help",
                "did not help",
                "doesn't help",
                "not helpful",
                "wrong answer",
                "not what i asked",
                "that's not it",
            ]),
            vip: Vec::new(),
        }
    }
}

/// `[conversation]`: timing and memory of conversations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// Turns shown in the case summary.
    pub summary_turns: usize,
    /// A queued customer silent this long is marked abandoned.
    #[serde(deserialize_with = "duration")]
    pub abandon_after: Duration,
    /// Ask for a 1–5 rating after a case is resolved.
    pub csat: bool,
    /// Tell waiting customers their new place when it improves by this much.
    pub queue_update_step: u32,
    /// At most this many customer messages (and files) per `rate_window`;
    /// more are dropped, with one `messages.slow_down` notice. 0: no limit.
    pub rate_limit: u32,
    #[serde(deserialize_with = "duration")]
    pub rate_window: Duration,
    /// Agent messages starting with this stay internal, like `!note`, on
    /// every desk ("" turns it off). Unset: the deprecated
    /// `[slack] internal_prefix`, else `//` (see [`super::Config::internal_prefix`]).
    pub internal_prefix: Option<String>,
    /// A customer who writes again within this time after their case was
    /// resolved reopens it on the same desk instead of starting over with
    /// the bot. 0 (the default): never.
    #[serde(deserialize_with = "duration")]
    pub reopen_within: Duration,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            summary_turns: 10,
            abandon_after: Duration::from_secs(30 * 60),
            csat: true,
            queue_update_step: 2,
            rate_limit: 60,
            rate_window: Duration::from_secs(60),
            internal_prefix: None,
            reopen_within: Duration::ZERO,
        }
    }
}

/// `[small_talk]`: messages the bot answers politely instead of looking
/// them up in the FAQ. A message is small talk only when all of it (case,
/// punctuation and emoji aside) is one of these phrases, so "hi, my card is
/// blocked" is still a question. Small talk never counts as a miss.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmallTalkConfig {
    pub greetings: Vec<String>,
    pub thanks: Vec<String>,
    pub goodbyes: Vec<String>,
    pub acknowledgements: Vec<String>,
}

impl Default for SmallTalkConfig {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect();
        SmallTalkConfig {
            greetings: v(&[
                "hi",
                "hello",
                "hey",
                "hi there",
                "hello there",
                "hey there",
                "good morning",
                "good afternoon",
                "good evening",
            ]),
            thanks: v(&[
                "thanks",
                "thank you",
                "thanks a lot",
                "thank you very much",
                "many thanks",
                "thx",
                "ty",
                "cheers",
                "thanks so much",
            ]),
            goodbyes: v(&[
                "bye",
                "goodbye",
                "bye bye",
                "see you",
                "see ya",
                "have a nice day",
            ]),
            acknowledgements: v(&[
                "ok",
                "okay",
                "ok thanks",
                "okay thanks",
                "ok thank you",
                "great",
                "great thanks",
                "cool",
                "got it",
                "perfect",
                "awesome",
                "nice",
                "alright",
                "all right",
            ]),
        }
    }
}

/// `[privacy]`: what is masked in summaries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Built-in patterns to mask: "card", "email", "phone".
    pub mask: Vec<String>,
    /// Extra regular expressions to mask.
    pub extra_patterns: Vec<String>,
    /// How long transcripts are kept after their case closes (and idle
    /// conversations with the bot); older ones lose their text, enforced
    /// by the daemon (`crate::privacy`). Unset: kept for good.
    #[serde(deserialize_with = "opt_duration")]
    pub keep: Option<Duration>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            mask: vec!["card".into(), "email".into(), "phone".into()],
            extra_patterns: Vec::new(),
            keep: None,
        }
    }
}

/// The shortest `[privacy] keep`: shorter would erase the transcripts of
/// cases agents are still looking at.
pub const MIN_KEEP: Duration = Duration::from_secs(24 * 3600);

impl PrivacyConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(keep) = self.keep {
            if keep < MIN_KEEP {
                return Err(format!(
                    "keep = {:?} is shorter than a day; transcripts must outlive the cases agents still read",
                    humantime::format_duration(keep).to_string()
                ));
            }
        }
        crate::pii::Masker::new(self).map(|_| ())
    }
}

/// `[log]`: how log lines are written (the filter stays `RUST_LOG`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// `[log] format`: human-readable text (the default) or one JSON object
/// per line, for the journal or a log shipper.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[metrics]`: the Prometheus and health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    #[serde(deserialize_with = "env::string")]
    pub listen: String,
    /// Bearer token `/api/*` requires (besides a loopback peer and Host);
    /// `${VAR}` allowed. Without it `/api` is off and `stats`/`export`
    /// cannot ask the running daemon.
    #[serde(default)]
    pub api_token: Option<Secret>,
}

/// `[messages]`: everything the bot says on its own. Placeholders in
/// braces are filled in; unknown ones are left as they are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Messages {
    /// The bot could not answer. `{bot}`
    pub no_answer: String,
    /// A case opened. `{team}`, `{position}`, `{wait}`
    pub handover: String,
    /// A case opened outside business hours. `{team}`, `{opens}`
    pub handover_closed: String,
    /// The customer's place in the queue improved. `{position}`, `{wait}`
    pub queue_update: String,
    /// An agent took the case. `{agent}`
    pub agent_joined: String,
    /// The case was moved to another team. `{team}`
    pub transferred: String,
    /// The case was resolved; the bot is back. `{bot}`
    pub resolved: String,
    /// Rating question after resolve.
    pub csat_question: String,
    /// Thanks for a rating. `{score}`
    pub csat_thanks: String,
    /// A waiting customer wrote again: their message was passed on.
    pub still_waiting: String,
    /// A customer is over `[conversation] rate_limit` (said once per flood).
    pub slow_down: String,
    /// A customer wrote again soon after their case was resolved, which
    /// reopened it (`[conversation] reopen_within`). `{team}`
    pub reopened: String,
    /// Replies to small talk (`[small_talk]`), one per kind. `{bot}`
    pub greeting: String,
    pub thanks: String,
    pub goodbye: String,
    pub acknowledgement: String,
    /// Opens the clarifying question; the choices follow, numbered.
    pub clarify: String,
    /// The last choice of a clarifying question.
    pub clarify_person: String,
    /// Closes the clarifying question (how to answer it).
    pub clarify_hint: String,
}

impl Default for Messages {
    fn default() -> Self {
        Messages {
            no_answer: "Sorry, I don't know that one yet. Could you put it another way? If you'd rather talk to a person, just say \"agent\".".into(),
            handover: "I'm bringing in someone from our {team} team, who can see everything we've said so far, so you won't have to repeat yourself. You're number {position} in line; {wait}".into(),
            handover_closed: "Our {team} team is offline right now and opens again {opens}. I've passed on everything we've said; leave any details here and they'll reply as soon as they're back.".into(),
            queue_update: "Quick update: you're now number {position} in line; {wait}".into(),
            agent_joined: "{agent} has joined and will help you from here.".into(),
            transferred: "I've passed your conversation to our {team} team, who are better placed to help; they can see everything so far.".into(),
            resolved: "This conversation has been closed by our team. I'm {bot}, and I'm here again if you need anything else.".into(),
            csat_question: "How did we do? Reply with a number from 1 (poor) to 5 (great).".into(),
            csat_thanks: "Thank you for rating us {score}/5.".into(),
            still_waiting: "Got it, I've passed that on. A person will reply here.".into(),
            slow_down: "You're sending messages faster than I can read them. I'll pick up again in a minute; please wait a moment before sending more.".into(),
            reopened: "I've reopened your conversation with our {team} team and passed your message on; they can see everything so far.".into(),
            greeting: "Hello! I'm {bot}. What can I help you with?".into(),
            thanks: "You're welcome! Anything else I can help with?".into(),
            goodbye: "Goodbye, and thanks for getting in touch!".into(),
            acknowledgement: "Glad I could help. Is there anything else?".into(),
            clarify: "I'm not quite sure what you mean. Did you mean:".into(),
            clarify_person: "None of these: talk to a person".into(),
            clarify_hint: "Reply with the number of your choice.".into(),
        }
    }
}

/// Where a team works its cases: a network, and a target inside it.
/// `desk = "name"` (no target) asks the network for a private room per
/// case with the team's agents invited; `desk = "name:target"` for a
/// thread per case in the room or channel `target`. Which targets a
/// network accepts is its plugin's to say (checked at load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    pub network: String,
    pub target: Option<String>,
}

impl Desk {
    /// The bridge network that serves this desk.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// A private room per case (no target).
    pub fn is_room_per_case(&self) -> bool {
        self.target.is_none()
    }
}

impl std::fmt::Display for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            None => write!(f, "{} (a private room per case)", self.network),
            Some(t) => write!(f, "{}:{t} (a thread per case)", self.network),
        }
    }
}

impl std::str::FromStr for Desk {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (network, target) = match s.split_once(':') {
            Some((n, t)) => (n, Some(t.trim())),
            None => (s, None),
        };
        let named = !network.is_empty()
            && network
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !named || target.is_some_and(str::is_empty) {
            return Err(format!(
                "desk {s:?} is not \"network\" (a private room per case) or \"network:room\" (a thread per case), e.g. \"matrix\" or \"slack:#support\""
            ));
        }
        Ok(Desk {
            network: network.to_string(),
            target: target.map(str::to_string),
        })
    }
}

/// `[[team]]` as written; checked into a [`Team`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTeam {
    pub name: String,
    pub desk: Spanned<String>,
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default, deserialize_with = "opt_parsed")]
    pub hours: Option<BusinessHours>,
    pub holidays: Option<Spanned<Vec<String>>>,
    /// An iCalendar file of holidays (relative to the config file).
    pub holidays_file: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub first_reply_sla: Option<Duration>,
    pub fallback: Option<String>,
    #[serde(default)]
    pub fallback_when_closed: bool,
    pub mention: Option<String>,
    pub default: Option<Spanned<bool>>,
}

/// A team of agents with its desk, topics, hours and SLA.
#[derive(Debug, Clone)]
pub struct Team {
    pub name: String,
    pub desk: Desk,
    /// Who may act on the team's cases: user ids of any network, groups
    /// a network reports membership of (Slack user groups `@handle`,
    /// `S…`), or [`CHANNEL_MEMBERS`]; empty: the desk's full members
    /// (`conversation::agent`). For a room-per-case desk, who is invited.
    pub agents: Vec<String>,
    /// Words or phrases whose cases this team takes.
    pub topics: Vec<String>,
    pub hours: BusinessHours,
    /// Time allowed until the first human reply.
    pub first_reply_sla: Option<Duration>,
    /// Team that takes over when the SLA is missed.
    pub fallback: Option<String>,
    /// New cases go to `fallback` while this team is closed and the
    /// fallback team is open (`fallback_when_closed = true`).
    pub fallback_when_closed: bool,
    /// Mention used when pinging the team (`@here`, a user id).
    pub mention: Option<String>,
    pub default: bool,
}

impl RawTeam {
    pub(super) fn is_default(&self) -> bool {
        self.default.as_ref().is_some_and(|d| *d.get_ref())
    }

    pub(super) fn into_team(
        self,
        span: std::ops::Range<usize>,
        networks: &[NetworkDef],
        configured: &dyn Fn(&str) -> bool,
        base: &std::path::Path,
    ) -> Result<Team, Located> {
        let default = self.is_default();
        let hours = match self.hours {
            Some(h) => h,
            None => BusinessHours::always(),
        };
        let hours = match &self.holidays {
            Some(h) => hours
                .with_holidays(h.get_ref())
                .map_err(|m| (h.span(), m))?,
            None => hours,
        };
        let hours = match &self.holidays_file {
            Some(f) => {
                let path = base.join(f.get_ref());
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    (
                        f.span(),
                        format!("holidays_file {}: cannot read it: {e}", path.display()),
                    )
                })?;
                hours
                    .with_calendar(&path.display().to_string(), &text)
                    .map_err(|m| (f.span(), m))?
            }
            None => hours,
        };
        let name = self.name;
        let desk_span = self.desk.span();
        let desk: Desk = self
            .desk
            .get_ref()
            .parse()
            .map_err(|m| (desk_span.clone(), m))?;
        let Some(def) = networks.iter().find(|n| n.name == desk.network) else {
            let known: Vec<&str> = networks.iter().map(|n| n.name).collect();
            return Err((
                desk_span,
                format!(
                    "team {name:?}: desk network {:?} is not one this build has (it has: {})",
                    desk.network,
                    known.join(", ")
                ),
            ));
        };
        (def.check_desk)(desk.target.as_deref())
            .map_err(|m| (desk_span.clone(), format!("team {name:?}: {m}")))?;
        if desk.is_room_per_case() && self.agents.is_empty() {
            return Err((
                span.clone(),
                format!("team {name:?} uses desk {:?} (a private room per case) but lists no `agents` to invite", desk.network),
            ));
        }
        if !configured(&desk.network) {
            return Err((
                span,
                format!(
                    "team {name:?} uses a {} desk but there is no [{}] section",
                    desk.network, desk.network
                ),
            ));
        }
        Ok(Team {
            name,
            desk,
            agents: self.agents,
            topics: self.topics,
            hours,
            first_reply_sla: self.first_reply_sla,
            fallback: self.fallback,
            fallback_when_closed: self.fallback_when_closed,
            mention: self.mention,
            default,
        })
    }
}

/// A human duration ("90s", "10m", "1h 30m").
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "{s:?} is not a duration like \"90s\", \"10m\" or \"1h 30m\": {e}"
        ))
    })
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn opt_parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    parsed(d).map(Some)
}

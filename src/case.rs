//! The data every part of handoff shares: customers, conversations, cases,
//! transcript turns and outbox entries.
//!
//! These are plain values (serde, no behaviour beyond small helpers): the
//! state machine in `conversation` transforms them, `store` persists them,
//! `summary` renders them. Everything persisted here must stay readable by
//! later versions, so new fields get `#[serde(default)]`.

use handoff_bridge_api::{Endpoint, MessageRef, Millis, UserRef};
use serde::{Deserialize, Serialize};

/// Case number, unique per store, counting up from 1.
pub type CaseId = u64;

/// Identifies one customer's conversation with the bot: the network, the
/// place they talk to the bot (room, or thread in a busy room) and the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey(pub String);

impl ConversationKey {
    pub fn new(endpoint: &Endpoint, user: &UserRef) -> Self {
        ConversationKey(format!("{}|{}", endpoint, user.id))
    }
}

impl std::fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The customer of a conversation and where they talk to the bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub user: UserRef,
    pub endpoint: Endpoint,
    /// Their endpoint is end-to-end encrypted on its network (once seen
    /// so, kept): their cases ask for encrypted desks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// Who said a turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Speaker {
    Customer,
    Bot,
    /// An agent, by display name.
    Agent(String),
    /// A message the bot sent on its own (wait notices, state changes).
    System,
}

/// The FAQ entry the bot matched, and how sure it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaqHit {
    pub id: String,
    pub confidence: f32,
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub at: Millis,
    pub speaker: Speaker,
    pub text: String,
    /// For customer turns: the best FAQ match (answered or not). For bot
    /// turns: the entry it answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faq: Option<FaqHit>,
    /// Internal notes (`!note`): shown to agents, never to the customer.
    #[serde(default)]
    pub internal: bool,
    /// The network message this turn records (its id), so a deletion of
    /// that message can remove the turn's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The message was deleted: its text is gone from the store (empty)
    /// and summaries and exports show that a message was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl Turn {
    /// Removes the text of a deleted message, keeping when and who.
    pub fn redact(&mut self) {
        self.text.clear();
        self.faq = None;
        self.deleted = true;
    }

    /// Removes everything the turn says and links to, keeping when and
    /// who (an erased case's transcript; `crate::privacy`).
    pub fn erase(&mut self) {
        self.redact();
        self.source = None;
    }
}

/// Why the bot handed a conversation to a human. Shown in the summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EscalationReason {
    /// The customer asked for a person ("human", "agent", ...).
    AskedForHuman { phrase: String },
    /// The bot could not answer `count` times in a row.
    RepeatedMisses { count: u32 },
    /// The question touches a topic only humans handle.
    HumanTopic { topic: String },
    /// The FAQ entry that matched is marked `escalate = true`.
    FaqEscalate { faq_id: String },
    /// The customer sounded angry or upset.
    Anger { word: String },
    /// The customer is on the VIP list.
    Vip,
    /// The customer said the bot's answer did not help.
    AnswerRejected {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        faq_id: Option<String>,
    },
    /// The bot was unsure and offered the closest FAQ entries; the
    /// customer wanted none of them.
    ClarifyDeclined {
        #[serde(default)]
        offered: Vec<String>,
    },
    /// An agent moved the case from another team.
    Transfer { from: String },
    /// Nobody replied within the first-reply SLA; re-escalated.
    SlaMissed { from: String },
}

impl std::fmt::Display for EscalationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EscalationReason::AskedForHuman { phrase } => {
                write!(f, "customer asked for a person (\u{201c}{phrase}\u{201d})")
            }
            EscalationReason::RepeatedMisses { count } => {
                write!(f, "bot could not answer {count} times in a row")
            }
            EscalationReason::HumanTopic { topic } => write!(f, "human-only topic: {topic}"),
            EscalationReason::FaqEscalate { faq_id } => {
                write!(
                    f,
                    "FAQ entry \u{201c}{faq_id}\u{201d} always goes to a person"
                )
            }
            EscalationReason::Anger { word } => {
                write!(f, "customer sounds upset (\u{201c}{word}\u{201d})")
            }
            EscalationReason::Vip => f.write_str("VIP customer"),
            EscalationReason::AnswerRejected { faq_id: Some(id) } => {
                write!(
                    f,
                    "customer said the answer \u{201c}{id}\u{201d} did not help"
                )
            }
            EscalationReason::AnswerRejected { faq_id: None } => {
                f.write_str("customer said the answer did not help")
            }
            EscalationReason::ClarifyDeclined { offered } if offered.is_empty() => {
                f.write_str("none of the FAQ entries the bot offered fit")
            }
            EscalationReason::ClarifyDeclined { offered } => write!(
                f,
                "none of the FAQ entries the bot offered fit ({})",
                offered.join(", ")
            ),
            EscalationReason::Transfer { from } => write!(f, "transferred from {from}"),
            EscalationReason::SlaMissed { from } => {
                write!(f, "no reply within the SLA of {from}")
            }
        }
    }
}

impl EscalationReason {
    /// A short stable label for metrics and stats (`asked_for_human`, ...).
    /// Every [`label`](Self::label), for metrics zeroed at start.
    pub const LABELS: &'static [&'static str] = &[
        "asked_for_human",
        "repeated_misses",
        "human_topic",
        "faq_escalate",
        "anger",
        "vip",
        "answer_rejected",
        "clarify_declined",
        "transfer",
        "sla_missed",
    ];

    pub fn label(&self) -> &'static str {
        match self {
            EscalationReason::AskedForHuman { .. } => "asked_for_human",
            EscalationReason::RepeatedMisses { .. } => "repeated_misses",
            EscalationReason::HumanTopic { .. } => "human_topic",
            EscalationReason::FaqEscalate { .. } => "faq_escalate",
            EscalationReason::Anger { .. } => "anger",
            EscalationReason::Vip => "vip",
            EscalationReason::AnswerRejected { .. } => "answer_rejected",
            EscalationReason::ClarifyDeclined { .. } => "clarify_declined",
            EscalationReason::Transfer { .. } => "transfer",
            EscalationReason::SlaMissed { .. } => "sla_missed",
        }
    }
}

/// Where a case is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for an agent.
    Queued,
    /// An agent owns it.
    Assigned { agent_id: String, agent: String },
    /// Closed by an agent; the bot is back.
    Resolved { by: String },
    /// The customer went away while waiting.
    Abandoned,
}

impl CaseState {
    /// True while the case is waiting for or being worked by a human.
    pub fn is_open(&self) -> bool {
        matches!(self, CaseState::Queued | CaseState::Assigned { .. })
    }
}

/// Where the case lives on the agents' desk once opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDesk {
    /// The private room, or the thread in the team channel.
    pub endpoint: Endpoint,
    /// The pinned summary message.
    pub summary: MessageRef,
}

/// A team change of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub at: Millis,
    pub from: String,
    pub to: String,
    pub by: String,
}

/// A line about an earlier case of the same customer, for the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousCase {
    pub id: CaseId,
    pub opened_at: Millis,
    pub team: String,
    /// The escalation reason, as shown to agents.
    pub reason: String,
    pub state: CaseState,
}

impl PreviousCase {
    pub fn of(case: &Case) -> PreviousCase {
        PreviousCase {
            id: case.id,
            opened_at: case.opened_at,
            team: case.team.clone(),
            reason: case.reason.to_string(),
            state: case.state.clone(),
        }
    }
}

/// One handover to humans, from escalation to resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub conversation: ConversationKey,
    pub customer: Customer,
    pub team: String,
    pub reason: EscalationReason,
    /// The detected intent (best FAQ entry) or topic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    pub state: CaseState,
    pub opened_at: Millis,
    /// When the customer started talking to the bot in this conversation.
    pub bot_since: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_human_reply_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Millis>,
    /// Set once the desk confirmed the case room/thread exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<CaseDesk>,
    /// Everything said, bot part first, notes marked internal. Only ever
    /// appended to. Not part of the serialized case: the store keeps each
    /// turn as a record of its own, so a message costs the same in a case
    /// of 2,000 turns as in one of 10 (store format 3; format 2 records
    /// still carry it, which is how they are migrated).
    #[serde(default, skip_serializing)]
    pub transcript: Vec<Turn>,
    /// First-reply deadline (absent when the team has no SLA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_deadline: Option<Millis>,
    /// The SLA passed without a human reply.
    #[serde(default)]
    pub overdue: bool,
    /// Opened outside the team's business hours.
    #[serde(default)]
    pub out_of_hours: bool,
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    /// Earlier cases of the same customer, newest first.
    #[serde(default)]
    pub previous_cases: Vec<PreviousCase>,
    /// The queue position the customer was last told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told_position: Option<u32>,
    /// Customer satisfaction 1–5, when asked and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<u8>,
    /// Who wrote the desk's recent relayed lines, files and reactions, so
    /// an edit, deletion or reaction is honoured only from the author of
    /// its target (newest [`DESK_AUTHORS_KEPT`]; see [`Case::author_of`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub desk_authors: Vec<Authored>,
    /// The team the case was routed to, when that team was closed and the
    /// case went to its fallback instead (`fallback_when_closed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_team: Option<String>,
    /// When the customer reopened the case by writing again soon after it
    /// was resolved (`[conversation] reopen_within`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reopened: Vec<Millis>,
    /// When its transcript's text was erased (the retention period, or its
    /// customer asked to be forgotten; `crate::privacy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<Millis>,
}

/// How many desk lines a case remembers the author of. The case record is
/// rewritten on every step, so this stays bounded; an edit of an older
/// line is refused like one from a stranger.
pub const DESK_AUTHORS_KEPT: usize = 200;

/// One desk line (or reaction) and the user id of the agent who sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authored {
    pub msg: MessageRef,
    pub author: String,
}

/// Same message, whatever thread the network reported it in (an edit's
/// target often comes without the thread of the original).
fn same_message(a: &MessageRef, b: &MessageRef) -> bool {
    a.id == b.id && a.endpoint.network == b.endpoint.network && a.endpoint.room == b.endpoint.room
}

impl Case {
    /// Remembers that `author` (a user id) sent `msg` on the desk.
    pub fn record_author(&mut self, msg: &MessageRef, author: &str) {
        self.desk_authors.retain(|a| !same_message(&a.msg, msg));
        self.desk_authors.push(Authored {
            msg: msg.clone(),
            author: author.to_string(),
        });
        let excess = self.desk_authors.len().saturating_sub(DESK_AUTHORS_KEPT);
        self.desk_authors.drain(..excess);
    }

    /// The user id of the agent who sent `msg` on the desk, if remembered.
    pub fn author_of(&self, msg: &MessageRef) -> Option<&str> {
        self.desk_authors
            .iter()
            .rev()
            .find(|a| same_message(&a.msg, msg))
            .map(|a| a.author.as_str())
    }
}

/// Where a conversation is in the lifecycle
/// `Bot → Queued → Assigned → Resolved → Bot`, plus `Abandoned`.
///
/// Never stored: it is derived ([`Phase::of`]) from the conversation's
/// link to its case and that case's [`CaseState`], so who owns a
/// conversation has one truth. (Format version 3 and older stored it; see
/// [`Conversation::case`].)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", content = "case", rename_all = "snake_case")]
pub enum Phase {
    /// The bot answers.
    Bot,
    /// Handed over, waiting for an agent.
    Queued(CaseId),
    /// An agent owns the conversation; the bot is silent.
    Assigned(CaseId),
    /// The last case was resolved; the bot answers again (and may ask for
    /// a rating).
    Resolved(CaseId),
    /// The customer left while queued; the case resumes if they return.
    Abandoned(CaseId),
}

impl Phase {
    /// The phase of a conversation linked to `link` whose loaded case is
    /// `case`: the case's state, or `Bot` when there is no link (or the
    /// linked case is not the one loaded).
    pub fn of(link: Option<CaseId>, case: Option<&Case>) -> Phase {
        match (link, case) {
            (Some(id), Some(case)) if case.id == id => match case.state {
                CaseState::Queued => Phase::Queued(id),
                CaseState::Assigned { .. } => Phase::Assigned(id),
                CaseState::Resolved { .. } => Phase::Resolved(id),
                CaseState::Abandoned => Phase::Abandoned(id),
            },
            _ => Phase::Bot,
        }
    }

    /// The case a human is (or was last) involved in.
    pub fn case(&self) -> Option<CaseId> {
        match self {
            Phase::Bot => None,
            Phase::Queued(c) | Phase::Assigned(c) | Phase::Resolved(c) | Phase::Abandoned(c) => {
                Some(*c)
            }
        }
    }

    /// True while a human owns or is about to own the conversation.
    pub fn human_owned(&self) -> bool {
        matches!(self, Phase::Queued(_) | Phase::Assigned(_))
    }
}

/// One customer's conversation with handoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub key: ConversationKey,
    pub customer: Customer,
    /// The case this conversation is linked to: open, abandoned, or
    /// resolved and not yet followed by a new turn with the bot; `None`
    /// while only the bot talks. Who owns the conversation is that case's
    /// state ([`Phase::of`]), never stored twice. Format version 3 and
    /// older stored a `phase` instead; it is read as the link it names.
    #[serde(default, alias = "phase", deserialize_with = "link::deserialize")]
    pub case: Option<CaseId>,
    /// Turns with the bot since the last case (bounded; the oldest drop).
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// Consecutive customer messages the bot could not answer.
    #[serde(default)]
    pub misses_in_row: u32,
    /// The last FAQ answer the bot gave, for "that didn't help".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<FaqHit>,
    /// When this stretch with the bot started.
    pub bot_since: Millis,
    /// Last time the customer wrote.
    pub last_customer_at: Millis,
    /// A rating question is waiting for its answer.
    #[serde(default)]
    pub awaiting_csat: bool,
    /// The customer was told their extra messages reach the team.
    #[serde(default)]
    pub waiting_acked: bool,
    /// When the customer's messages within the rate window arrived
    /// (`[conversation] rate_limit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_messages: Vec<Millis>,
    /// Over the rate limit and already told so (told once per flood).
    #[serde(default)]
    pub throttled: bool,
    /// The FAQ entries the bot offered ("did you mean"), waiting for the
    /// customer's pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clarifying: Option<Clarifying>,
}

/// Choices the bot offered when unsure, best first; the customer answers
/// with a number, a title, or "person" (the last number).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clarifying {
    pub choices: Vec<FaqHit>,
}

/// An effect of the state machine waiting in the durable outbox. It is
/// resolved into a bridge action only when delivered, so a relay queued
/// before its case room exists goes to the room once it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub conversation: ConversationKey,
    /// Idempotency key, stable across restarts (inbound event id + index).
    pub key: String,
    pub effect: crate::effect::Effect,
    /// Delivery attempts so far.
    #[serde(default)]
    pub attempts: u32,
}

/// Reading [`Conversation::case`]: a case number (or null), or the
/// `phase` object of format version 3 and older.
mod link {
    use serde::{Deserialize, Deserializer};

    use super::{CaseId, Phase};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Link {
        Case(Option<CaseId>),
        Phase(Phase),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CaseId>, D::Error> {
        Ok(match Link::deserialize(d)? {
            Link::Case(link) => link,
            Link::Phase(phase) => phase.case(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_3_phase_is_read_as_the_case_link() {
        let key = r#""key":"k","customer":{"user":{"network":"n","id":"@c:x"},"endpoint":{"network":"n","room":"r"}},"bot_since":0,"last_customer_at":0"#;
        let read = |link: &str| -> Option<CaseId> {
            serde_json::from_str::<Conversation>(&format!("{{{key},{link}}}"))
                .unwrap_or_else(|e| panic!("{link}: {e}"))
                .case
        };
        assert_eq!(read(r#""phase":{"phase":"bot"}"#), None);
        assert_eq!(read(r#""phase":{"phase":"queued","case":4}"#), Some(4));
        assert_eq!(read(r#""phase":{"phase":"resolved","case":2}"#), Some(2));
        assert_eq!(read(r#""case":7"#), Some(7));
        assert_eq!(read(r#""case":null"#), None);
    }

    #[test]
    fn phase_case_and_ownership() {
        assert_eq!(Phase::Bot.case(), None);
        assert_eq!(Phase::Queued(3).case(), Some(3));
        assert!(Phase::Assigned(1).human_owned());
        assert!(!Phase::Resolved(1).human_owned());
        assert!(!Phase::Abandoned(1).human_owned());
    }

    #[test]
    fn reason_labels_are_snake_case_and_display_is_human() {
        let r = EscalationReason::RepeatedMisses { count: 2 };
        assert_eq!(r.label(), "repeated_misses");
        assert_eq!(r.to_string(), "bot could not answer 2 times in a row");
    }

    #[test]
    fn case_state_open() {
        assert!(CaseState::Queued.is_open());
        assert!(!CaseState::Abandoned.is_open());
    }
}

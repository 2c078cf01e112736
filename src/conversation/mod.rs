//! The case state machine: `(state, event) -> (state, effects)`, no I/O.
//!
//! A conversation moves `Bot → Queued → Assigned → Resolved → Bot`, or
//! `Queued → Abandoned` (and back to `Queued` when the customer returns).
//! [`Engine::step`] decides everything — FAQ answers, escalation, routing,
//! relays, agent commands, timers — and returns the new [`State`] and a list
//! of [`Effect`]s for the router to carry out. Time comes in as `now`;
//! everything it needs to know about other conversations (queue, history,
//! case numbers) comes through the [`World`] trait.
//!
//! Invariants: a refused event ([`Refusal`]) changes nothing; while a human
//! owns the conversation the bot never answers from the FAQ; internal notes
//! never appear in a customer-bound effect.

mod agent;
mod clarify;
pub mod command;
mod customer;
mod small_talk;
mod timers;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use handoff_bridge_api::{Attachment, Choice, MessageRef, Millis, Text, UserRef};

use crate::case::{
    Case, CaseDesk, CaseId, Conversation, ConversationKey, Customer, Phase, PreviousCase, Speaker,
    Turn,
};
use crate::config::Config;
use crate::escalation::Rules;
use crate::faq::Faq;
use crate::pii::Masker;
use crate::summary::{self, SummaryContext};

pub use crate::effect::{Effect, Relayed, Side};
pub use command::{Command, CommandError};
pub use small_talk::{SmallTalk, SmallTalkPhrases};
pub use timers::{QueueWatch, TickWatch};

/// A conversation and its current (or last) case.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub conv: Conversation,
    pub case: Option<Case>,
}

impl State {
    /// Where the conversation is: its linked case's state (one truth).
    pub fn phase(&self) -> Phase {
        Phase::of(self.conv.case, self.case.as_ref())
    }
}

/// Something that happened to a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// From the customer, where they talk to the bot.
    Customer(CustomerEvent),
    /// From someone on the case's desk.
    Agent { agent: UserRef, event: AgentEvent },
    /// The desk confirmed the case room or thread exists.
    CaseOpened { case: CaseId, desk: CaseDesk },
    /// Time passed: check SLA, abandonment and queue position.
    Tick,
}

/// What a customer did.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerEvent {
    Message {
        msg: MessageRef,
        text: Text,
        reply_to: Option<MessageRef>,
    },
    Edit {
        target: MessageRef,
        text: Text,
    },
    Delete {
        target: MessageRef,
    },
    Reaction {
        reaction: MessageRef,
        target: MessageRef,
        key: String,
    },
    File {
        msg: MessageRef,
        file: Attachment,
    },
    /// Left the room.
    Left,
}

/// What someone on the desk did.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    Message {
        msg: MessageRef,
        text: Text,
        reply_to: Option<MessageRef>,
    },
    Edit {
        target: MessageRef,
        text: Text,
    },
    Delete {
        target: MessageRef,
    },
    Reaction {
        reaction: MessageRef,
        target: MessageRef,
        key: String,
    },
    File {
        msg: MessageRef,
        file: Attachment,
    },
    /// A Block Kit button.
    Button {
        action: String,
        value: String,
    },
}

/// Why an event was refused. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} is not an agent of this case's team; ignored")]
    NotAnAgent(String),
    #[error("this conversation has no case")]
    NoCase,
    #[error("case #{0} is closed; {1}")]
    Closed(CaseId, &'static str),
    #[error("{0}")]
    BadCommand(#[from] CommandError),
    #[error("you already have case #{0}")]
    AlreadyYours(CaseId),
    #[error("cannot transfer: {0}")]
    Transfer(String),
    #[error("could not allocate a case number; will retry")]
    NoCaseNumber,
    #[error("nothing to do")]
    Ignored,
    /// An edit, deletion or reaction on a desk line someone else wrote.
    #[error("{0} is not the author of the message they edit, delete or react to; ignored")]
    NotTheAuthor(String),
}

/// What the machine may ask about the rest of the world. Read-only apart
/// from handing out case numbers.
pub trait World {
    /// A new, unused case number; None if the store cannot give one now.
    fn next_case_id(&self) -> Option<CaseId>;
    /// Queued cases of `team` opened before case `case`.
    fn queue_ahead(&self, team: &str, case: CaseId) -> usize;
    /// Recent first-reply times of `team`.
    fn first_replies(&self, team: &str) -> Vec<Duration>;
    /// Earlier cases of this customer, newest first.
    fn previous_cases(&self, customer: &UserRef) -> Vec<PreviousCase>;
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: State,
    pub effects: Vec<Effect>,
    /// Turns of `state.case`'s transcript changed in place (a deleted
    /// message's text removed), by index: the store rewrites them.
    pub rewritten: Vec<usize>,
}

/// The FAQ the engine answers from, swappable while running (a reload
/// stores a new one; each event reads the current one once).
pub type SharedFaq = Arc<ArcSwap<Faq>>;

/// Everything the machine needs; only the FAQ changes while running.
pub struct Engine {
    pub config: Arc<Config>,
    faq: SharedFaq,
    rules: Rules,
    small_talk: SmallTalkPhrases,
    masker: Masker,
}

/// The `by` of a transfer made by the SLA timer (to the fallback team).
pub const SLA_TRANSFER_BY: &str = "SLA";

/// The most bot-time turns kept per conversation (the summary shows fewer).
const MAX_BOT_TURNS: usize = 50;

impl Engine {
    pub fn new(config: Arc<Config>, faq: Arc<Faq>) -> Result<Engine, String> {
        Self::with_shared_faq(config, Arc::new(ArcSwap::new(faq)))
    }

    /// An engine reading its FAQ from `faq`, which a reloader may swap.
    pub fn with_shared_faq(config: Arc<Config>, faq: SharedFaq) -> Result<Engine, String> {
        let masker = Masker::new(&config.privacy)?;
        Ok(Engine {
            rules: Rules::new(&config.escalation),
            small_talk: SmallTalkPhrases::new(&config.small_talk),
            config,
            faq,
            masker,
        })
    }

    /// The FAQ as of now.
    pub fn faq(&self) -> Arc<Faq> {
        self.faq.load_full()
    }

    /// The handle a reloader swaps new FAQs into.
    pub fn shared_faq(&self) -> SharedFaq {
        self.faq.clone()
    }

    /// A fresh conversation with a customer.
    pub fn start(&self, customer: Customer, now: Millis) -> State {
        State {
            conv: Conversation {
                key: ConversationKey::new(&customer.endpoint, &customer.user),
                customer,
                case: None,
                turns: Vec::new(),
                misses_in_row: 0,
                last_answer: None,
                bot_since: now,
                last_customer_at: now,
                awaiting_csat: false,
                waiting_acked: false,
                recent_messages: Vec::new(),
                throttled: false,
                clarifying: None,
            },
            case: None,
        }
    }

    /// Applies `event` to `state` at time `now`.
    pub fn step(
        &self,
        state: &State,
        event: Event,
        now: Millis,
        world: &dyn World,
    ) -> Result<Transition, Refusal> {
        let mut t = Transition {
            state: state.clone(),
            effects: Vec::new(),
            rewritten: Vec::new(),
        };
        match event {
            Event::Customer(ev) => self.customer(&mut t, ev, now, world)?,
            Event::Agent { agent, event } => self.agent(&mut t, &agent, event, now)?,
            Event::CaseOpened { case, desk } => match &mut t.state.case {
                Some(c) if c.id == case => c.desk = Some(desk),
                _ => return Err(Refusal::NoCase),
            },
            Event::Tick => self.tick(&mut t, now, world)?,
        }
        Ok(t)
    }

    fn summary(&self, case: &Case) -> handoff_bridge_api::CaseSummary {
        let team = self
            .config
            .team(&case.team)
            .unwrap_or_else(|| self.config.default_team());
        summary::render(
            case,
            &SummaryContext {
                team,
                teams: self.config.teams.iter().map(|t| t.name.as_str()).collect(),
                masker: &self.masker,
                turns: self.config.conversation.summary_turns,
                bot_name: &self.config.bot.name,
            },
        )
    }

    /// Emits an in-place summary update for the case in `t`.
    fn update_summary(&self, t: &mut Transition, message: Option<MessageRef>) {
        if let Some(case) = &t.state.case {
            let summary = self.summary(case);
            t.effects.push(Effect::UpdateSummary {
                case: case.id,
                message,
                summary,
            });
        }
    }

    /// Removes the text of the turn that recorded message `id` (deleted on
    /// its network), in the case's transcript or the bot's turns; true if
    /// there was one.
    fn redact(&self, t: &mut Transition, id: &str) -> bool {
        if let Some(case) = t.state.case.as_mut() {
            if let Some(i) = case
                .transcript
                .iter()
                .position(|x| x.source.as_deref() == Some(id) && !x.deleted)
            {
                case.transcript[i].redact();
                t.rewritten.push(i);
                return true;
            }
        }
        match t
            .state
            .conv
            .turns
            .iter_mut()
            .find(|x| x.source.as_deref() == Some(id) && !x.deleted)
        {
            Some(turn) => {
                turn.redact();
                true
            }
            None => false,
        }
    }

    /// The bot says `text` to the customer; recorded in the transcript.
    fn say(&self, t: &mut Transition, text: String, now: Millis) {
        self.ask(t, text, Vec::new(), now)
    }

    /// The bot asks the customer `text`, offering `choices` as buttons
    /// where their network has them; recorded in the transcript.
    fn ask(&self, t: &mut Transition, text: String, choices: Vec<Choice>, now: Millis) {
        let turn = Turn {
            at: now,
            speaker: Speaker::System,
            text: text.clone(),
            faq: None,
            internal: false,
            source: None,
            deleted: false,
        };
        let phase = t.state.phase();
        match (phase, &mut t.state.case) {
            (p, Some(case)) if p.human_owned() || matches!(p, Phase::Abandoned(_)) => {
                case.transcript.push(turn)
            }
            _ => push_bounded(&mut t.state.conv.turns, turn),
        }
        t.effects.push(Effect::Say { text, choices });
    }
}

fn push_bounded(turns: &mut Vec<Turn>, turn: Turn) {
    turns.push(turn);
    if turns.len() > MAX_BOT_TURNS {
        let extra = turns.len() - MAX_BOT_TURNS;
        turns.drain(..extra);
    }
}

/// Fills `{name}` placeholders; unknown ones stay as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests;

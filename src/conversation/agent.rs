//! Events from the agents' desk: relayed replies, edits, deletions,
//! reactions and files, and the commands `!claim`, `!resolve`, `!note`,
//! `!transfer` (typed or pressed as buttons).
//!
//! Only agents of the case's team act on a case, by one rule for every
//! desk: a team's `agents` lists user ids (Matrix or Slack), Slack user
//! groups (`@handle` or `S…` id, whose members the bridge reports in the
//! sender's [`Standing`]) or `"channel-members"`; without a list, a Slack
//! desk's agents are its channel's full members and a Matrix staff room's
//! its members. A failed lookup refuses; guests and people of other
//! organisations (Slack Connect) count only when listed by id. Notes and messages
//! with the internal prefix are kept in the transcript as internal and
//! produce no customer-bound effect. An edit or deletion is honoured only
//! from the agent who sent its target, and nobody reacts on a colleague's
//! line (the case remembers who sent each desk line: `Case::desk_authors`).

use handoff_bridge_api::{Choice, MessageRef, Millis, Standing, UserRef};

use super::command::{self, Command};
use super::{AgentEvent, Effect, Engine, Refusal, Relayed, Side, Transition};
use crate::case::{Case, CaseState, EscalationReason, Speaker, Transfer, Turn};
use crate::config::CHANNEL_MEMBERS;
use crate::routing;

/// An edit or deletion is honoured only from the agent who sent its target
/// (a relayed line, file or reaction): agent B cannot rewrite or withdraw
/// what agent A told the customer. A target whose author is not
/// remembered (a customer's line, or one older than the case remembers) is
/// refused too.
fn own_line(case: &Case, agent: &UserRef, target: &MessageRef) -> Result<(), Refusal> {
    match case.author_of(target) {
        Some(author) if author == agent.id => Ok(()),
        _ => Err(Refusal::NotTheAuthor(agent.id.clone())),
    }
}

impl Engine {
    pub(super) fn agent(
        &self,
        t: &mut Transition,
        agent: &UserRef,
        ev: AgentEvent,
        now: Millis,
    ) -> Result<(), Refusal> {
        let case = t.state.case.as_ref().ok_or(Refusal::NoCase)?;
        if !self.is_agent(&case.team, agent) {
            return Err(Refusal::NotAnAgent(agent.id.clone()));
        }
        let id = case.id;
        let open = case.state.is_open() || case.state == CaseState::Abandoned;
        match ev {
            AgentEvent::Button { action, value } => match command::from_button(&action, &value) {
                Some(cmd) => self.command(t, agent, cmd, now),
                None => Err(Refusal::Ignored),
            },
            AgentEvent::Message {
                msg,
                text,
                reply_to,
            } => {
                if let Some(cmd) = command::parse(&text.plain) {
                    return self.command(t, agent, cmd?, now);
                }
                if let Some(note) = self.internal_text(&text.plain) {
                    return self.note(t, agent, note, now);
                }
                if !open {
                    return Err(Refusal::Closed(
                        id,
                        "messages are no longer passed to the customer",
                    ));
                }
                self.take(t, agent, now, false);
                if let Some(case) = &mut t.state.case {
                    case.transcript.push(Turn {
                        at: now,
                        speaker: Speaker::Agent(agent.name().to_string()),
                        text: text.plain.clone(),
                        faq: None,
                        internal: false,
                        source: Some(msg.id.clone()),
                        deleted: false,
                    });
                    case.record_author(&msg, &agent.id);
                }
                t.effects.push(Effect::Relay {
                    case: id,
                    to: Side::Customer,
                    item: Relayed::Message {
                        source: msg,
                        text,
                        from: agent.name().to_string(),
                        reply_to,
                    },
                });
                Ok(())
            }
            AgentEvent::File { msg, file } => {
                // A file named as a note (`!note …`, or the internal
                // prefix) stays on the desk like any note.
                if let Some(Ok(Command::Note(_))) = command::parse(&file.name) {
                    return self.note(t, agent, &format!("[file: {}]", file.name), now);
                }
                if self.internal_text(&file.name).is_some() {
                    return self.note(t, agent, &format!("[file: {}]", file.name), now);
                }
                if !open {
                    return Err(Refusal::Closed(
                        id,
                        "files are no longer passed to the customer",
                    ));
                }
                self.take(t, agent, now, false);
                if let Some(case) = &mut t.state.case {
                    case.record_author(&msg, &agent.id);
                }
                t.effects.push(Effect::Relay {
                    case: id,
                    to: Side::Customer,
                    item: Relayed::File {
                        source: msg,
                        file,
                        from: agent.name().to_string(),
                    },
                });
                Ok(())
            }
            AgentEvent::Edit { target, text } => {
                if !open
                    || command::parse(&text.plain).is_some()
                    || self.internal_text(&text.plain).is_some()
                {
                    return Err(Refusal::Ignored);
                }
                own_line(case, agent, &target)?;
                t.effects.push(Effect::Relay {
                    case: id,
                    to: Side::Customer,
                    item: Relayed::Edit { target, text },
                });
                Ok(())
            }
            AgentEvent::Delete { target } => {
                own_line(case, agent, &target)?;
                // Gone from the stored transcript even after the case
                // closed; relayed only while it is open.
                let redacted = self.redact(t, &target.id);
                if !open {
                    return if redacted {
                        Ok(())
                    } else {
                        Err(Refusal::Ignored)
                    };
                }
                t.effects.push(Effect::Relay {
                    case: id,
                    to: Side::Customer,
                    item: Relayed::Delete { target },
                });
                Ok(())
            }
            AgentEvent::Reaction {
                reaction,
                target,
                key,
            } => {
                if !open {
                    return Err(Refusal::Ignored);
                }
                // Any agent may react to the customer's lines, but not
                // for a colleague on a line the colleague wrote.
                if case.author_of(&target).is_some_and(|a| a != agent.id) {
                    return Err(Refusal::NotTheAuthor(agent.id.clone()));
                }
                if let Some(case) = &mut t.state.case {
                    case.record_author(&reaction, &agent.id);
                }
                t.effects.push(Effect::Relay {
                    case: id,
                    to: Side::Customer,
                    item: Relayed::Reaction {
                        source: reaction,
                        target,
                        key,
                    },
                });
                Ok(())
            }
        }
    }

    /// Is `user` an agent of `team`?
    /// The one agent rule, for every desk (module docs): checked here,
    /// where the action is taken, never assumed from where a message came
    /// from.
    /// Whether `user` may act as an agent of `team` (from the team's
    /// `agents` list and what the network says of the person).
    pub(crate) fn is_agent(&self, team: &str, user: &UserRef) -> bool {
        if user.is_bot {
            return false;
        }
        let Some(team) = self.config.team(team) else {
            return false;
        };
        let groups: &[String] = match &user.standing {
            // The network could not say who this is.
            Standing::Unknown => return false,
            // Guests and other organisations only when listed by id.
            Standing::Guest | Standing::External => {
                return team.agents.iter().any(|a| a == &user.id)
            }
            Standing::Member { groups } => groups,
            Standing::Unchecked => &[],
        };
        let member = matches!(user.standing, Standing::Member { .. });
        if team.agents.is_empty() {
            // The default: the desk's own full members (a room per case
            // always lists its agents; the config refuses one without).
            return member && !team.desk.is_room_per_case();
        }
        team.agents
            .iter()
            .any(|a| a == &user.id || (a == CHANNEL_MEMBERS && member) || groups.contains(a))
    }

    /// The note text when `text` uses the internal prefix.
    fn internal_text<'a>(&self, text: &'a str) -> Option<&'a str> {
        let prefix = self.config.internal_prefix()?;
        text.trim_start().strip_prefix(prefix).map(str::trim)
    }

    fn command(
        &self,
        t: &mut Transition,
        agent: &UserRef,
        cmd: Command,
        now: Millis,
    ) -> Result<(), Refusal> {
        let case = t.state.case.as_ref().ok_or(Refusal::NoCase)?;
        let id = case.id;
        let open = case.state.is_open() || case.state == CaseState::Abandoned;
        match cmd {
            Command::Note(text) => self.note(t, agent, &text, now),
            _ if !open => Err(Refusal::Closed(id, "commands no longer apply")),
            Command::Claim => {
                if let CaseState::Assigned { agent_id, .. } = &case.state {
                    if agent_id == &agent.id {
                        return Err(Refusal::AlreadyYours(id));
                    }
                }
                self.take(t, agent, now, true);
                Ok(())
            }
            Command::Resolve => {
                self.resolve(t, agent, now);
                Ok(())
            }
            Command::Transfer(name) => self.transfer(t, agent, &name, now),
        }
    }

    /// Makes `agent` the owner if nobody is yet (or, with `force`, taking
    /// over from a colleague). Tells the customer and updates the summary.
    fn take(&self, t: &mut Transition, agent: &UserRef, now: Millis, force: bool) {
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        let assigned = matches!(case.state, CaseState::Assigned { .. });
        if assigned && !force {
            case.first_human_reply_at.get_or_insert(now);
            return;
        }
        case.state = CaseState::Assigned {
            agent_id: agent.id.clone(),
            agent: agent.name().to_string(),
        };
        case.first_human_reply_at.get_or_insert(now);
        let text = super::fill(
            &self.config.messages.agent_joined,
            &[("agent", agent.name())],
        );
        self.say(t, text, now);
        self.update_summary(t, None);
    }

    fn resolve(&self, t: &mut Transition, agent: &UserRef, now: Millis) {
        if t.state.case.is_none() {
            return;
        }
        // Said while the case is still open, so both lines land in its
        // transcript.
        let m = &self.config.messages;
        let text = super::fill(&m.resolved, &[("bot", &self.config.bot.name)]);
        self.say(t, text, now);
        if self.config.conversation.csat {
            let q = m.csat_question.clone();
            let scores = (1..=5)
                .map(|n| Choice {
                    label: n.to_string(),
                    reply: n.to_string(),
                })
                .collect();
            self.ask(t, q, scores, now);
        }
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        case.state = CaseState::Resolved {
            by: agent.name().to_string(),
        };
        case.closed_at = Some(now);
        let id = case.id;
        let conv = &mut t.state.conv;
        conv.awaiting_csat = self.config.conversation.csat;
        conv.bot_since = now;
        conv.misses_in_row = 0;
        conv.last_answer = None;
        self.update_summary(t, None);
        if let Some(desk) = t.state.case.as_ref().and_then(|c| c.desk.as_ref()) {
            t.effects.push(Effect::CloseDesk {
                case: id,
                desk: desk.endpoint.clone(),
            });
        }
    }

    fn note(
        &self,
        t: &mut Transition,
        agent: &UserRef,
        text: &str,
        now: Millis,
    ) -> Result<(), Refusal> {
        let case = t.state.case.as_mut().ok_or(Refusal::NoCase)?;
        case.transcript.push(Turn {
            at: now,
            speaker: Speaker::Agent(agent.name().to_string()),
            text: text.to_string(),
            faq: None,
            internal: true,
            source: None,
            deleted: false,
        });
        Ok(())
    }

    /// `agent` moves the case to team `name`.
    pub(super) fn transfer(
        &self,
        t: &mut Transition,
        agent: &UserRef,
        name: &str,
        now: Millis,
    ) -> Result<(), Refusal> {
        let case = t.state.case.as_ref().ok_or(Refusal::NoCase)?;
        let to =
            routing::transfer_target(&self.config, &case.team, name).map_err(Refusal::Transfer)?;
        self.move_case(
            t,
            &to.name,
            agent.name(),
            EscalationReason::Transfer {
                from: case.team.clone(),
            },
            now,
        );
        Ok(())
    }

    /// Moves the case to `to`: the old desk's summary says so, the new desk
    /// opens the case, the customer is told.
    pub(super) fn move_case(
        &self,
        t: &mut Transition,
        to: &str,
        by: &str,
        reason: EscalationReason,
        now: Millis,
    ) {
        let Some(team) = self.config.team(to) else {
            return;
        };
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        case.transfers.push(Transfer {
            at: now,
            from: case.team.clone(),
            to: team.name.clone(),
            by: by.to_string(),
        });
        let old_desk = case.desk.take();
        if let Some(desk) = &old_desk {
            let summary = self.summary(case);
            t.effects.push(Effect::UpdateSummary {
                case: case.id,
                message: Some(desk.summary.clone()),
                summary,
            });
            t.effects.push(Effect::CloseDesk {
                case: case.id,
                desk: desk.endpoint.clone(),
            });
        }
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        case.team = team.name.clone();
        case.reason = reason;
        case.state = CaseState::Queued;
        case.overdue = false;
        case.told_position = None;
        case.sla_deadline = routing::sla_deadline(team, now);
        case.out_of_hours = !team.hours.is_open(now);
        let id = case.id;
        let said = super::fill(&self.config.messages.transferred, &[("team", &team.name)]);
        self.say(t, said, now);
        if let Some(case) = &t.state.case {
            t.effects.push(Effect::OpenCase {
                case: id,
                network: team.desk.network().to_string(),
                desk: routing::desk_target(team, t.state.conv.customer.encrypted),
                summary: self.summary(case),
            });
        }
    }
}

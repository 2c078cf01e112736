//! Customer events: FAQ answers and escalation while the bot owns the
//! conversation; relays to the desk while a human does; resuming an
//! abandoned case; the rating after a resolve.

use handoff_bridge_api::{Millis, Text};

use super::clarify::{self, Reply};
use super::{
    push_bounded, CustomerEvent, Effect, Engine, Refusal, Relayed, Side, SmallTalk, Transition,
    World,
};
use crate::case::{Case, CaseState, Clarifying, EscalationReason, FaqHit, Phase, Speaker, Turn};
use crate::escalation;
use crate::faq::{Decision, Faq};
use crate::routing;

impl Engine {
    pub(super) fn customer(
        &self,
        t: &mut Transition,
        ev: CustomerEvent,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let phase = t.state.phase();
        if matches!(
            ev,
            CustomerEvent::Message { .. } | CustomerEvent::File { .. }
        ) && self.over_rate_limit(t, now)
        {
            return Ok(());
        }
        match ev {
            CustomerEvent::Message {
                msg,
                text,
                reply_to,
            } => {
                t.state.conv.last_customer_at = now;
                match phase {
                    Phase::Resolved(_) if self.reopens(t, &text.plain, now) => {
                        self.reopen(t, now);
                        self.relay_message(t, msg, text, reply_to, now);
                        Ok(())
                    }
                    Phase::Bot | Phase::Resolved(_) => {
                        self.bot_turn(t, &text.plain, Some(&msg), now, world)
                    }
                    Phase::Abandoned(_) => {
                        self.resume(t, now);
                        self.relay_message(t, msg, text, reply_to, now);
                        Ok(())
                    }
                    Phase::Queued(_) | Phase::Assigned(_) => {
                        self.relay_message(t, msg, text, reply_to, now);
                        if matches!(phase, Phase::Queued(_)) && !t.state.conv.waiting_acked {
                            t.state.conv.waiting_acked = true;
                            let m = self.config.messages.still_waiting.clone();
                            self.say(t, m, now);
                        }
                        Ok(())
                    }
                }
            }
            CustomerEvent::File { msg, file } => {
                t.state.conv.last_customer_at = now;
                let reopen = matches!(phase, Phase::Resolved(_)) && self.reopens(t, "", now);
                if reopen {
                    self.reopen(t, now);
                }
                if reopen || phase.human_owned() || matches!(phase, Phase::Abandoned(_)) {
                    if matches!(phase, Phase::Abandoned(_)) {
                        self.resume(t, now);
                    }
                    let case =
                        self.record(t, Speaker::Customer, format!("[file: {}]", file.name), now)?;
                    Self::tag_source(t, &msg);
                    let from = t.state.conv.customer.user.name().to_string();
                    t.effects.push(Effect::Relay {
                        case,
                        to: Side::Desk,
                        item: Relayed::File {
                            source: msg,
                            file,
                            from,
                        },
                    });
                    Ok(())
                } else {
                    // The bot cannot read files: treat it as a question it cannot answer.
                    let text = format!("[sent a file: {}]", file.name);
                    self.bot_turn(t, &text, Some(&msg), now, world)
                }
            }
            CustomerEvent::Edit { target, text } => {
                let case = self.open_case_id(t)?;
                t.effects.push(Effect::Relay {
                    case,
                    to: Side::Desk,
                    item: Relayed::Edit { target, text },
                });
                Ok(())
            }
            CustomerEvent::Delete { target } => {
                // Gone from the stored transcript whoever owns the
                // conversation now; relayed while a human does.
                let redacted = self.redact(t, &target.id);
                match self.open_case_id(t) {
                    Ok(case) => {
                        t.effects.push(Effect::Relay {
                            case,
                            to: Side::Desk,
                            item: Relayed::Delete { target },
                        });
                        Ok(())
                    }
                    Err(_) if redacted => Ok(()),
                    Err(refused) => Err(refused),
                }
            }
            CustomerEvent::Reaction {
                reaction,
                target,
                key,
            } => {
                if matches!(phase, Phase::Resolved(_)) && t.state.conv.awaiting_csat {
                    if let Some(score) = rating_from_emoji(&key) {
                        self.record_rating(t, score);
                        return Ok(());
                    }
                }
                let case = self.open_case_id(t)?;
                t.effects.push(Effect::Relay {
                    case,
                    to: Side::Desk,
                    item: Relayed::Reaction {
                        source: reaction,
                        target,
                        key,
                    },
                });
                Ok(())
            }
            CustomerEvent::Left => {
                if let Phase::Queued(id) = phase {
                    self.abandon(t, id);
                    Ok(())
                } else {
                    Err(Refusal::Ignored)
                }
            }
        }
    }

    /// Counts a customer message against `[conversation] rate_limit`; true
    /// if it is over (dropped). The first message over the limit gets the
    /// `slow_down` notice; the next ones nothing, until the rate drops.
    fn over_rate_limit(&self, t: &mut Transition, now: Millis) -> bool {
        let c = &self.config.conversation;
        if c.rate_limit == 0 {
            return false;
        }
        let window = Millis::try_from(c.rate_window.as_millis()).unwrap_or(Millis::MAX);
        let conv = &mut t.state.conv;
        conv.recent_messages
            .retain(|at| now.saturating_sub(*at) < window);
        if conv.recent_messages.len() >= c.rate_limit as usize {
            if !conv.throttled {
                conv.throttled = true;
                let m = self.config.messages.slow_down.clone();
                self.say(t, m, now);
            }
            return true;
        }
        conv.recent_messages.push(now);
        conv.throttled = false;
        false
    }

    /// The id of the case a human owns, or a refusal (nothing to relay).
    fn open_case_id(&self, t: &Transition) -> Result<u64, Refusal> {
        match t.state.phase() {
            Phase::Queued(id) | Phase::Assigned(id) => Ok(id),
            _ => Err(Refusal::Ignored),
        }
    }

    /// Appends a turn to the open case's transcript; returns the case id.
    fn record(
        &self,
        t: &mut Transition,
        speaker: Speaker,
        text: String,
        now: Millis,
    ) -> Result<u64, Refusal> {
        let case = t.state.case.as_mut().ok_or(Refusal::NoCase)?;
        case.transcript.push(Turn {
            at: now,
            speaker,
            text,
            faq: None,
            internal: false,
            source: None,
            deleted: false,
        });
        Ok(case.id)
    }

    /// Marks the case's last turn as recording message `msg`.
    fn tag_source(t: &mut Transition, msg: &handoff_bridge_api::MessageRef) {
        if let Some(turn) = t.state.case.as_mut().and_then(|c| c.transcript.last_mut()) {
            turn.source = Some(msg.id.clone());
        }
    }

    fn relay_message(
        &self,
        t: &mut Transition,
        msg: handoff_bridge_api::MessageRef,
        text: Text,
        reply_to: Option<handoff_bridge_api::MessageRef>,
        now: Millis,
    ) {
        let Ok(case) = self.record(t, Speaker::Customer, text.plain.clone(), now) else {
            return;
        };
        Self::tag_source(t, &msg);
        let from = t.state.conv.customer.user.name().to_string();
        t.effects.push(Effect::Relay {
            case,
            to: Side::Desk,
            item: Relayed::Message {
                source: msg,
                text,
                from,
                reply_to,
            },
        });
    }

    /// One message while the bot owns the conversation.
    fn bot_turn(
        &self,
        t: &mut Transition,
        text: &str,
        source: Option<&handoff_bridge_api::MessageRef>,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        if let Phase::Resolved(_) = t.state.phase() {
            // The resolved case stays linked until this turn; after it the
            // conversation is the bot's alone.
            t.state.conv.case = None;
            if t.state.conv.awaiting_csat {
                if let Some(score) = rating_from_text(text) {
                    self.record_rating(t, score);
                    return Ok(());
                }
            }
            t.state.conv.awaiting_csat = false;
        }
        // A "did you mean" waits for this message; whatever it says, the
        // offer is settled by it.
        let offer = t.state.conv.clarifying.take();
        // One FAQ for the whole event, even if a reload swaps it meanwhile.
        let faq = self.faq();
        if let Some(offer) = offer {
            match self.clarify_reply(&faq, &offer, text) {
                Reply::Choice(i) => {
                    if let Some(hit) = offer.choices.get(i).cloned() {
                        return self.answer_turn(
                            t,
                            &faq,
                            text,
                            source,
                            Some(hit),
                            true,
                            now,
                            world,
                        );
                    }
                }
                Reply::Decline => {
                    let offered = offer.choices.iter().map(|c| c.id.clone()).collect();
                    self.push_customer_turn(t, text, source, None, now);
                    let reason = EscalationReason::ClarifyDeclined { offered };
                    let (faq_team, intent) = self.topic_of(&faq, t, &reason, None, None);
                    return self.escalate(t, reason, faq_team.as_deref(), intent, now, world);
                }
                Reply::Other => {}
            }
        }
        if let Some(kind) = self.small_talk.classify(text) {
            return self.small_talk_turn(t, kind, text, source, now, world);
        }
        let min = self.config.bot.min_confidence;
        match faq.decide(text, min) {
            Decision::Answer(m) => {
                let hit = FaqHit {
                    id: m.id,
                    confidence: m.confidence,
                };
                self.answer_turn(t, &faq, text, source, Some(hit), true, now, world)
            }
            Decision::Clarify(choices) => {
                let choices: Vec<FaqHit> = choices
                    .into_iter()
                    .map(|m| FaqHit {
                        id: m.id,
                        confidence: m.confidence,
                    })
                    .collect();
                self.clarify_turn(t, &faq, text, source, choices, now, world)
            }
            Decision::Decline => {
                let best = faq.best(text).map(|m| FaqHit {
                    id: m.id,
                    confidence: m.confidence,
                });
                self.answer_turn(t, &faq, text, source, best, false, now, world)
            }
        }
    }

    /// Records the customer's message in the bot-time turns.
    fn push_customer_turn(
        &self,
        t: &mut Transition,
        text: &str,
        source: Option<&handoff_bridge_api::MessageRef>,
        faq: Option<FaqHit>,
        now: Millis,
    ) {
        push_bounded(
            &mut t.state.conv.turns,
            Turn {
                at: now,
                speaker: Speaker::Customer,
                text: text.to_string(),
                faq,
                internal: false,
                source: source.map(|m| m.id.clone()),
                deleted: false,
            },
        );
    }

    /// Answers with `best` when `answerable`, says the bot does not know
    /// otherwise (a miss), unless a rule hands over first.
    #[allow(clippy::too_many_arguments)]
    fn answer_turn(
        &self,
        t: &mut Transition,
        faq: &Faq,
        text: &str,
        source: Option<&handoff_bridge_api::MessageRef>,
        best: Option<FaqHit>,
        answerable: bool,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let entry = best.as_ref().and_then(|b| faq.entry(&b.id));
        let answerable = answerable && entry.is_some();
        let conv = &t.state.conv;
        let reason = self.rules.check(&escalation::Turn {
            text,
            sender: &conv.customer.user.id,
            best: best.as_ref(),
            answerable,
            best_escalates: entry.is_some_and(|e| e.escalate),
            misses_before: conv.misses_in_row,
            last_answer: conv.last_answer.as_ref(),
        });
        self.push_customer_turn(t, text, source, best.clone(), now);
        if let Some(reason) = reason {
            let (faq_team, intent) = self.topic_of(faq, t, &reason, entry, best.as_ref());
            return self.escalate(t, reason, faq_team.as_deref(), intent, now, world);
        }
        match (answerable, entry, best) {
            (true, Some(e), Some(hit)) => {
                let conv = &mut t.state.conv;
                conv.misses_in_row = 0;
                conv.last_answer = Some(hit.clone());
                push_bounded(
                    &mut conv.turns,
                    Turn {
                        at: now,
                        speaker: Speaker::Bot,
                        text: e.answer.clone(),
                        faq: Some(hit),
                        internal: false,
                        source: None,
                        deleted: false,
                    },
                );
                t.effects.push(Effect::Say {
                    text: e.answer.clone(),
                    choices: Vec::new(),
                });
            }
            _ => {
                t.state.conv.misses_in_row += 1;
                t.state.conv.last_answer = None;
                let msg = super::fill(
                    &self.config.messages.no_answer,
                    &[("bot", &self.config.bot.name)],
                );
                self.say(t, msg, now);
            }
        }
        Ok(())
    }

    /// The bot is unsure between a few entries: it offers them, plus a
    /// person, and reads the next message as the choice. Not a miss (the
    /// bot has not failed yet) and not an answer; the rules that do not
    /// need an answer (VIP, asking for a person, anger, human-only topics,
    /// "didn't help") still hand over first.
    #[allow(clippy::too_many_arguments)]
    fn clarify_turn(
        &self,
        t: &mut Transition,
        faq: &Faq,
        text: &str,
        source: Option<&handoff_bridge_api::MessageRef>,
        choices: Vec<FaqHit>,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let best = choices.first().cloned();
        let conv = &t.state.conv;
        let reason = self.rules.check(&escalation::Turn {
            text,
            sender: &conv.customer.user.id,
            best: best.as_ref(),
            // Asking is not missing: misses count only a "don't know".
            answerable: true,
            best_escalates: false,
            misses_before: conv.misses_in_row,
            last_answer: conv.last_answer.as_ref(),
        });
        self.push_customer_turn(t, text, source, best.clone(), now);
        if let Some(reason) = reason {
            let (faq_team, intent) = self.topic_of(faq, t, &reason, None, best.as_ref());
            return self.escalate(t, reason, faq_team.as_deref(), intent, now, world);
        }
        let titles: Vec<String> = choices
            .iter()
            .map(|c| clarify::title_of(faq, &c.id))
            .collect();
        let (sent, line) = clarify::render(&titles, &self.config.messages);
        let buttons = clarify::choices(&titles, &self.config.messages);
        let conv = &mut t.state.conv;
        conv.last_answer = None;
        // Kept as the bot's turn without an entry: `faq gaps` reads it as
        // the clarifying question.
        push_bounded(
            &mut conv.turns,
            Turn {
                at: now,
                speaker: Speaker::Bot,
                text: line,
                faq: None,
                internal: false,
                source: None,
                deleted: false,
            },
        );
        conv.clarifying = Some(Clarifying { choices });
        t.effects.push(Effect::Say {
            text: sent,
            choices: buttons,
        });
        Ok(())
    }

    /// Reads `text` as the answer to `offer`, against the FAQ as it is now
    /// (a reload may have renamed an entry: its id still picks it).
    fn clarify_reply(&self, faq: &Faq, offer: &Clarifying, text: &str) -> Reply {
        let titles: Vec<String> = offer
            .choices
            .iter()
            .map(|c| clarify::title_of(faq, &c.id))
            .collect();
        let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
        let ids: Vec<&str> = offer.choices.iter().map(|c| c.id.as_str()).collect();
        let reply = clarify::parse_reply(text, &titles, &ids, &self.config.messages);
        match reply {
            // An entry removed by a reload since: a new question.
            Reply::Choice(i) if faq.entry(ids[i]).is_none() => Reply::Other,
            r => r,
        }
    }

    /// Small talk while the bot owns the conversation: a polite reply, no
    /// FAQ lookup, and never a miss. The rules that do not depend on the
    /// FAQ (VIP, asking for a person, anger) still hand over.
    fn small_talk_turn(
        &self,
        t: &mut Transition,
        kind: SmallTalk,
        text: &str,
        source: Option<&handoff_bridge_api::MessageRef>,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let conv = &t.state.conv;
        let reason = self.rules.check(&escalation::Turn {
            text,
            sender: &conv.customer.user.id,
            best: None,
            // Not a question: nothing to miss.
            answerable: true,
            best_escalates: false,
            misses_before: conv.misses_in_row,
            last_answer: conv.last_answer.as_ref(),
        });
        push_bounded(
            &mut t.state.conv.turns,
            Turn {
                at: now,
                speaker: Speaker::Customer,
                text: text.to_string(),
                faq: None,
                internal: false,
                source: source.map(|m| m.id.clone()),
                deleted: false,
            },
        );
        if let Some(reason) = reason {
            let faq = self.faq();
            let (faq_team, intent) = self.topic_of(&faq, t, &reason, None, None);
            return self.escalate(t, reason, faq_team.as_deref(), intent, now, world);
        }
        let reply = super::fill(
            kind.reply(&self.config.messages),
            &[("bot", &self.config.bot.name)],
        );
        self.say(t, reply, now);
        Ok(())
    }

    /// The team and intent a handover is about. An `escalate = true` entry
    /// speaks for itself; otherwise the message that triggered the handover
    /// ("I want a person", "this is ridiculous") says little about the
    /// topic, so the last question the bot could place decides.
    fn topic_of(
        &self,
        faq: &Faq,
        t: &Transition,
        reason: &EscalationReason,
        entry: Option<&crate::faq::FaqEntry>,
        best: Option<&FaqHit>,
    ) -> (Option<String>, Option<String>) {
        if let (EscalationReason::FaqEscalate { faq_id }, Some(e)) = (reason, entry) {
            return (e.team.clone(), Some(faq_id.clone()));
        }
        let min = self.config.bot.min_confidence;
        let earlier = t
            .state
            .conv
            .turns
            .iter()
            .rev()
            .skip(1) // the triggering message itself
            .filter(|x| x.speaker == Speaker::Customer)
            .filter_map(|x| x.faq.as_ref())
            .find(|h| h.confidence >= min);
        match earlier {
            Some(hit) => (
                faq.entry(&hit.id).and_then(|e| e.team.clone()),
                Some(hit.id.clone()),
            ),
            None => (
                None,
                best.filter(|b| b.confidence >= min).map(|b| b.id.clone()),
            ),
        }
    }

    /// Hands the conversation to a team: opens a case and tells the customer.
    pub(super) fn escalate(
        &self,
        t: &mut Transition,
        reason: EscalationReason,
        faq_team: Option<&str>,
        intent: Option<String>,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let id = world.next_case_id().ok_or(Refusal::NoCaseNumber)?;
        let conv = &mut t.state.conv;
        let texts: Vec<&str> = conv
            .turns
            .iter()
            .rev()
            .filter(|x| x.speaker == Speaker::Customer)
            .map(|x| x.text.as_str())
            .collect();
        let (routed, _) = routing::route(&self.config, faq_team, &texts);
        let team = routing::open_team(&self.config, routed, now);
        let closed_team = (team.name != routed.name).then(|| routed.name.clone());
        let open = team.hours.is_open(now);
        let case = Case {
            id,
            conversation: conv.key.clone(),
            customer: conv.customer.clone(),
            team: team.name.clone(),
            reason,
            intent,
            state: CaseState::Queued,
            opened_at: now,
            bot_since: conv.bot_since,
            first_human_reply_at: None,
            closed_at: None,
            desk: None,
            transcript: std::mem::take(&mut conv.turns),
            sla_deadline: routing::sla_deadline(team, now),
            overdue: false,
            out_of_hours: !open,
            transfers: Vec::new(),
            previous_cases: world.previous_cases(&conv.customer.user),
            told_position: None,
            csat: None,
            desk_authors: Vec::new(),
            closed_team,
            reopened: Vec::new(),
            erased_at: None,
        };
        conv.case = Some(id);
        conv.misses_in_row = 0;
        conv.last_answer = None;
        conv.awaiting_csat = false;
        conv.waiting_acked = false;
        t.state.case = Some(case);
        let text = self.wait_message(t, now, world);
        self.say(t, text, now);
        if let Some(case) = &t.state.case {
            t.effects.push(Effect::OpenCase {
                case: id,
                network: team.desk.network().to_string(),
                desk: routing::desk_target(team, t.state.conv.customer.encrypted),
                summary: self.summary(case),
            });
        }
        Ok(())
    }

    /// "A person is coming": team, queue position, honest wait or opening time.
    pub(super) fn wait_message(
        &self,
        t: &mut Transition,
        now: Millis,
        world: &dyn World,
    ) -> String {
        let Some(case) = t.state.case.as_mut() else {
            return String::new();
        };
        let team = self
            .config
            .team(&case.team)
            .unwrap_or_else(|| self.config.default_team());
        let m = &self.config.messages;
        if !team.hours.is_open(now) {
            let opens = team
                .hours
                .next_open(now)
                .map(|at| team.hours.describe(at))
                .unwrap_or_else(|| "as soon as possible".into());
            return super::fill(
                &m.handover_closed,
                &[("team", &team.name), ("opens", &opens)],
            );
        }
        let position = world.queue_ahead(&team.name, case.id) + 1;
        case.told_position = Some(position as u32);
        let wait = routing::wait_phrase(
            position,
            routing::typical_first_reply(&world.first_replies(&team.name)),
        );
        super::fill(
            &m.handover,
            &[
                ("team", &team.name),
                ("position", &position.to_string()),
                ("wait", &wait),
            ],
        )
    }

    /// Whether what the customer just wrote (`text`) reopens their resolved
    /// case: `reopen_within` is set, the case was resolved on a desk no
    /// longer ago than that, and it is not the answer to the rating question.
    fn reopens(&self, t: &Transition, text: &str, now: Millis) -> bool {
        let window = self.config.conversation.reopen_within;
        let Some(case) = &t.state.case else {
            return false;
        };
        let recent = case.closed_at.is_some_and(|closed| {
            now.saturating_sub(closed) <= i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
        });
        !window.is_zero()
            && recent
            && case.desk.is_some()
            && matches!(case.state, CaseState::Resolved { .. })
            && !(t.state.conv.awaiting_csat && rating_from_text(text).is_some())
    }

    /// Reopens the resolved case on its desk: it waits for an agent again,
    /// the desk is told (with the team's mention) and the bridge follows
    /// the desk again.
    fn reopen(&self, t: &mut Transition, now: Millis) {
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        let minutes = case.closed_at.map_or(0, |c| (now - c).max(0) / 60_000);
        case.state = CaseState::Queued;
        case.closed_at = None;
        case.overdue = false;
        case.reopened.push(now);
        let id = case.id;
        let team = self
            .config
            .team(&case.team)
            .unwrap_or_else(|| self.config.default_team());
        let desk = case.desk.as_ref().map(|d| d.endpoint.clone());
        let conv = &mut t.state.conv;
        conv.awaiting_csat = false;
        conv.waiting_acked = true;
        if let Some(desk) = desk {
            t.effects.push(Effect::ReopenDesk { case: id, desk });
        }
        t.effects.push(Effect::Notify {
            case: id,
            text: format!(
                "Case #{id} reopened: the customer wrote again {minutes} min after it was resolved."
            ),
            mention: team.mention.clone(),
            at: None,
        });
        let said = super::fill(&self.config.messages.reopened, &[("team", &team.name)]);
        self.say(t, said, now);
        self.update_summary(t, None);
    }

    /// The customer came back to an abandoned case: it waits again.
    fn resume(&self, t: &mut Transition, now: Millis) {
        if let (Phase::Abandoned(_), Some(case)) = (t.state.phase(), &mut t.state.case) {
            case.state = CaseState::Queued;
            case.closed_at = None;
            t.state.conv.waiting_acked = true;
            let m = self.config.messages.still_waiting.clone();
            self.say(t, format!("Welcome back! {m}"), now);
            self.update_summary(t, None);
        }
    }

    /// Marks the queued case abandoned.
    pub(super) fn abandon(&self, t: &mut Transition, id: u64) {
        if let Some(case) = t.state.case.as_mut().filter(|c| c.id == id) {
            case.state = CaseState::Abandoned;
            self.update_summary(t, None);
        }
    }

    fn record_rating(&self, t: &mut Transition, score: u8) {
        t.state.conv.awaiting_csat = false;
        if let Some(case) = &mut t.state.case {
            case.csat = Some(score);
        }
        let text = super::fill(
            &self.config.messages.csat_thanks,
            &[("score", &score.to_string())],
        );
        t.effects.push(Effect::Say {
            text,
            choices: Vec::new(),
        });
        self.update_summary(t, None);
    }
}

/// A rating 1–5 written as "4", "4/5" or "4 stars".
fn rating_from_text(text: &str) -> Option<u8> {
    let t = text.trim().trim_end_matches(['.', '!']);
    let head = t
        .strip_suffix("/5")
        .or_else(|| t.strip_suffix(" stars"))
        .or_else(|| t.strip_suffix(" star"))
        .unwrap_or(t)
        .trim();
    match head.parse::<u8>() {
        Ok(n @ 1..=5) => Some(n),
        _ => None,
    }
}

/// A rating from a reaction: keycap digits 1️⃣–5️⃣.
fn rating_from_emoji(key: &str) -> Option<u8> {
    let first = key.chars().next()?;
    let rest: String = key.chars().skip(1).collect();
    if rest.contains('\u{20E3}') {
        return first
            .to_digit(10)
            .filter(|d| (1..=5).contains(d))
            .map(|d| d as u8);
    }
    None
}

#[cfg(test)]
mod rating_tests {
    use super::*;

    #[test]
    fn ratings() {
        assert_eq!(rating_from_text("5"), Some(5));
        assert_eq!(rating_from_text(" 4/5 "), Some(4));
        assert_eq!(rating_from_text("3 stars!"), Some(3));
        assert_eq!(rating_from_text("6"), None);
        assert_eq!(rating_from_text("0"), None);
        assert_eq!(rating_from_text("5 more questions"), None);
        assert_eq!(rating_from_emoji("4\u{FE0F}\u{20E3}"), Some(4));
        assert_eq!(rating_from_emoji("👍"), None);
    }
}

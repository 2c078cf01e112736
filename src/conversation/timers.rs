//! What happens as time passes while a customer waits: the first-reply SLA
//! runs out (ping the team or move to the fallback team), the customer goes
//! silent (abandoned), or their place in the queue improves (tell them).
//!
//! Driven by [`Event::Tick`](super::Event::Tick); all deadlines are stored
//! in the case, so timers survive restarts by construction.
//!
//! [`Engine::tick_watch`] and [`Engine::tick_due`] say, without loading the
//! conversation, whether a tick could do anything: the router keeps one
//! [`TickWatch`] per conversation and wakes only those that are due.
//! Invariant: whenever [`Engine::step`](super::Engine::step) with
//! [`Event::Tick`](super::Event::Tick) would change something at `now`,
//! `tick_due` of the state's watch is true at `now` (the converse may
//! fail only for a queue update that the queue no longer allows).

use handoff_bridge_api::Millis;

use super::{Effect, Engine, Refusal, State, Transition, World};
use crate::case::{CaseId, EscalationReason, Phase};
use crate::routing;

/// What could make a timer tick of one queued conversation do something,
/// as of its last committed state (see [`Engine::tick_watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickWatch {
    /// When the earliest of the abandonment and first-reply SLA timers
    /// runs out; None when neither can.
    pub due_at: Option<Millis>,
    /// The queue-position update, when the customer was told a position.
    pub queue: Option<QueueWatch>,
}

/// A queue-position update waiting for the queue to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWatch {
    pub case: CaseId,
    /// The case's team as recorded (resolved like the tick resolves it).
    pub team: String,
    /// The position the customer was last told.
    pub told: u32,
}

impl Engine {
    /// What a tick of `state` depends on besides the time and the queue;
    /// None when no tick can do anything until the state changes (not
    /// queued, no case, or no timer left and no position told).
    pub fn tick_watch(&self, state: &State) -> Option<TickWatch> {
        let Phase::Queued(_) = state.phase() else {
            return None;
        };
        let case = state.case.as_ref()?;
        let abandon_ms = self.config.conversation.abandon_after.as_millis() as i64;
        let abandon_at = (abandon_ms > 0 && !case.out_of_hours)
            .then(|| state.conv.last_customer_at.saturating_add(abandon_ms));
        let sla_at = case.sla_deadline.filter(|_| !case.overdue);
        let due_at = match (abandon_at, sla_at) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        };
        let queue = case.told_position.map(|told| QueueWatch {
            case: case.id,
            team: case.team.clone(),
            told,
        });
        if due_at.is_none() && queue.is_none() {
            return None;
        }
        Some(TickWatch { due_at, queue })
    }

    /// Whether a tick at `now` of a conversation whose state has `watch`
    /// could do anything: a timer ran out, or (team open) the customer's
    /// place in `world`'s queue improved by the update step.
    pub fn tick_due(&self, watch: &TickWatch, now: Millis, world: &dyn World) -> bool {
        if watch.due_at.is_some_and(|at| now >= at) {
            return true;
        }
        let Some(q) = &watch.queue else {
            return false;
        };
        self.improved_place(&q.team, q.case, q.told, now, world)
            .is_some()
    }

    /// The customer's new place in `team_name`'s queue when it improved by
    /// at least the update step since `told` and the team is open at `now`
    /// (the one rule both the tick and [`Engine::tick_due`] apply), with
    /// the team as resolved.
    fn improved_place(
        &self,
        team_name: &str,
        case: CaseId,
        told: u32,
        now: Millis,
        world: &dyn World,
    ) -> Option<(u32, &crate::config::Team)> {
        let team = self
            .config
            .team(team_name)
            .unwrap_or_else(|| self.config.default_team());
        if !team.hours.is_open(now) {
            return None;
        }
        let position = (world.queue_ahead(&team.name, case) + 1) as u32;
        let step = self.config.conversation.queue_update_step.max(1);
        (position + step <= told).then_some((position, team))
    }

    pub(super) fn tick(
        &self,
        t: &mut Transition,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let Phase::Queued(id) = t.state.phase() else {
            return Err(Refusal::Ignored);
        };
        let Some(case) = t.state.case.as_mut() else {
            return Err(Refusal::NoCase);
        };
        let before = t.effects.len();
        let silent_for = now - t.state.conv.last_customer_at;
        let abandon_ms = self.config.conversation.abandon_after.as_millis() as i64;
        if abandon_ms > 0 && silent_for >= abandon_ms && !case.out_of_hours {
            self.abandon(t, id);
            return Ok(());
        }
        if case.sla_deadline.is_some_and(|d| now >= d) && !case.overdue {
            case.overdue = true;
            let team = self
                .config
                .team(&case.team)
                .unwrap_or_else(|| self.config.default_team());
            let fallback = team.fallback.clone();
            let mention = team.mention.clone();
            let from = team.name.clone();
            match fallback {
                Some(fb) => {
                    let text =
                        format!("Case #{id} got no reply within the SLA; moving it to {fb}.");
                    t.effects.push(Effect::Notify {
                        case: id,
                        text,
                        mention,
                        at: None,
                    });
                    self.move_case(
                        t,
                        &fb,
                        super::SLA_TRANSFER_BY,
                        EscalationReason::SlaMissed { from },
                        now,
                    );
                }
                None => {
                    let text = format!(
                        "Case #{id} has waited past its first-reply SLA. Can someone `!claim` it?"
                    );
                    t.effects.push(Effect::Notify {
                        case: id,
                        text,
                        mention,
                        at: None,
                    });
                    self.update_summary(t, None);
                }
            }
            return Ok(());
        }
        self.queue_update(t, now, world);
        if t.effects.len() == before {
            return Err(Refusal::Ignored);
        }
        Ok(())
    }

    /// Tells the customer their new place when it improved enough.
    fn queue_update(&self, t: &mut Transition, now: Millis, world: &dyn World) {
        let Some(case) = t.state.case.as_mut() else {
            return;
        };
        let Some(told) = case.told_position else {
            return;
        };
        if let Some((position, team)) = self.improved_place(&case.team, case.id, told, now, world) {
            case.told_position = Some(position);
            let wait = routing::wait_phrase(
                position as usize,
                routing::typical_first_reply(&world.first_replies(&team.name)),
            );
            let text = super::fill(
                &self.config.messages.queue_update,
                &[("position", &position.to_string()), ("wait", &wait)],
            );
            self.say(t, text, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::CaseState;
    use crate::conversation::Event;
    use crate::fixtures::*;

    /// A team open Mon–Fri 09:00–17:00 UTC with a 5-minute SLA and no
    /// fallback.
    const SALES: &str = "[[team]]\nname = \"sales\"\ndesk = \"slack:#sales\"\ntopics = [\"pricing\"]\nfirst_reply_sla = \"5m\"\nhours = \"Mon-Fri 09:00-17:00 UTC\"\n";

    /// T0 is a Thursday 10:00 UTC; this is the Friday after, 16:30.
    const FRIDAY_1630: Millis = T0 + (24 * 60 + 390) * MINUTE;

    fn step(e: &Engine, s: &State, ev: Event, now: Millis, w: &FakeWorld) -> State {
        e.step(s, ev, now, w)
            .unwrap_or_else(|r| panic!("refused: {r}"))
            .state
    }

    /// A new customer's first message `text` at `at`.
    fn first_message(e: &Engine, w: &FakeWorld, text: &str, at: Millis) -> State {
        step(e, &e.start(customer(), at), says(text), at, w)
    }

    /// Ticks `s` at every minute of `minutes` from `from`, with 0 to 7
    /// cases ahead in the queue: the watch must call a tick due exactly
    /// when the tick does something. Returns (due, not due) counts.
    fn agrees(e: &Engine, s: &State, from: Millis, minutes: i64) -> (usize, usize) {
        let watch = e.tick_watch(s);
        let w = FakeWorld::default();
        let (mut due, mut quiet) = (0, 0);
        for m in 0..minutes {
            let now = from + m * MINUTE;
            for ahead in 0..8 {
                w.ahead.set(ahead);
                let acted = e.step(s, Event::Tick, now, &w).is_ok();
                let predicted = watch.as_ref().is_some_and(|x| e.tick_due(x, now, &w));
                assert_eq!(
                    predicted,
                    acted,
                    "minute {m}, {ahead} ahead, watch {watch:?}, phase {:?}",
                    s.phase()
                );
                if acted {
                    due += 1;
                } else {
                    quiet += 1;
                }
            }
        }
        (due, quiet)
    }

    #[test]
    fn a_queued_case_watches_its_abandonment_and_position() {
        let (e, w) = (engine(), FakeWorld::default());
        w.ahead.set(4);
        let s = first_message(&e, &w, "I want to talk to an agent", T0);
        let watch = e.tick_watch(&s).expect("queued");
        // tech has no SLA: only the 30-minute abandonment.
        assert_eq!(watch.due_at, Some(T0 + 30 * MINUTE));
        let q = watch.queue.as_ref().expect("a position was told");
        assert_eq!((q.case, q.team.as_str(), q.told), (1, "tech", 5));
        let (due, quiet) = agrees(&e, &s, T0, 40);
        assert!(due > 0 && quiet > 0, "{due} due, {quiet} not");
        // Fewer than the step ahead of the told place: not due.
        w.ahead.set(3);
        assert!(!e.tick_due(&watch, T0 + MINUTE, &w));
        w.ahead.set(2);
        assert!(e.tick_due(&watch, T0 + MINUTE, &w));
    }

    #[test]
    fn the_sla_deadline_comes_first_until_it_is_missed() {
        let e = engine_with(config_with(SALES));
        let w = FakeWorld::default();
        let s = first_message(&e, &w, "agent: pricing", T0);
        let case = s.case.as_ref().expect("a case");
        assert_eq!(case.team, "sales");
        let sla = case.sla_deadline.expect("sales has an SLA");
        assert_eq!(e.tick_watch(&s).and_then(|x| x.due_at), Some(sla));
        agrees(&e, &s, T0, 40);
        // Once the SLA ping went out only the abandonment is left.
        let pinged = step(&e, &s, Event::Tick, sla, &w);
        assert!(pinged.case.as_ref().is_some_and(|c| c.overdue));
        assert_eq!(
            e.tick_watch(&pinged).and_then(|x| x.due_at),
            Some(T0 + 30 * MINUTE)
        );
        agrees(&e, &pinged, sla, 40);
    }

    #[test]
    fn an_sla_miss_with_a_fallback_is_due_then_watches_the_new_team() {
        let (e, w) = (engine(), FakeWorld::default());
        let s = first_message(&e, &w, "agent, about my invoice", T0);
        assert_eq!(
            e.tick_watch(&s).and_then(|x| x.due_at),
            Some(T0 + 10 * MINUTE)
        );
        agrees(&e, &s, T0, 15);
        let moved = step(&e, &s, Event::Tick, T0 + 10 * MINUTE, &w);
        assert_eq!(moved.case.as_ref().map(|c| c.team.as_str()), Some("tech"));
        agrees(&e, &moved, T0 + 10 * MINUTE, 30);
    }

    #[test]
    fn business_hours_closing_stops_queue_updates_in_the_watch_too() {
        let e = engine_with(config_with(SALES));
        let w = FakeWorld::default();
        w.ahead.set(6);
        let s = first_message(&e, &w, "agent: pricing", FRIDAY_1630);
        let case = s.case.as_ref().expect("a case");
        assert!(!case.out_of_hours);
        assert_eq!(case.told_position, Some(7));
        // Past the SLA (so only the queue and hours matter), across 17:00.
        let pinged = step(&e, &s, Event::Tick, FRIDAY_1630 + 5 * MINUTE, &w);
        let (due, quiet) = agrees(&e, &pinged, FRIDAY_1630 + 6 * MINUTE, 40);
        assert!(due > 0 && quiet > 0, "{due} due, {quiet} not");
        // The queue alone (abandonment runs out at 17:00 too).
        let mut watch = e.tick_watch(&pinged).expect("a position was told");
        watch.due_at = None;
        w.ahead.set(0);
        assert!(e.tick_due(&watch, FRIDAY_1630 + 29 * MINUTE, &w), "open");
        assert!(!e.tick_due(&watch, FRIDAY_1630 + 31 * MINUTE, &w), "closed");
    }

    #[test]
    fn out_of_hours_cases_are_not_abandoned_and_may_watch_nothing() {
        let e = engine_with(config_with(SALES));
        let w = FakeWorld::default();
        let saturday = T0 + 2 * 24 * 60 * MINUTE;
        let s = first_message(&e, &w, "agent: pricing", saturday);
        let case = s.case.as_ref().expect("a case");
        assert!(case.out_of_hours);
        let watch = e.tick_watch(&s);
        assert!(
            watch
                .as_ref()
                .is_none_or(|x| x.due_at != Some(saturday + 30 * MINUTE)),
            "no abandonment out of hours: {watch:?}"
        );
        // Through the weekend into Monday morning, when the team opens.
        agrees(&e, &s, saturday, 60);
        agrees(&e, &s, saturday + (2 * 24 * 60 - 60) * MINUTE, 120);
    }

    #[test]
    fn nothing_is_watched_unless_queued() {
        let (e, w) = (engine(), FakeWorld::default());
        let bot = e.start(customer(), T0);
        assert_eq!(e.tick_watch(&bot), None);
        agrees(&e, &bot, T0, 5);
        let queued = step(&e, &bot, says("I want to talk to an agent"), T0, &w);
        let assigned = step(&e, &queued, agent_says(alice(), "!claim"), T0 + MINUTE, &w);
        assert_eq!(e.tick_watch(&assigned), None);
        assert_eq!(agrees(&e, &assigned, T0, 60).0, 0);
        let abandoned = step(&e, &queued, Event::Tick, T0 + 30 * MINUTE, &w);
        assert_eq!(
            abandoned.case.as_ref().map(|c| c.state.clone()),
            Some(CaseState::Abandoned)
        );
        assert_eq!(e.tick_watch(&abandoned), None);
        agrees(&e, &abandoned, T0 + 30 * MINUTE, 60);
        // Queued but the case record is missing: a tick is refused.
        let mut orphan = queued.clone();
        orphan.case = None;
        assert_eq!(e.tick_watch(&orphan), None);
        agrees(&e, &orphan, T0, 40);
    }

    #[test]
    fn a_case_without_timers_or_told_position_watches_nothing() {
        let (e, w) = (engine(), FakeWorld::default());
        let bot = e.start(customer(), T0);
        let mut s = step(&e, &bot, says("I want to talk to an agent"), T0, &w);
        if let Some(c) = s.case.as_mut() {
            c.told_position = None;
            c.out_of_hours = true;
        }
        assert_eq!(e.tick_watch(&s), None);
        assert_eq!(agrees(&e, &s, T0, 60).0, 0);
    }
}

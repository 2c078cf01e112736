//! What happens as time passes while a customer waits: the first-reply SLA
//! runs out (ping the team or move to the fallback team), the customer goes
//! silent (abandoned), or their place in the queue improves (tell them).
//!
//! Driven by [`Event::Tick`](super::Event::Tick); all deadlines are stored
//! in the case, so timers survive restarts by construction.

use handoff_bridge_api::Millis;

use super::{Effect, Engine, Refusal, Transition, World};
use crate::case::{EscalationReason, Phase};
use crate::routing;

impl Engine {
    pub(super) fn tick(
        &self,
        t: &mut Transition,
        now: Millis,
        world: &dyn World,
    ) -> Result<(), Refusal> {
        let Phase::Queued(id) = t.state.conv.phase else {
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
        let team = self
            .config
            .team(&case.team)
            .unwrap_or_else(|| self.config.default_team());
        if !team.hours.is_open(now) {
            return;
        }
        let position = (world.queue_ahead(&team.name, case.id) + 1) as u32;
        let step = self.config.conversation.queue_update_step.max(1);
        if position + step <= told {
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

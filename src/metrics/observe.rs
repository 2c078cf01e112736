//! What one step of the state machine changed, as metric observations.
//!
//! [`observe`] compares a conversation's state before and after a step and
//! names what happened (a FAQ answer, an escalation, a first human reply,
//! ...). It is pure: the state machine stays free of metrics calls, and the
//! router records the observations only after the step was committed, so a
//! redelivered or refused event is never counted twice.

use handoff_bridge_api::Millis;

use crate::case::{Case, CaseState, Speaker};
use crate::conversation::{State, SLA_TRANSFER_BY};

/// One countable thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A customer talked to the bot for the first time.
    ConversationStarted,
    /// The bot answered from the FAQ.
    FaqAnswered,
    /// The bot could not answer.
    FaqMiss,
    /// A new case was opened.
    Escalated { reason: &'static str, team: String },
    /// An open case moved to another team.
    Transferred { from: String, to: String },
    /// Nobody replied within the team's first-reply SLA.
    SlaBreached { team: String },
    /// An agent replied for the first time.
    FirstHumanReply { team: String, seconds: f64 },
    /// An agent resolved the case.
    Resolved { team: String, seconds: f64 },
    /// The customer went silent while queued.
    Abandoned { team: String },
    /// A customer came back to an abandoned case.
    Returned { team: String },
    /// The customer rated the help (1–5).
    Csat { team: String, score: u8 },
}

/// What changed from `before` (None: a new conversation) to `after` at
/// `now`.
pub fn observe(before: Option<&State>, after: &State, now: Millis) -> Vec<Observation> {
    let mut out = Vec::new();
    if before.is_none() {
        out.push(Observation::ConversationStarted);
    }
    let misses_before = before.map_or(0, |b| b.conv.misses_in_row);
    if after.conv.misses_in_row > misses_before {
        out.push(Observation::FaqMiss);
    }
    let last_before = before.and_then(|b| b.conv.turns.last());
    if let Some(last) = after.conv.turns.last() {
        if last.speaker == Speaker::Bot
            && last.faq.is_some()
            && last.at == now
            && Some(last) != last_before
        {
            out.push(Observation::FaqAnswered);
        }
    }
    let Some(case) = &after.case else {
        return out;
    };
    let prev = before
        .and_then(|b| b.case.as_ref())
        .filter(|p| p.id == case.id);
    match prev {
        None => {
            out.push(Observation::Escalated {
                reason: case.reason.label(),
                team: case.team.clone(),
            });
            case_changes(&mut out, &blank(case), case);
        }
        Some(p) => case_changes(&mut out, p, case),
    }
    out
}

/// A case as it was just before it opened, so a case that opens and
/// changes in one step (rare) is counted from zero.
fn blank(case: &Case) -> Case {
    let mut c = case.clone();
    c.state = CaseState::Queued;
    c.first_human_reply_at = None;
    c.overdue = false;
    c.transfers.clear();
    c.csat = None;
    c
}

fn seconds(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}

fn case_changes(out: &mut Vec<Observation>, p: &Case, c: &Case) {
    let mut sla_moved = false;
    if c.transfers.len() > p.transfers.len() {
        for t in &c.transfers[p.transfers.len()..] {
            // A move to the fallback team is how an SLA breach shows when
            // the team has one (the new team starts a fresh SLA).
            if t.by == SLA_TRANSFER_BY && !p.overdue {
                sla_moved = true;
                out.push(Observation::SlaBreached {
                    team: t.from.clone(),
                });
            }
            out.push(Observation::Transferred {
                from: t.from.clone(),
                to: t.to.clone(),
            });
        }
    }
    if c.overdue && !p.overdue && !sla_moved {
        out.push(Observation::SlaBreached {
            team: p.team.clone(),
        });
    }
    if let (None, Some(at)) = (p.first_human_reply_at, c.first_human_reply_at) {
        out.push(Observation::FirstHumanReply {
            team: c.team.clone(),
            seconds: seconds(c.opened_at, at),
        });
    }
    let was = (&p.state, &c.state);
    match was {
        (CaseState::Resolved { .. }, _) => {}
        (_, CaseState::Resolved { .. }) => out.push(Observation::Resolved {
            team: c.team.clone(),
            seconds: seconds(c.opened_at, c.closed_at.unwrap_or(c.opened_at)),
        }),
        (CaseState::Abandoned, s) if s.is_open() => out.push(Observation::Returned {
            team: c.team.clone(),
        }),
        (s, CaseState::Abandoned) if s != &CaseState::Abandoned => {
            out.push(Observation::Abandoned {
                team: c.team.clone(),
            })
        }
        _ => {}
    }
    if let (None, Some(score)) = (p.csat, c.csat) {
        out.push(Observation::Csat {
            team: c.team.clone(),
            score,
        });
    }
}

#[cfg(test)]
mod tests;

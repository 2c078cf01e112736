//! The context card of a case, posted first on the agents' desk and pinned:
//! who the customer is, where, why they were handed over, what they asked
//! and what the bot answered, earlier cases, team, SLA and state.
//!
//! Built as data ([`CaseSummary`]: fields, state, turns, actions) that each
//! bridge renders to its own markup and escapes, so every desk shows the
//! same facts and the core knows no network's syntax. Customer-written
//! text is masked for PII here; nothing here does I/O.

use handoff_bridge_api::{Button, CardField, CardState, CardTurn, CaseStatus, CaseSummary, Millis};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::case::{Case, CaseState, Speaker, Turn};
use crate::config::Team;
use crate::pii::Masker;

/// What a summary needs besides the case.
pub struct SummaryContext<'a> {
    pub team: &'a Team,
    /// Names of all teams (the transfer menu).
    pub teams: Vec<&'a str>,
    pub masker: &'a Masker,
    /// Turns of the conversation to show.
    pub turns: usize,
    pub bot_name: &'a str,
}

/// Renders the summary of `case`.
pub fn render(case: &Case, ctx: &SummaryContext<'_>) -> CaseSummary {
    let mut card = card(case, ctx);
    card.buttons = if card.state.status.is_open() {
        let others = ctx
            .teams
            .iter()
            .filter(|t| !t.eq_ignore_ascii_case(&case.team))
            .map(|t| (t.to_string(), t.to_string()))
            .collect::<Vec<_>>();
        let mut b = vec![
            button("claim", "Claim", Vec::new()),
            button("resolve", "Resolve", Vec::new()),
        ];
        if !others.is_empty() {
            b.push(button("transfer", "Transfer to…", others));
        }
        b
    } else {
        Vec::new()
    };
    if card.state.status.is_open() {
        card.commands = COMMANDS.iter().map(|c| c.to_string()).collect();
    }
    card
}

fn button(action: &str, label: &str, options: Vec<(String, String)>) -> Button {
    Button {
        action: action.into(),
        label: label.into(),
        options,
    }
}

/// "Case #42 · billing · Alice"
pub fn title(case: &Case, masker: &Masker) -> String {
    format!(
        "Case #{} · {} · {}",
        case.id,
        case.team,
        masker.mask(case.customer.user.name())
    )
}

fn card(case: &Case, ctx: &SummaryContext<'_>) -> CaseSummary {
    let m = ctx.masker;
    let tz = zone(ctx.team);
    let time = |t: Millis| clock(t, &tz);
    let (status, state) = match &case.state {
        CaseState::Queued => (CaseStatus::Waiting, "Waiting for an agent".to_string()),
        CaseState::Assigned { agent, .. } => (CaseStatus::Assigned, format!("Assigned to {agent}")),
        CaseState::Resolved { by } => (CaseStatus::Resolved, format!("Resolved by {by}")),
        CaseState::Abandoned => (
            CaseStatus::Abandoned,
            "Abandoned: the customer left while waiting".to_string(),
        ),
    };
    let customer = &case.customer;
    let mut facts = vec![
        fact(
            "Customer",
            format!(
                "{} ({}) on {}, in {}",
                m.mask(customer.user.name()),
                m.mask(&customer.user.id),
                customer.endpoint.network,
                customer.endpoint.room
            ),
        ),
        fact("Why handed over", case.reason.to_string()),
    ];
    if let Some(intent) = &case.intent {
        facts.push(fact("Intent", intent.clone()));
    }
    let bot_minutes = (case.opened_at - case.bot_since).max(0) / 60_000;
    let customer_turns = case
        .transcript
        .iter()
        .filter(|t| t.speaker == Speaker::Customer && t.at <= case.opened_at)
        .count();
    facts.push(fact(
        "With the bot",
        format!("{bot_minutes} min, {customer_turns} message(s) before the handover"),
    ));
    let mut team = format!("{} · opened {}", case.team, time(case.opened_at));
    if case.out_of_hours {
        team.push_str(" · outside business hours");
    }
    if let Some(closed) = &case.closed_team {
        team.push_str(&format!(" · {closed} was closed, so its fallback took it"));
    }
    facts.push(fact("Team", team));
    if let Some(deadline) = case.sla_deadline {
        let mut v = match case.first_human_reply_at {
            Some(at) => format!("first reply by {} (replied {})", time(deadline), time(at)),
            None => format!("first reply by {}", time(deadline)),
        };
        if case.overdue {
            v.push_str(" · ⚠️ OVERDUE");
        }
        facts.push(fact("SLA", v));
    }
    for at in &case.reopened {
        facts.push(fact(
            "Reopened",
            format!("{} (the customer wrote again)", time(*at)),
        ));
    }
    for t in &case.transfers {
        facts.push(fact(
            "Transferred",
            format!("{} → {} by {} at {}", t.from, t.to, t.by, time(t.at)),
        ));
    }
    if !case.previous_cases.is_empty() {
        let list = case
            .previous_cases
            .iter()
            .take(5)
            .map(|p| {
                format!(
                    "#{} ({}, {}, {}: {})",
                    p.id,
                    date(p.opened_at, &tz),
                    p.team,
                    state_word(&p.state),
                    p.reason
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        facts.push(fact("Earlier cases", list));
    }
    if let Some(score) = case.csat {
        facts.push(fact("Rating", format!("{score}/5")));
    }
    let shown: Vec<&Turn> = case.transcript.iter().filter(|t| !t.internal).collect();
    let skip = shown.len().saturating_sub(ctx.turns);
    let turns = shown[skip..]
        .iter()
        .map(|t| CardTurn {
            who: speaker(t, case, ctx),
            at: time(t.at),
            text: if t.deleted {
                "(message deleted)".to_string()
            } else {
                m.mask(&t.text).into_owned()
            },
        })
        .collect();
    let notes = case.transcript.iter().filter(|t| t.internal).count();
    CaseSummary {
        title: title(case, m),
        state: CardState {
            status,
            text: state,
        },
        fields: facts,
        turns,
        notes: u32::try_from(notes).unwrap_or(u32::MAX),
        commands: Vec::new(),
        buttons: Vec::new(),
    }
}

fn fact(label: &str, value: String) -> CardField {
    CardField {
        label: label.to_string(),
        value,
    }
}

fn speaker(t: &Turn, case: &Case, ctx: &SummaryContext<'_>) -> String {
    match &t.speaker {
        Speaker::Customer => ctx.masker.mask(case.customer.user.name()).into_owned(),
        Speaker::Bot => match &t.faq {
            Some(hit) => format!(
                "{} (FAQ {}, {:.0}% sure)",
                ctx.bot_name,
                hit.id,
                hit.confidence * 100.0
            ),
            None => ctx.bot_name.to_string(),
        },
        Speaker::Agent(name) => name.clone(),
        Speaker::System => format!("{} (notice)", ctx.bot_name),
    }
}

fn state_word(s: &CaseState) -> &'static str {
    match s {
        CaseState::Queued => "waiting",
        CaseState::Assigned { .. } => "open",
        CaseState::Resolved { .. } => "resolved",
        CaseState::Abandoned => "abandoned",
    }
}

fn zone(team: &Team) -> TimeZone {
    TimeZone::get(team.hours.time_zone()).unwrap_or(TimeZone::UTC)
}

fn clock(t: Millis, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(t)
        .map(|ts| {
            ts.to_zoned_datetime(tz.clone())
                .strftime("%H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

fn date(t: Millis, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(t)
        .map(|ts| {
            ts.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

/// What agents may type on the desk while a case is open.
const COMMANDS: [&str; 4] = ["!claim", "!resolve", "!note <text>", "!transfer <team>"];

#[cfg(test)]
mod tests;

//! The context card of a case, posted first on the agents' desk and pinned:
//! who the customer is, where, why they were handed over, what they asked
//! and what the bot answered, earlier cases, team, SLA and state.
//!
//! Rendered three ways from one [`Card`] (Markdown for Matrix, mrkdwn
//! sections plus buttons for Slack Block Kit, plain text), so every desk
//! shows the same facts. Customer-written text is masked for PII and
//! escaped for the target markup; nothing here does I/O.

use handoff_bridge_api::{Button, CaseSummary, Millis};
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

/// One fact line of the card: a label and its value (already masked).
struct Fact {
    label: &'static str,
    value: String,
}

/// The facts of a case, before markup.
struct Card {
    title: String,
    state: String,
    facts: Vec<Fact>,
    turns: Vec<(String, String)>,
    notes: usize,
    open: bool,
}

/// Renders the summary of `case`.
pub fn render(case: &Case, ctx: &SummaryContext<'_>) -> CaseSummary {
    let card = card(case, ctx);
    let buttons = if card.open {
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
    CaseSummary {
        title: card.title.clone(),
        markdown: markdown(&card),
        mrkdwn_sections: mrkdwn(&card),
        plain: plain(&card),
        buttons,
    }
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

fn card(case: &Case, ctx: &SummaryContext<'_>) -> Card {
    let m = ctx.masker;
    let tz = zone(ctx.team);
    let time = |t: Millis| clock(t, &tz);
    let state = match &case.state {
        CaseState::Queued => "🟡 Waiting for an agent".to_string(),
        CaseState::Assigned { agent, .. } => format!("🟢 Assigned to {agent}"),
        CaseState::Resolved { by } => format!("✅ Resolved by {by}"),
        CaseState::Abandoned => "⚪ Abandoned: the customer left while waiting".to_string(),
    };
    let customer = &case.customer;
    let mut facts = vec![
        Fact {
            label: "Customer",
            value: format!(
                "{} ({}) on {}, in {}",
                m.mask(customer.user.name()),
                m.mask(&customer.user.id),
                customer.endpoint.network,
                customer.endpoint.room
            ),
        },
        Fact {
            label: "Why handed over",
            value: case.reason.to_string(),
        },
    ];
    if let Some(intent) = &case.intent {
        facts.push(Fact {
            label: "Intent",
            value: intent.clone(),
        });
    }
    let bot_minutes = (case.opened_at - case.bot_since).max(0) / 60_000;
    let customer_turns = case
        .transcript
        .iter()
        .filter(|t| t.speaker == Speaker::Customer && t.at <= case.opened_at)
        .count();
    facts.push(Fact {
        label: "With the bot",
        value: format!("{bot_minutes} min, {customer_turns} message(s) before the handover"),
    });
    let mut team = format!("{} · opened {}", case.team, time(case.opened_at));
    if case.out_of_hours {
        team.push_str(" · outside business hours");
    }
    facts.push(Fact {
        label: "Team",
        value: team,
    });
    if let Some(deadline) = case.sla_deadline {
        let mut v = match case.first_human_reply_at {
            Some(at) => format!("first reply by {} (replied {})", time(deadline), time(at)),
            None => format!("first reply by {}", time(deadline)),
        };
        if case.overdue {
            v.push_str(" · ⚠️ OVERDUE");
        }
        facts.push(Fact {
            label: "SLA",
            value: v,
        });
    }
    for t in &case.transfers {
        facts.push(Fact {
            label: "Transferred",
            value: format!("{} → {} by {} at {}", t.from, t.to, t.by, time(t.at)),
        });
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
        facts.push(Fact {
            label: "Earlier cases",
            value: list,
        });
    }
    if let Some(score) = case.csat {
        facts.push(Fact {
            label: "Rating",
            value: format!("{score}/5"),
        });
    }
    let shown: Vec<&Turn> = case.transcript.iter().filter(|t| !t.internal).collect();
    let skip = shown.len().saturating_sub(ctx.turns);
    let turns = shown[skip..]
        .iter()
        .map(|t| {
            (
                speaker(t, case, ctx),
                format!("{} {}", time(t.at), m.mask(&t.text)),
            )
        })
        .collect();
    Card {
        title: title(case, m),
        state,
        facts,
        turns,
        notes: case.transcript.iter().filter(|t| t.internal).count(),
        open: case.state.is_open(),
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

const COMMANDS: &str = "!claim · !resolve · !note <text> · !transfer <team>";

fn markdown(c: &Card) -> String {
    let mut s = format!("### {}\n\n**State:** {}\n\n", md_escape(&c.title), c.state);
    for f in &c.facts {
        s.push_str(&format!("- **{}:** {}\n", f.label, md_escape(&f.value)));
    }
    s.push_str("\n**Conversation so far**\n\n");
    if c.turns.is_empty() {
        s.push_str("_(nothing said yet)_\n");
    }
    for (who, text) in &c.turns {
        s.push_str(&format!("> **{}** {}  \n", md_escape(who), md_escape(text)));
    }
    if c.notes > 0 {
        s.push_str(&format!("\n_{} internal note(s) in this case._\n", c.notes));
    }
    if c.open {
        s.push_str(&format!("\nCommands: `{COMMANDS}`\n"));
    }
    s
}

fn mrkdwn(c: &Card) -> Vec<String> {
    let mut head = format!("*{}*\n*State:* {}", slack_escape(&c.title), c.state);
    for f in &c.facts {
        head.push_str(&format!("\n*{}:* {}", f.label, slack_escape(&f.value)));
    }
    let mut talk = String::from("*Conversation so far*");
    if c.turns.is_empty() {
        talk.push_str("\n_(nothing said yet)_");
    }
    for (who, text) in &c.turns {
        talk.push_str(&format!(
            "\n>*{}* {}",
            slack_escape(who),
            slack_escape(text)
        ));
    }
    let mut sections = vec![head, talk];
    if c.notes > 0 || c.open {
        let mut foot = String::new();
        if c.notes > 0 {
            foot.push_str(&format!("_{} internal note(s)._ ", c.notes));
        }
        if c.open {
            foot.push_str(&format!("Commands in this thread: `{COMMANDS}`"));
        }
        sections.push(foot.trim().to_string());
    }
    sections
}

fn plain(c: &Card) -> String {
    let mut s = format!("{}\nState: {}\n", c.title, c.state);
    for f in &c.facts {
        s.push_str(&format!("{}: {}\n", f.label, f.value));
    }
    s.push_str("Conversation so far:\n");
    for (who, text) in &c.turns {
        s.push_str(&format!("  {who}: {text}\n"));
    }
    s
}

/// Escapes characters Markdown would interpret, so customer text shows
/// as written (and cannot inject HTML into the Matrix rendering).
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Escapes the three characters Slack's mrkdwn reserves.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;

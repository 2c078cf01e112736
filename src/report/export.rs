//! `handoff export`: whole case transcripts for managers and audits, as
//! JSON Lines (one case per line), Markdown, or CSV (one transcript line
//! per row, with its case's team, state and agent).
//!
//! Pure rendering of stored cases. Who said what is kept exactly (customer,
//! bot, agents by name, system notices), internal notes are kept and marked
//! internal, and the `[privacy]` masks apply to every text, as they do in
//! case summaries.

use handoff_bridge_api::Millis;
use serde::Serialize;

use crate::case::{Case, CaseState, Speaker};
use crate::pii::Masker;

use super::stats::when;

/// The output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Markdown,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "jsonl" | "json" => Ok(Format::Jsonl),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown export format {other:?}: use jsonl, md or csv"
            )),
        }
    }
}

/// One case as exported in JSON Lines.
#[derive(Debug, Serialize)]
struct CaseLine<'a> {
    case: u64,
    team: &'a str,
    customer: &'a str,
    customer_name: &'a str,
    network: &'a str,
    reason: String,
    reason_kind: &'static str,
    intent: Option<&'a str>,
    state: &'static str,
    agent: Option<&'a str>,
    opened_at: String,
    first_human_reply_at: Option<String>,
    closed_at: Option<String>,
    out_of_hours: bool,
    overdue: bool,
    csat: Option<u8>,
    /// When the transcript's text was erased (retention, or a person
    /// forgotten on request).
    #[serde(skip_serializing_if = "Option::is_none")]
    erased_at: Option<String>,
    transcript: Vec<Line<'a>>,
}

#[derive(Debug, Serialize)]
struct Line<'a> {
    at: String,
    speaker: &'static str,
    name: &'a str,
    text: String,
    internal: bool,
    /// The message was deleted: its text is gone (empty here).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    faq: Option<&'a str>,
}

fn state_name(s: &CaseState) -> &'static str {
    match s {
        CaseState::Queued => "queued",
        CaseState::Assigned { .. } => "assigned",
        CaseState::Resolved { .. } => "resolved",
        CaseState::Abandoned => "abandoned",
    }
}

fn speaker<'a>(s: &'a Speaker, case: &'a Case, bot: &'a str) -> (&'static str, &'a str) {
    match s {
        Speaker::Customer => ("customer", case.customer.user.name()),
        Speaker::Bot => ("bot", bot),
        Speaker::Agent(name) => ("agent", name.as_str()),
        Speaker::System => ("system", bot),
    }
}

fn opt_when(t: Option<Millis>) -> Option<String> {
    t.map(when)
}

/// Replaces each customer's id, display name and room by `customer-N`,
/// numbered in order of first appearance (stable within one export, not
/// linkable across exports), and their display name where it appears in
/// the transcript (names of three letters or more). Other people's names
/// written in messages are left to the `[privacy]` masks.
pub fn pseudonymize(cases: &mut [Case]) {
    let mut seen: Vec<(String, String)> = Vec::new();
    for c in cases.iter_mut() {
        let who = (c.customer.user.network.clone(), c.customer.user.id.clone());
        let n = match seen.iter().position(|s| *s == who) {
            Some(i) => i + 1,
            None => {
                seen.push(who);
                seen.len()
            }
        };
        let alias = format!("customer-{n}");
        let names: Vec<String> = [
            c.customer.user.display_name.clone(),
            Some(c.customer.user.id.clone()),
        ]
        .into_iter()
        .flatten()
        .filter(|n| n.chars().count() >= 3)
        .collect();
        for turn in &mut c.transcript {
            for name in &names {
                if turn.text.contains(name.as_str()) {
                    turn.text = turn.text.replace(name.as_str(), &alias);
                }
            }
        }
        c.customer.user.id = alias.clone();
        c.customer.user.display_name = Some(alias.clone());
        c.customer.endpoint.room = alias.clone();
        c.customer.endpoint.thread = None;
        c.conversation = crate::case::ConversationKey(alias);
    }
}

/// Renders `cases` in `format`; `bot` names the bot's turns.
pub fn render(cases: &[Case], format: Format, masker: &Masker, bot: &str) -> String {
    match format {
        Format::Jsonl => cases
            .iter()
            .map(|c| {
                let line = to_line(c, masker, bot);
                let mut s = serde_json::to_string(&line).unwrap_or_else(|e| {
                    // Serializing plain strings and numbers cannot fail;
                    // if it ever did, say so in the output, not silently.
                    format!("{{\"case\":{},\"error\":{:?}}}", c.id, e.to_string())
                });
                s.push('\n');
                s
            })
            .collect(),
        Format::Markdown => cases.iter().map(|c| markdown(c, masker, bot)).collect(),
        Format::Csv => csv_rows(cases, masker, bot).unwrap_or_else(|e| {
            // Writing to memory cannot fail; if it ever did, say so.
            format!("error writing CSV: {e}\n")
        }),
    }
}

/// One row per transcript line, its case's fields repeated.
fn csv_rows(cases: &[Case], masker: &Masker, bot: &str) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "case",
        "team",
        "state",
        "agent",
        "customer",
        "opened_at",
        "at",
        "speaker",
        "name",
        "internal",
        "text",
    ])?;
    for c in cases {
        let l = to_line(c, masker, bot);
        for t in &l.transcript {
            w.write_record([
                l.case.to_string().as_str(),
                l.team,
                l.state,
                l.agent.unwrap_or(""),
                l.customer,
                l.opened_at.as_str(),
                t.at.as_str(),
                t.speaker,
                t.name,
                if t.internal { "true" } else { "false" },
                t.text.as_str(),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn to_line<'a>(c: &'a Case, masker: &Masker, bot: &'a str) -> CaseLine<'a> {
    CaseLine {
        case: c.id,
        team: &c.team,
        customer: &c.customer.user.id,
        customer_name: c.customer.user.name(),
        network: &c.customer.endpoint.network,
        reason: c.reason.to_string(),
        reason_kind: c.reason.label(),
        intent: c.intent.as_deref(),
        state: state_name(&c.state),
        agent: match &c.state {
            CaseState::Assigned { agent, .. } => Some(agent.as_str()),
            CaseState::Resolved { by } => Some(by.as_str()),
            _ => None,
        },
        opened_at: when(c.opened_at),
        first_human_reply_at: opt_when(c.first_human_reply_at),
        closed_at: opt_when(c.closed_at),
        out_of_hours: c.out_of_hours,
        overdue: c.overdue,
        csat: c.csat,
        erased_at: opt_when(c.erased_at),
        transcript: c
            .transcript
            .iter()
            .map(|t| {
                let (speaker, name) = speaker(&t.speaker, c, bot);
                Line {
                    at: when(t.at),
                    speaker,
                    name,
                    text: masker.mask(&t.text).into_owned(),
                    internal: t.internal,
                    deleted: t.deleted,
                    faq: t.faq.as_ref().map(|f| f.id.as_str()),
                }
            })
            .collect(),
    }
}

fn markdown(c: &Case, masker: &Masker, bot: &str) -> String {
    use std::fmt::Write;
    let l = to_line(c, masker, bot);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Case #{} · {} · {}\n",
        l.case, l.team, l.customer_name
    );
    let _ = writeln!(
        s,
        "- Customer: {} ({}, {})",
        l.customer_name, l.customer, l.network
    );
    let _ = writeln!(s, "- Why: {}", l.reason);
    if let Some(i) = l.intent {
        let _ = writeln!(s, "- Intent: {i}");
    }
    let _ = writeln!(
        s,
        "- State: {}{}",
        l.state,
        l.agent.map(|a| format!(" ({a})")).unwrap_or_default()
    );
    let _ = writeln!(s, "- Opened: {}", l.opened_at);
    if let Some(t) = &l.first_human_reply_at {
        let _ = writeln!(s, "- First human reply: {t}");
    }
    if let Some(t) = &l.closed_at {
        let _ = writeln!(s, "- Closed: {t}");
    }
    if l.out_of_hours {
        let _ = writeln!(s, "- Opened outside business hours");
    }
    if l.overdue {
        let _ = writeln!(s, "- Missed the first-reply SLA");
    }
    if let Some(r) = l.csat {
        let _ = writeln!(s, "- Rating: {r}/5");
    }
    if let Some(t) = &l.erased_at {
        let _ = writeln!(s, "- Transcript erased: {t}");
    }
    let _ = writeln!(s, "\n### Transcript\n");
    for t in &l.transcript {
        let tag = if t.internal { " *(internal note)*" } else { "" };
        let text = if l.erased_at.is_some() {
            "*(erased)*".to_string()
        } else if t.deleted {
            "*(message deleted)*".to_string()
        } else {
            t.text.replace('\n', "\n  > ")
        };
        let _ = writeln!(
            s,
            "- `{}` **{}** ({}){tag}:\n  > {text}",
            t.at, t.name, t.speaker
        );
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;

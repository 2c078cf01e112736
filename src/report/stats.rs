//! `handoff stats`: the manager's figures for a time window, computed from
//! the store's conversations and cases.
//!
//! Pure: [`Stats::compute`] takes the records and the window and returns
//! numbers; [`Stats::render`] prints them. The daemon's `/api/stats` and
//! the CLI (when it can open the store itself) use the same two functions,
//! so their output is identical.
//!
//! Definitions (also in the README): a conversation counts in the window
//! when the customer wrote in it; containment is the share of those that
//! needed no case; times are medians and 90th percentiles (nearest rank)
//! over the cases opened in the window.

use std::collections::BTreeMap;

use handoff_bridge_api::Millis;
use serde::Serialize;

use crate::case::{Case, CaseState, Conversation};

/// The figures of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub since: Millis,
    pub until: Millis,
    /// Conversations the customer wrote in during the window.
    pub conversations: u64,
    /// Of those, how many had a case opened in the window.
    pub escalated_conversations: u64,
    /// `1 - escalated / conversations`; None without conversations.
    pub containment: Option<f64>,
    pub cases: u64,
    pub escalations_by_reason: BTreeMap<String, u64>,
    pub escalations_by_team: BTreeMap<String, u64>,
    pub first_reply: Percentiles,
    pub resolution: Percentiles,
    pub open: u64,
    pub resolved: u64,
    pub abandoned: u64,
    /// `abandoned / cases`; None without cases.
    pub abandonment: Option<f64>,
    pub sla_breaches: u64,
    pub csat: Csat,
    /// Outbox entries that failed for good and wait for `handoff outbox
    /// retry` (now, not in the window).
    pub parked_outbox: u64,
}

/// Median and 90th percentile of durations, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Percentiles {
    pub count: u64,
    pub median_secs: Option<f64>,
    pub p90_secs: Option<f64>,
}

/// Satisfaction ratings.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Csat {
    pub responses: u64,
    pub average: Option<f64>,
    /// Count per score 1..=5.
    pub by_score: BTreeMap<u8, u64>,
}

impl Percentiles {
    fn of(mut secs: Vec<f64>) -> Percentiles {
        secs.sort_by(|a, b| a.total_cmp(b));
        let rank = |q: f64| crate::percentile::nearest_rank(&secs, q);
        Percentiles {
            count: secs.len() as u64,
            median_secs: rank(0.5),
            p90_secs: rank(0.9),
        }
    }
}

fn secs(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}

impl Stats {
    /// The figures for `[since, until]` from all conversations and the
    /// cases opened since `since`.
    pub fn compute(
        conversations: &[Conversation],
        cases: &[Case],
        since: Millis,
        until: Millis,
    ) -> Stats {
        let in_window = |t: Millis| t >= since && t <= until;
        let cases: Vec<&Case> = cases.iter().filter(|c| in_window(c.opened_at)).collect();
        let mut escalated: Vec<&str> = cases.iter().map(|c| c.conversation.0.as_str()).collect();
        escalated.sort_unstable();
        escalated.dedup();
        let active = conversations
            .iter()
            .filter(|c| in_window(c.last_customer_at))
            .count() as u64;
        // A conversation that escalated in the window is active in it even
        // if its last message was later.
        let conversations = active.max(escalated.len() as u64);
        let mut by_reason = BTreeMap::new();
        let mut by_team = BTreeMap::new();
        let (mut first, mut resolution) = (Vec::new(), Vec::new());
        let (mut open, mut resolved, mut abandoned, mut breaches) = (0, 0, 0, 0);
        let mut csat = Csat::default();
        for c in &cases {
            *by_reason.entry(c.reason.label().to_string()).or_insert(0) += 1;
            *by_team.entry(c.team.clone()).or_insert(0) += 1;
            if let Some(at) = c.first_human_reply_at {
                first.push(secs(c.opened_at, at));
            }
            match &c.state {
                CaseState::Resolved { .. } => {
                    resolved += 1;
                    if let Some(at) = c.closed_at {
                        resolution.push(secs(c.opened_at, at));
                    }
                }
                CaseState::Abandoned => abandoned += 1,
                _ => open += 1,
            }
            if c.overdue {
                breaches += 1;
            }
            if let Some(score) = c.csat {
                csat.responses += 1;
                *csat.by_score.entry(score).or_insert(0) += 1;
            }
        }
        if csat.responses > 0 {
            let sum: u64 = csat.by_score.iter().map(|(s, n)| u64::from(*s) * n).sum();
            csat.average = Some(sum as f64 / csat.responses as f64);
        }
        let n = cases.len() as u64;
        Stats {
            since,
            until,
            conversations,
            escalated_conversations: escalated.len() as u64,
            containment: (conversations > 0)
                .then(|| 1.0 - escalated.len() as f64 / conversations as f64),
            cases: n,
            escalations_by_reason: by_reason,
            escalations_by_team: by_team,
            first_reply: Percentiles::of(first),
            resolution: Percentiles::of(resolution),
            open,
            resolved,
            abandoned,
            abandonment: (n > 0).then(|| abandoned as f64 / n as f64),
            sla_breaches: breaches,
            csat,
            parked_outbox: 0,
        }
    }

    /// The figures as text for a terminal.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "handoff stats from {} to {}",
            when(self.since),
            when(self.until)
        );
        let _ = writeln!(
            s,
            "  conversations:        {} ({} handed to a person)",
            self.conversations, self.escalated_conversations
        );
        let _ = writeln!(s, "  containment:          {}", pct(self.containment));
        let _ = writeln!(
            s,
            "  cases:                {} ({} open, {} resolved, {} abandoned)",
            self.cases, self.open, self.resolved, self.abandoned
        );
        for (title, map) in [
            ("escalations by reason", &self.escalations_by_reason),
            ("escalations by team", &self.escalations_by_team),
        ] {
            let list: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let list = if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            };
            let _ = writeln!(s, "  {title:<22}{list}");
        }
        for (title, p) in [
            ("first human reply", &self.first_reply),
            ("resolution time", &self.resolution),
        ] {
            let _ = writeln!(
                s,
                "  {title:<22}median {}, p90 {} ({} cases)",
                dur(p.median_secs),
                dur(p.p90_secs),
                p.count
            );
        }
        let _ = writeln!(s, "  abandonment:          {}", pct(self.abandonment));
        let _ = writeln!(s, "  SLA breaches:         {}", self.sla_breaches);
        let csat = match self.csat.average {
            Some(avg) => {
                let by: Vec<String> = self
                    .csat
                    .by_score
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                format!(
                    "{avg:.2} average from {} rating(s) ({})",
                    self.csat.responses,
                    by.join(", ")
                )
            }
            None => "no ratings".into(),
        };
        let _ = writeln!(s, "  CSAT:                 {csat}");
        let _ = writeln!(
            s,
            "  undeliverable:        {} parked outbox entr{}{}",
            self.parked_outbox,
            if self.parked_outbox == 1 { "y" } else { "ies" },
            if self.parked_outbox > 0 {
                " (see the log; retry with `handoff outbox retry`)"
            } else {
                ""
            }
        );
        s
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{:.1} %", v * 100.0))
}

fn dur(v: Option<f64>) -> String {
    v.map_or_else(
        || "n/a".into(),
        |s| {
            humantime::format_duration(std::time::Duration::from_secs(s.round() as u64)).to_string()
        },
    )
}

/// A timestamp as RFC 3339 UTC (to the second).
pub fn when(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests;

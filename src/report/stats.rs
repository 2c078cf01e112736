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
//! needed no case; times are medians (the mean of the two middle values
//! for an even count) and 90th percentiles (nearest rank) over the cases
//! opened in the window, in wall time and in the team's business hours
//! (time the team was open); per customer network (where the customer
//! wrote: conversations and containment too), per agent (who owns or
//! resolved the case) and per day (UTC date the case was opened) as well
//! as in total.

use std::collections::BTreeMap;

use handoff_bridge_api::Millis;
use serde::Serialize;

use crate::case::{Case, CaseState, Conversation};
use crate::config::Team;
use crate::hours::BusinessHours;

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
    /// First reply and resolution counted in the team's business hours.
    pub first_reply_business: Percentiles,
    pub resolution_business: Percentiles,
    /// Per customer network (the network of the customer's endpoint, an
    /// opaque name): the networks with a conversation or case in the
    /// window.
    pub by_network: BTreeMap<String, NetworkFigures>,
    /// Per agent: who owns the case, or resolved it.
    pub by_agent: BTreeMap<String, Figures>,
    /// Per UTC date the case was opened (`2026-11-26`).
    pub by_day: BTreeMap<String, Figures>,
}

/// The figures of one group of cases (an agent's, a day's).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Figures {
    pub cases: u64,
    pub resolved: u64,
    pub abandoned: u64,
    pub sla_breaches: u64,
    pub first_reply: Percentiles,
    pub first_reply_business: Percentiles,
    pub resolution: Percentiles,
    pub resolution_business: Percentiles,
    pub csat_responses: u64,
    pub csat_average: Option<f64>,
}

/// The figures of the conversations on one customer network: the window's
/// conversations and containment as in the total, and the figures of
/// their cases.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct NetworkFigures {
    /// Conversations on this network the customer wrote in during the
    /// window (or that escalated in it).
    pub conversations: u64,
    /// Of those, how many had a case opened in the window.
    pub escalated_conversations: u64,
    /// `1 - escalated / conversations`; None without conversations.
    pub containment: Option<f64>,
    pub escalations_by_reason: BTreeMap<String, u64>,
    /// The cases opened in the window for this network's customers.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A group's conversations: every key active in the window, and those
/// escalated in it.
#[derive(Default)]
struct ConvCount<'a> {
    active: Vec<&'a str>,
    escalated: Vec<&'a str>,
}

impl ConvCount<'_> {
    /// (conversations, escalated, containment).
    fn figures(mut self) -> (u64, u64, Option<f64>) {
        for list in [&mut self.active, &mut self.escalated] {
            list.sort_unstable();
            list.dedup();
        }
        let (n, e) = (self.active.len() as u64, self.escalated.len() as u64);
        (n, e, (n > 0).then(|| 1.0 - e as f64 / n as f64))
    }
}

/// The raw numbers of a group, before the percentiles.
#[derive(Default)]
struct Acc {
    cases: u64,
    resolved: u64,
    abandoned: u64,
    breaches: u64,
    first: Vec<f64>,
    first_business: Vec<f64>,
    resolution: Vec<f64>,
    resolution_business: Vec<f64>,
    csat: Vec<u8>,
}

impl Acc {
    fn add(&mut self, c: &Case, hours: &BusinessHours) {
        self.cases += 1;
        if let Some(at) = c.first_human_reply_at {
            self.first.push(secs(c.opened_at, at));
            self.first_business
                .push(hours.open_ms_between(c.opened_at, at) as f64 / 1000.0);
        }
        match &c.state {
            CaseState::Resolved { .. } => {
                self.resolved += 1;
                if let Some(at) = c.closed_at {
                    self.resolution.push(secs(c.opened_at, at));
                    self.resolution_business
                        .push(hours.open_ms_between(c.opened_at, at) as f64 / 1000.0);
                }
            }
            CaseState::Abandoned => self.abandoned += 1,
            _ => {}
        }
        if c.overdue {
            self.breaches += 1;
        }
        if let Some(score) = c.csat {
            self.csat.push(score);
        }
    }

    fn figures(self) -> Figures {
        let responses = self.csat.len() as u64;
        let sum: u64 = self.csat.iter().map(|s| u64::from(*s)).sum();
        Figures {
            cases: self.cases,
            resolved: self.resolved,
            abandoned: self.abandoned,
            sla_breaches: self.breaches,
            first_reply: Percentiles::of(self.first),
            first_reply_business: Percentiles::of(self.first_business),
            resolution: Percentiles::of(self.resolution),
            resolution_business: Percentiles::of(self.resolution_business),
            csat_responses: responses,
            csat_average: (responses > 0).then(|| sum as f64 / responses as f64),
        }
    }
}

/// The agent a case is counted for: its owner, or who resolved it.
pub fn agent_of(c: &Case) -> Option<&str> {
    match &c.state {
        CaseState::Assigned { agent, .. } => Some(agent),
        CaseState::Resolved { by } => Some(by),
        CaseState::Queued | CaseState::Abandoned => None,
    }
}

/// The UTC date of `ms`, `2026-11-26`.
pub fn day_of(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .date()
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
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
    pub(crate) fn of(mut secs: Vec<f64>) -> Percentiles {
        secs.sort_by(|a, b| a.total_cmp(b));
        let n = secs.len();
        // The median of an even count is the mean of the two middle values.
        let median = match n {
            0 => None,
            _ if n.is_multiple_of(2) => Some((secs[n / 2 - 1] + secs[n / 2]) / 2.0),
            _ => Some(secs[n / 2]),
        };
        let rank = |q: f64| crate::percentile::nearest_rank(&secs, q);
        Percentiles {
            count: n as u64,
            median_secs: median,
            p90_secs: rank(0.9),
        }
    }
}

fn secs(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}

impl Stats {
    /// The figures for `[since, until]` from all conversations and the
    /// cases opened since `since`; `teams` give the business hours (a case
    /// of a team no longer configured counts wall time).
    pub fn compute(
        conversations: &[Conversation],
        cases: &[Case],
        since: Millis,
        until: Millis,
        teams: &[Team],
    ) -> Stats {
        let always = BusinessHours::always();
        let hours_of = |team: &str| {
            teams
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(team))
                .map_or(&always, |t| &t.hours)
        };
        let in_window = |t: Millis| t >= since && t <= until;
        let cases: Vec<&Case> = cases.iter().filter(|c| in_window(c.opened_at)).collect();
        // Conversations by key, in total and per customer network: those
        // the customer wrote in during the window, and those that
        // escalated in it (active in it even if the last message was
        // later).
        let mut convs = ConvCount::default();
        let mut net_convs: BTreeMap<&str, ConvCount> = BTreeMap::new();
        for c in conversations
            .iter()
            .filter(|c| in_window(c.last_customer_at))
        {
            let net = net_convs
                .entry(c.customer.endpoint.network.as_str())
                .or_default();
            for count in [&mut convs, net] {
                count.active.push(c.key.0.as_str());
            }
        }
        for c in &cases {
            let net = net_convs
                .entry(c.customer.endpoint.network.as_str())
                .or_default();
            for count in [&mut convs, net] {
                count.active.push(c.conversation.0.as_str());
                count.escalated.push(c.conversation.0.as_str());
            }
        }
        let (conversations, escalated, containment) = convs.figures();
        let mut by_reason = BTreeMap::new();
        let mut by_team = BTreeMap::new();
        let (mut first, mut resolution) = (Vec::new(), Vec::new());
        let (mut open, mut resolved, mut abandoned, mut breaches) = (0, 0, 0, 0);
        let mut csat = Csat::default();
        let mut total = Acc::default();
        let mut agents: BTreeMap<String, Acc> = BTreeMap::new();
        let mut days: BTreeMap<String, Acc> = BTreeMap::new();
        let mut networks: BTreeMap<&str, (Acc, BTreeMap<String, u64>)> = BTreeMap::new();
        for c in &cases {
            let hours = hours_of(&c.team);
            total.add(c, hours);
            let (acc, reasons) = networks
                .entry(c.customer.endpoint.network.as_str())
                .or_default();
            acc.add(c, hours);
            *reasons.entry(c.reason.label().to_string()).or_insert(0) += 1;
            if let Some(agent) = agent_of(c) {
                agents.entry(agent.to_string()).or_default().add(c, hours);
            }
            days.entry(day_of(c.opened_at)).or_default().add(c, hours);
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
        let total = total.figures();
        let by_network = net_convs
            .into_iter()
            .map(|(name, count)| {
                let (conversations, escalated_conversations, containment) = count.figures();
                let (acc, reasons) = networks.remove(name).unwrap_or_default();
                let figures = NetworkFigures {
                    conversations,
                    escalated_conversations,
                    containment,
                    escalations_by_reason: reasons,
                    figures: acc.figures(),
                };
                (name.to_string(), figures)
            })
            .collect();
        Stats {
            since,
            until,
            conversations,
            escalated_conversations: escalated,
            containment,
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
            first_reply_business: total.first_reply_business,
            resolution_business: total.resolution_business,
            by_network,
            by_agent: agents.into_iter().map(|(k, a)| (k, a.figures())).collect(),
            by_day: days.into_iter().map(|(k, a)| (k, a.figures())).collect(),
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
            ("  in business hours", &self.first_reply_business),
            ("resolution time", &self.resolution),
            ("  in business hours", &self.resolution_business),
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
        if !self.by_network.is_empty() {
            let _ = writeln!(s, "  per network:");
            for (name, n) in &self.by_network {
                let _ = writeln!(
                    s,
                    "    {name:<20} {} conversation(s), {} handed to a person, containment {}; {}",
                    n.conversations,
                    n.escalated_conversations,
                    pct(n.containment),
                    group(&n.figures)
                );
            }
        }
        for (title, groups) in [("per agent", &self.by_agent), ("per day", &self.by_day)] {
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(s, "  {title}:");
            for (name, f) in groups {
                let _ = writeln!(s, "    {name:<20} {}", group(f));
            }
        }
        s
    }

    /// The figures as CSV, one row per group: `scope` is `total`,
    /// `network`, `agent` or `day`, `name` the network, agent or date.
    /// Times in seconds; empty when there is none. Conversations and
    /// containment are counted in total and per network only (empty for
    /// agents and days).
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "scope",
            "name",
            "cases",
            "resolved",
            "abandoned",
            "sla_breaches",
            "first_reply_median_s",
            "first_reply_business_median_s",
            "first_reply_p90_s",
            "resolution_median_s",
            "resolution_business_median_s",
            "resolution_p90_s",
            "csat_responses",
            "csat_average",
            "conversations",
            "escalated_conversations",
            "containment",
        ])?;
        let total = Figures {
            cases: self.cases,
            resolved: self.resolved,
            abandoned: self.abandoned,
            sla_breaches: self.sla_breaches,
            first_reply: self.first_reply.clone(),
            first_reply_business: self.first_reply_business.clone(),
            resolution: self.resolution.clone(),
            resolution_business: self.resolution_business.clone(),
            csat_responses: self.csat.responses,
            csat_average: self.csat.average,
        };
        let total_convs = Some((
            self.conversations,
            self.escalated_conversations,
            self.containment,
        ));
        let rows = std::iter::once(("total", String::new(), &total, total_convs))
            .chain(self.by_network.iter().map(|(k, n)| {
                let convs = (n.conversations, n.escalated_conversations, n.containment);
                ("network", k.clone(), &n.figures, Some(convs))
            }))
            .chain(
                self.by_agent
                    .iter()
                    .map(|(k, f)| ("agent", k.clone(), f, None)),
            )
            .chain(self.by_day.iter().map(|(k, f)| ("day", k.clone(), f, None)));
        let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (scope, name, f, convs) in rows {
            let (conversations, escalated, containment) = match convs {
                Some((n, e, c)) => (n.to_string(), e.to_string(), num(c)),
                None => Default::default(),
            };
            w.write_record([
                scope.to_string(),
                name,
                f.cases.to_string(),
                f.resolved.to_string(),
                f.abandoned.to_string(),
                f.sla_breaches.to_string(),
                num(f.first_reply.median_secs),
                num(f.first_reply_business.median_secs),
                num(f.first_reply.p90_secs),
                num(f.resolution.median_secs),
                num(f.resolution_business.median_secs),
                num(f.resolution.p90_secs),
                f.csat_responses.to_string(),
                num(f.csat_average),
                conversations,
                escalated,
                containment,
            ])?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// One group's case figures on a line (after its name).
fn group(f: &Figures) -> String {
    format!(
        "{} case(s), {} resolved; first reply median {} ({} business); resolution median {} ({} business); CSAT {}",
        f.cases,
        f.resolved,
        dur(f.first_reply.median_secs),
        dur(f.first_reply_business.median_secs),
        dur(f.resolution.median_secs),
        dur(f.resolution_business.median_secs),
        f.csat_average
            .map_or_else(|| "n/a".into(), |a| format!("{a:.2} ({})", f.csat_responses)),
    )
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

//! Which team gets a case, where its desk is, and what a waiting customer
//! is told about the wait.
//!
//! Routing order: the team of the matched FAQ entry, then the team whose
//! topics the conversation mentions (latest message first), then the
//! default team. Wait estimates come from the team's recent first-reply
//! times, never from a constant: with no history we say so instead of
//! guessing.

use std::time::Duration;

use handoff_bridge_api::{DeskTarget, Millis};

use crate::config::{Config, Team};
use crate::escalation::normalize;
use crate::hours::minutes_until;

/// Why a team was chosen (for logs and the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteBy {
    FaqEntry(String),
    Topic(String),
    Default,
}

/// Picks the team for a conversation. `faq_team` is the `team` of the FAQ
/// entry the conversation matched, if any; `texts` are the customer's
/// messages, newest first.
pub fn route<'a>(cfg: &'a Config, faq_team: Option<&str>, texts: &[&str]) -> (&'a Team, RouteBy) {
    if let Some(t) = faq_team.and_then(|name| cfg.team(name)) {
        return (t, RouteBy::FaqEntry(t.name.clone()));
    }
    for text in texts {
        let text = normalize(text);
        for team in &cfg.teams {
            if let Some(topic) = team
                .topics
                .iter()
                .find(|topic| contains_words(&text, topic))
            {
                return (team, RouteBy::Topic(topic.clone()));
            }
        }
    }
    (cfg.default_team(), RouteBy::Default)
}

/// The team that takes a new case of `team` at `now`: `team` itself, or
/// its fallback while `team` is closed, the fallback is open and the team
/// asks for it (`fallback_when_closed`). One hop only, so two teams that
/// name each other cannot bounce a case.
pub fn open_team<'a>(cfg: &'a Config, team: &'a Team, now: Millis) -> &'a Team {
    if !team.fallback_when_closed || team.hours.is_open(now) {
        return team;
    }
    match team.fallback.as_deref().and_then(|f| cfg.team(f)) {
        Some(fallback) if fallback.hours.is_open(now) => fallback,
        _ => team,
    }
}

fn contains_words(normalized_text: &str, phrase: &str) -> bool {
    let p = normalize(phrase);
    if p.trim().is_empty() {
        return false;
    }
    let plural = format!("{}s ", p.trim_end());
    normalized_text.contains(&p) || normalized_text.contains(&plural)
}

/// The desk a bridge opens a case on for `team`, for a customer whose own
/// endpoint is end-to-end `encrypted` (or not).
pub fn desk_target(team: &Team, encrypted: bool) -> DeskTarget {
    match &team.desk.target {
        // The bridge invites the entries that are its own network's users
        // (groups and other networks' ids are not people it can invite).
        None => DeskTarget::PrivateRoom {
            invite: team.agents.clone(),
            encrypted,
        },
        Some(room) => DeskTarget::Thread { room: room.clone() },
    }
}

/// A team may transfer to `name`: it exists and is another team.
pub fn transfer_target<'a>(cfg: &'a Config, from: &str, name: &str) -> Result<&'a Team, String> {
    let names = || {
        cfg.teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match cfg.team(name.trim()) {
        None => Err(format!(
            "there is no team called {:?}; teams are: {}",
            name.trim(),
            names()
        )),
        Some(t) if t.name.eq_ignore_ascii_case(from) => {
            Err(format!("the case is already with {}", t.name))
        }
        Some(t) => Ok(t),
    }
}

/// The typical time to a first human reply, from recent samples: the
/// median, so one slow case does not scare everyone. None without history.
pub fn typical_first_reply(samples: &[Duration]) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort();
    Some(s[s.len() / 2])
}

/// The wait sentence for a customer at `position` (1 = next), given the
/// team's typical first reply. Honest: without history it says so.
pub fn wait_phrase(position: usize, typical: Option<Duration>) -> String {
    match typical {
        None => "a person will reply here as soon as they can.".into(),
        Some(d) => {
            let per_case = d.as_millis().max(1) as i64;
            // Agents work in parallel; the queue ahead adds roughly half a
            // typical reply per person, a deliberately modest estimate.
            let ahead = position.saturating_sub(1) as i64;
            let expected = per_case + ahead * per_case / 2;
            let minutes = minutes_until(0, expected);
            if minutes <= 1 {
                "people usually hear back within a minute or two.".into()
            } else if minutes < 60 {
                format!("people usually hear back within about {minutes} minutes.")
            } else {
                let hours = (minutes + 59) / 60;
                format!("people usually hear back within about {hours} hours.")
            }
        }
    }
}

/// Deadline of the first-reply SLA for a case opened at `opened`, counting
/// from when the team next opens (an SLA does not run while closed).
pub fn sla_deadline(team: &Team, opened: Millis) -> Option<Millis> {
    let sla = team.first_reply_sla?;
    let start = team.hours.next_open(opened).unwrap_or(opened);
    Some(start + sla.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        cfg_with("", "")
    }

    /// The test config with lines added to the billing and tech teams.
    fn cfg_with(billing_extra: &str, tech_extra: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("faq.toml"), "").unwrap();
        let src = r#"
[bot]
store = "s"
faq = "faq.toml"
[matrix]
homeserver = "http://x"
user = "@b:x"
password = "p"
[[team]]
name = "billing"
desk = "matrix:#billing:x"
topics = ["invoice", "refund"]
hours = "Mon-Fri 09:00-17:00 UTC"
first_reply_sla = "10m"
{billing_extra}
[[team]]
name = "tech"
desk = "matrix"
agents = ["@a:x", "@b:x"]
topics = ["crash"]
default = true
{tech_extra}
"#
        .replace("{billing_extra}", billing_extra)
        .replace("{tech_extra}", tech_extra);
        Config::parse(
            &src,
            &dir.path().join("c.toml"),
            |_| None,
            &crate::bridges::networks(),
        )
        .unwrap()
    }

    fn at(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn a_closed_team_hands_new_cases_to_its_open_fallback_when_asked() {
        let saturday = at("2026-11-28T12:00:00Z");
        let monday = at("2026-11-30T10:00:00Z");
        let c = cfg_with("fallback = \"tech\"\nfallback_when_closed = true", "");
        let billing = c.team("billing").unwrap();
        assert_eq!(open_team(&c, billing, saturday).name, "tech");
        assert_eq!(open_team(&c, billing, monday).name, "billing");
        // Without the flag the case waits for its own team (the fallback
        // then only takes over on an SLA miss).
        let c = cfg_with("fallback = \"tech\"", "");
        let billing = c.team("billing").unwrap();
        assert_eq!(open_team(&c, billing, saturday).name, "billing");
    }

    #[test]
    fn a_closed_fallback_does_not_take_the_case() {
        let c = cfg_with(
            "fallback = \"tech\"\nfallback_when_closed = true",
            "hours = \"Mon-Fri 09:00-17:00 UTC\"",
        );
        let billing = c.team("billing").unwrap();
        assert_eq!(
            open_team(&c, billing, at("2026-11-28T12:00:00Z")).name,
            "billing"
        );
    }

    #[test]
    fn faq_team_wins() {
        let c = cfg();
        let (t, by) = route(&c, Some("billing"), &["my app crashes"]);
        assert_eq!(t.name, "billing");
        assert_eq!(by, RouteBy::FaqEntry("billing".into()));
    }

    #[test]
    fn topics_route_newest_message_first() {
        let c = cfg();
        let (t, by) = route(&c, None, &["it crashed again", "about my invoice"]);
        assert_eq!(t.name, "billing", "\"crashed\" is not the word \"crash\"");
        assert_eq!(by, RouteBy::Topic("invoice".into()));
        let (t, _) = route(&c, None, &["app crash!", "about my invoices"]);
        assert_eq!(t.name, "tech");
        let (t, _) = route(&c, None, &["two refunds please"]);
        assert_eq!(t.name, "billing");
    }

    #[test]
    fn unknown_faq_team_and_no_topic_fall_back_to_default() {
        let c = cfg();
        let (t, by) = route(&c, Some("sales"), &["hello"]);
        assert_eq!(t.name, "tech");
        assert_eq!(by, RouteBy::Default);
    }

    #[test]
    fn desk_targets() {
        let c = cfg();
        assert_eq!(
            desk_target(c.team("tech").unwrap(), false),
            DeskTarget::PrivateRoom {
                invite: vec!["@a:x".into(), "@b:x".into()],
                encrypted: false,
            }
        );
        assert_eq!(
            desk_target(c.team("tech").unwrap(), true),
            DeskTarget::PrivateRoom {
                invite: vec!["@a:x".into(), "@b:x".into()],
                encrypted: true,
            }
        );
        assert_eq!(
            desk_target(c.team("billing").unwrap(), true),
            DeskTarget::Thread {
                room: "#billing:x".into()
            }
        );
    }

    #[test]
    fn transfers_need_another_existing_team() {
        let c = cfg();
        assert_eq!(
            transfer_target(&c, "tech", " Billing ").unwrap().name,
            "billing"
        );
        let e = transfer_target(&c, "tech", "sales").unwrap_err();
        assert!(e.contains("billing, tech"), "{e}");
        assert!(transfer_target(&c, "tech", "tech")
            .unwrap_err()
            .contains("already"));
    }

    #[test]
    fn wait_phrases_are_honest() {
        assert!(wait_phrase(1, None).contains("as soon as they can"));
        let m = |s| Some(Duration::from_secs(s));
        assert!(wait_phrase(1, m(30)).contains("minute or two"));
        assert!(wait_phrase(1, m(600)).contains("about 10 minutes"));
        assert!(wait_phrase(3, m(600)).contains("about 20 minutes"));
        assert!(wait_phrase(1, m(3 * 3600)).contains("about 3 hours"));
    }

    #[test]
    fn median_first_reply() {
        let s = |xs: &[u64]| {
            xs.iter()
                .map(|x| Duration::from_secs(*x))
                .collect::<Vec<_>>()
        };
        assert_eq!(typical_first_reply(&[]), None);
        assert_eq!(
            typical_first_reply(&s(&[600, 60, 120, 9000, 90])),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn sla_counts_from_opening_time() {
        let c = cfg();
        let billing = c.team("billing").unwrap();
        // Saturday 2026-11-28 12:00 UTC → Monday 09:00 + 10 min.
        let sat: Millis = 1_795_867_200_000;
        let mon_9 = 1_796_029_200_000;
        assert_eq!(sla_deadline(billing, sat), Some(mon_9 + 600_000));
        assert_eq!(sla_deadline(c.team("tech").unwrap(), sat), None);
    }
}

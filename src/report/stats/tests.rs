//! Stats over hand-built cases: every figure checked against the numbers
//! worked out by hand.

use super::*;
use crate::case::{ConversationKey, EscalationReason};
use crate::fixtures::{customer, engine, T0};

const MIN: Millis = 60_000;

fn conv(key: &str, last: Millis) -> Conversation {
    let mut c = engine().start(customer(), last).conv;
    c.key = ConversationKey(key.into());
    c.last_customer_at = last;
    c
}

fn case(id: u64, conv: &str, team: &str, opened: Millis) -> Case {
    Case {
        id,
        conversation: ConversationKey(conv.into()),
        customer: customer(),
        team: team.into(),
        reason: EscalationReason::AskedForHuman {
            phrase: "agent".into(),
        },
        intent: None,
        state: CaseState::Queued,
        opened_at: opened,
        bot_since: opened,
        first_human_reply_at: None,
        closed_at: None,
        desk: None,
        transcript: Vec::new(),
        sla_deadline: None,
        overdue: false,
        out_of_hours: false,
        transfers: Vec::new(),
        previous_cases: Vec::new(),
        told_position: None,
        csat: None,
        desk_authors: Vec::new(),
        closed_team: None,
        reopened: Vec::new(),
        erased_at: None,
    }
}

fn scenario() -> (Vec<Conversation>, Vec<Case>) {
    let convs = vec![
        conv("a", T0 + MIN),
        conv("b", T0 + 2 * MIN),
        conv("c", T0 + 3 * MIN),
        conv("d", T0 + 4 * MIN),
        conv("old", T0 - 100 * MIN),
    ];
    let mut c1 = case(1, "a", "billing", T0);
    c1.first_human_reply_at = Some(T0 + 2 * MIN);
    c1.state = CaseState::Resolved { by: "alice".into() };
    c1.closed_at = Some(T0 + 10 * MIN);
    c1.csat = Some(5);
    let mut c2 = case(2, "b", "tech", T0 + MIN);
    c2.reason = EscalationReason::Vip;
    c2.first_human_reply_at = Some(T0 + 5 * MIN);
    c2.overdue = true;
    c2.state = CaseState::Assigned {
        agent_id: "@bob:x".into(),
        agent: "Bob".into(),
    };
    let mut c3 = case(3, "c", "tech", T0 + 2 * MIN);
    c3.state = CaseState::Abandoned;
    let mut c4 = case(4, "old", "tech", T0 - 100 * MIN);
    c4.csat = Some(1);
    (convs, vec![c1, c2, c3, c4])
}

#[test]
fn figures_of_a_window() {
    let (convs, cases) = scenario();
    let s = Stats::compute(&convs, &cases, T0, T0 + 60 * MIN, &[]);
    assert_eq!(s.conversations, 4);
    assert_eq!(s.escalated_conversations, 3);
    assert_eq!(s.containment, Some(0.25));
    assert_eq!(s.cases, 3);
    assert_eq!((s.open, s.resolved, s.abandoned), (1, 1, 1));
    assert_eq!(s.escalations_by_reason.get("asked_for_human"), Some(&2));
    assert_eq!(s.escalations_by_reason.get("vip"), Some(&1));
    assert_eq!(s.escalations_by_team.get("tech"), Some(&2));
    // First replies: 120 s and 240 s; the median of two is their mean
    // (this test pinned the lower one, 120 s, before medians were fixed).
    assert_eq!(s.first_reply.count, 2);
    assert_eq!(s.first_reply.median_secs, Some(180.0));
    assert_eq!(s.first_reply.p90_secs, Some(240.0));
    assert_eq!(s.resolution.median_secs, Some(600.0));
    assert_eq!(s.abandonment, Some(1.0 / 3.0));
    assert_eq!(s.sla_breaches, 1);
    // The old case's rating is outside the window.
    assert_eq!(s.csat.responses, 1);
    assert_eq!(s.csat.average, Some(5.0));
    let text = s.render();
    assert!(text.contains("containment:          25.0 %"), "{text}");
    assert!(text.contains("median 3m, p90 4m (2 cases)"), "{text}");
    // No team hours given: business time is wall time.
    assert_eq!(s.first_reply_business, s.first_reply);
    assert!(
        text.contains("5.00 average from 1 rating(s) (5: 1)"),
        "{text}"
    );
}

#[test]
fn empty_window_says_not_available() {
    let (convs, cases) = scenario();
    let s = Stats::compute(&convs, &cases, T0 + 1000 * MIN, T0 + 2000 * MIN, &[]);
    assert_eq!((s.conversations, s.cases), (0, 0));
    assert_eq!(s.containment, None);
    let text = s.render();
    assert!(text.contains("containment:          n/a"), "{text}");
    assert!(text.contains("CSAT:                 no ratings"), "{text}");
}

#[test]
fn medians_of_even_counts_are_the_mean_of_the_middle_two_and_p90_is_nearest_rank() {
    let p = Percentiles::of((1..=10).rev().map(f64::from).collect());
    assert_eq!((p.median_secs, p.p90_secs), (Some(5.5), Some(9.0)));
    let p = Percentiles::of(vec![600.0, 61_200.0]);
    assert_eq!(p.median_secs, Some(30_900.0));
    let odd = Percentiles::of(vec![3.0, 1.0, 2.0]);
    assert_eq!(odd.median_secs, Some(2.0));
    assert_eq!(Percentiles::of(Vec::new()).median_secs, None);
    let one = Percentiles::of(vec![7.0]);
    assert_eq!((one.median_secs, one.p90_secs), (Some(7.0), Some(7.0)));
}

/// A config whose billing team works Mon-Fri 09:00-17:00 UTC and whose
/// tech team is always open.
fn hours_config() -> crate::config::Config {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("faq.toml"), crate::fixtures::FAQ).expect("faq");
    let src = r#"
[bot]
name = "Helper"
store = "store"
faq = "faq.toml"

[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@helper:localhost"
password = "pw"

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
hours = "Mon-Fri 09:00-17:00 UTC"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true
"#;
    crate::config::Config::parse(
        src,
        &dir.path().join("handoff.toml"),
        |_| None,
        &crate::bridges::networks(),
    )
    .expect("config")
}

/// `2026-11-26T16:30` (UTC) as ms.
fn utc(s: &str) -> Millis {
    format!("{s}:00Z")
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond()
}

#[test]
fn per_agent_and_per_day_csv_figures_match_a_scripted_history() {
    use crate::store::memory::MemoryStore;
    use crate::store::{Commit, Store};
    let resolved = |by: &str| CaseState::Resolved { by: by.into() };
    // Alice's first case waits over night: 17 h wall, 1 h of business time
    // to the first reply (Thu 16:30-17:00, Fri 09:00-09:30); resolved Fri
    // 10:30 (18 h wall, 2 h business).
    let mut c1 = case(1, "a", "billing", utc("2026-11-26T16:30"));
    c1.first_human_reply_at = Some(utc("2026-11-27T09:30"));
    c1.closed_at = Some(utc("2026-11-27T10:30"));
    c1.state = resolved("alice");
    c1.csat = Some(4);
    // Her second, within hours: 10 min to reply, 1 h to resolve.
    let mut c2 = case(2, "b", "billing", utc("2026-11-27T10:00"));
    c2.first_human_reply_at = Some(utc("2026-11-27T10:10"));
    c2.closed_at = Some(utc("2026-11-27T11:00"));
    c2.state = resolved("alice");
    c2.csat = Some(2);
    // Bob owns a tech case (always open): 5 min to reply, still open, late.
    let mut c3 = case(3, "c", "tech", utc("2026-11-26T10:00"));
    c3.first_human_reply_at = Some(utc("2026-11-26T10:05"));
    c3.overdue = true;
    c3.state = CaseState::Assigned {
        agent_id: "@bob:x".into(),
        agent: "bob".into(),
    };
    // Nobody has taken this one yet: no agent row.
    let c4 = case(4, "d", "tech", utc("2026-11-26T11:00"));
    let store = MemoryStore::new();
    store
        .commit(&Commit {
            cases: vec![c1, c2, c3, c4],
            ..Commit::default()
        })
        .expect("commit");

    let config = hours_config();
    let stats = crate::report::stats(
        &store,
        &config,
        utc("2026-11-26T00:00"),
        utc("2026-11-28T00:00"),
    )
    .expect("stats");
    let csv = stats.format(crate::report::StatsFormat::Csv).expect("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.expect("row").iter().map(String::from))
                .collect()
        })
        .collect();
    let row = |scope: &str, name: &str| {
        rows.iter()
            .find(|r| r["scope"] == scope && r["name"] == name)
            .unwrap_or_else(|| panic!("no {scope} {name:?} row in\n{csv}"))
    };
    assert_eq!(rows.len(), 1 + 2 + 2, "total, two agents, two days:\n{csv}");

    let alice = row("agent", "alice");
    assert_eq!(alice["cases"], "2");
    assert_eq!(alice["resolved"], "2");
    // Medians of two: (61200 + 600) / 2 wall, (3600 + 600) / 2 business.
    assert_eq!(alice["first_reply_median_s"], "30900");
    assert_eq!(alice["first_reply_business_median_s"], "2100");
    // (64800 + 3600) / 2 wall, (7200 + 3600) / 2 business.
    assert_eq!(alice["resolution_median_s"], "34200");
    assert_eq!(alice["resolution_business_median_s"], "5400");
    assert_eq!(alice["csat_responses"], "2");
    assert_eq!(alice["csat_average"], "3");

    let bob = row("agent", "bob");
    assert_eq!(bob["cases"], "1");
    assert_eq!(bob["resolved"], "0");
    assert_eq!(bob["sla_breaches"], "1");
    assert_eq!(bob["first_reply_median_s"], "300");
    assert_eq!(bob["first_reply_business_median_s"], "300");
    assert_eq!(bob["resolution_median_s"], "");
    assert_eq!(bob["csat_average"], "");

    let total = row("total", "");
    assert_eq!(total["cases"], "4");
    // First replies 300, 600, 61200 → 600; business 300, 600, 3600 → 600.
    assert_eq!(total["first_reply_median_s"], "600");
    assert_eq!(total["first_reply_business_median_s"], "600");

    let thu = row("day", "2026-11-26");
    assert_eq!(
        (thu["cases"].as_str(), thu["resolved"].as_str()),
        ("3", "1")
    );
    let fri = row("day", "2026-11-27");
    assert_eq!(fri["cases"], "1");
    assert_eq!(fri["first_reply_median_s"], "600");

    let text = stats.render();
    assert!(text.contains("per agent:"), "{text}");
    assert!(text.contains("alice"), "{text}");
}

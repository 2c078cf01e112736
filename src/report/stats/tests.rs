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
    assert_eq!(
        rows.len(),
        1 + 1 + 2 + 2,
        "total, one network, two agents, two days:\n{csv}"
    );

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

/// `customer()` writing from `room` on `network`.
fn customer_on(network: &str, room: &str) -> crate::case::Customer {
    let mut c = customer();
    c.endpoint = handoff_bridge_api::Endpoint::new(network, room);
    c
}

/// Two customer networks over one day (T0 .. T0 + 1 day), worked out by
/// hand:
///
/// - matrix: m1 escalates (case 1: resolved by alice, first reply 2 min,
///   resolution 10 min, rated 5); m2 and m3 are answered by the bot; m0
///   wrote before the window. 3 conversations, 1 handed over.
/// - web: w1 escalates (case 2: resolved by bob, first reply 5 min,
///   resolution 15 min, rated 3); w2 escalates in the window but wrote
///   again after it (case 3: abandoned); w3 escalates as a VIP (case 4:
///   bob owns it, first reply 1 min); w4 is answered by the bot.
///   4 conversations, 3 handed over.
fn two_networks() -> crate::store::memory::MemoryStore {
    use crate::store::{Commit, Store};
    const DAY: Millis = 24 * 60 * MIN;
    let on = |net: &str, key: &str, last: Millis| {
        let mut c = conv(key, last);
        c.customer = customer_on(net, key);
        c
    };
    let convs = [
        on("matrix", "m0", T0 - MIN),
        on("matrix", "m1", T0 + MIN),
        on("matrix", "m2", T0 + 2 * MIN),
        on("matrix", "m3", T0 + 3 * MIN),
        on("web", "w1", T0 + MIN),
        on("web", "w2", T0 + DAY + MIN),
        on("web", "w3", T0 + 4 * MIN),
        on("web", "w4", T0 + 5 * MIN),
    ];
    let opened = |id: u64, net: &str, key: &str, at: Millis| {
        let mut c = case(id, key, "tech", at);
        c.customer = customer_on(net, key);
        c
    };
    let mut c1 = opened(1, "matrix", "m1", T0 + MIN);
    c1.first_human_reply_at = Some(T0 + 3 * MIN);
    c1.closed_at = Some(T0 + 11 * MIN);
    c1.state = CaseState::Resolved { by: "alice".into() };
    c1.csat = Some(5);
    let mut c2 = opened(2, "web", "w1", T0 + MIN);
    c2.first_human_reply_at = Some(T0 + 6 * MIN);
    c2.closed_at = Some(T0 + 16 * MIN);
    c2.state = CaseState::Resolved { by: "bob".into() };
    c2.csat = Some(3);
    let mut c3 = opened(3, "web", "w2", T0 + 2 * MIN);
    c3.state = CaseState::Abandoned;
    let mut c4 = opened(4, "web", "w3", T0 + 4 * MIN);
    c4.reason = EscalationReason::Vip;
    c4.first_human_reply_at = Some(T0 + 5 * MIN);
    c4.state = CaseState::Assigned {
        agent_id: "@bob:x".into(),
        agent: "bob".into(),
    };
    let store = crate::store::memory::MemoryStore::new();
    for c in convs {
        store
            .commit(&Commit {
                conversation: Some(c),
                ..Commit::default()
            })
            .expect("commit a conversation");
    }
    store
        .commit(&Commit {
            cases: vec![c1, c2, c3, c4],
            ..Commit::default()
        })
        .expect("commit the cases");
    store
}

fn two_networks_stats() -> Stats {
    let config = crate::fixtures::config_with("");
    crate::report::stats(&two_networks(), &config, T0, T0 + 24 * 60 * MIN).expect("stats")
}

#[test]
fn per_network_figures_match_a_scripted_history_with_two_networks() {
    let s = two_networks_stats();
    assert_eq!(
        s.by_network.keys().collect::<Vec<_>>(),
        ["matrix", "web"],
        "{:#?}",
        s.by_network
    );
    let m = &s.by_network["matrix"];
    assert_eq!((m.conversations, m.escalated_conversations), (3, 1));
    assert_eq!(m.containment, Some(1.0 - 1.0 / 3.0));
    assert_eq!(m.escalations_by_reason.get("asked_for_human"), Some(&1));
    assert_eq!(m.figures.cases, 1);
    assert_eq!(m.figures.resolved, 1);
    assert_eq!(m.figures.first_reply.median_secs, Some(120.0));
    assert_eq!(m.figures.resolution.median_secs, Some(600.0));
    assert_eq!(
        (m.figures.csat_responses, m.figures.csat_average),
        (1, Some(5.0))
    );

    let w = &s.by_network["web"];
    // w2 wrote again after the window but escalated in it: counted.
    assert_eq!((w.conversations, w.escalated_conversations), (4, 3));
    assert_eq!(w.containment, Some(0.25));
    assert_eq!(w.escalations_by_reason.get("asked_for_human"), Some(&2));
    assert_eq!(w.escalations_by_reason.get("vip"), Some(&1));
    assert_eq!(
        (w.figures.cases, w.figures.resolved, w.figures.abandoned),
        (3, 1, 1)
    );
    // First replies 300 s and 60 s: the median of two is their mean.
    assert_eq!(w.figures.first_reply.count, 2);
    assert_eq!(w.figures.first_reply.median_secs, Some(180.0));
    assert_eq!(w.figures.resolution.median_secs, Some(900.0));
    assert_eq!(
        (w.figures.csat_responses, w.figures.csat_average),
        (1, Some(3.0))
    );

    // The networks add up to the total: every conversation is counted
    // once, on its customer's network (the union of active and escalated
    // conversations, 7, not the larger of the two counts, 6).
    assert_eq!((s.conversations, s.escalated_conversations), (7, 4));
    assert_eq!(s.containment, Some(1.0 - 4.0 / 7.0));
    assert_eq!(s.cases, m.figures.cases + w.figures.cases);
    assert_eq!(s.csat.responses, 2);
}

#[test]
fn per_network_figures_in_text_json_and_csv() {
    use crate::report::StatsFormat;
    let s = two_networks_stats();

    let text = s.format(StatsFormat::Text).expect("text");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in\n{text}"))
            .to_string()
    };
    assert!(text.contains("  per network:\n"), "{text}");
    let web = line("web ");
    assert!(
        web.contains("4 conversation(s), 3 handed to a person, containment 25.0 %; 3 case(s), 1 resolved; first reply median 3m"),
        "{web}"
    );
    assert!(web.contains("CSAT 3.00 (1)"), "{web}");
    let matrix = line("matrix ");
    assert!(
        matrix.contains("3 conversation(s), 1 handed to a person, containment 66.7 %; 1 case(s)"),
        "{matrix}"
    );
    assert!(matrix.contains("CSAT 5.00 (1)"), "{matrix}");

    let json: serde_json::Value =
        serde_json::from_str(&s.format(StatsFormat::Json).expect("json")).expect("JSON");
    let web = &json["by_network"]["web"];
    assert_eq!(web["conversations"], 4);
    assert_eq!(web["escalated_conversations"], 3);
    assert_eq!(web["containment"], 0.25);
    assert_eq!(web["cases"], 3);
    assert_eq!(web["escalations_by_reason"]["vip"], 1);
    assert_eq!(web["first_reply"]["median_secs"], 180.0);
    assert_eq!(web["csat_average"], 3.0);
    assert_eq!(json["by_network"]["matrix"]["cases"], 1);

    let csv = s.format(StatsFormat::Csv).expect("csv");
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
    let web = row("network", "web");
    assert_eq!(web["conversations"], "4");
    assert_eq!(web["escalated_conversations"], "3");
    assert_eq!(web["containment"], "0.25");
    assert_eq!(web["cases"], "3");
    assert_eq!(web["abandoned"], "1");
    assert_eq!(web["first_reply_median_s"], "180");
    assert_eq!(web["csat_average"], "3");
    let matrix = row("network", "matrix");
    assert_eq!(matrix["conversations"], "3");
    assert_eq!(matrix["cases"], "1");
    assert_eq!(matrix["first_reply_median_s"], "120");
    assert_eq!(matrix["csat_average"], "5");
    let total = row("total", "");
    assert_eq!(total["conversations"], "7");
    assert_eq!(total["escalated_conversations"], "4");
    assert_eq!(total["cases"], "4");
    // Conversations are not counted per agent.
    let bob = row("agent", "bob");
    assert_eq!(
        (bob["cases"].as_str(), bob["conversations"].as_str()),
        ("2", "")
    );
}

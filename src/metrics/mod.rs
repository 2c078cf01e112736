//! Prometheus metrics: names, help texts, the recorder, and turning
//! observations and store snapshots into metric values.
//!
//! Counters and histograms are fed from two places: [`record`] with what
//! the state machine's committed steps changed ([`observe`]), and the
//! delivery loop ([`delivery_ok`], [`delivery_retry`], [`delivery_failed`]).
//! Gauges (queue length, open cases, bridge connections) are read from the
//! store and the bridges at scrape time by [`refresh_gauges`], so they are
//! right after a restart. Without an installed recorder (unit tests, no
//! `[metrics]` section) every call here is a no-op.
//!
//! Names follow Prometheus conventions: `handoff_` prefix, `_total` for
//! counters, base units (`_seconds`) for durations.

pub mod observe;

use std::collections::BTreeMap;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics::{Counter, Histogram, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::case::{Case, CaseState, EscalationReason};
use crate::config::Config;
pub use observe::{observe, Observation};

/// Histogram buckets for human response times: 10 s to 1 day.
const WAIT_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];
/// Histogram buckets for network calls: 1 ms to 30 s.
const CALL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// CSAT scores are 1–5.
const CSAT_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0];

/// Every metric handoff exports (histograms without their `_bucket`,
/// `_sum`, `_count` suffixes).
pub const NAMES: &[&str] = &[
    "handoff_conversations_total",
    "handoff_faq_answers_total",
    "handoff_faq_misses_total",
    "handoff_escalations_total",
    "handoff_transfers_total",
    "handoff_sla_breaches_total",
    "handoff_cases_resolved_total",
    "handoff_cases_abandoned_total",
    "handoff_cases_returned_total",
    "handoff_csat_responses_total",
    "handoff_csat_score",
    "handoff_first_reply_seconds",
    "handoff_resolution_seconds",
    "handoff_queue_length",
    "handoff_cases_open",
    "handoff_bridge_connected",
    "handoff_deliveries_total",
    "handoff_delivery_retries_total",
    "handoff_relay_errors_total",
    "handoff_delivery_duration_seconds",
    "handoff_outbox_parked_total",
    "handoff_outbox_parked",
];

/// The metrics recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Prometheus metrics: {0}")]
pub struct MetricsError(String);

/// Installs the process-wide Prometheus recorder, describes every metric,
/// and sets the per-team counters to zero so dashboards see them from the
/// start.
pub fn install(config: &Config) -> Result<PrometheusHandle, MetricsError> {
    let handle = builder()?
        .install_recorder()
        .map_err(|e| MetricsError(e.to_string()))?;
    describe();
    zero_counters(config);
    Ok(handle)
}

/// The exporter with each histogram's buckets set by its full name.
///
/// metrics-exporter-prometheus does not prefer the most specific matcher
/// (a `Suffix("_seconds")` would give network latencies the 10 s–1 day
/// buckets), so every histogram gets an exact matcher and no two overlap.
pub fn builder() -> Result<PrometheusBuilder, MetricsError> {
    let err = |e: metrics_exporter_prometheus::BuildError| MetricsError(e.to_string());
    let mut b = PrometheusBuilder::new();
    for (name, buckets) in HISTOGRAMS {
        b = b
            .set_buckets_for_metric(Matcher::Full((*name).into()), buckets)
            .map_err(err)?;
    }
    Ok(b)
}

/// Every histogram with its buckets (see [`builder`]).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    ("handoff_delivery_duration_seconds", CALL_BUCKETS),
    ("handoff_first_reply_seconds", WAIT_BUCKETS),
    ("handoff_resolution_seconds", WAIT_BUCKETS),
    ("handoff_csat_score", CSAT_BUCKETS),
];

/// Sets every labelled counter that does not depend on the customers'
/// networks to zero for each configured team, score and network, so
/// `increase()` and `rate()` see the first count after a (re)start instead
/// of a series that appears already at 1. The customer-side counters
/// follow once the bridges said which networks customers write on
/// ([`zero_customer_counters`]).
pub fn zero_counters(config: &Config) {
    counter!("handoff_outbox_parked_total").absolute(0);
    for team in &config.teams {
        let t = || SharedString::from(team.name.clone());
        counter!("handoff_sla_breaches_total", "team" => t()).absolute(0);
        for to in config.teams.iter().filter(|o| o.name != team.name) {
            counter!(
                "handoff_transfers_total",
                "from" => t(),
                "to" => to.name.clone()
            )
            .absolute(0);
        }
    }
    for network in config.networks.keys() {
        counter!("handoff_deliveries_total", "network" => network.clone()).absolute(0);
        counter!("handoff_relay_errors_total", "network" => network.clone()).absolute(0);
        for kind in ["rate_limited", "unavailable", "store"] {
            counter!(
                "handoff_delivery_retries_total",
                "network" => network.clone(),
                "kind" => kind
            )
            .absolute(0);
        }
    }
}

/// Sets the customer-side counters (conversations, FAQ answers and misses,
/// escalations, resolved, abandoned and returned cases, CSAT responses) to
/// zero for each of `networks` (the configured networks customers write
/// on, as their bridges' capabilities say) and each team, reason and
/// score: the label sets are bounded by network × team × reason (× score).
/// Called before the first event is handled, so every series exists
/// before its first count.
pub fn zero_customer_counters<S: AsRef<str>>(config: &Config, networks: &[S]) {
    for network in networks {
        let n = network.as_ref();
        conversations(n).absolute(0);
        faq_answers(n).absolute(0);
        faq_misses(n).absolute(0);
        for team in &config.teams {
            let t = &team.name;
            resolved(n, t).absolute(0);
            abandoned(n, t).absolute(0);
            returned(n, t).absolute(0);
            for reason in EscalationReason::LABELS {
                escalations(n, reason, t).absolute(0);
            }
            for score in 1..=5u8 {
                csat_responses(n, t, score).absolute(0);
            }
        }
    }
}

// The customer-side series, each built in one place so that zeroing and
// counting name the same labels in the same order (the same series).
// `network` is the customer's network: an opaque name from their endpoint.

fn conversations(network: &str) -> Counter {
    counter!("handoff_conversations_total", "network" => network.to_string())
}

fn faq_answers(network: &str) -> Counter {
    counter!("handoff_faq_answers_total", "network" => network.to_string())
}

fn faq_misses(network: &str) -> Counter {
    counter!("handoff_faq_misses_total", "network" => network.to_string())
}

fn escalations(network: &str, reason: &'static str, team: &str) -> Counter {
    counter!(
        "handoff_escalations_total",
        "reason" => reason,
        "team" => team.to_string(),
        "network" => network.to_string()
    )
}

fn resolved(network: &str, team: &str) -> Counter {
    counter!(
        "handoff_cases_resolved_total",
        "team" => team.to_string(),
        "network" => network.to_string()
    )
}

fn abandoned(network: &str, team: &str) -> Counter {
    counter!(
        "handoff_cases_abandoned_total",
        "team" => team.to_string(),
        "network" => network.to_string()
    )
}

fn returned(network: &str, team: &str) -> Counter {
    counter!(
        "handoff_cases_returned_total",
        "team" => team.to_string(),
        "network" => network.to_string()
    )
}

fn csat_responses(network: &str, team: &str, score: u8) -> Counter {
    counter!(
        "handoff_csat_responses_total",
        "team" => team.to_string(),
        "score" => score.to_string(),
        "network" => network.to_string()
    )
}

/// A wait histogram (`handoff_first_reply_seconds`,
/// `handoff_resolution_seconds`) or the CSAT one, by team and network.
fn by_team_and_network(name: &'static str, network: &str, team: &str) -> Histogram {
    histogram!(
        name,
        "team" => team.to_string(),
        "network" => network.to_string()
    )
}

fn describe() {
    describe_counter!(
        "handoff_conversations_total",
        Unit::Count,
        "Conversations started with the bot (containment denominator)"
    );
    describe_counter!(
        "handoff_faq_answers_total",
        Unit::Count,
        "Customer questions the bot answered from the FAQ"
    );
    describe_counter!(
        "handoff_faq_misses_total",
        Unit::Count,
        "Customer messages the bot could not answer"
    );
    describe_counter!(
        "handoff_escalations_total",
        Unit::Count,
        "Cases opened, by escalation reason and team (containment numerator)"
    );
    describe_counter!(
        "handoff_transfers_total",
        Unit::Count,
        "Cases moved between teams"
    );
    describe_counter!(
        "handoff_sla_breaches_total",
        Unit::Count,
        "Cases without a human reply within the team's first-reply SLA"
    );
    describe_counter!(
        "handoff_cases_resolved_total",
        Unit::Count,
        "Cases resolved by an agent"
    );
    describe_counter!(
        "handoff_cases_abandoned_total",
        Unit::Count,
        "Cases whose customer went silent while queued"
    );
    describe_counter!(
        "handoff_cases_returned_total",
        Unit::Count,
        "Abandoned cases resumed by the returning customer"
    );
    describe_counter!(
        "handoff_csat_responses_total",
        Unit::Count,
        "Satisfaction ratings received, by score"
    );
    describe_histogram!(
        "handoff_csat_score",
        Unit::Count,
        "Satisfaction ratings (1-5)"
    );
    describe_histogram!(
        "handoff_first_reply_seconds",
        Unit::Seconds,
        "Time from handover to the first human reply"
    );
    describe_histogram!(
        "handoff_resolution_seconds",
        Unit::Seconds,
        "Time from handover to resolution"
    );
    describe_gauge!(
        "handoff_queue_length",
        Unit::Count,
        "Cases waiting for an agent, by team"
    );
    describe_gauge!(
        "handoff_cases_open",
        Unit::Count,
        "Open cases by team and state (queued, assigned)"
    );
    describe_gauge!(
        "handoff_bridge_connected",
        Unit::Count,
        "1 while the network bridge is connected"
    );
    describe_counter!(
        "handoff_deliveries_total",
        Unit::Count,
        "Actions delivered to a network"
    );
    describe_counter!(
        "handoff_delivery_retries_total",
        Unit::Count,
        "Delivery attempts that failed and will be retried (incl. rate limits)"
    );
    describe_counter!(
        "handoff_relay_errors_total",
        Unit::Count,
        "Actions that could not be delivered (parked, or stopped the daemon on bad credentials)"
    );
    describe_counter!(
        "handoff_outbox_parked_total",
        Unit::Count,
        "Outbox entries that failed for good and were parked (kept for `handoff outbox retry`)"
    );
    describe_gauge!(
        "handoff_outbox_parked",
        Unit::Count,
        "Outbox entries parked now, waiting for `handoff outbox retry`"
    );
    describe_histogram!(
        "handoff_delivery_duration_seconds",
        Unit::Seconds,
        "Latency of one network call delivering an action, by network"
    );
}

/// Counts what one committed step of a conversation changed; `network`
/// is its customer's network (the conversation's endpoint), the `network`
/// label of the customer-side series. Transfers and SLA breaches are the
/// desks' and count per team only.
pub fn record(network: &str, observations: &[Observation]) {
    let n = network;
    for o in observations {
        match o {
            Observation::ConversationStarted => conversations(n).increment(1),
            Observation::FaqAnswered => faq_answers(n).increment(1),
            Observation::FaqMiss => faq_misses(n).increment(1),
            Observation::Escalated { reason, team } => escalations(n, reason, team).increment(1),
            Observation::Transferred { from, to } => counter!(
                "handoff_transfers_total",
                "from" => from.clone(),
                "to" => to.clone()
            )
            .increment(1),
            Observation::SlaBreached { team } => {
                counter!("handoff_sla_breaches_total", "team" => team.clone()).increment(1)
            }
            Observation::FirstHumanReply { team, seconds } => {
                by_team_and_network("handoff_first_reply_seconds", n, team).record(*seconds)
            }
            Observation::Resolved { team, seconds } => {
                resolved(n, team).increment(1);
                by_team_and_network("handoff_resolution_seconds", n, team).record(*seconds)
            }
            Observation::Abandoned { team } => abandoned(n, team).increment(1),
            Observation::Returned { team } => returned(n, team).increment(1),
            Observation::Csat { team, score } => {
                csat_responses(n, team, *score).increment(1);
                by_team_and_network("handoff_csat_score", n, team).record(f64::from(*score))
            }
        }
    }
}

/// An action reached `network` after `took`.
pub fn delivery_ok(network: &str, took: Duration) {
    let n = SharedString::from(network.to_string());
    counter!("handoff_deliveries_total", "network" => n.clone()).increment(1);
    histogram!("handoff_delivery_duration_seconds", "network" => n).record(took.as_secs_f64());
}

/// A delivery to `network` failed and will be retried (`kind`:
/// `rate_limited`, `unavailable`, `store`).
pub fn delivery_retry(network: &str, kind: &'static str) {
    counter!(
        "handoff_delivery_retries_total",
        "network" => network.to_string(),
        "kind" => kind
    )
    .increment(1);
}

/// A delivery to `network` failed for good.
pub fn delivery_failed(network: &str) {
    counter!("handoff_relay_errors_total", "network" => network.to_string()).increment(1);
}

/// An outbox entry failed for good and was parked.
pub fn outbox_parked() {
    counter!("handoff_outbox_parked_total").increment(1);
}

/// Open cases per team: (queued, assigned). Every configured team is
/// present, so a drained queue reads 0 instead of its last value.
pub fn open_by_team(config: &Config, open: &[Case]) -> BTreeMap<String, (u64, u64)> {
    let mut by: BTreeMap<String, (u64, u64)> = config
        .teams
        .iter()
        .map(|t| (t.name.clone(), (0, 0)))
        .collect();
    for c in open {
        let e = by.entry(c.team.clone()).or_default();
        match c.state {
            CaseState::Queued => e.0 += 1,
            CaseState::Assigned { .. } => e.1 += 1,
            _ => {}
        }
    }
    by
}

/// Sets the gauges from the store's open cases, parked outbox entries and
/// the bridges' state.
pub fn refresh_gauges(config: &Config, open: &[Case], parked: usize, connected: &[(String, bool)]) {
    gauge!("handoff_outbox_parked").set(parked as f64);
    for (team, (queued, assigned)) in open_by_team(config, open) {
        let t = SharedString::from(team);
        gauge!("handoff_queue_length", "team" => t.clone()).set(queued as f64);
        gauge!("handoff_cases_open", "team" => t.clone(), "state" => "queued").set(queued as f64);
        gauge!("handoff_cases_open", "team" => t, "state" => "assigned").set(assigned as f64);
    }
    for (network, up) in connected {
        gauge!("handoff_bridge_connected", "network" => network.clone()).set(if *up {
            1.0
        } else {
            0.0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped Grafana dashboard only queries metrics that exist.
    #[test]
    fn dashboard_uses_only_exported_metrics() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json");
        let text = std::fs::read_to_string(path).expect("docs/grafana-dashboard.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
        let re = regex::Regex::new(r"handoff_[a-z_]+").expect("regex");
        let mut used = 0;
        for panel in v["panels"].as_array().expect("panels") {
            for t in panel["targets"].as_array().expect("targets") {
                let expr = t["expr"].as_str().expect("expr");
                for m in re.find_iter(expr) {
                    let name = m.as_str();
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| name.strip_suffix(s))
                        .unwrap_or(name);
                    assert!(NAMES.contains(&base), "dashboard queries unknown {name}");
                    used += 1;
                }
            }
        }
        assert!(used >= 15, "the dashboard queries only {used} metrics");
    }

    /// Renders what `f` records through a fresh exporter built like the
    /// daemon's, without touching the process-wide recorder.
    fn scrape(f: impl FnOnce()) -> String {
        let recorder = builder().expect("builder").build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, f);
        handle.render()
    }

    #[test]
    fn delivery_latency_has_sub_second_buckets() {
        let out = scrape(|| delivery_ok("matrix", Duration::from_millis(3)));
        // A 3 ms call lands in the 5 ms bucket, not in a 10 s one.
        assert!(
            out.contains(
                "handoff_delivery_duration_seconds_bucket{network=\"matrix\",le=\"0.005\"} 1"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "handoff_delivery_duration_seconds_bucket{network=\"matrix\",le=\"0.0025\"} 0"
            ),
            "{out}"
        );
        assert!(!out.contains("le=\"86400\""), "{out}");
    }

    #[test]
    fn wait_histograms_keep_their_long_buckets() {
        let out = scrape(|| {
            record(
                "matrix",
                &[Observation::FirstHumanReply {
                    team: "tech".into(),
                    seconds: 45.0,
                }],
            )
        });
        assert!(
            out.contains(
                "handoff_first_reply_seconds_bucket{team=\"tech\",network=\"matrix\",le=\"30\"} 0"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "handoff_first_reply_seconds_bucket{team=\"tech\",network=\"matrix\",le=\"60\"} 1"
            ),
            "{out}"
        );
    }

    #[test]
    fn every_histogram_has_an_exact_matcher() {
        for name in NAMES
            .iter()
            .filter(|n| n.ends_with("_seconds") || n.ends_with("_score"))
        {
            assert!(
                HISTOGRAMS.iter().any(|(h, _)| h == name),
                "{name} has no buckets of its own"
            );
        }
    }

    #[test]
    fn labelled_counters_start_at_zero_for_every_team_and_reason() {
        let cfg = crate::fixtures::config_with("");
        let out = scrape(|| {
            zero_counters(&cfg);
            zero_customer_counters(&cfg, &["matrix"]);
        });
        for want in [
            "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\",network=\"matrix\"} 0",
            "handoff_escalations_total{reason=\"sla_missed\",team=\"billing\",network=\"matrix\"} 0",
            "handoff_transfers_total{from=\"billing\",to=\"tech\"} 0",
            "handoff_transfers_total{from=\"tech\",to=\"billing\"} 0",
            "handoff_csat_responses_total{team=\"tech\",score=\"1\",network=\"matrix\"} 0",
            "handoff_csat_responses_total{team=\"billing\",score=\"5\",network=\"matrix\"} 0",
            "handoff_sla_breaches_total{team=\"tech\"} 0",
            "handoff_conversations_total{network=\"matrix\"} 0",
            "handoff_faq_misses_total{network=\"matrix\"} 0",
        ] {
            assert!(out.contains(want), "missing {want:?}:\n{out}");
        }
        assert!(!out.contains("from=\"tech\",to=\"tech\""), "{out}");
    }

    /// The customer-side series carry the customer's network: zeroed for
    /// each network customers write on, counted under the network of the
    /// conversation, and the zeroed series is the one that counts (the
    /// same labels in the same order, so one line per series).
    #[test]
    fn customer_side_series_are_counted_per_customer_network() {
        let cfg = crate::fixtures::config_with("");
        let out = scrape(|| {
            zero_counters(&cfg);
            zero_customer_counters(&cfg, &["matrix", "web"]);
            let case = |team: &str| {
                vec![
                    Observation::ConversationStarted,
                    Observation::FaqMiss,
                    Observation::Escalated {
                        reason: "asked_for_human",
                        team: team.into(),
                    },
                ]
            };
            record("web", &case("tech"));
            record("web", &case("billing"));
            record("matrix", &case("tech"));
            record(
                "web",
                &[
                    Observation::FaqAnswered,
                    Observation::FirstHumanReply {
                        team: "tech".into(),
                        seconds: 45.0,
                    },
                    Observation::Resolved {
                        team: "tech".into(),
                        seconds: 600.0,
                    },
                    Observation::Csat {
                        team: "tech".into(),
                        score: 4,
                    },
                    Observation::Transferred {
                        from: "tech".into(),
                        to: "billing".into(),
                    },
                ],
            );
            record(
                "matrix",
                &[
                    Observation::Abandoned {
                        team: "tech".into(),
                    },
                    Observation::Returned {
                        team: "tech".into(),
                    },
                ],
            );
        });
        let value = |series: &str| -> String {
            let mut found = out
                .lines()
                .filter(|l| l.rsplit_once(' ').is_some_and(|(k, _)| k == series));
            let line = found
                .next()
                .unwrap_or_else(|| panic!("no {series} in\n{out}"));
            assert!(found.next().is_none(), "{series} twice in\n{out}");
            line.rsplit_once(' ')
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let n = |net: &str| format!("network=\"{net}\"");
        for (series, want) in [
            (format!("handoff_conversations_total{{{}}}", n("web")), "2"),
            (
                format!("handoff_conversations_total{{{}}}", n("matrix")),
                "1",
            ),
            (format!("handoff_faq_misses_total{{{}}}", n("web")), "2"),
            (format!("handoff_faq_answers_total{{{}}}", n("web")), "1"),
            (format!("handoff_faq_answers_total{{{}}}", n("matrix")), "0"),
            (
                format!(
                    "handoff_escalations_total{{reason=\"asked_for_human\",team=\"tech\",{}}}",
                    n("web")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_escalations_total{{reason=\"asked_for_human\",team=\"billing\",{}}}",
                    n("web")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_escalations_total{{reason=\"asked_for_human\",team=\"tech\",{}}}",
                    n("matrix")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_escalations_total{{reason=\"asked_for_human\",team=\"billing\",{}}}",
                    n("matrix")
                ),
                "0",
            ),
            (
                format!("handoff_cases_resolved_total{{team=\"tech\",{}}}", n("web")),
                "1",
            ),
            (
                format!(
                    "handoff_cases_resolved_total{{team=\"tech\",{}}}",
                    n("matrix")
                ),
                "0",
            ),
            (
                format!(
                    "handoff_cases_abandoned_total{{team=\"tech\",{}}}",
                    n("matrix")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_cases_abandoned_total{{team=\"tech\",{}}}",
                    n("web")
                ),
                "0",
            ),
            (
                format!(
                    "handoff_cases_returned_total{{team=\"tech\",{}}}",
                    n("matrix")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_csat_responses_total{{team=\"tech\",score=\"4\",{}}}",
                    n("web")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_csat_responses_total{{team=\"tech\",score=\"4\",{}}}",
                    n("matrix")
                ),
                "0",
            ),
            (
                format!("handoff_csat_score_sum{{team=\"tech\",{}}}", n("web")),
                "4",
            ),
            (
                format!(
                    "handoff_first_reply_seconds_count{{team=\"tech\",{}}}",
                    n("web")
                ),
                "1",
            ),
            (
                format!(
                    "handoff_resolution_seconds_sum{{team=\"tech\",{}}}",
                    n("web")
                ),
                "600",
            ),
            // Desk-side counters stay per team.
            (
                "handoff_transfers_total{from=\"tech\",to=\"billing\"}".to_string(),
                "1",
            ),
        ] {
            assert_eq!(value(&series), want, "{series} in\n{out}");
        }
        // No customer-side series without its network.
        for bare in [
            "handoff_conversations_total ",
            "handoff_faq_answers_total ",
            "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\"}",
        ] {
            assert!(
                !out.lines().any(|l| l.starts_with(bare)),
                "{bare} in\n{out}"
            );
        }
    }

    #[test]
    fn open_cases_count_per_team_with_zeroes() {
        let cfg = crate::fixtures::config_with("");
        let by = open_by_team(&cfg, &[]);
        assert_eq!(by.get("billing"), Some(&(0, 0)));
        assert_eq!(by.get("tech"), Some(&(0, 0)));
    }
}

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
use metrics::{SharedString, Unit};
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

/// Sets every labelled counter to zero for each configured team, reason,
/// score and network, so `increase()` and `rate()` see the first count
/// after a (re)start instead of a series that appears already at 1.
pub fn zero_counters(config: &Config) {
    counter!("handoff_conversations_total").absolute(0);
    counter!("handoff_faq_answers_total").absolute(0);
    counter!("handoff_faq_misses_total").absolute(0);
    counter!("handoff_outbox_parked_total").absolute(0);
    for team in &config.teams {
        let t = || SharedString::from(team.name.clone());
        counter!("handoff_cases_resolved_total", "team" => t()).absolute(0);
        counter!("handoff_cases_abandoned_total", "team" => t()).absolute(0);
        counter!("handoff_cases_returned_total", "team" => t()).absolute(0);
        counter!("handoff_sla_breaches_total", "team" => t()).absolute(0);
        for reason in EscalationReason::LABELS {
            counter!("handoff_escalations_total", "reason" => *reason, "team" => t()).absolute(0);
        }
        for score in 1..=5u8 {
            counter!(
                "handoff_csat_responses_total",
                "team" => t(),
                "score" => score.to_string()
            )
            .absolute(0);
        }
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

/// Counts what one committed step changed.
pub fn record(observations: &[Observation]) {
    for o in observations {
        match o {
            Observation::ConversationStarted => {
                counter!("handoff_conversations_total").increment(1)
            }
            Observation::FaqAnswered => counter!("handoff_faq_answers_total").increment(1),
            Observation::FaqMiss => counter!("handoff_faq_misses_total").increment(1),
            Observation::Escalated { reason, team } => counter!(
                "handoff_escalations_total",
                "reason" => *reason,
                "team" => team.clone()
            )
            .increment(1),
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
                histogram!("handoff_first_reply_seconds", "team" => team.clone()).record(*seconds)
            }
            Observation::Resolved { team, seconds } => {
                counter!("handoff_cases_resolved_total", "team" => team.clone()).increment(1);
                histogram!("handoff_resolution_seconds", "team" => team.clone()).record(*seconds)
            }
            Observation::Abandoned { team } => {
                counter!("handoff_cases_abandoned_total", "team" => team.clone()).increment(1)
            }
            Observation::Returned { team } => {
                counter!("handoff_cases_returned_total", "team" => team.clone()).increment(1)
            }
            Observation::Csat { team, score } => {
                counter!(
                    "handoff_csat_responses_total",
                    "team" => team.clone(),
                    "score" => score.to_string()
                )
                .increment(1);
                histogram!("handoff_csat_score", "team" => team.clone()).record(f64::from(*score))
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
            record(&[Observation::FirstHumanReply {
                team: "tech".into(),
                seconds: 45.0,
            }])
        });
        assert!(
            out.contains("handoff_first_reply_seconds_bucket{team=\"tech\",le=\"30\"} 0"),
            "{out}"
        );
        assert!(
            out.contains("handoff_first_reply_seconds_bucket{team=\"tech\",le=\"60\"} 1"),
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
        let out = scrape(|| zero_counters(&cfg));
        for want in [
            "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\"} 0",
            "handoff_escalations_total{reason=\"sla_missed\",team=\"billing\"} 0",
            "handoff_transfers_total{from=\"billing\",to=\"tech\"} 0",
            "handoff_transfers_total{from=\"tech\",to=\"billing\"} 0",
            "handoff_csat_responses_total{team=\"tech\",score=\"1\"} 0",
            "handoff_csat_responses_total{team=\"billing\",score=\"5\"} 0",
            "handoff_sla_breaches_total{team=\"tech\"} 0",
        ] {
            assert!(out.contains(want), "missing {want:?}:\n{out}");
        }
        assert!(!out.contains("from=\"tech\",to=\"tech\""), "{out}");
    }

    #[test]
    fn open_cases_count_per_team_with_zeroes() {
        let cfg = crate::fixtures::config_with("");
        let by = open_by_team(&cfg, &[]);
        assert_eq!(by.get("billing"), Some(&(0, 0)));
        assert_eq!(by.get("tech"), Some(&(0, 0)));
    }
}

//! The operator files in `contrib/` and `docs/`: the systemd unit passes
//! `systemd-analyze verify` (where systemd is installed) and keeps its
//! hardening; the Grafana dashboard filters every panel by instance and
//! team, and the customer-side ones by customer network; the Prometheus alert rules are well-formed and name only metrics
//! handoff exports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_service_unit_is_hardened_and_notifies() {
    let unit = read("contrib/handoff.service");
    for directive in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=handoff",
        "ProtectSystem=strict",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
        "ExecStart=/usr/local/bin/handoff run --config /etc/handoff/handoff.toml",
    ] {
        assert!(unit.contains(directive), "the unit lacks {directive:?}");
    }
}

#[test]
fn the_service_unit_passes_systemd_analyze_verify() {
    if !found("systemd-analyze") {
        println!("skipped: systemd-analyze is not installed here");
        return;
    }
    // `verify` checks that ExecStart's binary exists: point it at the one
    // this test run built.
    let dir = tempfile::tempdir().expect("tempdir");
    let unit: PathBuf = dir.path().join("handoff.service");
    let text = read("contrib/handoff.service")
        .replace("/usr/local/bin/handoff", env!("CARGO_BIN_EXE_handoff"));
    std::fs::write(&unit, text).expect("write the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Warnings about other units on this machine are not ours.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("handoff.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

/// Metrics with a `team` label (see src/metrics/mod.rs).
const TEAM_METRICS: &[&str] = &[
    "handoff_escalations_total",
    "handoff_sla_breaches_total",
    "handoff_first_reply_seconds",
    "handoff_resolution_seconds",
    "handoff_cases_resolved_total",
    "handoff_cases_abandoned_total",
    "handoff_cases_returned_total",
    "handoff_csat_score",
    "handoff_queue_length",
    "handoff_cases_open",
];

#[test]
fn every_dashboard_panel_filters_by_instance_and_team() {
    let d: serde_json::Value =
        serde_json::from_str(&read("docs/grafana-dashboard.json")).expect("dashboard JSON");
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(
        vars.contains(&"instance") && vars.contains(&"team"),
        "{vars:?}"
    );
    let metric = regex::Regex::new(r"(handoff_[a-z_]+?)(_bucket|_sum|_count)?\{([^}]*)\}").unwrap();
    let bare = regex::Regex::new(r"handoff_[a-z_]+[^a-z_{]").unwrap();
    let mut uses_team = 0;
    for panel in d["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("expr");
            assert!(!bare.is_match(expr), "a metric without filters in {expr}");
            for m in metric.captures_iter(expr) {
                let labels = &m[3];
                assert!(labels.contains(r#"instance=~"$instance""#), "{expr}");
                if TEAM_METRICS.contains(&&m[1]) {
                    assert!(labels.contains(r#"team=~"$team""#), "{expr}");
                    uses_team += 1;
                }
            }
        }
    }
    assert!(uses_team > 5, "the team filter is hardly used");
}

/// Metrics with a `network` label that is the customer's network (see
/// `zero_customer_counters` in src/metrics/mod.rs).
const CUSTOMER_NETWORK_METRICS: &[&str] = &[
    "handoff_conversations_total",
    "handoff_faq_answers_total",
    "handoff_faq_misses_total",
    "handoff_escalations_total",
    "handoff_first_reply_seconds",
    "handoff_resolution_seconds",
    "handoff_cases_resolved_total",
    "handoff_cases_abandoned_total",
    "handoff_cases_returned_total",
    "handoff_csat_responses_total",
    "handoff_csat_score",
];

#[test]
fn customer_side_panels_filter_by_customer_network() {
    let d: serde_json::Value =
        serde_json::from_str(&read("docs/grafana-dashboard.json")).expect("dashboard JSON");
    let network = d["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .find(|v| v["name"] == "network")
        .expect("a network variable");
    // Its values are the customers' networks, not every delivery target.
    let query = network["query"]["query"].as_str().expect("query");
    assert!(
        query.starts_with("label_values(handoff_conversations_total{"),
        "{query}"
    );
    let metric = regex::Regex::new(r"(handoff_[a-z_]+?)(_bucket|_sum|_count)?\{([^}]*)\}").unwrap();
    let (mut filtered, mut by_network) = (0, false);
    for panel in d["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("expr");
            for m in metric.captures_iter(expr) {
                let has = m[3].contains(r#"network=~"$network""#);
                if CUSTOMER_NETWORK_METRICS.contains(&&m[1]) {
                    assert!(has, "{expr}");
                    filtered += 1;
                } else {
                    // Delivery metrics' `network` is where an action went
                    // (desks too): the customer filter must not hide them.
                    assert!(!has, "{expr}");
                }
            }
            by_network |= expr.contains("sum by (network) (increase(handoff_escalations_total");
        }
    }
    assert!(filtered > 10, "the network filter is hardly used");
    assert!(by_network, "no panel shows containment per network");
}

#[test]
fn alert_rules_are_well_formed_and_use_exported_metrics() {
    let text = read("contrib/prometheus-alerts.yml");
    let exported = read("src/metrics/mod.rs");
    let names = regex::Regex::new(r"handoff_[a-z_]+").unwrap();
    for m in names.find_iter(&text) {
        let name = m
            .as_str()
            .trim_end_matches("_count")
            .trim_end_matches("_bucket");
        assert!(
            exported.contains(&format!("\"{name}\"")),
            "{name} is not a metric handoff exports"
        );
    }
    for alert in [
        "HandoffSlaBreaches",
        "HandoffDeliveryErrors",
        "HandoffBridgeDown",
    ] {
        assert!(text.contains(&format!("alert: {alert}")), "{alert} missing");
    }
    // The YAML shape, with PyYAML where there is one (the Synapse venv
    // the integration tests set up has it).
    let venv = std::env::var("SYNAPSE_VENV").unwrap_or_else(|_| ".synapse/venv".into());
    let candidates = [
        root().join(&venv).join("bin/python"),
        PathBuf::from(&venv).join("bin/python"),
        PathBuf::from("python3"),
    ];
    let check = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
rules = [r for g in doc["groups"] for r in g["rules"]]
assert all(g["name"] for g in doc["groups"])
for r in rules:
    assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
    assert r["alert"] and r["expr"], r
    assert r["labels"]["severity"] in ("critical", "warning", "info"), r
    assert r["annotations"]["summary"], r
print(len(rules))
"#;
    for python in candidates {
        let Ok(out) = Command::new(&python)
            .args(["-c", check])
            .arg(root().join("contrib/prometheus-alerts.yml"))
            .output()
        else {
            continue;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No module named 'yaml'") {
            continue;
        }
        assert!(out.status.success(), "{}: {stderr}", python.display());
        let n: usize = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count");
        assert!(n >= 3, "{n} rules");
        return;
    }
    println!("skipped the YAML parse: no Python with PyYAML here");
}

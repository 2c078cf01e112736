//! handoff: first-line support in chat that hands customers to humans
//! without dropping context.
//!
//! The core is network-free: bridges (Matrix, Slack) speak the contract in
//! `handoff-bridge-api`; everything here is testable without a network.

pub mod backup; // `handoff backup` / `restore`: the store from one point in time plus each network's data directory
pub mod bridges; // the composition file: network plugins (cargo features) and the bridges a config names; the only file naming a network
pub mod case; // cases, customers and transcript turns: the data every part shares
pub mod config; // TOML → typed config; validation with file:line:col errors; ${VAR} secrets
pub mod conversation; // the case state machine: (state, event) -> (state, effects), no I/O
pub mod daemon; // `handoff run`: store, bridges, router and timers wired together
pub mod effect; // what the state machine asks the runtime to do: plain data, stored in the outbox
pub mod escalation; // rules deciding when to hand over, each with its reason
pub mod faq; // FAQ file loading, the matcher index, confidence, evaluation
#[cfg(test)]
mod fixtures; // shared unit-test fixtures: config, FAQ, engine, fake world
pub mod hours; // business hours with real time zones and holidays
pub mod http; // the metrics/health listener: /metrics, /healthz, /readyz, token-guarded loopback /api for stats and export; connection limits
pub mod metrics; // Prometheus metrics: observations of committed steps, delivery counters, gauges at scrape
pub mod notify; // systemd readiness: READY=1 once the bridges are connected, STOPPING=1 on shutdown
pub mod percentile; // nearest-rank percentiles shared by reports, FAQ eval, benchmarks and tests
pub mod pii; // masking of card numbers, e-mails and phones in summaries
pub mod privacy; // privacy duties: the retention period and erasing a person (`handoff forget`)
pub mod reload; // FAQ upkeep while running: reload on file change or SIGHUP, keep the old FAQ on a broken edit
pub mod report; // manager reports: `stats` figures and `export` transcripts (jsonl, Markdown)
pub mod router; // per-conversation ordered workers; commits and delivers effects through the outbox
pub mod routing; // which team gets a case; desk targets; queue wait phrases; SLA deadlines
pub mod store; // the Store trait, sled and in-memory backends, one shared test suite
pub mod summary; // the pinned context card: Markdown, Slack mrkdwn, plain text

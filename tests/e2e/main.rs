//! End-to-end tests of the real `handoff` binary: CLI, Matrix journeys on a real Synapse, Slack desk via the emulator,
//! faults (SIGKILL crashes, downtime, outages, a full disk), operations (systemd readiness, JSON logs,
//! backup and restore while running) and a 100-conversation load run
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod cli;
mod common;
mod crash;
mod downtime;
mod faq_upkeep;
mod full_disk;
mod load;
mod manager;
mod matrix_e2e;
mod matrix_relay;
mod matrix_roles;
mod ops;
mod outage;
mod slack_agents;
mod slack_crash;
mod slack_e2e;
mod slack_relay;
mod staff_room;
mod web_widget;
mod widget_browser;

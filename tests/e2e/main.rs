//! End-to-end tests of the real `handoff` binary: CLI, Matrix journeys on a real Synapse, Slack desk via the emulator
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod cli;
mod common;
mod manager;
mod matrix_e2e;
mod matrix_relay;
mod slack_e2e;
mod slack_relay;

//! handoff: first-line support in chat that hands customers to humans
//! without dropping context.
//!
//! The core is network-free: bridges (Matrix, Slack) speak the contract in
//! `handoff-bridge-api`; everything here is testable without a network.

pub mod case; // cases, customers and transcript turns: the data every part shares
pub mod config; // TOML → typed config; validation with file:line:col errors; ${VAR} secrets
pub mod faq; // FAQ file loading, the matcher index, confidence, evaluation
pub mod store; // the Store trait, sled and in-memory backends, one shared test suite

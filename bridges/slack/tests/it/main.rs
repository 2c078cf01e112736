//! Integration tests of the Slack bridge against the in-repo Slack emulator
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod acks;
mod common;
mod connection;
mod events_api;
mod file_hosts;
mod hostile_http;
mod hostile_socket;
mod loops;
mod outbound;
mod rate_limits;
mod relay;
mod secrets;
mod size_limits;
mod suite;

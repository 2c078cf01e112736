//! Integration tests of the Matrix bridge against a real Synapse
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod actions;
mod case_rooms;
mod catchup;
mod common;
mod encryption;
mod hostile;
mod inbound;
mod loops;
mod secrets;
mod session;
mod size_limits;
mod suite;

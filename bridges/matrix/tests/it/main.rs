//! Integration tests of the Matrix bridge against a real Synapse
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod actions;
mod common;
mod encryption;
mod inbound;
mod session;

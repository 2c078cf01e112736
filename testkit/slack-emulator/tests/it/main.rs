//! Tests of the Slack emulator, driven with slack-morphism and raw HTTP/websocket clients
//! (one test binary, so each heavy dependency is linked once).

#![recursion_limit = "256"]

mod common;
mod events_api;
mod faults;
mod files_pins_reactions;
mod socket_mode;
mod web_api;

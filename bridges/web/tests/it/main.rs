//! Integration tests of the web widget bridge through real WebSockets
//! (one test binary, so each heavy dependency is linked once).

mod common;
mod conversation;
mod http;
mod safety;
mod suite;

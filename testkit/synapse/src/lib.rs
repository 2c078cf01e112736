//! synapse-testkit: a real Synapse homeserver and Matrix test users for
//! integration tests.
//!
//! `Synapse::start()` runs `scripts/synapse.sh` (shared venv under
//! `<repo>/.synapse/venv`, a fresh temp server dir, a free port) and owns the
//! server process; `Synapse::login()` gives a `TestClient` that plays a
//! customer or an agent with matrix-sdk. Not for production use: the server
//! config is local-only with raised rate limits. Invariant: every server and
//! client started here is stopped when its value is dropped.
#![recursion_limit = "256"]

/// Logged-in test users: rooms, messages, waiting for events.
mod client;
/// The error type, with context on every variant.
mod error;
/// What a test user's sync loop saw, and waiting for it.
mod inbox;
/// Shared-secret registration (`/_synapse/admin/v1/register`).
mod register;
/// Workspace root, `scripts/synapse.sh`, the venv setup lock.
mod repo;
/// The Synapse child process: start, stop, restart, drop.
mod server;

pub use client::TestClient;
pub use error::TestkitError;
pub use inbox::{Message, Redaction, Seen};
pub use repo::{repo_root, script_path};
pub use server::Synapse;

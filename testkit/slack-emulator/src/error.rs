//! Errors: `ApiError` is what a Web API call answers on the wire
//! (`{"ok":false,"error":"…"}`); `EmulatorError` is what the Rust API for
//! tests returns.
//!
//! Not for HTTP-level faults (429/500/reset), which `faults` injects. The
//! invariant: every `ApiError` code is one Slack documents for that method.

use serde_json::{Map, Value};
use std::time::Duration;

/// A Slack Web API error: the `error` code plus any extra fields Slack sends
/// alongside it (`needed`/`provided` for `missing_scope`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("slack error `{code}`")]
pub struct ApiError {
    pub code: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(code: &str) -> ApiError {
        ApiError {
            code: code.to_string(),
            extra: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_string(), value.into());
        self
    }
}

/// Errors of the emulator's Rust API (setup, agent actions, waits).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("could not bind the emulator's listener on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("no user `{0}` in the emulated workspace")]
    UnknownUser(String),
    #[error("no channel `{0}` in the emulated workspace")]
    UnknownChannel(String),
    #[error("no message {ts} in channel {channel}")]
    UnknownMessage { channel: String, ts: String },
    #[error("message {ts} in {channel} has no interactive element with action_id `{action_id}`")]
    UnknownAction {
        channel: String,
        ts: String,
        action_id: String,
    },
    #[error("the emulated Slack refused the action: {0}")]
    Refused(#[from] ApiError),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("Events API URL verification failed: {0}")]
    UrlVerification(String),
    #[error("this needs Events API delivery, but the emulator is in Socket Mode")]
    NotEventsApi,
    #[error("no event `{0}` was ever delivered")]
    UnknownEvent(String),
}

//! The log of Web API calls the emulator received, for tests that assert
//! order, counts and parameters.
//!
//! Not for events sent out (`delivery` keeps those). The invariant: tokens
//! never enter the log; each call is recorded once, in arrival order, with
//! the moment it arrived, and its outcome is filled in when the answer is
//! known.

use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::Instant;

/// How a call was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Still being handled.
    Pending,
    Ok,
    /// `{"ok":false,"error":code}` (HTTP 200).
    Error(String),
    /// HTTP 429 with this `Retry-After`, from a limit or a fault.
    RateLimited(u64),
    /// HTTP 500 from a fault.
    ServerError,
    /// The connection was dropped by a fault (before or after committing).
    Reset,
}

/// One Web API call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub http_method: String,
    /// Query and body parameters merged, without `token`.
    pub params: Map<String, Value>,
    pub outcome: CallOutcome,
    /// When the request arrived (monotonic), so tests can check the gap
    /// between a 429 and the retry that honoured its `Retry-After`.
    pub at: Instant,
}

impl Call {
    /// A parameter as a string (numbers and booleans in their JSON form).
    pub fn param(&self, key: &str) -> Option<String> {
        match self.params.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<Call>>,
}

impl CallLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a call and returns its index for `finish`.
    pub fn start(&self, call: Call) -> usize {
        let mut calls = self.lock();
        calls.push(call);
        calls.len() - 1
    }

    pub fn finish(&self, index: usize, outcome: CallOutcome) {
        if let Some(call) = self.lock().get_mut(index) {
            call.outcome = outcome;
        }
    }

    pub fn all(&self) -> Vec<Call> {
        self.lock().clone()
    }
}

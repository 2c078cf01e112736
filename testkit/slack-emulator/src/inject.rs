//! Test switches for what Slack itself would never send on its own: an
//! arbitrary (possibly hostile or foreign) event in a genuine
//! `event_callback` wrapper, a repeat of an earlier delivery (what Slack
//! does when it did not see the ack), and raw Socket Mode frames.
//!
//! Not for ordinary agent activity (`agent`, which keeps the workspace
//! state honest). The invariant: injected traffic goes through the same
//! delivery paths (envelopes, signatures, retry headers) as real events,
//! and never changes the workspace state.

use crate::delivery::{emit_event, redeliver, DeliveryKind};
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use serde_json::Value;

impl Emulator {
    /// Delivers `event` (the inner `event` object, any shape) wrapped in an
    /// `event_callback`, the configured way; returns its `event_id`.
    pub fn inject_event(&self, event: Value) -> String {
        emit_event(&self.inner, event)
    }

    /// Delivers the event `event_id` again as the next retry attempt, as
    /// Slack does after a lost or late acknowledgement: over Socket Mode a
    /// new `envelope_id` with `retry_attempt` + 1, over HTTP the same body
    /// with `X-Slack-Retry-Num`.
    pub fn redeliver(&self, event_id: &str) -> Result<(), EmulatorError> {
        let last = self
            .inner
            .outbox
            .records()
            .into_iter()
            .filter(|r| r.kind == DeliveryKind::Event && r.event_id.as_deref() == Some(event_id))
            .max_by_key(|r| r.attempt)
            .ok_or_else(|| EmulatorError::UnknownEvent(event_id.to_string()))?;
        redeliver(&self.inner, last.payload, last.attempt + 1);
        Ok(())
    }

    /// Sends `text` verbatim as a websocket text frame on every open Socket
    /// Mode connection (garbage, truncated envelopes, unknown types);
    /// returns the number of connections it went to.
    pub fn send_raw_socket_frame(&self, text: &str) -> usize {
        self.inner.outbox.socket.send_raw_frame(text)
    }
}

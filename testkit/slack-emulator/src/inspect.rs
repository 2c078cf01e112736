//! What a test looks at: stored messages, threads, pins, reactions, files,
//! deliveries, plus event-driven waits with timeouts.
//!
//! Not for changing anything (`agent`, the Web API). The invariant: waits
//! never poll on a timer; they re-check on every change notification and
//! fail with `EmulatorError::Timeout` at the deadline.

use crate::calls::Call;
use crate::delivery::{http, DeliveryRecord};
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::state::{Message, Reaction};
use crate::ts::Ts;
use std::time::Duration;
use tokio::time::Instant;

impl Emulator {
    /// A channel's id by name (or id).
    pub fn channel_id(&self, name: &str) -> Option<String> {
        self.inner.workspace().find_channel(name)
    }

    /// A user's id by name (or id).
    pub fn user_id(&self, name: &str) -> Option<String> {
        self.inner.workspace().user_id(name)
    }

    /// Every message in a channel (top level and replies), oldest first.
    pub fn messages(&self, channel: &str) -> Vec<Message> {
        let ws = self.inner.workspace();
        ws.find_channel(channel)
            .and_then(|id| ws.channels.get(&id))
            .map(|ch| ch.messages.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One message by ts.
    pub fn message(&self, channel: &str, ts: &str) -> Option<Message> {
        let ts = Ts::parse(ts)?;
        let ws = self.inner.workspace();
        let id = ws.find_channel(channel)?;
        ws.channels.get(&id)?.messages.get(&ts).cloned()
    }

    /// A thread: its parent, then the replies, oldest first.
    pub fn thread(&self, channel: &str, ts: &str) -> Vec<Message> {
        let Some(ts) = Ts::parse(ts) else {
            return Vec::new();
        };
        let ws = self.inner.workspace();
        let Some(ch) = ws.find_channel(channel).and_then(|id| ws.channels.get(&id)) else {
            return Vec::new();
        };
        let root = ch.messages.get(&ts).and_then(|m| m.thread_ts).unwrap_or(ts);
        ch.messages
            .get(&root)
            .into_iter()
            .chain(ch.replies(root))
            .cloned()
            .collect()
    }

    /// The pinned messages of a channel, in pinning order.
    /// Ephemeral messages posted in `channel` (id or name), oldest first.
    pub fn ephemerals(&self, channel: &str) -> Vec<crate::state::Ephemeral> {
        let ws = self.inner.workspace();
        let id = ws
            .find_channel(channel)
            .unwrap_or_else(|| channel.to_string());
        ws.ephemerals
            .iter()
            .filter(|e| e.channel == id)
            .cloned()
            .collect()
    }

    pub fn pins(&self, channel: &str) -> Vec<Message> {
        let ws = self.inner.workspace();
        let Some(ch) = ws.find_channel(channel).and_then(|id| ws.channels.get(&id)) else {
            return Vec::new();
        };
        ch.pins
            .iter()
            .filter_map(|p| ch.messages.get(&p.ts).cloned())
            .collect()
    }

    /// The reactions on one message.
    pub fn reactions(&self, channel: &str, ts: &str) -> Vec<Reaction> {
        self.message(channel, ts)
            .map(|m| m.reactions)
            .unwrap_or_default()
    }

    /// The uploaded bytes of a file.
    pub fn file_content(&self, file_id: &str) -> Option<Vec<u8>> {
        self.inner.workspace().files.get(file_id)?.content.clone()
    }

    /// Every delivery attempt (events and interactions), in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.outbox.records()
    }

    /// Sends Slack's `url_verification` challenge to the Events API URL.
    pub async fn verify_events_url(&self) -> Result<(), EmulatorError> {
        http::verify_url(&self.inner).await
    }

    /// Waits until `probe` returns `Some`, re-checking on every change.
    pub async fn wait_for<T>(
        &self,
        what: &'static str,
        timeout: Duration,
        mut probe: impl FnMut(&Emulator) -> Option<T>,
    ) -> Result<T, EmulatorError> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.inner.subscribe();
        loop {
            changes.borrow_and_update();
            if let Some(found) = probe(self) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(EmulatorError::Timeout(timeout, what)),
            }
        }
    }

    /// Waits for a message in `channel` matching `predicate`.
    pub async fn wait_for_message(
        &self,
        channel: &str,
        predicate: impl Fn(&Message) -> bool,
        timeout: Duration,
    ) -> Result<Message, EmulatorError> {
        self.wait_for("a matching message", timeout, |emu| {
            emu.messages(channel).into_iter().find(|m| predicate(m))
        })
        .await
    }

    /// Waits for a message in `channel` stored at or after `since` (its ts
    /// is the store time) matching `predicate`. Unlike
    /// [`Emulator::wait_for_message`] it neither copies the channel nor
    /// looks at older messages, so its cost does not grow with the channel
    /// (for benchmarks, whose channels grow to thousands of messages and
    /// whose waits must not hold the workspace while handoff posts).
    /// `predicate` runs under the workspace lock: it must not call the
    /// emulator.
    pub async fn wait_for_message_since(
        &self,
        channel: &str,
        since: Ts,
        predicate: impl Fn(&Message) -> bool,
        timeout: Duration,
    ) -> Result<Message, EmulatorError> {
        self.wait_for("a matching message", timeout, |emu| {
            let ws = emu.inner.workspace();
            let id = ws.find_channel(channel)?;
            ws.channels
                .get(&id)?
                .messages
                .range(since..)
                .map(|(_, m)| m)
                .find(|m| predicate(m))
                .cloned()
        })
        .await
    }

    /// Waits for a finished call of `method` matching `predicate`.
    pub async fn wait_for_call(
        &self,
        method: &str,
        predicate: impl Fn(&Call) -> bool,
        timeout: Duration,
    ) -> Result<Call, EmulatorError> {
        self.wait_for("a matching Web API call", timeout, |emu| {
            emu.calls(method)
                .into_iter()
                .find(|c| c.outcome != crate::calls::CallOutcome::Pending && predicate(c))
        })
        .await
    }

    /// Waits for a delivery record matching `predicate`.
    pub async fn wait_for_delivery(
        &self,
        predicate: impl Fn(&DeliveryRecord) -> bool,
        timeout: Duration,
    ) -> Result<DeliveryRecord, EmulatorError> {
        self.wait_for("a matching delivery", timeout, |emu| {
            emu.deliveries().into_iter().find(|d| predicate(d))
        })
        .await
    }

    /// Waits until at least `n` Socket Mode connections are open.
    pub async fn wait_for_sockets(&self, n: usize, timeout: Duration) -> Result<(), EmulatorError> {
        self.wait_for("socket mode connections", timeout, |emu| {
            (emu.socket_count() >= n).then_some(())
        })
        .await
    }
}

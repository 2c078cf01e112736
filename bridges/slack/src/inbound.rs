//! The inbound worker: raw Slack payloads (from Socket Mode or the Events
//! API) and catch-up requests go through one queue, in arrival order, are
//! translated to [`Inbound`] values and handed to the core.
//!
//! Not for the translation rules (`translate`) or catch-up reads
//! (`catchup`). The invariant: transports only enqueue (their callbacks stay
//! short, so acks are prompt); a human reply is marked relayed in the
//! durable thread progress only after the core's channel accepted it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_bridge_api::{BridgeError, Inbound, InboundSender};
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::bridge::Inner;
use crate::{catchup, translate};

/// Catch-up requests this soon after the last one are dropped.
const CATCH_UP_COALESCE: Duration = Duration::from_secs(2);

/// What the transports enqueue.
#[derive(Debug)]
pub(crate) enum Raw {
    /// An `event_callback` payload.
    Event(Value),
    /// An interaction payload (`block_actions`).
    Interaction(Value),
    /// (Re)connected: read what was missed.
    CatchUp,
}

/// A human reply to mark relayed once it was handed over.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mark {
    pub channel: String,
    pub root: String,
    pub event_id: String,
    pub ts: String,
}

/// One Inbound to hand over, and what to remember after.
#[derive(Debug)]
pub(crate) struct Emit {
    pub inbound: Inbound,
    pub mark: Option<Mark>,
}

/// Runs until every sender of `rx` is gone or the core stops listening.
pub(crate) async fn run_worker(
    inner: Arc<Inner>,
    mut rx: mpsc::UnboundedReceiver<Raw>,
    tx: InboundSender,
) {
    let mut last_catch_up: Option<Instant> = None;
    while let Some(raw) = rx.recv().await {
        let result = match &raw {
            Raw::Event(payload) => translate::event(&inner, payload).await,
            Raw::Interaction(payload) => translate::interaction(&inner, payload).await,
            // Each socket says hello: one read-back covers them all.
            Raw::CatchUp if last_catch_up.is_some_and(|t| t.elapsed() < CATCH_UP_COALESCE) => {
                continue
            }
            Raw::CatchUp => {
                let found = catchup::missed(&inner).await;
                last_catch_up = Some(Instant::now());
                found
            }
        };
        let emits = match result {
            Ok(emits) => emits,
            Err(e) => {
                warn!(error = %e, "could not translate a Slack payload; skipped");
                continue;
            }
        };
        for emit in emits {
            debug!(event_id = %emit.inbound.event_id, "relaying slack event");
            let Ok(handled) = tx.send_tracked(emit.inbound).await else {
                debug!("the core stopped listening; inbound worker ends");
                return;
            };
            let Some(mark) = emit.mark else { continue };
            // Progress moves only past replies the core stored: a reply
            // lost to a crash before that is read back on the next start.
            if !handled.wait().await {
                // The core's store failed and it is stopping; marking later
                // replies would skip this one on the next start.
                warn!(event_id = %mark.event_id, "the core did not store a reply; it is read back after a restart");
                return;
            }
            if let Err(e) = remember(&inner, &mark) {
                warn!(error = %e, "could not record relay progress");
            }
        }
    }
}

fn remember(inner: &Inner, mark: &Mark) -> Result<(), BridgeError> {
    let mut progress = inner.store.progress(&mark.channel, &mark.root)?;
    progress.mark(&mark.event_id, &mark.ts);
    inner
        .store
        .save_progress(&mark.channel, &mark.root, &progress)
}

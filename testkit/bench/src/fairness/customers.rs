//! A stand-in for the customers' network in the fairness benchmark: a
//! bridge named "matrix" that accepts every message the bot says to a
//! customer and answers instantly, so the benchmark measures only the
//! agent side (the Slack bridge against a rate-limited emulator).
//!
//! Not a Matrix bridge and not for any other benchmark. The invariant: it
//! never fails a send (a failure would retry in the customer's delivery
//! queue and delay that case's relays, which is not what is measured), and
//! it never emits inbound events (the benchmark dispatches those itself).

use std::sync::atomic::{AtomicU64, Ordering};

use handoff_bridge_api::{
    Action, Bridge, BridgeError, Capabilities, Delivered, InboundSender, MessageRef, Outgoing,
};

/// Accepts what the bot says to customers; counts it.
#[derive(Debug, Default)]
pub struct NullCustomers {
    sent: AtomicU64,
}

impl NullCustomers {
    /// Messages the bot sent to customers so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl Bridge for NullCustomers {
    fn network(&self) -> &str {
        "matrix"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edit: true,
            delete: true,
            react: true,
            upload: true,
            threads: true,
            private_rooms: true,
            pins: true,
            buttons: false,
            typing: false,
            customers: true,
        }
    }

    async fn run(&self, _inbound: InboundSender) -> Result<(), BridgeError> {
        std::future::pending::<()>().await;
        Ok(())
    }

    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(match &out.action {
            Action::Send { to, .. } | Action::Upload { to, .. } | Action::Notify { to, .. } => {
                Delivered::Message(MessageRef {
                    endpoint: to.clone(),
                    id: format!("$null{n}:localhost"),
                })
            }
            _ => Delivered::Done,
        })
    }
}

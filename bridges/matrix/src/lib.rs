//! handoff-matrix: the Matrix bridge. Customers talk to the bot in Matrix
//! rooms; agents get a private case room (or a thread in a staff room).
//!
//! `MatrixBridge::connect` logs in once (later starts restore the session
//! and crypto store), joins the configured customer rooms, and then `run`
//! forwards room events as `Inbound` while `send` carries out `Outgoing`
//! actions idempotently. This crate is the only place that imports
//! matrix-sdk; it knows nothing about cases or the state machine.
//! Invariant: every network-visible action is keyed by its `Outgoing::key`
//! (transaction ids, a case-room alias, and a delivery record in
//! `BridgeState`), so a retry never acts twice.
#![recursion_limit = "256"]

/// One sync batch: from matrix-sdk, or re-read raw when it dropped one.
mod batch;
/// The summary card as HTML.
mod card;
/// OpenCase, UpdateSummary and pinning.
mod case;
/// `MatrixBridgeConfig` and the connect retry policy.
mod config;
/// matrix-sdk errors to `BridgeError`.
mod error;
/// Name prefixes, mentions, HTML escaping and sanitising.
mod format;
/// Matrix events to `Inbound` values.
mod inbound;
/// Durable bridge state keys and transaction-id derivation.
mod ledger;
/// Keeping outgoing events under Matrix's size limit.
mod limits;
/// Attachment download (size-capped) and upload.
mod media;
/// Send, Edit, Delete, React, Upload and Notify.
mod outgoing;
/// Backoff for connecting.
mod retry;
/// Joining customer rooms, resolving aliases, deciding on invites.
mod rooms;
/// Login, session restore, the files in `data_dir`.
mod session;
/// `[matrix]` in the config file, and Matrix desk targets.
pub mod settings;
/// The sync loop behind `run`.
mod sync;
/// Thread per customer in shared rooms.
mod threads;
/// Typing notices both ways.
mod typing;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use handoff_bridge_api::{
    Bridge, BridgeError, BridgeState, Capabilities, Delivered, Endpoint, InboundSender, Millis,
    Outgoing,
};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::Client;

pub use config::{MatrixBridgeConfig, RetryPolicy};
pub use error::NETWORK;
pub use inbound::classify::RELAY_MARKER;
/// The case-room alias for a key (exported for the hijack test).
#[doc(hidden)]
pub use ledger::case_alias_localpart;
pub use limits::MAX_CONTENT_BYTES;

/// The Matrix bridge. Cheap to share: `run` and `send` may be called
/// concurrently from different tasks.
pub struct MatrixBridge {
    shared: Arc<Shared>,
}

/// What every part of the bridge needs.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) cfg: MatrixBridgeConfig,
    pub(crate) ledger: ledger::Ledger,
    pub(crate) own_id: OwnedUserId,
    /// Resolved ids of the configured customer rooms.
    pub(crate) customer_rooms: RwLock<HashSet<OwnedRoomId>>,
    pub(crate) ignore_users: HashSet<String>,
    /// Events older than this are history and not forwarded.
    pub(crate) first_start: Millis,
    pub(crate) connected: AtomicBool,
    /// Serialises OpenCase so two retries cannot race to create a room.
    pub(crate) case_lock: tokio::sync::Mutex<()>,
    /// Who is typing in each room, by the last notice.
    pub(crate) typing: typing::Typing,
}

impl std::fmt::Debug for MatrixBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixBridge")
            .field("user", &self.shared.own_id)
            .field("device", &self.shared.client.device_id())
            .finish_non_exhaustive()
    }
}

impl MatrixBridge {
    /// Logs in (or restores the saved session), performs the first sync on
    /// a fresh device, and joins the configured customer rooms.
    ///
    /// Unreachable servers are retried per `cfg.connect_retry`; a wrong
    /// password fails at once with `BridgeError::Auth`.
    pub async fn connect(
        cfg: MatrixBridgeConfig,
        state: Arc<dyn BridgeState>,
    ) -> Result<MatrixBridge, BridgeError> {
        let client = session::connect(&cfg).await?;
        let own_id = client
            .user_id()
            .ok_or_else(|| error::auth("logged in but the client has no user id"))?
            .to_owned();
        let ledger = ledger::Ledger::new(state);
        let first_start = ledger.first_start(now_millis())?;
        let shared = Arc::new(Shared {
            ignore_users: cfg.ignore_users.iter().cloned().collect(),
            client,
            cfg,
            ledger,
            own_id,
            customer_rooms: RwLock::new(HashSet::new()),
            first_start,
            connected: AtomicBool::new(true),
            case_lock: tokio::sync::Mutex::new(()),
            typing: typing::Typing::default(),
        });
        sync::prime(&shared).await?;
        rooms::join_configured(&shared).await;
        Ok(MatrixBridge { shared })
    }

    /// The bot's full user id.
    pub fn user_id(&self) -> &str {
        self.shared.own_id.as_str()
    }

    /// The bot's device id (stable across restarts).
    pub fn device_id(&self) -> Option<String> {
        self.shared.client.device_id().map(|d| d.to_string())
    }
}

#[async_trait::async_trait]
impl Bridge for MatrixBridge {
    fn network(&self) -> &str {
        NETWORK
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
            typing: true,
            customers: true,
        }
    }

    async fn run(&self, inbound: InboundSender) -> Result<(), BridgeError> {
        sync::run(&self.shared, inbound).await
    }

    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        if let Some(done) = self.shared.ledger.delivered(&out.key)? {
            tracing::debug!(key = %out.key, "action already carried out; returning its result");
            return Ok(done);
        }
        let delivered = outgoing::carry_out(&self.shared, &out.key, &out.action).await?;
        self.shared.ledger.record(&out.key, &delivered)?;
        Ok(delivered)
    }

    async fn typing(&self, to: &Endpoint, on: bool) -> Result<(), BridgeError> {
        typing::show(&self.shared, to, on).await
    }

    fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    fn forget(&self, key: &str) {
        if let Err(e) = self.shared.ledger.forget(key) {
            tracing::warn!(key, error = %e, "could not drop a delivery record; it stays");
        }
    }
}

pub(crate) fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX))
        .unwrap_or(0)
}

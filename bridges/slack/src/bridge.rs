//! [`SlackBridge`]: start-up (`auth.test`, crypto provider, Events API
//! socket), the shared state every part uses ([`Inner`]), and the
//! [`Bridge`] implementation that wires `run` and `send` together.
//!
//! Not for the details of any one direction (`outbound`, `inbound`,
//! `socket`, `events_api`). The invariant: the bridge never depends on the
//! core crate, and `run` may be called again after it returns.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use handoff_bridge_api::{
    Bridge, BridgeError, BridgeState, Capabilities, Delivered, InboundSender, Outgoing,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::config::{Mode, SlackBridgeConfig};
use crate::directory::Directory;
use crate::inbound::{self, Job, Raw};
use crate::outbound;
use crate::parse::Senders;
use crate::post::PostedCache;
use crate::queue::ChannelQueues;
use crate::store::Store;
use crate::web::{FileHosts, WebApi};
use crate::{events_api, socket, NETWORK};

/// Who the bot is in this workspace (from `auth.test`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BotIdentity {
    pub user_id: String,
    pub bot_id: String,
    pub team_id: String,
}

/// Everything the bridge's tasks share.
pub(crate) struct Inner {
    pub cfg: SlackBridgeConfig,
    pub web: WebApi,
    pub store: Store,
    pub queues: ChannelQueues,
    pub directory: Directory,
    pub posted: PostedCache,
    pub bot: BotIdentity,
    /// Whose activity is never relayed (the bot, ignored users).
    pub senders: Senders,
    pub connected: AtomicBool,
}

/// The Slack bridge: agent desks in channels, one thread per case.
pub struct SlackBridge {
    inner: Arc<Inner>,
    mode: Mode,
    events_listener: Mutex<Option<TcpListener>>,
    events_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for SlackBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackBridge")
            .field("mode", &self.mode)
            .field("bot", &self.inner.bot)
            .field("events_addr", &self.events_addr)
            .finish_non_exhaustive()
    }
}

fn install_crypto_provider() {
    // Another part of the process may have installed one already: fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl SlackBridge {
    /// Checks the bot token with `auth.test` (a wrong or revoked token is
    /// [`BridgeError::Auth`]) and, for the Events API, binds the listener.
    pub async fn connect(
        cfg: SlackBridgeConfig,
        state: Arc<dyn BridgeState>,
    ) -> Result<SlackBridge, BridgeError> {
        install_crypto_provider();
        let mode = cfg.mode()?;
        let file_hosts = FileHosts::new(&cfg.file_hosts, cfg.api_url.as_deref())?;
        let web = WebApi::new(
            &cfg.bot_token,
            cfg.api_url.as_deref(),
            cfg.retry.clone(),
            file_hosts,
        )?;
        let auth = web.get("auth.test", &[]).await?;
        let field = |k: &str| auth[k].as_str().unwrap_or_default().to_string();
        let bot = BotIdentity {
            user_id: field("user_id"),
            bot_id: field("bot_id"),
            team_id: field("team_id"),
        };
        if bot.user_id.is_empty() {
            return Err(BridgeError::Auth {
                network: NETWORK.into(),
                detail: "auth.test did not name the bot user".into(),
            });
        }
        let (events_listener, events_addr) = match &mode {
            Mode::EventsApi { listen } => {
                let listener = TcpListener::bind(listen.as_str()).await.map_err(|e| {
                    BridgeError::Rejected {
                        network: NETWORK.into(),
                        detail: format!("cannot listen on {listen}: {e}"),
                    }
                })?;
                let addr = listener.local_addr().ok();
                (Some(listener), addr)
            }
            Mode::SocketMode => (None, None),
        };
        info!(bot_user = %bot.user_id, team = %bot.team_id, ?mode, "slack bridge authenticated");
        let senders = Senders {
            own_user: bot.user_id.clone(),
            ignored: cfg.ignore_users.iter().cloned().collect(),
        };
        Ok(SlackBridge {
            inner: Arc::new(Inner {
                cfg,
                web,
                store: Store::new(state),
                queues: ChannelQueues::default(),
                directory: Directory::default(),
                posted: PostedCache::default(),
                bot,
                senders,
                connected: AtomicBool::new(false),
            }),
            mode,
            events_listener: Mutex::new(events_listener),
            events_addr,
            shutdown: watch::channel(false).0,
        })
    }

    /// Where the Events API listener is bound (Events API mode only).
    pub fn events_addr(&self) -> Option<SocketAddr> {
        self.events_addr
    }

    /// The bot's own user id.
    pub fn bot_user_id(&self) -> &str {
        &self.inner.bot.user_id
    }

    /// Asks `run` to stop (closes sockets or the HTTP listener).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

#[async_trait::async_trait]
impl Bridge for SlackBridge {
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
            private_rooms: false,
            pins: true,
            buttons: true,
            typing: false,
            customers: false,
        }
    }

    async fn run(&self, inbound: InboundSender) -> Result<(), BridgeError> {
        self.shutdown.send_replace(false);
        let (raw_tx, raw_rx) = mpsc::channel::<Job>(inbound::QUEUE);
        let worker = tokio::spawn(inbound::run_worker(
            self.inner.clone(),
            raw_rx,
            raw_tx.downgrade(),
            inbound,
        ));
        let shutdown = self.shutdown.subscribe();
        let result = match &self.mode {
            Mode::SocketMode => socket::run(self.inner.clone(), raw_tx, shutdown).await,
            Mode::EventsApi { .. } => {
                let listener = self
                    .events_listener
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let listener = match (listener, self.events_addr) {
                    (Some(l), _) => l,
                    (None, Some(addr)) => {
                        TcpListener::bind(addr)
                            .await
                            .map_err(|e| BridgeError::Unavailable {
                                network: NETWORK.into(),
                                detail: format!("cannot listen on {addr} again: {e}"),
                            })?
                    }
                    (None, None) => {
                        return Err(BridgeError::Rejected {
                            network: NETWORK.into(),
                            detail: "events API mode without a listener".into(),
                        })
                    }
                };
                let _ = raw_tx
                    .send(Job {
                        raw: Raw::CatchUp,
                        stored: None,
                    })
                    .await;
                self.inner.connected.store(true, Ordering::SeqCst);
                events_api::serve(listener, self.inner.clone(), raw_tx, shutdown).await
            }
        };
        self.inner.connected.store(false, Ordering::SeqCst);
        // The worker drains what was received and ends with the last sender.
        drop(worker);
        result
    }

    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        outbound::send(self.inner.clone(), out.clone()).await
    }

    fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::SeqCst)
    }

    fn forget(&self, key: &str) {
        if let Err(e) = self.inner.store.forget_delivery(key) {
            tracing::warn!(key, error = %e, "could not drop a delivery record; it stays");
        }
    }
}

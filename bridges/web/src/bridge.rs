//! [`WebBridge`]: the listener, the state every connection shares
//! ([`Inner`]), taking visitors' events durably before the core sees
//! them, and the [`Bridge`] implementation (outgoing actions become
//! history entries pushed to the session's open sockets).
//!
//! Invariant: a visitor's event is in `pending` (durably) before it is
//! acknowledged to the widget, and leaves `pending` only when the core
//! acknowledged it; `run` offers what is still pending on every start.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoff_bridge_api::{
    Action, Bridge, BridgeError, BridgeState, Capabilities, Choice, Delivered, Endpoint, Inbound,
    InboundKind, InboundSender, MessageRef, Outgoing, Text,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::hub::Hub;
use crate::identity::{self, IdentityError};
use crate::limits::RateLimits;
use crate::origin::Origins;
use crate::protocol::{Author, ClaimedUser, Entry, EntryKind, ServerFrame};
use crate::session::{self, SessionRecord, Visitor};
use crate::settings::WebSettings;
use crate::store::Store;
use crate::{server, NETWORK};

/// How long to wait before offering again an event the core did not store.
const REOFFER_AFTER: Duration = Duration::from_secs(2);

/// Longest display name taken from a signed identity.
const MAX_NAME: usize = 100;

/// Everything the server's tasks share.
pub(crate) struct Inner {
    pub settings: WebSettings,
    pub origins: Origins,
    pub store: Store,
    pub hub: Hub,
    pub limits: RateLimits,
    /// Serialises read-modify-write of the stored records.
    write: tokio::sync::Mutex<()>,
    inbound: Mutex<Option<InboundSender>>,
    connected: AtomicBool,
    pub shutdown: watch::Sender<bool>,
}

/// A session a connection was let into.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub token: String,
    pub sid: String,
    pub record: SessionRecord,
    pub fresh: bool,
}

/// Why a connection was not let into a session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Storage(#[from] BridgeError),
    #[error("no randomness for a session token: {0}")]
    Random(getrandom::Error),
}

/// Resolves once the bridge is told to stop (or its sender is gone). The
/// borrow of the flag ends here, so callers stay `Send`.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

fn rejected(detail: impl Into<String>) -> BridgeError {
    BridgeError::Rejected {
        network: NETWORK.into(),
        detail: detail.into(),
    }
}

fn unsupported(what: &str) -> BridgeError {
    BridgeError::Unsupported {
        network: NETWORK.into(),
        what: what.into(),
    }
}

impl Inner {
    fn limit(&self) -> usize {
        self.settings.limits.history
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.settings.session_ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Lets a `hello` into its session: the token's, if it is known,
    /// unexpired and of the same person; else a new one.
    pub async fn open(
        &self,
        token: Option<&str>,
        claimed: Option<&ClaimedUser>,
    ) -> Result<Opened, OpenError> {
        let verified = match claimed {
            Some(c) => {
                let secret = self.settings.identity_secret.as_ref().map(|s| s.expose());
                identity::verify(secret, &c.id, &c.hash)?;
                let name = c
                    .name
                    .as_deref()
                    .map(|n| n.chars().take(MAX_NAME).collect::<String>())
                    .filter(|n| !n.trim().is_empty());
                Some(Visitor {
                    id: c.id.clone(),
                    name,
                    verified: true,
                })
            }
            None => None,
        };
        let now = session::now();
        let _g = self.write.lock().await;
        if let Some(token) = token.filter(|t| session::plausible_token(t)) {
            let sid = session::session_id(token);
            if let Some(mut record) = self.store.session(&sid)? {
                let same_person = match (&record.visitor.verified, &verified) {
                    (false, _) => true,
                    (true, Some(v)) => v.id == record.visitor.id,
                    (true, None) => false,
                };
                if record.expires_at > now && same_person {
                    if let Some(v) = verified {
                        record.visitor = v;
                    }
                    record.expires_at = now.saturating_add(self.ttl_ms());
                    self.store.put_session(&sid, &record, false)?;
                    return Ok(Opened {
                        token: token.to_string(),
                        sid,
                        record,
                        fresh: false,
                    });
                }
                if record.expires_at <= now {
                    self.store.drop_session(&sid)?;
                }
            }
        }
        let token = session::new_token().map_err(OpenError::Random)?;
        let sid = session::session_id(&token);
        let record = SessionRecord {
            created: now,
            expires_at: now.saturating_add(self.ttl_ms()),
            visitor: verified.unwrap_or_else(|| Visitor::anonymous(&sid)),
            seen: Default::default(),
        };
        self.store.put_session(&sid, &record, true)?;
        info!(session = %sid, verified = record.visitor.verified, "new web session");
        Ok(Opened {
            token,
            sid,
            record,
            fresh: true,
        })
    }

    /// Takes the visitor's event `client_id` of session `sid`: durably
    /// pending, in the history (`entry`), on every tab. None when that id
    /// was taken before (a resend after a reconnect).
    pub async fn take(
        &self,
        sid: &str,
        client_id: &str,
        kind: InboundKind,
        entry: Option<EntryKind>,
    ) -> Result<Option<Inbound>, BridgeError> {
        let guard = self.write.lock().await;
        let mut record = self
            .store
            .session(sid)?
            .ok_or_else(|| rejected(format!("session {sid} is gone")))?;
        if !record.take(client_id) {
            return Ok(None);
        }
        let at = session::now();
        let event = Inbound {
            event_id: format!("{sid}/{client_id}"),
            endpoint: session::endpoint(sid),
            sender: record.visitor.user_ref(),
            at,
            kind,
            customer_endpoint: true,
            encrypted: false,
        };
        let mut shown = None;
        if let Some(kind) = entry {
            let mut history = self.store.history(sid)?;
            shown = Some(history.push(kind, at, None, self.limit()));
            self.store.put_history(sid, &history, false)?;
        }
        self.store.put_session(sid, &record, false)?;
        let mut pending = self.store.pending()?;
        pending.insert(event.event_id.clone(), event.clone());
        // The durable write: it also makes the two lazy ones above durable.
        self.store.put_pending(&pending)?;
        drop(guard);
        if let Some(e) = shown {
            self.hub.broadcast(sid, &ServerFrame::Entry(e));
        }
        Ok(Some(event))
    }

    /// Hands `event` to the core; it leaves `pending` once the core
    /// acknowledged it. An ack dropped unfired (the core's store failed)
    /// means offering it again after [`REOFFER_AFTER`] while this run
    /// lasts; without a running core the next `run` offers it.
    pub async fn offer(self: &Arc<Self>, event: Inbound) {
        let Some(sender) = self.sender() else {
            return;
        };
        let Ok(mut handled) = sender.send_tracked(event.clone()).await else {
            debug!(event = %event.event_id, "the core stopped listening; the event stays pending");
            return;
        };
        let me = self.clone();
        tokio::spawn(async move {
            let id = event.event_id.clone();
            loop {
                if handled.wait().await {
                    me.settle(&id).await;
                    return;
                }
                debug!(event = %id, "the core did not store a visitor event; offering it again");
                tokio::time::sleep(REOFFER_AFTER).await;
                let Some(sender) = me.sender() else { return };
                match sender.send_tracked(event.clone()).await {
                    Ok(h) => handled = h,
                    Err(_) => return,
                }
            }
        });
    }

    /// The core's channel while `run` runs.
    fn sender(&self) -> Option<InboundSender> {
        self.inbound
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|s| !s.is_closed())
    }

    async fn settle(&self, event_id: &str) {
        let _g = self.write.lock().await;
        let done = self.store.pending().and_then(|mut p| {
            if p.remove(event_id).is_some() {
                self.store.put_pending(&p)?;
            }
            Ok(())
        });
        if let Err(e) = done {
            warn!(event = %event_id, error = %e, "could not drop an acknowledged event; the core will see it again and skip it");
        }
    }

    /// Appends what `make(seq)` builds to `to`'s history, once per `key`.
    async fn append(
        &self,
        to: &Endpoint,
        key: &str,
        make: impl FnOnce(u64) -> EntryKind,
        target: Option<&str>,
    ) -> Result<Entry, BridgeError> {
        if to.network != NETWORK {
            return Err(rejected(format!("{to} is not a web endpoint")));
        }
        let sid = &to.room;
        let guard = self.write.lock().await;
        if self.store.session(sid)?.is_none() {
            return Err(rejected(format!(
                "no web session {sid} (expired or never made)"
            )));
        }
        let mut history = self.store.history(sid)?;
        if let Some(first) = history.by_key(key) {
            return Ok(first.clone());
        }
        if let Some(t) = target {
            if !history.has_message(t) {
                return Err(rejected(format!("no message {t} in web session {sid}")));
            }
        }
        let kind = make(history.next_seq.max(1));
        let entry = history.push(kind, session::now(), Some(key.to_string()), self.limit());
        self.store.put_history(sid, &history, true)?;
        drop(guard);
        self.hub.broadcast(sid, &ServerFrame::Entry(entry.clone()));
        Ok(entry)
    }

    /// Appends a message of the team's side to `to`'s history.
    async fn message(
        &self,
        to: &Endpoint,
        key: &str,
        from: Author,
        name: Option<String>,
        body: &Text,
        choices: Vec<Choice>,
    ) -> Result<Delivered, BridgeError> {
        let text = body.plain.clone();
        let entry = self
            .append(
                to,
                key,
                |seq| EntryKind::Message {
                    id: format!("b-{seq}"),
                    from,
                    name,
                    text,
                    choices,
                },
                None,
            )
            .await?;
        let id = match entry.kind {
            EntryKind::Message { id, .. } => id,
            _ => format!("b-{}", entry.seq),
        };
        Ok(Delivered::Message(MessageRef {
            endpoint: to.clone(),
            id,
        }))
    }

    async fn carry_out(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        match &out.action {
            Action::Send {
                to, body, as_name, ..
            } => {
                let from = if as_name.is_some() {
                    Author::Agent
                } else {
                    Author::Bot
                };
                self.message(to, &out.key, from, as_name.clone(), body, Vec::new())
                    .await
            }
            Action::Ask { to, body, choices } => {
                self.message(to, &out.key, Author::Bot, None, body, choices.clone())
                    .await
            }
            Action::Edit { target, body } => {
                let (t, text) = (target.id.clone(), body.plain.clone());
                self.append(
                    &target.endpoint,
                    &out.key,
                    |_| EntryKind::Edit { target: t, text },
                    Some(&target.id),
                )
                .await?;
                Ok(Delivered::Done)
            }
            Action::Delete { target } => {
                let t = target.id.clone();
                self.append(
                    &target.endpoint,
                    &out.key,
                    |_| EntryKind::Delete { target: t },
                    Some(&target.id),
                )
                .await?;
                Ok(Delivered::Done)
            }
            Action::Notify { to, body, mention } => {
                let text = match mention {
                    Some(m) => format!("{m} {}", body.plain),
                    None => body.plain.clone(),
                };
                self.append(to, &out.key, |_| EntryKind::Notice { text }, None)
                    .await?;
                Ok(Delivered::Done)
            }
            Action::Explain { to, body, .. } => {
                // A session has one person: whoever is named, it is them.
                let text = body.plain.clone();
                self.append(to, &out.key, |_| EntryKind::Notice { text }, None)
                    .await?;
                Ok(Delivered::Done)
            }
            // Nothing is kept per case: the visitor's session goes on.
            Action::CloseCase { .. } | Action::ReopenCase { .. } => Ok(Delivered::Done),
            Action::OpenCase { .. } | Action::UpdateSummary { .. } => Err(unsupported(
                "desks (the web widget is where customers write; open cases on matrix or slack)",
            )),
            Action::React { .. } => Err(unsupported("reactions from the team")),
            Action::Upload { .. } => Err(unsupported("uploads")),
        }
    }
}

/// `public_url` with port 0 (as [`WebSettings::new`] makes it for a
/// listen address on port 0) replaced by the port actually bound.
fn with_bound_port(public_url: &str, port: u16) -> String {
    match url::Url::parse(public_url) {
        Ok(mut u) if u.port() == Some(0) => {
            let _ = u.set_port(Some(port));
            u.as_str().trim_end_matches('/').to_string()
        }
        _ => public_url.to_string(),
    }
}

/// The web chat widget as a network: visitors of a website, one session
/// per browser, over a WebSocket served by this bridge.
pub struct WebBridge {
    inner: Arc<Inner>,
    listener: Mutex<Option<TcpListener>>,
    addr: SocketAddr,
}

impl std::fmt::Debug for WebBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebBridge")
            .field("addr", &self.addr)
            .field("public_url", &self.inner.settings.public_url)
            .finish_non_exhaustive()
    }
}

impl WebBridge {
    /// Binds the listen address (a busy or bad address is
    /// [`BridgeError::Rejected`]); serving starts with `run`.
    pub async fn connect(
        settings: WebSettings,
        state: Arc<dyn BridgeState>,
    ) -> Result<WebBridge, BridgeError> {
        let listener = TcpListener::bind(settings.listen.as_str())
            .await
            .map_err(|e| rejected(format!("cannot listen on {}: {e}", settings.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| rejected(format!("no local address: {e}")))?;
        let mut settings = settings;
        settings.public_url = with_bound_port(&settings.public_url, addr.port());
        info!(%addr, public_url = %settings.public_url, "web widget listening");
        let origins = Origins::new(&settings.allowed_origins, &settings.public_url);
        let limits = RateLimits::new(
            settings.limits.session_per_minute,
            settings.limits.ip_per_minute,
        );
        Ok(WebBridge {
            inner: Arc::new(Inner {
                settings,
                origins,
                store: Store::new(state),
                hub: Hub::default(),
                limits,
                write: tokio::sync::Mutex::new(()),
                inbound: Mutex::new(None),
                connected: AtomicBool::new(false),
                shutdown: watch::channel(false).0,
            }),
            listener: Mutex::new(Some(listener)),
            addr,
        })
    }

    /// Where the server is bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asks `run` to stop and closes every open socket.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

impl Drop for WebBridge {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[async_trait::async_trait]
impl Bridge for WebBridge {
    fn network(&self) -> &str {
        NETWORK
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edit: true,
            delete: true,
            react: false,
            upload: false,
            threads: false,
            private_rooms: false,
            pins: false,
            buttons: true,
            typing: true,
            customers: true,
        }
    }

    async fn run(&self, inbound: InboundSender) -> Result<(), BridgeError> {
        let span = info_span!("web", addr = %self.addr);
        async {
            self.inner.shutdown.send_replace(false);
            let listener = self
                .listener
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let listener =
                match listener {
                    Some(l) => l,
                    None => TcpListener::bind(self.addr).await.map_err(|e| {
                        BridgeError::Unavailable {
                            network: NETWORK.into(),
                            detail: format!("cannot listen on {} again: {e}", self.addr),
                        }
                    })?,
                };
            *self.inner.inbound.lock().unwrap_or_else(|e| e.into_inner()) = Some(inbound.clone());
            let pending = self.inner.store.pending()?;
            if !pending.is_empty() {
                info!(
                    events = pending.len(),
                    "offering visitor events the core has not stored"
                );
            }
            for event in pending.into_values() {
                self.inner.offer(event).await;
            }
            self.inner.connected.store(true, Ordering::SeqCst);
            let pruner = tokio::spawn({
                let inner = self.inner.clone();
                async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(60));
                    loop {
                        tick.tick().await;
                        inner.limits.prune();
                    }
                }
            });
            let mut stop = self.inner.shutdown.subscribe();
            let result = axum::serve(
                listener,
                server::router(self.inner.clone())
                    .into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = stopped(&mut stop) => {}
                    _ = inbound.closed() => {}
                }
            })
            .await;
            pruner.abort();
            self.inner.connected.store(false, Ordering::SeqCst);
            *self.inner.inbound.lock().unwrap_or_else(|e| e.into_inner()) = None;
            // Sockets close with the server.
            self.inner.shutdown.send_replace(true);
            result.map_err(|e| BridgeError::Unavailable {
                network: NETWORK.into(),
                detail: format!("the widget server stopped: {e}"),
            })
        }
        .instrument(span)
        .await
    }

    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        if let Some(d) = self.inner.store.delivery(&out.key)? {
            return Ok(d);
        }
        let delivered = self
            .inner
            .carry_out(out)
            .instrument(info_span!("web_send", key = %out.key))
            .await?;
        self.inner.store.put_delivery(&out.key, &delivered)?;
        Ok(delivered)
    }

    async fn typing(&self, to: &Endpoint, on: bool) -> Result<(), BridgeError> {
        if to.network != NETWORK {
            return Err(rejected(format!("{to} is not a web endpoint")));
        }
        self.inner
            .hub
            .broadcast(&to.room, &ServerFrame::Typing { on });
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::SeqCst)
    }

    fn forget(&self, key: &str) {
        if let Err(e) = self.inner.store.forget_delivery(key) {
            warn!(key, error = %e, "could not drop a delivery record; it stays");
        }
    }
}

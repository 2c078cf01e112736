//! Socket Mode through slack-morphism's listener: it opens the sockets
//! with the app token, reconnects after drops, and acknowledges each
//! envelope after our callback returns `Ok`. Our callbacks hand the
//! payload to the inbound worker and return only once the core stored
//! what it carries; if it did not (in [`STORE_WAIT`]), the callback fails
//! with [`NotStored`] and the envelope is left unacknowledged, so Slack
//! delivers it again. Each `hello` (first connect and every reconnect)
//! also enqueues a catch-up.
//!
//! Not for translating payloads (`translate`). The invariant: an envelope
//! is acknowledged only after the core's commit; frames the listener
//! cannot parse are logged (they are acknowledged by slack-morphism and
//! would otherwise vanish silently).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::BridgeError;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::bridge::Inner;
use crate::inbound::{self, Job, Raw};
use crate::web::Connector;
use crate::NETWORK;

/// How long a callback waits for the core's commit before it leaves the
/// envelope unacknowledged (Slack then redelivers it; the core dedupes).
/// Well below slack-morphism's pong deadline, since the socket's reader
/// waits for the callback.
const STORE_WAIT: Duration = Duration::from_secs(10);

/// What the callbacks reach through slack-morphism's user state.
struct Relay {
    inner: Arc<Inner>,
    raw: mpsc::Sender<Job>,
}

/// The core did not store an envelope's payload: do not acknowledge it.
#[derive(Debug, thiserror::Error)]
#[error("the core did not store this Slack envelope (yet); left unacknowledged")]
struct NotStored;

/// Hands `raw` over and waits for the core's commit.
async fn relay(state: &SlackClientEventsUserState, raw: Raw) -> UserCallbackResult<()> {
    let queue = {
        let guard = state.read().await;
        match guard.get_user_state::<Relay>() {
            Some(r) => r.raw.clone(),
            None => return Err(Box::new(NotStored)),
        }
    };
    let waited = tokio::time::timeout(STORE_WAIT, async {
        let stored = inbound::submit(&queue, raw).await.ok()?;
        stored.await.ok()
    })
    .await;
    match waited {
        Ok(Some(true)) => Ok(()),
        _ => {
            debug!("socket mode payload not stored in time; Slack redelivers it");
            Err(Box::new(NotStored))
        }
    }
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    match serde_json::to_value(&event) {
        Ok(v) => relay(&state, Raw::Event(v)).await,
        Err(e) => {
            warn!(error = %e, event_id = %event.event_id, "push event could not be re-encoded");
            Ok(())
        }
    }
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    match serde_json::to_value(&event) {
        Ok(v) => relay(&state, Raw::Interaction(v)).await,
        Err(e) => {
            warn!(error = %e, "interaction could not be re-encoded");
            Ok(())
        }
    }
}

/// Marks the bridge connected and asks for a catch-up. (A closure, since
/// slack-morphism does not export the hello event's type by name.)
async fn hello(state: SlackClientEventsUserState) {
    let queue = {
        let guard = state.read().await;
        let Some(r) = guard.get_user_state::<Relay>() else {
            return;
        };
        r.inner.connected.store(true, Ordering::SeqCst);
        r.raw.clone()
    };
    debug!("socket mode hello; catching up");
    let job = Job {
        raw: Raw::CatchUp,
        stored: None,
    };
    if queue.send(job).await.is_err() {
        debug!("inbound worker gone; catch-up not requested");
    }
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> HttpStatusCode {
    if err.downcast_ref::<NotStored>().is_some() {
        // A non-success status makes slack-morphism send no ack.
        return HttpStatusCode::SERVICE_UNAVAILABLE;
    }
    if let Some(SlackClientError::SocketModeProtocolError(e)) =
        err.downcast_ref::<SlackClientError>()
    {
        // A socket broke: not ready until a socket says hello again.
        if let Ok(guard) = state.try_read() {
            if let Some(r) = guard.get_user_state::<Relay>() {
                r.inner.connected.store(false, Ordering::SeqCst);
            }
        }
        warn!(error = %e, "socket mode connection lost; reconnecting");
        return HttpStatusCode::OK;
    }
    warn!(error = %err, "socket mode frame could not be handled (acknowledged and dropped)");
    HttpStatusCode::OK
}

/// Slack's answers that mean the app token itself is no good.
const AUTH_CODES: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_allowed_token_type",
];

fn socket_error(e: SlackClientError) -> BridgeError {
    match e {
        SlackClientError::ApiError(api) if AUTH_CODES.contains(&api.code.as_str()) => {
            BridgeError::Auth {
                network: NETWORK.into(),
                detail: format!("apps.connections.open (app token): {}", api.code),
            }
        }
        other => BridgeError::Unavailable {
            network: NETWORK.into(),
            detail: format!("socket mode: {other}"),
        },
    }
}

/// Listens until `shutdown` turns true.
pub(crate) async fn run(
    inner: Arc<Inner>,
    raw: mpsc::Sender<Job>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), BridgeError> {
    let app_token = inner.cfg.app_token.clone().unwrap_or_default();
    let client = Arc::new(SlackClient::new(
        SlackClientHyperConnector::with_connector(crate::web::https_connector()?)
            .with_slack_api_url(
                inner
                    .cfg
                    .api_url
                    .as_deref()
                    .unwrap_or(SlackClientHttpApiUri::SLACK_API_URI_STR)
                    .trim_end_matches('/'),
            ),
    ));
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(Relay {
                inner: inner.clone(),
                raw,
            }),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_interaction_events(on_interaction)
        .with_hello_events(|_event, _client, state| hello(state));
    let reconnect = inner.cfg.reconnect_delay.as_secs().max(1);
    let config = SlackClientSocketModeConfig::new()
        .with_initial_backoff_in_seconds(1)
        .with_reconnect_timeout_in_seconds(reconnect);
    let token = SlackApiToken::new(app_token.into());
    // The listener retries failed connections forever; check the app token
    // once first so a wrong or revoked one is a clear error, not a loop.
    environment
        .client
        .open_session(&token)
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await
        .map_err(socket_error)?;
    let probe_client = environment.client.clone();
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener.listen_for(&token).await.map_err(socket_error)?;
    listener.start().await;
    info!("slack socket mode listening");
    // slack-morphism reconnects forever, even with a revoked app token.
    // While no socket is up, check the token now and then ourselves, so a
    // revoked one stops `run` (and the daemon) with a clear error.
    let mut probe = tokio::time::interval(Duration::from_secs(reconnect.max(1) * 3));
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    probe.tick().await;
    let result = loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break Ok(());
                }
            }
            _ = probe.tick() => {
                if inner.connected.load(Ordering::SeqCst) {
                    continue;
                }
                let check = probe_client
                    .open_session(&token)
                    .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
                    .await;
                match check.map_err(socket_error) {
                    Err(e @ BridgeError::Auth { .. }) => {
                        error!(error = %e, "the Slack app token no longer works; stopping");
                        break Err(e);
                    }
                    Err(e) => debug!(error = %e, "socket mode still disconnected"),
                    Ok(_) => debug!("socket mode disconnected; the app token is still valid"),
                }
            }
        }
    };
    listener.shutdown().await;
    inner.connected.store(false, Ordering::SeqCst);
    result
}

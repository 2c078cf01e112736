//! Socket Mode through slack-morphism's listener: it opens the sockets
//! with the app token, reconnects after drops, and acknowledges each
//! envelope after our callback returns. Our callbacks only enqueue the
//! payload for the inbound worker; each `hello` (first connect and every
//! reconnect) also enqueues a catch-up.
//!
//! Not for translating payloads (`translate`). The invariant: callbacks do
//! no network I/O; frames the listener cannot parse are logged (they are
//! acknowledged by slack-morphism and would otherwise vanish silently).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use handoff_bridge_api::BridgeError;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::bridge::Inner;
use crate::inbound::Raw;
use crate::web::Connector;
use crate::NETWORK;

/// What the callbacks reach through slack-morphism's user state.
struct Relay {
    inner: Arc<Inner>,
    raw: mpsc::UnboundedSender<Raw>,
}

async fn relay(state: &SlackClientEventsUserState, raw: Raw) {
    let guard = state.read().await;
    if let Some(r) = guard.get_user_state::<Relay>() {
        if r.raw.send(raw).is_err() {
            debug!("inbound worker gone; socket mode payload dropped");
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
            warn!(error = %e, event_id = %event.event_id, "push event could not be re-encoded")
        }
    }
    Ok(())
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    match serde_json::to_value(&event) {
        Ok(v) => relay(&state, Raw::Interaction(v)).await,
        Err(e) => warn!(error = %e, "interaction could not be re-encoded"),
    }
    Ok(())
}

/// Marks the bridge connected and asks for a catch-up. (A closure, since
/// slack-morphism does not export the hello event's type by name.)
async fn hello(state: SlackClientEventsUserState) {
    {
        let guard = state.read().await;
        if let Some(r) = guard.get_user_state::<Relay>() {
            r.inner.connected.store(true, Ordering::SeqCst);
        }
    }
    debug!("socket mode hello; catching up");
    relay(&state, Raw::CatchUp).await;
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<Connector>>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    warn!(error = %err, "socket mode frame could not be handled (acknowledged and dropped)");
    HttpStatusCode::OK
}

fn socket_error(e: slack_morphism::errors::SlackClientError) -> BridgeError {
    match e {
        slack_morphism::errors::SlackClientError::ApiError(api) => BridgeError::Auth {
            network: NETWORK.into(),
            detail: format!("apps.connections.open (app token): {}", api.code),
        },
        other => BridgeError::Unavailable {
            network: NETWORK.into(),
            detail: format!("socket mode: {other}"),
        },
    }
}

/// Listens until `shutdown` turns true.
pub(crate) async fn run(
    inner: Arc<Inner>,
    raw: mpsc::UnboundedSender<Raw>,
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
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener.listen_for(&token).await.map_err(socket_error)?;
    listener.start().await;
    info!("slack socket mode listening");
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    listener.shutdown().await;
    inner.connected.store(false, Ordering::SeqCst);
    Ok(())
}

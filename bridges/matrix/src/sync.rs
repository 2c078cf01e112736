//! The sync loop behind `Bridge::run`: long-poll `/sync`, accept invites,
//! convert each joined room's timeline in order, hand events to the core.
//!
//! Not for converting single events (`inbound`) or sending (`outgoing`).
//! Invariant: our own sync token (in `BridgeState`) only advances after
//! every event of a batch was handed over, and the next sync starts from
//! it, so a crash mid-batch re-delivers (the core dedupes by event id)
//! instead of dropping events, even though matrix-sdk saves its own token
//! before we see the batch. Undecryptable events are retried for a few
//! syncs while their room keys may still arrive.

use std::sync::atomic::Ordering;
use std::time::Duration;

use handoff_bridge_api::{BridgeError, Inbound, InboundSender};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId};
use matrix_sdk::sync::SyncResponse;

use crate::error::from_sdk;
use crate::retry::with_retry;
use crate::{inbound, rooms, Shared};

/// How long one `/sync` long poll may wait.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Syncs during which an undecryptable event is retried.
const UTD_RETRIES: u32 = 10;

/// An event we could not decrypt yet.
struct Pending {
    room: OwnedRoomId,
    id: Option<OwnedEventId>,
    raw: Raw<AnySyncTimelineEvent>,
    tries: u32,
}

/// On a fresh device (no sync token recorded), syncs once so rooms are
/// known and keys uploaded; that first batch is history and is not
/// forwarded.
pub async fn prime(shared: &Shared) -> Result<(), BridgeError> {
    if shared.ledger.sync_token()?.is_some() {
        return Ok(());
    }
    let response = with_retry(&shared.cfg.connect_retry, "the first sync", || async {
        shared
            .client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .map_err(|e| from_sdk("the first sync", &e))
    })
    .await?;
    for room_id in response.rooms.invited.keys() {
        rooms::handle_invite(shared, room_id).await;
    }
    shared.ledger.set_sync_token(&response.next_batch)
}

/// Syncs and forwards until `inbound` is closed (then `Ok`) or the access
/// token is rejected (then `Err(Auth)`). Passing failures are retried
/// forever with capped backoff while `is_connected` reports false.
pub async fn run(shared: &Shared, inbound: InboundSender) -> Result<(), BridgeError> {
    let mut failures: u32 = 0;
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        let mut settings = SyncSettings::default().timeout(LONG_POLL);
        if let Some(token) = shared.ledger.sync_token()? {
            settings = settings.token(token);
        }
        let result = tokio::select! {
            r = shared.client.sync_once(settings) => r,
            () = inbound.closed() => return Ok(()),
        };
        match result {
            Ok(response) => {
                shared.connected.store(true, Ordering::Relaxed);
                failures = 0;
                let next = response.next_batch.clone();
                match forward(shared, &inbound, response, &mut pending).await {
                    Ok(true) => shared.ledger.set_sync_token(&next)?,
                    Ok(false) => return Ok(()),
                    Err(e) if e.is_retryable() => {
                        // The token stays put: the batch comes again.
                        let delay = shared.cfg.connect_retry.delay(0);
                        tracing::warn!(error = %e, ?delay, "could not forward a batch; syncing it again");
                        tokio::time::sleep(delay).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => {
                let err = from_sdk("syncing", &e);
                shared.connected.store(false, Ordering::Relaxed);
                if matches!(err, BridgeError::Auth { .. }) {
                    return Err(err);
                }
                let delay = shared.cfg.connect_retry.delay(failures);
                tracing::warn!(error = %err, ?delay, "sync failed; retrying");
                failures = failures.saturating_add(1);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = inbound.closed() => return Ok(()),
                }
            }
        }
    }
}

/// Handles one sync batch; `Ok(false)` when the core stopped listening.
async fn forward(
    shared: &Shared,
    inbound: &InboundSender,
    response: SyncResponse,
    pending: &mut Vec<Pending>,
) -> Result<bool, BridgeError> {
    for room_id in response.rooms.invited.keys() {
        rooms::handle_invite(shared, room_id).await;
    }
    if !retry_pending(shared, inbound, pending).await? {
        return Ok(false);
    }
    for (room_id, update) in response.rooms.joined {
        for event in update.timeline.events {
            if event.kind.is_utd() {
                tracing::debug!(room = %room_id, event = ?event.event_id(), "cannot decrypt yet");
                let id = event.event_id();
                if !pending.iter().any(|p| p.id == id) {
                    pending.push(Pending {
                        room: room_id.clone(),
                        id,
                        raw: event.into_raw(),
                        tries: 0,
                    });
                }
                continue;
            }
            if !deliver(shared, inbound, &room_id, &event).await? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

async fn deliver(
    shared: &Shared,
    inbound: &InboundSender,
    room_id: &OwnedRoomId,
    event: &TimelineEvent,
) -> Result<bool, BridgeError> {
    let Some(room) = shared.client.get_room(room_id) else {
        return Ok(true);
    };
    match inbound::convert(shared, &room, event.raw()).await {
        Ok(Some(item)) => Ok(send(inbound, item).await),
        Ok(None) => Ok(true),
        // A failed download or state read must not stop the loop forever;
        // the event is logged so an operator can see what was lost.
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            tracing::error!(room = %room_id, event = ?event.event_id(), error = %e,
                "could not convert an event; skipping it");
            Ok(true)
        }
    }
}

async fn send(inbound: &InboundSender, item: Inbound) -> bool {
    inbound.send(item).await.is_ok()
}

/// Tries to decrypt earlier undecryptable events again.
async fn retry_pending(
    shared: &Shared,
    inbound: &InboundSender,
    pending: &mut Vec<Pending>,
) -> Result<bool, BridgeError> {
    let mut still = Vec::new();
    for mut item in std::mem::take(pending) {
        let Some(room) = shared.client.get_room(&item.room) else {
            continue;
        };
        match room
            .decrypt_event(item.raw.cast_ref_unchecked(), None)
            .await
        {
            Ok(event) if !event.kind.is_utd() => {
                if !deliver(shared, inbound, &item.room, &event).await? {
                    return Ok(false);
                }
            }
            _ => {
                item.tries += 1;
                if item.tries < UTD_RETRIES {
                    still.push(item);
                } else {
                    tracing::warn!(room = %item.room,
                        event = ?item.id,
                        "giving up on an event we could not decrypt");
                }
            }
        }
    }
    *pending = still;
    Ok(true)
}

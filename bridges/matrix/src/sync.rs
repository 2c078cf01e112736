//! The sync loop behind `Bridge::run`: long-poll `/sync`, accept invites,
//! convert each joined room's timeline in order, hand events to the core.
//!
//! Not for converting single events (`inbound`) or sending (`outgoing`).
//! Invariant: our own sync token (in `BridgeState`) only advances after
//! the core acknowledged every event of a batch as handled (stored), and
//! the next sync starts from it, so a crash at any point re-delivers (the
//! core dedupes by event id) instead of dropping events, even though
//! matrix-sdk saves its own token before we see the batch. A room whose
//! timeline came back "limited" (more new events than one sync carries,
//! e.g. after downtime) has its gap read with `/messages` from our token,
//! oldest first, before the batch's own events. Undecryptable events are
//! retried for a few syncs while their room keys may still arrive.

use std::sync::atomic::Ordering;
use std::time::Duration;

use handoff_bridge_api::{BridgeError, Handled, Inbound, InboundSender};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId};
use matrix_sdk::sync::SyncResponse;

use crate::batch::{self, Batch};
use crate::error::from_sdk;
use crate::retry::with_retry;
use crate::{inbound, rooms, Shared};

/// How long one `/sync` long poll may wait.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Syncs during which an undecryptable event is retried.
const UTD_RETRIES: u32 = 10;
/// Events per `/messages` page when filling a gap.
const GAP_PAGE: u32 = 50;
/// Pages read per room and gap at most (a bound against a server that
/// never ends the pagination).
const GAP_PAGES: usize = 1000;

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
    shared.ledger.set_first_sync_token(&response.next_batch)
}

/// Syncs and forwards until `inbound` is closed (then `Ok`) or the access
/// token is rejected (then `Err(Auth)`). Passing failures are retried
/// forever with capped backoff while `is_connected` reports false.
pub async fn run(shared: &Shared, inbound: InboundSender) -> Result<(), BridgeError> {
    let mut failures: u32 = 0;
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        let mut settings = SyncSettings::default().timeout(LONG_POLL);
        if let Some(filter) = batch::filter(shared) {
            settings = settings.filter(Filter::FilterDefinition(filter));
        }
        let since = shared.ledger.sync_token()?;
        if let Some(token) = &since {
            settings = settings.token(token.clone());
        }
        let result = tokio::select! {
            r = shared.client.sync_once(settings) => r,
            () = inbound.closed() => return Ok(()),
        };
        let response = match result {
            Ok(response) => response,
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
                continue;
            }
        };
        shared.connected.store(true, Ordering::Relaxed);
        failures = 0;
        let Some(batch) = batch_of(shared, response, since.as_deref()).await else {
            continue;
        };
        tracing::debug!(
            rooms = batch.rooms.len(),
            invited = batch.invited.len(),
            "synced"
        );
        let mut attempt = 0;
        loop {
            match forward(shared, &inbound, &batch, since.as_deref(), &mut pending).await {
                Ok(true) => break shared.ledger.set_sync_token(&batch.next_batch)?,
                Ok(false) => return Ok(()),
                Err(e) if e.is_retryable() => {
                    // The token stays put; the same batch is offered again
                    // (the core dedupes what it already stored).
                    let delay = shared.cfg.connect_retry.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(error = %e, ?delay, "could not forward a batch; offering it again");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = inbound.closed() => return Ok(()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The batch to forward for `response`; `None` to sync again. When
/// matrix-sdk returned nothing at all although the stream moved past our
/// token, it may have dropped a response it had processed before (our
/// token is behind its own after a crash): the batch is then read raw.
async fn batch_of(shared: &Shared, response: SyncResponse, since: Option<&str>) -> Option<Batch> {
    let nothing = response.rooms.is_empty()
        && response.to_device.is_empty()
        && response.account_data.is_empty()
        && response.presence.is_empty();
    let moved = since.is_some_and(|s| s != response.next_batch);
    let sdk = Batch::from_sdk(response);
    let (true, true, Some(since)) = (nothing, moved, since) else {
        return Some(sdk);
    };
    match batch::read_raw(shared, since).await {
        Ok(mut raw) => {
            if !raw.is_empty() {
                tracing::info!(
                    rooms = raw.rooms.len(),
                    "re-read a sync batch matrix-sdk had already processed"
                );
            }
            // Our token goes where matrix-sdk's is, never past it: what
            // the raw read saw beyond comes again with the next sync.
            raw.next_batch = sdk.next_batch;
            Some(raw)
        }
        Err(e) => {
            let delay = shared.cfg.connect_retry.delay(0);
            tracing::warn!(error = %e, ?delay, "could not re-read a sync batch; syncing again");
            tokio::time::sleep(delay).await;
            None
        }
    }
}

/// Handles one sync batch and waits until the core handled every event
/// of it; `Ok(false)` when the core stopped listening. An event the core
/// did not handle (its store failed) fails the batch as retryable.
async fn forward(
    shared: &Shared,
    inbound: &InboundSender,
    batch: &Batch,
    since: Option<&str>,
    pending: &mut Vec<Pending>,
) -> Result<bool, BridgeError> {
    let mut acks = Vec::new();
    for room_id in &batch.invited {
        rooms::handle_invite(shared, room_id).await;
    }
    if !retry_pending(shared, inbound, pending, &mut acks).await? {
        return Ok(false);
    }
    for update in &batch.rooms {
        let room_id = &update.room;
        // A room we just joined starts "limited" too; what came before the
        // join is history, not a gap.
        if update.limited && !joined_now(shared, &update.events) {
            if let (Some(since), Some(prev)) = (since, update.prev_batch.as_deref()) {
                if !fill_gap(shared, inbound, room_id, since, prev, pending, &mut acks).await? {
                    return Ok(false);
                }
            }
        }
        for event in &update.events {
            if !offer(shared, inbound, room_id, event.clone(), pending, &mut acks).await? {
                return Ok(false);
            }
        }
        if let Some(users) = &update.typing {
            if !crate::typing::forward(shared, inbound, room_id, users).await {
                return Ok(false);
            }
        }
    }
    let total = acks.len();
    for handled in acks {
        if !handled.wait().await {
            if inbound.is_closed() {
                return Ok(false);
            }
            return Err(BridgeError::Unavailable {
                network: crate::NETWORK.into(),
                detail: format!("the core did not store an event of this batch ({total} events); it is offered again"),
            });
        }
    }
    Ok(true)
}

/// Whether `events` hold our own join (the room is new to us).
fn joined_now(shared: &Shared, events: &[TimelineEvent]) -> bool {
    let Some(me) = shared.client.user_id() else {
        return false;
    };
    events.iter().any(|e| {
        let raw = e.raw();
        raw.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.member")
            && raw
                .get_field::<String>("state_key")
                .ok()
                .flatten()
                .as_deref()
                == Some(me.as_str())
            && raw
                .get_field::<serde_json::Value>("content")
                .ok()
                .flatten()
                .is_some_and(|c| c["membership"] == "join")
    })
}

/// Reads the events a limited timeline left out (between our token and the
/// timeline's `prev_batch`) with `/messages`, oldest first, and offers them.
async fn fill_gap(
    shared: &Shared,
    inbound: &InboundSender,
    room_id: &OwnedRoomId,
    since: &str,
    prev_batch: &str,
    pending: &mut Vec<Pending>,
    acks: &mut Vec<Handled>,
) -> Result<bool, BridgeError> {
    let Some(room) = shared.client.get_room(room_id) else {
        return Ok(true);
    };
    let mut from = since.to_owned();
    let mut filled = 0usize;
    for _ in 0..GAP_PAGES {
        let page = with_retry(&shared.cfg.connect_retry, "reading a sync gap", || {
            let mut opts = MessagesOptions::forward().from(from.as_str());
            opts.to = Some(prev_batch.to_owned());
            opts.limit = GAP_PAGE.into();
            let room = room.clone();
            async move {
                room.messages(opts)
                    .await
                    .map_err(|e| from_sdk("reading a sync gap", &e))
            }
        })
        .await?;
        let done =
            page.chunk.is_empty() || page.end.is_none() || page.end.as_deref() == Some(&from);
        for event in page.chunk {
            filled += 1;
            if !offer(shared, inbound, room_id, event, pending, acks).await? {
                return Ok(false);
            }
        }
        match page.end {
            Some(end) if !done => from = end,
            _ => break,
        }
    }
    tracing::info!(room = %room_id, events = filled, "read the gap of a limited sync timeline");
    Ok(true)
}

/// Offers one timeline event: converted and handed over, or parked until
/// it can be decrypted. `Ok(false)` when the core stopped listening.
async fn offer(
    shared: &Shared,
    inbound: &InboundSender,
    room_id: &OwnedRoomId,
    event: TimelineEvent,
    pending: &mut Vec<Pending>,
    acks: &mut Vec<Handled>,
) -> Result<bool, BridgeError> {
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
        return Ok(true);
    }
    deliver(shared, inbound, room_id, &event, acks).await
}

async fn deliver(
    shared: &Shared,
    inbound: &InboundSender,
    room_id: &OwnedRoomId,
    event: &TimelineEvent,
    acks: &mut Vec<Handled>,
) -> Result<bool, BridgeError> {
    let Some(room) = shared.client.get_room(room_id) else {
        return Ok(true);
    };
    match inbound::convert(shared, &room, event.raw()).await {
        Ok(Some(item)) => Ok(send(inbound, item, acks).await),
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

async fn send(inbound: &InboundSender, item: Inbound, acks: &mut Vec<Handled>) -> bool {
    tracing::debug!(event = %item.event_id, "offering an event to the core");
    match inbound.send_tracked(item).await {
        Ok(handled) => {
            acks.push(handled);
            true
        }
        Err(_) => false,
    }
}

/// Tries to decrypt earlier undecryptable events again.
async fn retry_pending(
    shared: &Shared,
    inbound: &InboundSender,
    pending: &mut Vec<Pending>,
    acks: &mut Vec<Handled>,
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
                if !deliver(shared, inbound, &item.room, &event, acks).await? {
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

//! One sync batch as the sync loop forwards it: the rooms we were invited
//! to and, per joined room, its timeline (limited or not, `prev_batch`, the
//! events in order).
//!
//! Usually taken from matrix-sdk's processed response. matrix-sdk drops a
//! response whose `next_batch` it already processed ("Got the same sync
//! response twice"), which happens when our token is behind its own: after
//! a crash between matrix-sdk storing its token and the core storing the
//! events. Then the batch is read again raw from the homeserver (the events
//! matrix-sdk has seen, decrypted with the keys it already has), so those
//! events are offered again instead of lost.

use std::time::Duration;

use handoff_bridge_api::BridgeError;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::{Filter, Request};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::sync::SyncResponse;

use crate::error::from_http;
use crate::Shared;

/// One joined room's part of a batch.
pub struct RoomBatch {
    pub room: OwnedRoomId,
    /// The server left events out (see `prev_batch`).
    pub limited: bool,
    pub prev_batch: Option<String>,
    pub events: Vec<TimelineEvent>,
    /// Who is typing there now, when the batch says.
    pub typing: Option<Vec<OwnedUserId>>,
}

/// What one `/sync` brought.
pub struct Batch {
    pub next_batch: String,
    pub invited: Vec<OwnedRoomId>,
    pub rooms: Vec<RoomBatch>,
}

impl Batch {
    /// The batch matrix-sdk processed.
    pub fn from_sdk(response: SyncResponse) -> Batch {
        Batch {
            next_batch: response.next_batch,
            invited: response.rooms.invited.into_keys().collect(),
            rooms: response
                .rooms
                .joined
                .into_iter()
                .map(|(room, update)| RoomBatch {
                    room,
                    limited: update.timeline.limited,
                    prev_batch: update.timeline.prev_batch,
                    events: update.timeline.events,
                    typing: crate::typing::typing_list(&update.ephemeral),
                })
                .collect(),
        }
    }

    /// Nothing for us in it (to-device messages, presence and the like
    /// are matrix-sdk's business).
    pub fn is_empty(&self) -> bool {
        self.invited.is_empty() && self.rooms.iter().all(|r| r.events.is_empty())
    }
}

/// The filter our syncs use.
pub fn filter(shared: &Shared) -> Option<FilterDefinition> {
    shared.cfg.sync_timeline_limit.map(|limit| {
        let mut filter = FilterDefinition::default();
        filter.room.timeline.limit = Some(limit.into());
        filter
    })
}

/// Reads the batch since `since` straight from the homeserver, without
/// matrix-sdk's processing; encrypted events are decrypted with the keys
/// matrix-sdk holds (undecryptable ones stay encrypted, for the caller's
/// retry). matrix-sdk's own state does not move.
pub async fn read_raw(shared: &Shared, since: &str) -> Result<Batch, BridgeError> {
    let mut request = Request::new();
    request.since = Some(since.to_owned());
    request.filter = filter(shared).map(Filter::FilterDefinition);
    request.timeout = Some(Duration::ZERO);
    let response = shared
        .client
        .send(request)
        .await
        .map_err(|e| from_http("re-reading a sync batch", &e))?;
    let mut rooms = Vec::with_capacity(response.rooms.join.len());
    for (room_id, joined) in response.rooms.join {
        let mut events = Vec::with_capacity(joined.timeline.events.len());
        for raw in joined.timeline.events {
            events.push(decrypted(shared, &room_id, raw).await);
        }
        rooms.push(RoomBatch {
            room: room_id,
            limited: joined.timeline.limited,
            prev_batch: joined.timeline.prev_batch,
            events,
            typing: crate::typing::typing_list(&joined.ephemeral.events),
        });
    }
    Ok(Batch {
        next_batch: response.next_batch,
        invited: response.rooms.invite.into_keys().collect(),
        rooms,
    })
}

async fn decrypted(
    shared: &Shared,
    room_id: &OwnedRoomId,
    raw: matrix_sdk::ruma::serde::Raw<matrix_sdk::ruma::events::AnySyncTimelineEvent>,
) -> TimelineEvent {
    let encrypted =
        raw.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.encrypted");
    if encrypted {
        if let Some(room) = shared.client.get_room(room_id) {
            if let Ok(event) = room.decrypt_event(raw.cast_ref_unchecked(), None).await {
                return event;
            }
        }
        return TimelineEvent::from_utd(
            raw,
            matrix_sdk::deserialized_responses::UnableToDecryptInfo {
                session_id: None,
                reason: matrix_sdk::deserialized_responses::UnableToDecryptReason::Unknown,
            },
        );
    }
    TimelineEvent::from_plaintext(raw)
}

//! Opening a case on a Matrix desk and keeping its summary current: one
//! private room per case (one `create_room` call with the invite list), or
//! a thread in a staff room; the summary posted first and pinned, later
//! edited in place.
//!
//! Not for relaying messages (`outgoing`). Invariant: a case key maps to at
//! most one room, even across a crash between creating the room and
//! recording it: the room carries an alias derived from the key and the
//! bot's secret, the server refuses a second room with that alias, and a
//! retry finds the first one through it. A room found through the alias
//! is used only if the bot created it and is in it; anything else (someone
//! took the alias first) is left alone and a new room without an alias is
//! created, so nobody can receive a case by preparing a room.

use std::str::FromStr;

use handoff_bridge_api::{BridgeError, CaseSummary, Delivered, DeskTarget, Endpoint, MessageRef};
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::{ReplacementMetadata, RoomMessageEventContent};
use matrix_sdk::ruma::events::room::pinned_events::RoomPinnedEventsEventContent;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomAliasId, OwnedRoomId, OwnedUserId};
use matrix_sdk::{Room, RoomState};

use crate::error::{from_http, from_sdk, rejected};
use crate::ledger::case_alias_localpart;
use crate::outgoing::{event_id, send};
use crate::{rooms, Shared, NETWORK};

/// Pins kept in a shared desk room; older summaries drop off the list.
const MAX_PINS: usize = 20;

/// Opens the case of `key` on `desk` and posts and pins `summary`.
pub async fn open(
    shared: &Shared,
    key: &str,
    desk: &DeskTarget,
    summary: &CaseSummary,
) -> Result<Delivered, BridgeError> {
    let _guard = shared.case_lock.lock().await;
    // A concurrent call with the same key may have finished meanwhile.
    if let Some(done) = shared.ledger.delivered(key)? {
        return Ok(done);
    }
    match desk {
        DeskTarget::PrivateRoom { invite, encrypted } => {
            let encrypt = *encrypted || shared.cfg.encrypt_case_rooms;
            let room = case_room(shared, key, invite, &summary.title, encrypt).await?;
            let summary_id = send(&room, summary_content(summary), key, "summary").await?;
            pin(&room, &summary_id).await?;
            let endpoint = Endpoint::new(NETWORK, room.room_id().as_str());
            Ok(Delivered::CaseOpened {
                summary: MessageRef {
                    endpoint: endpoint.clone(),
                    id: summary_id.to_string(),
                },
                endpoint,
            })
        }
        DeskTarget::Thread { room } => {
            let room = rooms::joined_or_join(shared, room).await?;
            let summary_id = send(&room, summary_content(summary), key, "summary").await?;
            // In a shared staff room the bot may lack the power to pin; the
            // case still works, so a refusal is logged, not fatal.
            match pin(&room, &summary_id).await {
                Err(BridgeError::Rejected { detail, .. }) => {
                    tracing::warn!(room = %room.room_id(), %detail, "could not pin the case summary");
                }
                other => other?,
            }
            let endpoint =
                Endpoint::new(NETWORK, room.room_id().as_str()).in_thread(summary_id.as_str());
            Ok(Delivered::CaseOpened {
                summary: MessageRef {
                    endpoint: endpoint.clone(),
                    id: summary_id.to_string(),
                },
                endpoint,
            })
        }
    }
}

/// Replaces the summary message in place (an `m.replace` edit).
pub async fn update_summary(
    shared: &Shared,
    key: &str,
    summary_message: &MessageRef,
    summary: &CaseSummary,
) -> Result<Delivered, BridgeError> {
    let room = rooms::joined(shared, &summary_message.endpoint.room).await?;
    let target = event_id(&summary_message.id)?;
    let content = summary_content(summary).make_replacement(ReplacementMetadata::new(target, None));
    send(&room, content, key, "summary-edit").await?;
    Ok(Delivered::Done)
}

fn summary_content(summary: &CaseSummary) -> RoomMessageEventContent {
    RoomMessageEventContent::text_html(summary.plain(), crate::card::html(summary))
}

/// The case room of `key`: found through its alias, or created in one call.
async fn case_room(
    shared: &Shared,
    key: &str,
    invite: &[String],
    title: &str,
    encrypt: bool,
) -> Result<Room, BridgeError> {
    // A team's `agents` may also name other networks' people (Slack ids,
    // user groups, "channel-members"): only Matrix user ids are invited.
    let invite = invite
        .iter()
        .filter(|u| u.starts_with('@') && u.contains(':'))
        .map(|u| OwnedUserId::from_str(u).map_err(|e| rejected(format!("bad agent id {u:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let localpart = case_alias_localpart(&shared.cfg.password, key);
    let alias =
        OwnedRoomAliasId::from_str(&format!("#{localpart}:{}", shared.own_id.server_name()))
            .map_err(|e| rejected(format!("building the case alias: {e}")))?;

    let mut alias_free = true;
    if let Some(id) = existing_alias(shared, &alias).await? {
        if let Some(room) = own_room(shared, &id) {
            tracing::info!(%alias, room = %id, "case room exists from an earlier attempt; reusing it");
            return Ok(room);
        }
        tracing::warn!(%alias, room = %id, "the case alias names a room the bot did not create; opening a new room instead");
        alias_free = false;
    }

    let mut request = CreateRoomRequest::new();
    request.name = Some(title.to_owned());
    request.invite = invite;
    request.preset = Some(RoomPreset::PrivateChat);
    request.room_alias_name = alias_free.then_some(localpart);
    if encrypt {
        request.initial_state = vec![InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any()];
    }
    match shared.client.create_room(request).await {
        Ok(room) => {
            tracing::info!(room = %room.room_id(), %alias, "opened case room");
            Ok(room)
        }
        Err(e) if e.client_api_error_kind() == Some(&ErrorKind::RoomInUse) => {
            let id = existing_alias(shared, &alias).await?.ok_or_else(|| {
                rejected(format!(
                    "{alias} is taken but does not resolve; pick another key"
                ))
            })?;
            own_room(shared, &id).ok_or_else(|| {
                rejected(format!(
                    "{alias} was taken by a room the bot did not create"
                ))
            })
        }
        Err(e) => Err(from_sdk("creating a case room", &e)),
    }
}

async fn existing_alias(
    shared: &Shared,
    alias: &OwnedRoomAliasId,
) -> Result<Option<OwnedRoomId>, BridgeError> {
    match shared.client.resolve_room_alias(alias).await {
        Ok(r) => Ok(Some(r.room_id)),
        Err(e) if e.client_api_error_kind() == Some(&ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(from_http(&format!("resolving {alias}"), &e)),
    }
}

/// Room `id` if the bot created it and is still in it (a room it made
/// before a crash); None for anyone else's room, which is never joined.
fn own_room(shared: &Shared, id: &OwnedRoomId) -> Option<Room> {
    let room = shared.client.get_room(id)?;
    if room.state() != RoomState::Joined {
        return None;
    }
    // From the room's create event, as synced; unknown creators (not
    // synced yet) are not trusted either.
    let creators = room.creators()?;
    (creators.len() == 1 && creators[0] == shared.own_id).then_some(room)
}

/// Adds `id` to the room's pinned events (read fresh from the server),
/// keeping the newest `MAX_PINS`.
async fn pin(room: &Room, id: &OwnedEventId) -> Result<(), BridgeError> {
    let mut pinned = room
        .load_pinned_events()
        .await
        .map_err(|e| from_sdk("reading pinned events", &e))?
        .unwrap_or_default();
    if pinned.contains(id) {
        return Ok(());
    }
    pinned.push(id.clone());
    let excess = pinned.len().saturating_sub(MAX_PINS);
    pinned.drain(..excess);
    room.send_state_event(RoomPinnedEventsEventContent::new(pinned))
        .await
        .map_err(|e| from_sdk("pinning the summary", &e))?;
    Ok(())
}

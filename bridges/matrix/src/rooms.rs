//! Which rooms the bot is in: joining the configured customer rooms at
//! start, deciding on invites, and looking up a joined room for an action.
//!
//! Not for sending or receiving events. Invariant: the bot only joins a
//! room when configuration says so (a configured customer room, a desk
//! room named in an action, or any invite when `auto_join` is on).

use std::str::FromStr;

use handoff_bridge_api::BridgeError;
use matrix_sdk::ruma::{OwnedRoomAliasId, OwnedRoomId, OwnedRoomOrAliasId, RoomId};
use matrix_sdk::{Room, RoomState};

use crate::error::{from_http, from_sdk, rejected};
use crate::Shared;

/// Joins every configured customer room (resolving aliases); a room that
/// cannot be joined now is logged and remembered, so its invite is
/// accepted later.
pub async fn join_configured(shared: &Shared) {
    for entry in &shared.cfg.customer_rooms {
        match join_one(shared, entry).await {
            Ok(id) => tracing::info!(room = %entry, id = %id, "in customer room"),
            Err(e) => tracing::warn!(room = %entry, error = %e, "could not join customer room"),
        }
    }
}

async fn join_one(shared: &Shared, entry: &str) -> Result<OwnedRoomId, BridgeError> {
    let id = resolve(shared, entry).await?;
    if let Ok(mut set) = shared.customer_rooms.write() {
        set.insert(id.clone());
    }
    let joined = shared
        .client
        .get_room(&id)
        .is_some_and(|r| r.state() == RoomState::Joined);
    if !joined {
        let target = OwnedRoomOrAliasId::from(id.clone());
        shared
            .client
            .join_room_by_id_or_alias(&target, &[])
            .await
            .map_err(|e| from_sdk(&format!("joining {entry}"), &e))?;
    }
    Ok(id)
}

/// A room id from `!id:hs` or `#alias:hs`.
pub async fn resolve(shared: &Shared, entry: &str) -> Result<OwnedRoomId, BridgeError> {
    if let Ok(id) = OwnedRoomId::from_str(entry) {
        return Ok(id);
    }
    let alias = OwnedRoomAliasId::from_str(entry)
        .map_err(|e| rejected(format!("{entry:?} is neither a room id nor an alias: {e}")))?;
    let response = shared
        .client
        .resolve_room_alias(&alias)
        .await
        .map_err(|e| from_http(&format!("resolving {alias}"), &e))?;
    Ok(response.room_id)
}

/// Whether `room` is where customers talk: a configured customer room or
/// a direct chat the bot joined on a customer's invite. Case rooms the bot
/// created and staff rooms it joined for a desk are not, whoever is in
/// them (roles come from configuration, not from member counts).
pub fn is_customer_room(shared: &Shared, room: &Room) -> Result<bool, BridgeError> {
    if is_desk_room(shared, room) {
        return Ok(false);
    }
    Ok(is_configured(shared, room) || shared.ledger.is_direct_chat(room.room_id().as_str())?)
}

/// Whether an invite to `room` should be accepted: a configured customer
/// room or desk room, or any room with `auto_join`.
pub fn accepts_invite(shared: &Shared, room: &Room) -> bool {
    shared.cfg.auto_join || is_configured(shared, room) || is_desk_room(shared, room)
}

/// Whether `room` is a staff room configured as a desk (by id or alias):
/// never a customer's, even when the bot joined it on an invite.
pub fn is_desk_room(shared: &Shared, room: &Room) -> bool {
    let desks = &shared.cfg.desk_rooms;
    desks.iter().any(|d| d == room.room_id().as_str())
        || room
            .canonical_alias()
            .is_some_and(|alias| desks.iter().any(|d| d == alias.as_str()))
}

/// Whether `room` is one of the configured customer rooms (by id, or by
/// its alias when it could not be resolved at start).
fn is_configured(shared: &Shared, room: &Room) -> bool {
    let configured = shared
        .customer_rooms
        .read()
        .map(|set| set.contains(room.room_id()))
        .unwrap_or(false);
    configured
        || room.canonical_alias().is_some_and(|alias| {
            shared
                .cfg
                .customer_rooms
                .iter()
                .any(|c| c == alias.as_str())
        })
}

/// Accepts the invite to `room_id` if configuration allows it.
pub async fn handle_invite(shared: &Shared, room_id: &RoomId) {
    let Some(room) = shared.client.get_room(room_id) else {
        return;
    };
    if room.state() != RoomState::Invited {
        return;
    }
    if !accepts_invite(shared, &room) {
        tracing::info!(room = %room_id, "ignoring invite to a room that is not a customer room");
        return;
    }
    // Remembered before joining: once joined, the room's events arrive
    // and must already count as a customer's.
    if !is_configured(shared, &room) && !is_desk_room(shared, &room) {
        if let Err(e) = shared.ledger.set_direct_chat(room_id.as_str()) {
            tracing::warn!(room = %room_id, error = %e, "could not record the direct chat; invite left for later");
            return;
        }
    }
    match room.join().await {
        Ok(()) => tracing::info!(room = %room_id, "accepted invite"),
        Err(e) => tracing::warn!(room = %room_id, error = %e, "could not accept invite"),
    }
}

/// The joined room `room` (id or alias) for an action.
pub async fn joined(shared: &Shared, room: &str) -> Result<Room, BridgeError> {
    let id = resolve(shared, room).await?;
    match shared.client.get_room(&id) {
        Some(r) if r.state() == RoomState::Joined => Ok(r),
        _ => Err(rejected(format!("the bot is not in room {room}"))),
    }
}

/// Like `joined`, but joins the room first when the bot is not in it
/// (desk rooms named in an OpenCase).
pub async fn joined_or_join(shared: &Shared, room: &str) -> Result<Room, BridgeError> {
    let id = resolve(shared, room).await?;
    if let Some(r) = shared.client.get_room(&id) {
        if r.state() == RoomState::Joined {
            return Ok(r);
        }
    }
    let target = OwnedRoomOrAliasId::from(id);
    shared
        .client
        .join_room_by_id_or_alias(&target, &[])
        .await
        .map_err(|e| from_sdk(&format!("joining desk room {room}"), &e))
}

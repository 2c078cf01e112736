//! Thread per customer: in a shared customer room (more than two joined
//! members), each customer's first top-level message becomes the root of
//! their conversation, and their later top-level events are reported in
//! it. Only customer rooms (`rooms::is_customer_room`): in a case room or a
//! staff room every member is staff, and a thread each would make each
//! agent look like a customer of their own.
//!
//! Not for native `m.thread` relations (those are read off the event in
//! `inbound`). Invariant: a (room, user) pair gets at most one root, chosen
//! once and persisted in `BridgeState`, so restarts keep the conversation.

use handoff_bridge_api::BridgeError;
use matrix_sdk::Room;

use crate::error::from_sdk;
use crate::{rooms, Shared};

/// True when `room` is a shared customer room and thread-per-customer is
/// on. Counts
/// joined members from the room state (Synapse only sends the summary
/// counts with lazy-loaded members, so `joined_members_count` may read 0);
/// ids only, one store read, as this runs for every inbound message.
async fn applies(shared: &Shared, room: &Room) -> Result<bool, BridgeError> {
    if !shared.cfg.thread_per_customer || !rooms::is_customer_room(shared, room)? {
        return Ok(false);
    }
    let joined = room.joined_user_ids().await.map_err(|e| {
        from_sdk(
            &format!("listing members of {}", room.room_id()),
            &matrix_sdk::Error::from(e),
        )
    })?;
    Ok(joined.len() > 2)
}

/// The thread for a top-level message `event_id` from `user`: the user's
/// existing root, or `event_id` itself when it is their first.
pub async fn for_top_level_message(
    shared: &Shared,
    room: &Room,
    user: &str,
    event_id: &str,
) -> Result<Option<String>, BridgeError> {
    if !applies(shared, room).await? {
        return Ok(None);
    }
    let room_id = room.room_id().as_str();
    if let Some(root) = shared.ledger.thread_root(room_id, user)? {
        return Ok(Some(root));
    }
    shared.ledger.set_thread_root(room_id, user, event_id)?;
    tracing::debug!(room = room_id, user, root = event_id, "new customer thread");
    Ok(Some(event_id.to_owned()))
}

/// The user's existing thread (for edits, reactions, redactions), if any.
pub async fn existing(
    shared: &Shared,
    room: &Room,
    user: &str,
) -> Result<Option<String>, BridgeError> {
    if !applies(shared, room).await? {
        return Ok(None);
    }
    shared.ledger.thread_root(room.room_id().as_str(), user)
}

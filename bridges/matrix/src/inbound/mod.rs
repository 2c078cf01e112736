//! One Matrix timeline event (already decrypted by matrix-sdk) to at most
//! one `Inbound`: messages, edits, redactions, reactions, replies,
//! attachments, joins and leaves.
//!
//! Reading the event and deciding what is skipped is `classify` (pure);
//! this module adds what needs the room or the network: the customer's
//! thread in a shared room, media downloads and display names. Not for
//! deciding what to do with the result (the core does). Invariant: the
//! bot's own events, ignored users, notices, other handoff instances'
//! relays and events older than the bridge's first start are never
//! forwarded; `event_id` is always the Matrix event id so the core can
//! dedupe re-deliveries.

pub mod classify;

use handoff_bridge_api::{BridgeError, Endpoint, Inbound, InboundKind, Standing, Text, UserRef};
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::UserId;
use matrix_sdk::Room;

use crate::config::RetryPolicy;
use crate::media::{self, Download};
use crate::retry::with_retry;
use crate::{rooms, threads, Shared, NETWORK};

/// Download attempts for one attachment before a note is sent instead.
const MEDIA_ATTEMPTS: u32 = 3;
use classify::{classify, Classified, Filter, What};

/// Converts one event; `Ok(None)` for events the core does not need.
pub async fn convert(
    shared: &Shared,
    room: &Room,
    raw: &Raw<AnySyncTimelineEvent>,
) -> Result<Option<Inbound>, BridgeError> {
    let filter = Filter {
        own_id: &shared.own_id,
        ignore_users: &shared.ignore_users,
        first_start: shared.first_start,
    };
    let Classified {
        event_id,
        actor,
        at,
        what,
    } = match classify(raw, &filter) {
        Ok(c) => c,
        Err(why) => {
            tracing::trace!(room = %room.room_id(), why = why.0, "event not forwarded");
            return Ok(None);
        }
    };
    let sender = actor.as_str();
    let (kind, thread) = match what {
        What::Text {
            body,
            reply_to,
            thread,
        } => {
            let thread = match thread {
                Some(t) => Some(remember_thread(shared, room, &event_id, t)?),
                None => threads::for_top_level_message(shared, room, sender, &event_id).await?,
            };
            let kind = InboundKind::Message {
                id: event_id.clone(),
                body,
                reply_to,
            };
            (kind, thread)
        }
        What::Media {
            media,
            reply_to,
            thread,
        } => {
            let thread = match thread {
                Some(t) => Some(remember_thread(shared, room, &event_id, t)?),
                None => threads::for_top_level_message(shared, room, sender, &event_id).await?,
            };
            (
                attachment(shared, event_id.clone(), media, reply_to).await,
                thread,
            )
        }
        What::Edit { target, body } => {
            let thread = thread_of_target(shared, room, sender, &target).await?;
            (InboundKind::Edit { target, body }, thread)
        }
        What::Reaction { target, key } => {
            let thread = thread_of_target(shared, room, sender, &target).await?;
            (
                InboundKind::Reaction {
                    id: event_id.clone(),
                    target,
                    key,
                },
                thread,
            )
        }
        What::Delete { target } => {
            let thread = thread_of_target(shared, room, sender, &target).await?;
            (InboundKind::Delete { target }, thread)
        }
        What::Joined => (InboundKind::Joined, None),
        What::Left => (InboundKind::Left, None),
    };
    let display_name = display_name(shared, room, &actor).await;
    let customer_endpoint = rooms::is_customer_room(shared, room)?;
    Ok(Some(Inbound {
        event_id,
        endpoint: Endpoint {
            network: NETWORK.to_owned(),
            room: room.room_id().to_string(),
            thread,
        },
        sender: UserRef {
            network: NETWORK.to_owned(),
            id: actor.to_string(),
            display_name,
            is_bot: false,
            // Whoever sends in a room is one of its members (the
            // homeserver accepts events only from joined users); Matrix
            // has no workspace-wide guests or groups to report.
            standing: Standing::Member { groups: Vec::new() },
        },
        at,
        kind,
        customer_endpoint,
        // As the room's state last synced says (no request per event).
        encrypted: room.encryption_state().is_encrypted(),
    }))
}

/// Records the native thread of message `event` (so its later edits,
/// reactions and redactions, which carry no thread, land in it too).
fn remember_thread(
    shared: &Shared,
    room: &Room,
    event: &str,
    thread: String,
) -> Result<String, BridgeError> {
    shared
        .ledger
        .set_thread_of(room.room_id().as_str(), event, &thread)?;
    Ok(thread)
}

/// The thread an edit, reaction or redaction of `target` belongs to: the
/// native thread `target` was posted in, else the sender's customer
/// thread (thread per customer), else none.
async fn thread_of_target(
    shared: &Shared,
    room: &Room,
    sender: &str,
    target: &str,
) -> Result<Option<String>, BridgeError> {
    let room_id = room.room_id().as_str();
    if let Some(t) = shared.ledger.thread_of(room_id, target)? {
        return Ok(Some(t));
    }
    threads::existing(shared, room, sender).await
}

/// The sender's display name in `room`: their stored profile, one store
/// read (this runs for every inbound event; the full member record costs
/// several), else the member record. `None` when neither says.
async fn display_name(shared: &Shared, room: &Room, user: &UserId) -> Option<String> {
    match shared
        .client
        .state_store()
        .get_profile(room.room_id(), user)
        .await
    {
        Ok(Some(profile)) => profile.content.displayname,
        _ => match room.get_member_no_sync(user).await {
            Ok(Some(member)) => member.display_name().map(str::to_owned),
            _ => None,
        },
    }
}

/// Downloads an attachment, with a few quick retries; a file that cannot
/// be had becomes a note saying so. Never an error: a media server that
/// stays down (or a crafted `mxc://` URL) must not hold back every later
/// event, which an error here would (the batch is synced again).
async fn attachment(
    shared: &Shared,
    id: String,
    media: media::IncomingMedia,
    reply_to: Option<String>,
) -> InboundKind {
    let policy = RetryPolicy {
        max_attempts: MEDIA_ATTEMPTS,
        ..shared.cfg.connect_retry.clone()
    };
    let name = media.name.clone();
    let note = |why: String| InboundKind::Message {
        id: id.clone(),
        body: Text::plain(format!("[file not forwarded: {name} {why}]")),
        reply_to: reply_to.clone(),
    };
    match with_retry(&policy, "downloading an attachment", || {
        media::download(shared, media.clone())
    })
    .await
    {
        Ok(Download::File(file)) => InboundKind::Attachment {
            id: id.clone(),
            file,
        },
        Ok(Download::TooLarge { size, exact }) => note(format!(
            "is {}{size} bytes, over the {} byte limit",
            if exact { "" } else { "more than " },
            shared.cfg.max_media_bytes
        )),
        Err(e) => {
            tracing::warn!(event = %id, error = %e, "attachment could not be downloaded; forwarding a note");
            note("could not be downloaded".to_owned())
        }
    }
}

#[cfg(test)]
mod tests;

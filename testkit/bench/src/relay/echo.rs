//! A trivial relay for comparison: a plain matrix-sdk test user that copies
//! every timestamped message it receives in one room into the other room
//! of a pair, and back. Same two homeserver hops as handoff's Matrix desk,
//! same SDK, none of handoff's logic (no state machine, no store, no
//! outbox), so "handoff − echo" isolates what handoff adds.
//!
//! Not a bot framework. The invariant: it relays only messages with an
//! `hbench-` stamp from someone else, body unchanged, so it never loops
//! and never alters what the receiver times.

use anyhow::Context;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::OwnedRoomId;
use matrix_sdk::{Client, Room};
use synapse_testkit::TestClient;

use super::probe::parse_stamps;
use super::setup::WAIT;

/// The echo user and its two rooms.
pub struct Echo {
    /// Keeps the echo's sync loop (and handler) alive.
    _client: TestClient,
    /// Shared with the customer.
    pub customer_room: OwnedRoomId,
    /// Shared with the agent.
    pub agent_room: OwnedRoomId,
}

/// Creates a room with `customer` and one with `agent` (each joins), then
/// starts copying stamped messages between them.
pub async fn start(
    echo: TestClient,
    customer: &TestClient,
    agent: &TestClient,
) -> anyhow::Result<Echo> {
    let customer_room = echo
        .create_room("echo-customer", &[customer.user_id().to_owned()])
        .await?;
    let invited = customer.wait_for_invite(WAIT).await?;
    customer
        .join(&invited)
        .await
        .context("customer joining the echo room")?;
    let agent_room = echo
        .create_room("echo-agent", &[agent.user_id().to_owned()])
        .await?;
    let invited = agent.wait_for_invite(WAIT).await?;
    agent
        .join(&invited)
        .await
        .context("agent joining the echo room")?;

    let (a, b) = (customer_room.clone(), agent_room.clone());
    echo.client().add_event_handler(
        move |ev: OriginalSyncRoomMessageEvent, room: Room, client: Client| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                if client.user_id() == Some(&*ev.sender) {
                    return;
                }
                let body = ev.content.body();
                if parse_stamps(body).is_empty() {
                    return;
                }
                let target = if room.room_id() == a {
                    b
                } else if room.room_id() == b {
                    a
                } else {
                    return;
                };
                if let Some(target) = client.get_room(&target) {
                    let content = RoomMessageEventContent::text_plain(body);
                    if let Err(e) = target.send(content).await {
                        tracing::warn!(error = %e, "echo relay could not send");
                    }
                }
            }
        },
    );
    Ok(Echo {
        _client: echo,
        customer_room,
        agent_room,
    })
}

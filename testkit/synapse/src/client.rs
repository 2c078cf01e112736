//! A Matrix user for tests (a customer, an agent): log in with matrix-sdk,
//! create and join rooms, send text, and wait for what arrives.
//!
//! Each `TestClient` has its own temp store and one background sync loop
//! that feeds an `Inbox` through event handlers; waiting is event-driven
//! (no sleeps). Not a bot framework and not for production sessions (it
//! never restores a session). Invariant: the sync loop lives exactly as long
//! as the `TestClient`, and nothing it records is lost or duplicated.

use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::room::redaction::OriginalSyncRoomRedactionEvent;
use matrix_sdk::ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room, RoomState};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::inbox::{Inbox, Message, Redaction, Seen};
use crate::{Synapse, TestkitError};

/// How long the sync loop's long poll may wait for news.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Pause after a failed sync (e.g. while Synapse is restarting).
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How long `login` waits for the first sync.
const FIRST_SYNC: Duration = Duration::from_secs(30);

impl Synapse {
    /// Logs `user` (localpart or full id) in with a fresh device and store,
    /// starts its sync loop and returns once the first sync is done.
    pub async fn login(&self, user: &str, password: &str) -> Result<TestClient, TestkitError> {
        TestClient::login(self.base_url(), user, password).await
    }
}

/// A logged-in test user with a running sync loop.
pub struct TestClient {
    client: Client,
    user_id: OwnedUserId,
    inbox: Inbox,
    sync_task: JoinHandle<()>,
    // Dropped after the sync task is aborted (field order).
    _store: TempDir,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// Logs in against any homeserver URL (see also [`Synapse::login`]).
    pub async fn login(
        base_url: &str,
        user: &str,
        password: &str,
    ) -> Result<TestClient, TestkitError> {
        let store = tempfile::Builder::new()
            .prefix("matrix-test-client-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating a temp dir in", std::env::temp_dir(), e))?;
        let client = Client::builder()
            .homeserver_url(base_url)
            .sqlite_store(store.path(), None)
            .build()
            .await
            .map_err(|e| TestkitError::matrix(format!("building a client for {base_url}"), e))?;
        let response = client
            .matrix_auth()
            .login_username(user, password)
            .initial_device_display_name("synapse-testkit")
            .send()
            .await
            .map_err(|e| TestkitError::matrix(format!("logging in {user}"), e))?;
        let inbox = Inbox::new();
        register_handlers(&client, &inbox);
        let sync_task = tokio::spawn(sync_loop(client.clone(), inbox.clone()));
        let test_client = TestClient {
            client,
            user_id: response.user_id,
            inbox,
            sync_task,
            _store: store,
        };
        if test_client
            .inbox
            .wait_for(FIRST_SYNC, |seen| (seen.syncs > 0).then_some(()))
            .await
            .is_none()
        {
            return Err(test_client.timeout("the first sync", FIRST_SYNC));
        }
        Ok(test_client)
    }

    /// The underlying matrix-sdk client, for anything not wrapped here.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The full user id.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// Creates a private room (private-chat preset) named `name`, inviting
    /// `invite` in the same call.
    pub async fn create_room(
        &self,
        name: &str,
        invite: &[OwnedUserId],
    ) -> Result<OwnedRoomId, TestkitError> {
        let mut request = CreateRoomRequest::new();
        request.name = Some(name.to_owned());
        request.invite = invite.to_vec();
        request.preset = Some(RoomPreset::PrivateChat);
        self.create_room_with(request).await
    }

    /// Creates a room from a full request (presets, initial state, ...).
    pub async fn create_room_with(
        &self,
        request: CreateRoomRequest,
    ) -> Result<OwnedRoomId, TestkitError> {
        let room =
            self.client.create_room(request).await.map_err(|e| {
                TestkitError::matrix(format!("{} creating a room", self.user_id), e)
            })?;
        Ok(room.room_id().to_owned())
    }

    /// Joins a room (accepting an invite, or a public room).
    pub async fn join(&self, room_id: &RoomId) -> Result<(), TestkitError> {
        self.client
            .join_room_by_id(room_id)
            .await
            .map_err(|e| TestkitError::matrix(format!("{} joining {room_id}", self.user_id), e))?;
        Ok(())
    }

    /// Sends a plain-text message; returns its event id.
    pub async fn send_text(
        &self,
        room_id: &RoomId,
        text: &str,
    ) -> Result<OwnedEventId, TestkitError> {
        let room = self.room(room_id)?;
        let sent = room
            .send(RoomMessageEventContent::text_plain(text))
            .await
            .map_err(|e| {
                TestkitError::matrix(format!("{} sending to {room_id}", self.user_id), e)
            })?;
        Ok(sent.response.event_id)
    }

    /// A room the client knows (joined, invited or left).
    pub fn room(&self, room_id: &RoomId) -> Result<Room, TestkitError> {
        self.client
            .get_room(room_id)
            .ok_or_else(|| TestkitError::UnknownRoom {
                user: self.user_id.to_string(),
                room: room_id.to_string(),
            })
    }

    /// Runs one extra sync now (server timeout 0), next to the loop; what it
    /// delivers is recorded like the loop's (duplicates are dropped).
    pub async fn sync_once(&self) -> Result<(), TestkitError> {
        self.client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .map_err(|e| TestkitError::matrix(format!("{} syncing", self.user_id), e))?;
        self.inbox.record_sync();
        Ok(())
    }

    /// Everything received so far.
    pub fn seen(&self) -> Seen {
        self.inbox.snapshot()
    }

    /// Messages received so far in `room_id`, oldest first.
    pub fn messages(&self, room_id: &RoomId) -> Vec<Message> {
        self.inbox
            .snapshot()
            .messages
            .into_iter()
            .filter(|m| m.room_id == room_id)
            .collect()
    }

    /// Waits for a message in `room_id` matching `predicate`, including
    /// messages that arrived before the call.
    pub async fn wait_for_message(
        &self,
        room_id: &RoomId,
        predicate: impl Fn(&Message) -> bool,
        timeout: Duration,
    ) -> Result<Message, TestkitError> {
        let found = self
            .inbox
            .wait_for(timeout, |seen| {
                seen.messages
                    .iter()
                    .find(|m| m.room_id == room_id && predicate(m))
                    .cloned()
            })
            .await;
        found.ok_or_else(|| self.timeout(&format!("a matching message in {room_id}"), timeout))
    }

    /// Waits for an invite to a room the user has not joined yet; returns
    /// the room id (invites seen before the call count).
    pub async fn wait_for_invite(&self, timeout: Duration) -> Result<OwnedRoomId, TestkitError> {
        let client = &self.client;
        let found = self
            .inbox
            .wait_for(timeout, |seen| {
                seen.invites
                    .iter()
                    .find(|id| {
                        client
                            .get_room(id)
                            .is_some_and(|room| room.state() == RoomState::Invited)
                    })
                    .cloned()
            })
            .await;
        found.ok_or_else(|| self.timeout("an invite", timeout))
    }

    /// Waits until the redaction of `event_id` in `room_id` arrives.
    pub async fn wait_for_redaction(
        &self,
        room_id: &RoomId,
        event_id: &EventId,
        timeout: Duration,
    ) -> Result<Redaction, TestkitError> {
        let found = self
            .inbox
            .wait_for(timeout, |seen| {
                seen.redactions
                    .iter()
                    .find(|r| r.room_id == room_id && r.redacts == event_id)
                    .cloned()
            })
            .await;
        found.ok_or_else(|| self.timeout(&format!("the redaction of {event_id}"), timeout))
    }

    fn timeout(&self, what: &str, waited: Duration) -> TestkitError {
        TestkitError::Timeout {
            user: self.user_id.to_string(),
            what: what.to_owned(),
            waited,
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.sync_task.abort();
    }
}

fn register_handlers(client: &Client, inbox: &Inbox) {
    let messages = inbox.clone();
    client.add_event_handler(move |event: OriginalSyncRoomMessageEvent, room: Room| {
        let inbox = messages.clone();
        async move {
            inbox.record_message(Message {
                room_id: room.room_id().to_owned(),
                event_id: event.event_id.clone(),
                sender: event.sender.clone(),
                body: event.content.body().to_owned(),
                event,
            });
        }
    });
    let invites = inbox.clone();
    client.add_event_handler(
        move |event: StrippedRoomMemberEvent, room: Room, client: Client| {
            let inbox = invites.clone();
            async move {
                let for_me = client.user_id().is_some_and(|me| event.state_key == me);
                if for_me && event.content.membership == MembershipState::Invite {
                    inbox.record_invite(room.room_id().to_owned());
                }
            }
        },
    );
    let redactions = inbox.clone();
    client.add_event_handler(move |event: OriginalSyncRoomRedactionEvent, room: Room| {
        let inbox = redactions.clone();
        async move {
            if let Some(redacts) = event
                .content
                .redacts
                .clone()
                .or_else(|| event.redacts.clone())
            {
                inbox.record_redaction(Redaction {
                    room_id: room.room_id().to_owned(),
                    event_id: event.event_id.clone(),
                    redacts,
                });
            }
        }
    });
}

/// Syncs until aborted; errors (e.g. Synapse restarting) are retried.
async fn sync_loop(client: Client, inbox: Inbox) {
    loop {
        match client
            .sync_once(SyncSettings::default().timeout(LONG_POLL))
            .await
        {
            Ok(_) => inbox.record_sync(),
            Err(e) => {
                tracing::debug!(error = %e, "test client sync failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

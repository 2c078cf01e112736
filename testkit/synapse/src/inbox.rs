//! What a test client's sync loop has seen so far (messages, invites,
//! redactions, completed syncs), and waiting until something shows up.
//!
//! Not for talking to the server: the sync loop in `client` fills it through
//! event handlers. Invariant: entries are unique by event id (messages,
//! redactions) or room id (invites) even if two syncs deliver the same event,
//! and waiters see everything recorded before they started waiting, so no
//! event can slip between "send" and "wait".

use std::time::Duration;

use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use tokio::sync::watch;

/// A room message as the test user received it.
#[derive(Clone, Debug)]
pub struct Message {
    /// The room it was sent in.
    pub room_id: OwnedRoomId,
    /// Its event id.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// The plain-text body (for edits, the fallback body `* new text`).
    pub body: String,
    /// The whole event, for content details (relations, formatting, ...).
    pub event: OriginalSyncRoomMessageEvent,
}

/// A redaction as the test user received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redaction {
    /// The room.
    pub room_id: OwnedRoomId,
    /// The redaction event's id.
    pub event_id: OwnedEventId,
    /// The event it removes.
    pub redacts: OwnedEventId,
}

/// Everything seen so far.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Room messages in arrival order.
    pub messages: Vec<Message>,
    /// Rooms the user was invited to, in arrival order.
    pub invites: Vec<OwnedRoomId>,
    /// Redactions in arrival order.
    pub redactions: Vec<Redaction>,
    /// Number of completed syncs.
    pub syncs: u64,
}

/// The shared record: written by event handlers, read by waiters.
#[derive(Clone)]
pub(crate) struct Inbox {
    tx: watch::Sender<Seen>,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::Sender::new(Seen::default()),
        }
    }

    pub(crate) fn record_message(&self, message: Message) {
        self.tx.send_if_modified(|seen| {
            let fresh = !seen.messages.iter().any(|m| m.event_id == message.event_id);
            if fresh {
                seen.messages.push(message);
            }
            fresh
        });
    }

    pub(crate) fn record_invite(&self, room_id: OwnedRoomId) {
        self.tx.send_if_modified(|seen| {
            let fresh = !seen.invites.contains(&room_id);
            if fresh {
                seen.invites.push(room_id);
            }
            fresh
        });
    }

    pub(crate) fn record_redaction(&self, redaction: Redaction) {
        self.tx.send_if_modified(|seen| {
            let fresh = !seen
                .redactions
                .iter()
                .any(|r| r.event_id == redaction.event_id);
            if fresh {
                seen.redactions.push(redaction);
            }
            fresh
        });
    }

    pub(crate) fn record_sync(&self) {
        self.tx.send_modify(|seen| seen.syncs += 1);
    }

    pub(crate) fn snapshot(&self) -> Seen {
        self.tx.borrow().clone()
    }

    /// Waits until `pick` finds something in what was seen, checking what is
    /// already there first. `None` on timeout.
    pub(crate) async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&Seen) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.tx.subscribe();
        let mut found = None;
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|seen| {
                found = pick(seen);
                found.is_some()
            }),
        )
        .await;
        match waited {
            Ok(Ok(_)) => found,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_see_old_and_new_entries_once() {
        let inbox = Inbox::new();
        let room: OwnedRoomId = "!a:localhost".try_into().expect("room id");
        inbox.record_invite(room.clone());
        inbox.record_invite(room.clone());
        assert_eq!(inbox.snapshot().invites, vec![room.clone()]);

        let seen_old = inbox
            .wait_for(Duration::from_millis(10), |s| s.invites.first().cloned())
            .await;
        assert_eq!(seen_old, Some(room));

        let writer = inbox.clone();
        let later: OwnedRoomId = "!b:localhost".try_into().expect("room id");
        let expected = later.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.record_invite(later);
        });
        let seen_new = inbox
            .wait_for(Duration::from_secs(5), |s| s.invites.get(1).cloned())
            .await;
        assert_eq!(seen_new, Some(expected));
    }

    #[tokio::test]
    async fn wait_times_out_with_none() {
        let inbox = Inbox::new();
        let none = inbox
            .wait_for(Duration::from_millis(20), |s| s.invites.first().cloned())
            .await;
        assert_eq!(none, None);
    }
}

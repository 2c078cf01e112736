//! Typing notices both ways. Inbound: a room's `m.typing` ephemeral event
//! lists everyone typing there now; the difference from the last list
//! becomes one [`InboundKind::Typing`] per person who started or stopped
//! (never the bot itself). Outbound: [`show`] sets the bot's own typing
//! notice in a room (an agent is writing the customer a reply).
//!
//! Passing signals: handed to the core untracked (no acknowledgement,
//! nothing stored, the sync token never waits for them) and lost without
//! harm.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use handoff_bridge_api::{
    BridgeError, Endpoint, Inbound, InboundKind, InboundSender, Millis, Standing, UserRef,
};
use matrix_sdk::ruma::events::AnySyncEphemeralRoomEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};

use crate::error::from_sdk;
use crate::{rooms, Shared, NETWORK};

/// Who was typing in each room, by the last `m.typing` seen.
#[derive(Debug, Default)]
pub(crate) struct Typing(Mutex<HashMap<OwnedRoomId, BTreeSet<OwnedUserId>>>);

impl Typing {
    /// Records `now` as the room's typing list; returns who started
    /// (`true`) and who stopped (`false`) since the last one.
    fn update(&self, room: &OwnedRoomId, now: BTreeSet<OwnedUserId>) -> Vec<(OwnedUserId, bool)> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let before = all.remove(room).unwrap_or_default();
        let changes = changes(&before, &now);
        if !now.is_empty() {
            all.insert(room.clone(), now);
        }
        changes
    }
}

/// Who is in `now` but not `before` (started) and the reverse (stopped).
fn changes<T: Ord + Clone>(before: &BTreeSet<T>, now: &BTreeSet<T>) -> Vec<(T, bool)> {
    now.difference(before)
        .map(|u| (u.clone(), true))
        .chain(before.difference(now).map(|u| (u.clone(), false)))
        .collect()
}

/// The typing list in a room's ephemeral events, if one came.
pub(crate) fn typing_list(events: &[Raw<AnySyncEphemeralRoomEvent>]) -> Option<Vec<OwnedUserId>> {
    events.iter().rev().find_map(|raw| match raw.deserialize() {
        Ok(AnySyncEphemeralRoomEvent::Typing(ev)) => Some(ev.content.user_ids),
        _ => None,
    })
}

/// Hands the changes of `room`'s typing list to the core; false when the
/// core stopped listening.
pub(crate) async fn forward(
    shared: &Shared,
    inbound: &InboundSender,
    room: &OwnedRoomId,
    users: &[OwnedUserId],
) -> bool {
    let now: BTreeSet<OwnedUserId> = users
        .iter()
        .filter(|u| **u != shared.own_id && !shared.ignore_users.contains(u.as_str()))
        .cloned()
        .collect();
    let customer_endpoint = shared
        .client
        .get_room(room)
        .map(|r| rooms::is_customer_room(shared, &r).unwrap_or(false))
        .unwrap_or(false);
    let at: Millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    for (user, on) in shared.typing.update(room, now) {
        let event = Inbound {
            event_id: format!("typing:{room}:{user}:{at}:{on}"),
            endpoint: Endpoint::new(NETWORK, room.as_str()),
            sender: UserRef {
                network: NETWORK.to_owned(),
                id: user.to_string(),
                display_name: None,
                is_bot: false,
                // Typing notices come only from the room's members.
                standing: Standing::Member { groups: Vec::new() },
            },
            at,
            kind: InboundKind::Typing { on },
            customer_endpoint,
            encrypted: false,
        };
        if inbound.send(event).await.is_err() {
            return false;
        }
    }
    true
}

/// Sets the bot's typing notice in `to`'s room.
pub(crate) async fn show(shared: &Shared, to: &Endpoint, on: bool) -> Result<(), BridgeError> {
    let room = rooms::joined(shared, &to.room).await?;
    room.typing_notice(on)
        .await
        .map_err(|e| from_sdk("sending a typing notice", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_who_started_and_who_stopped() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            changes(&set(&["a", "b"]), &set(&["b", "c"])),
            vec![("c".to_string(), true), ("a".to_string(), false)]
        );
        assert!(changes(&set(&["a"]), &set(&["a"])).is_empty());
        assert_eq!(
            changes(&set(&[]), &set(&["a"])),
            vec![("a".to_string(), true)]
        );
    }

    #[test]
    fn a_room_list_is_remembered_until_it_empties() {
        let t = Typing::default();
        let room: OwnedRoomId = "!r:x".try_into().unwrap();
        let alice: OwnedUserId = "@alice:x".try_into().unwrap();
        let once = t.update(&room, [alice.clone()].into());
        assert_eq!(once, vec![(alice.clone(), true)]);
        assert!(t.update(&room, [alice.clone()].into()).is_empty());
        assert_eq!(t.update(&room, BTreeSet::new()), vec![(alice, false)]);
        assert!(t.0.lock().unwrap().is_empty());
    }

    #[test]
    fn the_typing_list_is_read_from_ephemeral_events() {
        let raw: Raw<AnySyncEphemeralRoomEvent> = serde_json::from_str(
            r#"{"type":"m.typing","content":{"user_ids":["@alice:x","@bob:x"]}}"#,
        )
        .unwrap();
        let list = typing_list(&[raw]).unwrap();
        assert_eq!(list.len(), 2);
        assert!(typing_list(&[]).is_none());
    }
}

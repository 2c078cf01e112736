//! Which endpoints are desks, durably: every endpoint a case was ever
//! opened on, and the room holding it. An endpoint keeps its desk role
//! after its case closes or moves (`!transfer`, an SLA move), so what
//! agents write there never reaches the FAQ or opens a case.
//!
//! The store's desk index names only each case's *current* desk; this
//! module keeps the history as small records in the store's per-bridge
//! state under [`NAMESPACE`] (no new tables, both backends alike).
//! Invariant: a desk endpoint is remembered before the case's desk is
//! committed ([`remember`] runs before the worker records the opened case),
//! so there is no moment where a desk is known to the case but not here.

use handoff_bridge_api::Endpoint;

use crate::case::CaseId;
use crate::store::{Store, StoreError};

/// The store's per-bridge state namespace these records live in; no
/// bridge is called this.
pub const NAMESPACE: &str = "core.desks";

/// What an endpoint that is (or was) a desk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The endpoint (a case room, or a case's thread) was last the desk of
    /// this case.
    Case(CaseId),
    /// A staff room holding case threads; anything outside those threads
    /// is staff chatter.
    StaffRoom,
}

/// A case room that is an endpoint of its own (no thread).
const SHARED: &str = "staff-room";

fn endpoint_key(e: &Endpoint) -> String {
    // Unit separators cannot occur in room ids or thread ids.
    format!(
        "ep\u{1f}{}\u{1f}{}\u{1f}{}",
        e.network,
        e.room,
        e.thread.as_deref().unwrap_or("")
    )
}

fn room_key(e: &Endpoint) -> String {
    format!("room\u{1f}{}\u{1f}{}", e.network, e.room)
}

fn notice_key(e: &Endpoint) -> String {
    format!("notice\u{1f}{}", endpoint_key(e))
}

/// Remembers that `desk` is the desk of `case` (and that its room holds
/// desks): a case room is the case's, a room of case threads is a staff
/// room.
pub fn remember(store: &dyn Store, desk: &Endpoint, case: CaseId) -> Result<(), StoreError> {
    store.bridge_put(NAMESPACE, &endpoint_key(desk), case.to_string().as_bytes())?;
    if desk.thread.is_some() {
        store.bridge_put(NAMESPACE, &room_key(desk), SHARED.as_bytes())?;
    }
    Ok(())
}

/// The role of `at`: as a desk endpoint itself, else through its room (a
/// thread inside a case room belongs to that case; anything else in a
/// staff room is chatter). None: never a desk.
pub fn lookup(store: &dyn Store, at: &Endpoint) -> Result<Option<Role>, StoreError> {
    let case_of = |key: &str| -> Result<Option<CaseId>, StoreError> {
        Ok(store
            .bridge_get(NAMESPACE, key)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok()))
    };
    if let Some(case) = case_of(&endpoint_key(at))? {
        return Ok(Some(Role::Case(case)));
    }
    if at.thread.is_some() {
        let room = Endpoint::new(at.network.clone(), at.room.clone());
        if let Some(case) = case_of(&endpoint_key(&room))? {
            return Ok(Some(Role::Case(case)));
        }
    }
    Ok(store
        .bridge_get(NAMESPACE, &room_key(at))?
        .map(|_| Role::StaffRoom))
}

/// Whether `text` should be posted at `at` now: false when it is the
/// notice last posted there (one notice per case change, not one per
/// message). Records `text` as posted when true.
pub fn notice_due(store: &dyn Store, at: &Endpoint, text: &str) -> Result<bool, StoreError> {
    let key = notice_key(at);
    if store.bridge_get(NAMESPACE, &key)?.as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    store.bridge_put(NAMESPACE, &key, text.as_bytes())?;
    Ok(true)
}

/// Whether `user` is refused on case `case` for the first time (they get
/// one explanation per case, not one per message). Records it when true.
pub fn first_refusal(store: &dyn Store, case: CaseId, user: &str) -> Result<bool, StoreError> {
    let key = format!("refused\u{1f}{case}\u{1f}{user}");
    if store.bridge_get(NAMESPACE, &key)?.is_some() {
        return Ok(false);
    }
    store.bridge_put(NAMESPACE, &key, b"1")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[test]
    fn desks_keep_their_role_and_staff_rooms_are_known_by_room() {
        let store = MemoryStore::new();
        let room = Endpoint::new("matrix", "!case:x");
        let thread = Endpoint::new("matrix", "!staff:x").in_thread("$root");
        assert_eq!(lookup(&store, &room).unwrap(), None);
        remember(&store, &room, 12).unwrap();
        remember(&store, &thread, 13).unwrap();
        assert_eq!(lookup(&store, &room).unwrap(), Some(Role::Case(12)));
        // A native thread inside a case room belongs to the case.
        let in_room = room.clone().in_thread("$t");
        assert_eq!(lookup(&store, &in_room).unwrap(), Some(Role::Case(12)));
        assert_eq!(lookup(&store, &thread).unwrap(), Some(Role::Case(13)));
        let chatter = Endpoint::new("matrix", "!staff:x");
        assert_eq!(lookup(&store, &chatter).unwrap(), Some(Role::StaffRoom));
        let other_thread = chatter.clone().in_thread("$other");
        assert_eq!(
            lookup(&store, &other_thread).unwrap(),
            Some(Role::StaffRoom)
        );
        // A later case on the same endpoint takes it over.
        remember(&store, &room, 20).unwrap();
        assert_eq!(lookup(&store, &room).unwrap(), Some(Role::Case(20)));
    }

    #[test]
    fn a_person_is_refused_once_per_case() {
        let store = MemoryStore::new();
        assert!(first_refusal(&store, 1, "U1").unwrap());
        assert!(!first_refusal(&store, 1, "U1").unwrap());
        assert!(first_refusal(&store, 1, "U2").unwrap());
        assert!(first_refusal(&store, 2, "U1").unwrap());
    }

    #[test]
    fn a_notice_is_due_once_per_text() {
        let store = MemoryStore::new();
        let at = Endpoint::new("matrix", "!case:x");
        assert!(notice_due(&store, &at, "case #1 is resolved").unwrap());
        assert!(!notice_due(&store, &at, "case #1 is resolved").unwrap());
        assert!(notice_due(&store, &at, "case #1 moved to billing").unwrap());
    }
}

//! The one test suite every [`Store`] backend must pass, plus its builders.
//!
//! Backends call `store_suite!(fixture_fn)` in their test module; the macro
//! generates one `#[test]` per case in `writes`, `indexes` and
//! `transcripts`, so a failure names the
//! backend and the case. A new backend gets the whole suite for free.
//! Invariant: cases use only the `Store` trait, never a backend's internals
//! (backend-only tests live next to the backend).

mod indexes;
mod transcripts;
mod writes;

pub(crate) use indexes::*;
pub(crate) use transcripts::*;
pub(crate) use writes::*;

use std::sync::Arc;

use handoff_bridge_api::{Endpoint, MessageRef, Millis, UserRef};

use crate::conversation::Effect;

use super::Store;
use crate::case::{
    Case, CaseDesk, CaseId, CaseState, Conversation, ConversationKey, Customer, EscalationReason,
    OutboxEntry,
};

/// A store under test and whatever must outlive it (a temporary directory).
pub(crate) struct Fixture {
    pub store: Arc<dyn Store>,
    pub _keep: Option<tempfile::TempDir>,
}

/// Generates one `#[test]` per suite case, each on a fresh store from `$make`.
macro_rules! store_suite {
    ($make:path) => {
        $crate::store::suite::store_suite!(@each $make;
            commit_writes_everything,
            commit_of_seen_event_writes_nothing,
            racing_commits_of_one_event_succeed_once,
            dedupe_marks_only_committed_events,
            case_ids_count_up_from_one,
            case_ids_are_unique_across_threads,
            outbox_seqs_are_unique_across_threads,
            desk_index_follows_the_case,
            customer_index_is_newest_first,
            open_cases_follow_state,
            cases_since_uses_opened_at,
            twins_are_stored_both_ways,
            twins_are_found_without_the_thread,
            outbox_keeps_order_and_updates,
            outbox_is_read_after_a_sequence_with_a_filter_and_a_limit,
            outbox_done_is_atomic_and_final,
            parked_entries_are_kept_and_can_be_retried,
            bridge_state_is_per_bridge,
            prune_forgets_only_old_ids,
            conversations_are_listed_by_key,
            transcripts_grow_by_appending,
            heads_leave_the_transcript_out,
            a_head_written_back_writes_nothing,
            a_rewritten_turn_replaces_the_stored_one,
            an_erasure_removes_and_rewrites_in_one_write,
            a_transcript_read_during_appends_is_whole,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let fixture = $make();
                $crate::store::suite::$name(fixture.store.clone());
            }
        )*
    };
}
pub(crate) use store_suite;

pub(crate) fn user(network: &str, id: &str) -> UserRef {
    UserRef {
        network: network.into(),
        id: id.into(),
        display_name: None,
        is_bot: false,
        standing: Default::default(),
    }
}

pub(crate) fn msg(network: &str, room: &str, id: &str) -> MessageRef {
    MessageRef {
        endpoint: Endpoint::new(network, room),
        id: id.into(),
    }
}

/// Built from the required fields only (as JSON), so fields added later to
/// `Conversation` with `#[serde(default)]` need no change here.
pub(crate) fn conversation(user_id: &str, at: Millis) -> Conversation {
    let endpoint = Endpoint::new("matrix", "!support:x");
    let u = user("matrix", user_id);
    serde_json::from_value(serde_json::json!({
        "key": ConversationKey::new(&endpoint, &u),
        "customer": Customer { user: u, endpoint, encrypted: false },
        "case": null,
        "bot_since": at,
        "last_customer_at": at,
    }))
    .expect("the required fields of a Conversation")
}

/// Built from the required fields only, like [`conversation`].
pub(crate) fn case(id: CaseId, user_id: &str, state: CaseState, opened_at: Millis) -> Case {
    let conv = conversation(user_id, opened_at);
    serde_json::from_value(serde_json::json!({
        "id": id,
        "conversation": conv.key,
        "customer": conv.customer,
        "team": "billing",
        "reason": EscalationReason::Vip,
        "state": state,
        "opened_at": opened_at,
        "bot_since": opened_at,
    }))
    .expect("the required fields of a Case")
}

pub(crate) fn with_desk(mut c: Case, room: &str) -> Case {
    let endpoint = Endpoint::new("slack", "C-desk").in_thread(room);
    c.desk = Some(CaseDesk {
        summary: MessageRef {
            endpoint: endpoint.clone(),
            id: format!("{room}.summary"),
        },
        endpoint,
    });
    c
}

pub(crate) fn entry(text: &str) -> OutboxEntry {
    let conv = conversation("@c:x", 0);
    OutboxEntry {
        conversation: conv.key,
        key: format!("key-{text}"),
        effect: Effect::Say {
            text: text.into(),
            choices: Vec::new(),
        },
        attempts: 0,
    }
}

pub(crate) fn assigned() -> CaseState {
    CaseState::Assigned {
        agent_id: "U1".into(),
        agent: "Ann".into(),
    }
}

pub(crate) fn resolved() -> CaseState {
    CaseState::Resolved { by: "Ann".into() }
}

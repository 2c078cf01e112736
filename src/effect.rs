//! What the state machine asks the runtime to do: plain data, stored in
//! the durable outbox (`case::OutboxEntry`) and resolved into bridge
//! actions only when delivered. Part of the model, so the store depends
//! on it and never on the state machine (`conversation` re-exports it).

use handoff_bridge_api::{Attachment, Choice, DeskTarget, Endpoint, MessageRef, Text};
use serde::{Deserialize, Serialize};

use crate::case::CaseId;

/// Which side of a case a relay goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Customer,
    Desk,
}

/// A relayed item. `source` refs are the originals, so the router can map
/// them to what it delivers and find twins for edits, deletes and replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relayed {
    Message {
        source: MessageRef,
        text: Text,
        from: String,
        reply_to: Option<MessageRef>,
    },
    Edit {
        target: MessageRef,
        text: Text,
    },
    Delete {
        target: MessageRef,
    },
    Reaction {
        source: MessageRef,
        target: MessageRef,
        key: String,
    },
    File {
        source: MessageRef,
        file: Attachment,
        from: String,
    },
}

/// What the router must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// The bot says something to the customer; with `choices`, a question
    /// whose likely answers the customer's network may offer as buttons
    /// (the text must read well without them).
    Say {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        choices: Vec<Choice>,
    },
    /// Open the case on a desk of `network`, posting and pinning `summary`.
    OpenCase {
        case: CaseId,
        network: String,
        desk: DeskTarget,
        summary: handoff_bridge_api::CaseSummary,
    },
    /// Replace the pinned summary: at `message` if given, else at the
    /// case's current desk.
    UpdateSummary {
        case: CaseId,
        message: Option<MessageRef>,
        summary: handoff_bridge_api::CaseSummary,
    },
    /// A notice on the case's desk (SLA pings), with an optional mention;
    /// at `at` instead when given (a former desk of the case).
    Notify {
        case: CaseId,
        text: String,
        mention: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Endpoint>,
    },
    /// The case is over on `desk` (resolved there, or moved away): its
    /// bridge may stop following it there.
    CloseDesk { case: CaseId, desk: Endpoint },
    /// The case is open again on `desk` (the customer came back soon after
    /// it was resolved there): its bridge follows it again.
    ReopenDesk { case: CaseId, desk: Endpoint },
    /// Tell `user` alone, on the case's desk, why what they write there
    /// goes nowhere (they are not an agent of the case's team).
    Explain {
        case: CaseId,
        user: String,
        text: String,
    },
    /// Carry something across.
    Relay {
        case: CaseId,
        to: Side,
        item: Relayed,
    },
}

//! Realistic records for the store and scale benchmarks: a customer's
//! conversation queued for a human, its open case (transcript, desk,
//! queue position) and the relay outbox entry a customer message produces.
//!
//! Only value construction: writing them is the benchmarks' job, through
//! the real `Store` API. The invariant: what is built here is what the
//! router itself would have committed for the same situation (a case in
//! `Queued` whose conversation links it, so it is in `Phase::Queued`), so a
//! daemon started on a seeded store treats the cases as its own.

use handoff::case::{
    Case, CaseDesk, CaseState, Conversation, ConversationKey, Customer, EscalationReason,
    OutboxEntry, Speaker, Turn,
};
use handoff::conversation::{Effect, Relayed, Side};
use handoff_bridge_api::{Endpoint, MessageRef, Millis, Text, UserRef};

/// Customer `n` (Matrix), talking to the bot in their own room.
pub fn customer(n: u64) -> Customer {
    Customer {
        user: UserRef {
            network: "matrix".into(),
            id: format!("@customer{n}:localhost"),
            display_name: Some(format!("Customer {n}")),
            is_bot: false,
            standing: Default::default(),
        },
        endpoint: Endpoint::new("matrix", format!("!customer{n}:localhost")),
        encrypted: false,
    }
}

/// A transcript like the one an escalation leaves: a question, the bot's
/// answer, the rejection and the request for a person.
fn transcript(at: Millis) -> Vec<Turn> {
    let turn = |dt: Millis, speaker: Speaker, text: &str| Turn {
        at: at + dt,
        speaker,
        text: text.into(),
        faq: None,
        internal: false,
        source: None,
        deleted: false,
    };
    vec![
        turn(
            0,
            Speaker::Customer,
            "where can I find my invoice for March?",
        ),
        turn(
            400,
            Speaker::Bot,
            "You find every invoice under Billing → Invoices; each has a PDF download.",
        ),
        turn(
            9_000,
            Speaker::Customer,
            "that didn't help, the March invoice is missing",
        ),
        turn(
            9_300,
            Speaker::System,
            "I'm handing you over to our billing team.",
        ),
    ]
}

/// The conversation and open case of customer `n` with case id `id`,
/// queued at position `position`, opened at `at`, its case room known.
pub fn queued_case(n: u64, id: u64, position: u32, at: Millis, team: &str) -> (Conversation, Case) {
    let customer = customer(n);
    let key = ConversationKey::new(&customer.endpoint, &customer.user);
    let turns = transcript(at - 10_000);
    let desk_room = Endpoint::new("matrix", format!("!case{id}:localhost"));
    let conversation = Conversation {
        key: key.clone(),
        customer: customer.clone(),
        case: Some(id),
        turns: turns.clone(),
        misses_in_row: 0,
        last_answer: None,
        bot_since: at - 10_000,
        last_customer_at: at,
        awaiting_csat: false,
        waiting_acked: false,
        recent_messages: Vec::new(),
        throttled: false,
        clarifying: None,
    };
    let case = Case {
        id,
        conversation: key,
        customer,
        team: team.into(),
        reason: EscalationReason::AnswerRejected {
            faq_id: Some("invoice_copy".into()),
        },
        intent: Some("invoice_copy".into()),
        state: CaseState::Queued,
        opened_at: at,
        bot_since: at - 10_000,
        first_human_reply_at: None,
        closed_at: None,
        desk: Some(CaseDesk {
            endpoint: desk_room.clone(),
            summary: MessageRef {
                endpoint: desk_room,
                id: format!("$summary{id}:localhost"),
            },
        }),
        transcript: turns,
        sla_deadline: None,
        overdue: false,
        out_of_hours: false,
        transfers: Vec::new(),
        previous_cases: Vec::new(),
        told_position: Some(position),
        csat: None,
        desk_authors: Vec::new(),
        closed_team: None,
        reopened: Vec::new(),
        erased_at: None,
    };
    (conversation, case)
}

/// The outbox entry relaying customer message `msg` of case `case` to the
/// desk, keyed like the router keys it (inbound event id + index).
pub fn relay_entry(conversation: &ConversationKey, case: u64, msg: &str) -> OutboxEntry {
    OutboxEntry {
        conversation: conversation.clone(),
        key: format!("{msg}/0"),
        effect: Effect::Relay {
            case,
            to: Side::Desk,
            item: Relayed::Message {
                source: MessageRef {
                    endpoint: Endpoint::new("matrix", "!customer1:localhost"),
                    id: msg.into(),
                },
                text: Text::plain("the March invoice is still missing, can you check?"),
                from: "Customer 1".into(),
                reply_to: None,
            },
        },
        attempts: 0,
    }
}

/// The twin pair a delivered relay records (customer message ⇄ desk copy).
pub fn twin_pair(msg: &str, n: u64) -> (MessageRef, MessageRef) {
    (
        MessageRef {
            endpoint: Endpoint::new("matrix", "!customer1:localhost"),
            id: msg.into(),
        },
        MessageRef {
            endpoint: Endpoint::new("matrix", "!case1:localhost"),
            id: format!("$relayed{n}:localhost"),
        },
    )
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use handoff::case::Phase;

    use super::*;

    #[test]
    fn queued_case_agrees_with_its_conversation() {
        let (conv, case) = queued_case(7, 42, 3, 1_000_000, "billing");
        assert_eq!(Phase::of(conv.case, Some(&case)), Phase::Queued(42));
        assert_eq!(case.conversation, conv.key);
        assert!(case.state.is_open());
        assert_eq!(case.told_position, Some(3));
        assert_eq!(case.customer.user.id, "@customer7:localhost");
    }
}

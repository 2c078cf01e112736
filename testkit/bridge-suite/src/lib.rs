//! `bridge_suite!`: the conformance tests every bridge passes through the
//! contract alone, the way `store_suite!` holds both store backends to one
//! standard. A bridge's integration tests implement [`Harness`] (start the
//! network and the bridge, act as people on the network, read what is
//! visible there) and invoke `bridge_suite!(TheirHarness)`; a new network
//! starts from this suite.
//!
//! What it holds every bridge to:
//! - **idempotent keys**: an `Outgoing` sent twice with one key is carried
//!   out once, and answers the same `Delivered`;
//! - **order per endpoint**: actions sent one after another appear in
//!   that order;
//! - **acknowledgement after the core's commit**: an event whose `Ack` was
//!   dropped unfired is offered again after a restart, with the same
//!   `event_id`;
//! - **edit, delete and reaction mapping**: each names the network id of
//!   the message it targets, as reported in the original `Message`;
//! - **desk roles**: events on a case's desk carry the endpoint the bridge
//!   answered in `CaseOpened`, never flagged as a customer endpoint (a
//!   customer-only network, `Harness::customers_only`, runs the suite in
//!   customer conversations instead, where every event is a customer's);
//! - **agent refusal**: `Explain` reaches the named person at the desk;
//! - **close**: after `CloseCase` what is written on the old desk still
//!   arrives (the core answers it with a notice), and `forget` drops the
//!   delivery records the core no longer needs.

use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::{
    Action, Bridge, BridgeError, Button, CaseStatus, CaseSummary, Choice, Delivered, DeskTarget,
    Endpoint, Inbound, InboundKind, InboundReceiver, MemoryState, Outgoing, Text,
};

/// How long any one expectation may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// People on the network, as the harness creates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Person {
    /// Someone who works the desk.
    Agent,
    /// Someone who can write at the desk but is no agent.
    Outsider,
}

/// One network with its bridge running, driven from outside.
#[async_trait::async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    /// A fresh network and a connected bridge whose `run` sends into a
    /// channel the suite reads with [`Harness::inbound`] (tracked: acks
    /// are the suite's to fire).
    async fn start() -> Self;
    fn bridge(&self) -> Arc<dyn Bridge>;
    fn inbound(&mut self) -> &mut InboundReceiver;
    /// A room or channel where cases open as threads (`DeskTarget::Thread`).
    fn desk_room(&self) -> String;
    /// The network user id of `who`.
    fn user_id(&self, who: Person) -> String;
    /// `who` writes `text` at `at` (in its thread, if any); the network's
    /// id of the new message.
    async fn write(&self, who: Person, at: &Endpoint, text: &str) -> String;
    async fn edit(&self, who: Person, at: &Endpoint, id: &str, text: &str);
    async fn delete(&self, who: Person, at: &Endpoint, id: &str);
    /// `who` reacts with the emoji `key` (e.g. "👍").
    async fn react(&self, who: Person, at: &Endpoint, id: &str, key: &str);
    /// The texts at `at` (in its thread, if any), oldest first, as the
    /// network shows them to `who`.
    async fn visible(&self, who: Person, at: &Endpoint) -> Vec<String>;
    /// Stops the bridge and starts it again on the same network and the
    /// same bridge state.
    async fn restart(&mut self);
    /// The bridge's state (the harness gives it a `MemoryState`).
    fn state(&self) -> Arc<MemoryState>;
    /// True for a network where only customers write (a web widget): no
    /// desk lives there, so the suite runs each test in a fresh customer
    /// conversation from [`Harness::conversation`], where events are
    /// customer events.
    fn customers_only() -> bool {
        false
    }
    /// Where test `n` runs: a case opened as a thread in the desk room
    /// (desk networks), or a new customer conversation the harness
    /// starts (customer-only networks override this).
    async fn conversation(&self, n: u32) -> Endpoint {
        open_case(self, n).await
    }
}

/// A summary card for cases the suite opens.
pub fn summary(n: u32) -> CaseSummary {
    let mut card = CaseSummary::new(format!("Case #{n} · suite"), CaseStatus::Waiting, "Waiting")
        .field("Customer", format!("customer {n}"));
    card.buttons = vec![Button {
        action: "claim".into(),
        label: "Claim".into(),
        options: vec![],
    }];
    card
}

/// Opens case `n` as a thread in the desk room; its desk endpoint.
pub async fn open_case<H: Harness>(h: &H, n: u32) -> Endpoint {
    let out = Outgoing {
        key: format!("suite-open-{n}"),
        action: Action::OpenCase {
            desk: DeskTarget::Thread {
                room: h.desk_room(),
            },
            summary: summary(n),
        },
    };
    match h.bridge().send(&out).await {
        Ok(Delivered::CaseOpened { endpoint, .. }) => endpoint,
        other => panic!("OpenCase answered {other:?}"),
    }
}

/// A plain `Send` of `text` to `to` with key `key`.
pub fn send(key: &str, to: &Endpoint, text: &str) -> Outgoing {
    Outgoing {
        key: key.into(),
        action: Action::Send {
            to: to.clone(),
            body: Text::plain(text),
            as_name: None,
            reply_to: None,
        },
    }
}

/// The next inbound event at `at` matching `pred`, acknowledged; others
/// are acknowledged and skipped.
pub async fn next_at<H: Harness>(
    h: &mut H,
    what: &str,
    at: &Endpoint,
    pred: impl Fn(&Inbound) -> bool,
) -> Inbound {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, h.inbound().recv_tracked()).await {
            Ok(Some(incoming)) => {
                if let Some(ack) = incoming.ack {
                    ack.handled();
                }
                let ev = incoming.event;
                if ev.endpoint == *at && pred(&ev) {
                    return ev;
                }
                skipped.push(ev);
            }
            Ok(None) => panic!("the inbound channel closed while waiting for {what}"),
            Err(_) => panic!("{what}: nothing at {at} within {WAIT:?}; saw {skipped:#?}"),
        }
    }
}

/// Polls `visible` until `cond` holds on it.
pub async fn eventually_visible<H: Harness>(
    h: &H,
    who: Person,
    at: &Endpoint,
    what: &str,
    cond: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = h.visible(who, at).await;
        if cond(&seen) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}; visible at {at}: {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_message_with(ev: &Inbound, text: &str) -> bool {
    matches!(&ev.kind, InboundKind::Message { body, .. } if body.plain.contains(text))
}

/// Sends with one key twice: carried out once, the same answer.
pub async fn sends_are_idempotent_by_key<H: Harness>(h: H) {
    let desk = h.conversation(1).await;
    let out = send("suite-once", &desk, "said exactly once");
    let first = h.bridge().send(&out).await.expect("first send");
    let again = h.bridge().send(&out).await.expect("same key again");
    assert_eq!(first, again, "a repeated key answers the first delivery");
    // A later message proves the bridge has caught up on both sends.
    h.bridge()
        .send(&send("suite-after", &desk, "the next line"))
        .await
        .expect("next send");
    let seen = eventually_visible(&h, Person::Agent, &desk, "both lines", |s| {
        s.iter().any(|t| t.contains("the next line"))
    })
    .await;
    let n = seen
        .iter()
        .filter(|t| t.contains("said exactly once"))
        .count();
    assert_eq!(n, 1, "{seen:#?}");
}

/// Actions sent one after another appear in that order.
pub async fn order_is_kept_per_endpoint<H: Harness>(h: H) {
    let desk = h.conversation(2).await;
    for i in 0..8 {
        h.bridge()
            .send(&send(
                &format!("suite-order-{i}"),
                &desk,
                &format!("line {i} of 8"),
            ))
            .await
            .expect("send");
    }
    let seen = eventually_visible(&h, Person::Agent, &desk, "all eight lines", |s| {
        s.iter().filter(|t| t.contains(" of 8")).count() == 8
    })
    .await;
    let lines: Vec<&String> = seen.iter().filter(|t| t.contains(" of 8")).collect();
    for (i, t) in lines.iter().enumerate() {
        assert!(
            t.contains(&format!("line {i} of 8")),
            "out of order: {lines:#?}"
        );
    }
}

/// An event whose ack was dropped unfired comes again after a restart.
pub async fn unacknowledged_events_come_again<H: Harness>(mut h: H) {
    let desk = h.conversation(3).await;
    h.write(Person::Agent, &desk, "an unstored line").await;
    // Received, but the core "crashes" before storing it: the ack drops.
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let incoming = tokio::time::timeout(left, h.inbound().recv_tracked())
            .await
            .expect("the line arrives")
            .expect("channel open");
        if incoming.event.endpoint == desk && is_message_with(&incoming.event, "an unstored line") {
            drop(incoming.ack);
            break incoming.event;
        }
        if let Some(ack) = incoming.ack {
            ack.handled();
        }
    };
    h.restart().await;
    let again = next_at(&mut h, "the same line after the restart", &desk, |e| {
        is_message_with(e, "an unstored line")
    })
    .await;
    assert_eq!(
        again.event_id, first.event_id,
        "the same event, not a new one"
    );
}

/// Edits, deletes and reactions name the id the message arrived with.
pub async fn edits_deletes_and_reactions_name_their_target<H: Harness>(mut h: H) {
    let desk = h.conversation(4).await;
    let written = h.write(Person::Agent, &desk, "a line to change").await;
    let msg = next_at(&mut h, "the line", &desk, |e| {
        is_message_with(e, "a line to change")
    })
    .await;
    let InboundKind::Message { id, .. } = &msg.kind else {
        unreachable!()
    };
    let id = id.clone();
    h.edit(Person::Agent, &desk, &written, "a changed line")
        .await;
    let edit = next_at(&mut h, "the edit", &desk, |e| {
        matches!(e.kind, InboundKind::Edit { .. })
    })
    .await;
    match &edit.kind {
        InboundKind::Edit { target, body } => {
            assert_eq!(target, &id, "the edit names the message");
            assert!(body.plain.contains("a changed line"), "{body:?}");
        }
        _ => unreachable!(),
    }
    h.react(Person::Agent, &desk, &written, "👍").await;
    let reaction = next_at(&mut h, "the reaction", &desk, |e| {
        matches!(e.kind, InboundKind::Reaction { .. })
    })
    .await;
    match &reaction.kind {
        InboundKind::Reaction { target, key, .. } => {
            assert_eq!(target, &id, "the reaction names the message");
            assert_eq!(key, "👍");
        }
        _ => unreachable!(),
    }
    h.delete(Person::Agent, &desk, &written).await;
    let delete = next_at(&mut h, "the delete", &desk, |e| {
        matches!(e.kind, InboundKind::Delete { .. })
    })
    .await;
    match &delete.kind {
        InboundKind::Delete { target } => assert_eq!(target, &id, "the delete names the message"),
        _ => unreachable!(),
    }
    for ev in [&msg, &edit, &reaction, &delete] {
        assert_eq!(ev.sender.id, h.user_id(Person::Agent));
    }
}

/// Events on a case's desk carry its endpoint and are no customer's.
pub async fn desk_events_keep_the_case_endpoint<H: Harness>(mut h: H) {
    let one = h.conversation(5).await;
    let two = h.conversation(6).await;
    assert_ne!(one, two, "each case its own desk endpoint");
    h.write(Person::Agent, &two, "for case six").await;
    let ev = next_at(&mut h, "case six's line", &two, |e| {
        is_message_with(e, "for case six")
    })
    .await;
    assert_eq!(
        ev.customer_endpoint,
        H::customers_only(),
        "a desk is no customer endpoint; a customer-only network's always is"
    );
    h.write(Person::Agent, &one, "for case five").await;
    let ev = next_at(&mut h, "case five's line", &one, |e| {
        is_message_with(e, "for case five")
    })
    .await;
    assert_eq!(ev.customer_endpoint, H::customers_only());
}

/// `Explain` reaches the person it names, at the desk.
pub async fn explain_reaches_the_person<H: Harness>(h: H) {
    let desk = h.conversation(7).await;
    let outsider = h.user_id(Person::Outsider);
    let out = Outgoing {
        key: "suite-explain".into(),
        action: Action::Explain {
            to: desk.clone(),
            user: outsider,
            body: Text::plain("only the team's agents act on this case"),
        },
    };
    h.bridge().send(&out).await.expect("explain");
    eventually_visible(&h, Person::Outsider, &desk, "the explanation", |s| {
        s.iter().any(|t| t.contains("only the team's agents"))
    })
    .await;
}

/// `Ask` on a network where customers write delivers its text (the
/// choices are extra: buttons where the network has them); a desk-only
/// network refuses it as unsupported.
pub async fn a_question_reads_well_without_its_buttons<H: Harness>(h: H) {
    let at = h.conversation(8).await;
    let out = Outgoing {
        key: "suite-ask".into(),
        action: Action::Ask {
            to: at.clone(),
            body: Text::plain("How did we do? 1 (poor) to 5 (great)"),
            choices: (1..=5)
                .map(|n| Choice {
                    label: n.to_string(),
                    reply: n.to_string(),
                })
                .collect(),
        },
    };
    let result = h.bridge().send(&out).await;
    if !h.bridge().capabilities().customers {
        assert!(
            matches!(result, Err(BridgeError::Unsupported { .. })),
            "a desk-only network answered Ask with {result:?}"
        );
        return;
    }
    assert!(
        matches!(result, Ok(Delivered::Message(_))),
        "Ask answered {result:?}"
    );
    eventually_visible(&h, Person::Agent, &at, "the question", |s| {
        s.iter().any(|t| t.contains("How did we do?"))
    })
    .await;
}

/// After `CloseCase` the desk still reports what is written there, and
/// after `ReopenCase` too; after `forget` the bridge's delivery records
/// are gone.
pub async fn a_closed_case_still_hears_its_desk_and_records_are_forgotten<H: Harness>(mut h: H) {
    let desk = h.conversation(8).await;
    let close = Outgoing {
        key: "suite-close".into(),
        action: Action::CloseCase { desk: desk.clone() },
    };
    assert_eq!(
        h.bridge().send(&close).await.expect("close"),
        Delivered::Done
    );
    h.write(Person::Agent, &desk, "written after the close")
        .await;
    let ev = next_at(&mut h, "a line on the closed desk", &desk, |e| {
        is_message_with(e, "written after the close")
    })
    .await;
    assert_eq!(ev.customer_endpoint, H::customers_only());
    // Reopened (the customer came back soon after the resolve): the same
    // desk is followed again and still heard.
    let reopen = Outgoing {
        key: "suite-reopen".into(),
        action: Action::ReopenCase { desk: desk.clone() },
    };
    assert_eq!(
        h.bridge().send(&reopen).await.expect("reopen"),
        Delivered::Done
    );
    h.write(Person::Agent, &desk, "written after the reopen")
        .await;
    next_at(&mut h, "a line on the reopened desk", &desk, |e| {
        is_message_with(e, "written after the reopen")
    })
    .await;
    let keys: Vec<String> = (0..4).map(|i| format!("suite-forget-{i}")).collect();
    for k in &keys {
        h.bridge()
            .send(&send(k, &desk, &format!("delivered as {k}")))
            .await
            .expect("send");
    }
    let grown = h.state().len();
    for k in &keys {
        h.bridge().forget(k);
    }
    h.bridge().forget("suite-close");
    h.bridge().forget("suite-reopen");
    let after = h.state().len();
    assert!(
        after + keys.len() <= grown,
        "forget drops one record per key at least: {grown} records before, {after} after"
    );
}

/// Generates one `#[tokio::test]` per conformance test for harness `$h`.
#[macro_export]
macro_rules! bridge_suite {
    ($h:ty) => {
        $crate::bridge_suite!(@tests $h;
            sends_are_idempotent_by_key,
            order_is_kept_per_endpoint,
            unacknowledged_events_come_again,
            edits_deletes_and_reactions_name_their_target,
            desk_events_keep_the_case_endpoint,
            explain_reaches_the_person,
            a_question_reads_well_without_its_buttons,
            a_closed_case_still_hears_its_desk_and_records_are_forgotten,
        );
    };
    (@tests $h:ty; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let h = <$h as $crate::Harness>::start().await;
                $crate::$name(h).await;
            }
        )*
    };
}

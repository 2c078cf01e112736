//! The bridge's position on the homeserver against a real Synapse: the
//! sync token moves only past events the core acknowledged, and a limited
//! sync timeline after downtime is read back with `/messages`, in order.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, server, user, wait_members, MemState, Running, WAIT};
use handoff_bridge_api::{Inbound, InboundKind};
use matrix_sdk::ruma::OwnedUserId;

fn text(ev: &Inbound) -> Option<&str> {
    match &ev.kind {
        InboundKind::Message { body, .. } => Some(body.plain.as_str()),
        _ => None,
    }
}

#[tokio::test]
async fn an_event_the_core_did_not_store_is_offered_again() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let customer = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    let mut bot = Running::start_tracked(cfg, Arc::new(MemState::default())).await;
    let room_id = customer.create_room("help", &[bot_id]).await.unwrap();
    wait_members(&customer, &room_id, 2).await;

    customer.send_text(&room_id, "one").await.unwrap();
    let mut offers = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while offers < 2 {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let incoming = tokio::time::timeout(left, bot.rx.recv_tracked())
            .await
            .expect("\"one\" offered twice")
            .expect("channel open");
        let ack = incoming.ack.expect("the Matrix bridge asks for acks");
        if text(&incoming.event) == Some("one") {
            offers += 1;
            if offers == 1 {
                drop(ack); // the core's store failed: not handled
                continue;
            }
        }
        ack.handled();
    }

    // Once acknowledged, it is not offered again.
    customer.send_text(&room_id, "two").await.unwrap();
    let (_, before) = bot.wait_for("\"two\"", |e| text(e) == Some("two")).await;
    assert!(
        before.iter().all(|e| text(e) != Some("one")),
        "\"one\" came back after it was handled: {before:#?}"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_gap_after_downtime_is_read_back_in_order() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(MemState::default());
    let customer = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    cfg.sync_timeline_limit = Some(5);
    let mut bot = Running::start_tracked(cfg.clone(), state.clone()).await;
    let room_id = customer.create_room("help", &[bot_id]).await.unwrap();
    wait_members(&customer, &room_id, 2).await;
    customer.send_text(&room_id, "before").await.unwrap();
    bot.wait_for("\"before\"", |e| text(e) == Some("before"))
        .await;
    bot.stop().await;

    // Downtime: five times what one sync carries for the room.
    for i in 1..=25 {
        customer
            .send_text(&room_id, &format!("m{i}"))
            .await
            .unwrap();
    }
    let mut bot = Running::start_tracked(cfg, state).await;
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("m25") {
        let ev = tokio::time::timeout(WAIT, bot.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; got {got:?}"))
            .expect("channel open");
        // "before" may come again: it was acknowledged, but the bridge was
        // stopped before it saved its token (the core dedupes it).
        if let Some(t) = text(&ev).filter(|t| *t != "before") {
            got.push(t.to_owned());
        }
    }
    let want: Vec<String> = (1..=25).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want, "lost, doubled or out of order");
    // Nothing else trails behind.
    let extra = tokio::time::timeout(Duration::from_secs(2), bot.rx.recv()).await;
    if let Ok(Some(ev)) = extra {
        assert!(
            text(&ev).is_none(),
            "unexpected message after the gap: {ev:?}"
        );
    }
    bot.stop().await;
}

#[tokio::test]
async fn an_event_lost_to_a_crash_after_matrix_sdk_saw_it_comes_again() {
    let synapse = server().await;
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(MemState::default());
    let customer = user(&synapse, "carol").await;
    let bot_id: OwnedUserId = format!("@helper:{}", synapse.server_name())
        .try_into()
        .unwrap();
    let mut cfg = config(&synapse, dir.path());
    cfg.auto_join = true;
    cfg.thread_per_customer = false;
    let mut bot = Running::start_tracked(cfg.clone(), state.clone()).await;
    let room_id = customer.create_room("help", &[bot_id]).await.unwrap();
    wait_members(&customer, &room_id, 2).await;

    customer.send_text(&room_id, "lost?").await.unwrap();
    // matrix-sdk has processed (and saved) the batch; the core has not
    // stored the event when the process dies.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let incoming = tokio::time::timeout(left, bot.rx.recv_tracked())
            .await
            .expect("\"lost?\" offered")
            .expect("channel open");
        if text(&incoming.event) == Some("lost?") {
            bot.task.abort();
            break;
        }
        if let Some(ack) = incoming.ack {
            ack.handled();
        }
    }
    bot.stop().await;

    // Nothing new happens on the server before the restart.
    let mut bot = Running::start_tracked(cfg, state).await;
    bot.wait_for("\"lost?\" again", |e| text(e) == Some("lost?"))
        .await;
    bot.stop().await;
}

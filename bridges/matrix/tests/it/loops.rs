//! No loops between two handoff instances in one room: everything a
//! bridge sends carries the `org.handoff.relay` content marker, and a
//! bridge never forwards an event that carries it, whoever sent it. So a
//! second instance's messages, notices, edits, reactions and files in a
//! customer room never reach the first instance's core, with no
//! configuration; the customer's own messages still do.

use crate::common;

use std::sync::Arc;

use common::{config, server, user, wait_members, MemState, Running, PASSWORD};
use handoff_bridge_api::{
    Action, Attachment, Bridge, Delivered, Endpoint, InboundKind, MessageRef, Outgoing, Text,
};
use handoff_matrix::RELAY_MARKER;
use matrix_sdk::ruma::{OwnedEventId, OwnedUserId};
use serde_json::{json, Value};

fn out(key: &str, action: Action) -> Outgoing {
    Outgoing {
        key: key.into(),
        action,
    }
}

fn sent_id(d: Delivered) -> String {
    match d {
        Delivered::Message(m) => m.id,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_instance_in_the_room_is_never_relayed() {
    let synapse = server().await;
    synapse.register("helper2", PASSWORD, false).await.unwrap();
    let carol = user(&synapse, "carol").await;
    let hs = synapse.server_name().to_string();
    let one_id: OwnedUserId = format!("@helper:{hs}").try_into().unwrap();
    let two_id: OwnedUserId = format!("@helper2:{hs}").try_into().unwrap();
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut cfg1 = config(&synapse, dir1.path());
    cfg1.auto_join = true;
    cfg1.thread_per_customer = false;
    let mut cfg2 = config(&synapse, dir2.path());
    cfg2.user = two_id.to_string();
    cfg2.auto_join = true;
    let mut one = Running::start(cfg1, Arc::new(MemState::default())).await;
    let two = Running::start(cfg2, Arc::new(MemState::default())).await;

    let room_id = carol
        .create_room("help", &[one_id.clone(), two_id.clone()])
        .await
        .unwrap();
    wait_members(&carol, &room_id, 3).await;
    let asked = carol.send_text(&room_id, "first question").await.unwrap();
    let (_, _) = one
        .wait_for("the first question", |e| e.event_id == asked.as_str())
        .await;

    // The second instance does everything a bridge does in a room.
    let to = Endpoint::new("matrix", room_id.as_str());
    let b = &two.bridge;
    let said = sent_id(
        b.send(&out(
            "two/send",
            Action::Send {
                to: to.clone(),
                body: Text::plain("an answer from instance two"),
                reply_to: Some(asked.to_string()),
                as_name: Some("Ann".into()),
            },
        ))
        .await
        .unwrap(),
    );
    let target = MessageRef {
        endpoint: to.clone(),
        id: said.clone(),
    };
    let mut ids = vec![said.clone()];
    for (key, action) in [
        (
            "two/notify",
            Action::Notify {
                to: to.clone(),
                body: Text::plain("waiting for an agent"),
                mention: Some("@room".into()),
            },
        ),
        (
            "two/edit",
            Action::Edit {
                target: target.clone(),
                body: Text::plain("an edited answer"),
            },
        ),
        (
            "two/react",
            Action::React {
                target: MessageRef {
                    endpoint: to.clone(),
                    id: asked.to_string(),
                },
                key: "👍".into(),
            },
        ),
        (
            "two/upload",
            Action::Upload {
                to: to.clone(),
                file: Attachment {
                    name: "guide.txt".into(),
                    mime: "text/plain".into(),
                    data: b"read me".to_vec(),
                },
                as_name: Some("Ann".into()),
            },
        ),
    ] {
        ids.push(sent_id(b.send(&out(key, action)).await.unwrap()));
    }

    // Each of them carries the marker, as the homeserver stored it.
    let room = carol.room(&room_id).unwrap();
    for id in &ids {
        let id: OwnedEventId = id.as_str().try_into().unwrap();
        let event = room.event(&id, None).await.unwrap();
        let content = event.raw().get_field::<Value>("content").unwrap().unwrap();
        assert_eq!(content[RELAY_MARKER], json!(true), "{id}: {content}");
    }
    // Even a customer's event with the marker is taken for a relay.
    let marked = room
        .send_raw(
            "m.room.message",
            json!({"msgtype": "m.text", "body": "pretending", RELAY_MARKER: true}),
        )
        .await
        .unwrap()
        .response
        .event_id;

    let again = carol.send_text(&room_id, "second question").await.unwrap();
    let (_, before) = one
        .wait_for("the second question", |e| e.event_id == again.as_str())
        .await;
    assert!(
        before
            .iter()
            .all(|e| e.sender.id != two_id.as_str() || matches!(e.kind, InboundKind::Joined)),
        "instance two's events reached instance one: {before:#?}"
    );
    assert!(before.iter().all(|e| e.event_id != marked.as_str()));
    one.stop().await;
    two.stop().await;
}

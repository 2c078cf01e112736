//! The web widget end to end: the real `handoff` binary with a `[web]`
//! table, a visitor played by a WebSocket client, the agent by a
//! matrix-sdk client in a private case room on a real Synapse; then a
//! SIGKILL of the daemon mid-conversation, a reload and a resend.

use crate::common;

use std::time::Duration;

use common::{user, Handoff, WAIT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const CONFIG: &str = r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{homeserver}"
user = "@helper:localhost"
password = "${HANDOFF_MATRIX_PASSWORD}"

[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
allowed_origins = ["http://shop.test"]

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
topics = ["invoice"]
"#;

/// Connects as the site's page would, retrying while the daemon starts.
async fn connect(port: u16) -> Ws {
    for _ in 0..300 {
        let mut req = format!("ws://127.0.0.1:{port}/ws")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Origin", HeaderValue::from_static("http://shop.test"));
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(req).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the widget never accepted a connection on port {port}");
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .expect("send");
}

/// Reads up to `synced`: the session id, its token and every entry.
async fn welcome(ws: &mut Ws) -> (String, String, Vec<Value>) {
    let mut session = None;
    let mut entries = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        let Some(Ok(Message::Text(t))) = msg else {
            panic!("the socket ended before synced: {msg:?}");
        };
        let v: Value = serde_json::from_str(&t).expect("a JSON frame");
        match v["type"].as_str() {
            Some("welcome") => {
                let s = v["session"].as_str().expect("session").to_string();
                let t = v["token"].as_str().expect("token").to_string();
                session = Some((s, t));
            }
            Some("entry") => entries.push(v),
            Some("synced") => {
                let (s, t) = session.expect("welcome before synced");
                return (s, t, entries);
            }
            _ => panic!("unexpected before synced: {v}"),
        }
    }
}

/// Frames until a message entry satisfying `f`; panics with what was seen.
async fn entry(ws: &mut Ws, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{what}: nothing in time; saw {seen:#?}"));
        let Some(Ok(Message::Text(t))) = msg else {
            panic!("{what}: the socket ended: {msg:?}; saw {seen:#?}");
        };
        let v: Value = serde_json::from_str(&t).expect("a JSON frame");
        if v["type"] == "entry" && v["kind"] == "message" && f(&v) {
            return v;
        }
        seen.push(v);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_widget_visitor_gets_an_answer_then_a_person_on_a_matrix_desk() {
    let synapse = common::synapse_with_bot().await;
    let alice = user(&synapse, "alice").await;
    let port = common::free_port();
    let metrics_port = common::free_port();
    let config = CONFIG
        .replace("{port}", &port.to_string())
        .replace("{metrics_port}", &metrics_port.to_string());
    let mut handoff = Handoff::start(&synapse, &config);

    let mut ws = connect(port).await;
    send(&mut ws, json!({"type": "hello"})).await;
    let (session, token, _) = welcome(&mut ws).await;
    // The FAQ answers from the bot.
    send(
        &mut ws,
        json!({"type": "message", "id": "q1", "text": "how do I reset my password?"}),
    )
    .await;
    let answer = entry(&mut ws, "the FAQ answer", |v| v["from"] == "bot").await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or("")
            .contains("Reset password"),
        "{answer}"
    );
    // Asking for a person opens a private case room for the team.
    send(
        &mut ws,
        json!({"type": "message", "id": "q2", "text": "I want to talk to a person"}),
    )
    .await;
    entry(&mut ws, "the handover notice", |v| {
        v["from"] == "bot" && v["text"].as_str().unwrap_or("").contains("tech team")
    })
    .await;
    let case_room = alice.wait_for_invite(WAIT).await.expect("alice is invited");
    alice.join(&case_room).await.expect("alice joins");
    let summary = common::from_bot(&alice, &case_room, "the summary", |m| {
        m.body.contains("Case #1")
    })
    .await;
    assert!(
        summary.body.contains("how do I reset my password"),
        "{}",
        summary.body
    );
    // The agent's reply reaches the visitor's socket under the agent's name.
    alice
        .send_text(&case_room, "Hi, Alice here. Let's sort it out.")
        .await
        .expect("alice replies");
    let reply = entry(&mut ws, "the agent's reply", |v| {
        v["text"].as_str().unwrap_or("").contains("Alice here")
    })
    .await;
    assert_eq!(reply["from"], "agent", "{reply}");

    // The widget's conversation counts under its network, like a Matrix
    // customer's would under theirs (which stay at zero here).
    let metrics = async {
        let mut last = String::new();
        for _ in 0..120 {
            let (_, m) = common::http_get(metrics_port, "/metrics").await;
            if m.contains("handoff_first_reply_seconds_count{team=\"tech\",network=\"web\"} 1") {
                return m;
            }
            last = m;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the first reply was never counted for the widget:\n{last}");
    };
    let m = metrics.await;
    for want in [
        "handoff_conversations_total{network=\"web\"} 1",
        "handoff_faq_answers_total{network=\"web\"} 1",
        "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\",network=\"web\"} 1",
        "handoff_conversations_total{network=\"matrix\"} 0",
        "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\",network=\"matrix\"} 0",
    ] {
        assert!(m.contains(want), "missing {want:?} in /metrics:\n{m}");
    }

    // The daemon is killed mid-conversation and comes back. The page is
    // reloaded: the same token finds the whole conversation.
    drop(ws);
    handoff.restart_hard();
    let mut ws = connect(port).await;
    send(
        &mut ws,
        json!({"type": "hello", "token": token, "last_seen": 0}),
    )
    .await;
    let (again, _, replay) = welcome(&mut ws).await;
    assert_eq!(again, session, "the same conversation after the restart");
    assert!(
        replay
            .iter()
            .any(|e| e["text"].as_str().unwrap_or("").contains("Alice here")),
        "{replay:#?}"
    );
    // What the visitor typed while disconnected is sent from the outbox,
    // twice (the first ack was lost): the agent sees it once.
    for _ in 0..2 {
        send(
            &mut ws,
            json!({"type": "message", "id": "q3", "text": "my order number is 4711"}),
        )
        .await;
    }
    send(
        &mut ws,
        json!({"type": "message", "id": "q4", "text": "thanks!"}),
    )
    .await;
    alice
        .wait_for_message(&case_room, |m| m.body.contains("thanks!"), WAIT)
        .await
        .expect("the visitor's last line reaches the case room");
    let relayed = alice
        .messages(&case_room)
        .iter()
        .filter(|m| m.body.contains("4711"))
        .count();
    assert_eq!(relayed, 1, "the resent line is relayed exactly once");
    drop(handoff);
}

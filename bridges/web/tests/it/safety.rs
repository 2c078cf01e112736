//! The widget's safety rules through real sockets: foreign origins,
//! forged identities, oversized messages and bursts are refused with a
//! clear answer, and nothing of them reaches the core.

use std::sync::Arc;

use handoff_bridge_api::MemoryState;
use handoff_web::protocol::{ClaimedUser, ClientFrame, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite;

use crate::common::{self, user, Client, Running, SITE};

fn status_of(e: tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_foreign_or_missing_origin_is_refused_at_the_handshake() {
    let run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let err = Client::open(run.addr, Some("https://evil.test"))
        .await
        .err()
        .expect("refused");
    assert_eq!(status_of(err), 403);
    let err = Client::open(run.addr, None).await.err().expect("refused");
    assert_eq!(status_of(err), 403);
    // The server's own origin (the demo page) and the site are allowed.
    let own = format!("http://{}", run.addr);
    assert!(Client::open(run.addr, Some(&own)).await.is_ok());
    assert!(Client::open(run.addr, Some(SITE)).await.is_ok());
}

#[tokio::test]
async fn a_forged_identity_is_refused_with_an_error_frame() {
    let run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let mut c = Client::open(run.addr, Some(SITE)).await.unwrap();
    let mut forged = user("cust-1", "Mallory");
    forged.id = "cust-2".into();
    c.send(&ClientFrame::Hello {
        token: None,
        last_seen: None,
        user: Some(forged),
    })
    .await;
    match c.next().await {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::Identity);
            assert!(message.contains("does not match"), "{message}");
        }
        other => panic!("expected an identity error, got {other:?}"),
    }
    assert_eq!(c.try_next().await, None, "the socket is closed");
    // Not hex at all is refused too, as is any identity without a secret.
    let mut c = Client::open(run.addr, Some(SITE)).await.unwrap();
    c.send(&ClientFrame::Hello {
        token: None,
        last_seen: None,
        user: Some(ClaimedUser {
            id: "cust-1".into(),
            name: None,
            hash: "not-hex".into(),
        }),
    })
    .await;
    assert!(matches!(
        c.next().await,
        ServerFrame::Error {
            code: ErrorCode::Identity,
            ..
        }
    ));
    let mut no_secret = common::settings();
    no_secret.identity_secret = None;
    let run = Running::start(no_secret, Arc::new(MemoryState::default())).await;
    let mut c = Client::open(run.addr, Some(SITE)).await.unwrap();
    c.send(&ClientFrame::Hello {
        token: None,
        last_seen: None,
        user: Some(user("cust-1", "Carla")),
    })
    .await;
    match c.next().await {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::Identity);
            assert!(message.contains("identity_secret"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_oversized_message_is_refused_with_an_error_frame() {
    let mut s = common::settings();
    s.limits.max_message_chars = 100;
    let mut run = Running::start(s, Arc::new(MemoryState::default())).await;
    let (mut c, _) = Client::join(run.addr, None, None, None).await;
    c.send(&ClientFrame::Message {
        id: "big".into(),
        text: "x".repeat(101),
    })
    .await;
    match c.next().await {
        ServerFrame::Error {
            code, id, message, ..
        } => {
            assert_eq!(code, ErrorCode::TooLarge);
            assert_eq!(id.as_deref(), Some("big"));
            assert!(message.contains("100 characters"), "{message}");
        }
        other => panic!("expected too_large, got {other:?}"),
    }
    // Exactly at the cap is fine, and is the first thing the core sees.
    c.say("ok", &"y".repeat(100)).await;
    assert_eq!(run.next().await.event_id.rsplit('/').next(), Some("ok"));
    // Garbage is answered, not fatal.
    c.send_raw("{not json".into()).await;
    let f = c.until(|f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            }
        ),
        "{f:?}"
    );
    c.say("ok2", "still here").await;
}

#[tokio::test]
async fn a_burst_from_one_session_is_throttled_and_others_go_on() {
    let mut s = common::settings();
    s.limits.session_per_minute = 3;
    let mut run = Running::start(s, Arc::new(MemoryState::default())).await;
    let (mut c, _) = Client::join(run.addr, None, None, None).await;
    let mut acked = 0;
    let mut throttled = 0;
    for i in 0..6 {
        let id = format!("b{i}");
        c.send(&ClientFrame::Message {
            id: id.clone(),
            text: format!("burst {i}"),
        })
        .await;
        match c
            .until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await
        {
            ServerFrame::Ack { .. } => acked += 1,
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                retry_after_ms: Some(ms),
                id: Some(got),
                ..
            } => {
                assert!(ms > 0);
                assert_eq!(got, id);
                throttled += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((acked, throttled), (3, 3));
    // Another visitor is not slowed down by this one.
    let (mut other, _) = Client::join(run.addr, None, None, None).await;
    other.say("o1", "hello").await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(
            run.next()
                .await
                .event_id
                .rsplit('/')
                .next()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        got,
        ["b0", "b1", "b2", "o1"],
        "throttled messages never reach the core"
    );
}

#[tokio::test]
async fn too_many_connections_from_one_address_get_429() {
    let mut s = common::settings();
    s.limits.ip_per_minute = 2;
    let run = Running::start(s, Arc::new(MemoryState::default())).await;
    assert!(Client::open(run.addr, Some(SITE)).await.is_ok());
    assert!(Client::open(run.addr, Some(SITE)).await.is_ok());
    let err = Client::open(run.addr, Some(SITE))
        .await
        .err()
        .expect("throttled");
    assert_eq!(status_of(err), 429);
}

//! The conversation through real sockets: replay after a reconnect is
//! only what was missed, a resent message is taken once, tabs share a
//! session, markup is carried as data, and a restart loses nothing.

use std::sync::Arc;

use handoff_bridge_api::{
    Action, Bridge, BridgeError, DeskTarget, Endpoint, InboundKind, MemoryState, MessageRef,
    Outgoing, Text,
};
use handoff_web::protocol::{Author, EntryKind, ServerFrame};

use crate::common::{self, user, Client, Running};

fn send(key: &str, to: &Endpoint, text: &str, as_name: Option<&str>) -> Outgoing {
    Outgoing {
        key: key.into(),
        action: Action::Send {
            to: to.clone(),
            body: Text::plain(text),
            reply_to: None,
            as_name: as_name.map(str::to_string),
        },
    }
}

fn text_of(e: &EntryKind) -> &str {
    match e {
        EntryKind::Message { text, .. } | EntryKind::Notice { text } => text,
        EntryKind::Edit { text, .. } => text,
        EntryKind::Delete { .. } => "",
    }
}

#[tokio::test]
async fn a_reconnect_replays_only_what_was_missed_and_a_restart_loses_nothing() {
    let state = Arc::new(MemoryState::default());
    let run = Running::start(common::settings(), state.clone()).await;
    let (mut c, hello) = Client::join(run.addr, None, None, None).await;
    assert!(hello.fresh && hello.replay.is_empty() && hello.last_seq == 0);
    let to = Endpoint::new("web", &hello.session);
    for i in 0..3 {
        run.bridge
            .send(&send(&format!("k{i}"), &to, &format!("seen {i}"), None))
            .await
            .expect("send");
    }
    let mut last = 0;
    for _ in 0..3 {
        match c.next().await {
            ServerFrame::Entry(e) => last = e.seq,
            other => panic!("expected an entry, got {other:?}"),
        }
    }
    c.close().await;
    for i in 3..5 {
        run.bridge
            .send(&send(
                &format!("k{i}"),
                &to,
                &format!("missed {i}"),
                Some("Alice"),
            ))
            .await
            .expect("send");
    }
    let (c, again) = Client::join(run.addr, Some(&hello.token), Some(last), None).await;
    assert!(!again.fresh);
    assert_eq!(again.session, hello.session, "the token keeps the session");
    let texts: Vec<&str> = again.replay.iter().map(|e| text_of(&e.kind)).collect();
    assert_eq!(texts, ["missed 3", "missed 4"]);
    assert_eq!(again.last_seq, 5);
    assert!(matches!(
        &again.replay[0].kind,
        EntryKind::Message { from: Author::Agent, name: Some(n), .. } if n == "Alice"
    ));
    c.close().await;
    // The daemon restarts: the same token finds the whole conversation.
    run.stop().await;
    let run = Running::start(common::settings(), state).await;
    let (_c, after) = Client::join(run.addr, Some(&hello.token), None, None).await;
    assert_eq!(after.session, hello.session);
    assert_eq!(after.replay.len(), 5, "{:#?}", after.replay);
}

#[tokio::test]
async fn a_message_resent_after_a_reconnect_reaches_the_core_once() {
    let state = Arc::new(MemoryState::default());
    let mut run = Running::start(common::settings(), state).await;
    let (mut c, hello) = Client::join(run.addr, None, None, None).await;
    c.say("m1", "my order is late").await;
    c.close().await;
    // The widget did not see the ack (say the network dropped) and sends again.
    let (mut c, again) = Client::join(run.addr, Some(&hello.token), Some(0), None).await;
    assert_eq!(
        again.replay.len(),
        1,
        "the first send is in the history once"
    );
    c.say("m1", "my order is late").await;
    c.say("m2", "order 1234").await;
    let first = run.next().await;
    let second = run.next().await;
    assert_eq!(first.event_id, format!("{}/m1", hello.session));
    assert_eq!(
        second.event_id,
        format!("{}/m2", hello.session),
        "no second m1 in between"
    );
    assert!(first.customer_endpoint);
    assert_eq!(first.endpoint, Endpoint::new("web", &hello.session));
    assert_eq!(first.sender.id, format!("anonymous:{}", hello.session));
}

#[tokio::test]
async fn tabs_of_one_session_share_the_conversation() {
    let run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let (mut one, hello) = Client::join(run.addr, None, None, None).await;
    let (mut two, _) = Client::join(run.addr, Some(&hello.token), None, None).await;
    one.say("t1", "from tab one").await;
    let seen = two.until(|f| matches!(f, ServerFrame::Entry(_))).await;
    let ServerFrame::Entry(e) = seen else {
        unreachable!()
    };
    assert_eq!(text_of(&e.kind), "from tab one");
    let to = Endpoint::new("web", &hello.session);
    let d = run
        .bridge
        .send(&send("r1", &to, "to both", None))
        .await
        .unwrap();
    for c in [&mut one, &mut two] {
        let f = c
            .until(|f| matches!(f, ServerFrame::Entry(e) if text_of(&e.kind) == "to both"))
            .await;
        assert!(
            matches!(f, ServerFrame::Entry(e) if matches!(e.kind, EntryKind::Message { from: Author::Bot, .. }))
        );
    }
    // Edits and deletes of the bot's message reach the tabs as frames.
    let handoff_bridge_api::Delivered::Message(msg) = d else {
        panic!("a message ref, got {d:?}")
    };
    let edit = Outgoing {
        key: "e1".into(),
        action: Action::Edit {
            target: msg.clone(),
            body: Text::plain("to both, edited"),
        },
    };
    run.bridge.send(&edit).await.unwrap();
    let f = one.until(|f| matches!(f, ServerFrame::Entry(_))).await;
    assert!(
        matches!(f, ServerFrame::Entry(e) if e.kind == EntryKind::Edit { target: msg.id.clone(), text: "to both, edited".into() })
    );
    let del = Outgoing {
        key: "d1".into(),
        action: Action::Delete {
            target: msg.clone(),
        },
    };
    run.bridge.send(&del).await.unwrap();
    let f = one.until(|f| matches!(f, ServerFrame::Entry(_))).await;
    assert!(
        matches!(f, ServerFrame::Entry(e) if e.kind == EntryKind::Delete { target: msg.id.clone() })
    );
    let ghost = MessageRef {
        endpoint: to,
        id: "b-999".into(),
    };
    let err = run
        .bridge
        .send(&Outgoing {
            key: "e2".into(),
            action: Action::Edit {
                target: ghost,
                body: Text::plain("x"),
            },
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn markup_is_carried_as_text_both_ways() {
    let mut run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let (mut c, hello) = Client::join(run.addr, None, None, None).await;
    let evil = "<script>alert(1)</script> <img src=x onerror=alert(2)>";
    c.say("x1", evil).await;
    let ev = run.next().await;
    match &ev.kind {
        InboundKind::Message { body, .. } => {
            assert_eq!(body.plain, evil);
            assert_eq!(body.html, None, "never offered as HTML");
        }
        other => panic!("{other:?}"),
    }
    let to = Endpoint::new("web", &hello.session);
    let mut body = Text::plain("<b>bold</b> & more");
    body.html = Some("<b>bold</b> &amp; more".into());
    run.bridge
        .send(&Outgoing {
            key: "h1".into(),
            action: Action::Send {
                to,
                body,
                reply_to: None,
                as_name: None,
            },
        })
        .await
        .unwrap();
    let f = c
        .until(|f| matches!(f, ServerFrame::Entry(e) if matches!(e.kind, EntryKind::Message { from: Author::Bot, .. })))
        .await;
    let ServerFrame::Entry(e) = f else {
        unreachable!()
    };
    assert_eq!(
        text_of(&e.kind),
        "<b>bold</b> & more",
        "the plain text, literally"
    );
}

#[tokio::test]
async fn a_customer_network_refuses_desk_actions_and_says_so() {
    let run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let caps = run.bridge.capabilities();
    assert!(caps.customers);
    assert!(!caps.threads && !caps.private_rooms && !caps.pins);
    // Buttons here are a question's choices for the visitor.
    assert!(caps.buttons && caps.typing);
    let err = run
        .bridge
        .send(&Outgoing {
            key: "o1".into(),
            action: Action::OpenCase {
                desk: DeskTarget::PrivateRoom {
                    invite: vec![],
                    encrypted: false,
                },
                summary: bridge_suite::summary(1),
            },
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("desks"), "{err}");
    let err = run
        .bridge
        .send(&send(
            "s1",
            &Endpoint::new("web", "nosuchsession"),
            "hi",
            None,
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no web session"), "{err}");
}

#[tokio::test]
async fn a_verified_user_appears_with_id_and_name() {
    let mut run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let (mut c, hello) = Client::join(run.addr, None, None, Some(user("cust-42", "Carla"))).await;
    assert_eq!(hello.user.as_deref(), Some("cust-42"));
    c.say("v1", "hello").await;
    let ev = run.next().await;
    assert_eq!(ev.sender.id, "cust-42");
    assert_eq!(ev.sender.display_name.as_deref(), Some("Carla"));
    c.close().await;
    // Logged out in the same browser: not that user's conversation any more.
    let (_c, anon) = Client::join(run.addr, Some(&hello.token), None, None).await;
    assert!(
        anon.fresh,
        "a verified session is not handed to an anonymous visitor"
    );
    assert_ne!(anon.session, hello.session);
    assert!(anon.replay.is_empty());
}

#[tokio::test]
async fn an_event_the_core_did_not_store_is_offered_again_while_running() {
    let mut run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    let (mut c, hello) = Client::join(run.addr, None, None, None).await;
    c.say("f1", "first try fails").await;
    let first = tokio::time::timeout(common::WAIT, run.rx.recv_tracked())
        .await
        .expect("in time")
        .expect("open");
    // The core's store failed: the ack is dropped unfired.
    drop(first.ack);
    let again = run.next().await;
    assert_eq!(again.event_id, first.event.event_id);
    assert_eq!(again.event_id, format!("{}/f1", hello.session));
    // Once stored, it is not offered a third time: the next event is the next line.
    c.say("f2", "second line").await;
    assert_eq!(run.next().await.event_id, format!("{}/f2", hello.session));
}

#[tokio::test]
async fn a_question_carries_its_choices_and_typing_reaches_every_tab_unstored() {
    let state = Arc::new(MemoryState::default());
    let run = Running::start(common::settings(), state).await;
    let (mut one, hello) = Client::join(run.addr, None, None, None).await;
    let (mut two, _) = Client::join(run.addr, Some(&hello.token), None, None).await;
    let to = Endpoint::new("web", &hello.session);
    let choices = vec![
        handoff_bridge_api::Choice {
            label: "How do I reset my password".into(),
            reply: "How do I reset my password".into(),
        },
        handoff_bridge_api::Choice {
            label: "None of these: talk to a person".into(),
            reply: "None of these: talk to a person".into(),
        },
    ];
    run.bridge
        .send(&Outgoing {
            key: "ask".into(),
            action: Action::Ask {
                to: to.clone(),
                body: Text::plain("Did you mean:\n1. How do I reset my password\n2. None"),
                choices: choices.clone(),
            },
        })
        .await
        .expect("ask");
    for c in [&mut one, &mut two] {
        match c.next().await {
            ServerFrame::Entry(e) => match e.kind {
                EntryKind::Message {
                    from: Author::Bot,
                    choices: got,
                    ..
                } => assert_eq!(got, choices),
                other => panic!("expected the bot's question, got {other:?}"),
            },
            other => panic!("expected an entry, got {other:?}"),
        }
    }
    run.bridge.typing(&to, true).await.expect("typing");
    for c in [&mut one, &mut two] {
        assert_eq!(c.next().await, ServerFrame::Typing { on: true });
    }
    run.bridge.typing(&to, false).await.expect("typing off");
    assert_eq!(one.next().await, ServerFrame::Typing { on: false });
    // Typing is passing: a tab that joins later replays the question
    // with its choices, and no typing.
    let (_three, later) = Client::join(run.addr, Some(&hello.token), Some(0), None).await;
    assert_eq!(later.replay.len(), 1);
    assert!(matches!(
        &later.replay[0].kind,
        EntryKind::Message { choices: c, .. } if c.len() == 2
    ));
    // A typing notice for an endpoint of another network is refused.
    assert!(run
        .bridge
        .typing(&Endpoint::new("matrix", "!r:x"), true)
        .await
        .is_err());
}

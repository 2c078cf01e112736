//! End-to-end checks of the testkit against a real Synapse: users, a room
//! with an invite, a message going across, redaction, and a restart that
//! keeps data. Needs Python 3 with venv/pip (the first run installs Synapse
//! into `<repo>/.synapse/venv`).
#![recursion_limit = "256"]

use std::time::Duration;

use synapse_testkit::{Synapse, TestkitError};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn message_goes_from_one_user_to_another() {
    let synapse = Synapse::start().await.expect("Synapse starts");
    assert!(
        synapse.base_url().starts_with("http://127.0.0.1:"),
        "{}",
        synapse.base_url()
    );
    assert_eq!(synapse.server_name(), "localhost");

    let agent_id = synapse
        .register("agent", "agent-pass", false)
        .await
        .expect("register agent");
    let customer_id = synapse
        .register("customer", "customer-pass", true)
        .await
        .expect("register customer");
    assert_eq!(agent_id, "@agent:localhost");
    assert_eq!(customer_id, "@customer:localhost");

    let agent = synapse
        .login("agent", "agent-pass")
        .await
        .expect("agent logs in");
    let customer = synapse
        .login(&customer_id, "customer-pass")
        .await
        .expect("customer logs in");

    let invitee = customer_id.as_str().try_into().expect("user id");
    let room = agent
        .create_room("case 1", &[invitee])
        .await
        .expect("room created");

    let invited_to = customer
        .wait_for_invite(WAIT)
        .await
        .expect("invite arrives");
    assert_eq!(invited_to, room);
    customer.join(&room).await.expect("customer joins");

    let sent = agent
        .send_text(&room, "hello, how can I help?")
        .await
        .expect("agent sends");
    let got = customer
        .wait_for_message(&room, |m| m.body == "hello, how can I help?", WAIT)
        .await
        .expect("customer receives");
    assert_eq!(got.event_id, sent);
    assert_eq!(got.sender.as_str(), "@agent:localhost");

    let reply = customer
        .send_text(&room, "my order is late")
        .await
        .expect("customer replies");
    let back = agent
        .wait_for_message(&room, |m| m.event_id == reply, WAIT)
        .await
        .expect("agent receives");
    assert_eq!(back.body, "my order is late");

    agent
        .room(&room)
        .expect("agent knows the room")
        .redact(&sent, None, None)
        .await
        .expect("redact");
    let redaction = customer
        .wait_for_redaction(&room, &sent, WAIT)
        .await
        .expect("redaction arrives");
    assert_eq!(redaction.redacts, sent);

    customer.sync_once().await.expect("extra sync");
    let bodies: Vec<_> = customer
        .messages(&room)
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        bodies.iter().filter(|b| *b == "my order is late").count(),
        1,
        "{bodies:?}"
    );
}

#[tokio::test]
async fn restart_keeps_users_rooms_and_messages() {
    let mut synapse = Synapse::start().await.expect("Synapse starts");
    let url = synapse.base_url().to_owned();
    synapse
        .register("alice", "alice-pass", false)
        .await
        .expect("register");
    let room = {
        let alice = synapse.login("alice", "alice-pass").await.expect("login");
        let room = alice.create_room("kept", &[]).await.expect("room");
        alice
            .send_text(&room, "before restart")
            .await
            .expect("send");
        room
    };

    synapse.stop().await;
    let down = synapse.register("bob", "bob-pass", false).await;
    assert!(
        matches!(down, Err(TestkitError::Http { .. })),
        "server should be down: {down:?}"
    );

    synapse.restart().await.expect("restart");
    assert_eq!(synapse.base_url(), url, "same port after restart");
    let alice = synapse
        .login("alice", "alice-pass")
        .await
        .expect("login after restart");
    let old = alice
        .wait_for_message(&room, |m| m.body == "before restart", WAIT)
        .await
        .expect("history kept");
    assert_eq!(old.sender.as_str(), "@alice:localhost");
    let err = synapse
        .register("alice", "other", false)
        .await
        .expect_err("alice still exists");
    assert!(
        matches!(err, TestkitError::Api { status: 400, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_password_is_an_error_not_a_panic() {
    let synapse = Synapse::start().await.expect("Synapse starts");
    synapse
        .register("carol", "right", false)
        .await
        .expect("register");
    let err = synapse
        .login("carol", "wrong")
        .await
        .expect_err("login must fail");
    assert!(matches!(err, TestkitError::Matrix { .. }), "{err}");
    assert!(
        synapse.log_path().is_file(),
        "{}",
        synapse.log_path().display()
    );
}

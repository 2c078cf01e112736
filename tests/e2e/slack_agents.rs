//! The one agent rule on a Slack desk, through the real binary: a channel
//! member not in the team's `agents`, a guest, a Slack Connect user of
//! another organisation and a user Slack cannot look up are each refused
//! (nothing relayed, no command obeyed, one ephemeral explanation each);
//! a listed agent and a member of a listed user group are accepted.

use crate::common;

use common::{slack_connection, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use slack_emulator::{Emulator, EmulatorConfig, Fault};
use synapse_testkit::{Synapse, TestClient};

async fn wait_text(c: &TestClient, room: &OwnedRoomId, want: &str) {
    c.wait_for_message(room, |m| m.body.contains(want), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("customer never saw {want:?}: {e}\nseen: {seen:#?}")
        });
}

#[tokio::test(flavor = "multi_thread")]
async fn only_listed_agents_and_group_members_act_on_a_slack_case() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let gina = emu.add_user("Gina", false);
    let mallory = emu.add_user("Mallory", false);
    let guest = emu.add_guest("Gus", false);
    let outsider = emu.add_external_user("Olga", "T0OTHERORG");
    let ghost = emu.add_user("Ghost", false);
    emu.add_usergroup("@billing-team", std::slice::from_ref(&gina));

    let synapse = Synapse::start().await.expect("synapse");
    synapse
        .register("helper", common::PASSWORD, false)
        .await
        .expect("register the bot");
    let carol = user(&synapse, "carol").await;
    let team = format!(
        r#"
[[team]]
name = "billing"
desk = "slack:#support-billing"
agents = ["{alice}", "@billing-team"]
default = true

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
"#
    );
    let config = slack_connection(&emu) + team.as_str();
    let _handoff = Handoff::start(&synapse, &config);

    let room = carol
        .create_room("support", &[UserId::parse("@helper:localhost").unwrap()])
        .await
        .expect("room");
    // The bot joins on invite; retry until it answers.
    let handed_over =
        common::ask_until(&carol, &room, "I want to talk to a person", "billing team").await;
    assert!(handed_over, "the bot never handed over");
    let root = emu
        .wait_for_message(
            &channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("summary posted in the channel");
    let root_ts = root.ts.to_string();

    let explained = |who: &str| {
        emu.ephemerals(&channel)
            .iter()
            .filter(|e| e.user == who)
            .count()
    };
    let wait_explained = |who: String| {
        let emu = &emu;
        let channel = channel.clone();
        async move {
            emu.wait_for("an ephemeral explanation", WAIT, |e| {
                e.ephemerals(&channel)
                    .iter()
                    .any(|x| x.user == who && x.thread_ts.is_some())
                    .then_some(())
            })
            .await
            .unwrap_or_else(|e| panic!("{who} got no explanation: {e}"));
        }
    };

    // Refused: a member not listed (twice, and a command), a guest, an
    // outsider.
    for (who, text) in [
        (&mallory, "REFUSED from mallory"),
        (&mallory, "!resolve"),
        (&mallory, "REFUSED again from mallory"),
        (&guest, "REFUSED from the guest"),
        (&outsider, "REFUSED from the outsider"),
    ] {
        emu.post_as(who, &channel, Some(&root_ts), text)
            .expect("post");
    }
    for who in [&mallory, &guest, &outsider] {
        wait_explained(who.clone()).await;
    }
    // A user whose lookup fails: the next users.info call is theirs.
    emu.fail_next("users.info", 1, Fault::SlackError("user_not_found".into()));
    emu.post_as(&ghost, &channel, Some(&root_ts), "REFUSED from the ghost")
        .expect("post");
    wait_explained(ghost.clone()).await;

    // Accepted: the listed agent and the group member; the group member's
    // !resolve closes the case.
    emu.post_as(&alice, &channel, Some(&root_ts), "ACCEPTED from Alice")
        .expect("post");
    wait_text(&carol, &room, "ACCEPTED from Alice").await;
    emu.post_as(&gina, &channel, Some(&root_ts), "ACCEPTED from Gina")
        .expect("post");
    wait_text(&carol, &room, "ACCEPTED from Gina").await;
    emu.post_as(&gina, &channel, Some(&root_ts), "!resolve")
        .expect("resolve");
    wait_text(&carol, &room, "has been closed").await;

    // Nothing of the refused reached the customer, and mallory's !resolve
    // was not what closed the case (the close came after Gina's).
    let seen: Vec<String> = carol
        .messages(&room)
        .iter()
        .map(|m| m.body.clone())
        .collect();
    assert!(
        !seen.iter().any(|b| b.contains("REFUSED")),
        "a refused person's message was relayed: {seen:#?}"
    );
    let closes = seen
        .iter()
        .filter(|b| b.contains("has been closed"))
        .count();
    assert_eq!(closes, 1, "{seen:#?}");
    let gina_at = seen.iter().position(|b| b.contains("ACCEPTED from Gina"));
    let closed_at = seen.iter().position(|b| b.contains("has been closed"));
    assert!(
        gina_at < closed_at,
        "closed before Gina's resolve: {seen:#?}"
    );
    // One explanation each, whatever they wrote.
    for who in [&mallory, &guest, &outsider, &ghost] {
        assert_eq!(explained(who), 1, "explanations to {who}");
    }
    for who in [&alice, &gina] {
        assert_eq!(explained(who), 0, "{who} was accepted");
    }
}

//! Getting to the point where relays can be timed: the daemon config (a
//! Matrix desk team and a Slack desk team), a customer's direct chat with
//! the bot, and an escalation that opens a case on each desk, the way the
//! end-to-end tests do it.
//!
//! Not for timing anything (`probe`, `relay`). The invariant: each helper
//! returns only once the next step can rely on its result (the bot answers
//! in the chat; the agent has joined the case room; the Slack thread root
//! exists), or fails with what it was waiting for.

use std::time::Duration;

use anyhow::{anyhow, Context};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use slack_emulator::Emulator;
use synapse_testkit::TestClient;

/// How long any one setup step may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// The daemon config: team `tech` (default) on a Matrix desk with `agent`
/// invited, team `billing` (topic "invoice") in `#support-billing` on Slack.
pub fn config(homeserver: &str, server: &str, emu: &Emulator, metrics_port: u16) -> String {
    format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{homeserver}"
user = "@helper:{server}"
password = "${{HANDOFF_MATRIX_PASSWORD}}"
auto_join = true

[slack]
bot_token = "{bot}"
app_token = "{app}"
api_url = "{api}"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:{server}"]
default = true

[[team]]
name = "billing"
desk = "slack:#support-billing"
topics = ["invoice"]
"#,
        bot = emu.bot_token(),
        app = emu.app_token(),
        api = emu.slack_api_url(),
    )
}

/// The bot's user id on `server`.
pub fn bot_id(server: &str) -> anyhow::Result<OwnedUserId> {
    UserId::parse(format!("@helper:{server}")).map_err(|e| anyhow!("bot user id: {e}"))
}

/// The customer opens a direct chat with the bot and asks an FAQ question
/// until the bot (which joins on invite) answers; returns the room.
pub async fn direct_chat(customer: &TestClient, bot: &OwnedUserId) -> anyhow::Result<OwnedRoomId> {
    let room = customer
        .create_room("support", std::slice::from_ref(bot))
        .await
        .context("creating the customer's room")?;
    for _ in 0..30 {
        customer
            .send_text(&room, "what are your opening hours?")
            .await
            .context("asking the bot")?;
        let answered = customer
            .wait_for_message(&room, |m| &m.sender == bot, Duration::from_secs(2))
            .await;
        if answered.is_ok() {
            return Ok(room);
        }
    }
    Err(anyhow!(
        "the bot never answered {} in {room}",
        customer.user_id()
    ))
}

/// The customer asks for a person; the Matrix agent accepts the invite to
/// the new case room and sees the summary. Returns the case room.
pub async fn matrix_case(
    customer: &TestClient,
    room: &OwnedRoomId,
    agent: &TestClient,
    bot: &OwnedUserId,
) -> anyhow::Result<OwnedRoomId> {
    customer
        .send_text(room, "I want to talk to a person")
        .await
        .context("asking for a person")?;
    let case_room = agent
        .wait_for_invite(WAIT)
        .await
        .context("waiting for the case room invite")?;
    agent
        .join(&case_room)
        .await
        .context("joining the case room")?;
    agent
        .wait_for_message(&case_room, |m| &m.sender == bot, WAIT)
        .await
        .context("waiting for the case summary")?;
    Ok(case_room)
}

/// The customer asks for a person about an invoice (team `billing`, Slack);
/// returns the ts of the case thread's root (the summary).
pub async fn slack_case(
    customer: &TestClient,
    room: &OwnedRoomId,
    emu: &Emulator,
    channel: &str,
) -> anyhow::Result<String> {
    customer
        .send_text(room, "I need to talk to a person about my invoice")
        .await
        .context("asking for a person about an invoice")?;
    let root = emu
        .wait_for_message(
            channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #"),
            WAIT,
        )
        .await
        .map_err(|e| anyhow!("waiting for the case thread in Slack: {e}"))?;
    Ok(root.ts.to_string())
}

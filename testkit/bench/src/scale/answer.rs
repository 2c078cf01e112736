//! Is the daemon responsive while it holds many open cases? A new customer
//! opens a direct chat with the bot and asks FAQ questions; this times the
//! first answer (the bot must join on invite first) and then each answer.
//!
//! Not for throughput or for relays (`relay`). The invariant: every timed
//! answer is a bot message that did not exist before its question was sent,
//! and a question the bot does not answer in time is reported as such,
//! never counted as a latency.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use synapse_testkit::TestClient;

use crate::stats::Samples;

/// Asked until the bot first answers (it may miss what came before it joined).
const FIRST: &str = "what are your opening hours?";
/// The timed question, and a phrase only its answer contains.
const TIMED: (&str, &str) = ("how do I reset my password?", "Reset password");

/// What the customer experienced.
pub struct Answers {
    /// From creating the chat to the bot's first answer (None: no answer
    /// within the limit).
    pub first: Option<Duration>,
    /// Each later question to its answer.
    pub latencies: Samples,
    /// Later questions that got no answer in time.
    pub unanswered: usize,
}

fn bot_messages(
    customer: &TestClient,
    room: &OwnedRoomId,
    bot: &OwnedUserId,
) -> HashSet<OwnedEventId> {
    customer
        .messages(room)
        .into_iter()
        .filter(|m| &m.sender == bot)
        .map(|m| m.event_id)
        .collect()
}

/// Opens a chat with `bot` and asks `questions` FAQ questions after the
/// first answer; each wait is capped by `limit`.
pub async fn probe(
    customer: &TestClient,
    bot: &OwnedUserId,
    questions: usize,
    limit: Duration,
) -> anyhow::Result<Answers> {
    let started = Instant::now();
    let room = customer
        .create_room("support", std::slice::from_ref(bot))
        .await
        .context("opening a chat with the bot")?;
    // The bot joins on invite and may miss what was said before: repeat the
    // question every 2 s until the first answer.
    let mut first = None;
    while started.elapsed() < limit {
        customer.send_text(&room, FIRST).await?;
        let answered = customer
            .wait_for_message(&room, |m| &m.sender == bot, Duration::from_secs(2))
            .await;
        if answered.is_ok() {
            first = Some(started.elapsed());
            break;
        }
    }
    let mut latencies = Samples::new();
    let mut unanswered = 0;
    if first.is_some() {
        for _ in 0..questions {
            let before = bot_messages(customer, &room, bot);
            let t = Instant::now();
            customer.send_text(&room, TIMED.0).await?;
            let got = customer
                .wait_for_message(
                    &room,
                    |m| {
                        &m.sender == bot
                            && m.body.contains(TIMED.1)
                            && !before.contains(&m.event_id)
                    },
                    limit,
                )
                .await;
            match got {
                Ok(_) => latencies.push(t.elapsed()),
                Err(_) => unanswered += 1,
            }
        }
    }
    Ok(Answers {
        first,
        latencies,
        unanswered,
    })
}

//! Downtime catch-up through the real binary (promise 3): while handoff is
//! killed, a customer writes 25 messages in Matrix (more than one sync
//! batch: `sync_timeline_limit = 5`) and the agent 10 replies; after the
//! restart each arrives exactly once and in order, on a Slack desk and on a
//! Matrix desk.
//!
//! Also owns the helpers the other fault tests share: numbered lines and
//! their check, a room's whole history read from the server, the bot's
//! replies in a Slack thread, and opening a claimed Slack case.

use crate::common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::{bot_joined, from_bot, replaces, slack_config, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use slack_emulator::{Emulator, EmulatorConfig};
use synapse_testkit::TestClient;

/// How long a catch-up may take before a test gives up (generous: the
/// emulator's Slack rate limit alone spaces 25 posts over ~25 s).
pub(crate) const CATCH_UP: Duration = Duration::from_secs(180);

/// How long to keep looking for late duplicates once everything arrived.
pub(crate) const SETTLE: Duration = Duration::from_secs(3);

pub(crate) const BOT: &str = "@helper:localhost";

pub(crate) fn helper() -> OwnedUserId {
    UserId::parse(BOT).expect("user id")
}

/// Line `n` of `total` of a series: `"{what} 07/25"`.
pub(crate) fn line(what: &str, n: usize, total: usize) -> String {
    format!("{what} {n:02}/{total}")
}

/// The numbers of the `what` lines in `texts`, in the order they appear (a
/// line present twice counts twice).
pub(crate) fn numbers(texts: &[String], what: &str, total: usize) -> Vec<usize> {
    let mut found = Vec::new();
    for t in texts {
        for n in 1..=total {
            if t.contains(&line(what, n, total)) {
                found.push(n);
            }
        }
    }
    found
}

/// Panics unless lines 1..=`count` of the series are each in `texts`
/// exactly once and in order.
pub(crate) fn assert_once_in_order(
    texts: &[String],
    what: &str,
    count: usize,
    total: usize,
    place: &str,
) {
    let found = numbers(texts, what, total);
    let want: Vec<usize> = (1..=count).collect();
    assert_eq!(
        found, want,
        "{place}: the {what:?} lines are lost, doubled or out of order; everything there: {texts:#?}"
    );
}

/// Polls `probe` every 300 ms until it returns `Some`; panics after
/// `timeout` with `what`.
pub(crate) async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The bodies of `sender`'s messages in `room`, oldest first, read from the
/// server with `/messages` (not the client's sync, which may skip events
/// when many arrive at once); edits are left out.
pub(crate) async fn history(
    c: &TestClient,
    room: &RoomId,
    sender: &str,
) -> Result<Vec<String>, String> {
    let r = c.room(room).map_err(|e| e.to_string())?;
    let mut newest_first = Vec::new();
    let mut from: Option<String> = None;
    for _ in 0..200 {
        let mut opts = MessagesOptions::backward();
        opts.limit = 100u32.into();
        opts.from = from.clone();
        let page = r.messages(opts).await.map_err(|e| e.to_string())?;
        for ev in &page.chunk {
            let Ok(json) = ev.raw().deserialize_as::<serde_json::Value>() else {
                continue;
            };
            let is_edit = json["content"]["m.relates_to"]["rel_type"] == "m.replace";
            if json["type"] == "m.room.message" && json["sender"] == sender && !is_edit {
                if let Some(body) = json["content"]["body"].as_str() {
                    newest_first.push(body.to_owned());
                }
            }
        }
        match page.end {
            Some(end) if !page.chunk.is_empty() => from = Some(end),
            _ => break,
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// Waits until `sender`'s messages in `room` hold at least `count` lines of
/// the `what` series, then (after [`SETTLE`]) returns them all.
pub(crate) async fn wait_history(
    c: &TestClient,
    room: &RoomId,
    sender: &str,
    what: &str,
    count: usize,
    total: usize,
) -> Vec<String> {
    poll(
        &format!("{count} {what:?} lines in {room}"),
        CATCH_UP,
        || async {
            let texts = history(c, room, sender).await.ok()?;
            (numbers(&texts, what, total).len() >= count).then_some(())
        },
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    history(c, room, sender)
        .await
        .expect("read the room history")
}

/// The bot's messages in a Slack case thread (root excluded), oldest first.
pub(crate) fn thread_texts(emu: &Emulator, channel: &str, root: &str) -> Vec<String> {
    emu.thread(channel, root)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.ts.to_string() != root)
        .map(|m| m.text)
        .collect()
}

/// Waits until the thread holds at least `count` lines of the `what`
/// series, then (after [`SETTLE`]) returns all the bot's texts there.
pub(crate) async fn wait_thread(
    emu: &Emulator,
    channel: &str,
    root: &str,
    what: &str,
    count: usize,
    total: usize,
) -> Vec<String> {
    poll(
        &format!("{count} {what:?} lines in the thread"),
        CATCH_UP,
        || async {
            (numbers(&thread_texts(emu, channel, root), what, total).len() >= count).then_some(())
        },
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    thread_texts(emu, channel, root)
}

/// Lines in handoff's log that contain `needle`.
pub(crate) fn log_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// A case open on the Slack desk: the customer's room and the thread.
pub(crate) struct SlackCase {
    pub room: OwnedRoomId,
    pub root_ts: String,
}

/// `carol` asks for a person about an invoice; the case opens as a thread
/// in `channel` and `alice` claims it with the summary's button.
pub(crate) async fn open_slack_case(
    emu: &Emulator,
    channel: &str,
    alice: &str,
    carol: &TestClient,
) -> SlackCase {
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person about my invoice")
        .await
        .expect("ask for a person");
    from_bot(carol, &room, "the handover", |m| {
        m.body.contains("billing team")
    })
    .await;
    let root = emu
        .wait_for_message(
            channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("the summary is posted in the channel");
    let root_ts = root.ts.to_string();
    emu.wait_for("the summary's buttons", WAIT, |e| {
        e.pins(channel)
            .iter()
            .any(|m| m.ts == root.ts)
            .then_some(())
    })
    .await
    .expect("the summary is pinned");
    emu.press_button(alice, channel, &root_ts, "claim", None)
        .expect("press claim");
    emu.wait_for("the claim on the summary", WAIT, |e| {
        e.message(channel, &root_ts)
            .filter(|m| m.text.contains("Assigned to Alice"))
    })
    .await
    .expect("the summary shows the claim");
    from_bot(carol, &room, "the agent joined notice", |m| {
        m.body.contains("Alice has joined")
    })
    .await;
    SlackCase { room, root_ts }
}

/// `config` with `[matrix] sync_timeline_limit = 5`.
pub(crate) fn small_sync_batches(config: &str) -> String {
    let out = config.replacen(
        "auto_join = true\n",
        "auto_join = true\nsync_timeline_limit = 5\n",
        1,
    );
    assert_ne!(out, config, "the config has no [matrix] auto_join line");
    out
}

const CUSTOMER: &str = "customer wrote while handoff was down";
const AGENT: &str = "agent replied while handoff was down";
const CUSTOMER_LINES: usize = 25;
const AGENT_LINES: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn a_slack_desk_case_catches_up_both_ways_after_downtime() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let mut handoff = Handoff::start(&synapse, &small_sync_batches(&slack_config(&emu)));
    let case = open_slack_case(&emu, &channel, &alice, &carol).await;
    let (room, root) = (&case.room, case.root_ts.as_str());

    // Both ways work before the downtime.
    carol
        .send_text(room, "before the downtime")
        .await
        .expect("send");
    emu.wait_for("the line before the downtime", WAIT, |e| {
        thread_texts(e, &channel, root)
            .into_iter()
            .find(|t| t.contains("before the downtime"))
    })
    .await
    .expect("relayed to the thread");
    emu.post_as(&alice, &channel, Some(root), "agent before the downtime")
        .expect("agent posts");
    from_bot(&carol, room, "the agent before the downtime", |m| {
        m.body.contains("agent before the downtime")
    })
    .await;

    handoff.kill();
    for n in 1..=CUSTOMER_LINES {
        carol
            .send_text(room, &line(CUSTOMER, n, CUSTOMER_LINES))
            .await
            .expect("customer sends while handoff is down");
    }
    for n in 1..=AGENT_LINES {
        emu.post_as(&alice, &channel, Some(root), &line(AGENT, n, AGENT_LINES))
            .expect("agent posts while handoff is down");
    }
    let restarted = Instant::now();
    handoff.restart_hard();

    let (thread, customer_saw) = tokio::join!(
        async {
            let texts = wait_thread(
                &emu,
                &channel,
                root,
                CUSTOMER,
                CUSTOMER_LINES,
                CUSTOMER_LINES,
            )
            .await;
            (texts, restarted.elapsed())
        },
        async {
            let texts = wait_history(&carol, room, BOT, AGENT, AGENT_LINES, AGENT_LINES).await;
            (texts, restarted.elapsed())
        },
    );
    assert_once_in_order(
        &thread.0,
        CUSTOMER,
        CUSTOMER_LINES,
        CUSTOMER_LINES,
        "the Slack thread",
    );
    assert_once_in_order(
        &customer_saw.0,
        AGENT,
        AGENT_LINES,
        AGENT_LINES,
        "the customer's room",
    );
    let before = thread
        .0
        .iter()
        .filter(|t| t.contains("before the downtime"))
        .count();
    assert_eq!(
        before, 1,
        "the line from before the downtime was relayed {before} times"
    );
    let log = handoff.log();
    let gaps = log_lines(&log, "read the gap of a limited sync timeline");
    assert!(
        gaps >= 1,
        "25 messages with sync_timeline_limit = 5 should have made a limited sync whose gap is read"
    );
    println!(
        "figures: downtime, Slack desk: {} customer lines in the thread ({} copies, {:.1} s after the restart); \
         {} agent replies at the customer ({} copies, {:.1} s after the restart); {} sync gap(s) read",
        CUSTOMER_LINES,
        numbers(&thread.0, CUSTOMER, CUSTOMER_LINES).len(),
        thread.1.as_secs_f64(),
        AGENT_LINES,
        numbers(&customer_saw.0, AGENT, AGENT_LINES).len(),
        customer_saw.1.as_secs_f64(),
        gaps,
    );
}

const MATRIX_DESK: &str = r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{homeserver}"
user = "@helper:localhost"
password = "${HANDOFF_MATRIX_PASSWORD}"
auto_join = true

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

#[tokio::test(flavor = "multi_thread")]
async fn a_matrix_desk_case_catches_up_both_ways_after_downtime() {
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let mut handoff = Handoff::start(&synapse, &small_sync_batches(MATRIX_DESK));
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    let desk = alice.wait_for_invite(WAIT).await.expect("invite");
    alice.join(&desk).await.expect("join");
    let summary = from_bot(&alice, &desk, "the summary", |m| m.body.contains("Case #1")).await;
    alice.send_text(&desk, "!claim").await.expect("claim");
    from_bot(&alice, &desk, "the claim on the summary", |m| {
        replaces(m).as_ref() == Some(&summary.event_id) && m.body.contains("Assigned to alice")
    })
    .await;
    carol
        .send_text(&room, "before the downtime")
        .await
        .expect("send");
    from_bot(&alice, &desk, "the line before the downtime", |m| {
        m.body.contains("before the downtime")
    })
    .await;

    handoff.kill();
    for n in 1..=CUSTOMER_LINES {
        carol
            .send_text(&room, &line(CUSTOMER, n, CUSTOMER_LINES))
            .await
            .expect("customer sends while handoff is down");
    }
    for n in 1..=AGENT_LINES {
        alice
            .send_text(&desk, &line(AGENT, n, AGENT_LINES))
            .await
            .expect("agent sends while handoff is down");
    }
    let restarted = Instant::now();
    handoff.restart_hard();

    let (at_desk, customer_saw) = tokio::join!(
        async {
            let texts =
                wait_history(&alice, &desk, BOT, CUSTOMER, CUSTOMER_LINES, CUSTOMER_LINES).await;
            (texts, restarted.elapsed())
        },
        async {
            let texts = wait_history(&carol, &room, BOT, AGENT, AGENT_LINES, AGENT_LINES).await;
            (texts, restarted.elapsed())
        },
    );
    assert_once_in_order(
        &at_desk.0,
        CUSTOMER,
        CUSTOMER_LINES,
        CUSTOMER_LINES,
        "the case room",
    );
    assert_once_in_order(
        &customer_saw.0,
        AGENT,
        AGENT_LINES,
        AGENT_LINES,
        "the customer's room",
    );
    let log = handoff.log();
    let gaps = log_lines(&log, "read the gap of a limited sync timeline");
    assert!(
        gaps >= 1,
        "25 messages with sync_timeline_limit = 5 should have made a limited sync whose gap is read"
    );
    println!(
        "figures: downtime, Matrix desk: {} customer lines in the case room ({} copies, {:.1} s after the restart); \
         {} agent replies at the customer ({} copies, {:.1} s after the restart); {} sync gap(s) read",
        CUSTOMER_LINES,
        numbers(&at_desk.0, CUSTOMER, CUSTOMER_LINES).len(),
        at_desk.1.as_secs_f64(),
        AGENT_LINES,
        numbers(&customer_saw.0, AGENT, AGENT_LINES).len(),
        customer_saw.1.as_secs_f64(),
        gaps,
    );
}

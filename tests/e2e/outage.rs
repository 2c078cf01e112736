//! Outages through the real binary (promise 4): the homeserver stopped
//! mid-case (20 s; 120 s, the figure, with `HANDOFF_FULL=1`) while
//! the Slack agent replies, and Slack's Web API failing (HTTP 500s,
//! connections reset after the post took effect) or its Socket Mode refusing
//! connections while the customer writes. Every message arrives exactly once
//! and in order after the fault clears; retries wait longer each time up to
//! the cap; the daemon keeps running throughout.

use crate::common;
use crate::downtime::{
    assert_once_in_order, line, log_lines, numbers, open_slack_case, poll, thread_texts,
    wait_history, wait_thread, BOT, CATCH_UP, SETTLE,
};

use std::time::{Duration, Instant};

use common::{free_port, http_get, slack_config, synapse_with_bot, user, Handoff, WAIT};
use slack_emulator::{CallOutcome, Emulator, EmulatorConfig, Fault};

/// The core's delivery backoff (`RetryPolicy::default()` in
/// `src/router/mod.rs`, drawn by `handoff_bridge_api::backoff`): 500 ms
/// doubling, capped at 60 s, each wait in `[d/2, d)` of its step `d`.
const BASE_MS: u64 = 500;
const CAP_MS: u64 = 60_000;

/// One "delivery will be retried" log line.
#[derive(Debug, Clone, Copy)]
struct Retry {
    seq: u64,
    attempt: u32,
    wait_ms: u64,
}

fn field(line: &str, name: &str) -> Option<u64> {
    let at = line.find(&format!(" {name}="))? + name.len() + 2;
    let digits: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The delivery retries handoff logged, in log order.
fn retries(log: &str) -> Vec<Retry> {
    log.lines()
        .filter(|l| l.contains("delivery will be retried"))
        .filter_map(|l| {
            Some(Retry {
                seq: field(l, "seq")?,
                attempt: field(l, "attempt")? as u32,
                wait_ms: field(l, "wait_ms")?,
            })
        })
        .collect()
}

/// The retries of the outbox entry retried most often, by attempt.
fn longest_series(all: &[Retry]) -> Vec<Retry> {
    let mut seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut best: Vec<Retry> = Vec::new();
    for seq in seqs {
        let mut series: Vec<Retry> = all.iter().copied().filter(|r| r.seq == seq).collect();
        series.sort_by_key(|r| r.attempt);
        if series.len() > best.len() {
            best = series;
        }
    }
    best
}

/// Checks a backoff series: every wait within the cap, and
/// each wait longer than the one before while the doubling is below the cap.
fn assert_backoff(series: &[Retry]) {
    let waits: Vec<u64> = series.iter().map(|r| r.wait_ms).collect();
    for r in series {
        assert!(r.wait_ms <= CAP_MS, "retry wait above the cap: {waits:?}");
    }
    for pair in series.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let nominal_b = BASE_MS.saturating_mul(1u64 << (b.attempt - 1).min(20));
        if b.attempt == a.attempt + 1 && nominal_b <= CAP_MS {
            assert!(
                b.wait_ms > a.wait_ms,
                "retry waits did not grow below the cap: {waits:?}"
            );
        }
    }
}

fn with_metrics(config: &str, port: u16) -> String {
    format!("{config}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n")
}

const DOWN: &str = "agent replied while the homeserver was down";
const DOWN_LINES: usize = 5;

#[tokio::test(flavor = "multi_thread")]
async fn a_homeserver_outage_is_waited_out_and_nothing_is_lost() {
    let full = std::env::var("HANDOFF_FULL").is_ok_and(|v| v == "1");
    let outage = Duration::from_secs(if full { 120 } else { 20 });
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let mut synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let port = free_port();
    let handoff = Handoff::start(&synapse, &with_metrics(&slack_config(&emu), port));
    let case = open_slack_case(&emu, &channel, &alice, &carol).await;
    let (room, root) = (&case.room, case.root_ts.as_str());

    synapse.stop().await;
    let stopped = Instant::now();
    // The agent's replies come in over the first half of the outage.
    for n in 1..=DOWN_LINES {
        emu.post_as(&alice, &channel, Some(root), &line(DOWN, n, DOWN_LINES))
            .expect("the agent posts while the homeserver is down");
        tokio::time::sleep(outage / (2 * DOWN_LINES as u32)).await;
    }
    // The rest of the outage, then the homeserver comes back.
    tokio::time::sleep(outage.saturating_sub(stopped.elapsed())).await;
    let (status, _) = http_get(port, "/healthz").await;
    assert_eq!(status, 200, "handoff stopped answering during the outage");
    synapse.restart().await.expect("restart Synapse");
    let back = Instant::now();
    let down_for = back.duration_since(stopped);

    let saw = wait_history(&carol, room, BOT, DOWN, DOWN_LINES, DOWN_LINES).await;
    let delivered_after = back.elapsed();
    assert_once_in_order(&saw, DOWN, DOWN_LINES, DOWN_LINES, "the customer's room");

    // The sync loop came back too: the customer is heard again.
    carol
        .send_text(room, "customer after the outage")
        .await
        .expect("send");
    emu.wait_for("the customer after the outage", CATCH_UP, |e| {
        thread_texts(e, &channel, root)
            .into_iter()
            .find(|t| t.contains("customer after the outage"))
    })
    .await
    .expect("the customer's message after the outage reaches the thread");
    let heard_after = back.elapsed();

    let log = handoff.log();
    let all = retries(&log);
    let series = longest_series(&all);
    let waits: Vec<u64> = series.iter().map(|r| r.wait_ms).collect();
    assert!(
        series.len() >= 3,
        "a {outage:?} outage should show several delivery retries; saw {all:?}"
    );
    assert_backoff(&series);
    if full {
        assert!(
            waits.iter().any(|w| *w >= CAP_MS / 2),
            "a 120 s outage should reach the capped wait: {waits:?}"
        );
    }
    assert_eq!(
        log_lines(&log, "handoff is running"),
        1,
        "handoff started more than once: it must have exited"
    );
    let (status, _) = http_get(port, "/healthz").await;
    assert_eq!(status, 200, "handoff is not running after the outage");
    println!(
        "figures: homeserver outage {:.1} s; {} delivery retries logged ({} for the first reply, waits {:?} ms); \
         {} sync retries; all {} replies at the customer {:.1} s after Synapse was back ({} copies); \
         the customer heard again {:.1} s after",
        down_for.as_secs_f64(),
        all.len(),
        series.len(),
        waits,
        log_lines(&log, "sync failed; retrying"),
        DOWN_LINES,
        delivered_after.as_secs_f64(),
        numbers(&saw, DOWN, DOWN_LINES).len(),
        heard_after.as_secs_f64(),
    );
}

const FIVE_HUNDREDS: &str = "customer wrote while Slack answered 500";
const REFUSED: &str = "customer wrote while Socket Mode was refused";
const REFUSED_AGENT: &str = "agent replied while Socket Mode was refused";
const RESET: &str = "customer wrote while Slack reset connections";
const FAULTS: u32 = 12;
const LINES: usize = 5;

fn count_outcome(emu: &Emulator, outcome: &CallOutcome) -> usize {
    emu.calls("chat.postMessage")
        .iter()
        .filter(|c| &c.outcome == outcome)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_api_failures_are_retried_without_loss_or_duplicates() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let port = free_port();
    let handoff = Handoff::start(&synapse, &with_metrics(&slack_config(&emu), port));
    let case = open_slack_case(&emu, &channel, &alice, &carol).await;
    let (room, root) = (&case.room, case.root_ts.as_str());

    // 1. The next FAULTS chat.postMessage calls get HTTP 500.
    let errors_before = count_outcome(&emu, &CallOutcome::ServerError);
    emu.fail_next("chat.postMessage", FAULTS, Fault::ServerError);
    let armed = Instant::now();
    for n in 1..=LINES {
        carol
            .send_text(room, &line(FIVE_HUNDREDS, n, LINES))
            .await
            .expect("send");
    }
    poll("every armed 500 to be served", CATCH_UP, || async {
        (count_outcome(&emu, &CallOutcome::ServerError) >= errors_before + FAULTS as usize)
            .then_some(())
    })
    .await;
    let cleared = Instant::now();
    let texts = wait_thread(&emu, &channel, root, FIVE_HUNDREDS, LINES, LINES).await;
    let five_hundreds_delivered = cleared.elapsed().saturating_sub(SETTLE);
    assert_once_in_order(&texts, FIVE_HUNDREDS, LINES, LINES, "the thread (500s)");
    let core_retries_500 = retries(&handoff.log()).len();
    assert!(
        core_retries_500 >= 1,
        "{FAULTS} 500s in a row should outlast the Slack client's own attempts and reach the core's retry"
    );

    // 2. Socket Mode drops and is refused for a while: the customer's
    // lines still go out; the agent's replies arrive once it is back.
    let refuse = Duration::from_secs(10);
    emu.refuse_connections(refuse);
    emu.drop_sockets();
    let dropped = Instant::now();
    for n in 1..=LINES {
        carol
            .send_text(room, &line(REFUSED, n, LINES))
            .await
            .expect("send");
    }
    for n in 1..=3 {
        emu.post_as(&alice, &channel, Some(root), &line(REFUSED_AGENT, n, 3))
            .expect("agent posts while Socket Mode is refused");
    }
    let (texts, saw) = tokio::join!(
        wait_thread(&emu, &channel, root, REFUSED, LINES, LINES),
        wait_history(&carol, room, BOT, REFUSED_AGENT, 3, 3),
    );
    let refused_delivered = dropped.elapsed();
    assert_once_in_order(&texts, REFUSED, LINES, LINES, "the thread (socket refused)");
    assert_once_in_order(
        &saw,
        REFUSED_AGENT,
        3,
        3,
        "the customer's room (socket refused)",
    );
    emu.wait_for_sockets(1, WAIT)
        .await
        .expect("Socket Mode reconnected");

    // 3. The post takes effect but the connection resets before the
    // answer: the retry must find the message, not post it again.
    let resets_before = count_outcome(&emu, &CallOutcome::Reset);
    emu.fail_next("chat.postMessage", 2, Fault::ResetAfterCommit);
    for n in 1..=3 {
        carol
            .send_text(room, &line(RESET, n, 3))
            .await
            .expect("send");
    }
    let texts = wait_thread(&emu, &channel, root, RESET, 3, 3).await;
    assert_once_in_order(&texts, RESET, 3, 3, "the thread (resets after commit)");
    let resets = count_outcome(&emu, &CallOutcome::Reset) - resets_before;
    assert_eq!(resets, 2, "the armed resets were not all served");

    // Nothing of the earlier phases was doubled meanwhile.
    let all = thread_texts(&emu, &channel, root);
    assert_once_in_order(&all, FIVE_HUNDREDS, LINES, LINES, "the whole thread");
    assert_once_in_order(&all, REFUSED, LINES, LINES, "the whole thread");
    let log = handoff.log();
    assert_eq!(
        log_lines(&log, "handoff is running"),
        1,
        "handoff started more than once: it must have exited"
    );
    let (status, _) = http_get(port, "/healthz").await;
    assert_eq!(status, 200, "handoff is not running after the faults");
    println!(
        "figures: Slack 500s: {FAULTS} in a row served over {:.1} s, {} core delivery retries, \
         {} Slack client retries; all {LINES} lines in the thread {:.1} s after the last 500; \
         Socket Mode refused {:.0} s: {LINES} customer lines and 3 agent replies through {:.1} s after the drop; \
         2 resets after commit: 3 lines, each once",
        (cleared - armed).as_secs_f64(),
        core_retries_500,
        log_lines(&log, "transient Slack failure; retrying"),
        five_hundreds_delivered.as_secs_f64(),
        refuse.as_secs_f64(),
        refused_delivered.as_secs_f64(),
    );
}

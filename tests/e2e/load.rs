//! Load through the real binary (promise 12 in docs/reliability.md): 100
//! Matrix customers at once, each handed over to a Slack desk on the
//! emulator (four team channels) and claimed by an agent, then numbered
//! lines relayed both ways in all cases at once. Asserts that every line
//! arrives exactly once, in order, in its own case; prints relay latency
//! per direction and wall times (latency is measured, never asserted).
//!
//! Customer → agent latency runs from just before the customer's send to
//! the relayed message's Slack `ts` (the emulator mints it from the wall
//! clock, in microseconds, when the bot's post lands). Agent → customer
//! latency runs from the agent's post to the moment the customer's client
//! sees the relayed event (its inbox wakes waiters on every change).
//! `HANDOFF_FULL=1` relays 10 lines per direction and case instead of 3.

use crate::common;
use crate::crash::{bot_messages, full, now_micros, numbered_lines, slack_mentions, Audit, Rng};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bot_joined, from_bot, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, UserId};
use slack_emulator::{Emulator, EmulatorConfig};
use synapse_testkit::{Synapse, TestClient};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const CUSTOMERS: u32 = 100;
/// Customers registered and handed over at the same time.
const SETUP_PARALLEL: usize = 10;
/// Teams, each with its own Slack channel and agent; case `n` goes to
/// desk `n % DESKS` through its topic word.
const DESKS: u32 = 4;
const TOPICS: [&str; DESKS as usize] = ["alpha", "bravo", "charlie", "delta"];
/// How long the relay phase may take before what is missing is reported.
const RELAY_TIMEOUT: Duration = Duration::from_secs(180);
const SETTLE: Duration = Duration::from_secs(2);
const BOT: &str = "@helper:localhost";

fn config(emu: &Emulator) -> String {
    let mut teams = String::new();
    for (d, topic) in TOPICS.iter().enumerate() {
        teams.push_str(&format!(
            "\n[[team]]\nname = \"desk{d}\"\ndesk = \"slack:#load-desk-{d}\"\ntopics = [\"{topic}\"]\n{}",
            if d == 0 { "default = true\n" } else { "" }
        ));
    }
    // The FAQ routes some entries to `billing` and `tech`: keep both teams.
    let mut config = common::slack_connection(emu);
    config.push_str(&format!(
        r#"{teams}
[[team]]
name = "billing"
desk = "slack:#load-desk-0"

[[team]]
name = "tech"
desk = "slack:#load-desk-1"
"#
    ));
    config
}

struct Case {
    n: u32,
    customer: Arc<TestClient>,
    room: OwnedRoomId,
    channel: String,
    agent: String,
    root: String,
}

/// Registers customer `n`, opens their room with the bot and asks for a
/// person; returns once the bot confirmed the handover.
async fn hand_over(synapse: &Synapse, n: u32) -> (TestClient, OwnedRoomId) {
    let customer = user(synapse, &format!("loadcust{n:03}")).await;
    let room = customer
        .create_room("support", &[UserId::parse(BOT).expect("bot id")])
        .await
        .expect("customer room");
    bot_joined(&customer, &room).await;
    let topic = TOPICS[(n % DESKS) as usize];
    customer
        .send_text(&room, &format!("I want to talk to a person about {topic}"))
        .await
        .expect("ask for a person");
    let team = format!("desk{} team", n % DESKS);
    from_bot(&customer, &room, "the handover", |m| m.body.contains(&team)).await;
    (customer, room)
}

/// A relayed agent line as the customer got it (µs since the epoch).
#[derive(Clone, Copy)]
struct Seen {
    /// When the customer's client saw it.
    at: u64,
    /// When Synapse accepted the bot's event (`origin_server_ts`, ms resolution).
    accepted: u64,
}

/// When each agent line `1..=lines` of case `n` first reached the customer;
/// `None` for lines not seen by `deadline`.
async fn watch_agent_lines(
    customer: Arc<TestClient>,
    room: OwnedRoomId,
    n: u32,
    lines: u32,
    deadline: Instant,
) -> Vec<Option<Seen>> {
    let mut seen_at = vec![None; lines as usize];
    let mut known: HashSet<OwnedEventId> = HashSet::new();
    while seen_at.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let found = customer
            .wait_for_message(
                &room,
                |m| {
                    m.sender == BOT
                        && !known.contains(&m.event_id)
                        && !numbered_lines(&m.body, 'a').is_empty()
                },
                left,
            )
            .await;
        let at = now_micros();
        let Ok(m) = found else { break };
        known.insert(m.event_id.clone());
        let accepted = u64::from(m.event.origin_server_ts.0) * 1000;
        for (case, k) in numbered_lines(&m.body, 'a') {
            if case == n && (1..=lines).contains(&k) && seen_at[k as usize - 1].is_none() {
                seen_at[k as usize - 1] = Some(Seen { at, accepted });
            }
        }
    }
    seen_at
}

/// Customer lines (`c…`) the bot posted in a case's thread: (case, line, ts µs).
fn thread_lines(emu: &Emulator, case: &Case) -> Vec<(u32, u32, u64)> {
    emu.thread(&case.channel, &case.root)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.ts.to_string() != case.root)
        .flat_map(|m| {
            numbered_lines(&m.text, 'c')
                .into_iter()
                .map(move |(c, k)| (c, k, m.ts.0))
        })
        .collect()
}

/// Nearest-rank percentiles of latencies in µs, shown in ms.
fn percentiles(mut v: Vec<u64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_unstable();
    let rank = |p: f64| handoff::percentile::nearest_rank(&v, p).unwrap_or(0);
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        ms(rank(0.50)),
        ms(rank(0.99)),
        ms(v[v.len() - 1]),
        v.len()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_conversations_lose_and_duplicate_nothing() {
    let lines: u32 = if full() { 10 } else { 3 };
    let started = Instant::now();
    // Slack's posting limit (1/s per channel) would measure the emulator's
    // limiter, not handoff: this test is about handoff's own relay path.
    let emu = Arc::new(
        Emulator::start(EmulatorConfig::default().without_rate_limits())
            .await
            .expect("emulator"),
    );
    let mut desks = Vec::new();
    for d in 0..DESKS {
        let channel = emu.add_channel(&format!("load-desk-{d}"));
        let agent = emu.add_user(&format!("Agent{d}"), false);
        desks.push((channel, agent));
    }
    let synapse = Arc::new(synapse_with_bot().await);
    let _handoff = Handoff::start(&synapse, &config(&emu));

    // Register, open and hand over every customer, SETUP_PARALLEL at a time.
    let gate = Arc::new(Semaphore::new(SETUP_PARALLEL));
    let mut setup = JoinSet::new();
    for n in 1..=CUSTOMERS {
        let (gate, synapse) = (gate.clone(), synapse.clone());
        setup.spawn(async move {
            let _slot = gate.acquire_owned().await.expect("semaphore");
            let (customer, room) = hand_over(&synapse, n).await;
            (n, customer, room)
        });
    }
    let mut opened = Vec::new();
    while let Some(done) = setup.join_next().await {
        opened.push(done.expect("a customer's handover failed"));
    }
    opened.sort_by_key(|(n, _, _)| *n);
    let handed_over = started.elapsed();

    // Every case's summary is the root of its thread on its team's channel.
    let roots = emu
        .wait_for("a summary for every case", WAIT, |e| {
            let summaries: Vec<Vec<slack_emulator::Message>> = desks
                .iter()
                .map(|(channel, _)| {
                    e.messages(channel)
                        .into_iter()
                        .filter(|m| m.thread_ts.is_none() && m.bot_id.is_some())
                        .collect()
                })
                .collect();
            let mut roots = Vec::new();
            for (n, customer, _) in &opened {
                let id = customer.user_id().to_string();
                let root = summaries[(n % DESKS) as usize]
                    .iter()
                    .find(|m| slack_mentions(m, &id))?;
                roots.push(root.ts.to_string());
            }
            Some(roots)
        })
        .await
        .expect("every case has its summary on its desk");
    let cases: Vec<Case> = opened
        .into_iter()
        .zip(roots)
        .map(|((n, customer, room), root)| {
            let (channel, agent) = desks[(n % DESKS) as usize].clone();
            Case {
                n,
                customer: Arc::new(customer),
                room,
                channel,
                agent,
                root,
            }
        })
        .collect();
    let distinct: HashSet<&str> = cases.iter().map(|c| c.root.as_str()).collect();
    assert_eq!(distinct.len(), cases.len(), "two cases share a thread");

    // Agents claim every case.
    for case in &cases {
        emu.post_as(&case.agent, &case.channel, Some(&case.root), "!claim")
            .expect("the agent claims");
    }
    for case in &cases {
        from_bot(&case.customer, &case.room, "the claim notice", |m| {
            m.body.contains("has joined")
        })
        .await;
    }
    let claimed = started.elapsed();

    // Relay: in every case at once, the customer and the agent each send
    // `lines` numbered lines, with short seeded pauses.
    let relay_started = Instant::now();
    let deadline = relay_started + RELAY_TIMEOUT;
    let mut watchers = JoinSet::new();
    for case in &cases {
        let (customer, room, n) = (case.customer.clone(), case.room.clone(), case.n);
        watchers.spawn(async move {
            (
                n,
                watch_agent_lines(customer, room, n, lines, deadline).await,
            )
        });
    }
    let mut senders = JoinSet::new();
    for case in &cases {
        let (customer, room, n) = (case.customer.clone(), case.room.clone(), case.n);
        let (emu, channel, agent, root) = (
            emu.clone(),
            case.channel.clone(),
            case.agent.clone(),
            case.root.clone(),
        );
        senders.spawn(async move {
            let mut rng = Rng::new(u64::from(n));
            let (mut customer_sent, mut agent_sent) = (Vec::new(), Vec::new());
            for k in 1..=lines {
                let at = now_micros();
                customer
                    .send_text(&room, &format!("c{n}-{k}"))
                    .await
                    .expect("the customer sends");
                customer_sent.push((at, now_micros()));
                agent_sent.push(now_micros());
                emu.post_as(&agent, &channel, Some(&root), &format!("a{n}-{k}"))
                    .expect("the agent posts");
                tokio::time::sleep(Duration::from_millis(rng.range(0, 300))).await;
            }
            (n, customer_sent, agent_sent)
        });
    }
    let mut sent = vec![(Vec::new(), Vec::new()); CUSTOMERS as usize + 1];
    while let Some(done) = senders.join_next().await {
        let (n, c, a) = done.expect("a sender task failed");
        sent[n as usize] = (c, a);
    }
    let mut seen_by_customer = vec![Vec::new(); CUSTOMERS as usize + 1];
    while let Some(done) = watchers.join_next().await {
        let (n, seen) = done.expect("a watcher task failed");
        seen_by_customer[n as usize] = seen;
    }
    // The Slack side: poll the threads (the ts holds the arrival time).
    while Instant::now() < deadline {
        let complete = cases.iter().all(|case| {
            let got: Vec<(u32, u32)> = thread_lines(&emu, case)
                .into_iter()
                .map(|(c, k, _)| (c, k))
                .collect();
            Audit::of(case.n, lines, &got).complete()
        });
        if complete {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let relayed = relay_started.elapsed();
    tokio::time::sleep(SETTLE).await;

    // Exact counts per case, both directions; latencies from first copies.
    let mut problems = Vec::new();
    let (mut lost, mut duplicated) = (0, 0);
    let (mut to_agent, mut customer_send) = (Vec::new(), Vec::new());
    let (mut to_customer, mut to_synapse) = (Vec::new(), Vec::new());
    for case in &cases {
        let in_thread = thread_lines(&emu, case);
        let got: Vec<(u32, u32)> = in_thread.iter().map(|&(c, k, _)| (c, k)).collect();
        let in_room: Vec<(u32, u32)> = bot_messages(&case.customer, &case.room)
            .iter()
            .flat_map(|m| numbered_lines(&m.body, 'a'))
            .collect();
        for (what, got) in [
            ("customer → Slack thread", &got),
            ("agent → customer", &in_room),
        ] {
            let audit = Audit::of(case.n, lines, got);
            lost += audit.lost.len();
            duplicated += audit.duplicated.len();
            if !audit.clean() {
                problems.push(format!(
                    "case {} {what}: lost {:?}, duplicated {:?}, foreign {:?}, in order: {}; \
                     arrived: {got:?}",
                    case.n, audit.lost, audit.duplicated, audit.foreign, audit.in_order
                ));
            }
        }
        let (customer_sent, agent_sent) = &sent[case.n as usize];
        for (k, &(at, accepted)) in customer_sent.iter().enumerate() {
            let line = k as u32 + 1;
            customer_send.push(accepted.saturating_sub(at));
            if let Some(&(_, _, ts)) = in_thread
                .iter()
                .find(|&&(c, l, _)| c == case.n && l == line)
            {
                to_agent.push(ts.saturating_sub(at));
            }
        }
        for (at, seen) in agent_sent.iter().zip(&seen_by_customer[case.n as usize]) {
            if let Some(seen) = seen {
                to_customer.push(seen.at.saturating_sub(*at));
                to_synapse.push(seen.accepted.saturating_sub(*at));
            }
        }
    }
    println!(
        "load figures: {CUSTOMERS} concurrent conversations on {DESKS} Slack desks, {lines} \
         lines per direction and case ({} per direction); handed over after {:.1}s, claimed \
         after {:.1}s, relay phase {:.1}s, total wall time {:.1}s; duplicates {duplicated}, \
         lost {lost}",
        CUSTOMERS * lines,
        handed_over.as_secs_f64(),
        claimed.as_secs_f64(),
        relayed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    println!(
        "load latency customer → Slack thread (send → in the thread): {}",
        percentiles(to_agent)
    );
    println!(
        "  of which the customer's own send to Synapse: {}",
        percentiles(customer_send)
    );
    println!(
        "load latency Slack agent → Matrix customer (post → the customer's client sees it): {}",
        percentiles(to_customer)
    );
    println!(
        "  of which until Synapse accepted the relayed event (origin_server_ts): {}",
        percentiles(to_synapse)
    );
    assert!(
        problems.is_empty(),
        "{} of {} case directions lost, duplicated, misplaced or reordered lines:\n{}",
        problems.len(),
        2 * CUSTOMERS,
        problems.join("\n")
    );
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let shown = percentiles((1..=100).map(|ms| ms * 1000).collect());
    assert_eq!(
        shown,
        "p50 50.0 ms, p99 99.0 ms, max 100.0 ms (100 samples)"
    );
    assert_eq!(percentiles(Vec::new()), "no samples");
}

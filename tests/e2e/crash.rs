//! Crash safety through the real binary (promise 1 in docs/reliability.md):
//! five Matrix customers, three handed to a Slack desk (the emulator) and
//! two to a Matrix desk (a private room per case), relay numbered lines both
//! ways while the `handoff` process is SIGKILLed at seeded random moments
//! and restarted, with lines still sent while it is down. Afterwards every
//! line must have arrived exactly once and in order, on the right case.
//!
//! `HANDOFF_CRASH_SEED=<u64>` replays a run's schedule (kill moments,
//! downtimes, send pauses; thread timing still varies); `HANDOFF_FULL=1`
//! runs the long version (200 messages, 20 kills). Also owns the small
//! seeded PRNG and the line parsing the load test reuses.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{bot_joined, free_port, from_bot, replaces, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use slack_emulator::{Emulator, EmulatorConfig};
use synapse_testkit::{Message, TestClient};
use tokio::task::JoinSet;

/// Concurrent cases; the first [`SLACK_CASES`] go to the Slack desk.
const CASES: u32 = 5;
const SLACK_CASES: u32 = 3;
/// How long the relayed lines may take to arrive after the last kill.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);
/// Extra wait after everything arrived, for late duplicates to show.
const SETTLE: Duration = Duration::from_secs(3);
const BOT: &str = "@helper:localhost";

/// A tiny seeded PRNG (SplitMix64): the harness needs reproducible
/// schedules, not statistical quality.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (modulo bias is irrelevant here).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// `HANDOFF_FULL=1` selects the long runs.
pub(crate) fn full() -> bool {
    std::env::var("HANDOFF_FULL").is_ok_and(|v| v.trim() == "1")
}

/// Microseconds since the Unix epoch (the emulator's `ts` clock).
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The numbered lines `{kind}{case}-{n}` (e.g. `c3-17`) in `text`, as
/// `(case, n)`, in order. Whole words only, so `c1-1` never matches inside
/// `c1-17`, and names or markup around a relayed line do not matter.
pub(crate) fn numbered_lines(text: &str, kind: char) -> Vec<(u32, u32)> {
    text.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-'))
        .filter_map(|word| {
            let (case, n) = word.strip_prefix(kind)?.split_once('-')?;
            Some((case.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

/// Whether a Slack message's text or blocks mention `needle`.
pub(crate) fn slack_mentions(m: &slack_emulator::Message, needle: &str) -> bool {
    m.text.contains(needle)
        || m.blocks
            .as_ref()
            .is_some_and(|b| b.to_string().contains(needle))
}

/// The bot's fresh (not edited) messages in a Matrix room, as the client saw them.
pub(crate) fn bot_messages(c: &TestClient, room: &OwnedRoomId) -> Vec<Message> {
    c.messages(room)
        .into_iter()
        .filter(|m| m.sender == BOT && replaces(m).is_none())
        .collect()
}

/// What one direction of one case received, against what was sent.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    /// Lines of the case that never arrived.
    pub lost: Vec<u32>,
    /// Lines of the case that arrived more than once (once per extra copy).
    pub duplicated: Vec<u32>,
    /// Lines of other cases that showed up here.
    pub foreign: Vec<(u32, u32)>,
    /// Whether the case's lines arrived in the order they were sent.
    pub in_order: bool,
}

impl Audit {
    /// Compares `got` (in arrival order) with lines `1..=sent` of `case`.
    pub(crate) fn of(case: u32, sent: u32, got: &[(u32, u32)]) -> Audit {
        let mut counts = vec![0u32; sent as usize + 1];
        let mut audit = Audit {
            in_order: true,
            ..Audit::default()
        };
        let mut last = 0;
        for &(c, n) in got {
            if c != case || n == 0 || n > sent {
                audit.foreign.push((c, n));
                continue;
            }
            counts[n as usize] += 1;
            if counts[n as usize] > 1 {
                audit.duplicated.push(n);
            } else if n < last {
                audit.in_order = false;
            }
            last = last.max(n);
        }
        audit.lost = (1..=sent).filter(|&n| counts[n as usize] == 0).collect();
        audit
    }

    pub(crate) fn clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.foreign.is_empty()
            && self.in_order
    }

    /// Every line arrived at least once.
    pub(crate) fn complete(&self) -> bool {
        self.lost.is_empty()
    }
}

/// Where a case is worked.
enum Desk {
    /// A thread in the Slack channel, rooted at the summary.
    Slack { root: String },
    /// A private Matrix room the Matrix agent joined.
    Matrix { room: OwnedRoomId },
}

struct Case {
    n: u32,
    customer: Arc<TestClient>,
    room: OwnedRoomId,
    desk: Desk,
}

/// Everything the cases are relayed between.
struct World {
    emu: Arc<Emulator>,
    channel: String,
    slack_agent: String,
    matrix_agent: Arc<TestClient>,
}

impl World {
    /// Customer lines (`c…`) of every case as they appear on `case`'s desk.
    fn desk_lines(&self, case: &Case) -> Vec<(u32, u32)> {
        match &case.desk {
            Desk::Slack { root } => self
                .emu
                .thread(&self.channel, root)
                .into_iter()
                .filter(|m| m.bot_id.is_some() && m.ts.to_string() != *root)
                .flat_map(|m| numbered_lines(&m.text, 'c'))
                .collect(),
            Desk::Matrix { room } => bot_messages(&self.matrix_agent, room)
                .iter()
                .flat_map(|m| numbered_lines(&m.body, 'c'))
                .collect(),
        }
    }

    /// Agent lines (`a…`) as the case's customer received them.
    fn room_lines(&self, case: &Case) -> Vec<(u32, u32)> {
        bot_messages(&case.customer, &case.room)
            .iter()
            .flat_map(|m| numbered_lines(&m.body, 'a'))
            .collect()
    }
}

fn seed() -> u64 {
    match std::env::var("HANDOFF_CRASH_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("HANDOFF_CRASH_SEED={s:?} is not a u64: {e}")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            Rng::new(nanos ^ u64::from(std::process::id())).next_u64() >> 1
        }
    }
}

fn config(emu: &Emulator, metrics_port: u16) -> String {
    let mut config = common::slack_connection(emu);
    config.push_str(&format!(
        r#"
[metrics]
listen = "127.0.0.1:{metrics_port}"

[[team]]
name = "billing"
desk = "slack:#support-billing"
topics = ["invoice"]
default = true

[[team]]
name = "tech"
desk = "matrix"
agents = ["@crashagent:localhost"]
topics = ["password"]
"#
    ));
    config
}

/// `n` pauses whose sum is `span`, with seeded random weights.
fn spread(rng: &mut Rng, n: u32, span: Duration) -> Vec<Duration> {
    let weights: Vec<u64> = (0..n).map(|_| rng.range(1, 1000)).collect();
    let total: u64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| span.mul_f64(*w as f64 / total as f64))
        .collect()
}

/// Opens case `n`: the customer's room with the bot, the handover, and the
/// agent's claim; returns once the customer was told the agent joined.
async fn open_case(world: &World, customer: Arc<TestClient>, n: u32) -> Case {
    let helper = UserId::parse(BOT).expect("bot id");
    let room = customer
        .create_room("support", &[helper])
        .await
        .expect("customer room");
    bot_joined(&customer, &room).await;
    let slack = n <= SLACK_CASES;
    let (topic, team) = if slack {
        ("invoice", "billing team")
    } else {
        ("password", "tech team")
    };
    customer
        .send_text(
            &room,
            &format!("I want to talk to a person about my {topic}"),
        )
        .await
        .expect("ask for a person");
    from_bot(&customer, &room, "the handover", |m| m.body.contains(team)).await;
    let id = customer.user_id().to_string();
    let desk = if slack {
        let root = world
            .emu
            .wait_for_message(
                &world.channel,
                |m| m.thread_ts.is_none() && m.bot_id.is_some() && slack_mentions(m, &id),
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("no summary of case {n} in Slack: {e}"));
        let root = root.ts.to_string();
        world
            .emu
            .post_as(&world.slack_agent, &world.channel, Some(&root), "!claim")
            .expect("the Slack agent claims");
        Desk::Slack { root }
    } else {
        let agent = &world.matrix_agent;
        let desk = agent
            .wait_for_invite(WAIT)
            .await
            .expect("invite to a case room");
        agent.join(&desk).await.expect("join the case room");
        from_bot(agent, &desk, "the summary", |m| m.body.contains(&id)).await;
        agent.send_text(&desk, "!claim").await.expect("claim");
        Desk::Matrix { room: desk }
    };
    from_bot(&customer, &room, "the claim notice", |m| {
        m.body.contains("has joined")
    })
    .await;
    Case {
        n,
        customer,
        room,
        desk,
    }
}

/// GET `/readyz` until it answers 200 (the restarted process connected
/// both bridges) or `timeout` passes; returns the last status and body.
async fn ready(port: u16, timeout: Duration) -> (u16, String) {
    let deadline = Instant::now() + timeout;
    let mut last = (0, String::from("no answer"));
    while Instant::now() < deadline {
        if let Ok(resp) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            let status = resp.status().as_u16();
            last = (status, resp.text().await.unwrap_or_default());
            if status == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let seed = seed();
    println!("crash harness seed: {seed}");
    let (kills, per_case) = if full() { (20, 20) } else { (10, 10) };
    let mut rng = Rng::new(seed);
    // The whole schedule comes from the seed, drawn in a fixed order.
    let schedule: Vec<(Duration, Duration)> = (0..kills)
        .map(|_| {
            let up = Duration::from_millis(rng.range(200, 5000));
            let down = Duration::from_millis(rng.range(0, 1500));
            (up, down)
        })
        .collect();
    let window: Duration = schedule.iter().map(|(u, d)| *u + *d).sum();
    // Senders spread their lines over the kill window, so lines go out
    // between kills, while handoff is down or starting, and around the
    // last kill (the drain then measures recovery, not an idle restart).
    let span = window;
    let pauses: Vec<(Vec<Duration>, Vec<Duration>)> = (0..CASES)
        .map(|_| {
            (
                spread(&mut rng, per_case, span),
                spread(&mut rng, per_case, span),
            )
        })
        .collect();

    let emu = Arc::new(
        Emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator"),
    );
    let channel = emu.add_channel("support-billing");
    let slack_agent = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let world = World {
        emu: emu.clone(),
        channel,
        slack_agent,
        matrix_agent: Arc::new(user(&synapse, "crashagent").await),
    };
    let mut customers = Vec::new();
    for n in 1..=CASES {
        customers.push(Arc::new(user(&synapse, &format!("crashcust{n}")).await));
    }
    let port = free_port();
    let mut handoff = Handoff::start(&synapse, &config(&emu, port));
    let mut cases = Vec::new();
    for (customer, n) in customers.into_iter().zip(1..) {
        cases.push(open_case(&world, customer, n).await);
    }

    // Relay both ways from tasks while the killer works; count the lines
    // sent while no handoff process existed.
    let dead = Arc::new(AtomicBool::new(false));
    let sent_while_dead = Arc::new(AtomicU32::new(0));
    let count_if_dead = {
        let (dead, sent_while_dead) = (dead.clone(), sent_while_dead.clone());
        move || {
            if dead.load(Ordering::SeqCst) {
                sent_while_dead.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    let mut senders = JoinSet::new();
    for (case, (customer_pauses, agent_pauses)) in cases.iter().zip(pauses) {
        let n = case.n;
        let customer = case.customer.clone();
        let room = case.room.clone();
        let counted = count_if_dead.clone();
        senders.spawn(async move {
            for (k, pause) in customer_pauses.into_iter().enumerate() {
                tokio::time::sleep(pause).await;
                counted();
                customer
                    .send_text(&room, &format!("c{n}-{}", k + 1))
                    .await
                    .expect("the customer sends");
            }
        });
        match &case.desk {
            Desk::Slack { root } => {
                let (emu, channel, agent) = (
                    world.emu.clone(),
                    world.channel.clone(),
                    world.slack_agent.clone(),
                );
                let root = root.clone();
                let counted = count_if_dead.clone();
                senders.spawn(async move {
                    for (k, pause) in agent_pauses.into_iter().enumerate() {
                        tokio::time::sleep(pause).await;
                        counted();
                        emu.post_as(&agent, &channel, Some(&root), &format!("a{n}-{}", k + 1))
                            .expect("the Slack agent posts");
                    }
                });
            }
            Desk::Matrix { room } => {
                let agent = world.matrix_agent.clone();
                let room = room.clone();
                let counted = count_if_dead.clone();
                senders.spawn(async move {
                    for (k, pause) in agent_pauses.into_iter().enumerate() {
                        tokio::time::sleep(pause).await;
                        counted();
                        agent
                            .send_text(&room, &format!("a{n}-{}", k + 1))
                            .await
                            .expect("the Matrix agent sends");
                    }
                });
            }
        }
    }
    let relay_started = Instant::now();
    let mut restarts = 0;
    let mut last_kill = Instant::now();
    for (up, down) in &schedule {
        tokio::time::sleep(*up).await;
        dead.store(true, Ordering::SeqCst);
        handoff.kill();
        last_kill = Instant::now();
        tokio::time::sleep(*down).await;
        handoff.restart_hard();
        dead.store(false, Ordering::SeqCst);
        restarts += 1;
    }
    while let Some(done) = senders.join_next().await {
        done.expect("a sender task failed");
    }
    let senders_done = relay_started.elapsed();

    // Drain: wait until every line arrived somewhere (or time is up).
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    let drained = loop {
        let complete = cases.iter().all(|case| {
            Audit::of(case.n, per_case, &world.desk_lines(case)).complete()
                && Audit::of(case.n, per_case, &world.room_lines(case)).complete()
        });
        if complete {
            break Some(last_kill.elapsed());
        }
        if Instant::now() > drain_deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(SETTLE).await;

    let mut problems = Vec::new();
    let (mut lost, mut duplicated) = (0, 0);
    for case in &cases {
        let desk = match case.desk {
            Desk::Slack { .. } => "Slack thread",
            Desk::Matrix { .. } => "Matrix case room",
        };
        for (what, got) in [
            (format!("customer → {desk}"), world.desk_lines(case)),
            ("agent → customer room".to_string(), world.room_lines(case)),
        ] {
            let audit = Audit::of(case.n, per_case, &got);
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
    }
    let log = handoff.log();
    let started = log.matches("handoff is running").count();
    let panics = log.matches("panicked").count();
    let drain = drained.map_or_else(
        || format!("not drained within {DRAIN_TIMEOUT:?}"),
        |d| format!("{:.1}s", d.as_secs_f64()),
    );
    println!(
        "crash harness figures: seed {seed}; {kills} kills, {restarts} restarts ({started} \
         starts reached 'handoff is running'); {CASES} cases ({SLACK_CASES} Slack desk, {} \
         Matrix desk); {} messages per direction ({} total, {} sent while no handoff process \
         existed); kill window {:.1}s, senders done \
         after {:.1}s; drain after the last kill {drain}; duplicates {duplicated}, lost {lost}",
        CASES - SLACK_CASES,
        CASES * per_case,
        2 * CASES * per_case,
        sent_while_dead.load(Ordering::SeqCst),
        window.as_secs_f64(),
        senders_done.as_secs_f64(),
    );
    assert!(
        problems.is_empty(),
        "seed {seed}: lines lost, duplicated, misplaced or reordered across {kills} SIGKILLs:\n{}",
        problems.join("\n")
    );
    assert_eq!(panics, 0, "seed {seed}: handoff panicked (see its log)");
    let (status, body) = ready(port, WAIT).await;
    assert_eq!(
        status, 200,
        "seed {seed}: the last restart never became ready: {body}"
    );
}

#[test]
fn numbered_lines_are_whole_words() {
    assert_eq!(
        numbered_lines("**crashcust1:** c1-17 and c1-1, not xc1-2", 'c'),
        vec![(1, 17), (1, 1)]
    );
    assert_eq!(numbered_lines("*Alice:* a12-3", 'a'), vec![(12, 3)]);
    assert!(numbered_lines("c1- c-1 c1-x", 'c').is_empty());
}

#[test]
fn audit_finds_lost_duplicated_foreign_and_reordered_lines() {
    let a = Audit::of(2, 4, &[(2, 1), (2, 3), (2, 2), (2, 3), (1, 4)]);
    assert_eq!(a.lost, vec![4]);
    assert_eq!(a.duplicated, vec![3]);
    assert_eq!(a.foreign, vec![(1, 4)]);
    assert!(!a.in_order);
    assert!(!a.clean());
    assert!(Audit::of(1, 3, &[(1, 1), (1, 2), (1, 3)]).clean());
}

#[test]
fn the_schedule_is_a_function_of_the_seed() {
    let draw = |seed| {
        let mut r = Rng::new(seed);
        (0..8).map(|_| r.range(200, 5000)).collect::<Vec<_>>()
    };
    assert_eq!(draw(42), draw(42));
    assert_ne!(draw(42), draw(43));
    assert!(draw(7).iter().all(|v| (200..=5000).contains(v)));
    let mut r = Rng::new(9);
    let parts = spread(&mut r, 10, Duration::from_secs(30));
    let sum: Duration = parts.iter().sum();
    assert!(
        sum > Duration::from_millis(29_990) && sum < Duration::from_millis(30_010),
        "{sum:?}"
    );
}

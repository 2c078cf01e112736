//! Relay overhead benchmark, all in one run against one local Synapse,
//! every path timed in the same round-robin (`paths`) so that all share the
//! machine's background load:
//! (a) the homeserver's floor — one plain Matrix user to another in a
//! shared room; (c) a trivial relay (`echo`: a plain SDK user copying
//! messages between two rooms — the same two hops, none of handoff's
//! logic); (b) the real `handoff` binary relaying customer ⇄ agent for a
//! Matrix desk (case room) and a Slack desk (emulator thread); each in both
//! directions. The Slack emulator's own floor (`slack_floor`) is timed
//! first. Overheads, quantile by quantile: (b) − 2 × (a) for the Matrix
//! desk as the issue defines it, (b) − (c) against the trivial relay, and
//! (b) − (a) − the Slack floor of that direction for the Slack desk.
//!
//! Not for setup details (`setup`) or timestamps (`probe`). The invariant:
//! every path is timed the same way — one message at a time, the send time
//! in the body, the receive time stamped by the receiver — so the figures
//! differ only by the path.

mod echo;
mod paths;
pub mod probe;
pub mod setup;
mod slack_floor;

use std::time::Duration;

use anyhow::{anyhow, Context};
use slack_emulator::{Emulator, EmulatorConfig};
use synapse_testkit::{Synapse, TestClient};

use self::paths::{rounds, Path};
use self::probe::Probe;
use crate::daemon::{self, Daemon};
use crate::report::Report;
use crate::stats::{difference_interval, dur, Samples, Summary};

const SECTION: &str = "relay";

/// Sizes of the relay benchmark.
#[derive(Clone, Copy, Debug)]
pub struct RelayOpts {
    /// Timed messages per path and direction.
    pub messages: u64,
    /// Untimed messages sent first on each path.
    pub warmup: u64,
    /// Pause after each arrival.
    pub gap: Duration,
}

/// A Matrix test user and the probe on its sync loop.
struct User {
    client: TestClient,
    probe: Probe,
}

async fn user(synapse: &Synapse, name: &str) -> anyhow::Result<User> {
    synapse
        .register(name, daemon::PASSWORD, false)
        .await
        .with_context(|| format!("registering {name}"))?;
    let client = synapse
        .login(name, daemon::PASSWORD)
        .await
        .with_context(|| format!("logging {name} in"))?;
    let probe = Probe::attach(&client);
    Ok(User { client, probe })
}

pub async fn run(
    opts: RelayOpts,
    binary: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    println!(
        "== relay: {} timed messages per path and direction (+{} warm-up), all paths in one round-robin, {:?} pause after each",
        opts.messages, opts.warmup, opts.gap
    );
    let floors = slack_floor::measure_floors(opts.warmup, opts.messages, opts.gap).await?;
    let synapse = Synapse::start().await.context("starting Synapse")?;
    let server = synapse.server_name().to_string();
    synapse
        .register("helper", daemon::PASSWORD, false)
        .await
        .context("registering the bot")?;
    let carol = user(&synapse, "carol").await?;
    let dave = user(&synapse, "dave").await?;
    let alice = user(&synapse, "alice").await?;
    let echo_user = user(&synapse, "echo").await?;

    // (a) carol and alice in a plain shared room; (c) the echo relay.
    let floor_room = carol
        .client
        .create_room("floor", &[alice.client.user_id().to_owned()])
        .await?;
    let invited = alice.client.wait_for_invite(setup::WAIT).await?;
    alice.client.join(&invited).await?;
    let echo = echo::start(echo_user.client, &carol.client, &alice.client).await?;

    // (b) handoff with a Matrix desk and a Slack desk.
    let emu = Emulator::start(EmulatorConfig::default().without_rate_limits())
        .await
        .context("starting the Slack emulator")?;
    let channel = emu.add_channel("support-billing");
    let slack_agent = emu.add_user("Alice", false);
    let dir = tempfile::tempdir().context("creating the daemon's work dir")?;
    let port = daemon::free_port()?;
    let cfg = daemon::write_config(
        dir.path(),
        &setup::config(synapse.base_url(), &server, &emu, port),
    )?;
    let log_filter = std::env::var("HANDOFF_BENCH_DAEMON_LOG").ok();
    let mut handoff = Daemon::spawn(
        binary,
        &cfg,
        &dir.path().join("handoff.log"),
        log_filter.as_deref(),
    )?;
    handoff
        .wait_ready(None, Duration::from_secs(120))
        .await
        .context("starting handoff")?;
    let bot = setup::bot_id(&server)?;
    let carol_room = setup::direct_chat(&carol.client, &bot).await?;
    let case_room = setup::matrix_case(&carol.client, &carol_room, &alice.client, &bot).await?;
    let dave_room = setup::direct_chat(&dave.client, &bot).await?;
    let root = setup::slack_case(&dave.client, &dave_room, &emu, &channel).await?;

    let all = [
        (
            "fca",
            Path::Matrix {
                from: &carol.client,
                room: &floor_room,
                to: &alice.probe,
            },
        ),
        (
            "fac",
            Path::Matrix {
                from: &alice.client,
                room: &floor_room,
                to: &carol.probe,
            },
        ),
        (
            "eca",
            Path::Matrix {
                from: &carol.client,
                room: &echo.customer_room,
                to: &alice.probe,
            },
        ),
        (
            "eac",
            Path::Matrix {
                from: &alice.client,
                room: &echo.agent_room,
                to: &carol.probe,
            },
        ),
        (
            "mca",
            Path::Matrix {
                from: &carol.client,
                room: &carol_room,
                to: &alice.probe,
            },
        ),
        (
            "mac",
            Path::Matrix {
                from: &alice.client,
                room: &case_room,
                to: &carol.probe,
            },
        ),
        (
            "sca",
            Path::ToSlack {
                from: &dave.client,
                room: &dave_room,
                emu: &emu,
                channel: &channel,
            },
        ),
        (
            "sac",
            Path::FromSlack {
                emu: &emu,
                user: &slack_agent,
                channel: &channel,
                thread: &root,
                to: &dave.probe,
            },
        ),
    ];
    let cpu0 = handoff.cpu_time().unwrap_or_default();
    let samples = rounds(&all, opts.warmup, opts.messages, opts.gap).await?;
    let cpu = handoff.cpu_time().unwrap_or_default().saturating_sub(cpu0);
    let (problems, shown) = handoff.problems(5);
    handoff.stop();
    daemon::keep_dir(dir);
    // Four of the paths go through handoff.
    let relayed = 4 * (opts.warmup + opts.messages);
    let per_message = cpu.as_nanos() as i64 / relayed.max(1) as i64;

    let s = |i: usize| -> anyhow::Result<Summary> {
        samples[i]
            .summary()
            .ok_or_else(|| anyhow!("no samples for {}", all[i].0))
    };
    let sum = |x: &Samples, what: &str| x.summary().ok_or_else(|| anyhow!("no samples for {what}"));
    let (a_ca, a_ac, c_ca, c_ac) = (s(0)?, s(1)?, s(2)?, s(3)?);
    let (post, event) = (sum(&floors.post, "fsp")?, sum(&floors.event, "fse")?);
    let rows = [
        ("(a) Matrix floor, carol → alice", a_ca),
        ("(a) Matrix floor, alice → carol", a_ac),
        ("(c) trivial relay, carol → alice", c_ca),
        ("(c) trivial relay, alice → carol", c_ac),
        ("Slack floor, chat.postMessage stored", post),
        ("Slack floor, agent post → Socket Mode", event),
    ];
    for (what, x) in rows {
        println!("  {what:<44} {x}");
        report.add(SECTION, &format!("{what} p50/p99"), pair(x.p50, x.p99));
    }
    // Each path with the samples of the hops its overhead subtracts.
    let relays: [(&str, usize, Vec<&Samples>, Option<Summary>); 4] = [
        (
            "Matrix desk, customer → agent",
            4,
            vec![&samples[0], &samples[0]],
            Some(c_ca),
        ),
        (
            "Matrix desk, agent → customer",
            5,
            vec![&samples[1], &samples[1]],
            Some(c_ac),
        ),
        (
            "Slack desk, customer → agent",
            6,
            vec![&samples[0], &floors.post],
            None,
        ),
        (
            "Slack desk, agent → customer",
            7,
            vec![&floors.event, &samples[1]],
            None,
        ),
    ];
    for (what, i, hops, trivial) in relays {
        let hop_sums = hops
            .iter()
            .map(|h| sum(h, what))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let interval = difference_interval(&samples[i], &hops, 99.0, BOOTSTRAP_ROUNDS, i as u64);
        show_relay(report, what, &s(i)?, &hop_sums, interval, trivial.as_ref());
    }
    println!(
        "  handoff CPU (user+sys) while relaying: {:.2} s for {relayed} relayed messages = {} per message",
        cpu.as_secs_f64(),
        dur(per_message)
    );
    report.add(SECTION, "handoff CPU per relayed message", dur(per_message));
    println!("  daemon log: {problems} warning/error lines during the run, most frequent:");
    for line in shown {
        println!("    {line}");
    }
    Ok(())
}

/// Resamples behind each overhead's p99 interval.
const BOOTSTRAP_ROUNDS: usize = 2000;

/// Prints and records one handoff path and its overheads.
fn show_relay(
    report: &mut Report,
    what: &str,
    b: &Summary,
    hops: &[Summary],
    interval: Option<(i64, i64)>,
    trivial: Option<&Summary>,
) {
    let (o50, o99) = overhead(b, hops);
    println!("  (b) {what:<40} {b}");
    println!(
        "      overhead = (b) − floors of both hops: p50 {}  p99 {}",
        dur(o50),
        dur(o99)
    );
    report.add(SECTION, &format!("(b) {what} p50/p99"), pair(b.p50, b.p99));
    report.add(
        SECTION,
        &format!("overhead {what} (b)−hops p50/p99"),
        pair(o50, o99),
    );
    if let Some((lo, hi)) = interval {
        // The p99s are each the 5th-slowest of 500 samples: this is how
        // far their difference moves between equally good runs.
        println!(
            "      its p99, 95 % bootstrap interval:     {} … {}",
            dur(lo),
            dur(hi)
        );
        report.add(
            SECTION,
            &format!("overhead {what} (b)−hops p99, 95 % interval"),
            format!("{} … {}", dur(lo), dur(hi)),
        );
    }
    // The goal is judged against the trivial relay where there is one: it
    // has the same hops, so floor noise cancels instead of adding up.
    let (g50, g99, basis) = match trivial {
        Some(c) => {
            let (t50, t99) = overhead(b, std::slice::from_ref(c));
            println!(
                "      overhead = (b) − (c) trivial relay:   p50 {}  p99 {}",
                dur(t50),
                dur(t99)
            );
            (t50, t99, "(b)−(c)")
        }
        None => (o50, o99, "(b)−hops"),
    };
    report.add_checked(
        SECTION,
        &format!("overhead {what} {basis} p99"),
        format!("{} (p50 {})", dur(g99), dur(g50)),
        "< 5 ms",
        g99 < 5_000_000,
    );
}

fn pair(p50: i64, p99: i64) -> String {
    format!("{} / {}", dur(p50), dur(p99))
}

/// (b) minus the hops' floors, quantile by quantile: (p50, p99) in ns.
fn overhead(b: &Summary, hops: &[Summary]) -> (i64, i64) {
    let p50 = b.p50 - hops.iter().map(|h| h.p50).sum::<i64>();
    let p99 = b.p99 - hops.iter().map(|h| h.p99).sum::<i64>();
    (p50, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(p50: i64, p99: i64) -> Summary {
        Summary {
            n: 1,
            p50,
            p99,
            mean: p50,
            max: p99,
        }
    }

    #[test]
    fn overhead_subtracts_each_hop_per_quantile() {
        let b = sum(30_000, 50_000);
        let (o50, o99) = overhead(&b, &[sum(12_000, 20_000), sum(13_000, 22_000)]);
        assert_eq!((o50, o99), (5_000, 8_000));
    }
}

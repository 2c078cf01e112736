//! Scale benchmark: how `handoff run` starts and idles with many open
//! cases. For each size (0 as a baseline, then 1k, 10k, 100k) it seeds a
//! fresh store directly (`seed`), starts the real binary against a test
//! Synapse (the daemon logs in at start), and reports the time until ready
//! (log line; `/readyz` when the metrics listener answers), RSS at ready
//! and after an idle window, and the CPU the idle daemon burns.
//!
//! Not for relays (`relay`). The invariant: every size gets its own store
//! and daemon, and the daemon is killed before the next size starts, so
//! figures of one size never include another's work.

mod answer;
mod seed;

use std::time::{Duration, Instant};

use anyhow::Context;
use matrix_sdk::ruma::UserId;
use synapse_testkit::{Synapse, TestClient};

use crate::daemon::{self, Daemon, Ready};
use crate::report::Report;
use crate::stats::{dur, ratio};

/// How long a new customer waits for any one answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(60);

const SECTION: &str = "scale";

/// Sizes and timings of the scale benchmark.
#[derive(Clone, Debug)]
pub struct ScaleOpts {
    /// Open-case counts to try, in order (0 is the empty-store baseline).
    pub sizes: Vec<u64>,
    /// How long the daemon idles before RSS and CPU are read.
    pub idle: Duration,
    /// Threads writing the seed.
    pub seed_threads: usize,
    /// Seed cases without a told queue position (isolates the per-case
    /// cost from the queue-position update of each timer tick).
    pub untold: bool,
    /// Timed FAQ questions a new customer asks after the idle window.
    pub questions: usize,
}

/// What one size measured.
#[derive(Clone, Copy, Debug)]
struct Run {
    cases: u64,
    ready: Ready,
    rss_ready_kib: u64,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
    idle_cpu: Duration,
    idle_wall: Duration,
}

pub async fn run(
    opts: &ScaleOpts,
    binary: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    println!(
        "== scale: open cases {:?}{}; idle window {:?}, then a new customer asks {} FAQ questions",
        opts.sizes,
        if opts.untold {
            " (no queue position told)"
        } else {
            ""
        },
        opts.idle,
        opts.questions
    );
    let synapse = Synapse::start().await.context("starting Synapse")?;
    for name in ["helper", "customer"] {
        synapse
            .register(name, daemon::PASSWORD, false)
            .await
            .with_context(|| format!("registering {name}"))?;
    }
    let customer = synapse
        .login("customer", daemon::PASSWORD)
        .await
        .context("logging the customer in")?;
    let mut runs = Vec::new();
    for &n in &opts.sizes {
        let r = one_size(opts, binary, &synapse, &customer, n, report).await?;
        runs.push(r);
    }
    growth(&runs, report);
    Ok(())
}

fn config(homeserver: &str, server: &str, metrics_port: u16) -> String {
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

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[team]]
name = "billing"
desk = "matrix"
agents = ["@agent:{server}"]
default = true

[[team]]
name = "tech"
desk = "matrix"
agents = ["@agent:{server}"]
"#
    )
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

async fn one_size(
    opts: &ScaleOpts,
    binary: &std::path::Path,
    synapse: &Synapse,
    customer: &TestClient,
    n: u64,
    report: &mut Report,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir().context("creating a work dir")?;
    let store = dir.path().join("store.sled");
    let seeded = {
        let store = store.clone();
        let (threads, told) = (opts.seed_threads, !opts.untold);
        tokio::task::spawn_blocking(move || seed::seed(&store, n, threads, told))
            .await
            .context("the seeding task")??
    };
    let store_bytes = daemon::dir_size(&store);
    if n > 0 {
        println!(
            "  {n:>6} cases: seeded in {:.1} s ({:.0} cases/s, next_case_id + commit each), store {:.1} MB on disk",
            seeded.as_secs_f64(),
            n as f64 / seeded.as_secs_f64().max(1e-9),
            store_bytes as f64 / 1e6
        );
    }
    let port = daemon::free_port()?;
    let metrics = format!("127.0.0.1:{port}");
    let cfg = daemon::write_config(
        dir.path(),
        &config(synapse.base_url(), synapse.server_name(), port),
    )?;
    let log = dir.path().join("handoff.log");
    let mut d = Daemon::spawn(binary, &cfg, &log, Some("info"))?;
    let ready = d
        .wait_ready(Some(&metrics), Duration::from_secs(120))
        .await
        .with_context(|| format!("starting handoff on {n} open cases"))?;
    let rss_ready_kib = d.rss_kib().unwrap_or(0);
    let cpu0 = d.cpu_time().unwrap_or_default();
    let idle_start = Instant::now();
    let mut rss_peak_kib = rss_ready_kib;
    while idle_start.elapsed() < opts.idle {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss_peak_kib = rss_peak_kib.max(d.rss_kib().unwrap_or(0));
    }
    let idle_wall = idle_start.elapsed();
    let idle_cpu = d.cpu_time().unwrap_or_default().saturating_sub(cpu0);
    let rss_idle_kib = d.rss_kib().unwrap_or(0);
    let bot = UserId::parse(format!("@helper:{}", synapse.server_name()))
        .map_err(|e| anyhow::anyhow!("bot user id: {e}"))?;
    let answers = answer::probe(customer, &bot, opts.questions, ANSWER_LIMIT).await?;
    let (problems, shown) = d.problems(3);
    d.stop();
    daemon::keep_dir(dir);

    let readyz = ready
        .readyz
        .map(|t| format!("{:.3} s", t.as_secs_f64()))
        .unwrap_or_else(|| "no answer".into());
    println!(
        "  {n:>6} cases: ready {:.3} s (log line; /readyz {readyz}); RSS {} at ready, {} after {:.0} s idle (peak {}); idle CPU {:.2} s in {:.1} s ({:.0}% of one core); {problems} warning/error lines",
        ready.log_line.as_secs_f64(),
        mb(rss_ready_kib),
        mb(rss_idle_kib),
        idle_wall.as_secs_f64(),
        mb(rss_peak_kib),
        idle_cpu.as_secs_f64(),
        idle_wall.as_secs_f64(),
        100.0 * idle_cpu.as_secs_f64() / idle_wall.as_secs_f64().max(1e-9),
    );
    for line in shown {
        println!("           {line}");
    }
    let label = count_label(n);
    let first = answers
        .first
        .map(|t| format!("{:.2} s", t.as_secs_f64()))
        .unwrap_or_else(|| format!("none within {} s", ANSWER_LIMIT.as_secs()));
    let each = answers
        .latencies
        .summary()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "no answers".into());
    println!(
        "           then a new customer: first answer {first}; FAQ answers {each}; {} unanswered",
        answers.unanswered
    );
    let ready_s = ready.log_line.as_secs_f64();
    if n == 10_000 {
        report.add_checked(
            SECTION,
            &format!("ready, {label} cases"),
            format!("{ready_s:.3} s"),
            "< 1 s",
            ready_s < 1.0,
        );
        report.add_checked(
            SECTION,
            &format!("RSS idle, {label} cases"),
            mb(rss_idle_kib),
            "< 200 MB",
            rss_idle_kib < 200 * 1024,
        );
    } else {
        report.add(
            SECTION,
            &format!("ready, {label} cases"),
            format!("{ready_s:.3} s"),
        );
        report.add(
            SECTION,
            &format!("RSS idle, {label} cases"),
            mb(rss_idle_kib),
        );
    }
    report.add(
        SECTION,
        &format!("idle CPU, {label} cases"),
        format!(
            "{:.0}% of a core",
            100.0 * idle_cpu.as_secs_f64() / idle_wall.as_secs_f64().max(1e-9)
        ),
    );
    if let Some(z) = ready.readyz {
        report.add(
            SECTION,
            &format!("/readyz, {label} cases"),
            format!("{:.3} s", z.as_secs_f64()),
        );
    }
    report.add(
        SECTION,
        &format!("new customer's first answer, {label} cases"),
        first,
    );
    if let Some(s) = answers.latencies.summary() {
        report.add(
            SECTION,
            &format!("FAQ answer p50/max, {label} cases"),
            format!("{} / {}", dur(s.p50), dur(s.max)),
        );
    }
    Ok(Run {
        cases: n,
        ready,
        rss_ready_kib,
        rss_idle_kib,
        rss_peak_kib,
        idle_cpu,
        idle_wall,
    })
}

fn count_label(n: u64) -> String {
    match n {
        0 => "0".into(),
        n if n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// Ratios between consecutive sizes (1k → 10k → 100k).
fn growth(runs: &[Run], report: &mut Report) {
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.cases == 0 {
            continue;
        }
        let label = format!("{} → {}", count_label(a.cases), count_label(b.cases));
        let ready = ratio(
            b.ready.log_line.as_secs_f64(),
            a.ready.log_line.as_secs_f64(),
        );
        let rss = ratio(b.rss_idle_kib as f64, a.rss_idle_kib as f64);
        let cpu = ratio(
            b.idle_cpu.as_secs_f64() / b.idle_wall.as_secs_f64().max(1e-9),
            a.idle_cpu.as_secs_f64() / a.idle_wall.as_secs_f64().max(1e-9),
        );
        println!(
            "  growth {label} cases (×{}): ready {ready}, RSS idle {rss} (at ready {}), idle CPU {cpu}, RSS peak {} → {}",
            b.cases / a.cases.max(1),
            ratio(b.rss_ready_kib as f64, a.rss_ready_kib as f64),
            mb(a.rss_peak_kib),
            mb(b.rss_peak_kib),
        );
        report.add(SECTION, &format!("growth {label}: ready"), ready);
        report.add(SECTION, &format!("growth {label}: RSS idle"), rss);
    }
}

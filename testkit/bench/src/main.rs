//! `handoff-bench`: handoff's performance benchmarks, each printing its
//! figures and ratios measured side by side in one run (absolute times
//! vary between machines; the ratios are what carry over).
//!
//! `relay` (overhead of a relay over the homeserver's own floor, Matrix and
//! Slack desks, both directions), `scale` (start-up and idle cost with 1k to
//! 100k open cases), `fairness` (many Slack cases sharing one rate-limited
//! channel), `store` (sled write and lookup paths), `all`. `--quick` shrinks
//! every size for a smoke run. Run through `scripts/bench.sh`, which builds
//! the release binaries first and adds the FAQ criterion benchmark.
//!
//! Not a test: nothing here asserts a time. The invariant: every figure
//! printed was measured in this run, on this machine.

#![recursion_limit = "256"]

mod daemon;
mod fairness;
mod records;
mod relay;
mod report;
mod scale;
mod stats;
mod storebench;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::report::Report;

/// handoff's performance benchmarks.
#[derive(Parser)]
#[command(name = "handoff-bench", about, long_about = None)]
struct Cli {
    /// Reduced sizes for a quick smoke run (also after the subcommand).
    #[arg(long, global = true)]
    quick: bool,
    /// The handoff binary to run (default: next to this executable).
    #[arg(long, global = true)]
    handoff: Option<PathBuf>,
    /// Append every figure as tab-separated lines to this file.
    #[arg(long, global = true)]
    summary: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Relay latency through handoff vs the homeserver's floor.
    Relay(RelayArgs),
    /// Ready time, RSS and idle CPU with many open cases.
    Scale(ScaleArgs),
    /// Many Slack cases bursting into one rate-limited channel.
    Fairness(FairnessArgs),
    /// Store write and lookup paths on sled.
    Store(StoreArgs),
    /// Every benchmark above with its default sizes.
    All,
}

#[derive(Args, Default)]
struct RelayArgs {
    /// Timed messages per path and direction [500; quick 100].
    #[arg(long)]
    messages: Option<u64>,
    /// Untimed warm-up messages per path [20; quick 10].
    #[arg(long)]
    warmup: Option<u64>,
    /// Pause after each arrival, in ms [10].
    #[arg(long)]
    gap_ms: Option<u64>,
}

#[derive(Args, Default)]
struct ScaleArgs {
    /// Open-case counts, comma-separated [0,1000,10000,100000; quick 0,1000,10000].
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<u64>>,
    /// Idle window before RSS and CPU are read, in seconds [35; quick 3].
    /// The daemon's timers tick every 15 s and the first tick after a
    /// start reads every open case once: 35 s covers it and two ordinary
    /// ticks, so the figure is the idle cost, not only the start-up tick.
    #[arg(long)]
    idle_secs: Option<u64>,
    /// Threads seeding the store [4].
    #[arg(long)]
    seed_threads: Option<usize>,
    /// Seed cases without a told queue position (isolates the per-case
    /// cost from the timer's queue-position update).
    #[arg(long)]
    untold: bool,
    /// Timed FAQ questions a new customer asks after the idle window [5].
    #[arg(long)]
    questions: Option<usize>,
}

#[derive(Args, Default)]
struct FairnessArgs {
    /// Cases sharing the channel [100].
    #[arg(long)]
    cases: Option<u64>,
    /// Messages per case, sent at once [20].
    #[arg(long)]
    burst: Option<u64>,
    /// chat.postMessage per second per channel [1; quick 50].
    #[arg(long)]
    rate: Option<f64>,
    /// Posts the emulator allows at once [3, or one second's worth if more].
    #[arg(long)]
    bucket: Option<u32>,
}

#[derive(Args, Default)]
struct StoreArgs {
    /// Timed calls per path [5000; quick 1000].
    #[arg(long)]
    ops: Option<u64>,
    /// Threads of the concurrent commit run [4].
    #[arg(long)]
    threads: Option<usize>,
}

fn pick<T>(given: Option<T>, quick: bool, full: T, small: T) -> T {
    given.unwrap_or(if quick { small } else { full })
}

impl RelayArgs {
    fn opts(&self, quick: bool) -> relay::RelayOpts {
        relay::RelayOpts {
            messages: pick(self.messages, quick, 500, 100),
            warmup: pick(self.warmup, quick, 20, 10),
            gap: Duration::from_millis(self.gap_ms.unwrap_or(10)),
        }
    }
}

impl ScaleArgs {
    fn opts(&self, quick: bool) -> scale::ScaleOpts {
        scale::ScaleOpts {
            sizes: pick(
                self.sizes.clone(),
                quick,
                vec![0, 1_000, 10_000, 100_000],
                vec![0, 1_000, 10_000],
            ),
            idle: Duration::from_secs(pick(self.idle_secs, quick, 35, 3)),
            seed_threads: self.seed_threads.unwrap_or(4),
            untold: self.untold,
            questions: self.questions.unwrap_or(5),
        }
    }
}

impl FairnessArgs {
    fn opts(&self, quick: bool) -> fairness::FairnessOpts {
        let rate = pick(self.rate, quick, 1.0, 50.0);
        fairness::FairnessOpts {
            cases: self.cases.unwrap_or(100),
            burst: self.burst.unwrap_or(20),
            rate,
            // Slack answers 429 with whole seconds: a bucket smaller than
            // one second's worth would cap a scaled-up rate below itself.
            bucket: self.bucket.unwrap_or((rate.ceil() as u32).max(3)),
        }
    }
}

impl StoreArgs {
    fn opts(&self, quick: bool) -> storebench::StoreOpts {
        storebench::StoreOpts {
            ops: pick(self.ops, quick, 5_000, 1_000) as usize,
            threads: self.threads.unwrap_or(4),
        }
    }
}

async fn store(opts: storebench::StoreOpts, report: Report) -> anyhow::Result<Report> {
    tokio::task::spawn_blocking(move || {
        let mut report = report;
        storebench::run(opts, &mut report).map(|()| report)
    })
    .await?
}

async fn run(cli: &Cli, report: &mut Report) -> Vec<(String, anyhow::Error)> {
    let q = cli.quick;
    let binary = || daemon::handoff_binary(cli.handoff.as_deref());
    let mut failures = Vec::new();
    let mut note = |name: &str, r: anyhow::Result<()>| {
        if let Err(e) = r {
            eprintln!("{name} benchmark failed: {e:#}");
            failures.push((name.to_string(), e));
        }
    };
    let all = matches!(cli.command, Command::All);
    let (relay_a, scale_a, fair_a, store_a) = match &cli.command {
        Command::Relay(a) => (Some(a), None, None, None),
        Command::Scale(a) => (None, Some(a), None, None),
        Command::Fairness(a) => (None, None, Some(a), None),
        Command::Store(a) => (None, None, None, Some(a)),
        Command::All => (None, None, None, None),
    };
    let defaults = (
        RelayArgs::default(),
        ScaleArgs::default(),
        FairnessArgs::default(),
        StoreArgs::default(),
    );
    if let Some(a) = store_a.or(all.then_some(&defaults.3)) {
        match store(a.opts(q), std::mem::take(report)).await {
            Ok(r) => *report = r,
            Err(e) => note("store", Err(e)),
        }
    }
    if let Some(a) = scale_a.or(all.then_some(&defaults.1)) {
        let r = match binary() {
            Ok(b) => scale::run(&a.opts(q), &b, report).await,
            Err(e) => Err(e),
        };
        note("scale", r);
    }
    if let Some(a) = relay_a.or(all.then_some(&defaults.0)) {
        let r = match binary() {
            Ok(b) => relay::run(a.opts(q), &b, report).await,
            Err(e) => Err(e),
        };
        note("relay", r);
    }
    if let Some(a) = fair_a.or(all.then_some(&defaults.2)) {
        note("fairness", fairness::run(a.opts(q), report).await);
    }
    failures
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The test users' SDK warns about key backups and the like:
                // only errors unless RUST_LOG asks for more.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "error,matrix_sdk=off,matrix_sdk_base=off,matrix_sdk_crypto=off",
                    )
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut report = Report::default();
    let failures = run(&cli, &mut report).await;
    println!(
        "\n== figures{}",
        if cli.quick { " (--quick sizes)" } else { "" }
    );
    print!("{}", report.table());
    if let Some(path) = &cli.summary {
        if let Err(e) = report.append_tsv(path) {
            eprintln!("cannot write the summary to {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (name, _) in &failures {
            eprintln!("failed: {name}");
        }
        ExitCode::FAILURE
    }
}

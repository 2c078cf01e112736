//! Store benchmark: writes/s and latency of the paths every relayed message
//! takes through `SledStore`, with the flush policy the daemon really uses
//! (every write is flushed to disk before it returns).
//!
//! Paths: `commit` of an inbound event (seen id + conversation + one
//! outbox entry: the dedupe and outbox write), the same from several
//! threads at once (workers of different conversations), a redelivered id
//! refused by `commit`, `is_seen` hits and misses, `outbox_done` with
//! the twin pair a delivery records, and a relayed message (commit and the
//! delivery's case read) in one case growing to 2,000 turns. Not a test of correctness beyond
//! checking each call succeeds. The invariant: every timed call goes
//! through the public `Store` trait on a fresh store in a temp dir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use handoff::case::{Speaker, Turn};
use handoff::store::sled::SledStore;
use handoff::store::{Commit, Store, StoreError};

use crate::records::{now_millis, queued_case, relay_entry, twin_pair};
use crate::report::Report;
use crate::stats::{dur, Samples, Summary};

const SECTION: &str = "store";

/// Sizes of the store benchmark.
#[derive(Clone, Copy, Debug)]
pub struct StoreOpts {
    /// Timed calls per path.
    pub ops: usize,
    /// Threads of the concurrent commit run.
    pub threads: usize,
}

/// Runs every path and records the figures.
pub fn run(opts: StoreOpts, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temp dir for the store")?;
    let store = Arc::new(SledStore::open(dir.path().join("bench.sled"))?);
    println!(
        "== store: SledStore in {}, {} ops per path; every write flushed (Db::flush) before it returns",
        dir.path().display(),
        opts.ops
    );
    report.add(SECTION, "flush policy", "Db::flush after every write");

    let (seqs, commit) = commits(&store, opts.ops, "seq")?;
    show(
        report,
        "commit (seen id + conversation + outbox entry)",
        &commit,
    );

    let (more_seqs, concurrent) = concurrent_commits(&store, opts)?;
    show(
        report,
        &format!("commit, {} threads at once", opts.threads),
        &concurrent,
    );

    let mut refused = Samples::new();
    for i in 0..opts.ops {
        let c = inbound_commit(&format!("$seq{i}:localhost"));
        let t = Instant::now();
        match store.commit(&c) {
            Err(StoreError::AlreadySeen { .. }) => refused.push(t.elapsed()),
            Ok(_) => bail!("a redelivered event id was committed twice"),
            Err(e) => return Err(e.into()),
        }
    }
    show(
        report,
        "commit of a redelivered id (refused)",
        &Timed::of(refused),
    );

    let mut hits = Samples::new();
    let mut misses = Samples::new();
    for i in 0..opts.ops {
        let t = Instant::now();
        let hit = store.is_seen(&format!("$seq{i}:localhost"))?;
        hits.push(t.elapsed());
        let t = Instant::now();
        let miss = store.is_seen(&format!("$never{i}:localhost"))?;
        misses.push(t.elapsed());
        if !hit || miss {
            bail!("is_seen answered wrongly for event {i}");
        }
    }
    show(report, "is_seen (hit)", &Timed::of(hits));
    show(report, "is_seen (miss)", &Timed::of(misses));

    let mut done = Samples::new();
    let started = Instant::now();
    for (n, seq) in seqs.iter().chain(&more_seqs).enumerate() {
        let pair = twin_pair(&format!("$seq{n}:localhost"), n as u64);
        let t = Instant::now();
        store.outbox_done(*seq, &[pair], &[])?;
        done.push(t.elapsed());
    }
    show(
        report,
        "outbox_done (+ twin pair)",
        &Timed {
            samples: done,
            wall: started.elapsed(),
        },
    );
    if !store.outbox_pending()?.is_empty() {
        bail!("outbox entries left after outbox_done");
    }
    long_case(&store, report)
}

/// Turns a long case reaches in [`long_case`], and where it is sampled.
const LONG_CASE_TURNS: usize = 2_000;
const LONG_CASE_WINDOWS: [usize; 3] = [100, 1_000, 2_000];
const LONG_CASE_WINDOW: usize = 100;

/// A relayed customer message as the worker commits it (seen id,
/// conversation, the case with its new turn, an outbox entry) and the
/// case read a delivery makes (without the transcript), while one case's transcript grows to
/// [`LONG_CASE_TURNS`] turns. Sampled over the last
/// [`LONG_CASE_WINDOW`] messages before each size in [`LONG_CASE_WINDOWS`]:
/// the cost of a message must not grow with the case's length.
fn long_case(store: &SledStore, report: &mut Report) -> anyhow::Result<()> {
    let (conv, mut case) = queued_case(7, 7_000_000, 1, now_millis(), "billing");
    let base = case.transcript.len();
    let mut commit_samples = Samples::new();
    let mut read_samples = Samples::new();
    for i in base..LONG_CASE_TURNS {
        let event = format!("$long{i}:localhost");
        case.transcript.push(Turn {
            at: now_millis(),
            speaker: Speaker::Customer,
            text: format!("customer line {i}: the invoice still shows the old address"),
            faq: None,
            internal: false,
            source: None,
            deleted: false,
        });
        let c = Commit {
            at: now_millis(),
            seen_event: Some(event.clone()),
            conversation: Some(conv.clone()),
            cases: vec![case.clone()],
            outbox: vec![relay_entry(&conv.key, case.id, &event)],
            ..Commit::default()
        };
        let turns = i + 1;
        let timed = turns > LONG_CASE_TURNS - LONG_CASE_WINDOW
            || LONG_CASE_WINDOWS
                .iter()
                .any(|w| turns <= *w && turns > w - LONG_CASE_WINDOW);
        let t = Instant::now();
        let seqs = store.commit(&c)?;
        let commit_took = t.elapsed();
        let t = Instant::now();
        let head = store.case_head(case.id)?;
        let read_took = t.elapsed();
        if head.is_none() {
            bail!("case {} is gone after a commit", case.id);
        }
        for seq in seqs {
            store.outbox_done(seq, &[], &[])?;
        }
        if timed {
            commit_samples.push(commit_took);
            read_samples.push(read_took);
        }
        if LONG_CASE_WINDOWS.contains(&turns) {
            let whole = store.case(case.id)?.map(|c| c.transcript);
            if whole.as_ref() != Some(&case.transcript) {
                bail!("the case read back does not hold its {turns} turns");
            }
            let what = format!("relayed message, case of {turns} turns");
            show(
                report,
                &format!("{what}: commit"),
                &Timed::of(std::mem::take(&mut commit_samples)),
            );
            show(
                report,
                &format!("{what}: case head read"),
                &Timed::of(std::mem::take(&mut read_samples)),
            );
        }
    }
    Ok(())
}

/// Latencies of a run and its wall time (for writes/s).
struct Timed {
    samples: Samples,
    wall: Duration,
}

impl Timed {
    /// For lookups: the wall time is the sum of the calls.
    fn of(samples: Samples) -> Timed {
        let wall = samples
            .summary()
            .map(|s| Duration::from_nanos((s.mean.max(0) as u64) * s.n as u64))
            .unwrap_or_default();
        Timed { samples, wall }
    }

    fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

fn show(report: &mut Report, what: &str, t: &Timed) {
    let Some(s): Option<Summary> = t.samples.summary() else {
        return;
    };
    println!("  {what:<48} {:>10.0}/s  {s}", t.per_second());
    report.add(
        SECTION,
        &format!("{what} ops/s"),
        format!("{:.0}", t.per_second()),
    );
    report.add(
        SECTION,
        &format!("{what} p50/p99"),
        format!("{} / {}", dur(s.p50), dur(s.p99)),
    );
}

/// What a conversation worker commits for one customer message.
fn inbound_commit(event: &str) -> Commit {
    let (conv, _case) = queued_case(1, 1, 1, now_millis(), "billing");
    let entry = relay_entry(&conv.key, 1, event);
    Commit {
        at: now_millis(),
        seen_event: Some(event.to_string()),
        conversation: Some(conv),
        outbox: vec![entry],
        ..Commit::default()
    }
}

/// `n` sequential inbound commits with ids `$<prefix><i>:localhost`;
/// returns the outbox sequence numbers and the timings.
fn commits(store: &SledStore, n: usize, prefix: &str) -> anyhow::Result<(Vec<u64>, Timed)> {
    let prepared: Vec<Commit> = (0..n)
        .map(|i| inbound_commit(&format!("${prefix}{i}:localhost")))
        .collect();
    let mut samples = Samples::new();
    let mut seqs = Vec::with_capacity(n);
    let started = Instant::now();
    for c in &prepared {
        let t = Instant::now();
        let s = store.commit(c)?;
        samples.push(t.elapsed());
        seqs.extend(s);
    }
    let wall = started.elapsed();
    Ok((seqs, Timed { samples, wall }))
}

/// The same commits from `threads` threads at once (distinct ids);
/// returns the outbox sequence numbers and the timings.
fn concurrent_commits(
    store: &Arc<SledStore>,
    opts: StoreOpts,
) -> anyhow::Result<(Vec<u64>, Timed)> {
    let threads = opts.threads.max(1);
    let per_thread = (opts.ops / threads).max(1);
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<u64>, Timed)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                scope.spawn(move || commits(&store, per_thread, &format!("par{t}-")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a commit thread panicked")))
            })
            .collect()
    });
    let wall = started.elapsed();
    let mut all = Samples::new();
    let mut seqs = Vec::new();
    for r in results {
        let (s, timed) = r?;
        seqs.extend(s);
        for ns in timed.samples.iter() {
            all.push_nanos(ns);
        }
    }
    Ok((seqs, Timed { samples: all, wall }))
}

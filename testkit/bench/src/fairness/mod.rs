//! Slack fairness benchmark: many cases in one Slack channel, each with a
//! burst of customer messages, against the emulator enforcing a posting
//! rate per channel. Runs handoff's real router, store (sled) and Slack
//! bridge in-process; customers are a stand-in bridge (`customers`) and
//! their messages are dispatched to the router as a bridge would.
//!
//! Reports when the last message of every case landed (from the emulator's
//! ts, minted when a message is stored), total time against the channel's
//! bound (messages ÷ rate), the max/min per-case completion ratio, the
//! longest wait for a case's first message, and whether any case's order
//! broke or a message landed twice. Not for latency (`relay`). The
//! invariant: the clock starts after every case thread exists, so case
//! opening is not counted as burst time.

mod customers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use handoff::config::Config;
use handoff::conversation::Engine;
use handoff::daemon::StoreBridgeState;
use handoff::faq::Faq;
use handoff::router::{RetryPolicy, Router, Shared, SystemClock};
use handoff::store::sled::SledStore;
use handoff::store::Store;
use handoff_bridge_api::{Bridge, Endpoint, Inbound, InboundKind, Text, UserRef};
use handoff_slack::{SlackBridge, SlackBridgeConfig};
use slack_emulator::{Emulator, EmulatorConfig, RateLimit};

use self::customers::NullCustomers;
use crate::relay::probe::{now_micros, parse_stamps, stamped};
use crate::report::Report;
use crate::stats::ratio;

const SECTION: &str = "fairness";

/// Shape and rate of the fairness benchmark.
#[derive(Clone, Copy, Debug)]
pub struct FairnessOpts {
    pub cases: u64,
    /// Messages each case's customer sends at once.
    pub burst: u64,
    /// `chat.postMessage` per second per channel the emulator allows.
    pub rate: f64,
    /// Tokens of the emulator's bucket (posts allowed at once).
    pub bucket: u32,
}

fn config(emu: &Emulator) -> String {
    format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[slack]
bot_token = "{bot}"
app_token = "{app}"
api_url = "{api}"

[[team]]
name = "billing"
desk = "slack:#support-billing"
topics = ["invoice"]
default = true

[[team]]
name = "tech"
desk = "slack:#support-tech"
"#,
        bot = emu.bot_token(),
        app = emu.app_token(),
        api = emu.slack_api_url(),
    )
}

/// A customer message as the Matrix bridge would hand it over.
fn inbound(case: u64, id: &str, text: &str) -> Inbound {
    Inbound {
        event_id: id.to_string(),
        endpoint: Endpoint::new("matrix", format!("!fair{case}:localhost")),
        sender: UserRef {
            network: "matrix".into(),
            id: format!("@fair{case}:localhost"),
            display_name: Some(format!("Customer {case}")),
            is_bot: false,
            standing: Default::default(),
        },
        at: now_micros() / 1000,
        kind: InboundKind::Message {
            id: id.to_string(),
            body: Text::plain(text),
            reply_to: None,
        },
        customer_endpoint: true,
        encrypted: false,
    }
}

pub async fn run(opts: FairnessOpts, report: &mut Report) -> anyhow::Result<()> {
    let total = opts.cases * opts.burst;
    let bound = Duration::from_secs_f64(total as f64 / opts.rate);
    println!(
        "== fairness: {} cases × {} messages in one channel; emulator allows {} chat.postMessage/s per channel (bucket {}); bound {:.1} s",
        opts.cases, opts.burst, opts.rate, opts.bucket, bound.as_secs_f64()
    );
    let emu = Emulator::start(EmulatorConfig {
        rate_limits: vec![RateLimit {
            method: "chat.postMessage".into(),
            per_second: opts.rate,
            burst: opts.bucket,
            per_channel: true,
        }],
        ..EmulatorConfig::default()
    })
    .await
    .context("starting the Slack emulator")?;
    let channel = emu.add_channel("support-billing");
    emu.add_channel("support-tech");

    let dir = tempfile::tempdir().context("creating a work dir")?;
    let path = crate::daemon::write_config(dir.path(), &config(&emu))?;
    let src = std::fs::read_to_string(&path).context("reading the config back")?;
    let config = Config::parse(&src, &path, |_| None, &handoff::bridges::networks())?;
    let faq = Faq::load(&config.bot.faq)?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&config.bot.store)?);
    let mut slack_cfg = SlackBridgeConfig::socket_mode(emu.bot_token(), emu.app_token());
    slack_cfg.api_url = Some(emu.slack_api_url());
    let state = Arc::new(StoreBridgeState {
        store: store.clone(),
        network: "slack",
    });
    let slack = Arc::new(
        SlackBridge::connect(slack_cfg, state)
            .await
            .map_err(|e| anyhow!("connecting the Slack bridge: {e}"))?,
    );
    let customers = Arc::new(NullCustomers::default());
    let mut bridges: HashMap<String, Arc<dyn Bridge>> = HashMap::new();
    bridges.insert("slack".into(), slack.clone());
    bridges.insert("matrix".into(), customers.clone());
    let engine = Engine::new(Arc::new(config), Arc::new(faq)).map_err(|e| anyhow!(e))?;
    let router = Router::new(Shared {
        engine: Arc::new(engine),
        store: store.clone(),
        bridges,
        clock: Arc::new(SystemClock),
        retry: RetryPolicy::default(),
    });
    // The bridge's own events (its posts echo back) go through the router
    // as in the daemon.
    let (tx, mut rx) = handoff_bridge_api::inbound_channel(1024);
    let runner = {
        let slack = slack.clone();
        tokio::spawn(async move { slack.run(tx).await })
    };
    let dispatcher = {
        let router = router.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                router.dispatch(ev).await;
            }
        })
    };

    let result = measure(opts, &emu, &channel, &router, &store, bound, report).await;
    slack.shutdown();
    runner.abort();
    dispatcher.abort();
    println!(
        "  (the bot also said {} things to customers meanwhile)",
        customers.sent()
    );
    result
}

async fn measure(
    opts: FairnessOpts,
    emu: &Emulator,
    channel: &str,
    router: &Router,
    store: &Arc<dyn Store>,
    bound: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let opening = Instant::now();
    for case in 0..opts.cases {
        let id = format!("$open{case}:localhost");
        router
            .dispatch(inbound(
                case,
                &id,
                "I need to talk to a person about my invoice",
            ))
            .await;
    }
    let open_limit =
        Duration::from_secs_f64(60.0 + 3.0 * opts.cases as f64 / opts.rate.min(opts.cases as f64));
    loop {
        let open = store.open_cases()?;
        if open.len() as u64 == opts.cases && open.iter().all(|c| c.desk.is_some()) {
            break;
        }
        if opening.elapsed() > open_limit {
            bail!(
                "only {} of {} cases opened on Slack within {open_limit:?}",
                open.iter().filter(|c| c.desk.is_some()).count(),
                opts.cases
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  {} case threads opened in {:.1} s",
        opts.cases,
        opening.elapsed().as_secs_f64()
    );

    let t0 = now_micros();
    for case in 0..opts.cases {
        for seq in 0..opts.burst {
            let id = format!("$fair{case}-{seq}:localhost");
            router
                .dispatch(inbound(case, &id, &stamped(&format!("f{case}"), seq)))
                .await;
        }
    }
    let expected = opts.cases * opts.burst;
    let limit = bound.mul_f64(3.0) + Duration::from_secs(60);
    let landed = loop {
        let landed = landed(emu, channel);
        let count: usize = landed.values().map(Vec::len).sum();
        if count as u64 >= expected {
            break landed;
        }
        if Duration::from_micros((now_micros() - t0).max(0) as u64) > limit {
            bail!("only {count} of {expected} messages landed within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    summarize(opts, &landed, t0, bound, report)
}

/// Stamped burst messages in the channel: case → [(ts µs, seq)] in ts order.
fn landed(emu: &Emulator, channel: &str) -> BTreeMap<u64, Vec<(i64, u64)>> {
    let mut out: BTreeMap<u64, Vec<(i64, u64)>> = BTreeMap::new();
    for m in emu.messages(channel) {
        for s in parse_stamps(&m.text) {
            if let Some(case) = s.tag.strip_prefix('f').and_then(|c| c.parse().ok()) {
                out.entry(case).or_default().push((m.ts.0 as i64, s.seq));
            }
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

fn summarize(
    opts: FairnessOpts,
    landed: &BTreeMap<u64, Vec<(i64, u64)>>,
    t0: i64,
    bound: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let secs = |ts: i64| (ts - t0) as f64 / 1e6;
    let mut completion = Vec::new();
    let mut first = Vec::new();
    let mut out_of_order = 0;
    let mut duplicates = 0;
    for case in 0..opts.cases {
        let msgs = landed
            .get(&case)
            .ok_or_else(|| anyhow!("no message of case {case} landed"))?;
        let seqs: Vec<u64> = msgs.iter().map(|&(_, s)| s).collect();
        out_of_order += seqs.windows(2).filter(|w| w[1] < w[0]).count();
        duplicates += seqs.len() - {
            let mut unique = seqs.clone();
            unique.sort_unstable();
            unique.dedup();
            unique.len()
        };
        first.push(secs(msgs[0].0));
        completion.push(secs(msgs[msgs.len() - 1].0));
    }
    let max = completion.iter().cloned().fold(f64::MIN, f64::max);
    let min = completion.iter().cloned().fold(f64::MAX, f64::min);
    let first_max = first.iter().cloned().fold(f64::MIN, f64::max);
    let b = bound.as_secs_f64();
    println!(
        "  all {} messages landed after {max:.1} s; bound {b:.1} s (total/bound {})",
        opts.cases * opts.burst,
        ratio(max, b)
    );
    println!(
        "  per-case completion: earliest {min:.1} s, latest {max:.1} s (max/min {}); longest wait for a case's first message {first_max:.1} s",
        ratio(max, min)
    );
    println!("  order broken within a case: {out_of_order}; duplicates: {duplicates}");
    let rate = format!("{}/s, bucket {}", opts.rate, opts.bucket);
    report.add(SECTION, "rate used", rate);
    report.add(
        SECTION,
        "total time / bound",
        format!("{max:.1} s / {b:.1} s ({})", ratio(max, b)),
    );
    report.add(SECTION, "per-case completion max/min", ratio(max, min));
    // Starved: a case whose first message waited past half the run (with
    // strict first-come order the last case would wait almost all of it).
    report.add_checked(
        SECTION,
        "longest wait for a first message",
        format!("{first_max:.1} s of {max:.1} s"),
        "no case starved (< half the run)",
        first_max < max / 2.0,
    );
    report.add(
        SECTION,
        "order broken / duplicates",
        format!("{out_of_order} / {duplicates}"),
    );
    Ok(())
}

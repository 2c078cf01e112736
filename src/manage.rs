//! `handoff stats`, `export`, `backup` and `faq gaps` (binary-only): read the store
//! directly when it is free, or ask the running daemon's loopback `/api`
//! when `handoff run` holds it (sled allows one process per store); and
//! `restore`, which only works on a stopped handoff. `forget` erases a
//! person either way (the daemon holds the conversations' workers still).
//!
//! Both paths print the output of the same `handoff::report` and
//! `handoff::backup` functions. `handoff outbox list|retry` work on the
//! store itself (the daemon must be stopped): a retried entry is delivered
//! at the next start.

use std::path::Path;

use anyhow::{bail, Context};

use handoff::backup;
use handoff::config::Config;
use handoff::http::parse_since;
use handoff::report::{self, Format, Selection};
use handoff::store::sled::SledStore;
use handoff::store::{Store, StoreError};

use crate::cli::parse_lenient;

/// Where the report comes from.
enum Source {
    Store(SledStore),
    /// The running daemon's listener, `http://127.0.0.1:PORT`, and the
    /// `[metrics] api_token` it wants.
    Daemon(String, String),
}

fn source(config: &Config) -> anyhow::Result<Source> {
    let path = &config.bot.store;
    if !path.exists() {
        bail!(
            "there is no store at {} yet: `handoff run` has not run with {}",
            path.display(),
            config.path.display()
        );
    }
    match SledStore::open(path) {
        Ok(store) => Ok(Source::Store(store)),
        Err(e @ StoreError::Locked { .. }) => match &config.metrics {
            Some(m) => match &m.api_token {
                Some(t) => Ok(Source::Daemon(
                    loopback_url(&m.listen)?,
                    t.expose().to_string(),
                )),
                None => bail!(
                    "{e}. Set [metrics] api_token in {} so that stats and export can ask the running daemon",
                    config.path.display()
                ),
            },
            None => bail!(
                "{e}. Set [metrics] listen in {} so that stats and export can ask the running daemon",
                config.path.display()
            ),
        },
        Err(e) => Err(e.into()),
    }
}

/// `0.0.0.0:9184` or `[::]:9184` → `http://127.0.0.1:9184`.
fn loopback_url(listen: &str) -> anyhow::Result<String> {
    let addr: std::net::SocketAddr = listen
        .parse()
        .with_context(|| format!("[metrics] listen = {listen:?} is not an address"))?;
    Ok(format!("http://127.0.0.1:{}", addr.port()))
}

fn ask_daemon(base: &str, token: &str, query: &[(&str, &str)]) -> anyhow::Result<String> {
    call_daemon(reqwest::Method::GET, base, token, query)
}

fn call_daemon(
    method: reqwest::Method,
    base: &str,
    token: &str,
    query: &[(&str, &str)],
) -> anyhow::Result<String> {
    let url = reqwest::Url::parse_with_params(base, query)
        .with_context(|| format!("bad daemon address {base}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .request(method, url.clone())
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| {
                format!("the store is in use and the daemon at {url} does not answer")
            })?;
        let status = resp.status();
        let body = resp.text().await.context("reading the daemon's answer")?;
        if !status.is_success() {
            bail!("{}", body.trim_end());
        }
        Ok(body)
    })
}

fn now() -> anyhow::Result<i64> {
    Ok(handoff::daemon::clock()?.now())
}

/// `handoff stats --since 7d [--format text|json|csv]`.
pub fn stats(path: &Path, since: &str, format: &str) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let fmt: report::StatsFormat = format.parse().map_err(anyhow::Error::msg)?;
    let now = now()?;
    let from = parse_since(since, now).map_err(anyhow::Error::msg)?;
    let out = match source(&config)? {
        Source::Store(store) => report::stats(&store, &config, from, now)?.format(fmt)?,
        Source::Daemon(url, token) => ask_daemon(
            &format!("{url}/api/stats"),
            &token,
            &[("since", since), ("format", format)],
        )?,
    };
    print!("{out}");
    Ok(())
}

/// `handoff export --case N | --since 7d --format jsonl|md|csv [--anonymize]`.
pub fn export(
    path: &Path,
    case: Option<u64>,
    since: Option<&str>,
    format: &str,
    anonymize: bool,
) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let fmt: Format = format.parse().map_err(anyhow::Error::msg)?;
    let id = case.map(|c| c.to_string());
    let (selection, query) = match (&id, since) {
        (Some(id), _) => (Selection::Case(id.parse()?), ("case", id.as_str())),
        (None, Some(s)) => (
            Selection::Since(parse_since(s, now()?).map_err(anyhow::Error::msg)?),
            ("since", s),
        ),
        (None, None) => bail!("give --case N or --since 7d"),
    };
    let out = match source(&config)? {
        Source::Store(store) => report::export(&store, &config, selection, fmt, anonymize)?,
        Source::Daemon(url, token) => ask_daemon(
            &format!("{url}/api/export"),
            &token,
            &[
                query,
                ("format", format),
                ("anonymize", if anonymize { "true" } else { "false" }),
            ],
        )?,
    };
    print!("{out}");
    Ok(())
}

/// Opens the store for the outbox commands, which need it to themselves.
fn own_store(config: &Config) -> anyhow::Result<SledStore> {
    let path = &config.bot.store;
    if !path.exists() {
        bail!("there is no store at {} yet", path.display());
    }
    match SledStore::open(path) {
        Ok(s) => Ok(s),
        Err(e @ StoreError::Locked { .. }) => {
            bail!("{e}. Stop `handoff run` first; retried entries are delivered at its next start")
        }
        Err(e) => Err(e.into()),
    }
}

/// `handoff outbox list --config FILE`.
pub fn outbox_list(path: &Path) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let store = own_store(&config)?;
    let parked = store.outbox_parked()?;
    if parked.is_empty() {
        println!("no parked outbox entries");
    }
    for (seq, p) in parked {
        println!("{seq}\t{}\t{}", p.entry.key, p.reason);
    }
    Ok(())
}

/// `handoff outbox retry --config FILE --id N | --all`.
pub fn outbox_retry(path: &Path, id: Option<u64>) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let store = own_store(&config)?;
    let seqs: Vec<u64> = match id {
        Some(id) => vec![id],
        None => store.outbox_parked()?.into_iter().map(|(s, _)| s).collect(),
    };
    for seq in &seqs {
        store
            .outbox_unpark(*seq)
            .with_context(|| format!("outbox entry {seq} is not parked"))?;
    }
    println!(
        "{} entr{} queued again; delivered at the next `handoff run`",
        seqs.len(),
        if seqs.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}

/// `handoff backup --to DIR`.
pub fn backup(path: &Path, to: &Path) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let to = std::path::absolute(to)
        .with_context(|| format!("{}: cannot make the path absolute", to.display()))?;
    let report = match source(&config)? {
        Source::Store(store) => {
            let networks = backup::network_dirs(&config.bot.store, config.networks.keys());
            backup::backup(&store, &networks, &to)?
        }
        Source::Daemon(url, token) => {
            let to = to
                .to_str()
                .with_context(|| format!("{}: the path is not UTF-8", to.display()))?;
            let body = call_daemon(
                reqwest::Method::POST,
                &format!("{url}/api/backup"),
                &token,
                &[("to", to)],
            )?;
            serde_json::from_str(&body)
                .with_context(|| format!("the daemon's answer is not a backup report: {body}"))?
        }
    };
    print!("{}", report.render("backed up to"));
    Ok(())
}

/// `handoff forget --customer ID`: erases one person (see
/// `handoff::privacy`), through the daemon when it holds the store.
pub fn forget(path: &Path, customer: &str) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let report = match source(&config)? {
        Source::Store(store) => handoff::privacy::forget(
            &store,
            customer,
            now()?,
            &handoff::bridges::customer_records,
        )?,
        Source::Daemon(url, token) => {
            let body = call_daemon(
                reqwest::Method::POST,
                &format!("{url}/api/forget"),
                &token,
                &[("customer", customer)],
            )?;
            serde_json::from_str(&body)
                .with_context(|| format!("the daemon's answer is not a forget report: {body}"))?
        }
    };
    print!("{report}");
    Ok(())
}

/// `handoff restore --from DIR [--force]`.
pub fn restore(path: &Path, from: &Path, force: bool) -> anyhow::Result<()> {
    let (config, _) = parse_lenient(path)?;
    let report = backup::restore(from, &config.bot.store, force)?;
    print!("{}", report.render("restored"));
    Ok(())
}

/// `handoff faq gaps --since 7d [--json]`.
pub fn gaps(path: &Path, since: &str, json: bool, min_similarity: f32) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&min_similarity) {
        bail!("--min-similarity {min_similarity} is not between 0 and 1");
    }
    let (config, _) = parse_lenient(path)?;
    let now = now()?;
    let from = parse_since(since, now).map_err(anyhow::Error::msg)?;
    let out = match source(&config)? {
        Source::Store(store) => {
            let g = report::gaps(&store, &config, from, now, min_similarity)?;
            if json {
                serde_json::to_string_pretty(&g)? + "\n"
            } else {
                g.render()
            }
        }
        Source::Daemon(url, token) => {
            let similarity = min_similarity.to_string();
            let mut q = vec![("since", since), ("min_similarity", similarity.as_str())];
            if json {
                q.push(("format", "json"));
            }
            ask_daemon(&format!("{url}/api/gaps"), &token, &q)?
        }
    };
    print!("{out}");
    Ok(())
}

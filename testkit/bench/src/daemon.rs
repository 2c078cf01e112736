//! The real `handoff` binary as a child process: a generated config and the
//! repo's sample FAQ in a work directory, `handoff run`, waiting until it
//! is ready (the "handoff is running" log line, and `/readyz` on the
//! metrics address when that answers), and reading its RSS and CPU time
//! from `/proc`.
//!
//! Not for measuring relays or seeding stores (the benchmarks do that). The
//! invariant: a `Daemon` owns its child; dropping it kills the process, so
//! no benchmark leaves a daemon running, and a daemon that exits early is
//! reported with the tail of its log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The line `handoff run` logs once its bridges are started.
pub const READY_LINE: &str = "handoff is running";
/// The bot's Matrix password in every generated config (via the env).
pub const PASSWORD: &str = "bench-password-1";
/// The repo's sample FAQ, written next to every generated config.
const SAMPLE_FAQ: &str = include_str!("../../../config/faq.toml");

/// Writes `config` (TOML) and the sample FAQ as `faq.toml` into `dir`;
/// returns the config path.
pub fn write_config(dir: &Path, config: &str) -> anyhow::Result<PathBuf> {
    std::fs::write(dir.join("faq.toml"), SAMPLE_FAQ)
        .with_context(|| format!("writing the FAQ into {}", dir.display()))?;
    let path = dir.join("handoff.toml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The `handoff` binary: `--handoff`, else next to this executable (both
/// are built into `target/release` by `scripts/bench.sh`).
pub fn handoff_binary(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match flag {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("locating handoff-bench")?
            .with_file_name("handoff"),
    };
    if !path.is_file() {
        bail!(
            "{}: no handoff binary there; build it with `cargo build --release -p handoff` or pass --handoff",
            path.display()
        );
    }
    Ok(path)
}

/// How long start-up took, measured from the spawn.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    /// Until the "handoff is running" log line appeared.
    pub log_line: Duration,
    /// Until `GET /readyz` answered 200, if it ever did.
    pub readyz: Option<Duration>,
}

/// A running `handoff run`.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    started: Instant,
}

/// `HANDOFF_BENCH_KEEP=1` keeps work dirs (configs, stores, daemon logs)
/// for a look afterwards; their paths are printed.
pub fn keep_dir(dir: tempfile::TempDir) -> Option<tempfile::TempDir> {
    if std::env::var_os("HANDOFF_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        println!("  (kept {})", kept.display());
        None
    } else {
        Some(dir)
    }
}

impl Daemon {
    /// Starts `handoff run --config <config>`, logging to `log` with
    /// `rust_log` as `RUST_LOG` (`None`: handoff's own default filter, as
    /// a deployment without `RUST_LOG` runs).
    pub fn spawn(
        binary: &Path,
        config: &Path,
        log: &Path,
        rust_log: Option<&str>,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("creating the daemon log {}", log.display()))?;
        let started = Instant::now();
        let mut command = Command::new(binary);
        command
            .args(["run", "--config"])
            .arg(config)
            .env("HANDOFF_MATRIX_PASSWORD", PASSWORD);
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Daemon {
            child,
            log: log.to_path_buf(),
            started,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the ready log line; meanwhile polls `/readyz` on
    /// `metrics` (host:port) when given. Fails if the process exits or
    /// `timeout` passes.
    pub async fn wait_ready(
        &mut self,
        metrics: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Ready> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .context("building the HTTP client")?;
        let url = metrics.map(|m| format!("http://{m}/readyz"));
        let mut readyz = None;
        let mut last_probe = None::<Instant>;
        loop {
            let elapsed = self.started.elapsed();
            if elapsed > timeout {
                bail!(
                    "handoff was not ready within {timeout:?}; log tail:\n{}",
                    self.log_tail(30)
                );
            }
            if let Some(status) = self.child.try_wait().context("polling the daemon")? {
                bail!(
                    "handoff exited ({status}) before it was ready; log tail:\n{}",
                    self.log_tail(30)
                );
            }
            if let (Some(url), None) = (&url, readyz) {
                // One probe at a time, at most every 5 ms.
                if last_probe.is_none_or(|t| t.elapsed() >= Duration::from_millis(5)) {
                    last_probe = Some(Instant::now());
                    let ok = http
                        .get(url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        readyz = Some(self.started.elapsed());
                    }
                }
            }
            if self.log_text().contains(READY_LINE) {
                let log_line = self.started.elapsed();
                // Give /readyz a little longer if it exists but lags.
                if let (Some(url), None) = (&url, readyz) {
                    let until = Instant::now() + Duration::from_secs(2);
                    while Instant::now() < until {
                        let r = http.get(url).send().await;
                        if r.is_ok_and(|r| r.status().is_success()) {
                            readyz = Some(self.started.elapsed());
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                return Ok(Ready { log_line, readyz });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Resident set size in KiB (`VmRSS`), if the process is alive.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// User + system CPU time used so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which may contain spaces).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(Duration::from_millis(
            (utime + stime) * 1000 / clock_ticks(),
        ))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Warning and error lines of the log: how many in total, and the
    /// `limit` most frequent kinds with their counts (see [`problems`]).
    pub fn problems(&self, limit: usize) -> (usize, Vec<String>) {
        problems(&self.log_text(), limit)
    }

    /// Kills the process and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Warning and error lines of a tracing log (no ANSI colours: the daemon
/// logs to a file): how many in total, and the `limit` most frequent kinds
/// ("LEVEL message", the message cut at its first field or digit so that
/// lines differing only in ids, ports or counts group) with their counts.
pub fn problems(log: &str, limit: usize) -> (usize, Vec<String>) {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut total = 0;
    for line in log.lines() {
        let Some(at) = line.find(" WARN ").or_else(|| line.find(" ERROR ")) else {
            continue;
        };
        total += 1;
        let rest = line[at..].trim_start();
        let (level, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        // Spans print as `name{fields}:`; the message follows the last `}: `.
        let message = rest.rsplit("}: ").next().unwrap_or(rest).trim();
        let message = message
            .split(|c: char| c == '{' || c.is_ascii_digit())
            .next()
            .unwrap_or_default()
            .trim_end();
        let kind: String = format!("{level} {message}").chars().take(110).collect();
        *kinds.entry(kind).or_default() += 1;
    }
    let mut sorted: Vec<(String, usize)> = kinds.into_iter().collect();
    sorted.sort_by_key(|k| std::cmp::Reverse(k.1));
    let shown = sorted
        .into_iter()
        .take(limit)
        .map(|(k, n)| format!("{n:>5} × {k}"))
        .collect();
    (total, shown)
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`;
/// 100 on every Linux this runs on when that is unavailable).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// A free TCP port on 127.0.0.1 (bound and released; fine for a bench).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr().context("reading the port")?.port())
}

/// Size of everything under `dir`, in bytes.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_group_by_level_and_message() {
        let log = "\
2026-01-01T00:00:00.000001Z  INFO handoff: handoff is running
2026-01-01T00:00:00.000002Z  WARN matrix_sdk_crypto::backups: Trying to backup room keys
2026-01-01T00:00:00.000003Z  WARN matrix_sdk_crypto::backups: Trying to backup room keys
2026-01-01T00:00:00.000004Z ERROR send{request_id=\"REQ-3\" uri=\"http://x/a\"}: matrix_sdk::http_client: Error while sending request: 404
2026-01-01T00:00:00.000005Z ERROR conversation{key=a}:send{request_id=\"REQ-9\"}: matrix_sdk::http_client: Error while sending request: 404
";
        let (total, shown) = problems(log, 5);
        assert_eq!(total, 4);
        assert_eq!(
            shown,
            vec![
                "    2 × ERROR matrix_sdk::http_client: Error while sending request:".to_string(),
                "    2 × WARN matrix_sdk_crypto::backups: Trying to backup room keys".to_string(),
            ]
        );
    }
}

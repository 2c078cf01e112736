//! Timestamps in message bodies and the receiving side that reads them.
//!
//! A timed message carries `hbench-<tag>-<seq>-<sent µs>`: the send time
//! (Unix microseconds) is in the body, so whoever receives it (a Matrix
//! test user's sync loop, a Slack socket, the emulator's store) computes
//! the latency from the body alone, whatever the relay did to the rest of
//! the text. [`Probe`] hangs an event handler on a Matrix test client that
//! stamps each arriving message the moment the SDK hands it over.
//!
//! Not for sending or orchestration (`relay`). The invariant: every stamp
//! uses the same wall clock ([`now_micros`]) in this one process, so send
//! and receive stamps are directly comparable.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use synapse_testkit::TestClient;
use tokio::sync::watch;

use crate::stats::Samples;

const MARK: &str = "hbench-";

/// Unix time in microseconds.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A body carrying a fresh timestamp for message `seq` of run `tag`.
pub fn stamped(tag: &str, seq: u64) -> String {
    format!("{MARK}{tag}-{seq}-{} benchmark message", now_micros())
}

/// One timestamp found in a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub tag: String,
    pub seq: u64,
    pub sent_us: i64,
}

/// Every `hbench-` stamp in `body` (relays may add prefixes or markup).
pub fn parse_stamps(body: &str) -> Vec<Stamp> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let mut parts = rest.splitn(3, '-');
        let tag = parts.next().unwrap_or_default();
        let seq = parts.next().and_then(|s| s.parse().ok());
        let sent = parts.next().map(|s| {
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<i64>().ok()
        });
        if let (Some(seq), Some(Some(sent_us))) = (seq, sent) {
            if !tag.is_empty() && tag.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push(Stamp {
                    tag: tag.to_string(),
                    seq,
                    sent_us,
                });
            }
        }
    }
    out
}

/// Arrival times of stamped messages: (tag, seq) → (sent µs, received µs).
type Arrivals = HashMap<(String, u64), (i64, i64)>;

/// Records when stamped messages reach one Matrix test user.
#[derive(Clone)]
pub struct Probe {
    arrivals: watch::Sender<Arrivals>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

impl Probe {
    pub fn new() -> Probe {
        Probe {
            arrivals: watch::Sender::new(HashMap::new()),
        }
    }

    /// Adds the stamping event handler to `client`'s sync loop.
    pub fn attach(client: &TestClient) -> Probe {
        let probe = Probe::new();
        let handler_probe = probe.clone();
        client
            .client()
            .add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
                let received = now_micros();
                let probe = handler_probe.clone();
                async move { probe.record(ev.content.body(), received) }
            });
        probe
    }

    /// Records the stamps in `body` as received at `received` (µs); the
    /// first arrival of a stamp counts.
    pub fn record(&self, body: &str, received: i64) {
        let stamps = parse_stamps(body);
        if stamps.is_empty() {
            return;
        }
        self.arrivals.send_modify(|map| {
            for s in stamps {
                map.entry((s.tag, s.seq)).or_insert((s.sent_us, received));
            }
        });
    }

    /// Waits for message `seq` of `tag`; returns its latency in µs.
    pub async fn latency(&self, tag: &str, seq: u64, timeout: Duration) -> anyhow::Result<i64> {
        let key = (tag.to_string(), seq);
        let mut rx = self.arrivals.subscribe();
        let mut found = None;
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|map| {
                found = map.get(&key).copied();
                found.is_some()
            }),
        )
        .await
        .map(|r| r.is_ok());
        match (waited, found) {
            (Ok(true), Some((sent, received))) => Ok(received - sent),
            _ => Err(anyhow!(
                "message {seq} of run {tag} did not arrive within {timeout:?}"
            )),
        }
    }
}

/// Sends `warmup + n` messages one at a time (`send(tag, seq)`), waits for
/// each (`arrive(tag, seq)` returns its latency in µs) and keeps the last
/// `n`. `gap` is the pause after each arrival, so a message never queues
/// behind the tail work of the previous one.
pub async fn measure<S, A>(
    tag: &str,
    warmup: u64,
    n: u64,
    gap: Duration,
    mut send: S,
    mut arrive: A,
) -> anyhow::Result<Samples>
where
    S: AsyncFnMut(&str, u64) -> anyhow::Result<()>,
    A: AsyncFnMut(&str, u64) -> anyhow::Result<i64>,
{
    let mut samples = Samples::new();
    for seq in 0..warmup + n {
        send(tag, seq).await?;
        let us = arrive(tag, seq).await?;
        if seq >= warmup {
            samples.push_micros(us);
        }
        tokio::time::sleep(gap).await;
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_prefixes_and_markup() {
        let body = "**Carol:** hbench-mca-17-1712345678901234 benchmark message";
        assert_eq!(
            parse_stamps(body),
            vec![Stamp {
                tag: "mca".into(),
                seq: 17,
                sent_us: 1_712_345_678_901_234
            }]
        );
        let fresh = stamped("x1", 3);
        let got = parse_stamps(&format!("<p>{fresh}</p>"));
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].tag.as_str(), got[0].seq), ("x1", 3));
    }

    #[test]
    fn malformed_stamps_are_ignored() {
        assert!(parse_stamps("hbench-").is_empty());
        assert!(parse_stamps("hbench-a-b-c").is_empty());
        assert!(parse_stamps("hbench--1-2").is_empty());
        assert!(parse_stamps("no stamp here").is_empty());
    }
}

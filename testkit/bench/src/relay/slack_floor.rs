//! The Slack emulator's own floor, without handoff: how long a plain
//! `chat.postMessage` takes until the message is stored (the bot → agent
//! hop of a relay), and how long an agent's post takes to reach a plain
//! Socket Mode client (the agent → bot hop).
//!
//! Runs against its own emulator (no rate limits), so its socket never
//! competes with the daemon's for envelopes. Not for the relays themselves
//! (`relay`). The invariant: the floor client does the minimum a Slack app
//! must (POST JSON; read an envelope, ack it), nothing the bridge does
//! beyond that, so "relay − floors" is what handoff adds.

use std::cell::Cell;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use slack_emulator::{Emulator, EmulatorConfig, Ts};
use tokio_tungstenite::tungstenite::Message;

use super::probe::{measure, now_micros, parse_stamps, stamped, Probe};
use crate::stats::Samples;

/// The emulator's floor latencies.
pub struct Floors {
    /// `chat.postMessage` until stored.
    pub post: Samples,
    /// Agent post until a Socket Mode client read the envelope.
    pub event: Samples,
}

/// Measures both floors, `warmup + n` messages each.
pub async fn measure_floors(warmup: u64, n: u64, gap: Duration) -> anyhow::Result<Floors> {
    let emu = Emulator::start(EmulatorConfig::default().without_rate_limits())
        .await
        .context("starting the floor emulator")?;
    let channel = emu.add_channel("floor");
    let agent = emu.add_user("Floor Agent", false);
    let http = reqwest::Client::new();
    let api = emu.slack_api_url();

    let landed = Cell::new(0i64);
    let post = measure(
        "fsp",
        warmup,
        n,
        gap,
        async |tag: &str, seq: u64| {
            let text = stamped(tag, seq);
            let sent = parse_stamps(&text)
                .first()
                .map(|s| s.sent_us)
                .unwrap_or_else(now_micros);
            let resp: Value = http
                .post(format!("{api}/chat.postMessage"))
                .bearer_auth(emu.bot_token())
                .json(&json!({ "channel": channel, "text": text }))
                .send()
                .await
                .context("chat.postMessage")?
                .json()
                .await
                .context("reading chat.postMessage's answer")?;
            let ts = resp["ts"]
                .as_str()
                .and_then(Ts::parse)
                .ok_or_else(|| anyhow!("chat.postMessage answered without a ts: {resp}"))?;
            landed.set(ts.0 as i64 - sent);
            Ok(())
        },
        async |_: &str, _: u64| Ok(landed.get()),
    )
    .await?;

    let probe = Probe::new();
    let reader = open_socket(&emu, &http, probe.clone()).await?;
    let event = measure(
        "fse",
        warmup,
        n,
        gap,
        async |tag: &str, seq: u64| {
            emu.post_as(&agent, &channel, None, &stamped(tag, seq))
                .map_err(|e| anyhow!("posting as the floor agent: {e}"))?;
            Ok(())
        },
        async |tag: &str, seq: u64| probe.latency(tag, seq, Duration::from_secs(30)).await,
    )
    .await;
    reader.abort();
    Ok(Floors {
        post,
        event: event?,
    })
}

/// Opens a Socket Mode connection that acks every envelope and records
/// stamped event texts in `probe`; returns once `hello` arrived.
async fn open_socket(
    emu: &Emulator,
    http: &reqwest::Client,
    probe: Probe,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let resp: Value = http
        .post(format!("{}/apps.connections.open", emu.slack_api_url()))
        .bearer_auth(emu.app_token())
        .send()
        .await
        .context("apps.connections.open")?
        .json()
        .await
        .context("reading apps.connections.open's answer")?;
    let url = resp["url"]
        .as_str()
        .ok_or_else(|| anyhow!("apps.connections.open gave no url: {resp}"))?;
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("connecting the floor socket")?;
    let (mut sink, mut stream) = ws.split();
    let (hello_tx, hello_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut hello = Some(hello_tx);
        while let Some(Ok(frame)) = stream.next().await {
            let received = now_micros();
            let Message::Text(text) = frame else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if v["type"] == "hello" {
                if let Some(tx) = hello.take() {
                    let _ = tx.send(());
                }
                continue;
            }
            if let Some(id) = v["envelope_id"].as_str() {
                let ack = json!({ "envelope_id": id }).to_string();
                if sink.send(Message::Text(ack.into())).await.is_err() {
                    break;
                }
            }
            if let Some(body) = v["payload"]["event"]["text"].as_str() {
                probe.record(body, received);
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(10), hello_rx).await {
        Ok(Ok(())) => Ok(task),
        _ => {
            task.abort();
            bail!("the floor socket got no hello from the emulator")
        }
    }
}

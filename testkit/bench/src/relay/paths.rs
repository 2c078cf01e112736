//! The timed paths of the relay benchmark and the round-robin that times
//! them side by side: each round sends one message on every path, in
//! turn, so every path sees the same background load of this (shared)
//! machine, and slow minutes hit floors and relays alike.
//!
//! Not for setting paths up (`setup`, `echo`) or reporting (`relay`). The
//! invariant: one message is in flight at a time, sent with its stamp in
//! the body and timed by its receiver, and a message that never arrives
//! fails the run instead of being dropped from the figures.

use std::time::Duration;

use anyhow::anyhow;
use matrix_sdk::ruma::OwnedRoomId;
use slack_emulator::{Emulator, Ts};
use synapse_testkit::TestClient;

use super::probe::{now_micros, parse_stamps, stamped, Probe};
use crate::stats::Samples;

/// How long one timed message may take before the run fails.
const PER_MESSAGE: Duration = Duration::from_secs(30);

/// Where a timed message goes and who times its arrival.
pub enum Path<'a> {
    /// A Matrix user sends in `room`; `to`'s probe times it.
    Matrix {
        from: &'a TestClient,
        room: &'a OwnedRoomId,
        to: &'a Probe,
    },
    /// A Matrix user sends in `room`; it is timed when stored in Slack's
    /// `channel` (the emulator mints the ts when it stores a message).
    ToSlack {
        from: &'a TestClient,
        room: &'a OwnedRoomId,
        emu: &'a Emulator,
        channel: &'a str,
    },
    /// A Slack user posts in `channel` (thread `thread`); `to` times it.
    FromSlack {
        emu: &'a Emulator,
        user: &'a str,
        channel: &'a str,
        thread: &'a str,
        to: &'a Probe,
    },
}

impl Path<'_> {
    /// Sends message `seq` of `tag` and returns its latency in µs.
    async fn once(&self, tag: &str, seq: u64) -> anyhow::Result<i64> {
        let body = stamped(tag, seq);
        match self {
            Path::Matrix { from, room, to } => {
                from.send_text(room, &body).await?;
                to.latency(tag, seq, PER_MESSAGE).await
            }
            Path::ToSlack {
                from,
                room,
                emu,
                channel,
            } => {
                let since = Ts(now_micros().max(0) as u64);
                from.send_text(room, &body).await?;
                landed_in_slack(emu, channel, since, tag, seq).await
            }
            Path::FromSlack {
                emu,
                user,
                channel,
                thread,
                to,
            } => {
                emu.post_as(user, channel, Some(thread), &body)
                    .map_err(|e| anyhow!("posting as the Slack agent: {e}"))?;
                to.latency(tag, seq, PER_MESSAGE).await
            }
        }
    }
}

/// Runs `warmup + n` rounds over `paths` (tag, path), pausing `gap` after
/// each message; returns the last `n` latencies of each path, in order.
pub async fn rounds(
    paths: &[(&str, Path<'_>)],
    warmup: u64,
    n: u64,
    gap: Duration,
) -> anyhow::Result<Vec<Samples>> {
    let mut out = vec![Samples::new(); paths.len()];
    for seq in 0..warmup + n {
        for ((tag, path), samples) in paths.iter().zip(out.iter_mut()) {
            let us = path
                .once(tag, seq)
                .await
                .map_err(|e| e.context(format!("path {tag}, message {seq}")))?;
            if seq >= warmup {
                samples.push_micros(us);
            }
            tokio::time::sleep(gap).await;
        }
    }
    Ok(out)
}

/// Waits until message `seq` of `tag` is stored in `channel`; its latency
/// is the emulator's ts (minted when stored) minus the send stamp. Only
/// messages stored from `since` (taken before the send) are looked at: a
/// scan of the whole channel on every change would cost more as the run
/// goes on and hold the emulator while handoff posts.
async fn landed_in_slack(
    emu: &Emulator,
    channel: &str,
    since: Ts,
    tag: &str,
    seq: u64,
) -> anyhow::Result<i64> {
    let matches = |text: &str| {
        parse_stamps(text)
            .into_iter()
            .find(|s| s.tag == tag && s.seq == seq)
    };
    let m = emu
        .wait_for_message_since(channel, since, |m| matches(&m.text).is_some(), PER_MESSAGE)
        .await
        .map_err(|e| anyhow!("message {seq} of {tag} never reached Slack: {e}"))?;
    let sent = matches(&m.text)
        .map(|s| s.sent_us)
        .ok_or_else(|| anyhow!("the stamp of message {seq} of {tag} vanished"))?;
    Ok(m.ts.0 as i64 - sent)
}

//! A 429 on every third `chat.postMessage`: 30 replies in one case thread
//! all arrive, in order, while another channel's messages are not held up.

use crate::common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use common::*;
use handoff_bridge_api::{Action, Bridge, BridgeError, Delivered, Endpoint, Outgoing, Text};
use slack_emulator::{CallOutcome, EmulatorConfig, Fault};

type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Delivered, BridgeError>> + 'a>>;

fn send(key: String, channel: &str, thread: &str, text: String) -> Outgoing {
    Outgoing {
        key,
        action: Action::Send {
            to: Endpoint::new("slack", channel).in_thread(thread),
            body: Text::plain(text),
            reply_to: None,
            as_name: None,
        },
    }
}

/// Polls all futures, in order, until each is done (first polls happen in
/// index order, so the actions are queued in that order).
async fn join_in_order(mut futs: Vec<SendFuture<'_>>) -> Vec<Result<Delivered, BridgeError>> {
    let mut results: Vec<Option<Result<Delivered, BridgeError>>> =
        (0..futs.len()).map(|_| None).collect();
    poll_fn(|cx| {
        for (f, slot) in futs.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    *slot = Some(r);
                }
            }
        }
        if results.iter().all(Option::is_some) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

#[tokio::test]
async fn rate_limits_lose_and_reorder_nothing_and_do_not_block_other_channels() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let busy = emu.add_channel("busy");
    let calm = emu.add_channel("calm");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, busy_root) = opened(&bridge, "open-busy", &busy).await;
    let (_, calm_root) = opened(&bridge, "open-calm", &calm).await;
    emu.fail_every(
        "chat.postMessage",
        3,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );

    let busy_out: Vec<Outgoing> = (0..30)
        .map(|i| send(format!("busy-{i}"), &busy, &busy_root, format!("m{i}")))
        .collect();
    let calm_out: Vec<Outgoing> = (0..3)
        .map(|i| send(format!("calm-{i}"), &calm, &calm_root, format!("c{i}")))
        .collect();
    let mut futs: Vec<SendFuture<'_>> = Vec::new();
    for (i, out) in busy_out.iter().enumerate() {
        futs.push(Box::pin(bridge.send(out)));
        if i == 2 {
            futs.extend(
                calm_out
                    .iter()
                    .map(|o| Box::pin(bridge.send(o)) as SendFuture<'_>),
            );
        }
    }
    let results = join_in_order(futs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let texts: Vec<String> = emu
        .thread(&busy, &busy_root)
        .into_iter()
        .skip(1)
        .map(|m| m.text)
        .collect();
    let expected: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "nothing lost, nothing reordered");

    let limited = emu
        .calls("chat.postMessage")
        .iter()
        .filter(|c| matches!(c.outcome, CallOutcome::RateLimited(_)))
        .count();
    assert!(limited >= 10, "the 429s happened: {limited}");

    let calm_thread = emu.thread(&calm, &calm_root);
    let calm_texts: Vec<&str> = calm_thread
        .iter()
        .skip(1)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(calm_texts, ["c0", "c1", "c2"]);
    let busy_last = emu.thread(&busy, &busy_root).last().unwrap().ts;
    let busy_tenth = emu.thread(&busy, &busy_root)[10].ts;
    let calm_last = calm_thread.last().unwrap().ts;
    assert!(
        calm_last < busy_last,
        "the calm channel was not queued behind the busy one"
    );
    assert!(
        calm_last < busy_tenth,
        "the calm channel finished while the busy one was still waiting out 429s"
    );
}

/// A 429's `Retry-After` is waited out before the same call is sent
/// again: in the emulator's call log the retry arrives no earlier than
/// `Retry-After` after the 429 (a lower bound on the gap between two
/// recorded calls, not a speed assertion).
#[tokio::test]
async fn a_429_s_retry_after_is_waited_for_before_the_retry() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let retry_after = std::time::Duration::from_secs(2);
    emu.fail_next(
        "chat.postMessage",
        1,
        Fault::RateLimited {
            retry_after_secs: retry_after.as_secs(),
        },
    );
    bridge
        .send(&send("after-429".into(), &channel, &root, "waited".into()))
        .await
        .expect("posted after the wait");
    let calls = emu.calls("chat.postMessage");
    let limited = calls
        .iter()
        .position(|c| matches!(c.outcome, CallOutcome::RateLimited(2)))
        .expect("the 429 was answered");
    let retry = calls.get(limited + 1).expect("the call was retried");
    assert_eq!(retry.outcome, CallOutcome::Ok);
    assert_eq!(retry.param("text"), calls[limited].param("text"));
    let gap = retry.at.duration_since(calls[limited].at);
    assert!(
        gap >= retry_after,
        "retried {gap:?} after a 429 asking for {retry_after:?}"
    );
    assert_eq!(
        emu.thread(&channel, &root)
            .iter()
            .filter(|m| m.text == "waited")
            .count(),
        1
    );
}

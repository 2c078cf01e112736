//! Rate limits and injected faults as the bridge's client sees them: 429
//! with `Retry-After`, 500s, dropped connections (before and after the
//! call took effect), and Slack-level transient errors.

use crate::common;

use common::*;
use slack_emulator::{CallOutcome, EmulatorConfig, Fault, RateLimit};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::time::Duration;

fn post(channel: &str, s: &str) -> SlackApiChatPostMessageRequest {
    SlackApiChatPostMessageRequest::new(
        channel.into(),
        SlackMessageContent::new().with_text(s.into()),
    )
}

#[tokio::test]
async fn post_message_is_limited_per_channel_with_retry_after() {
    let config = EmulatorConfig {
        rate_limits: vec![RateLimit {
            burst: 2,
            ..RateLimit::post_message_default()
        }],
        ..EmulatorConfig::default()
    };
    let emu = emulator(config).await;
    let busy = emu.add_channel("busy");
    let quiet = emu.add_channel("quiet");
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    session
        .chat_post_message(&post(&busy, "1"))
        .await
        .expect("burst 1");
    session
        .chat_post_message(&post(&busy, "2"))
        .await
        .expect("burst 2");
    match session.chat_post_message(&post(&busy, "3")).await {
        Err(SlackClientError::RateLimitError(err)) => {
            assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
            assert_eq!(err.code.as_deref(), Some("ratelimited"));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Another channel is not held up by the busy one.
    session
        .chat_post_message(&post(&quiet, "q"))
        .await
        .expect("own bucket");
    assert_eq!(
        emu.messages(&busy).len(),
        2,
        "the refused post left no message"
    );
    assert_eq!(
        emu.calls("chat.postMessage")[2].outcome,
        CallOutcome::RateLimited(1)
    );

    let raw_answer = form(
        &emu,
        "chat.postMessage",
        Some(emu.bot_token()),
        &format!("channel={busy}&text=4"),
    )
    .await;
    assert_eq!(raw_answer.status, 429);
    assert_eq!(raw_answer.headers["retry-after"], "1");
    assert_eq!(raw_answer.json()["error"], "ratelimited");
}

#[tokio::test]
async fn injected_faults_hit_the_chosen_calls() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("support");
    let client = client(&emu);
    let token = bot_token(&emu);
    let session = client.open_session(&token);

    emu.fail_next(
        "chat.postMessage",
        1,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    match session.chat_post_message(&post(&channel, "a")).await {
        Err(SlackClientError::RateLimitError(err)) => {
            assert_eq!(err.retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("expected 429, got {other:?}"),
    }
    emu.fail_next("chat.postMessage", 1, Fault::ServerError);
    match session.chat_post_message(&post(&channel, "b")).await {
        Err(SlackClientError::HttpError(err)) => assert_eq!(err.status_code.as_u16(), 500),
        other => panic!("expected 500, got {other:?}"),
    }
    emu.fail_next(
        "chat.postMessage",
        1,
        Fault::SlackError("service_unavailable".into()),
    );
    assert_eq!(
        api_error_code(session.chat_post_message(&post(&channel, "c")).await),
        "service_unavailable"
    );
    emu.fail_next("chat.postMessage", 1, Fault::Reset);
    assert!(session
        .chat_post_message(&post(&channel, "d"))
        .await
        .is_err());
    assert!(
        emu.messages(&channel).is_empty(),
        "faults before commit change nothing"
    );

    // A reset after commit: the client sees an error, but Slack posted it.
    emu.fail_next("chat.postMessage", 1, Fault::ResetAfterCommit);
    assert!(session
        .chat_post_message(&post(&channel, "e"))
        .await
        .is_err());
    let posted = emu.messages(&channel);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].text, "e");

    session
        .chat_post_message(&post(&channel, "f"))
        .await
        .expect("faults are used up");

    emu.fail_every("auth.test", 2, Fault::ServerError);
    let results: Vec<bool> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(session.auth_test().await.is_ok());
        }
        v
    };
    assert_eq!(results, [true, false, true, false]);
    emu.clear_faults();
    assert!(session.auth_test().await.is_ok());
}

//! Oversized text both ways: an Outgoing text longer than Slack's 40,000
//! characters is posted (and edited) cut with a marker instead of failing
//! with `msg_too_long` on every retry; an inbound message text longer than
//! that is relayed cut the same way.

use crate::common;

use std::sync::Arc;

use common::*;
use handoff_bridge_api::{
    Action, Bridge, Delivered, Endpoint, InboundKind, MessageRef, Outgoing, Text,
};
use handoff_slack::MAX_TEXT_CHARS;
use serde_json::json;
use slack_emulator::EmulatorConfig;

const MARKER_END: &str = "more characters]";

fn long_text(words: usize) -> String {
    (0..words).map(|i| format!("w{i} ")).collect()
}

#[tokio::test]
async fn an_outgoing_text_over_the_limit_is_posted_and_edited_cut_with_a_marker() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let to = Endpoint::new("slack", &channel).in_thread(&root);

    let text = long_text(20_000); // ~109,000 characters
    assert!(text.chars().count() > 2 * MAX_TEXT_CHARS);
    let sent = bridge
        .send(&Outgoing {
            key: "long-1".into(),
            action: Action::Send {
                to: to.clone(),
                body: Text::plain(text.clone()),
                reply_to: None,
                as_name: Some("Alice".into()),
            },
        })
        .await
        .expect("a long text is posted, not refused");
    let Delivered::Message(MessageRef { id: ts, .. }) = sent else {
        panic!("expected a message, got {sent:?}")
    };
    let posted = emu.message(&channel, &ts).expect("posted");
    assert!(posted.text.chars().count() <= MAX_TEXT_CHARS);
    assert!(
        posted.text.starts_with("w0 w1 w2"),
        "{}",
        &posted.text[..40]
    );
    assert!(posted.text.trim_end().ends_with(MARKER_END));

    bridge
        .send(&Outgoing {
            key: "long-1-edit".into(),
            action: Action::Edit {
                target: MessageRef {
                    endpoint: to,
                    id: ts.clone(),
                },
                body: Text::plain(format!("edited {text}")),
            },
        })
        .await
        .expect("a long edit is applied, not refused");
    let edited = emu.message(&channel, &ts).expect("still there");
    assert!(edited.text.starts_with("edited w0"));
    assert!(edited.text.chars().count() <= MAX_TEXT_CHARS);
    assert!(edited.text.trim_end().ends_with(MARKER_END));
}

#[tokio::test]
async fn an_inbound_text_over_the_limit_is_relayed_cut_with_a_marker() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    let bob = emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;

    // Slack itself caps texts; a payload past the cap is relayed cut.
    let text = long_text(15_000);
    emu.inject_event(json!({"type": "message", "channel": channel, "user": bob,
        "text": text, "ts": "1900000000.000100", "thread_ts": root}));
    let ev = next(&mut rx).await;
    let InboundKind::Message { body, .. } = &ev.kind else {
        panic!("expected a message, got {ev:?}")
    };
    assert!(body.plain.chars().count() <= MAX_TEXT_CHARS);
    assert!(body.plain.starts_with("w0 w1"));
    assert!(
        body.plain.ends_with(MARKER_END),
        "{}",
        &body.plain[body.plain.len() - 60..]
    );
}

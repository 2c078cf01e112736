//! Outgoing actions against the emulator: opening a case (blocks, buttons,
//! pin), exactly-once per key (also after losing the state store),
//! summary updates, send/edit/delete/react/upload, failures.

use crate::common;

use std::sync::Arc;

use common::*;
use handoff_bridge_api::{
    Action, Attachment, Bridge, BridgeError, Delivered, DeskTarget, Endpoint, MessageRef, Outgoing,
    Text,
};
use handoff_slack::{NameStyle, SlackBridge};
use slack_emulator::{EmulatorConfig, Fault};

fn send(key: &str, channel: &str, thread: &str, text: &str) -> Outgoing {
    Outgoing {
        key: key.into(),
        action: Action::Send {
            to: Endpoint::new("slack", channel).in_thread(thread),
            body: Text::plain(text),
            reply_to: None,
            as_name: None,
        },
    }
}

fn msg_ref(d: Delivered) -> MessageRef {
    match d {
        Delivered::Message(m) => m,
        other => panic!("expected Message, got {other:?}"),
    }
}

#[tokio::test]
async fn open_case_posts_a_pinned_root_with_blocks_and_buttons() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel_with(
        "support-billing",
        slack_emulator::ChannelOptions {
            private: false,
            bot_member: false,
        },
    );
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (room, root) = opened(&bridge, "case-42-open", "#support-billing").await;
    assert_eq!(room, channel, "the name resolves to the channel id");
    assert_eq!(
        emu.calls("conversations.join").len(),
        1,
        "joined the channel"
    );

    let root_msg = emu.message(&channel, &root).expect("root exists");
    assert_eq!(root_msg.thread_ts, None, "the summary is a thread root");
    assert!(
        root_msg.text.starts_with(
            "Case #42 · billing · Alice\nState: 🟡 Waiting\nCustomer: Alice (matrix)\n"
        ),
        "{}",
        root_msg.text
    );
    let blocks = root_msg.blocks.expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Case #42 · billing · Alice");
    assert_eq!(
        blocks[1]["text"]["text"],
        "*State:* 🟡 Waiting\n*Customer:* Alice (matrix)\n*Reason:* asked for a human"
    );
    assert_eq!(
        blocks[2]["text"]["text"],
        "*Conversation so far*\n_(nothing said yet)_"
    );
    let actions = &blocks[3];
    assert_eq!(actions["type"], "actions");
    assert_eq!(actions["elements"][0]["action_id"], "claim");
    assert_eq!(actions["elements"][1]["action_id"], "resolve");
    assert_eq!(actions["elements"][2]["type"], "static_select");
    assert_eq!(actions["elements"][2]["options"][1]["value"], "sales");
    let pins = emu.pins(&channel);
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].ts.to_string(), root);

    // By channel id too, and a private-room desk is not something Slack does.
    let (room2, _) = opened(&bridge, "case-43-open", &channel).await;
    assert_eq!(room2, channel);
    let err = bridge
        .send(&Outgoing {
            key: "pr".into(),
            action: Action::OpenCase {
                desk: DeskTarget::PrivateRoom {
                    invite: vec![],
                    encrypted: false,
                },
                summary: summary(),
            },
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn the_same_key_posts_once_even_after_losing_the_state_store() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let state = Arc::new(MemState::default());
    let first = bridge(&emu, state.clone()).await;
    let (_, root) = opened(&first, "open-1", &channel).await;
    let a = first
        .send(&send("reply-1", &channel, &root, "hello"))
        .await
        .unwrap();
    let b = first
        .send(&send("reply-1", &channel, &root, "hello"))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(emu.thread(&channel, &root).len(), 2, "root + one reply");

    // A crash between posting and recording: a fresh bridge, empty store.
    state.clear();
    let second = bridge(&emu, state.clone()).await;
    let c = second
        .send(&send("reply-1", &channel, &root, "hello"))
        .await
        .unwrap();
    assert_eq!(a, c, "found by reading the thread back");
    let (_, root_again) = opened(&second, "open-1", &channel).await;
    assert_eq!(root_again, root, "the case root is found in the history");
    assert_eq!(emu.thread(&channel, &root).len(), 2, "nothing posted twice");
    assert_eq!(emu.calls("chat.postMessage").len(), 2);
    let d = second
        .send(&send("reply-2", &channel, &root, "hello"))
        .await
        .unwrap();
    assert_ne!(msg_ref(d).id, msg_ref(a).id, "a new key posts anew");
}

#[tokio::test]
async fn a_post_that_succeeded_before_the_connection_dropped_is_not_repeated() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    emu.fail_next("chat.postMessage", 1, Fault::ResetAfterCommit);
    let d = bridge
        .send(&send("k", &channel, &root, "once"))
        .await
        .unwrap();
    let thread = emu.thread(&channel, &root);
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert_eq!(thread[1].ts.to_string(), msg_ref(d).id);
}

#[tokio::test]
async fn update_summary_edits_the_root_in_place() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let mut s = summary();
    s.title = "Case #42 · assigned to Bob".into();
    s.state.text = "Assigned to Bob".into();
    let done = bridge
        .send(&Outgoing {
            key: "upd".into(),
            action: Action::UpdateSummary {
                summary_message: MessageRef {
                    endpoint: Endpoint::new("slack", &channel).in_thread(&root),
                    id: root.clone(),
                },
                summary: s,
            },
        })
        .await
        .unwrap();
    assert_eq!(done, Delivered::Done);
    let m = emu.message(&channel, &root).unwrap();
    assert!(
        m.text
            .starts_with("Case #42 · assigned to Bob\nState: 🟡 Assigned to Bob\n"),
        "{}",
        m.text
    );
    assert_eq!(
        m.blocks.unwrap()[0]["text"]["text"],
        "Case #42 · assigned to Bob"
    );
    assert!(m.edited.is_some());
    let own: Vec<_> = emu
        .messages(&channel)
        .into_iter()
        .filter(|m| m.subtype.is_none())
        .collect();
    assert_eq!(own.len(), 1, "edited, not reposted: {own:?}");
    assert_eq!(emu.pins(&channel).len(), 1);
}

#[tokio::test]
async fn send_edit_delete_react_upload_and_notify_show_up_in_slack() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let mut cfg = socket_config(&emu);
    cfg.show_names_as = NameStyle::Prefix;
    let bridge = SlackBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .unwrap();
    let (_, root) = opened(&bridge, "open", &channel).await;
    let thread = Endpoint::new("slack", &channel).in_thread(&root);

    let sent = msg_ref(
        bridge
            .send(&Outgoing {
                key: "s1".into(),
                action: Action::Send {
                    to: thread.clone(),
                    body: Text {
                        plain: "hi there".into(),
                        html: Some("<b>hi</b> <a href=\"https://x.io\">there</a> &lt;3".into()),
                    },
                    reply_to: None,
                    as_name: Some("Carol".into()),
                },
            })
            .await
            .unwrap(),
    );
    assert_eq!(sent.endpoint, thread);
    let m = emu.message(&channel, &sent.id).unwrap();
    assert_eq!(m.text, "*Carol:* *hi* <https://x.io|there> &lt;3");
    assert_eq!(m.thread_ts.map(|t| t.to_string()), Some(root.clone()));

    bridge
        .send(&Outgoing {
            key: "e1".into(),
            action: Action::Edit {
                target: sent.clone(),
                body: Text::plain("hi again"),
            },
        })
        .await
        .unwrap();
    let m = emu.message(&channel, &sent.id).unwrap();
    assert_eq!(
        m.text, "*Carol:* hi again",
        "the name prefix survives edits"
    );

    bridge
        .send(&Outgoing {
            key: "r1".into(),
            action: Action::React {
                target: sent.clone(),
                key: "👍".into(),
            },
        })
        .await
        .unwrap();
    let reactions = emu.reactions(&channel, &sent.id);
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].name, "+1");
    let unknown = bridge
        .send(&Outgoing {
            key: "r2".into(),
            action: Action::React {
                target: sent.clone(),
                // Neither an emoji nor a `:name:` (the emojis crate
                // knows every Unicode emoji, 🦩 included).
                key: "not an emoji".into(),
            },
        })
        .await
        .unwrap_err();
    assert!(matches!(unknown, BridgeError::Unsupported { .. }));

    let up = bridge
        .send(&Outgoing {
            key: "u1".into(),
            action: Action::Upload {
                to: thread.clone(),
                file: Attachment {
                    name: "log.txt".into(),
                    mime: "text/plain".into(),
                    data: b"line 1\nline 2\n".to_vec(),
                },
                as_name: None,
            },
        })
        .await
        .unwrap();
    let up = msg_ref(up);
    let shared = emu.message(&channel, &up.id).expect("share message");
    assert_eq!(shared.thread_ts.map(|t| t.to_string()), Some(root.clone()));
    assert_eq!(
        emu.file_content(&shared.files[0]).as_deref(),
        Some(&b"line 1\nline 2\n"[..])
    );

    let note = msg_ref(
        bridge
            .send(&Outgoing {
                key: "n1".into(),
                action: Action::Notify {
                    to: thread.clone(),
                    body: Text::plain("first reply is overdue"),
                    mention: Some("@here".into()),
                },
            })
            .await
            .unwrap(),
    );
    assert_eq!(
        emu.message(&channel, &note.id).unwrap().text,
        "<!here> first reply is overdue"
    );

    bridge
        .send(&Outgoing {
            key: "d1".into(),
            action: Action::Delete {
                target: sent.clone(),
            },
        })
        .await
        .unwrap();
    assert!(emu.message(&channel, &sent.id).is_none());
    // Deleting again (a retried key with a lost record) is still fine.
    bridge
        .send(&Outgoing {
            key: "d1-again".into(),
            action: Action::Delete { target: sent },
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn username_style_sets_the_username_override() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let d = bridge
        .send(&Outgoing {
            key: "s".into(),
            action: Action::Send {
                to: Endpoint::new("slack", &channel).in_thread(&root),
                body: Text::plain("from the customer"),
                reply_to: None,
                as_name: Some("Alice".into()),
            },
        })
        .await
        .unwrap();
    let m = emu.message(&channel, &msg_ref(d).id).unwrap();
    assert_eq!(m.username.as_deref(), Some("Alice"));
    assert_eq!(m.text, "from the customer");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_unavailable() {
    let emu = emulator(EmulatorConfig::default()).await;
    let channel = emu.add_channel("desk");
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let (_, root) = opened(&bridge, "open", &channel).await;

    emu.fail_next("chat.postMessage", 2, Fault::ServerError);
    bridge
        .send(&send("a", &channel, &root, "after two 500s"))
        .await
        .unwrap();
    assert_eq!(emu.thread(&channel, &root).len(), 2);

    emu.fail_next("chat.postMessage", 100, Fault::ServerError);
    let err = bridge
        .send(&send("b", &channel, &root, "never"))
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    emu.clear_faults();
    bridge
        .send(&send("b", &channel, &root, "never"))
        .await
        .unwrap();
    assert_eq!(
        emu.thread(&channel, &root).len(),
        3,
        "the retried key posts once"
    );
}

#[tokio::test]
async fn a_revoked_or_wrong_token_fails_with_auth() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.revoke_token(emu.bot_token());
    let err = SlackBridge::connect(socket_config(&emu), Arc::new(MemState::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("token_revoked"), "{err}");

    let mut cfg = socket_config(&emu);
    cfg.bot_token = "xoxb-wrong".into();
    let err = SlackBridge::connect(cfg, Arc::new(MemState::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, BridgeError::Auth { .. }), "{err:?}");
    assert!(
        !format!("{err:?}").contains("xoxb-wrong"),
        "no token in errors"
    );
}

#[tokio::test]
async fn capabilities_and_network() {
    let emu = emulator(EmulatorConfig::default()).await;
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    assert_eq!(bridge.network(), "slack");
    let caps = bridge.capabilities();
    assert!(caps.edit && caps.delete && caps.react && caps.upload);
    assert!(caps.threads && caps.pins && caps.buttons);
    assert!(!caps.private_rooms);
    assert!(!caps.customers, "Slack is a desk network only");
}

//! Tests of `parse`: examples of each event kind and of every ignored
//! sender, and property tests feeding arbitrary bytes, arbitrary JSON
//! shapes and mutated genuine payloads to every entry point.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn senders() -> Senders {
    Senders {
        own_user: "UBOT".into(),
        ignored: ["UIGNORED".to_string(), "BOTHERBOT".to_string()]
            .into_iter()
            .collect(),
    }
}

fn reply(user: &str) -> Value {
    json!({"type": "event_callback", "event_id": "Ev1", "event": {
        "type": "message", "channel": "C1", "user": user, "text": "hi",
        "ts": "2.000001", "thread_ts": "1.000001",
    }})
}

#[test]
fn a_thread_reply_is_posted() {
    let payload = reply("UALICE");
    let Ok(Event::Posted(p)) = event(&payload, &senders()) else {
        panic!("expected a posted message")
    };
    assert_eq!(
        (p.channel, p.ts, p.user, p.root, p.text),
        ("C1", "2.000001", "UALICE", "1.000001", "hi")
    );
    assert!(p.files.is_empty());
}

#[test]
fn own_ignored_bot_and_marked_messages_are_skipped() {
    let who = senders();
    assert_eq!(
        event(&reply("UBOT"), &who),
        Err(Skip("the bot's own message"))
    );
    assert_eq!(
        event(&reply("UIGNORED"), &who),
        Err(Skip("an ignored user"))
    );
    let mut other_app = reply("UALICE");
    other_app["event"]["bot_id"] = json!("B999");
    assert_eq!(
        event(&other_app, &who),
        Err(Skip("posted by an app or bot"))
    );
    // A second handoff instance's post, even without a bot_id.
    let mut marked = reply("USECOND");
    marked["event"]["metadata"] =
        json!({"event_type": "handoff_outgoing", "event_payload": {"key": "k"}});
    assert_eq!(
        event(&marked, &who),
        Err(Skip("carries handoff's relay marker"))
    );
    let mut other_metadata = reply("UALICE");
    other_metadata["event"]["metadata"] = json!({"event_type": "deploy_finished"});
    assert!(matches!(event(&other_metadata, &who), Ok(Event::Posted(_))));
}

#[test]
fn edits_deletions_reactions_and_buttons_of_ignored_senders_are_skipped() {
    let who = senders();
    let edit = |user: &str, marker: bool| {
        let mut m = json!({"user": user, "ts": "2.0", "text": "new", "edited": {"ts": "3.0"}});
        if marker {
            m["metadata"] = json!({"event_type": RELAY_MARKER});
        }
        json!({"event": {"type": "message", "subtype": "message_changed", "channel": "C1",
            "message": m, "previous_message": {"user": user, "ts": "2.0", "text": "old"}}})
    };
    assert!(
        matches!(event(&edit("UALICE", false), &who), Ok(Event::Edited(e)) if e.edit_ts == "3.0")
    );
    assert!(event(&edit("UBOT", false), &who).is_err());
    assert!(event(&edit("UALICE", true), &who).is_err());
    let delete = json!({"event": {"type": "message", "subtype": "message_deleted",
        "channel": "C1", "deleted_ts": "2.0",
        "previous_message": {"user": "UIGNORED", "ts": "2.0", "text": "x"}}});
    assert_eq!(event(&delete, &who), Err(Skip("an ignored user")));
    let reaction = |user: &str| {
        json!({"event": {"type": "reaction_added", "user": user, "reaction": "eyes",
            "item": {"type": "message", "channel": "C1", "ts": "2.0"}, "event_ts": "4.0"}})
    };
    assert!(matches!(
        event(&reaction("UALICE"), &who),
        Ok(Event::Reacted(_))
    ));
    assert!(event(&reaction("UBOT"), &who).is_err());
    let press = |user: &str| {
        json!({"type": "block_actions", "user": {"id": user},
            "container": {"channel_id": "C1", "message_ts": "1.0"},
            "actions": [{"action_id": "claim", "value": "claim", "action_ts": "5.0"}]})
    };
    let alice = press("UALICE");
    let pressed = interaction(&alice, &who).unwrap();
    assert_eq!(pressed.actions.len(), 1);
    assert_eq!(pressed.actions[0].action_id, "claim");
    assert!(interaction(&press("UIGNORED"), &who).is_err());
}

#[test]
fn deeply_nested_json_is_refused_by_the_reader_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(serde_json::from_str::<Value>(&deep).is_err());
}

/// Field names the parser reads, so random objects hit its paths.
const KEYS: &[&str] = &[
    "type",
    "subtype",
    "event",
    "channel",
    "user",
    "ts",
    "thread_ts",
    "text",
    "bot_id",
    "files",
    "message",
    "previous_message",
    "deleted_ts",
    "edited",
    "event_ts",
    "item",
    "reaction",
    "metadata",
    "event_type",
    "container",
    "channel_id",
    "message_ts",
    "actions",
    "action_id",
    "value",
    "selected_option",
    "action_ts",
    "trigger_id",
    "id",
];

/// Values the parser compares against, plus arbitrary text.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "message",
            "message_changed",
            "message_deleted",
            "reaction_added",
            "block_actions",
            "thread_broadcast",
            "file_share",
            "tombstone",
            "handoff_outgoing",
            "UBOT",
            "UIGNORED",
            "1.000001",
            "2.000001",
            "C1",
            "",
        ])
        .prop_map(str::to_string),
        any::<String>(),
        "\\PC{0,40}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_string), word()],
                    inner
                ),
                0..8
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A genuine payload of each kind.
fn templates() -> Vec<Value> {
    vec![
        reply("UALICE"),
        json!({"event": {"type": "message", "subtype": "message_changed", "channel": "C1",
            "message": {"user": "UALICE", "ts": "2.0", "text": "new", "thread_ts": "1.0",
                "edited": {"user": "UALICE", "ts": "3.0"}},
            "previous_message": {"user": "UALICE", "ts": "2.0", "text": "old"}}}),
        json!({"event": {"type": "message", "subtype": "message_deleted", "channel": "C1",
            "deleted_ts": "2.0", "previous_message": {"user": "UALICE", "ts": "2.0"}}}),
        json!({"event": {"type": "reaction_added", "user": "UALICE", "reaction": "eyes",
            "item": {"type": "message", "channel": "C1", "ts": "2.0"}, "event_ts": "4.0"}}),
        json!({"type": "block_actions", "user": {"id": "UALICE"}, "trigger_id": "t",
            "container": {"channel_id": "C1", "message_ts": "1.0", "thread_ts": "1.0"},
            "actions": [{"action_id": "transfer", "selected_option": {"value": "tech"}}]}),
    ]
}

/// Replaces the value at a random path of `v` (walking existing keys).
fn mutate(v: &mut Value, path: &[usize], new: Value) {
    let Some((step, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            let n = map.len();
            if let Some(child) = map.values_mut().nth(step % n) {
                mutate(child, rest, new);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            mutate(&mut items[step % n], rest, new);
        }
        _ => *v = new,
    }
}

fn parse_all(v: &Value) {
    let who = senders();
    let _ = event(v, &who);
    let _ = interaction(v, &who);
    let _ = message("C1", v, &who);
    let _ = message("C1", &v["event"], &who);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            parse_all(&v);
        }
        // Interactions arrive form-encoded.
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        for (_, value) in form {
            if let Ok(v) = serde_json::from_str::<Value>(&value) {
                parse_all(&v);
            }
        }
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(v in json_value()) {
        parse_all(&v);
        parse_all(&json!({"event": v.clone()}));
        parse_all(&json!({"event": {"type": "message", "subtype": "message_changed",
            "message": v.clone(), "previous_message": v}}));
    }

    #[test]
    fn mutated_genuine_payloads_never_panic(
        which in 0usize..5,
        path in prop::collection::vec(any::<usize>(), 0..5),
        new in json_value(),
    ) {
        let mut v = templates().swap_remove(which);
        mutate(&mut v, &path, new);
        parse_all(&v);
    }

    #[test]
    fn huge_and_odd_text_is_carried_unchanged(text in "\\PC{0,200}", pad in 0usize..200_000) {
        let mut payload = reply("UALICE");
        let long = format!("{text}{}", "x".repeat(pad));
        payload["event"]["text"] = json!(long);
        let Ok(Event::Posted(p)) = event(&payload, &senders()) else {
            panic!("a reply with any text is a posted message");
        };
        prop_assert_eq!(p.text, long.as_str());
    }

    #[test]
    fn no_ignored_sender_is_ever_relayed(
        which in 0usize..5,
        sender in prop::sample::select(vec!["UBOT", "UIGNORED"]),
    ) {
        let mut v = templates().swap_remove(which);
        let who = senders();
        for path in [
            &["event", "user"][..],
            &["event", "message", "user"][..],
            &["event", "previous_message", "user"][..],
            &["user", "id"][..],
        ] {
            if let Some(slot) = path.iter().try_fold(&mut v, |at, k| at.get_mut(*k)) {
                *slot = json!(sender);
            }
        }
        prop_assert!(event(&v, &who).is_err());
        prop_assert!(interaction(&v, &who).is_err());
    }
}

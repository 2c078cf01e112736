//! Tests of `classify`: each event kind, each skipped sender and the relay
//! marker, and property tests feeding arbitrary bytes, arbitrary JSON and
//! mutated genuine events to it.

use std::collections::HashSet;

use matrix_sdk::ruma::events::room::message::MessageType;
use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::user_id;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::classify::{classify, text_of, Classified, Filter, Skip, What, RELAY_MARKER};

fn raw(v: &Value) -> Raw<AnySyncTimelineEvent> {
    Raw::from_json(serde_json::value::to_raw_value(v).unwrap())
}

fn run(v: &Value) -> Result<Classified, Skip> {
    let ignored: HashSet<String> = ["@spam:x".to_string()].into_iter().collect();
    let filter = Filter {
        own_id: user_id!("@helper:x"),
        ignore_users: &ignored,
        first_start: 500,
    };
    classify(&raw(v), &filter)
}

fn event(kind: &str, sender: &str, content: Value) -> Value {
    json!({"type": kind, "event_id": "$e:x", "sender": sender,
        "origin_server_ts": 1000, "content": content})
}

/// A genuine event of each kind.
fn templates() -> Vec<Value> {
    let msg = |content: Value| event("m.room.message", "@carol:x", content);
    vec![
        msg(json!({"msgtype": "m.text", "body": "hi",
            "format": "org.matrix.custom.html", "formatted_body": "<b>hi</b>"})),
        msg(json!({"msgtype": "m.text", "body": "* new",
            "m.new_content": {"msgtype": "m.text", "body": "new"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$t:x"}})),
        msg(json!({"msgtype": "m.text", "body": "> <@a:x> q\n\nanswer",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$q:x"}}})),
        msg(json!({"msgtype": "m.text", "body": "in thread",
            "m.relates_to": {"rel_type": "m.thread", "event_id": "$root:x",
                "is_falling_back": true, "m.in_reply_to": {"event_id": "$root:x"}}})),
        msg(
            json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/abc",
            "info": {"mimetype": "image/png", "size": 10}}),
        ),
        event(
            "m.reaction",
            "@carol:x",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t:x", "key": "👍"}}),
        ),
        {
            let mut r = event("m.room.redaction", "@carol:x", json!({"redacts": "$t:x"}));
            r["redacts"] = json!("$t:x");
            r
        },
        {
            let mut m = event("m.room.member", "@carol:x", json!({"membership": "join"}));
            m["state_key"] = json!("@carol:x");
            m
        },
    ]
}

#[test]
fn each_kind_is_classified() {
    let kinds: Vec<String> = templates()
        .iter()
        .map(|t| match run(t) {
            Ok(c) => format!("{:?}", c.what)
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_string(),
            Err(Skip(why)) => panic!("{t} skipped: {why}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["Text", "Edit", "Text", "Text", "Media", "Reaction", "Delete", "Joined"]
    );
    let Ok(Classified {
        what: What::Text { body, reply_to, .. },
        ..
    }) = run(&templates()[2])
    else {
        panic!("a reply is text")
    };
    assert_eq!(body.plain, "answer");
    assert_eq!(reply_to.as_deref(), Some("$q:x"));
}

#[test]
fn own_ignored_old_notices_and_relayed_events_are_skipped() {
    for t in templates() {
        for sender in ["@helper:x", "@spam:x"] {
            let mut v = t.clone();
            v["sender"] = json!(sender);
            if v.get("state_key").is_some() {
                v["state_key"] = json!(sender);
            }
            assert!(run(&v).is_err(), "{v}");
        }
        let mut old = t.clone();
        old["origin_server_ts"] = json!(10);
        assert_eq!(
            run(&old).err(),
            Some(Skip("history from before the first start"))
        );
        // A second handoff instance's event, in any kind.
        let mut relayed = t.clone();
        relayed["content"][RELAY_MARKER] = json!(true);
        assert_eq!(
            run(&relayed).err(),
            Some(Skip("relayed by a handoff instance"))
        );
    }
    let notice = event(
        "m.room.message",
        "@carol:x",
        json!({"msgtype": "m.notice", "body": "bot"}),
    );
    assert_eq!(run(&notice).err(), Some(Skip("a notice")));
}

#[test]
fn reply_fallbacks_are_removed() {
    let m = MessageType::text_html(
        "> <@a:x> question\n\nanswer",
        "<mx-reply><blockquote>q</blockquote></mx-reply><b>answer</b>",
    );
    let t = text_of(&m, true);
    assert_eq!(t.plain, "answer");
    assert_eq!(t.html.as_deref(), Some("<b>answer</b>"));
    let plain = text_of(&MessageType::text_plain("> not a reply"), false);
    assert_eq!(plain.plain, "> not a reply");
    assert_eq!(plain.html, None);
}

const KEYS: &[&str] = &[
    "type",
    "event_id",
    "sender",
    "origin_server_ts",
    "content",
    "state_key",
    "redacts",
    "unsigned",
    "msgtype",
    "body",
    "format",
    "formatted_body",
    "m.relates_to",
    "rel_type",
    "key",
    "m.in_reply_to",
    "is_falling_back",
    "m.new_content",
    "membership",
    "url",
    "file",
    "info",
    "size",
    "mimetype",
    "filename",
    "prev_content",
    RELAY_MARKER,
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "m.room.message",
            "m.reaction",
            "m.room.redaction",
            "m.room.member",
            "m.text",
            "m.image",
            "m.file",
            "m.notice",
            "m.emote",
            "m.replace",
            "m.thread",
            "m.annotation",
            "join",
            "leave",
            "ban",
            "invite",
            "$e:x",
            "@carol:x",
            "@helper:x",
            "mxc://x/y",
            "<mx-reply>",
            "</mx-reply>",
            "",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
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

fn replace(v: &mut Value, path: &[usize], new: Value) {
    let Some((step, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            let n = map.len();
            if let Some(child) = map.values_mut().nth(step % n) {
                replace(child, rest, new);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            replace(&mut items[step % n], rest, new);
        }
        _ => *v = new,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            let _ = run(&v);
        }
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(v in json_value(), content in json_value()) {
        let _ = run(&v);
        let _ = run(&event("m.room.message", "@carol:x", content.clone()));
        let _ = run(&event("m.reaction", "@carol:x", content.clone()));
        let _ = run(&event("m.room.redaction", "@carol:x", content));
    }

    #[test]
    fn mutated_genuine_events_never_panic(
        which in 0usize..8,
        path in prop::collection::vec(any::<usize>(), 0..6),
        new in json_value(),
    ) {
        let mut v = templates().swap_remove(which);
        replace(&mut v, &path, new);
        if let Ok(c) = run(&v) {
            // Whatever passes is owned, validated data with the event's id.
            prop_assert!(!c.event_id.is_empty());
            prop_assert!(c.actor.as_str() != "@helper:x" && c.actor.as_str() != "@spam:x");
        }
    }

    #[test]
    fn any_text_is_carried_unchanged(body in "\\PC{0,100}", pad in 0usize..60_000) {
        let body = format!("{body}{}", "x".repeat(pad));
        let v = event("m.room.message", "@carol:x", json!({"msgtype": "m.text", "body": body}));
        let Ok(Classified { what: What::Text { body: text, .. }, .. }) = run(&v) else {
            panic!("a text message is text");
        };
        prop_assert_eq!(text.plain, body);
    }
}

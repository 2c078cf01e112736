//! Generated hostile input for the transport-level tests: arbitrary bytes,
//! arbitrary JSON shapes (random nesting, wrong types, unicode, long
//! strings) and genuine payloads with one part replaced. Drawn from a
//! deterministic proptest runner, so a failure repeats.
//!
//! Not a test itself. Invariant: the same call yields the same samples.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

/// `n` samples of `strategy`, the same on every run.
pub fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy yields a value")
                .current()
        })
        .collect()
}

/// Field names Slack payloads use, so random objects look plausible.
const KEYS: &[&str] = &[
    "type",
    "subtype",
    "event",
    "event_id",
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
    "envelope_id",
    "payload",
    "blocks",
    "url_private",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "message",
            "message_changed",
            "message_deleted",
            "reaction_added",
            "event_callback",
            "block_actions",
            "events_api",
            "interactive",
            "file_share",
            "handoff_outgoing",
            "url_verification",
            "",
        ])
        .prop_map(str::to_string),
        any::<String>(),
        (0usize..70_000).prop_map(|n| "ü".repeat(n)),
    ]
}

/// Any JSON value, up to six levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_string), word()],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Arbitrary bytes, up to `max` long.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// `v` with the value at a random path (of existing keys) replaced.
pub fn mutated(v: &Value) -> impl Strategy<Value = Value> {
    let v = v.clone();
    (prop::collection::vec(any::<usize>(), 0..5), json()).prop_map(move |(path, new)| {
        let mut out = v.clone();
        replace(&mut out, &path, new);
        out
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

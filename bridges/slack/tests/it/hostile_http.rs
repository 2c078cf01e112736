//! The Events API listener under hostile requests: arbitrary bodies,
//! headers and JSON, signed or not, stale, and over the size limit. Each
//! gets a 4xx (or a 200 for a well-signed body it then ignores), never a
//! crash, and the listener and the inbound worker keep serving genuine
//! deliveries afterwards.

use crate::common;
use crate::events_api::{delivered_payload, now, setup, Setup, SECRET};

use std::time::Duration;

use common::arbitrary::{bytes, json, mutated, samples};
use common::logs::capture;
use common::*;
use handoff_bridge_api::Bridge;
use handoff_slack::MAX_BODY_BYTES;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proptest::prelude::*;
use serde_json::{json as j, Value};

/// POSTs raw bytes; returns the status and the answer's body.
async fn post_bytes(url: &str, body: Vec<u8>, headers: &[(String, String)]) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut req = hyper::Request::post(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(bytes::Bytes::from(body))).unwrap();
    let resp = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("the listener answers in time")
        .expect("the listener answers");
    let status = resp.status().as_u16();
    let text = resp
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    (status, text)
}

fn signed_headers(ts: u64, body: &[u8], content_type: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), content_type.into()),
        ("x-slack-request-timestamp".into(), ts.to_string()),
        (
            "x-slack-signature".into(),
            slack_emulator::sign(SECRET, &ts.to_string(), body),
        ),
    ]
}

#[tokio::test]
async fn hostile_requests_get_4xx_and_the_listener_keeps_serving() {
    let Setup {
        emu,
        bridge,
        mut rx,
        url,
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;
    let first = emu.post_as("bob", &channel, Some(&root), "first").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{first}"));
    let genuine: Value = serde_json::from_str(&delivered_payload(&emu, &first)).unwrap();

    // Arbitrary bytes: unsigned 401; signed, as JSON 400 or (valid JSON) 200,
    // as a form 400 or (a readable payload=) 200.
    for body in samples(bytes(4096), 120) {
        let (status, _) = post_bytes(&url, body.clone(), &[]).await;
        assert_eq!(status, 401, "unsigned body {body:?}");
        for ct in ["application/json", "application/x-www-form-urlencoded"] {
            let (status, _) =
                post_bytes(&url, body.clone(), &signed_headers(now(), &body, ct)).await;
            assert!(
                status == 200 || status == 400,
                "{ct} body {body:?}: {status}"
            );
        }
    }
    // Arbitrary JSON as the event, and a genuine delivery with one part
    // replaced: acknowledged (Slack would retry a 4xx forever), then ignored
    // or relayed by the worker without a crash.
    let shapes = samples(json(), 150);
    let mutants = samples(mutated(&genuine), 150);
    for payload in shapes
        .into_iter()
        .map(|e| j!({"type": "event_callback", "event_id": "EvX", "event": e}))
        .chain(mutants)
    {
        let body = payload.to_string().into_bytes();
        let headers = signed_headers(now(), &body, "application/json");
        let (status, _) = post_bytes(&url, body, &headers).await;
        assert!(status == 200 || status == 400, "{payload}: {status}");
    }
    // Garbage signature headers, and a correctly signed but stale request.
    let header_values = samples("[ -~]{0,80}", 60);
    for pair in header_values.chunks(2) {
        let body = genuine.to_string().into_bytes();
        let headers = vec![
            ("x-slack-request-timestamp".to_string(), pair[0].clone()),
            ("x-slack-signature".to_string(), pair[1].clone()),
        ];
        assert_eq!(post_bytes(&url, body, &headers).await.0, 401, "{pair:?}");
    }
    let body = genuine.to_string().into_bytes();
    let stale = signed_headers(now() - 10 * 60, &body, "application/json");
    assert_eq!(post_bytes(&url, body, &stale).await.0, 401);

    // The listener and worker still work: a genuine reply arrives.
    let last = emu
        .post_as("bob", &channel, Some(&root), "still here")
        .unwrap();
    let want = format!("{channel}:{last}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the genuine reply arrives after the hostile requests")
            .expect("inbound open");
        if ev.event_id == want {
            break;
        }
    }
    assert!(bridge.is_connected());
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_a_log_line() {
    let (logs, _guard) = capture();
    let Setup {
        emu,
        bridge,
        mut rx,
        url,
    } = setup().await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let (_, root) = opened(&bridge, "open", &channel).await;

    let mut body = br#"{"type":"event_callback","event":{"type":"message","text":""#.to_vec();
    body.resize(MAX_BODY_BYTES + 1024, b'x');
    body.extend_from_slice(br#""}}"#);
    let headers = signed_headers(now(), &body, "application/json");
    let (status, answer) = post_bytes(&url, body, &headers).await;
    assert_eq!(status, 413);
    assert_eq!(answer, "request body too large");
    let text = logs.text();
    assert!(
        text.contains("events API request body over the limit refused (413)")
            && text.contains("path=\"/slack/events\"")
            && text.contains(&format!("limit_bytes={MAX_BODY_BYTES}")),
        "no log line naming the limit and the path in:\n{text}"
    );

    // Just under the limit is read and acknowledged.
    let mut body = br#"{"type":"event_callback","event":{"type":"message","text":""#.to_vec();
    body.resize(MAX_BODY_BYTES - 64, b'y');
    body.extend_from_slice(br#""}}"#);
    let headers = signed_headers(now(), &body, "application/json");
    assert_eq!(post_bytes(&url, body, &headers).await.0, 200);

    let ts = emu.post_as("bob", &channel, Some(&root), "after").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{ts}"));
    nothing_within(&mut rx, Duration::from_millis(300)).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The signature check itself, on any header values and body.
    #[test]
    fn signature_verification_never_panics(
        ts in any::<String>(),
        sig in any::<String>(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        now in any::<i64>(),
        secret in any::<String>(),
    ) {
        let result = handoff_slack::verify_signature(&secret, &ts, &body, &sig, now);
        if let Ok(()) = result {
            // Only a real HMAC over the body verifies.
            prop_assert_eq!(
                sig,
                slack_emulator::sign(&secret, ts.trim(), &body)
            );
        }
    }
}

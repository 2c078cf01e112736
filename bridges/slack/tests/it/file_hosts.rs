//! The bot token goes only to Slack's file hosts over https: a payload
//! whose file `url_private` points at a foreign host, or at a Slack host
//! over plain http, is never fetched. A second listener stands in for the
//! foreign host and records every request it gets.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};
use slack_emulator::{DeliveryKind, EmulatorConfig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A plain TCP listener that keeps the head of every request it receives.
async fn foreign_host() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    (origin, seen)
}

#[tokio::test]
async fn a_foreign_or_plain_http_file_url_is_never_fetched_with_the_token() {
    let emu = emulator(EmulatorConfig::default().without_rate_limits()).await;
    let channel = emu.add_channel("desk");
    emu.add_user("bob", false);
    let bridge = bridge(&emu, Arc::new(MemState::default())).await;
    let mut rx = run(&emu, &bridge).await;
    let (_, root) = opened(&bridge, "open", &channel).await;
    let first = emu.post_as("bob", &channel, Some(&root), "first").unwrap();
    assert_eq!(next(&mut rx).await.event_id, format!("{channel}:{first}"));
    let genuine: Value = emu
        .deliveries()
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Event && d.payload["event"]["ts"] == first.as_str())
        .expect("the reply was delivered")
        .payload["event"]
        .clone();
    let secs: u64 = first
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a Slack ts");

    let (foreign, seen) = foreign_host().await;
    let urls = [
        format!("{foreign}/files-pri/T1-F1/secret.pdf"),
        // Slack's own file host, but over plain http.
        "http://files.slack.com/files-pri/T1-F2/secret.pdf".to_string(),
        "https://files.slack.com.evil.example/files-pri/T1-F3/secret.pdf".to_string(),
    ];
    for (i, url) in urls.iter().enumerate() {
        let ts = format!("{}.{:06}", secs + 1 + i as u64, 100 + i);
        let mut event = genuine.clone();
        event["ts"] = json!(ts);
        event["text"] = json!("");
        event["subtype"] = json!("file_share");
        event["files"] = json!([{
            "id": format!("F{i}"),
            "name": "secret.pdf",
            "mimetype": "application/pdf",
            "size": 12,
            "url_private": url,
            "url_private_download": url,
        }]);
        emu.inject_event(event);
        let ev = next(&mut rx).await;
        assert_eq!(ev.event_id, format!("{channel}:{ts}"), "{url}");
        let text = format!("{:?}", ev.kind);
        assert!(
            text.contains("not on a Slack file host"),
            "{url}: expected a note, got {text}"
        );
    }
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests.is_empty(),
        "the foreign host was called: {requests:#?}"
    );
}

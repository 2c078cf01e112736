//! `/api` through a real listener: the guard's answers as a client sees
//! them.

use super::*;
use crate::router::SystemClock;
use crate::store::memory::MemoryStore;

async fn start(patch: &str) -> u16 {
    let config = crate::fixtures::config_with(patch);
    let state = Arc::new(HttpState {
        metrics: None,
        store: Arc::new(MemoryStore::new()),
        config: Arc::new(config),
        clock: Arc::new(SystemClock),
        bridges: Default::default(),
        router: Default::default(),
        sled: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(serve(listener, state));
    port
}

const WITH_TOKEN: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\napi_token = \"t0ken\"\n";

async fn get(port: u16, host: Option<&str>, token: Option<&str>) -> (u16, String) {
    get_path(port, "/api/export?since=7d&format=jsonl", host, token).await
}

async fn get_path(port: u16, path: &str, host: Option<&str>, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(h) = host {
        req = req.header(header::HOST, h);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn export_without_token_is_refused() {
    let port = start(WITH_TOKEN).await;
    let (status, body) = get(port, None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(port, None, Some("wrong")).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn export_for_a_foreign_host_is_refused() {
    let port = start(WITH_TOKEN).await;
    let (status, body) = get(port, Some("attacker.example"), Some("t0ken")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Host"), "{body}");
}

#[tokio::test]
async fn export_with_token_works() {
    let port = start(WITH_TOKEN).await;
    let (status, body) = get(port, None, Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(port, Some(&format!("localhost:{port}")), Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn api_is_off_without_a_configured_token() {
    let port = start("[metrics]\nlisten = \"127.0.0.1:0\"\n").await;
    let (status, body) = get(port, None, Some("anything")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("api_token"), "{body}");
}

#[tokio::test]
async fn gaps_has_the_same_guard_as_export() {
    let port = start(WITH_TOKEN).await;
    let path = "/api/gaps?since=7d&format=json";
    let (status, body) = get_path(port, path, None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get_path(port, path, Some("attacker.example"), Some("t0ken")).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = get_path(port, path, None, Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
    let gaps: serde_json::Value = serde_json::from_str(&body).expect("gaps json");
    assert_eq!(gaps["questions"], 0, "{body}");
    let port = start("[metrics]\nlisten = \"127.0.0.1:0\"\n").await;
    let (status, body) = get_path(port, path, None, Some("anything")).await;
    assert_eq!(status, 403, "{body}");
}

//! Posting exactly once per Outgoing key. `chat.postMessage` has no
//! idempotency key, so each post carries the key twice: as the first
//! block's `block_id` ([`crate::blocks::marker`]) and as message metadata
//! (`handoff_outgoing`). Before the first post into a thread (or channel)
//! after start-up, and after any failure that may have posted anyway, the
//! bot's messages there are read back (`conversations.replies` /
//! `conversations.history`) and a marked message is returned instead of
//! posting again.
//!
//! Not for recording results (`outbound` writes the durable record). The
//! invariant: callers hold the channel's queue, so no two posts for one
//! thread race, and the cache here only ever holds messages Slack has.

use std::collections::HashMap;
use std::sync::Mutex;

use handoff_bridge_api::BridgeError;
use serde_json::{json, Value};
use tracing::{debug, info};

use crate::blocks::marker;
use crate::bridge::Inner;
use crate::web::CallError;

/// Pages of a thread read when reconciling (200 replies each).
const MAX_PAGES: usize = 25;

/// Markers of the bot's messages per thread (`channel/root`) or channel
/// top level (`channel/`), loaded once per process per scope.
#[derive(Default)]
pub(crate) struct PostedCache {
    scopes: Mutex<HashMap<String, HashMap<String, String>>>,
}

fn scope(channel: &str, thread: Option<&str>) -> String {
    format!("{channel}/{}", thread.unwrap_or(""))
}

impl PostedCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, String>>> {
        self.scopes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, scope: &str, marker: &str) -> Option<Option<String>> {
        self.lock().get(scope).map(|m| m.get(marker).cloned())
    }

    fn insert(&self, scope: &str, marker: &str, ts: &str) {
        if let Some(m) = self.lock().get_mut(scope) {
            m.insert(marker.to_string(), ts.to_string());
        }
    }
}

/// What to post.
pub(crate) struct NewPost<'a> {
    pub key: &'a str,
    pub channel: &'a str,
    pub thread: Option<&'a str>,
    /// Notification / fallback text (mrkdwn).
    pub text: String,
    pub blocks: Value,
    pub username: Option<String>,
}

/// Reads the bot's recent messages of a scope: marker → ts.
async fn load_markers(
    inner: &Inner,
    channel: &str,
    thread: Option<&str>,
) -> Result<HashMap<String, String>, CallError> {
    let mut found = HashMap::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let mut params = vec![
            ("channel", channel.to_string()),
            ("include_all_metadata", "true".to_string()),
        ];
        let method = match thread {
            Some(root) => {
                params.push(("ts", root.to_string()));
                params.push(("limit", "200".to_string()));
                "conversations.replies"
            }
            None => {
                params.push(("limit", "100".to_string()));
                "conversations.history"
            }
        };
        if !cursor.is_empty() {
            params.push(("cursor", cursor.clone()));
        }
        let page = inner.web.get_once(method, &params).await?;
        for m in page["messages"].as_array().into_iter().flatten() {
            if m["bot_id"].as_str() != Some(inner.bot.bot_id.as_str()) {
                continue;
            }
            let Some(ts) = m["ts"].as_str() else { continue };
            for b in m["blocks"].as_array().into_iter().flatten() {
                if let Some(id) = b["block_id"].as_str().filter(|id| id.starts_with("ho-")) {
                    found.insert(id.to_string(), ts.to_string());
                }
            }
            let meta = &m["metadata"];
            if meta["event_type"] == "handoff_outgoing" {
                if let Some(key) = meta["event_payload"]["key"].as_str() {
                    found.insert(marker(key), ts.to_string());
                }
            }
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or("")
            .to_string();
        // History is newest first: the first page holds recent roots.
        if cursor.is_empty() || thread.is_none() {
            break;
        }
    }
    Ok(found)
}

/// The ts of a message already posted for `key`, reading Slack when the
/// scope was not read yet in this process or `refresh` is set.
async fn already_posted(
    inner: &Inner,
    p: &NewPost<'_>,
    refresh: bool,
) -> Result<Option<String>, CallError> {
    let scope = scope(p.channel, p.thread);
    let mark = marker(p.key);
    if !refresh {
        if let Some(hit) = inner.posted.get(&scope, &mark) {
            return Ok(hit);
        }
    }
    let markers = load_markers(inner, p.channel, p.thread).await?;
    let hit = markers.get(&mark).cloned();
    inner.posted.lock().insert(scope, markers);
    Ok(hit)
}

/// Posts `p` unless a message for its key exists; returns the message ts.
pub(crate) async fn post_once(inner: &Inner, p: &NewPost<'_>) -> Result<String, BridgeError> {
    let first_check = inner
        .web
        .retrying("reconcile", || already_posted(inner, p, false))
        .await?;
    if let Some(ts) = first_check {
        info!(
            key = p.key,
            ts, "found the message of a retried key; not posting again"
        );
        return Ok(ts);
    }
    let mut body = json!({
        "channel": p.channel,
        "text": p.text,
        "blocks": p.blocks,
        "unfurl_links": false,
        "unfurl_media": false,
        "metadata": {"event_type": "handoff_outgoing", "event_payload": {"key": p.key}},
    });
    if let Some(thread) = p.thread {
        body["thread_ts"] = json!(thread);
    }
    if let Some(name) = &p.username {
        body["username"] = json!(name);
    }
    let ts = inner
        .web
        .retrying("chat.postMessage", || async {
            match inner.web.post_once("chat.postMessage", &body).await {
                Ok(v) => Ok(v["ts"].as_str().unwrap_or_default().to_string()),
                // The post may have happened before the failure: look first.
                Err(CallError::Transient(detail)) => {
                    debug!(key = p.key, %detail, "post failed ambiguously; reading back");
                    match already_posted(inner, p, true).await {
                        Ok(Some(ts)) => Ok(ts),
                        Ok(None) | Err(_) => Err(CallError::Transient(detail)),
                    }
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    if ts.is_empty() {
        return Err(BridgeError::Rejected {
            network: crate::NETWORK.into(),
            detail: "chat.postMessage answered without a ts".into(),
        });
    }
    inner
        .posted
        .insert(&scope(p.channel, p.thread), &marker(p.key), &ts);
    Ok(ts)
}

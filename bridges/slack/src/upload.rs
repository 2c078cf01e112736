//! Uploading a file the current way: `files.getUploadURLExternal`, the
//! bytes to the returned URL, `files.completeUploadExternal` into the
//! thread, then finding the share message's ts.
//!
//! Not for downloads (`web::download`, used by `inbound`). The invariant:
//! the file id is recorded before the upload is completed, so a retried
//! key finds the shared message instead of sharing the file twice.

use std::time::Duration;

use handoff_bridge_api::{Attachment, BridgeError};
use serde_json::{json, Value};
use tracing::warn;

use crate::bridge::Inner;
use crate::slackify::escape;
use crate::web::CallError;

/// How long to look for the share message (Slack shares asynchronously).
const FIND_ATTEMPTS: u32 = 8;

/// Uploads `file` into `channel` (in `thread`); returns the share
/// message's ts when Slack shows it in time.
pub(crate) async fn upload(
    inner: &Inner,
    key: &str,
    channel: &str,
    thread: Option<&str>,
    file: &Attachment,
    as_name: Option<&str>,
) -> Result<Option<String>, BridgeError> {
    if let Some(file_id) = inner.store.pending(key)? {
        if let Some(ts) = find_share(inner, channel, thread, &file_id).await? {
            return Ok(Some(ts));
        }
    }
    let reserved = inner
        .web
        .get(
            "files.getUploadURLExternal",
            &[
                ("filename", file.name.clone()),
                ("length", file.data.len().to_string()),
            ],
        )
        .await?;
    let (Some(url), Some(file_id)) = (
        reserved["upload_url"].as_str(),
        reserved["file_id"].as_str(),
    ) else {
        return Err(BridgeError::Rejected {
            network: crate::NETWORK.into(),
            detail: "files.getUploadURLExternal answered without upload_url/file_id".into(),
        });
    };
    inner.web.upload_bytes(url, &file.data, &file.mime).await?;
    inner.store.record_pending(key, file_id)?;
    let mut body = json!({
        "files": [{"id": file_id, "title": file.name}],
        "channel_id": channel,
    });
    if let Some(t) = thread {
        body["thread_ts"] = json!(t);
    }
    if let Some(name) = as_name {
        body["initial_comment"] = json!(format!("*{}:*", escape(name)));
    }
    inner
        .web
        .retrying("files.completeUploadExternal", || async {
            match inner
                .web
                .post_once("files.completeUploadExternal", &body)
                .await
            {
                Ok(_) => Ok(()),
                Err(CallError::Transient(detail)) => {
                    match find_share(inner, channel, thread, file_id).await {
                        Ok(Some(_)) => Ok(()),
                        _ => Err(CallError::Transient(detail)),
                    }
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    for attempt in 0..FIND_ATTEMPTS {
        if let Some(ts) = find_share(inner, channel, thread, file_id).await? {
            if let Some(root) = thread {
                inner.store.record_thread(channel, &ts, root)?;
            }
            return Ok(Some(ts));
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
    }
    warn!(
        file_id,
        channel, "uploaded file shared, but its message did not show up in time"
    );
    Ok(None)
}

fn carries_file(m: &Value, file_id: &str) -> bool {
    m["files"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|f| f["id"] == file_id))
}

/// The ts of the message that shares `file_id`, if Slack shows one.
async fn find_share(
    inner: &Inner,
    channel: &str,
    thread: Option<&str>,
    file_id: &str,
) -> Result<Option<String>, BridgeError> {
    let mut params = vec![
        ("channel", channel.to_string()),
        ("limit", "200".to_string()),
    ];
    let method = match thread {
        Some(t) => {
            params.push(("ts", t.to_string()));
            "conversations.replies"
        }
        None => "conversations.history",
    };
    let mut cursor = String::new();
    for _ in 0..25 {
        let mut page_params = params.clone();
        if !cursor.is_empty() {
            page_params.push(("cursor", cursor.clone()));
        }
        let page = inner.web.get(method, &page_params).await?;
        let hit = page["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| carries_file(m, file_id))
            .and_then(|m| m["ts"].as_str().map(str::to_string));
        if hit.is_some() {
            return Ok(hit);
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if cursor.is_empty() || thread.is_none() {
            break;
        }
    }
    Ok(None)
}

//! Catch-up after (re)connecting: for each recent case thread, read the
//! replies since the last relayed one (`conversations.replies` with
//! `oldest`) and relay the human replies that were missed.
//!
//! Not for live events (`translate`, whose message rules it reuses). The
//! invariant: a reply already relayed (recorded in the thread's progress)
//! is not relayed again; ids are `{channel}:{ts}`, the same as live, so the
//! core's dedupe also covers both paths. A thread whose read fails is
//! reported (never silently skipped) so the worker retries it and keeps
//! its progress where it is until then.

use handoff_bridge_api::BridgeError;
use tracing::{debug, warn};

use crate::bridge::Inner;
use crate::inbound::{Emit, Thread};
use crate::{translate, ts};

/// Threads idle longer than this are not read back.
const WINDOW_SECS: i64 = 7 * 24 * 3600;
/// Read a little before the last relayed reply, in case two replies were
/// relayed out of order; the progress record drops repeats.
const OVERLAP_SECS: u64 = 30;
const MAX_PAGES: usize = 50;

/// What one catch-up found.
#[derive(Debug, Default)]
pub(crate) struct Missed {
    /// Missed human replies, oldest first per thread.
    pub emits: Vec<Emit>,
    /// Threads read completely (or idle past the window).
    pub read: Vec<Thread>,
    /// Threads whose read failed: to retry.
    pub failed: Vec<Thread>,
}

/// Every missed human reply in every recent case thread.
pub(crate) async fn missed(inner: &Inner) -> Result<Missed, BridgeError> {
    let mut found = Missed::default();
    let horizon = ts::now_secs() - WINDOW_SECS;
    for (channel, root) in inner.store.case_threads()? {
        let progress = inner.store.progress(&channel, &root)?;
        let newest = progress.last_seen.as_deref().unwrap_or(&root);
        if ts::to_millis(newest) / 1000 < horizon {
            found.read.push((channel, root));
            continue;
        }
        match thread(inner, &channel, &root, progress.last_seen.as_deref()).await {
            Ok(mut emits) => {
                found.emits.append(&mut emits);
                found.read.push((channel, root));
            }
            Err(e) => {
                warn!(channel, root, error = %e, "catch-up of a case thread failed; it is retried");
                found.failed.push((channel, root));
            }
        }
    }
    debug!(
        count = found.emits.len(),
        failed = found.failed.len(),
        "catch-up done"
    );
    Ok(found)
}

async fn thread(
    inner: &Inner,
    channel: &str,
    root: &str,
    last_seen: Option<&str>,
) -> Result<Vec<Emit>, BridgeError> {
    let mut emits = Vec::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let mut params = vec![
            ("channel", channel.to_string()),
            ("ts", root.to_string()),
            ("limit", "200".to_string()),
        ];
        if let Some(seen) = last_seen {
            params.push(("oldest", ts::minus_secs(seen, OVERLAP_SECS)));
        }
        if !cursor.is_empty() {
            params.push(("cursor", cursor.clone()));
        }
        let page = inner.web.get("conversations.replies", &params).await?;
        for m in page["messages"].as_array().into_iter().flatten() {
            if m["ts"].as_str() == Some(root) {
                continue;
            }
            emits.append(&mut translate::message(inner, channel, m).await?);
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if cursor.is_empty() {
            break;
        }
    }
    Ok(emits)
}

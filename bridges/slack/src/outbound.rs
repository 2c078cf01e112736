//! Carrying out an [`Outgoing`] on Slack: resolve the channel, then on
//! that channel's queue post / update / delete / react / upload / open a
//! case, and durably record `key → Delivered` before answering.
//!
//! Not for the exactly-once posting mechanics (`post`) or uploads
//! (`upload`). The invariant: a key with a record is answered from the
//! record without touching Slack; a key without one is reconciled against
//! Slack before anything is posted; a text over Slack's 40,000 characters
//! is cut with a marker (Slack would refuse it on every retry).

use std::sync::Arc;

use handoff_bridge_api::{
    Action, BridgeError, CaseSummary, Delivered, DeskTarget, Endpoint, MessageRef, Outgoing, Text,
};
use serde_json::json;

use crate::blocks::{marker, summary_blocks, text_blocks};
use crate::bridge::Inner;
use crate::config::NameStyle;
use crate::limits::{fit, MAX_TEXT_CHARS};
use crate::post::{post_once, NewPost};
use crate::slackify::{escape, to_mrkdwn};
use crate::{emoji, upload, NETWORK};

fn unsupported(what: &str) -> BridgeError {
    BridgeError::Unsupported {
        network: NETWORK.into(),
        what: what.into(),
    }
}

fn slack_room(endpoint: &Endpoint) -> Result<&str, BridgeError> {
    if endpoint.network != NETWORK {
        return Err(BridgeError::Rejected {
            network: NETWORK.into(),
            detail: format!("endpoint {endpoint} is not a Slack endpoint"),
        });
    }
    Ok(&endpoint.room)
}

/// Entry point: answers from the record or runs the action on its queue.
pub(crate) async fn send(inner: Arc<Inner>, out: Outgoing) -> Result<Delivered, BridgeError> {
    if let Some(done) = inner.store.delivered(&out.key)? {
        return Ok(done);
    }
    let room = match &out.action {
        // Slack is a desk: its people are the team, never asked to pick.
        Action::Ask { .. } => return Err(unsupported("questions with choices to customers")),
        Action::Send { to, .. }
        | Action::Notify { to, .. }
        | Action::Upload { to, .. }
        | Action::Explain { to, .. } => slack_room(to)?.to_string(),
        Action::CloseCase { desk } | Action::ReopenCase { desk } => slack_room(desk)?.to_string(),
        Action::Edit { target, .. } | Action::Delete { target } => {
            slack_room(&target.endpoint)?.to_string()
        }
        Action::React { target, key } => {
            if emoji::name_for_key(key).is_none() {
                return Err(unsupported(&format!(
                    "reaction {key:?} (no Slack emoji name)"
                )));
            }
            slack_room(&target.endpoint)?.to_string()
        }
        Action::UpdateSummary {
            summary_message, ..
        } => slack_room(&summary_message.endpoint)?.to_string(),
        Action::OpenCase { desk, .. } => match desk {
            DeskTarget::Thread { room } => room.clone(),
            DeskTarget::PrivateRoom { .. } => {
                return Err(unsupported("private rooms per case (use a channel thread)"))
            }
        },
    };
    let channel = inner.directory.channel_id(&inner.web, &room).await?;
    let worker_inner = inner.clone();
    let worker_channel = channel.clone();
    inner
        .queues
        .run(&channel, async move {
            let inner = worker_inner;
            if let Some(done) = inner.store.delivered(&out.key)? {
                return Ok(done);
            }
            let done = perform(&inner, &worker_channel, &out).await?;
            inner.store.record_delivered(&out.key, &done)?;
            Ok(done)
        })
        .await
}

fn message_ref(channel: &str, thread: Option<&str>, ts: &str) -> MessageRef {
    let mut endpoint = Endpoint::new(NETWORK, channel);
    endpoint.thread = thread.map(str::to_string);
    MessageRef {
        endpoint,
        id: ts.to_string(),
    }
}

/// A body as mrkdwn, with the relayed name as a bold prefix when the
/// prefix style is configured (the username override is set elsewhere).
fn styled(inner: &Inner, body: &Text, as_name: Option<&str>) -> (String, Option<String>) {
    let text = to_mrkdwn(body);
    match (as_name, inner.cfg.show_names_as) {
        (Some(name), NameStyle::Prefix) => (format!("*{}:* {text}", escape(name)), None),
        (Some(name), NameStyle::Username) => (text, Some(name.to_string())),
        (None, _) => (text, None),
    }
}

async fn perform(inner: &Inner, channel: &str, out: &Outgoing) -> Result<Delivered, BridgeError> {
    match &out.action {
        Action::Send {
            to, body, as_name, ..
        } => {
            let (text, username) = styled(inner, body, as_name.as_deref());
            let prefixed = as_name
                .as_deref()
                .filter(|_| inner.cfg.show_names_as == NameStyle::Prefix);
            post_text(
                inner,
                &out.key,
                channel,
                to.thread.as_deref(),
                text,
                username,
                prefixed,
            )
            .await
        }
        Action::Notify { to, body, mention } => {
            let mut text = to_mrkdwn(body);
            if let Some(m) = mention.as_deref().map(mention_markup) {
                text = format!("{m} {text}");
            }
            post_text(
                inner,
                &out.key,
                channel,
                to.thread.as_deref(),
                text,
                None,
                None,
            )
            .await
        }
        Action::CloseCase { desk } => {
            if let Some(root) = &desk.thread {
                inner.store.close_case_thread(channel, root).await?;
            }
            Ok(Delivered::Done)
        }
        Action::ReopenCase { desk } => {
            if let Some(root) = &desk.thread {
                inner.store.add_case_thread(channel, root).await?;
            }
            Ok(Delivered::Done)
        }
        Action::Explain { to, user, body } => {
            // Seen by `user` alone; Slack keeps no copy to edit or dedupe,
            // so a retry after a lost answer may show it twice (harmless).
            let mut req = json!({
                "channel": channel,
                "user": user,
                "text": fitted(to_mrkdwn(body)),
            });
            if let Some(thread) = &to.thread {
                req["thread_ts"] = json!(thread);
            }
            inner.web.post("chat.postEphemeral", &req).await?;
            Ok(Delivered::Done)
        }
        Action::Edit { target, body } => {
            let name = inner.store.name_of(channel, &target.id)?;
            let (text, _) = match name.as_deref() {
                Some(n) => (
                    format!("*{}:* {}", escape(n), to_mrkdwn(body)),
                    None::<String>,
                ),
                None => (to_mrkdwn(body), None),
            };
            let text = fitted(text);
            let mark = inner
                .store
                .marker_of(channel, &target.id)?
                .unwrap_or_else(|| marker(&out.key));
            let body = json!({
                "channel": channel,
                "ts": target.id,
                "text": text,
                "blocks": text_blocks(&text, &mark),
            });
            inner.web.post("chat.update", &body).await?;
            Ok(Delivered::Done)
        }
        Action::Delete { target } => {
            let body = json!({"channel": channel, "ts": target.id});
            match inner.web.post("chat.delete", &body).await {
                Ok(_) => Ok(Delivered::Done),
                Err(BridgeError::Rejected { detail, .. })
                    if detail.ends_with("message_not_found") =>
                {
                    Ok(Delivered::Done)
                }
                Err(e) => Err(e),
            }
        }
        Action::React { target, key } => {
            let name = emoji::name_for_key(key).ok_or_else(|| unsupported("this reaction"))?;
            let body = json!({"channel": channel, "timestamp": target.id, "name": name});
            match inner.web.post("reactions.add", &body).await {
                Ok(_) => Ok(Delivered::Done),
                Err(BridgeError::Rejected { detail, .. })
                    if detail.ends_with("already_reacted") =>
                {
                    Ok(Delivered::Done)
                }
                Err(e) => Err(e),
            }
        }
        Action::Upload { to, file, as_name } => {
            let ts = upload::upload(
                inner,
                &out.key,
                channel,
                to.thread.as_deref(),
                file,
                as_name.as_deref(),
            )
            .await?;
            Ok(match ts {
                Some(ts) => Delivered::Message(message_ref(channel, to.thread.as_deref(), &ts)),
                None => Delivered::Done,
            })
        }
        Action::OpenCase { summary, .. } => open_case(inner, &out.key, channel, summary).await,
        Action::Ask { .. } => Err(unsupported("questions with choices to customers")),
        Action::UpdateSummary {
            summary_message,
            summary,
        } => {
            let mark = inner
                .store
                .marker_of(channel, &summary_message.id)?
                .unwrap_or_else(|| marker(&out.key));
            let body = json!({
                "channel": channel,
                "ts": summary_message.id,
                // Customer text: escaped like the first post's, so an
                // update cannot ping `<!channel>` or forge a link.
                "text": fitted(escape(&summary.plain())),
                "blocks": summary_blocks(summary, &mark),
            });
            inner.web.post("chat.update", &body).await?;
            Ok(Delivered::Done)
        }
    }
}

/// `text` cut to Slack's limit, with a log line when it had to be.
fn fitted(text: String) -> String {
    match fit(&text, MAX_TEXT_CHARS) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(cut) => {
            tracing::warn!(
                chars = text.chars().count(),
                limit = MAX_TEXT_CHARS,
                "message text over Slack's limit; posting it cut with a marker"
            );
            cut
        }
    }
}

/// `@here`/`here`/`!here` → `<!here>`, same for channel/everyone; a user id
/// → `<@U…>`; anything else is escaped text.
fn mention_markup(m: &str) -> String {
    let bare = m.trim().trim_start_matches(['@', '!']);
    match bare {
        "here" | "channel" | "everyone" => format!("<!{bare}>"),
        id if id.starts_with(['U', 'W']) && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("<@{id}>")
        }
        _ => escape(m),
    }
}

async fn post_text(
    inner: &Inner,
    key: &str,
    channel: &str,
    thread: Option<&str>,
    text: String,
    username: Option<String>,
    prefixed_name: Option<&str>,
) -> Result<Delivered, BridgeError> {
    let text = fitted(text);
    let mark = marker(key);
    let post = NewPost {
        key,
        channel,
        thread,
        blocks: text_blocks(&text, &mark),
        text,
        username,
    };
    let ts = post_once(inner, &post).await?;
    inner.store.record_marker(channel, &ts, &mark)?;
    if let Some(name) = prefixed_name {
        inner.store.record_name(channel, &ts, name)?;
    }
    if let Some(root) = thread {
        inner.store.record_thread(channel, &ts, root)?;
        inner.store.add_case_thread(channel, root).await?;
    }
    Ok(Delivered::Message(message_ref(channel, thread, &ts)))
}

async fn open_case(
    inner: &Inner,
    key: &str,
    channel: &str,
    summary: &CaseSummary,
) -> Result<Delivered, BridgeError> {
    inner.directory.ensure_joined(&inner.web, channel).await?;
    let mark = marker(key);
    let fallback = summary.plain();
    let post = NewPost {
        key,
        channel,
        thread: None,
        text: fitted(escape(&fallback)),
        blocks: summary_blocks(summary, &mark),
        username: None,
    };
    let root = post_once(inner, &post).await?;
    inner.store.record_marker(channel, &root, &mark)?;
    inner.store.record_thread(channel, &root, &root)?;
    inner.store.add_case_thread(channel, &root).await?;
    let pin = json!({"channel": channel, "timestamp": root});
    match inner.web.post("pins.add", &pin).await {
        Ok(_) => {}
        Err(BridgeError::Rejected { detail, .. }) if detail.ends_with("already_pinned") => {}
        Err(e) => return Err(e),
    }
    let endpoint = Endpoint::new(NETWORK, channel).in_thread(root.clone());
    Ok(Delivered::CaseOpened {
        summary: MessageRef {
            endpoint: endpoint.clone(),
            id: root,
        },
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions() {
        assert_eq!(mention_markup("@here"), "<!here>");
        assert_eq!(mention_markup("channel"), "<!channel>");
        assert_eq!(mention_markup("U0123ABC"), "<@U0123ABC>");
        assert_eq!(mention_markup("@U0123ABC"), "<@U0123ABC>");
        assert_eq!(mention_markup("<team>"), "&lt;team&gt;");
    }
}

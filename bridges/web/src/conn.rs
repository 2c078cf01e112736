//! One widget connection: the `hello` handshake (session, identity,
//! replay of what the client missed), then the visitor's frames in and
//! the session's entries out until either side closes or the bridge stops.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use handoff_bridge_api::{InboundKind, Text};
use tokio::sync::mpsc;
use tracing::{debug, info_span, warn, Instrument};

use crate::bridge::{Inner, OpenError};
use crate::protocol::{
    valid_client_id, visitor_message_id, Author, ClientFrame, EntryKind, ErrorCode, ServerFrame,
};

/// How long a new connection may take to say `hello`.
const HELLO_WITHIN: Duration = Duration::from_secs(10);
/// Longest reaction key.
const MAX_KEY: usize = 32;

type Sink = SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => sink.send(Message::Text(text.into())).await.is_ok(),
        Err(e) => {
            warn!(error = %e, "a frame did not serialise");
            true
        }
    }
}

fn error(code: ErrorCode, message: impl Into<String>, id: Option<&str>) -> ServerFrame {
    ServerFrame::Error {
        code,
        message: message.into(),
        id: id.map(str::to_string),
        retry_after_ms: None,
    }
}

async fn close(mut sink: Sink, code: u16, reason: &'static str) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

/// Serves one upgraded socket from `ip` until it closes.
pub(crate) async fn serve(inner: Arc<Inner>, socket: WebSocket, ip: IpAddr) {
    let (mut sink, mut stream) = socket.split();
    let hello = tokio::time::timeout(HELLO_WITHIN, stream.next()).await;
    let hello = match hello {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<ClientFrame>(&t).ok(),
        _ => None,
    };
    let Some(ClientFrame::Hello {
        token,
        last_seen,
        user,
    }) = hello
    else {
        send(
            &mut sink,
            &error(ErrorCode::NoHello, "the first frame must be a hello", None),
        )
        .await;
        return close(sink, 1008, "no hello").await;
    };
    let opened = match inner.open(token.as_deref(), user.as_ref()).await {
        Ok(o) => o,
        Err(OpenError::Identity(e)) => {
            debug!(%ip, error = %e, "refused an identity");
            send(&mut sink, &error(ErrorCode::Identity, e.to_string(), None)).await;
            return close(sink, 1008, "identity refused").await;
        }
        Err(e) => {
            warn!(error = %e, "could not open a web session");
            send(
                &mut sink,
                &error(
                    ErrorCode::Unavailable,
                    "the server cannot keep sessions right now; try again later",
                    None,
                ),
            )
            .await;
            return close(sink, 1011, "unavailable").await;
        }
    };
    let sid = opened.sid.clone();
    let span = info_span!("web_conn", session = %sid, %ip);
    async move {
        let (tx, mut rx) = mpsc::channel(inner.settings.limits.connection_queue.max(1));
        // Join before reading the history: an entry made in between comes
        // both ways, and the client skips seqs it has.
        let conn = inner.hub.join(&sid, tx);
        let welcome = ServerFrame::Welcome {
            token: opened.token.clone(),
            session: sid.clone(),
            expires_at: opened.record.expires_at,
            fresh: opened.fresh,
            user: opened
                .record
                .visitor
                .verified
                .then(|| opened.record.visitor.id.clone()),
        };
        let replayed = match inner.store.history(&sid) {
            Ok(history) => {
                let from = if opened.fresh { 0 } else { last_seen.unwrap_or(0) };
                let mut ok = send(&mut sink, &welcome).await;
                for e in history.after(from) {
                    ok = ok && send(&mut sink, &ServerFrame::Entry(e.clone())).await;
                }
                ok && send(&mut sink, &ServerFrame::Synced { last_seq: history.last_seq() }).await
            }
            Err(e) => {
                warn!(error = %e, "could not read a session's history");
                false
            }
        };
        let mut stop = inner.shutdown.subscribe();
        let mut open = replayed;
        while open {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(f) => open = send(&mut sink, &f).await,
                    None => {
                        debug!("dropped for not keeping up; the client resumes");
                        break;
                    }
                },
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => open = handle(&inner, &sid, ip, &t, &mut sink).await,
                    Some(Ok(Message::Binary(_))) => {
                        open = send(&mut sink, &error(ErrorCode::BadFrame, "frames are JSON text", None)).await;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        debug!(error = %e, "the socket failed");
                        break;
                    }
                },
                _ = crate::bridge::stopped(&mut stop) => {
                    inner.hub.leave(&sid, conn);
                    return close(sink, 1012, "restarting").await;
                }
            }
        }
        inner.hub.leave(&sid, conn);
    }
    .instrument(span)
    .await
}

/// Handles one frame after the hello; false when the socket is gone.
async fn handle(inner: &Arc<Inner>, sid: &str, ip: IpAddr, text: &str, sink: &mut Sink) -> bool {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(f) => f,
        Err(e) => {
            return send(
                sink,
                &error(
                    ErrorCode::BadFrame,
                    format!("not a widget frame: {e}"),
                    None,
                ),
            )
            .await
        }
    };
    let max = inner.settings.limits.max_message_chars;
    let too_long = |t: &str| t.chars().count() > max;
    let (id, kind, entry) = match frame {
        ClientFrame::Hello { .. } => {
            return send(sink, &error(ErrorCode::BadFrame, "hello comes once", None)).await
        }
        ClientFrame::Message { id, text } => {
            if too_long(&text) {
                let msg = format!("the message is longer than {max} characters");
                return send(sink, &error(ErrorCode::TooLarge, msg, Some(&id))).await;
            }
            let mid = visitor_message_id(&id);
            let entry = EntryKind::Message {
                id: mid.clone(),
                from: Author::Visitor,
                name: None,
                text: text.clone(),
                choices: Vec::new(),
            };
            let kind = InboundKind::Message {
                id: mid,
                body: Text::plain(text),
                reply_to: None,
            };
            (id, kind, Some(entry))
        }
        ClientFrame::Edit { id, target, text } => {
            if too_long(&text) {
                let msg = format!("the message is longer than {max} characters");
                return send(sink, &error(ErrorCode::TooLarge, msg, Some(&id))).await;
            }
            let entry = EntryKind::Edit {
                target: target.clone(),
                text: text.clone(),
            };
            let kind = InboundKind::Edit {
                target,
                body: Text::plain(text),
            };
            (id, kind, Some(entry))
        }
        ClientFrame::Delete { id, target } => {
            let entry = EntryKind::Delete {
                target: target.clone(),
            };
            (id, InboundKind::Delete { target }, Some(entry))
        }
        ClientFrame::React { id, target, key } => {
            if key.is_empty() || key.chars().count() > MAX_KEY {
                let msg = format!("a reaction is one emoji (at most {MAX_KEY} characters)");
                return send(sink, &error(ErrorCode::TooLarge, msg, Some(&id))).await;
            }
            let kind = InboundKind::Reaction {
                id: visitor_message_id(&id),
                target,
                key,
            };
            (id, kind, None)
        }
    };
    if !valid_client_id(&id) {
        let msg = "a frame id is 1 to 64 of A-Z a-z 0-9 _ -";
        return send(sink, &error(ErrorCode::BadFrame, msg, None)).await;
    }
    if let Err(wait) = inner.limits.message(sid, ip) {
        let frame = ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "too many messages; wait a moment".into(),
            id: Some(id),
            retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)),
        };
        return send(sink, &frame).await;
    }
    match inner.take(sid, &id, kind, entry).await {
        Ok(Some(event)) => {
            let ok = send(sink, &ServerFrame::Ack { id }).await;
            inner.offer(event).await;
            ok
        }
        // Taken before (a resend after a reconnect): the same answer.
        Ok(None) => send(sink, &ServerFrame::Ack { id }).await,
        Err(e) => {
            warn!(error = %e, "could not take a visitor's frame");
            let msg = "the server could not keep this message; it will be sent again";
            send(sink, &error(ErrorCode::Unavailable, msg, Some(&id))).await
        }
    }
}

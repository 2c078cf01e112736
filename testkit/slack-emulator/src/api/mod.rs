//! The Web API front door: `/api/{method}` over GET or POST, token checks,
//! scopes, rate limits and injected faults, then the method's handler.
//!
//! Not for method semantics (the sibling modules) or event transport. The
//! invariant: Slack-level errors are HTTP 200 `{"ok":false,"error":…}`;
//! only rate limits (429), injected 500s and resets leave HTTP 200.

pub mod chat;
pub mod conversations;
pub mod files;
pub mod misc;
pub mod params;

use crate::calls::{Call, CallOutcome};
use crate::emulator::{Inner, ResetConnection};
use crate::error::ApiError;
use crate::faults::Fault;
use crate::ratelimit::retry_after_secs;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method as HttpMethod, StatusCode};
use axum::response::Response;
use params::Params;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Handler = fn(&Arc<Inner>, &Params) -> Result<Value, ApiError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

struct MethodSpec {
    name: &'static str,
    token: TokenKind,
    scope: Option<&'static str>,
    handler: Handler,
}

const fn bot(name: &'static str, scope: Option<&'static str>, handler: Handler) -> MethodSpec {
    MethodSpec {
        name,
        token: TokenKind::Bot,
        scope,
        handler,
    }
}

const METHODS: &[MethodSpec] = &[
    bot("auth.test", None, misc::auth_test),
    MethodSpec {
        name: "apps.connections.open",
        token: TokenKind::App,
        scope: Some("connections:write"),
        handler: misc::connections_open,
    },
    bot("chat.postMessage", Some("chat:write"), chat::post_message),
    bot(
        "chat.postEphemeral",
        Some("chat:write"),
        chat::post_ephemeral,
    ),
    bot("chat.update", Some("chat:write"), chat::update),
    bot("chat.delete", Some("chat:write"), chat::delete),
    bot(
        "conversations.history",
        Some("channels:history"),
        conversations::history,
    ),
    bot(
        "conversations.replies",
        Some("channels:history"),
        conversations::replies,
    ),
    bot(
        "conversations.info",
        Some("channels:read"),
        conversations::info,
    ),
    bot(
        "conversations.join",
        Some("channels:join"),
        conversations::join,
    ),
    bot(
        "conversations.list",
        Some("channels:read"),
        conversations::list,
    ),
    bot("pins.add", Some("pins:write"), misc::pins_add),
    bot("pins.remove", Some("pins:write"), misc::pins_remove),
    bot("pins.list", Some("pins:read"), misc::pins_list),
    bot(
        "reactions.add",
        Some("reactions:write"),
        misc::reactions_add,
    ),
    bot(
        "reactions.remove",
        Some("reactions:write"),
        misc::reactions_remove,
    ),
    bot("users.info", Some("users:read"), misc::users_info),
    bot(
        "usergroups.list",
        Some("usergroups:read"),
        misc::usergroups_list,
    ),
    bot(
        "usergroups.users.list",
        Some("usergroups:read"),
        misc::usergroups_users_list,
    ),
    bot(
        "files.getUploadURLExternal",
        Some("files:write"),
        files::get_upload_url,
    ),
    bot(
        "files.completeUploadExternal",
        Some("files:write"),
        files::complete_upload,
    ),
    bot("files.info", Some("files:read"), files::info),
];

/// `GET|POST /api/{method}`.
pub(crate) async fn handle(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    http_method: HttpMethod,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = params::from_query(query.as_deref());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body_token = if http_method == HttpMethod::POST {
        params::merge_body(&mut params, content_type, &body)
    } else {
        Ok(None)
    };
    let index = inner.calls.start(Call {
        method: method.clone(),
        http_method: http_method.to_string(),
        params: params.0.clone(),
        outcome: CallOutcome::Pending,
        at: std::time::Instant::now(),
    });
    inner.bump();
    let (response, outcome) = match body_token {
        Ok(body_token) => answer(&inner, &method, &params, body_token, &headers),
        Err(err) => slack_error(err),
    };
    inner.calls.finish(index, outcome);
    inner.bump();
    response
}

fn answer(
    inner: &Arc<Inner>,
    method: &str,
    params: &Params,
    body_token: Option<String>,
    headers: &HeaderMap,
) -> (Response, CallOutcome) {
    let mut reset_after = false;
    match inner.faults.take(method) {
        None => {}
        Some(Fault::RateLimited { retry_after_secs }) => return rate_limited(retry_after_secs),
        Some(Fault::ServerError) => {
            let body = json!({"ok": false, "error": "internal_error"});
            return (
                json_response(StatusCode::INTERNAL_SERVER_ERROR, &body),
                CallOutcome::ServerError,
            );
        }
        Some(Fault::SlackError(code)) => return slack_error(ApiError::new(&code)),
        Some(Fault::Reset) => return (reset_response(), CallOutcome::Reset),
        Some(Fault::ResetAfterCommit) => reset_after = true,
    }
    let Some(spec) = METHODS.iter().find(|m| m.name == method) else {
        return slack_error(ApiError::new("unknown_method").with("req_method", method));
    };
    if let Err(err) = authorize(inner, spec, headers, body_token) {
        return slack_error(err);
    }
    let channel_key = params
        .str("channel")
        .map(|c| inner.workspace().channel_id(&c, true).unwrap_or(c));
    if let Err(wait) = inner.limiter.check(method, channel_key.as_deref()) {
        return rate_limited(retry_after_secs(wait));
    }
    let (response, outcome) = match (spec.handler)(inner, params) {
        Ok(Value::Object(fields)) => {
            let mut body = Map::new();
            body.insert("ok".into(), Value::Bool(true));
            body.extend(fields);
            (
                json_response(StatusCode::OK, &Value::Object(body)),
                CallOutcome::Ok,
            )
        }
        Ok(_) => (
            json_response(StatusCode::OK, &json!({"ok": true})),
            CallOutcome::Ok,
        ),
        Err(err) => slack_error(err),
    };
    if reset_after {
        return (reset_response(), CallOutcome::Reset);
    }
    (response, outcome)
}

fn authorize(
    inner: &Inner,
    spec: &MethodSpec,
    headers: &HeaderMap,
    body_token: Option<String>,
) -> Result<(), ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string());
    let token = bearer
        .or(body_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new("not_authed"))?;
    if inner.is_revoked(&token) {
        return Err(ApiError::new("token_revoked"));
    }
    let kind = if token == inner.config.bot_token {
        TokenKind::Bot
    } else if token == inner.config.app_token {
        TokenKind::App
    } else {
        return Err(ApiError::new("invalid_auth"));
    };
    if kind != spec.token {
        return Err(ApiError::new("not_allowed_token_type"));
    }
    if let (TokenKind::Bot, Some(scope)) = (kind, spec.scope) {
        let scopes = &inner.config.bot_scopes;
        if !scopes.iter().any(|s| s == scope) {
            return Err(ApiError::new("missing_scope")
                .with("needed", scope)
                .with("provided", scopes.join(",")));
        }
    }
    Ok(())
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn slack_error(err: ApiError) -> (Response, CallOutcome) {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(false));
    body.insert("error".into(), Value::String(err.code.clone()));
    body.extend(err.extra);
    (
        json_response(StatusCode::OK, &Value::Object(body)),
        CallOutcome::Error(err.code),
    )
}

fn rate_limited(secs: u64) -> (Response, CallOutcome) {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"ok": false, "error": "ratelimited"}),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    (response, CallOutcome::RateLimited(secs))
}

fn reset_response() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(ResetConnection);
    response
}

//! Files the current way: `files.getUploadURLExternal`, the upload to the
//! returned URL, `files.completeUploadExternal`, `files.info`, and the
//! `url_private` download that needs the bot token.
//!
//! Not for the deprecated `files.upload`. The invariant: a file is shared
//! (message + `file_shared` events) only once its bytes were uploaded and
//! the upload was completed.

use super::params::Params;
use crate::delivery::emit_events;
use crate::emulator::Inner;
use crate::error::ApiError;
use crate::state::ops::{self, Events, NewMessage};
use crate::state::{render, StoredFile, Workspace};
use crate::ts::{now_secs, Ts};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

fn mimetype(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") | Some("log") => "text/plain",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Reserves a file id for `name` (`files.getUploadURLExternal`).
pub(crate) fn reserve(ws: &mut Workspace, user: &str, name: &str, length: u64) -> String {
    let id = ws.mint_id("F");
    ws.files.insert(
        id.clone(),
        StoredFile {
            id: id.clone(),
            name: name.to_string(),
            title: name.to_string(),
            declared_length: length,
            content: None,
            mimetype: mimetype(name).to_string(),
            user: user.to_string(),
            created: now_secs(),
            completed: false,
            channels: Vec::new(),
        },
    );
    id
}

/// Completes uploaded files and shares them into `channel` as `user`: one
/// message carrying the files plus a `file_shared` event per file.
pub(crate) fn share(
    ws: &mut Workspace,
    channel: Option<&str>,
    user: &str,
    files: &[(String, Option<String>)],
    thread_ts: Option<Ts>,
    comment: Option<String>,
    blocks: Option<Value>,
) -> Result<Events, ApiError> {
    for (id, _) in files {
        let f = ws
            .files
            .get(id)
            .ok_or_else(|| ApiError::new("file_not_found"))?;
        if f.content.is_none() {
            return Err(ApiError::new("file_not_found"));
        }
    }
    for (id, title) in files {
        if let Some(f) = ws.files.get_mut(id) {
            f.completed = true;
            if let Some(title) = title {
                f.title = title.clone();
            }
        }
    }
    let Some(channel) = channel else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = files.iter().map(|(id, _)| id.clone()).collect();
    let new = NewMessage {
        text: comment.unwrap_or_default(),
        blocks,
        thread_ts,
        files: ids.clone(),
        subtype: Some("file_share".into()),
        ..Default::default()
    };
    let (ts, mut events) = ops::post(ws, channel, user, new, true)?;
    let mut shared = ops::file_shared_events(ws, channel, user, &ids, ts);
    shared.append(&mut events);
    Ok(shared)
}

pub fn get_upload_url(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let filename = params.required("filename", "invalid_arguments")?;
    let length: u64 = params
        .required("length", "invalid_arguments")?
        .parse()
        .map_err(|_| ApiError::new("invalid_arguments"))?;
    let mut ws = inner.workspace();
    let bot = ws.bot_user_id.clone();
    let id = reserve(&mut ws, &bot, &filename, length);
    Ok(json!({
        "upload_url": format!("{}/upload/v1/{id}", ws.base_url),
        "file_id": id,
    }))
}

pub fn complete_upload(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let files = params
        .json("files", "invalid_arguments")?
        .ok_or_else(|| ApiError::new("invalid_arguments"))?;
    let Value::Array(items) = files else {
        return Err(ApiError::new("invalid_arguments"));
    };
    let mut wanted = Vec::new();
    for item in &items {
        let id = item["id"]
            .as_str()
            .ok_or_else(|| ApiError::new("invalid_arguments"))?;
        wanted.push((id.to_string(), item["title"].as_str().map(str::to_string)));
    }
    let channel = params.str("channel_id").or_else(|| {
        params
            .str("channels")
            .and_then(|c| c.split(',').next().map(|s| s.trim().to_string()))
    });
    let thread_ts = params.ts("thread_ts", "invalid_thread_ts")?;
    let blocks = params.json("blocks", "invalid_blocks")?;
    let (response, events) = {
        let mut ws = inner.workspace();
        let bot = ws.bot_user_id.clone();
        let channel = match channel {
            Some(c) => Some(ws.channel_id(&c, false)?),
            None => None,
        };
        let events = share(
            &mut ws,
            channel.as_deref(),
            &bot,
            &wanted,
            thread_ts,
            params.str("initial_comment"),
            blocks,
        )?;
        let files: Vec<Value> = wanted
            .iter()
            .filter_map(|(id, _)| ws.files.get(id))
            .map(|f| render::file(&ws, f))
            .collect();
        (json!({ "files": files }), events)
    };
    emit_events(inner, events);
    Ok(response)
}

pub fn info(inner: &Arc<Inner>, params: &Params) -> Result<Value, ApiError> {
    let id = params.required("file", "file_not_found")?;
    let ws = inner.workspace();
    let f = ws
        .files
        .get(&id)
        .ok_or_else(|| ApiError::new("file_not_found"))?;
    Ok(json!({ "file": render::file(&ws, f) }))
}

/// The first part's bytes of a `multipart/form-data` body.
fn multipart_file(content_type: &str, body: &[u8]) -> Option<Vec<u8>> {
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let start = find(body, delimiter.as_bytes())? + delimiter.len();
    let headers_end = find(&body[start..], b"\r\n\r\n")? + start + 4;
    let end = find(&body[headers_end..], format!("\r\n{delimiter}").as_bytes())? + headers_end;
    Some(body[headers_end..end].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST /upload/v1/{file_id}`: raw bytes or multipart form data.
pub(crate) async fn upload(
    State(inner): State<Arc<Inner>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bytes = if content_type.starts_with("multipart/form-data") {
        match multipart_file(content_type, &body) {
            Some(bytes) => bytes,
            None => return (StatusCode::BAD_REQUEST, "malformed multipart body").into_response(),
        }
    } else {
        body.to_vec()
    };
    let len = bytes.len();
    {
        let mut ws = inner.workspace();
        match ws.files.get_mut(&file_id) {
            Some(f) if !f.completed => f.content = Some(bytes),
            _ => return (StatusCode::NOT_FOUND, "upload URL not found").into_response(),
        }
    }
    inner.bump();
    (StatusCode::OK, format!("OK - {len}")).into_response()
}

/// `GET /files-pri/{team}-{file}/[download/]{name}`: needs the bot token,
/// like Slack's `url_private`; without it, a redirect to a login page.
pub(crate) async fn download(
    State(inner): State<Arc<Inner>>,
    Path((key, _rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == inner.config.bot_token && !inner.is_revoked(t));
    if !authorized {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::FOUND;
        if let Ok(location) = HeaderValue::from_str(&format!("{}/login", inner.base_url)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    let ws = inner.workspace();
    let file = key
        .split_once('-')
        .and_then(|(_, id)| ws.files.get(id))
        .filter(|f| f.completed);
    match file.and_then(|f| f.content.clone().map(|c| (f.mimetype.clone(), c))) {
        Some((mime, content)) => {
            let mut response = Response::new(Body::from(content));
            if let Ok(v) = HeaderValue::from_str(&mime) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            response
        }
        None => (StatusCode::NOT_FOUND, "file not found").into_response(),
    }
}

/// What an unauthenticated download lands on: HTML, as on Slack.
pub(crate) async fn login_page() -> Response {
    let mut response = Response::new(Body::from(
        "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to your workspace</body></html>",
    ));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

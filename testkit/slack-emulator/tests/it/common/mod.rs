//! Shared test helpers: an emulator per test, a slack-morphism client
//! pointed at it over plain HTTP, and a raw HTTP helper for what the typed
//! client cannot send (missing tokens, form bodies).

#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use slack_emulator::{Emulator, EmulatorConfig};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::Once;

pub type Connector = SlackClientHyperConnector<HttpConnector>;

static CRYPTO: Once = Once::new();

pub fn install_crypto() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub async fn emulator(config: EmulatorConfig) -> Emulator {
    install_crypto();
    Emulator::start(config).await.expect("emulator starts")
}

pub fn client(emu: &Emulator) -> SlackClient<Connector> {
    install_crypto();
    let connector = SlackClientHyperConnector::with_connector(HttpConnector::new())
        .with_slack_api_url(&emu.slack_api_url());
    SlackClient::new(connector)
}

pub fn bot_token(emu: &Emulator) -> SlackApiToken {
    SlackApiToken::new(emu.bot_token().into())
}

pub fn app_token(emu: &Emulator) -> SlackApiToken {
    SlackApiToken::new(emu.app_token().into())
}

/// A raw HTTP exchange: status, headers, body.
pub struct Raw {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

pub async fn raw(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Raw, hyper_util::client::legacy::Error> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<hyper::body::Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(hyper::body::Bytes::copy_from_slice(body)))
        .expect("request builds");
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes()
        .to_vec();
    Ok(Raw {
        status,
        headers,
        body,
    })
}

/// A form-encoded POST to `/api/{method}` with the bot token as a header.
pub async fn form(emu: &Emulator, method: &str, token: Option<&str>, body: &str) -> Raw {
    let url = format!("{}{}", emu.api_url(), method);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth.as_deref() {
        headers.push(("authorization", auth));
    }
    raw("POST", &url, &headers, body.as_bytes())
        .await
        .expect("emulator answers")
}

/// The Slack error code of a failed slack-morphism call.
pub fn api_error_code<T: std::fmt::Debug>(result: ClientResult<T>) -> String {
    match result {
        Err(SlackClientError::ApiError(err)) => err.code,
        other => panic!("expected a Slack API error, got {other:?}"),
    }
}

//! The Web API as the bridge uses it: slack-morphism's HTTP session for
//! transport, auth and Slack's error envelope, JSON in and out, and the
//! retry rules (wait out 429 `Retry-After`; the shared capped exponential
//! backoff with jitter, `handoff_bridge_api::backoff`, for 5xx and
//! connection errors; everything else is final).
//!
//! Not for deciding what to call (`outbound`, `inbound`). slack-morphism's
//! own rate controller stays off: it throttles per team, which would stall
//! every case behind a busy one; per-channel queues (`queue`) do the
//! ordering instead. The invariant: a 429 is never turned into a drop,
//! tokens never appear in errors or logs, and the bot token goes with a
//! file download only to an allowed file host ([`FileHosts`]).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use handoff_bridge_api::BridgeError;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::{debug, warn};

use crate::config::RetryPolicy;
use crate::NETWORK;

pub(crate) type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// How many 429s in a row one call waits out before giving up with
/// `RateLimited` (the caller's outbox then retries later, still in order).
const MAX_RATE_LIMIT_WAITS: u32 = 60;

/// How one attempt of a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// 429: wait this long, then the same call may succeed.
    RateLimited(Duration),
    /// 5xx, connection error, Slack's transient error codes: the call may
    /// or may not have taken effect.
    Transient(String),
    /// Final: retrying will not help.
    Failed(BridgeError),
}

fn rejected(detail: String) -> BridgeError {
    BridgeError::Rejected {
        network: NETWORK.into(),
        detail,
    }
}

fn classify(method: &str, err: SlackClientError) -> CallError {
    match err {
        SlackClientError::RateLimitError(e) => {
            CallError::RateLimited(e.retry_after.unwrap_or(Duration::from_secs(1)))
        }
        SlackClientError::ApiError(e) => match e.code.as_str() {
            "invalid_auth"
            | "not_authed"
            | "token_revoked"
            | "token_expired"
            | "account_inactive"
            | "no_permission"
            | "not_allowed_token_type"
            | "missing_scope" => CallError::Failed(BridgeError::Auth {
                network: NETWORK.into(),
                detail: format!("{method}: {}", e.code),
            }),
            "ratelimited" => CallError::RateLimited(Duration::from_secs(1)),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                CallError::Transient(format!("{method}: {}", e.code))
            }
            code => CallError::Failed(rejected(format!("{method}: {code}"))),
        },
        SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
            CallError::Transient(format!("{method}: HTTP {}", e.status_code))
        }
        SlackClientError::HttpError(e) => {
            CallError::Failed(rejected(format!("{method}: HTTP {}", e.status_code)))
        }
        SlackClientError::ProtocolError(e) => {
            CallError::Failed(rejected(format!("{method}: unreadable answer: {e}")))
        }
        other => CallError::Transient(format!("{method}: {other}")),
    }
}

/// The origins (scheme, host, port) a file download may send the bot
/// token to: the configured file hosts (a bare host name means https on
/// port 443; an entry with `://` is taken as a whole origin, for an
/// emulator) plus the Web API's own origin, which receives the token on
/// every call anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileHosts(Vec<url::Origin>);

impl FileHosts {
    pub fn new(entries: &[String], api_url: Option<&str>) -> Result<FileHosts, BridgeError> {
        let mut origins = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            let text = if entry.contains("://") {
                entry.to_string()
            } else {
                format!("https://{entry}/")
            };
            let url = url::Url::parse(&text).map_err(|e| {
                rejected(format!(
                    "config: [slack] file_hosts entry {entry:?} is not a host or origin: {e}"
                ))
            })?;
            if url.host().is_none() {
                return Err(rejected(format!(
                    "config: [slack] file_hosts entry {entry:?} names no host"
                )));
            }
            origins.push(url.origin());
        }
        if let Some(api) = api_url {
            let url = url::Url::parse(api)
                .map_err(|e| rejected(format!("config: api_url {api:?} does not parse: {e}")))?;
            origins.push(url.origin());
        }
        Ok(FileHosts(origins))
    }

    /// Whether the bot token may be sent to `url`.
    pub fn allows(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|u| self.0.contains(&u.origin()))
    }
}

/// The Web API client.
pub(crate) struct WebApi {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    bot_token: String,
    retry: RetryPolicy,
    files: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    file_hosts: FileHosts,
}

/// The TLS-or-plain connector (plain HTTP only matters for the emulator).
pub(crate) fn https_connector() -> Result<HttpsConnector<HttpConnector>, BridgeError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| BridgeError::Unavailable {
            network: NETWORK.into(),
            detail: format!("no TLS root certificates: {e}"),
        })?;
    Ok(builder.https_or_http().enable_http2().build())
}

impl WebApi {
    pub fn new(
        bot_token: &str,
        api_url: Option<&str>,
        retry: RetryPolicy,
        file_hosts: FileHosts,
    ) -> Result<WebApi, BridgeError> {
        let mut connector = SlackClientHyperConnector::with_connector(https_connector()?);
        if let Some(url) = api_url {
            connector = connector.with_slack_api_url(url.trim_end_matches('/'));
        }
        let files = Client::builder(TokioExecutor::new()).build(https_connector()?);
        Ok(WebApi {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(bot_token.to_string().into()),
            bot_token: bot_token.to_string(),
            retry,
            files,
            file_hosts,
        })
    }

    /// One GET of `method` with query parameters.
    pub async fn get_once(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, CallError> {
        let params: Vec<(&str, Option<&str>)> =
            params.iter().map(|(k, v)| (*k, Some(v.as_str()))).collect();
        let session = self.client.open_session(&self.token);
        session
            .http_session_api
            .http_get(method, &params, None)
            .await
            .map_err(|e| classify(method, e))
    }

    /// One POST of `method` with a JSON body.
    pub async fn post_once(&self, method: &str, body: &Value) -> Result<Value, CallError> {
        let session = self.client.open_session(&self.token);
        session
            .http_session_api
            .http_post(method, body, None)
            .await
            .map_err(|e| classify(method, e))
    }

    /// A GET, retried per the policy (for reads and idempotent writes).
    pub async fn get(&self, method: &str, params: &[(&str, String)]) -> Result<Value, BridgeError> {
        self.retrying(method, || self.get_once(method, params))
            .await
    }

    /// A JSON POST, retried per the policy (only for idempotent writes).
    pub async fn post(&self, method: &str, body: &Value) -> Result<Value, BridgeError> {
        self.retrying(method, || self.post_once(method, body)).await
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of
    /// retries. 429s wait `Retry-After` and do not count as attempts.
    pub async fn retrying<T, F, Fut>(&self, method: &str, mut attempt: F) -> Result<T, BridgeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let mut backoff = self.retry.backoff();
        let mut waits = 0u32;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(CallError::Failed(e)) => return Err(e),
                Err(CallError::RateLimited(wait)) => {
                    waits += 1;
                    if waits > MAX_RATE_LIMIT_WAITS {
                        return Err(BridgeError::RateLimited {
                            network: NETWORK.into(),
                            retry_after_ms: wait.as_millis() as u64,
                        });
                    }
                    debug!(method, ?wait, "rate limited; waiting before the same call");
                    tokio::time::sleep(wait).await;
                }
                Err(CallError::Transient(detail)) => {
                    let Some(delay) = backoff.next() else {
                        return Err(BridgeError::Unavailable {
                            network: NETWORK.into(),
                            detail,
                        });
                    };
                    warn!(method, %detail, ?delay, "transient Slack failure; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Sends file bytes to an upload URL from `files.getUploadURLExternal`.
    pub async fn upload_bytes(
        &self,
        url: &str,
        data: &[u8],
        mime: &str,
    ) -> Result<(), BridgeError> {
        let upload_url: url::Url = url
            .parse()
            .map_err(|e| rejected(format!("upload URL {url:?} does not parse: {e}")))?;
        let request = SlackApiFilesUploadViaUrlRequest::new(
            upload_url.into(),
            data.to_vec(),
            mime.to_string(),
        );
        self.retrying("files.upload", || async {
            let session = self.client.open_session(&self.token);
            session
                .files_upload_via_url(&request)
                .await
                .map(|_| ())
                .map_err(|e| classify("files.upload", e))
        })
        .await
    }

    /// Whether [`WebApi::download`] would fetch `url` (with the token).
    pub fn file_host_allowed(&self, url: &str) -> bool {
        self.file_hosts.allows(url)
    }

    /// Downloads a file's `url_private` with the bot token, at most `cap`
    /// bytes; refused without a request when `url` is not on an allowed
    /// file host.
    pub async fn download(&self, url: &str, cap: usize) -> Result<Vec<u8>, BridgeError> {
        if !self.file_hosts.allows(url) {
            return Err(rejected(
                "file URL is not on an allowed Slack file host; the bot token is not sent".into(),
            ));
        }
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| rejected(format!("file URL does not parse: {e}")))?;
        self.retrying("file download", || async {
            let request = hyper::Request::get(uri.clone())
                .header("authorization", format!("Bearer {}", self.bot_token))
                .body(Full::new(Bytes::new()))
                .map_err(|e| CallError::Failed(rejected(format!("file request: {e}"))))?;
            let response = self
                .files
                .request(request)
                .await
                .map_err(|e| CallError::Transient(format!("file download: {e}")))?;
            let status = response.status();
            if status.is_redirection() || status == 401 || status == 403 {
                return Err(CallError::Failed(BridgeError::Auth {
                    network: NETWORK.into(),
                    detail: format!("file download answered {status} (files:read missing?)"),
                }));
            }
            if status.is_server_error() {
                return Err(CallError::Transient(format!(
                    "file download: HTTP {status}"
                )));
            }
            if !status.is_success() {
                return Err(CallError::Failed(rejected(format!(
                    "file download: HTTP {status}"
                ))));
            }
            let body = Limited::new(response.into_body(), cap)
                .collect()
                .await
                .map_err(|e| {
                    CallError::Failed(rejected(format!(
                        "file larger than {cap} bytes or cut: {e}"
                    )))
                })?;
            Ok(body.to_bytes().to_vec())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_allowed_file_hosts_over_their_scheme() {
        let hosts = FileHosts::new(
            &[
                "files.slack.com".to_string(),
                "http://127.0.0.1:9".to_string(),
            ],
            Some("http://127.0.0.1:8080/api/"),
        )
        .unwrap();
        assert!(hosts.allows("https://files.slack.com/files-pri/T1-F1/a.png"));
        // The same host over plain http, another port or a look-alike host.
        assert!(!hosts.allows("http://files.slack.com/files-pri/T1-F1/a.png"));
        assert!(!hosts.allows("https://files.slack.com:8443/a.png"));
        assert!(!hosts.allows("https://files.slack.com.evil.example/a.png"));
        assert!(!hosts.allows("https://evil.example/?files.slack.com"));
        // Origins given whole, and the Web API's own.
        assert!(hosts.allows("http://127.0.0.1:9/f"));
        assert!(hosts.allows("http://127.0.0.1:8080/files-pri/T1-F1/a.png"));
        assert!(!hosts.allows("http://127.0.0.1:8081/f"));
        assert!(!hosts.allows("not a url"));
    }

    #[test]
    fn a_bad_file_hosts_entry_is_a_clear_error() {
        let err = FileHosts::new(&["http://".to_string()], None).unwrap_err();
        assert!(err.to_string().contains("file_hosts"), "{err}");
    }
}

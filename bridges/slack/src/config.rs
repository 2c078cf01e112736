//! How a Slack bridge is set up: tokens, the connection mode (Socket Mode
//! or the Events API), how relayed names are shown, file size cap and the
//! retry policy for transient Web API failures.
//!
//! Not for run-time state (`store`) or reading TOML (the core does that and
//! builds this struct). The invariant: secrets (bot token, app token,
//! signing secret) never appear in `Debug` output or logs.

use std::fmt;
use std::time::Duration;

use handoff_bridge_api::BridgeError;
use serde::{Deserialize, Serialize};

/// How a relayed person's name is shown on messages the bot posts for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameStyle {
    /// `chat.postMessage` `username` override (needs `chat:write.customize`).
    #[default]
    Username,
    /// A bold `*Name:*` prefix on the text.
    Prefix,
}

/// Retries of transient failures (5xx, connection errors). Rate limits are
/// not counted here: a 429 is always waited out for its `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per retry, plus up to 100 %
    /// jitter.
    pub base_delay: Duration,
    /// Upper bound of one delay before its jitter.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delays between attempts (`max_attempts - 1` of them): the
    /// shared backoff (`handoff_bridge_api::backoff`), doubling from
    /// `base_delay` and never above `max_delay`, jittered.
    pub fn backoff(&self) -> impl Iterator<Item = Duration> {
        handoff_bridge_api::backoff::delays(self.base_delay, self.max_delay)
            .take(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// Slack's file host (`url_private` downloads).
pub const DEFAULT_FILE_HOST: &str = "files.slack.com";

/// Everything a [`crate::SlackBridge`] is started with.
#[derive(Clone)]
pub struct SlackBridgeConfig {
    /// `xoxb-` bot token for the Web API.
    pub bot_token: String,
    /// `xapp-` app-level token: Socket Mode when set (the default mode).
    pub app_token: Option<String>,
    /// Signing secret: with `listen`, the Events API instead of Socket Mode.
    pub signing_secret: Option<String>,
    /// Address the Events API listener binds (`0.0.0.0:3000`).
    pub listen: Option<String>,
    /// Web API root (`http://127.0.0.1:PORT/api` for the emulator);
    /// Slack's own when `None`.
    pub api_url: Option<String>,
    pub show_names_as: NameStyle,
    /// Users (`U…`/`W…`) and bots (`B…`) whose messages, edits, reactions
    /// and button presses are never relayed: other bots or bridges that
    /// post as ordinary users. Apps posting with a `bot_id` (this bot,
    /// other handoff instances) are always ignored.
    pub ignore_users: Vec<String>,
    /// User groups (`@handle` or `S…` id) named among a team's agents:
    /// each sender's membership in them is reported in their `Standing`
    /// (read with `usergroups.users.list`), for the core's agent rule.
    pub agent_groups: Vec<String>,
    /// Files larger than this are not downloaded (a note is relayed instead).
    pub max_file_bytes: usize,
    /// Hosts the bot token may be sent to for file downloads: a host name
    /// (https only) or a whole origin such as `http://127.0.0.1:3000` (for
    /// an emulator). The Web API's own origin (`api_url`) is always
    /// allowed. Default: Slack's file host, `files.slack.com`.
    pub file_hosts: Vec<String>,
    pub retry: RetryPolicy,
    /// Socket Mode: wait between reconnection attempts (whole seconds, ≥ 1).
    pub reconnect_delay: Duration,
}

/// How events reach the bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    SocketMode,
    EventsApi { listen: String },
}

impl SlackBridgeConfig {
    /// A Socket Mode config with defaults for everything but the tokens.
    pub fn socket_mode(bot_token: impl Into<String>, app_token: impl Into<String>) -> Self {
        SlackBridgeConfig {
            bot_token: bot_token.into(),
            app_token: Some(app_token.into()),
            signing_secret: None,
            listen: None,
            api_url: None,
            show_names_as: NameStyle::default(),
            ignore_users: Vec::new(),
            agent_groups: Vec::new(),
            max_file_bytes: 20 * 1024 * 1024,
            file_hosts: vec![DEFAULT_FILE_HOST.to_string()],
            retry: RetryPolicy::default(),
            reconnect_delay: Duration::from_secs(5),
        }
    }

    /// An Events API config: requests signed with `signing_secret` arrive
    /// on `listen`.
    pub fn events_api(
        bot_token: impl Into<String>,
        signing_secret: impl Into<String>,
        listen: impl Into<String>,
    ) -> Self {
        SlackBridgeConfig {
            app_token: None,
            signing_secret: Some(signing_secret.into()),
            listen: Some(listen.into()),
            ..SlackBridgeConfig::socket_mode(bot_token, "")
        }
    }

    /// Socket Mode when an app token is set; otherwise the Events API when
    /// both a signing secret and a listen address are.
    pub(crate) fn mode(&self) -> Result<Mode, BridgeError> {
        let app_token = self.app_token.as_deref().filter(|t| !t.is_empty());
        match (app_token, &self.signing_secret, &self.listen) {
            (Some(_), _, _) => Ok(Mode::SocketMode),
            (None, Some(_), Some(listen)) => Ok(Mode::EventsApi {
                listen: listen.clone(),
            }),
            _ => Err(BridgeError::Rejected {
                network: "slack".into(),
                detail: "config: set app_token (Socket Mode) or signing_secret and listen \
                         (Events API)"
                    .into(),
            }),
        }
    }
}

impl fmt::Debug for SlackBridgeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("SlackBridgeConfig")
            .field("bot_token", &"<redacted>")
            .field("app_token", &redact(&self.app_token))
            .field("signing_secret", &redact(&self.signing_secret))
            .field("listen", &self.listen)
            .field("api_url", &self.api_url)
            .field("show_names_as", &self.show_names_as)
            .field("ignore_users", &self.ignore_users)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("file_hosts", &self.file_hosts)
            .field("retry", &self.retry)
            .field("reconnect_delay", &self.reconnect_delay)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let mut cfg = SlackBridgeConfig::socket_mode("xoxb-secret-1", "xapp-secret-2");
        cfg.signing_secret = Some("sign-secret-3".into());
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("secret-1"), "{shown}");
        assert!(!shown.contains("secret-2"), "{shown}");
        assert!(!shown.contains("secret-3"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn mode_follows_tokens() {
        let sm = SlackBridgeConfig::socket_mode("xoxb", "xapp");
        assert_eq!(sm.mode().unwrap(), Mode::SocketMode);
        let ev = SlackBridgeConfig::events_api("xoxb", "s", "127.0.0.1:0");
        assert_eq!(
            ev.mode().unwrap(),
            Mode::EventsApi {
                listen: "127.0.0.1:0".into()
            }
        );
        let mut none = ev.clone();
        none.listen = None;
        assert!(none.mode().is_err());
    }

    #[test]
    fn retry_delays_double_are_capped_and_counted() {
        let p = RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let delays: Vec<Duration> = p.backoff().collect();
        assert_eq!(delays.len(), 7, "one delay between each two attempts");
        assert!(delays[0] >= Duration::from_millis(50));
        assert!(delays[0] < Duration::from_millis(100));
        for d in &delays[2..] {
            // Never above the 300 ms cap, jittered down to half of it.
            assert!(*d >= Duration::from_millis(150), "{d:?}");
            assert!(*d < Duration::from_millis(300), "{d:?}");
        }
    }
}

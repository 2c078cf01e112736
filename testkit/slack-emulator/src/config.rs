//! How an emulator is set up: workspace identity, tokens, scopes, rate
//! limits, event delivery (Socket Mode or signed HTTP) and its timings.
//!
//! Not runtime switches (those live in `faults`). The invariant: a default
//! config behaves like a freshly installed Slack app in Socket Mode with the
//! scopes handoff's bridge asks for, and Slack's documented posting limit.

use std::fmt;
use std::time::Duration;

/// Where the emulator sends events and interactions.
#[derive(Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Socket Mode: events go to websockets opened through
    /// `apps.connections.open`; they queue until one is connected.
    SocketMode,
    /// Events API: signed HTTP POSTs. `interactivity_url` receives
    /// `block_actions` as form-encoded `payload=<json>`.
    EventsApi {
        events_url: String,
        interactivity_url: Option<String>,
        signing_secret: String,
    },
}

impl fmt::Debug for Delivery {
    // The signing secret is a secret: keep it out of Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::SocketMode => f.write_str("SocketMode"),
            Delivery::EventsApi {
                events_url,
                interactivity_url,
                ..
            } => f
                .debug_struct("EventsApi")
                .field("events_url", events_url)
                .field("interactivity_url", interactivity_url)
                .field("signing_secret", &"<redacted>")
                .finish(),
        }
    }
}

/// A token bucket for one Web API method: `per_second` sustained, `burst`
/// at once; keyed per channel when `per_channel` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub method: String,
    pub per_second: f64,
    pub burst: u32,
    pub per_channel: bool,
}

impl RateLimit {
    /// Slack's "special" tier for `chat.postMessage`: about one message per
    /// second per channel, with short bursts allowed.
    pub fn post_message_default() -> RateLimit {
        RateLimit {
            method: "chat.postMessage".into(),
            per_second: 1.0,
            burst: 3,
            per_channel: true,
        }
    }
}

/// Everything an emulator is started with. Build with `Default` and adjust.
#[derive(Clone)]
pub struct EmulatorConfig {
    pub team_id: String,
    pub team_name: String,
    pub team_domain: String,
    pub app_id: String,
    pub bot_user_id: String,
    pub bot_id: String,
    pub bot_name: String,
    /// `xoxb-` token the bridge calls the Web API with.
    pub bot_token: String,
    /// `xapp-` app-level token for `apps.connections.open`.
    pub app_token: String,
    /// Scopes granted to the bot token; a method needing another answers
    /// `missing_scope`.
    pub bot_scopes: Vec<String>,
    pub rate_limits: Vec<RateLimit>,
    pub delivery: Delivery,
    /// How long a Socket Mode envelope may stay unacknowledged before it is
    /// redelivered (Slack: a few seconds).
    pub socket_ack_timeout: Duration,
    /// How long an Events API receiver has to answer 2xx (Slack: 3 s).
    pub http_timeout: Duration,
    /// Waits before each redelivery; its length is the number of retries
    /// (Slack: three, at about 0 s, 1 min and 5 min).
    pub retry_delays: Vec<Duration>,
    /// Whether every page of `conversations.replies` starts with the thread
    /// parent (as observed on Slack) or only the first page does.
    pub replies_parent_on_every_page: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            team_id: "T0EMULATOR".into(),
            team_name: "Emulated Workspace".into(),
            team_domain: "emulated".into(),
            app_id: "A0EMULATOR".into(),
            bot_user_id: "U0EMUBOT01".into(),
            bot_id: "B0EMUBOT01".into(),
            bot_name: "handoff".into(),
            bot_token: "xoxb-1000000001-2000000002-EmulatorBotToken0000".into(),
            app_token: "xapp-1-A0EMULATOR-3000000003-emulatorapptoken0000".into(),
            bot_scopes: default_scopes(),
            rate_limits: vec![RateLimit::post_message_default()],
            delivery: Delivery::SocketMode,
            socket_ack_timeout: Duration::from_secs(3),
            http_timeout: Duration::from_secs(3),
            retry_delays: vec![
                Duration::from_secs(0),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            replies_parent_on_every_page: true,
        }
    }
}

impl EmulatorConfig {
    /// A config with no rate limits at all.
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limits.clear();
        self
    }

    /// Short ack timeout and retry delays for tests of redelivery.
    pub fn with_fast_retries(mut self, ack_timeout: Duration, delay: Duration) -> Self {
        self.socket_ack_timeout = ack_timeout;
        self.http_timeout = ack_timeout;
        self.retry_delays = vec![delay; 3];
        self
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("team_id", &self.team_id)
            .field("app_id", &self.app_id)
            .field("bot_user_id", &self.bot_user_id)
            .field("bot_token", &"<redacted>")
            .field("app_token", &"<redacted>")
            .field("bot_scopes", &self.bot_scopes)
            .field("rate_limits", &self.rate_limits)
            .field("delivery", &self.delivery)
            .field("socket_ack_timeout", &self.socket_ack_timeout)
            .field("http_timeout", &self.http_timeout)
            .field("retry_delays", &self.retry_delays)
            .finish()
    }
}

fn default_scopes() -> Vec<String> {
    [
        "chat:write",
        "chat:write.customize",
        "channels:read",
        "channels:history",
        "channels:join",
        "groups:read",
        "groups:history",
        "pins:read",
        "pins:write",
        "reactions:read",
        "reactions:write",
        "users:read",
        "usergroups:read",
        "files:read",
        "files:write",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

//! What the Matrix bridge is told at start: homeserver, credentials, rooms,
//! limits, and how hard `connect` tries an unreachable server.
//!
//! Plain data only; reading TOML and `${VAR}` expansion belong to the core's
//! config module. Invariant: the password never appears in `Debug` output or
//! logs (the `Debug` impl prints a placeholder).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one Matrix bot account.
#[derive(Clone)]
pub struct MatrixBridgeConfig {
    /// Client-server API base URL, e.g. `http://127.0.0.1:8008`.
    pub homeserver: String,
    /// Localpart or full user id of the bot.
    pub user: String,
    /// The bot's password; used only for the first login (or when the saved
    /// access token was revoked). Never logged.
    pub password: String,
    /// Device display name for the first login.
    pub device_name: String,
    /// Where `session.json`, the store passphrase and the sqlite state and
    /// crypto stores live. Losing it means a new device.
    pub data_dir: PathBuf,
    /// Customer rooms (ids `!x:hs` or aliases `#x:hs`) joined at start.
    pub customer_rooms: Vec<String>,
    /// Accept every invite (direct chats with customers), not only invites
    /// to configured customer rooms.
    pub auto_join: bool,
    /// Staff rooms (ids or aliases) that desks name (`matrix:#room`):
    /// never customer rooms, whoever invited the bot.
    pub desk_rooms: Vec<String>,
    /// Users whose events are never forwarded (other bots, bridges).
    pub ignore_users: Vec<String>,
    /// In rooms with more than two members, give each customer a thread.
    pub thread_per_customer: bool,
    /// Attachments larger than this are not downloaded; a text note is
    /// forwarded instead.
    pub max_media_bytes: usize,
    /// Create case rooms with `m.room.encryption` in their initial state.
    pub encrypt_case_rooms: bool,
    /// How `connect` retries an unreachable homeserver.
    pub connect_retry: RetryPolicy,
    /// Events per room in one `/sync` response (`None`: the homeserver's
    /// default). Rooms with more new events than this come back "limited";
    /// the gap is read with `/messages`, so nothing is skipped either way.
    pub sync_timeline_limit: Option<u32>,
}

impl MatrixBridgeConfig {
    /// A config with the given essentials and defaults for the rest:
    /// no customer rooms, no auto-join, threads per customer on, 20 MiB media
    /// limit, unencrypted case rooms, default retry policy.
    pub fn new(
        homeserver: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        MatrixBridgeConfig {
            homeserver: homeserver.into(),
            user: user.into(),
            password: password.into(),
            device_name: "handoff".to_owned(),
            data_dir: data_dir.into(),
            customer_rooms: Vec::new(),
            auto_join: false,
            desk_rooms: Vec::new(),
            ignore_users: Vec::new(),
            thread_per_customer: true,
            max_media_bytes: 20 * 1024 * 1024,
            encrypt_case_rooms: false,
            connect_retry: RetryPolicy::default(),
            sync_timeline_limit: None,
        }
    }
}

impl fmt::Debug for MatrixBridgeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixBridgeConfig")
            .field("homeserver", &self.homeserver)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("device_name", &self.device_name)
            .field("data_dir", &self.data_dir)
            .field("sync_timeline_limit", &self.sync_timeline_limit)
            .field("customer_rooms", &self.customer_rooms)
            .field("auto_join", &self.auto_join)
            .field("desk_rooms", &self.desk_rooms)
            .field("ignore_users", &self.ignore_users)
            .field("thread_per_customer", &self.thread_per_customer)
            .field("max_media_bytes", &self.max_media_bytes)
            .field("encrypt_case_rooms", &self.encrypt_case_rooms)
            .field("connect_retry", &self.connect_retry)
            .finish()
    }
}

/// How often and how patiently to retry (the shared backoff,
/// `handoff_bridge_api::backoff`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (at least one is always made).
    pub max_attempts: u32,
    /// Delay cap before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of any single delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 = the first retry): a random
    /// duration in `[cap/2, cap)` where `cap = min(max, initial * 2^retry)`.
    pub fn delay(&self, retry: u32) -> Duration {
        handoff_bridge_api::backoff::delay(self.initial_delay, self.max_delay, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let cfg = MatrixBridgeConfig::new("http://x", "@bot:x", "hunter2-secret", "/tmp/x");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let d0 = p.delay(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
            let d30 = p.delay(30);
            assert!(d30 >= Duration::from_millis(500) && d30 <= Duration::from_millis(1000));
        }
    }
}

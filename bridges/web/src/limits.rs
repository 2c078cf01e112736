//! Rate limits per session and per IP address (GCRA from `governor`): a
//! burst of `n`, then one every `60/n` seconds. Keys are forgotten once
//! idle, so memory stays bounded by the active visitors.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Both limiters of the widget server.
pub struct RateLimits {
    sessions: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("sessions", &self.sessions.len())
            .field("ips", &self.ips.len())
            .finish()
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(session_per_minute: u32, ip_per_minute: u32) -> Self {
        RateLimits {
            sessions: RateLimiter::keyed(per_minute(session_per_minute)),
            ips: RateLimiter::keyed(per_minute(ip_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// One request from `ip`: Err with how long to wait when over.
    pub fn ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.ips
            .check_key(&ip)
            .map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// One message from session `sid` at `ip`: Err with how long to wait.
    pub fn message(&self, sid: &str, ip: IpAddr) -> Result<(), Duration> {
        self.ip(ip)?;
        self.sessions
            .check_key(&sid.to_string())
            .map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// Drops keys that are back at a full burst (call now and then).
    pub fn prune(&self) {
        self.sessions.retain_recent();
        self.ips.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_throttled_per_key() {
        let l = RateLimits::new(3, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.message("a", ip).is_ok());
        }
        let wait = l.message("a", ip).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(
            l.message("b", ip).is_ok(),
            "another session has its own budget"
        );
        let tight = RateLimits::new(100, 2);
        assert!(tight.ip(ip).is_ok() && tight.ip(ip).is_ok());
        assert!(tight.ip(ip).is_err());
        assert!(tight.ip("192.0.2.2".parse().unwrap()).is_ok());
    }
}

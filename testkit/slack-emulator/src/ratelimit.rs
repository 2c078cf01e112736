//! Token-bucket rate limits per Web API method, optionally per channel, as
//! Slack enforces them (answered with HTTP 429 and `Retry-After`).
//!
//! Not for injected faults (`faults`). The invariant: a refused call
//! consumes no token, and `Retry-After` is the whole seconds (at least 1)
//! until the bucket holds a token again.

use crate::config::RateLimit;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The configured limits and their buckets.
#[derive(Debug)]
pub struct RateLimiter {
    rules: Vec<RateLimit>,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl RateLimiter {
    pub fn new(rules: Vec<RateLimit>) -> RateLimiter {
        RateLimiter {
            rules,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `method` (keyed by `channel` where the rule is per
    /// channel), or says how long to wait.
    pub fn check(&self, method: &str, channel: Option<&str>) -> Result<(), Duration> {
        let Some(rule) = self.rules.iter().find(|r| r.method == method) else {
            return Ok(());
        };
        let key = if rule.per_channel {
            channel.unwrap_or("").to_string()
        } else {
            String::new()
        };
        let now = Instant::now();
        let burst = f64::from(rule.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry((method.to_string(), key)).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rule.per_second).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = if rule.per_second > 0.0 {
            (1.0 - bucket.tokens) / rule.per_second
        } else {
            3600.0
        };
        Err(Duration::from_secs_f64(wait.max(0.0)))
    }
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(vec![RateLimit {
            method: "chat.postMessage".into(),
            per_second: 1.0,
            burst: 2,
            per_channel: true,
        }])
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refuse_then_refill() {
        let l = limiter();
        assert!(l.check("chat.postMessage", Some("C1")).is_ok());
        assert!(l.check("chat.postMessage", Some("C1")).is_ok());
        let wait = l.check("chat.postMessage", Some("C1")).unwrap_err();
        assert_eq!(retry_after_secs(wait), 1);
        // Another channel has its own bucket; other methods are unlimited.
        assert!(l.check("chat.postMessage", Some("C2")).is_ok());
        assert!(l.check("chat.update", Some("C1")).is_ok());
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(l.check("chat.postMessage", Some("C1")).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }
}

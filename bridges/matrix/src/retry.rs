//! Retrying a fallible async step with the configured backoff.
//!
//! Only retryable errors (`Unavailable`, `RateLimited`) are retried; wrong
//! credentials or refusals return at once. Not used for outgoing actions:
//! the core's outbox owns their retries. Invariant: at most
//! `policy.max_attempts` attempts, and the last error is returned as is.

use std::future::Future;
use std::time::Duration;

use handoff_bridge_api::BridgeError;

use crate::config::RetryPolicy;

/// Runs `step` until it succeeds, fails for good, or attempts run out.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut step: F,
) -> Result<T, BridgeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BridgeError>>,
{
    let attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < attempts => {
                let mut delay = policy.delay(attempt - 1);
                if let BridgeError::RateLimited { retry_after_ms, .. } = &e {
                    delay = delay.max(Duration::from_millis(*retry_after_ms));
                }
                tracing::warn!(what, attempt, attempts, ?delay, error = %e, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{rejected, unavailable};

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn retries_passing_errors_up_to_the_limit() {
        let mut calls = 0;
        let r: Result<(), _> = with_retry(&fast(3), "x", || {
            calls += 1;
            async { Err(unavailable("down")) }
        })
        .await;
        assert!(matches!(r, Err(BridgeError::Unavailable { .. })));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn refusals_are_not_retried_and_success_stops() {
        let mut calls = 0;
        let r: Result<(), _> = with_retry(&fast(5), "x", || {
            calls += 1;
            async { Err(rejected("no")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);

        let mut n = 0;
        let ok = with_retry(&fast(5), "x", || {
            n += 1;
            let fail = n < 2;
            async move {
                if fail {
                    Err(unavailable("blip"))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!(ok.unwrap(), 7);
        assert_eq!(n, 2);
    }
}

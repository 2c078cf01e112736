//! The one retry-delay policy of handoff, shared by the core's outbox and
//! every bridge (backon's exponential backoff, so nobody hand-rolls one).
//!
//! Delay number `n` (0-based) is drawn from `[d/2, d)` with
//! `d = min(base · 2ⁿ, max)`: doubling, never above `max`, and spread out
//! ("equal jitter") so many clients retrying after one outage do not come
//! back in step. A network's own `retry_after` always takes precedence;
//! callers apply it.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The endless sequence of delays from `base` up to `max`; `.take(n)` for
/// a bounded number of retries.
pub fn delays(base: Duration, max: Duration) -> ExponentialBackoff {
    let max = max.max(Duration::from_millis(2));
    let base = base.clamp(Duration::from_millis(2), max);
    // backon adds jitter in `[0, d')` on top of `d'`: halving both ends
    // makes that `[d/2, d)`.
    ExponentialBuilder::default()
        .with_min_delay(base / 2)
        .with_max_delay(max / 2)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The delay before retry number `attempt` (0-based) of the sequence
/// [`delays`] describes.
pub fn delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    delays(base, max)
        .nth(attempt.min(64) as usize)
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_stay_capped_and_spread() {
        let (base, max) = (100 * MS, 1000 * MS);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d: Vec<Duration> = delays(base, max).take(8).collect();
            assert!(d[0] >= 50 * MS && d[0] < 100 * MS, "{d:?}");
            assert!(d[3] >= 400 * MS && d[3] < 800 * MS, "{d:?}");
            for late in &d[4..] {
                assert!(*late >= 500 * MS && *late < 1000 * MS, "{d:?}");
            }
            seen.insert(d[0].as_millis());
        }
        assert!(seen.len() > 10, "jitter spreads the first delay: {seen:?}");
    }

    #[test]
    fn a_single_delay_follows_the_same_sequence() {
        for _ in 0..50 {
            let d = delay(100 * MS, 1000 * MS, 2);
            assert!(d >= 200 * MS && d < 400 * MS, "{d:?}");
            let far = delay(100 * MS, 1000 * MS, 1_000);
            assert!(far >= 500 * MS && far < 1000 * MS, "{far:?}");
        }
    }

    #[test]
    fn odd_settings_stay_sane() {
        // A base above the cap starts at the cap; zero is lifted to a
        // couple of milliseconds rather than a busy loop.
        let d = delay(10_000 * MS, 1000 * MS, 0);
        assert!(d >= 500 * MS && d < 1000 * MS, "{d:?}");
        assert!(delay(Duration::ZERO, Duration::ZERO, 0) >= MS);
    }
}

//! Latency samples and their summary (p50, p99, mean, max) in nanoseconds.
//!
//! Only arithmetic: no clocks, no printing beyond `Display` of a summary.
//! Percentiles use the nearest-rank method on sorted samples, so a p99 of
//! 500 samples is the 495th smallest value, never an interpolation. The
//! invariant: a summary of no samples is `None`, never a made-up zero.

use std::fmt;
use std::time::Duration;

/// Latencies in nanoseconds (signed: differences of wall-clock stamps can
/// be slightly negative when two clocks are compared).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    nanos: Vec<i64>,
}

impl Samples {
    pub fn new() -> Samples {
        Samples::default()
    }

    pub fn push_micros(&mut self, us: i64) {
        self.push_nanos(us.saturating_mul(1000));
    }

    pub fn push_nanos(&mut self, ns: i64) {
        self.nanos.push(ns);
    }

    pub fn push(&mut self, d: Duration) {
        self.push_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    }

    /// Every sample in nanoseconds, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.nanos.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// p50, p99, mean and max, or `None` without samples.
    pub fn summary(&self) -> Option<Summary> {
        if self.is_empty() {
            return None;
        }
        let mut sorted = self.nanos.clone();
        sorted.sort_unstable();
        let sum: i128 = sorted.iter().map(|&v| i128::from(v)).sum();
        let n = sorted.len();
        Some(Summary {
            n,
            p50: nearest_rank(&sorted, 50.0),
            p99: nearest_rank(&sorted, 99.0),
            mean: (sum / n as i128) as i64,
            max: sorted[n - 1],
        })
    }
}

/// The `pct` percentile of sorted, non-empty `sorted` (nearest rank).
fn nearest_rank(sorted: &[i64], pct: f64) -> i64 {
    handoff::percentile::nearest_rank(sorted, pct / 100.0).unwrap_or(0)
}

/// A summary of samples, all in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub p50: i64,
    pub p99: i64,
    pub mean: i64,
    pub max: i64,
}

/// Nanoseconds in a readable unit: `850 ns`, `12.3 µs`, `4.56 ms`.
pub fn dur(ns: i64) -> String {
    let abs = ns.unsigned_abs();
    if abs < 1_000 {
        format!("{ns} ns")
    } else if abs < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {}  p99 {}  mean {}  max {}  (n={})",
            dur(self.p50),
            dur(self.p99),
            dur(self.mean),
            dur(self.max),
            self.n
        )
    }
}

/// How far a quantile difference `q(b) − Σ q(hop)` moves from run to run:
/// the 2.5th and 97.5th percentiles of that difference over `rounds`
/// bootstrap resamples (each series drawn again with replacement, all
/// independently, as the round-robin measured them), in ns. `None` when a
/// series is empty. Seeded, so a run's interval can be recomputed.
pub fn difference_interval(
    b: &Samples,
    hops: &[&Samples],
    pct: f64,
    rounds: usize,
    seed: u64,
) -> Option<(i64, i64)> {
    if b.is_empty() || hops.iter().any(|h| h.is_empty()) || rounds == 0 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut draw = Vec::new();
    let mut quantile = |s: &Samples, rng: &mut fastrand::Rng| {
        draw.clear();
        draw.extend((0..s.len()).map(|_| s.nanos[rng.usize(..s.len())]));
        draw.sort_unstable();
        nearest_rank(&draw, pct)
    };
    let mut diffs: Vec<i64> = (0..rounds)
        .map(|_| {
            let mut d = quantile(b, &mut rng);
            for h in hops {
                d -= quantile(h, &mut rng);
            }
            d
        })
        .collect();
    diffs.sort_unstable();
    Some((nearest_rank(&diffs, 2.5), nearest_rank(&diffs, 97.5)))
}

/// `a / b` as a ratio string (`3.21×`), or `n/a` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 || !a.is_finite() || !b.is_finite() {
        "n/a".into()
    } else {
        format!("{:.2}×", a / b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::new();
        for v in 1..=100 {
            s.push_micros(v);
        }
        let sum = s.summary().expect("samples");
        assert_eq!(sum.p50, 50_000);
        assert_eq!(sum.p99, 99_000);
        assert_eq!(sum.max, 100_000);
        assert_eq!(sum.mean, 50_500);
        assert_eq!(sum.n, 100);
    }

    #[test]
    fn p99_of_a_few_samples_is_the_max() {
        let mut s = Samples::new();
        for v in [30, 10, 20] {
            s.push(Duration::from_micros(v));
        }
        let sum = s.summary().expect("samples");
        assert_eq!(sum.p50, 20_000);
        assert_eq!(sum.p99, 30_000);
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(dur(850), "850 ns");
        assert_eq!(dur(12_345), "12.3 µs");
        assert_eq!(dur(-4_560_000), "-4.56 ms");
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Samples::new().summary(), None);
    }

    #[test]
    fn difference_interval_brackets_the_difference() {
        let series = |base: i64, spread: i64| {
            let mut s = Samples::new();
            for i in 0..500 {
                s.push_micros(base + (i * 7919) % spread);
            }
            s
        };
        let (b, a) = (series(100, 40), series(30, 20));
        let q = |s: &Samples| s.summary().expect("samples").p99;
        let point = q(&b) - 2 * q(&a);
        let (lo, hi) = difference_interval(&b, &[&a, &a], 99.0, 400, 7).expect("samples");
        assert!(lo <= point && point <= hi, "{lo} {point} {hi}");
        assert!(hi - lo < 20_000, "{lo} {hi}");
        // Same seed, same interval; no samples, no interval.
        assert_eq!(
            difference_interval(&b, &[&a, &a], 99.0, 400, 7),
            Some((lo, hi))
        );
        assert_eq!(
            difference_interval(&Samples::new(), &[&a], 99.0, 400, 7),
            None
        );
        // A constant series has no spread at all.
        let flat = series(50, 1);
        assert_eq!(
            difference_interval(&flat, &[&flat], 99.0, 50, 1),
            Some((0, 0))
        );
    }

    #[test]
    fn ratio_handles_zero() {
        assert_eq!(ratio(3.0, 2.0), "1.50×");
        assert_eq!(ratio(1.0, 0.0), "n/a");
    }
}

//! Slack message timestamps (`"1700000000.000100"`): ordering, conversion
//! to milliseconds, and "now" in the same form.
//!
//! Not for parsing events. The invariant: malformed input orders and
//! converts deterministically (as zero), never panics.

use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

fn parts(ts: &str) -> (u64, u64) {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs = secs.trim().parse().unwrap_or(0);
    let mut frac: String = frac.chars().take(6).collect();
    while frac.len() < 6 {
        frac.push('0');
    }
    (secs, frac.parse().unwrap_or(0))
}

/// Orders two ts numerically.
pub fn cmp(a: &str, b: &str) -> Ordering {
    parts(a).cmp(&parts(b))
}

/// Milliseconds since the epoch.
pub fn to_millis(ts: &str) -> i64 {
    let (secs, micros) = parts(ts);
    (secs as i64).saturating_mul(1000) + (micros / 1000) as i64
}

/// `ts` moved back by `secs` seconds (not below zero).
pub fn minus_secs(ts: &str, secs: u64) -> String {
    let (s, micros) = parts(ts);
    format!("{}.{:06}", s.saturating_sub(secs), micros)
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_converts() {
        assert_eq!(cmp("10.000002", "9.999999"), Ordering::Greater);
        assert_eq!(cmp("1.5", "1.500000"), Ordering::Equal);
        assert_eq!(to_millis("1700000000.123456"), 1_700_000_000_123);
        assert_eq!(minus_secs("100.000001", 30), "70.000001");
        assert_eq!(minus_secs("10.0", 30), "0.000000");
        assert_eq!(to_millis("garbage"), 0);
    }
}

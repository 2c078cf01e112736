//! Slack message timestamps (`"1700000000.000100"`) and the clock that
//! mints them.
//!
//! Not a general time library. The invariant: every `Ts` the clock hands out
//! is strictly greater than the previous one, and renders with exactly six
//! fractional digits, as Slack's do.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A Slack timestamp, held as microseconds since the Unix epoch so that
/// ordering is numeric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub u64);

impl Ts {
    /// Parses `"seconds.micros"` (Slack's form) or plain `"seconds"`.
    /// Returns `None` for anything else (Slack answers such input with an
    /// `invalid_ts_*` error or ignores it).
    pub fn parse(s: &str) -> Option<Ts> {
        let s = s.trim();
        let (secs, frac) = match s.split_once('.') {
            Some((a, b)) => (a, b),
            None => (s, ""),
        };
        if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: u64 = secs.parse().ok()?;
        let mut micros: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..6 {
            micros *= 10;
        }
        secs.checked_mul(1_000_000)?.checked_add(micros).map(Ts)
    }

    /// Whole seconds, as Slack's `event_time` and `created` fields carry them.
    pub fn secs(self) -> u64 {
        self.0 / 1_000_000
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Mints strictly increasing timestamps that follow the wall clock.
#[derive(Debug, Default)]
pub struct TsClock {
    last: u64,
}

impl TsClock {
    /// The next timestamp: the current time in microseconds, or one past the
    /// previous timestamp if the wall clock has not moved on (or went back).
    pub fn next(&mut self) -> Ts {
        let now = now_micros();
        self.last = now.max(self.last + 1);
        Ts(self.last)
    }
}

/// Current Unix time in microseconds (0 if the clock is before 1970).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Current Unix time in whole seconds.
pub fn now_secs() -> u64 {
    now_micros() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_six_fraction_digits_and_round_trips() {
        let ts = Ts(1_700_000_000_000_100);
        assert_eq!(ts.to_string(), "1700000000.000100");
        assert_eq!(Ts::parse("1700000000.000100"), Some(ts));
        assert_eq!(Ts::parse("1700000000.0001"), Some(ts));
        assert_eq!(Ts::parse("1700000000"), Some(Ts(1_700_000_000_000_000)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1.2.3", "-1.0", "1.1234567", ".5"] {
            assert_eq!(Ts::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn clock_is_strictly_increasing() {
        let mut clock = TsClock::default();
        let mut prev = clock.next();
        for _ in 0..1000 {
            let next = clock.next();
            assert!(next > prev);
            prev = next;
        }
    }
}

//! Run-time fault switches for Web API calls: fail the next N calls of a
//! method, or every k-th, with a 429, a 500, a Slack error or a dropped
//! connection.
//!
//! Not for rate limiting that follows from traffic (`ratelimit`) or for
//! Socket Mode faults (`delivery::socket`). The invariant: a fault is taken
//! at most once per call, and a call that takes one changes no state unless
//! the fault is `ResetAfterCommit`.

use std::sync::Mutex;

/// What a faulted call gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429, `Retry-After: secs`, `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500 with `{"ok":false,"error":"internal_error"}`.
    ServerError,
    /// HTTP 200 with `{"ok":false,"error":code}` (`fatal_error`,
    /// `service_unavailable`, `request_timeout`, …).
    SlackError(String),
    /// The connection closes before any response is written; nothing changes.
    Reset,
    /// The call takes effect, then the connection closes without a response
    /// (the client cannot tell whether its message was posted).
    ResetAfterCommit,
}

#[derive(Debug)]
enum Schedule {
    Next { remaining: u32 },
    Every { k: u32, seen: u32 },
}

#[derive(Debug)]
struct Rule {
    method: String,
    schedule: Schedule,
    fault: Fault,
}

/// The set of armed faults.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
}

impl Faults {
    pub fn fail_next(&self, method: &str, n: u32, fault: Fault) {
        self.push(method, Schedule::Next { remaining: n }, fault);
    }

    pub fn fail_every(&self, method: &str, k: u32, fault: Fault) {
        self.push(
            method,
            Schedule::Every {
                k: k.max(1),
                seen: 0,
            },
            fault,
        );
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn push(&self, method: &str, schedule: Schedule, fault: Fault) {
        self.lock().push(Rule {
            method: method.to_string(),
            schedule,
            fault,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault this call of `method` gets, if any. Every matching
    /// `Every` rule counts the call; the first rule that fires wins.
    pub fn take(&self, method: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let mut fired = None;
        for rule in rules.iter_mut().filter(|r| r.method == method) {
            let fires = match &mut rule.schedule {
                Schedule::Next { remaining } => {
                    if *remaining > 0 && fired.is_none() {
                        *remaining -= 1;
                        true
                    } else {
                        false
                    }
                }
                Schedule::Every { k, seen } => {
                    *seen += 1;
                    *seen % *k == 0
                }
            };
            if fires && fired.is_none() {
                fired = Some(rule.fault.clone());
            }
        }
        rules.retain(|r| !matches!(r.schedule, Schedule::Next { remaining: 0 }));
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_fires_n_times_then_stops() {
        let f = Faults::default();
        f.fail_next("chat.postMessage", 2, Fault::ServerError);
        assert_eq!(f.take("chat.postMessage"), Some(Fault::ServerError));
        assert_eq!(f.take("auth.test"), None);
        assert_eq!(f.take("chat.postMessage"), Some(Fault::ServerError));
        assert_eq!(f.take("chat.postMessage"), None);
    }

    #[test]
    fn every_kth_call_fires() {
        let f = Faults::default();
        f.fail_every("chat.update", 3, Fault::Reset);
        let fired: Vec<bool> = (0..6).map(|_| f.take("chat.update").is_some()).collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
        f.clear();
        assert_eq!(f.take("chat.update"), None);
    }
}

//! FAQ upkeep while the daemon runs: the FAQ file is reloaded when it
//! changes (its modification time or size, polled) or on SIGHUP, and the
//! new FAQ is swapped into the engine's [`SharedFaq`] at once.
//!
//! A broken edit never takes the bot down or empties it: the load error
//! (which names the file, line and column) is logged and the previous FAQ
//! keeps answering until a good edit arrives. Owns only the when and the
//! swap; how a FAQ is loaded and checked is the loader the binary passes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::conversation::SharedFaq;
use crate::faq::Faq;

/// Loads and checks the FAQ; the error is the message to log (with the
/// file:line of the problem).
pub type FaqLoader = Arc<dyn Fn() -> Result<Faq, String> + Send + Sync>;

/// How often the FAQ file is looked at when `HANDOFF_FAQ_POLL_MS` does not
/// say otherwise: edits take effect within this long.
pub const POLL: Duration = Duration::from_secs(2);

/// What one look at the FAQ file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The file has not changed since the last load (or attempt).
    Unchanged,
    /// The new FAQ answers from now on.
    Swapped { entries: usize, questions: usize },
    /// The edit is broken; the previous FAQ stays. The error names the
    /// file and line.
    Refused(String),
}

/// What identifies a version of the file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Reloads one FAQ file into one shared FAQ.
pub struct FaqReloader {
    path: PathBuf,
    load: FaqLoader,
    target: SharedFaq,
    /// The version last loaded or refused, so a broken edit is reported
    /// once, not on every poll.
    seen: Mutex<Option<Stamp>>,
}

impl FaqReloader {
    /// Watches `path`, whose current version is the FAQ already in
    /// `target`.
    pub fn new(path: PathBuf, load: FaqLoader, target: SharedFaq) -> FaqReloader {
        let seen = Mutex::new(stamp(&path));
        FaqReloader {
            path,
            load,
            target,
            seen,
        }
    }

    /// Reloads if the file changed since the last load or attempt.
    pub fn check(&self) -> Reload {
        let now = stamp(&self.path);
        {
            let Ok(mut seen) = self.seen.lock() else {
                return Reload::Unchanged;
            };
            if *seen == now {
                return Reload::Unchanged;
            }
            // Taken before reading, so an edit made during the load is a
            // new version and is picked up by the next check.
            *seen = now;
        }
        self.reload()
    }

    /// Loads the file now (SIGHUP), whether or not it changed.
    pub fn reload(&self) -> Reload {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = stamp(&self.path);
        }
        match (self.load)() {
            Ok(faq) => {
                let (entries, questions) = (faq.entries().len(), faq.question_count());
                self.target.store(Arc::new(faq));
                tracing::info!(
                    faq = %self.path.display(),
                    entries,
                    questions,
                    "FAQ reloaded; new questions are answered from it"
                );
                Reload::Swapped { entries, questions }
            }
            Err(e) => {
                tracing::error!(
                    faq = %self.path.display(),
                    error = %e,
                    "the edited FAQ was refused; still answering from the previous one"
                );
                Reload::Refused(e)
            }
        }
    }

    /// Polls the file every `poll` and reloads on SIGHUP, until the task
    /// is dropped. Loads run on the blocking pool: building a big FAQ's
    /// index takes a while and must not stall the router.
    pub async fn watch(self: Arc<Self>, poll: Duration) {
        let mut every = tokio::time::interval(poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        #[cfg(unix)]
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; the FAQ still reloads when its file changes");
                None
            }
        };
        loop {
            #[cfg(unix)]
            let forced = tokio::select! {
                _ = every.tick() => false,
                Some(()) = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            #[cfg(not(unix))]
            let forced = {
                every.tick().await;
                false
            };
            let me = self.clone();
            let job = tokio::task::spawn_blocking(move || {
                if forced {
                    tracing::info!("SIGHUP: reloading the FAQ");
                    me.reload()
                } else {
                    me.check()
                }
            });
            if let Err(e) = job.await {
                tracing::error!(error = %e, "the FAQ reload task failed");
            }
        }
    }
}

/// `HANDOFF_FAQ_POLL_MS` shortens the poll interval (tests).
pub fn poll_interval() -> Duration {
    std::env::var("HANDOFF_FAQ_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(POLL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_swap::ArcSwap;

    const GOOD: &str = r#"
[[faq]]
id = "hours"
questions = ["what are your opening hours", "when are you open"]
answer = "Nine to five."
"#;

    fn setup(dir: &Path) -> (FaqReloader, SharedFaq, PathBuf) {
        let path = dir.join("faq.toml");
        std::fs::write(&path, GOOD).unwrap();
        let p = path.clone();
        let load: FaqLoader = Arc::new(move || Faq::load(&p).map_err(|e| e.to_string()));
        let shared: SharedFaq = Arc::new(ArcSwap::from_pointee(load().unwrap()));
        (
            FaqReloader::new(path.clone(), load, shared.clone()),
            shared,
            path,
        )
    }

    fn answer(shared: &SharedFaq, q: &str) -> Option<String> {
        let faq = shared.load();
        faq.answer(q, 0.3)
            .map(|m| faq.entries()[m.index].answer.clone())
    }

    #[test]
    fn an_edit_is_swapped_in_and_a_broken_one_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let (r, shared, path) = setup(dir.path());
        assert_eq!(r.check(), Reload::Unchanged);
        // A new entry (a different size, so a new version even where mtime
        // is coarse).
        let edited = format!(
            "{GOOD}\n[[faq]]\nid = \"ship\"\nquestions = [\"how long does shipping take\", \"delivery time\"]\nanswer = \"Two days.\"\n"
        );
        std::fs::write(&path, &edited).unwrap();
        assert_eq!(
            r.check(),
            Reload::Swapped {
                entries: 2,
                questions: 4
            }
        );
        assert_eq!(
            answer(&shared, "how long does shipping take").as_deref(),
            Some("Two days.")
        );
        // Broken on line 3 (the edit adds a stray line after the header).
        let broken = GOOD.replacen("[[faq]]\n", "[[faq]]\nthis is not toml\n", 1);
        std::fs::write(&path, broken).unwrap();
        let Reload::Refused(e) = r.check() else {
            panic!("a broken FAQ must be refused");
        };
        assert!(e.contains("faq.toml:3:"), "{e}");
        // The previous FAQ still answers, and the same broken version is
        // reported once.
        assert_eq!(
            answer(&shared, "how long does shipping take").as_deref(),
            Some("Two days.")
        );
        assert_eq!(r.check(), Reload::Unchanged);
        // Fixed: back to the original file.
        std::fs::write(&path, GOOD).unwrap();
        assert!(matches!(r.check(), Reload::Swapped { entries: 1, .. }));
        assert_eq!(answer(&shared, "how long does shipping take"), None);
        // A forced reload (SIGHUP) loads even an unchanged file.
        assert!(matches!(r.reload(), Reload::Swapped { .. }));
    }

    #[test]
    fn a_deleted_file_is_refused_and_the_faq_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (r, shared, path) = setup(dir.path());
        std::fs::remove_file(&path).unwrap();
        let Reload::Refused(e) = r.check() else {
            panic!("a missing FAQ must be refused");
        };
        assert!(e.contains("faq.toml"), "{e}");
        assert_eq!(
            answer(&shared, "when are you open").as_deref(),
            Some("Nine to five.")
        );
    }
}

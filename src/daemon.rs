//! `handoff run` (being wired): starts bridges, router and timers.

use crate::config::Config;
use crate::faq::Faq;

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Setup(String),
}

/// Runs until shut down.
pub fn run(_config: Config, _faq: Faq) -> Result<(), DaemonError> {
    Err(DaemonError::Setup(
        "this build has no network bridges yet (features `matrix` and `slack`)".into(),
    ))
}

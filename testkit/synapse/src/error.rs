//! The one error type of the testkit.
//!
//! Every variant says what was being done and where (command, URL, file,
//! log path), so a failing integration test tells the reader where to look.
//! It is not for errors of the code under test. Invariant: no variant ever
//! carries a password, access token or the registration shared secret.

use std::path::PathBuf;
use std::time::Duration;

/// Anything that can go wrong while running Synapse or playing a user.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `scripts/synapse.sh` could not be run or exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Script {
        /// The command line (without secrets).
        command: String,
        /// Exit status or spawn error.
        status: String,
        /// The last lines the script printed on stderr.
        stderr: String,
    },
    /// A server directory's `synapse.json` is missing or malformed.
    #[error("bad server state file {path}: {detail}", path = .path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Synapse exited before it answered.
    #[error("Synapse exited ({status}) before answering; see {log}", log = .log.display())]
    Exited {
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
    },
    /// Synapse did not answer `/_matrix/client/versions` in time.
    #[error("Synapse at {url} did not answer within {waited:?}; see {log}", log = .log.display())]
    NotReady {
        /// The base URL that was polled.
        url: String,
        /// How long we waited.
        waited: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// An HTTP request to Synapse failed at the transport level.
    #[error("{what}: HTTP request failed: {source}")]
    Http {
        /// Which call, e.g. "GET /_synapse/admin/v1/register".
        what: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// Synapse answered an HTTP request with an error.
    #[error("{what}: Synapse answered {status}: {body}")]
    Api {
        /// Which call.
        what: String,
        /// HTTP status code.
        status: u16,
        /// Response body (Matrix error JSON).
        body: String,
    },
    /// A matrix-sdk call failed.
    #[error("{what}: {source}")]
    Matrix {
        /// What the test client was doing.
        what: String,
        /// The SDK error (`matrix_sdk::Error`, `ClientBuildError`, ...).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The test client does not know the room (not joined or not synced yet).
    #[error("{user} does not know room {room}: join it or wait for a sync first")]
    UnknownRoom {
        /// The test user.
        user: String,
        /// The room id.
        room: String,
    },
    /// Waiting for something the sync loop should deliver took too long.
    #[error("{user} waited {waited:?} for {what}")]
    Timeout {
        /// The test user.
        user: String,
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
}

impl TestkitError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn matrix(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Matrix {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

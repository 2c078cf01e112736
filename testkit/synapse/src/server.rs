//! One real Synapse per test: a fresh temp directory, a free port, a child
//! process, and its lifecycle (start, stop, restart, kill on drop).
//!
//! Not for playing users (see `client`) or creating the venv (see `repo`).
//! Invariant: while a `Synapse` value has a child, that child is the only
//! server using its directory and port; dropping the value kills it, and the
//! directory is kept (and its log path printed) when the test panicked.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::register::{self, SharedSecret};
use crate::repo::{ensure_venv, run_script, script_path};
use crate::TestkitError;

/// How long `start`/`restart` wait for `/_matrix/client/versions`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop` waits after SIGTERM before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports to try when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;
/// Set to keep every server directory, not only those of failed tests.
const KEEP_ENV: &str = "SYNAPSE_TESTKIT_KEEP";

/// What `synapse.sh init` records in `DIR/synapse.json`.
#[derive(Deserialize)]
struct ServerState {
    base_url: String,
    server_name: String,
    registration_shared_secret: String,
}

/// A running (or stopped, between `stop` and `restart`) Synapse.
pub struct Synapse {
    dir: Option<TempDir>,
    dir_path: PathBuf,
    base_url: String,
    server_name: String,
    secret: SharedSecret,
    child: Option<Child>,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for Synapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synapse")
            .field("base_url", &self.base_url)
            .field("dir", &self.dir_path)
            .field("running", &self.child.is_some())
            .finish_non_exhaustive()
    }
}

impl Synapse {
    /// Sets up the shared venv if needed, initialises a server in a fresh
    /// temp dir on a free port, starts it and waits until it answers.
    pub async fn start() -> Result<Synapse, TestkitError> {
        ensure_venv().await?;
        let dir = tempfile::Builder::new()
            .prefix("synapse-testkit-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating a temp dir in", std::env::temp_dir(), e))?;
        let dir_path = dir.path().to_path_buf();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| TestkitError::Http {
                what: "building the HTTP client".into(),
                source,
            })?;
        let mut last_error = None;
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port(&dir_path)?;
            let dir_arg = dir_path.to_string_lossy().into_owned();
            run_script(&["init", &dir_arg, "--port", &port.to_string()]).await?;
            let state = read_state(&dir_path)?;
            let mut synapse = Synapse {
                dir: None,
                dir_path: dir_path.clone(),
                base_url: state.base_url,
                server_name: state.server_name,
                secret: SharedSecret(state.registration_shared_secret),
                child: None,
                http: http.clone(),
            };
            match synapse.spawn_and_wait().await {
                Ok(()) => {
                    synapse.dir = Some(dir);
                    tracing::info!(url = %synapse.base_url, dir = %dir_path.display(), "Synapse ready");
                    return Ok(synapse);
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "Synapse did not start; trying another port");
                    last_error = Some(e);
                }
            }
        }
        // Keep the directory: its log says why the server did not start.
        let kept = dir.keep();
        eprintln!(
            "synapse-testkit: Synapse did not start; kept {}",
            kept.display()
        );
        Err(last_error.unwrap_or_else(|| TestkitError::Exited {
            status: "never started".into(),
            log: kept.join("homeserver.log"),
        }))
    }

    /// The client-server API base URL, e.g. `http://127.0.0.1:43123`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The homeserver name: user ids look like `@alice:localhost`.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The server's data directory (config, sqlite database, media, log).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Synapse's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir_path.join("homeserver.log")
    }

    /// Creates a user with the registration shared secret; returns the full
    /// user id (`@localpart:localhost`).
    pub async fn register(
        &self,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> Result<String, TestkitError> {
        register::register(
            &self.http,
            &self.base_url,
            &self.secret,
            localpart,
            password,
            admin,
        )
        .await
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s). The
    /// data directory and port stay reserved for `restart`. No-op when
    /// already stopped.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let term = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if let Err(e) = term {
                tracing::warn!(pid, error = %e, "could not send SIGTERM to Synapse");
            }
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) => tracing::info!(%status, "Synapse stopped"),
            Ok(Err(e)) => tracing::warn!(error = %e, "waiting for Synapse failed"),
            Err(_) => {
                tracing::warn!("Synapse ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
                if let Err(e) = child.kill().await {
                    tracing::warn!(error = %e, "killing Synapse failed");
                }
            }
        }
    }

    /// Starts the server again with the same data directory and port (stops
    /// it first if it is running). Users, rooms and messages are kept.
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop().await;
        self.spawn_and_wait().await
    }

    async fn spawn_and_wait(&mut self) -> Result<(), TestkitError> {
        let script = script_path()?;
        let out_path = self.dir_path.join("stdout.log");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(|e| TestkitError::io("opening", &out_path, e))?;
        let err = out
            .try_clone()
            .map_err(|e| TestkitError::io("duplicating", &out_path, e))?;
        // `synapse.sh run` execs Python, so the child is Synapse itself.
        let child = Command::new(&script)
            .arg("run")
            .arg(&self.dir_path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TestkitError::Script {
                command: format!("{} run {}", script.display(), self.dir_path.display()),
                status: e.to_string(),
                stderr: String::new(),
            })?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), TestkitError> {
        let started = Instant::now();
        let url = format!("{}/_matrix/client/versions", self.base_url);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(TestkitError::Exited {
                        status: status.to_string(),
                        log: self.log_path(),
                    });
                }
            }
            let answered = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if matches!(&answered, Ok(r) if r.status().is_success()) {
                tracing::debug!(elapsed = ?started.elapsed(), "Synapse answered");
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                if let Some(mut child) = self.child.take() {
                    let _ = child.kill().await;
                }
                return Err(TestkitError::NotReady {
                    url: self.base_url.clone(),
                    waited: READY_TIMEOUT,
                    log: self.log_path(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let keep = std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some();
        if let (true, Some(dir)) = (keep, self.dir.take()) {
            let kept = dir.keep();
            eprintln!(
                "synapse-testkit: kept Synapse dir {}; log: {}",
                kept.display(),
                kept.join("homeserver.log").display()
            );
        }
    }
}

fn free_port(dir: &Path) -> Result<u16, TestkitError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| TestkitError::io("binding a free port for", dir, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| TestkitError::io("reading the port for", dir, e))?;
    Ok(addr.port())
}

fn read_state(dir: &Path) -> Result<ServerState, TestkitError> {
    let path = dir.join("synapse.json");
    let text = fs::read_to_string(&path).map_err(|e| TestkitError::io("reading", &path, e))?;
    serde_json::from_str(&text).map_err(|e| TestkitError::State {
        path,
        detail: e.to_string(),
    })
}

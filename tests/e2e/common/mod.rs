//! Shared pieces of the end-to-end tests: running the real `handoff`
//! binary against a test Synapse with a generated config, and reading its
//! log when a test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use synapse_testkit::{Synapse, TestClient};

pub const WAIT: Duration = Duration::from_secs(60);
pub const PASSWORD: &str = "test-password-1";

/// The `handoff` daemon as a child process; killed on drop, its log shown
/// when the test failed.
pub struct Handoff {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    log: PathBuf,
}

impl Handoff {
    /// Writes `config` (TOML; `{homeserver}` is replaced) and the sample
    /// FAQ into a temp dir and starts `handoff run`.
    pub fn start(synapse: &Synapse, config: &str) -> Handoff {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("config/faq.toml"), dir.path().join("faq.toml")).expect("copy faq");
        let path = dir.path().join("handoff.toml");
        std::fs::write(&path, config.replace("{homeserver}", synapse.base_url()))
            .expect("write config");
        let log = dir.path().join("handoff.log");
        let mut h = Handoff {
            child: None,
            dir,
            config: path,
            log,
        };
        h.spawn();
        h
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_handoff"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("HANDOFF_MATRIX_PASSWORD", PASSWORD)
            .env("HANDOFF_TICK_MS", "500")
            .env(
                "RUST_LOG",
                "info,handoff=debug,handoff_matrix=debug,matrix_sdk=warn",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start handoff");
        self.child = Some(child);
    }

    /// Kills the process (SIGKILL: no clean shutdown) and starts it again
    /// with the same config and store.
    pub fn restart_hard(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(150).collect();
            eprintln!("---- handoff log (last 150 lines) ----");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Registers `name` and logs in as them.
pub async fn user(synapse: &Synapse, name: &str) -> TestClient {
    synapse
        .register(name, PASSWORD, false)
        .await
        .expect("register");
    synapse.login(name, PASSWORD).await.expect("login")
}

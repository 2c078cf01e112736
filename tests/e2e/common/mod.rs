//! Shared pieces of the end-to-end tests: running the real `handoff`
//! binary against a test Synapse with a generated config, and reading its
//! log when a test fails.

#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use matrix_sdk::ruma::events::room::message::Relation;
use matrix_sdk::ruma::{EventId, OwnedEventId, RoomId};
use synapse_testkit::{Message, Synapse, TestClient};

pub const WAIT: Duration = Duration::from_secs(60);
pub const PASSWORD: &str = "test-password-1";

/// The `handoff` daemon as a child process; killed on drop, its log shown
/// when the test failed.
pub struct Handoff {
    child: Option<Child>,
    env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    log: PathBuf,
}

impl Handoff {
    /// Writes `config` (TOML; `{homeserver}` is replaced) and the sample
    /// FAQ into a temp dir and starts `handoff run`.
    pub fn start(synapse: &Synapse, config: &str) -> Handoff {
        Handoff::start_with(synapse, config, &[])
    }

    /// [`Handoff::start`] with extra environment variables (kept for
    /// restarts), e.g. `HANDOFF_FAKE_NOW`.
    pub fn start_with(synapse: &Synapse, config: &str, env: &[(&str, &str)]) -> Handoff {
        Handoff::start_at(synapse.base_url(), config, env)
    }

    /// [`Handoff::start`] for a config with no `[matrix]` (no Synapse):
    /// e.g. web widget customers and a Slack desk.
    pub fn start_without_matrix(config: &str) -> Handoff {
        Handoff::start_at("http://127.0.0.1:9", config, &[])
    }

    fn start_at(homeserver: &str, config: &str, env: &[(&str, &str)]) -> Handoff {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("config/faq.toml"), dir.path().join("faq.toml")).expect("copy faq");
        let path = dir.path().join("handoff.toml");
        std::fs::write(&path, config.replace("{homeserver}", homeserver)).expect("write config");
        let log = dir.path().join("handoff.log");
        let mut h = Handoff {
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
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
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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

    /// Sets (`Some`) or removes (`None`) an environment variable for the
    /// next start (a test-only hook switched on for one run).
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.to_string(), v.to_string()));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process the way systemd does (SIGTERM) and waits for it;
    /// true when it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "could not send SIGTERM to handoff");
        c.wait().is_ok_and(|s| s.success())
    }

    /// The process id while it runs (to send it signals).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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
            let dir = self.log.parent().and_then(|d| d.file_name());
            let keep = std::env::temp_dir().join(format!(
                "handoff-e2e-{}.log",
                dir.map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            if std::fs::write(&keep, &log).is_ok() {
                eprintln!("---- full handoff log kept at {} ----", keep.display());
            }
            eprintln!("---- handoff log (last 150 lines) ----");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A TCP port free on loopback right now (for `[metrics] listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs the `handoff` binary with `args` and returns its stdout; panics
/// with stderr when it fails.
pub fn handoff_cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run handoff");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "handoff {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// GETs `http://127.0.0.1:{port}{path}`: (status, body).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Registers `name` and logs in as them.
pub async fn user(synapse: &Synapse, name: &str) -> TestClient {
    synapse
        .register(name, PASSWORD, false)
        .await
        .expect("register");
    synapse.login(name, PASSWORD).await.expect("login")
}

/// Waits until a reaction `key` on `target` shows in `room` (read from the
/// room's recent timeline).
pub async fn wait_reaction(c: &TestClient, room: &RoomId, target: &EventId, key: &str) {
    let r = c.room(room).expect("room");
    for _ in 0..120 {
        let mut opts = matrix_sdk::room::MessagesOptions::backward();
        opts.limit = 50u32.into();
        if let Ok(page) = r.messages(opts).await {
            for ev in page.chunk {
                let Ok(json) = ev.raw().deserialize_as::<serde_json::Value>() else {
                    continue;
                };
                let rel = &json["content"]["m.relates_to"];
                if json["type"] == "m.reaction"
                    && rel["event_id"] == target.as_str()
                    && rel["key"] == key
                {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no {key} reaction on {target} in {room}");
}

/// A fresh Synapse with the bot's account (`@helper`, [`PASSWORD`]).
pub async fn synapse_with_bot() -> Synapse {
    let synapse = Synapse::start().await.expect("synapse");
    synapse
        .register("helper", PASSWORD, false)
        .await
        .expect("register the bot");
    synapse
}

/// Sends `text` to `room` until a message containing `want` comes back
/// (the bot joins on invite, so the first tries may go unread); whether
/// it did within 30 tries of 2 s each.
pub async fn ask_until(c: &TestClient, room: &RoomId, text: &str, want: &str) -> bool {
    for _ in 0..30 {
        c.send_text(room, text).await.expect("send");
        if c.wait_for_message(room, |m| m.body.contains(want), Duration::from_secs(2))
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// Waits until the bot (`@helper:localhost`) has joined `room` (it
/// auto-joins invites).
pub async fn bot_joined(c: &TestClient, room: &RoomId) {
    let r = c.room(room).expect("room");
    for _ in 0..300 {
        let members = r
            .members(matrix_sdk::RoomMemberships::JOIN)
            .await
            .unwrap_or_default();
        if members.iter().any(|m| m.user_id() == "@helper:localhost") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = c.sync_once().await;
    }
    panic!("the bot did not join {room}");
}

/// The next message from the bot in `room` satisfying `f`; on timeout,
/// panics with `what` and everything seen there.
pub async fn from_bot(
    c: &TestClient,
    room: &RoomId,
    what: &str,
    f: impl Fn(&Message) -> bool,
) -> Message {
    c.wait_for_message(room, |m| m.sender == "@helper:localhost" && f(m), WAIT)
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("{what}: {e}\nseen: {seen:#?}")
        })
}

/// The event an edit replaces.
pub fn replaces(m: &Message) -> Option<OwnedEventId> {
    match &m.event.content.relates_to {
        Some(Relation::Replacement(r)) => Some(r.event_id.clone()),
        _ => None,
    }
}

/// The `[bot]`, `[matrix]` and `[slack]` sections every Slack-desk test
/// shares: the bot on the local Synapse (`{homeserver}` is filled in at
/// start) and the emulator's tokens and API URL.
pub fn slack_connection(emu: &slack_emulator::Emulator) -> String {
    format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{{homeserver}}"
user = "@helper:localhost"
password = "${{HANDOFF_MATRIX_PASSWORD}}"
auto_join = true

[slack]
bot_token = "{bot}"
app_token = "{app}"
api_url = "{api}"
"#,
        bot = emu.bot_token(),
        app = emu.app_token(),
        api = emu.slack_api_url(),
    )
}

/// The config of the Slack-desk tests: billing (default) works in
/// `#support-billing` through the emulator; tech is a Matrix desk.
pub fn slack_config(emu: &slack_emulator::Emulator) -> String {
    slack_connection(emu)
        + r#"
[[team]]
name = "billing"
desk = "slack:#support-billing"
topics = ["invoice"]
default = true

[[team]]
name = "tech"
desk = "matrix"
agents = ["@nobody:localhost"]
topics = ["password"]
"#
}

//! A real headless Chromium for the widget's browser tests: Debian's
//! `chromium` driven through `chromedriver` (WebDriver over plain HTTP on
//! loopback) with the `thirtyfour` client. `scripts/browser.sh setup`
//! installs both (scripts/test.sh runs it); without them a test fails and
//! says so.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use thirtyfour::prelude::*;

use super::WAIT;

/// Flags for a headless Chromium in a container (no sandbox, no GPU, no
/// /dev/shm, nothing fetched from outside).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// `chromedriver` on its own port, in its own process group with the
/// Chromium it starts: dropping it kills the whole group.
struct Driver {
    child: Child,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- chromedriver log (last 40 lines) ----");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// One headless Chromium with a fresh profile. Fields drop in order: the
/// WebDriver session (quits the browser), then chromedriver and anything
/// left of its process group, then the profile directory.
pub struct Browser {
    pub driver: WebDriver,
    /// Where downloads land (no prompt).
    pub downloads: PathBuf,
    _chromedriver: Driver,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session in a fresh
    /// headless Chromium. Panics (the test fails) when either binary is
    /// missing.
    pub async fn start() -> Browser {
        let chromium = binary("HANDOFF_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("HANDOFF_CHROMEDRIVER", "/usr/bin/chromedriver");
        for bin in [&chromium, &chromedriver] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the widget's browser tests drive Debian's chromium and \
                 chromium-driver; install them with `scripts/browser.sh setup` \
                 (scripts/test.sh does)"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("chromedriver.log");
        let port = super::free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let guard = Driver { child, log };
        let url = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..200 {
            if reqwest::get(format!("{url}/status"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver never answered on port {port}");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium).expect("binary capability");
        for arg in CHROMIUM_ARGS {
            caps.add_arg(arg).expect("chromium flag");
        }
        let profile = dir.path().join("profile");
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))
            .expect("profile flag");
        let downloads = dir.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        caps.add_experimental_option(
            "prefs",
            serde_json::json!({
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            }),
        )
        .expect("download prefs");
        let driver = WebDriver::new(url, caps)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start {chromium}: {e}"));
        Browser {
            driver,
            downloads,
            _chromedriver: guard,
            _dir: dir,
        }
    }

    /// Runs `script` (a function body; `return` gives the result) in the
    /// page.
    pub async fn js(&self, script: &str) -> Value {
        self.driver
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
            .json()
            .clone()
    }

    /// Polls `script` until `done` accepts its result (every 100 ms, for
    /// at most [`WAIT`]); panics with `what` and the last result. A script
    /// that fails (the page is navigating) counts as not yet.
    pub async fn wait_for(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = Value::Null;
        while tokio::time::Instant::now() < deadline {
            if let Ok(r) = self.driver.execute(script, Vec::new()).await {
                last = r.json().clone();
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}: not within {WAIT:?}; last seen: {last:#}");
    }

    /// Waits for the download `name` to be complete; its text.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads.join(name);
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            // Chromium writes NAME.crdownload and renames it when done.
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen: Vec<String> = std::fs::read_dir(&self.downloads)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        panic!("no download {name} within {WAIT:?}; the folder has {seen:?}");
    }

    /// Ends the session and the browser.
    pub async fn quit(self) {
        let Browser {
            driver,
            downloads: _,
            _chromedriver,
            _dir,
        } = self;
        if let Err(e) = driver.quit().await {
            eprintln!("closing the browser: {e}");
        }
    }
}

//! A full disk under the store, through the real binary (promise 10).
//!
//! `handoff run` runs inside its own user and mount namespace (`unshare
//! -rm`; where user namespaces are off but the test runs as root, a mount
//! namespace alone, `unshare -m`) on a small tmpfs that holds its store; a shell wrapper fills that
//! tmpfs on the test's signal while a Slack-desk case is running, and copies
//! the store out after handoff exits. Handoff must exit non-zero with a
//! message naming the store and the failed write, and after a restart on the
//! copied store (with free space) every customer message must reach the
//! thread exactly once, the one that hit the full disk included.
//!
//! The Matrix bridge's own files (`store.matrix`, matrix-sdk's sqlite) are
//! kept off the tmpfs by a symlink: the promise is about handoff's store,
//! and a sqlite write failing first would test matrix-sdk instead.

use crate::common;
use crate::downtime::{
    assert_once_in_order, line, numbers, open_slack_case, poll, thread_texts, wait_thread,
};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{slack_config, synapse_with_bot, user, Handoff, PASSWORD, WAIT};
use slack_emulator::{Emulator, EmulatorConfig};

/// The tmpfs under the store.
const TMPFS_KB: u64 = 16 * 1024;
/// Exit codes of the wrapper itself (not handoff's).
const MOUNT_FAILED: i32 = 97;
const COPY_FAILED: i32 = 98;

/// Mounts the tmpfs, links the Matrix bridge's data outside, fills the disk
/// when `$FILL` appears (reporting `df` in `$FILLED`), runs handoff, and
/// copies the store to `$SAVED` once it exited. It writes the pids of its
/// two children into `$PIDS` so that they can be ended by id.
const WRAPPER: &str = r#"
mount -t tmpfs -o size="${TMPFS_KB}k" tmpfs "$DISK" || exit 97
ln -s "$MATRIX_DATA" "$DISK/store.matrix" || exit 97
(
  while [ ! -e "$FILL" ]; do sleep 0.1; done
  dd if=/dev/zero of="$DISK/filler" bs=4096 2>/dev/null
  df -k "$DISK" > "$FILLED.tmp" && mv "$FILLED.tmp" "$FILLED"
) &
filler=$!
echo "$filler" > "$PIDS/filler"
"$HANDOFF" run --config "$CONFIG" &
handoff=$!
echo "$handoff" > "$PIDS/handoff"
wait "$handoff"
rc=$?
kill "$filler" 2>/dev/null
cp -a "$DISK/store.sled" "$SAVED/" || exit 98
exit "$rc"
"#;

/// How `unshare` can give a process its own mount namespace here: with its
/// own user namespace (`-rm`, unprivileged), or, where user namespaces are
/// off but the test runs as root (as CI does), a mount namespace alone
/// (`-m`). `None` when neither works. `HANDOFF_E2E_UNSHARE=-m` tries only
/// that mode (to exercise the fallback on a machine that has both).
fn unshare_mode() -> Option<&'static str> {
    let only = std::env::var("HANDOFF_E2E_UNSHARE").ok();
    ["-rm", "-m"].into_iter().find(|flags| {
        only.as_deref().is_none_or(|o| o == *flags)
            && Command::new("unshare")
                .args([flags, "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// Paths of one run.
struct Layout {
    _dir: tempfile::TempDir,
    root: PathBuf,
    disk: PathBuf,
    matrix: PathBuf,
    saved: PathBuf,
    fill: PathBuf,
    filled: PathBuf,
    log: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let l = Layout {
            disk: root.join("disk"),
            matrix: root.join("matrix"),
            saved: root.join("saved"),
            fill: root.join("fill-now"),
            filled: root.join("filled"),
            log: root.join("handoff-on-tmpfs.log"),
            root,
            _dir: dir,
        };
        for d in [&l.disk, &l.matrix, &l.saved] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        l
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!(
                "handoff-e2e-full-disk-{}.log",
                self.root
                    .file_name()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
            if std::fs::copy(&self.log, &keep).is_ok() {
                eprintln!(
                    "---- log of handoff on the tmpfs kept at {} ----",
                    keep.display()
                );
            }
        }
    }
}

/// The Slack-desk config with the store at `store` (absolute) and the
/// sample FAQ; `{homeserver}` is left for the caller.
fn config(emu: &Emulator, store: &Path) -> String {
    let faq = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/faq.toml");
    let base = slack_config(emu);
    let out = base
        .replace(
            "store = \"store.sled\"",
            &format!("store = \"{}\"", store.display()),
        )
        .replace(
            "faq = \"faq.toml\"",
            &format!("faq = \"{}\"", faq.display()),
        );
    assert!(
        out.contains(&store.display().to_string()) && out.contains("config/faq.toml"),
        "the shared Slack config changed shape: {base}"
    );
    out
}

/// `handoff run` on a tmpfs in its own namespaces; on drop, the wrapper and
/// its children are ended, each by its own pid.
struct OnSmallDisk {
    child: Child,
    exited: Option<ExitStatus>,
    /// Where the wrapper writes its children's pids.
    pids: PathBuf,
}

impl OnSmallDisk {
    fn start(l: &Layout, config: &Path, mode: &str) -> OnSmallDisk {
        let log = std::fs::File::create(&l.log).expect("log file");
        let child = Command::new("unshare")
            .args([mode, "sh", "-c", WRAPPER])
            .env("TMPFS_KB", TMPFS_KB.to_string())
            .env("DISK", &l.disk)
            .env("MATRIX_DATA", &l.matrix)
            .env("FILL", &l.fill)
            .env("FILLED", &l.filled)
            .env("SAVED", &l.saved)
            .env("PIDS", &l.root)
            .env("CONFIG", config)
            .env("HANDOFF", env!("CARGO_BIN_EXE_handoff"))
            .env("HANDOFF_MATRIX_PASSWORD", PASSWORD)
            .env("HANDOFF_TICK_MS", "500")
            .env(
                "RUST_LOG",
                "info,handoff=debug,handoff_matrix=debug,matrix_sdk=warn",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start unshare");
        OnSmallDisk {
            child,
            exited: None,
            pids: l.root.clone(),
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().unwrap_or(None);
        }
        self.exited
    }

    async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    }
}

impl Drop for OnSmallDisk {
    fn drop(&mut self) {
        // While the wrapper has not been reaped its pid cannot be reused, so
        // a process whose parent it is is one of its two children: end
        // those by id, then the wrapper.
        if self.exited().is_none() {
            let wrapper = self.child.id();
            for name in ["handoff", "filler"] {
                let pid = std::fs::read_to_string(self.pids.join(name))
                    .ok()
                    .and_then(|p| p.trim().parse::<u32>().ok())
                    .filter(|p| *p > 1);
                if let Some(pid) = pid.filter(|p| parent_of(*p) == Some(wrapper)) {
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The parent pid of `pid`, from `/proc/<pid>/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so read after ")".
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

const BEFORE: &str = "customer wrote before the disk filled";
const FULL: &str = "customer wrote on a full disk";
const AFTER: &str = "customer wrote after the restart";
/// Lines sent at most on the full disk (one a second) before giving up.
const MAX_FULL: usize = 40;

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stops_handoff_clearly_and_nothing_is_lost() {
    // No skip: without a mount namespace there is no full disk to test,
    // and a pass that tested nothing would read as the promise kept.
    let mode = unshare_mode().expect(
        "neither `unshare -rm true` nor `unshare -m true` works here: this test needs a mount \
         namespace (unprivileged user namespaces, or root) to put the store on a small tmpfs",
    );
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    let alice = emu.add_user("Alice", false);
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let l = Layout::new();
    let store = l.disk.join("store.sled");
    let config_path = l.root.join("handoff.toml");
    std::fs::write(
        &config_path,
        config(&emu, &store).replace("{homeserver}", synapse.base_url()),
    )
    .expect("write the config");
    let mut run = OnSmallDisk::start(&l, &config_path, mode);
    let deadline = Instant::now() + WAIT;
    while !l.log().contains("handoff is running") {
        if let Some(s) = run.exited() {
            panic!("handoff on the tmpfs exited at start ({s}):\n{}", l.log());
        }
        assert!(
            Instant::now() < deadline,
            "handoff on the tmpfs did not start:\n{}",
            l.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let case = open_slack_case(&emu, &channel, &alice, &carol).await;
    let (room, root) = (&case.room, case.root_ts.as_str());
    for n in 1..=3 {
        carol
            .send_text(room, &line(BEFORE, n, 3))
            .await
            .expect("send");
    }
    wait_thread(&emu, &channel, root, BEFORE, 3, 3).await;

    // Fill the disk, then keep writing until handoff gives up.
    std::fs::write(&l.fill, b"").expect("signal the filler");
    let df = poll("the filler to fill the tmpfs", WAIT, || async {
        std::fs::read_to_string(&l.filled).ok()
    })
    .await;
    let filled = Instant::now();
    let mut sent = 0;
    while sent < MAX_FULL && run.exited().is_none() {
        sent += 1;
        carol
            .send_text(room, &line(FULL, sent, MAX_FULL))
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let status = run.wait_exit(WAIT).await;
    let exit_after = filled.elapsed();
    let log = l.log();
    let Some(status) = status else {
        panic!("handoff kept running on a full disk after {sent} messages:\n{log}");
    };
    eprintln!("{sent} lines sent on the full disk; the wrapper ended with {status:?}");
    let relayed_at_exit = numbers(&thread_texts(&emu, &channel, root), FULL, MAX_FULL);
    assert!(
        !status.success(),
        "handoff exited successfully on a full disk:\n{log}"
    );
    assert_ne!(
        status.code(),
        Some(MOUNT_FAILED),
        "the wrapper could not mount:\n{log}"
    );
    assert_ne!(
        status.code(),
        Some(COPY_FAILED),
        "the wrapper could not copy the store out:\n{log}"
    );
    assert!(
        log.contains("No space left on device"),
        "the log does not say the disk is full:\n{log}"
    );
    assert!(
        log.contains(&store.display().to_string()),
        "the log does not name the store:\n{log}"
    );
    assert!(
        log.contains("handoff stopped so that nothing is lost"),
        "the log does not say why handoff stopped:\n{log}"
    );
    assert!(!log.contains("panicked"), "handoff panicked:\n{log}");
    let failed_write = log
        .lines()
        .find(|l| l.contains("No space left on device"))
        .unwrap_or_default()
        .to_owned();
    let last_words = log
        .lines()
        .rev()
        .find(|l| l.contains("handoff stopped so that nothing is lost"))
        .unwrap_or_default()
        .to_owned();

    // Restart on the copied store, with free space.
    std::os::unix::fs::symlink(&l.matrix, l.saved.join("store.matrix"))
        .expect("link the Matrix data");
    let saved_store = l.saved.join("store.sled");
    assert!(saved_store.is_dir(), "the store was not copied out");
    let restarted = Instant::now();
    let handoff = Handoff::start(&synapse, &config(&emu, &saved_store));
    let thread = wait_thread(&emu, &channel, root, FULL, sent, MAX_FULL).await;
    let caught_up = restarted.elapsed();
    assert_once_in_order(
        &thread,
        FULL,
        sent,
        MAX_FULL,
        "the thread after the restart",
    );
    assert_once_in_order(&thread, BEFORE, 3, 3, "the thread after the restart");
    carol
        .send_text(room, &line(AFTER, 1, 1))
        .await
        .expect("send");
    let thread = wait_thread(&emu, &channel, root, AFTER, 1, 1).await;
    assert_once_in_order(&thread, AFTER, 1, 1, "the thread after the restart");
    assert!(
        handoff.log().contains("handoff is running"),
        "the restarted handoff did not run"
    );
    let pending: Vec<usize> = (1..=sent)
        .filter(|n| !relayed_at_exit.contains(n))
        .collect();
    println!(
        "figures: full disk (unshare {}): tmpfs {} KiB, after the fill: {}; {} lines sent on the full disk, \
         handoff exited with {} {:.1} s after the fill; lines not yet relayed at the exit: {:?}; \
         first failure: {}; handoff's last words: {}; after the restart on the copied store all {} lines were in the thread once, in order, \
         {:.1} s after the restart",
        mode,
        TMPFS_KB,
        df.lines().last().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "),
        sent,
        status,
        exit_after.as_secs_f64(),
        pending,
        failed_write.trim(),
        last_words.trim(),
        sent,
        caught_up.as_secs_f64(),
    );
}

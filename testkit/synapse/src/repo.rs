//! Where the workspace, `scripts/synapse.sh` and the shared venv are, and
//! running that script.
//!
//! Not for starting servers (see `server`). Invariant: the venv under
//! `<repo>/.synapse/venv` is created at most once at a time: every setup runs
//! under an exclusive file lock, so concurrent test binaries (and threads of
//! one binary) never run pip into the same venv together.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use fs2::FileExt;
use tokio::sync::OnceCell;

use crate::TestkitError;

/// The workspace root: the nearest ancestor of this crate whose `Cargo.toml`
/// declares `[workspace]`.
pub fn repo_root() -> Result<PathBuf, TestkitError> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in manifest_dir.ancestors() {
        let manifest = dir.join("Cargo.toml");
        match fs::read_to_string(&manifest) {
            Ok(text) if text.lines().any(|l| l.trim() == "[workspace]") => {
                return Ok(dir.to_path_buf())
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TestkitError::io("reading", manifest, e)),
        }
    }
    Err(TestkitError::io(
        "finding the workspace root above",
        manifest_dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no Cargo.toml with [workspace]",
        ),
    ))
}

/// `<repo>/scripts/synapse.sh`.
pub fn script_path() -> Result<PathBuf, TestkitError> {
    Ok(repo_root()?.join("scripts").join("synapse.sh"))
}

/// Makes sure the shared venv has the pinned Synapse; cheap after the first
/// call in a process (and about 20 ms in a new process once installed).
pub(crate) async fn ensure_venv() -> Result<(), TestkitError> {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(setup_locked)
                .await
                .map_err(|e| TestkitError::Script {
                    command: "synapse.sh setup".into(),
                    status: format!("setup task failed: {e}"),
                    stderr: String::new(),
                })?
        })
        .await
        .map(|_| ())
}

fn setup_locked() -> Result<(), TestkitError> {
    let root = repo_root()?;
    let state_dir = root.join(".synapse");
    fs::create_dir_all(&state_dir).map_err(|e| TestkitError::io("creating", &state_dir, e))?;
    let lock_path = state_dir.join("testkit-setup.lock");
    let lock = File::create(&lock_path).map_err(|e| TestkitError::io("creating", &lock_path, e))?;
    lock.lock_exclusive()
        .map_err(|e| TestkitError::io("locking", &lock_path, e))?;
    let script = root.join("scripts").join("synapse.sh");
    tracing::info!(script = %script.display(), "ensuring the Synapse venv");
    let result = std::process::Command::new(&script)
        .arg("setup")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    // Unlocking also happens when `lock` is dropped; an explicit error here
    // would only hide the setup result.
    let _ = FileExt::unlock(&lock);
    let output = result.map_err(|e| TestkitError::Script {
        command: format!("{} setup", script.display()),
        status: e.to_string(),
        stderr: String::new(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(TestkitError::Script {
            command: format!("{} setup", script.display()),
            status: output.status.to_string(),
            stderr: tail(&output.stderr),
        })
    }
}

/// Runs `synapse.sh ARGS` to completion; stdout on success.
pub(crate) async fn run_script(args: &[&str]) -> Result<String, TestkitError> {
    let script = script_path()?;
    let command = format!("{} {}", script.display(), args.join(" "));
    let output = tokio::process::Command::new(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| TestkitError::Script {
            command: command.clone(),
            status: e.to_string(),
            stderr: String::new(),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(TestkitError::Script {
            command,
            status: output.status.to_string(),
            stderr: tail(&output.stderr),
        })
    }
}

/// The last few lines of a process's stderr, for error messages.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_root_is_the_workspace_with_the_script() {
        let root = repo_root().expect("workspace root");
        assert!(
            root.join("scripts/synapse.sh").is_file(),
            "{}",
            root.display()
        );
        assert!(root.join("testkit/synapse/Cargo.toml").is_file());
    }

    #[test]
    fn tail_keeps_only_the_last_lines() {
        let text: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let kept = tail(text.as_bytes());
        assert!(kept.starts_with("line 25"), "{kept}");
        assert!(kept.ends_with("line 39"));
    }
}

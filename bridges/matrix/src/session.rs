//! Logging the bot in once and restoring that session on every later start.
//!
//! Owns the files in `data_dir`: `session.json` (user id, device id, access
//! token; 0600), `store.key` (the sqlite store passphrase; 0600) and
//! `store/` (matrix-sdk state and crypto stores). Not for syncing or rooms.
//! Invariant: the device id never changes while `store/` exists, because
//! the crypto store belongs to that device; a revoked token is replaced by
//! logging in again *with the same device id*.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use handoff_bridge_api::BridgeError;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};
use matrix_sdk::{Client, ClientBuildError, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};

use crate::config::MatrixBridgeConfig;
use crate::error::{auth, from_http, from_sdk, rejected, unavailable};
use crate::retry::with_retry;

const SESSION_FILE: &str = "session.json";
const PASSPHRASE_FILE: &str = "store.key";
const STORE_DIR: &str = "store";

/// What `session.json` holds.
#[derive(Clone, Serialize, Deserialize)]
struct SavedSession {
    user_id: OwnedUserId,
    device_id: OwnedDeviceId,
    access_token: String,
}

/// Builds a client and logs in or restores the saved session.
pub async fn connect(cfg: &MatrixBridgeConfig) -> Result<Client, BridgeError> {
    create_private_dir(&cfg.data_dir)?;
    let session_path = cfg.data_dir.join(SESSION_FILE);
    let saved = read_session(&session_path)?;
    let store = cfg.data_dir.join(STORE_DIR);
    if saved.is_none() && store.exists() {
        // A store without a session belongs to a device we cannot use any
        // more; keep it for forensics but start a fresh one.
        let aside = cfg.data_dir.join(format!("store.orphaned-{}", unix_secs()));
        tracing::warn!(from = %store.display(), to = %aside.display(),
            "session.json is missing; moving the old store aside and logging in as a new device");
        fs::rename(&store, &aside).map_err(|e| io_err("moving aside", &store, e))?;
    }
    let passphrase = load_or_create_passphrase(&cfg.data_dir.join(PASSPHRASE_FILE), &store)?;

    match saved {
        Some(saved) => restore(cfg, &store, &passphrase, saved, &session_path).await,
        None => {
            let client = build_client(cfg, &store, &passphrase).await?;
            login(cfg, &client, None).await?;
            save_session(&client, &session_path)?;
            Ok(client)
        }
    }
}

async fn restore(
    cfg: &MatrixBridgeConfig,
    store: &Path,
    passphrase: &str,
    saved: SavedSession,
    session_path: &Path,
) -> Result<Client, BridgeError> {
    let client = build_client(cfg, store, passphrase).await?;
    let session = MatrixSession {
        meta: SessionMeta {
            user_id: saved.user_id.clone(),
            device_id: saved.device_id.clone(),
        },
        tokens: SessionTokens {
            access_token: saved.access_token.clone(),
            refresh_token: None,
        },
    };
    client
        .restore_session(session)
        .await
        .map_err(|e| from_sdk("restoring the saved Matrix session", &e))?;
    let checked = with_retry(&cfg.connect_retry, "checking the saved session", || async {
        client
            .whoami()
            .await
            .map_err(|e| from_http("checking the saved access token (whoami)", &e))
    })
    .await;
    match checked {
        Ok(who) if who.user_id == saved.user_id => {
            tracing::info!(user = %saved.user_id, device = %saved.device_id, "restored Matrix session");
            Ok(client)
        }
        Ok(who) => Err(auth(format!(
            "the saved access token belongs to {} but session.json says {}",
            who.user_id, saved.user_id
        ))),
        Err(BridgeError::Auth { .. }) => {
            tracing::warn!(device = %saved.device_id,
                "saved access token was rejected; logging in again with the same device");
            drop(client);
            let client = build_client(cfg, store, passphrase).await?;
            login(cfg, &client, Some(&saved.device_id)).await?;
            save_session(&client, session_path)?;
            Ok(client)
        }
        Err(e) => Err(e),
    }
}

async fn build_client(
    cfg: &MatrixBridgeConfig,
    store: &Path,
    passphrase: &str,
) -> Result<Client, BridgeError> {
    Client::builder()
        .homeserver_url(&cfg.homeserver)
        .sqlite_store(store, Some(passphrase))
        // Our own callers (connect backoff, the core's outbox) retry; the
        // SDK retrying inside would hide rate limits for minutes.
        .request_config(RequestConfig::new().disable_retry())
        .build()
        .await
        .map_err(|e| match e {
            ClientBuildError::Url(_) | ClientBuildError::MissingHomeserver => {
                rejected(format!("bad homeserver URL {:?}: {e}", cfg.homeserver))
            }
            ClientBuildError::Http(h) => from_http("contacting the homeserver", &h),
            other => unavailable(format!(
                "opening the Matrix store in {}: {other}",
                store.display()
            )),
        })
}

async fn login(
    cfg: &MatrixBridgeConfig,
    client: &Client,
    device_id: Option<&OwnedDeviceId>,
) -> Result<(), BridgeError> {
    let what = format!("logging in {} at {}", cfg.user, cfg.homeserver);
    with_retry(&cfg.connect_retry, &what, || async {
        let mut builder = client
            .matrix_auth()
            .login_username(&cfg.user, &cfg.password)
            .initial_device_display_name(&cfg.device_name);
        if let Some(device) = device_id {
            builder = builder.device_id(device.as_str());
        }
        builder
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.client_api_error_kind() {
                Some(
                    ErrorKind::Forbidden
                    | ErrorKind::UserDeactivated
                    | ErrorKind::UserLocked
                    | ErrorKind::InvalidUsername,
                ) => auth(format!("{what}: {e}")),
                _ => from_sdk(&what, &e),
            })
    })
    .await?;
    tracing::info!(user = %cfg.user, device = ?client.device_id(), "logged in to Matrix");
    Ok(())
}

fn save_session(client: &Client, path: &Path) -> Result<(), BridgeError> {
    let (Some(user_id), Some(device_id), Some(tokens)) = (
        client.user_id(),
        client.device_id(),
        client.session_tokens(),
    ) else {
        return Err(auth("login succeeded but the client has no session"));
    };
    let saved = SavedSession {
        user_id: user_id.to_owned(),
        device_id: device_id.to_owned(),
        access_token: tokens.access_token,
    };
    let bytes = serde_json::to_vec_pretty(&saved)
        .map_err(|e| unavailable(format!("encoding {}: {e}", path.display())))?;
    write_private(path, &bytes)
}

fn read_session(path: &Path) -> Result<Option<SavedSession>, BridgeError> {
    match fs::read(path) {
        // Only where the file is broken, not serde's text: that can quote
        // a value, and this file holds the access token.
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            rejected(format!(
                "{} is not a valid session file ({:?} error at line {}, column {}); \
                 fix or remove it (removing it means a new device)",
                path.display(),
                e.classify(),
                e.line(),
                e.column()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", path, e)),
    }
}

fn load_or_create_passphrase(path: &Path, store: &Path) -> Result<String, BridgeError> {
    match fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("reading", path, e)),
    }
    if store.exists() {
        return Err(rejected(format!(
            "the store {} exists but its passphrase file {} is missing or empty",
            store.display(),
            path.display()
        )));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| unavailable(format!("generating a store passphrase: {e}")))?;
    let passphrase: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, passphrase.as_bytes())?;
    Ok(passphrase)
}

/// Writes `bytes` to `path` with mode 0600 through a temp file and rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BridgeError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err("creating", &tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_err("renaming into", path, e))
}

fn create_private_dir(dir: &Path) -> Result<(), BridgeError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err("creating", dir, e))
}

fn io_err(action: &str, path: &Path, e: std::io::Error) -> BridgeError {
    rejected(format!("{action} {}: {e}", PathBuf::from(path).display()))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_0600_and_passphrase_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(PASSPHRASE_FILE);
        let store = dir.path().join(STORE_DIR);
        let p1 = load_or_create_passphrase(&key, &store).unwrap();
        assert_eq!(p1.len(), 64);
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::create_dir(&store).unwrap();
        assert_eq!(load_or_create_passphrase(&key, &store).unwrap(), p1);
        fs::remove_file(&key).unwrap();
        assert!(matches!(
            load_or_create_passphrase(&key, &store),
            Err(BridgeError::Rejected { .. })
        ));
    }

    #[test]
    fn broken_session_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SESSION_FILE);
        assert!(read_session(&path).unwrap().is_none());
        fs::write(&path, b"{not json").unwrap();
        let err = read_session(&path).err().unwrap().to_string();
        assert!(err.contains("session.json"), "{err}");
        // A value in the wrong place is not quoted back (it may be a token);
        // serde's own message would say `invalid type: string "syt_…"`.
        fs::write(&path, br#""syt_secret_token""#).unwrap();
        let err = read_session(&path).err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("syt_secret_token"), "{err}");
    }
}

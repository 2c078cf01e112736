//! Creating users through Synapse's shared-secret admin API
//! (`/_synapse/admin/v1/register`): GET a nonce, POST the user with an
//! HMAC-SHA1 over nonce, user, password and admin flag.
//!
//! Not for logging in (see `client`). Invariant: the shared secret and the
//! password only ever go into the MAC and the request body, never into logs
//! or errors.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::TestkitError;

const REGISTER_PATH: &str = "/_synapse/admin/v1/register";

/// The registration shared secret; its `Debug` never shows the value.
#[derive(Clone)]
pub(crate) struct SharedSecret(pub(crate) String);

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// The MAC Synapse expects: hex HMAC-SHA1 keyed with the shared secret over
/// `nonce \0 user \0 password \0 ("admin" | "notadmin")`.
pub(crate) fn registration_mac(
    secret: &SharedSecret,
    nonce: &str,
    user: &str,
    password: &str,
    admin: bool,
) -> String {
    // HMAC accepts keys of any length: this cannot fail whatever the input.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.0.as_bytes()).expect("HMAC accepts keys of any length");
    for part in [nonce, user, password] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac.update(if admin {
        b"admin" as &[u8]
    } else {
        b"notadmin"
    });
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Deserialize)]
struct Nonce {
    nonce: String,
}

#[derive(Deserialize)]
struct Registered {
    user_id: String,
}

/// Registers `localpart` and returns the full user id.
pub(crate) async fn register(
    http: &reqwest::Client,
    base_url: &str,
    secret: &SharedSecret,
    localpart: &str,
    password: &str,
    admin: bool,
) -> Result<String, TestkitError> {
    let url = format!("{base_url}{REGISTER_PATH}");
    let nonce: Nonce = call(http.get(&url), &format!("GET {REGISTER_PATH}")).await?;
    let mac = registration_mac(secret, &nonce.nonce, localpart, password, admin);
    let body = serde_json::json!({
        "nonce": nonce.nonce,
        "username": localpart,
        "password": password,
        "admin": admin,
        "mac": mac,
    });
    let what = format!("POST {REGISTER_PATH} for {localpart}");
    let registered: Registered = call(http.post(&url).json(&body), &what).await?;
    tracing::debug!(user_id = %registered.user_id, admin, "registered test user");
    Ok(registered.user_id)
}

async fn call<T: for<'de> Deserialize<'de>>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<T, TestkitError> {
    let http_err = |source| TestkitError::Http {
        what: what.to_string(),
        source,
    };
    let response = request.send().await.map_err(http_err)?;
    let status = response.status();
    let text = response.text().await.map_err(http_err)?;
    if !status.is_success() {
        return Err(TestkitError::Api {
            what: what.to_string(),
            status: status.as_u16(),
            body: text,
        });
    }
    serde_json::from_str(&text).map_err(|e| TestkitError::Api {
        what: what.to_string(),
        status: status.as_u16(),
        body: format!("unexpected body ({e}): {text}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_matches_python_hmac() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"s3cret",
        //   b"abc\x00alice\x00pw\x00notadmin", hashlib.sha1).hexdigest())'
        let secret = SharedSecret("s3cret".into());
        assert_eq!(
            registration_mac(&secret, "abc", "alice", "pw", false),
            "d7cd8fe38bb2b37bacf757920ef46050075d427d"
        );
        assert_eq!(
            registration_mac(&secret, "abc", "alice", "pw", true),
            "fff9f57189c2d1a494c19759e16d592b0f64ce32"
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let shown = format!("{:?}", SharedSecret("hunter2".into()));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

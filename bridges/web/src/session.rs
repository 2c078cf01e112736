//! Visitor sessions: the unguessable token a browser keeps, the session id
//! derived from it (what endpoints and logs show; the token cannot be got
//! back from it), and who the visitor is (anonymous, or a verified user).

use base64::Engine;
use handoff_bridge_api::{Endpoint, Millis, UserRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::ANONYMOUS_PREFIX;
use crate::NETWORK;

/// Client ids remembered per session to take each message once.
pub const SEEN_IDS: usize = 512;

/// A new random token: 32 bytes from the OS, base64url.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The session id of `token`: the first 128 bits of its SHA-256, hex.
pub fn session_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    hex::encode(&digest[..16])
}

/// Whether `token` looks like one this server made (43 base64url chars).
pub fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Who is on the other side of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    /// The verified user id, or `anonymous:<session>`.
    pub id: String,
    pub name: Option<String>,
    pub verified: bool,
}

impl Visitor {
    pub fn anonymous(sid: &str) -> Self {
        Visitor {
            id: format!("{ANONYMOUS_PREFIX}{sid}"),
            name: Some(format!("Web visitor {}", &sid[..sid.len().min(6)])),
            verified: false,
        }
    }

    pub fn user_ref(&self) -> UserRef {
        UserRef {
            network: NETWORK.into(),
            id: self.id.clone(),
            display_name: self.name.clone(),
            is_bot: false,
            standing: Default::default(),
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub created: Millis,
    pub expires_at: Millis,
    pub visitor: Visitor,
    /// Client ids already taken, oldest first (bounded by [`SEEN_IDS`]).
    #[serde(default)]
    pub seen: std::collections::VecDeque<String>,
}

impl SessionRecord {
    /// Remembers `client_id` as taken; false if it already was.
    pub fn take(&mut self, client_id: &str) -> bool {
        if self.seen.iter().any(|s| s == client_id) {
            return false;
        }
        if self.seen.len() >= SEEN_IDS {
            self.seen.pop_front();
        }
        self.seen.push_back(client_id.to_string());
        true
    }

    /// Whether `client_id` was taken.
    pub fn has_taken(&self, client_id: &str) -> bool {
        self.seen.iter().any(|s| s == client_id)
    }
}

/// The endpoint of session `sid`.
pub fn endpoint(sid: &str) -> Endpoint {
    Endpoint::new(NETWORK, sid)
}

/// Now, in milliseconds since the epoch.
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_ids_derived() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(plausible_token(&a), "{a}");
        assert!(!plausible_token("short"));
        assert_eq!(session_id(&a), session_id(&a));
        assert_eq!(session_id(&a).len(), 32);
        assert!(!session_id(&a).contains(&a[..8]));
    }

    #[test]
    fn each_client_id_is_taken_once_within_the_bound() {
        let mut r = SessionRecord {
            created: 0,
            expires_at: 1,
            visitor: Visitor::anonymous("abcdef12"),
            seen: Default::default(),
        };
        assert!(r.take("m1"));
        assert!(!r.take("m1"));
        for i in 0..SEEN_IDS {
            r.take(&format!("x{i}"));
        }
        assert_eq!(r.seen.len(), SEEN_IDS);
        assert!(!r.has_taken("m1"), "the oldest is forgotten first");
        assert_eq!(r.visitor.id, "anonymous:abcdef12");
    }
}

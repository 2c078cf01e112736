//! Verified identity of logged-in visitors, the way Intercom does it: the
//! site's backend computes `hex(HMAC-SHA256(identity_secret, user_id))`
//! and passes the user id and that hash to the widget; the server checks
//! it in constant time. Without a valid hash a visitor is anonymous.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of anonymous visitors' user ids; a verified id may not start
/// with it, so nobody can pass as someone else's anonymous session.
pub const ANONYMOUS_PREFIX: &str = "anonymous:";

/// Longest user id or display name accepted.
const MAX_ID: usize = 256;

/// Why a claimed identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("this widget accepts no verified identities (no identity_secret in [web])")]
    NotEnabled,
    #[error("the identity hash is not hex-encoded HMAC-SHA256")]
    Malformed,
    #[error("the identity hash does not match the user id")]
    Forged,
    #[error("the user id is empty, too long or reserved")]
    BadUserId,
}

/// `hex(HMAC-SHA256(secret, user_id))`: what the site's backend computes.
pub fn sign(secret: &str, user_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks that `hash` is the signature of `user_id` under `secret`.
pub fn verify(secret: Option<&str>, user_id: &str, hash: &str) -> Result<(), IdentityError> {
    let secret = secret.ok_or(IdentityError::NotEnabled)?;
    if user_id.is_empty() || user_id.len() > MAX_ID || user_id.starts_with(ANONYMOUS_PREFIX) {
        return Err(IdentityError::BadUserId);
    }
    let claimed = hex::decode(hash.trim()).map_err(|_| IdentityError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    mac.verify_slice(&claimed)
        .map_err(|_| IdentityError::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_id_verifies_and_anything_else_is_refused() {
        let h = sign("k", "user-42");
        assert_eq!(h.len(), 64);
        assert_eq!(verify(Some("k"), "user-42", &h), Ok(()));
        assert_eq!(verify(Some("k"), "user-43", &h), Err(IdentityError::Forged));
        assert_eq!(
            verify(Some("other"), "user-42", &h),
            Err(IdentityError::Forged)
        );
        assert_eq!(
            verify(Some("k"), "user-42", &h[..62]),
            Err(IdentityError::Forged)
        );
        assert_eq!(
            verify(Some("k"), "user-42", "zz"),
            Err(IdentityError::Malformed)
        );
        assert_eq!(verify(None, "user-42", &h), Err(IdentityError::NotEnabled));
        let anon = format!("{ANONYMOUS_PREFIX}x");
        assert_eq!(
            verify(Some("k"), &anon, &sign("k", &anon)),
            Err(IdentityError::BadUserId)
        );
    }

    #[test]
    fn matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

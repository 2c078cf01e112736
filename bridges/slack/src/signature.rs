//! Verification of Events API requests: `X-Slack-Signature` is
//! `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the
//! signing secret, and the timestamp must be within five minutes.
//!
//! The HMAC comparison is slack-morphism's [`SlackEventSignatureVerifier`]
//! (constant-time); this module adds what it lacks: the age check against
//! a given `now` (so tests can pin the clock, and checked first, with
//! saturating arithmetic, so a hostile timestamp cannot overflow) and
//! typed errors for the listener's log lines.
//!
//! Not for HTTP handling (`events_api`). The invariant: a request is
//! accepted only when both the signature and the timestamp check pass.

use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

/// Oldest (and furthest in the future) a request timestamp may be.
pub const MAX_AGE_SECS: i64 = SlackEventSignatureVerifier::MAX_TIMESTAMP_AGE_SECONDS;

/// Why a request signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Slack-Request-Timestamp is not a number of seconds: {0:?}")]
    BadTimestamp(String),
    #[error("request timestamp is {age_secs} s away from now (more than 5 minutes)")]
    Stale { age_secs: i64 },
    #[error("X-Slack-Signature is not of the form v0=<hex>")]
    Malformed,
    #[error("X-Slack-Signature does not match the body")]
    Mismatch,
}

/// Checks one request. `now` is the current Unix time in seconds.
pub fn verify_signature(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.trim();
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp(timestamp.chars().take(20).collect()))?;
    // Saturating: a hostile timestamp near i64::MIN/MAX must not overflow.
    let age = now.saturating_sub(ts);
    if age.saturating_abs() > MAX_AGE_SECS {
        return Err(SignatureError::Stale { age_secs: age });
    }
    let well_formed = signature
        .strip_prefix("v0=")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(SignatureError::Malformed);
    }
    // Slack signs UTF-8 bodies; any other body cannot match.
    let body = std::str::from_utf8(body).map_err(|_| SignatureError::Mismatch)?;
    let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(secret.into()));
    match verifier.verify(&signature.to_ascii_lowercase(), body, timestamp) {
        Ok(()) => Ok(()),
        // slack-morphism checks the timestamp against the wall clock only
        // after the signature matched; freshness was judged above against
        // `now`, so this error still means "signature valid".
        Err(SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_)) => Ok(()),
        Err(_) => Err(SignatureError::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_vector_verifies() {
        assert_eq!(
            verify_signature(SECRET, TS, BODY.as_bytes(), SIG, 1531420618 + 10),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_or_secret_is_refused() {
        let mut body = BODY.to_string();
        body.push('x');
        assert_eq!(
            verify_signature(SECRET, TS, body.as_bytes(), SIG, 1531420618),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("other", TS, BODY.as_bytes(), SIG, 1531420618),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_or_future_timestamps_are_refused() {
        let six_minutes = 1531420618 + 6 * 60;
        assert_eq!(
            verify_signature(SECRET, TS, BODY.as_bytes(), SIG, six_minutes),
            Err(SignatureError::Stale { age_secs: 360 })
        );
        assert!(matches!(
            verify_signature(SECRET, TS, BODY.as_bytes(), SIG, 1531420618 - 400),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            assert!(matches!(
                verify_signature(SECRET, &ts, BODY.as_bytes(), SIG, 1531420618),
                Err(SignatureError::Stale { .. })
            ));
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(matches!(
            verify_signature(SECRET, "soon", BODY.as_bytes(), SIG, 0),
            Err(SignatureError::BadTimestamp(_))
        ));
        assert_eq!(
            verify_signature(SECRET, TS, BODY.as_bytes(), "a2114d", 1531420618),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, TS, BODY.as_bytes(), "v0=zz", 1531420618),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, TS, &[0xff, 0xfe], SIG, 1531420618),
            Err(SignatureError::Mismatch)
        );
    }
}

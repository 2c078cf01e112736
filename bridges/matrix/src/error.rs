//! Turning matrix-sdk failures into the contract's `BridgeError`.
//!
//! One place decides what is retryable: `M_LIMIT_EXCEEDED` becomes
//! `RateLimited`, network failures and 5xx become `Unavailable`, unknown or
//! revoked tokens become `Auth`, every other refusal (`M_FORBIDDEN`,
//! `M_NOT_FOUND`, bad input) becomes `Rejected`. Not for logging policy.
//! Invariant: messages say what was being done and never carry a token or
//! password (matrix-sdk errors do not include them).

use std::time::{Duration, SystemTime};

use handoff_bridge_api::BridgeError;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use matrix_sdk::HttpError;

/// The network name used in endpoints and errors.
pub const NETWORK: &str = "matrix";

/// `Rejected` with context.
pub fn rejected(detail: impl Into<String>) -> BridgeError {
    BridgeError::Rejected {
        network: NETWORK.to_owned(),
        detail: detail.into(),
    }
}

/// `Unavailable` with context.
pub fn unavailable(detail: impl Into<String>) -> BridgeError {
    BridgeError::Unavailable {
        network: NETWORK.to_owned(),
        detail: detail.into(),
    }
}

/// `Auth` with context.
pub fn auth(detail: impl Into<String>) -> BridgeError {
    BridgeError::Auth {
        network: NETWORK.to_owned(),
        detail: detail.into(),
    }
}

/// Maps a failed HTTP request made while doing `what`.
pub fn from_http(what: &str, err: &HttpError) -> BridgeError {
    if let Some(kind) = err.client_api_error_kind() {
        return match kind {
            ErrorKind::LimitExceeded(data) => BridgeError::RateLimited {
                network: NETWORK.to_owned(),
                retry_after_ms: retry_after_ms(data.retry_after.as_ref()),
            },
            ErrorKind::UnknownToken(_) | ErrorKind::MissingToken => auth(format!("{what}: {err}")),
            _ if is_server_failure(err) => unavailable(format!("{what}: {err}")),
            _ => rejected(format!("{what}: {err}")),
        };
    }
    match err {
        HttpError::Reqwest(_) => unavailable(format!("{what}: {err}")),
        HttpError::Cached(inner) => from_http(what, inner),
        _ if is_server_failure(err) => unavailable(format!("{what}: {err}")),
        _ => rejected(format!("{what}: {err}")),
    }
}

/// Maps any matrix-sdk error raised while doing `what`.
pub fn from_sdk(what: &str, err: &matrix_sdk::Error) -> BridgeError {
    match err {
        matrix_sdk::Error::Http(http) => from_http(what, http),
        matrix_sdk::Error::AuthenticationRequired => auth(format!("{what}: {err}")),
        // Store, crypto and I/O failures are local and usually pass.
        matrix_sdk::Error::Io(_)
        | matrix_sdk::Error::CryptoStoreError(_)
        | matrix_sdk::Error::StateStore(_)
        | matrix_sdk::Error::CrossProcessLockError(_) => unavailable(format!("{what}: {err}")),
        _ => rejected(format!("{what}: {err}")),
    }
}

fn is_server_failure(err: &HttpError) -> bool {
    err.as_client_api_error()
        .is_some_and(|e| e.status_code.is_server_error())
}

fn retry_after_ms(retry_after: Option<&RetryAfter>) -> u64 {
    let delay = match retry_after {
        Some(RetryAfter::Delay(d)) => *d,
        Some(RetryAfter::DateTime(at)) => at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
        // The spec lets servers omit it; a second is a polite default.
        None => Duration::from_secs(1),
    };
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_defaults_and_converts() {
        assert_eq!(retry_after_ms(None), 1000);
        assert_eq!(
            retry_after_ms(Some(&RetryAfter::Delay(Duration::from_millis(1234)))),
            1234
        );
        let past = SystemTime::now() - Duration::from_secs(5);
        assert_eq!(retry_after_ms(Some(&RetryAfter::DateTime(past))), 0);
    }
}

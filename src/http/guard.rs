//! Who may call `/api/*`: a loopback peer, naming a loopback host (so a
//! DNS-rebound page or a proxy forwarding a public name is refused), with
//! the configured bearer token. Every refusal is logged without the token.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// Why an `/api` request is refused: the status and the text the client
/// gets.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

fn refuse(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// Checks peer, Host header and bearer token, in that order.
pub fn check(
    peer: &SocketAddr,
    headers: &HeaderMap,
    token: Option<&Secret>,
) -> Result<(), Refusal> {
    if !peer.ip().is_loopback() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "/api answers loopback clients only",
        ));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_loopback_host(host) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "/api answers requests for localhost or a loopback address only (Host header)",
        ));
    }
    let Some(token) = token else {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "/api is off: set [metrics] api_token",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant time, so the token cannot be guessed byte by byte.
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "/api needs the [metrics] api_token as a bearer token",
        ))
    }
}

/// `localhost`, `127.0.0.1`, `[::1]`, each with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority.host();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(a) = auth {
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(a).expect("auth"),
            );
        }
        h
    }

    fn local() -> SocketAddr {
        "127.0.0.1:5000".parse().expect("addr")
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:9184",
            "127.0.0.1:9184",
            "[::1]:80",
            "127.0.0.2",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:9184",
            "10.0.0.1",
            "localhost.evil.example",
            "0.0.0.0:9184",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn token_host_and_peer_are_all_required() {
        let t = Secret::new("s3cret");
        let ok = headers("127.0.0.1:9184", Some("Bearer s3cret"));
        assert_eq!(check(&local(), &ok, Some(&t)), Ok(()));
        let remote: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
        assert_eq!(
            check(&remote, &ok, Some(&t)).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let foreign = headers("rebound.example:9184", Some("Bearer s3cret"));
        assert_eq!(
            check(&local(), &foreign, Some(&t)).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let wrong = headers("localhost", Some("Bearer s3cre"));
        assert_eq!(
            check(&local(), &wrong, Some(&t)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let none = headers("localhost", None);
        assert_eq!(
            check(&local(), &none, Some(&t)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            check(&local(), &ok, None).unwrap_err().reason,
            "/api is off: set [metrics] api_token"
        );
    }
}

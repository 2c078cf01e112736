//! Byte encodings of keys and values for ordered key-value backends.
//!
//! Values are JSON (readable by later versions thanks to `#[serde(default)]`
//! on new fields). Keys are built so that byte order is the order we need:
//! big-endian ids, sign-flipped big-endian times, and length-prefixed strings
//! (prefix-free, so a key made of several parts can be scanned by the
//! prefix of its first parts without one string bleeding into the next).
//! Invariant: changing any encoding here changes the on-disk format and
//! needs a `FORMAT_VERSION` bump and a migration.

use handoff_bridge_api::{Endpoint, MessageRef, Millis};
use serde::{de::DeserializeOwned, Serialize};

/// A big-endian id key: byte order is numeric order.
pub(crate) fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Reads an 8-byte big-endian id (a key or a stored value).
pub(crate) fn read_id(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// A time key ordered like the signed value (negative times first).
pub(crate) fn millis_key(at: Millis) -> [u8; 8] {
    ((at as u64) ^ (1 << 63)).to_be_bytes()
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    // Strings in keys are ids and names, far below 4 GiB.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn push_endpoint(buf: &mut Vec<u8>, e: &Endpoint) {
    push_str(buf, &e.network);
    push_str(buf, &e.room);
    match &e.thread {
        None => buf.push(0),
        Some(t) => {
            buf.push(1);
            push_str(buf, t);
        }
    }
}

/// Key of a desk endpoint (agent room or thread).
pub(crate) fn endpoint_key(e: &Endpoint) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    push_endpoint(&mut buf, e);
    buf
}

/// Prefix shared by every twin of `m`: network, room and message id. The
/// thread is where a message sits, not part of which message it is: Slack
/// names a message by channel and ts alone (a `reaction_added` says nothing
/// of the thread), and a Matrix event id is unique in its room.
pub(crate) fn message_key(m: &MessageRef) -> Vec<u8> {
    let mut buf = Vec::with_capacity(48);
    push_str(&mut buf, &m.endpoint.network);
    push_str(&mut buf, &m.endpoint.room);
    push_str(&mut buf, &m.id);
    buf
}

fn read_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    *bytes = rest;
    std::str::from_utf8(s).ok()
}

/// A twin key as format version 1 wrote it (for migration tests).
#[cfg(test)]
pub(crate) fn v1_twin_key(from: &MessageRef, to: &MessageRef) -> Vec<u8> {
    let mut buf = Vec::new();
    for m in [from, to] {
        push_endpoint(&mut buf, &m.endpoint);
        push_str(&mut buf, &m.id);
    }
    buf
}

/// The source message of a twin key written by format version 1 (whose
/// message keys also held the thread): network, room and id, or `None`
/// when `key` is not such a key.
pub(crate) fn v1_twin_source(key: &[u8]) -> Option<MessageRef> {
    let mut rest = key;
    let network = read_str(&mut rest)?;
    let room = read_str(&mut rest)?;
    let (flag, after) = rest.split_first()?;
    rest = after;
    match flag {
        0 => {}
        1 => {
            read_str(&mut rest)?;
        }
        _ => return None,
    }
    let id = read_str(&mut rest)?;
    Some(MessageRef {
        endpoint: Endpoint::new(network, room),
        id: id.to_string(),
    })
}

/// Key of the mapping `from → to`.
pub(crate) fn twin_key(from: &MessageRef, to: &MessageRef) -> Vec<u8> {
    let mut buf = message_key(from);
    buf.extend_from_slice(&message_key(to));
    buf
}

/// Prefix shared by every case of one customer.
pub(crate) fn customer_prefix(network: &str, user_id: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    push_str(&mut buf, network);
    push_str(&mut buf, user_id);
    buf
}

/// Key of one case of one customer: ids ascending under the prefix.
pub(crate) fn customer_key(network: &str, user_id: &str, id: u64) -> Vec<u8> {
    let mut buf = customer_prefix(network, user_id);
    buf.extend_from_slice(&id_key(id));
    buf
}

/// Key of a case in the opened-at index: time first, then id.
pub(crate) fn opened_key(at: Millis, id: u64) -> Vec<u8> {
    let mut buf = millis_key(at).to_vec();
    buf.extend_from_slice(&id_key(id));
    buf
}

/// Key of turn `index` (0-based) of case `case`'s transcript: under the
/// case's 8-byte id, so one case's turns are one prefix scan, in order.
/// The bare 8-byte id (no index) holds the case's turn count.
pub(crate) fn turn_key(case: u64, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&id_key(case));
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Key of a dedupe id in the by-time index.
pub(crate) fn seen_time_key(at: Millis, event_id: &str) -> Vec<u8> {
    let mut buf = millis_key(at).to_vec();
    buf.extend_from_slice(event_id.as_bytes());
    buf
}

/// Key of one bridge's state entry.
pub(crate) fn bridge_key(bridge: &str, key: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(bridge.len() + key.len() + 4);
    push_str(&mut buf, bridge);
    buf.extend_from_slice(key.as_bytes());
    buf
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// A key for error messages: the id for 8-byte keys of id trees, the text
/// when it is printable, hex otherwise.
pub(crate) fn show_key(bytes: &[u8], id_keyed: bool) -> String {
    if id_keyed {
        if let Some(id) = read_id(bytes) {
            return id.to_string();
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(room: &str, id: &str) -> MessageRef {
        MessageRef {
            endpoint: Endpoint::new("slack", room),
            id: id.into(),
        }
    }

    #[test]
    fn time_keys_sort_like_signed_times() {
        let times = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in times.windows(2) {
            assert!(millis_key(w[0]) < millis_key(w[1]), "{} vs {}", w[0], w[1]);
        }
    }

    #[test]
    fn message_keys_are_prefix_free() {
        // "C1"+"23" must not be a prefix match for "C12"+"3".
        let a = message_key(&m("C1", "23"));
        let b = twin_key(&m("C12", "3"), &m("C1", "23"));
        assert!(!b.starts_with(&a));
        assert!(twin_key(&m("C1", "23"), &m("x", "y")).starts_with(&a));
    }

    #[test]
    fn the_thread_is_not_part_of_a_message_key() {
        let mut threaded = m("C1", "23");
        threaded.endpoint.thread = Some("17".into());
        assert_eq!(message_key(&threaded), message_key(&m("C1", "23")));
    }

    #[test]
    fn version_1_twin_keys_are_read_back() {
        let mut from = m("C1", "23");
        from.endpoint.thread = Some("17".into());
        let key = v1_twin_key(&from, &m("!room", "$ev"));
        assert_eq!(v1_twin_source(&key), Some(m("C1", "23")));
        assert_eq!(v1_twin_source(b"\0\0"), None);
        assert_eq!(
            v1_twin_source(&[0, 0, 0, 1, b'a', 0, 0, 0, 1, b'b', 9]),
            None
        );
    }

    #[test]
    fn show_key_prefers_ids_then_text_then_hex() {
        assert_eq!(show_key(&id_key(42), true), "42");
        assert_eq!(show_key(b"abc", false), "\"abc\"");
        assert_eq!(show_key(&[0, 255], false), "00ff");
    }
}

//! Serde for [`Attachment`](crate::Attachment) bytes: written as one
//! base64 string (the store and outbox are JSON, where a plain `Vec<u8>`
//! becomes an array of numbers, about four times the file's size), read
//! back from either that string or the old array of numbers, so records
//! written before the change still load.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&STANDARD.encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        d.deserialize_any(BytesVisitor)
    } else {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("attachment data as a base64 string or an array of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        STANDARD
            .decode(v)
            .map_err(|e| E::custom(format!("attachment data is not valid base64: {e}")))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    /// The format before base64: one number per byte.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Attachment;

    fn file(len: usize) -> Attachment {
        Attachment {
            name: "big.bin".into(),
            mime: "application/octet-stream".into(),
            data: (0..len).map(|i| (i * 7 % 256) as u8).collect(),
        }
    }

    #[test]
    fn a_mebibyte_is_stored_in_under_one_and_a_half() {
        let f = file(1 << 20);
        let json = serde_json::to_vec(&f).expect("serialize");
        assert!(json.len() < 3 << 19, "{} bytes", json.len());
        let back: Attachment = serde_json::from_slice(&json).expect("deserialize");
        assert_eq!(back, f);
    }

    #[test]
    fn the_old_array_of_numbers_still_loads() {
        let old = r#"{"name":"a.png","mime":"image/png","data":[137,80,78,71,0,255]}"#;
        let f: Attachment = serde_json::from_str(old).expect("old record");
        assert_eq!(f.data, vec![137, 80, 78, 71, 0, 255]);
    }

    #[test]
    fn bad_data_is_a_clear_error() {
        let bad = r#"{"name":"a","mime":"b","data":"not base64!"}"#;
        let e = serde_json::from_str::<Attachment>(bad).unwrap_err();
        assert!(e.to_string().contains("not valid base64"), "{e}");
        let bad = r#"{"name":"a","mime":"b","data":[1,300]}"#;
        assert!(serde_json::from_str::<Attachment>(bad).is_err());
    }
}

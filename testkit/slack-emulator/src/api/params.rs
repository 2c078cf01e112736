//! Web API arguments, whatever their encoding: query string, form body or
//! JSON body, merged into one map, with Slack's leniency on types (numbers
//! and booleans as strings, JSON arrays as strings in forms).
//!
//! Not for authentication or method logic. The invariant: a value that
//! does not parse yields a Slack error code, never a panic.

use crate::error::ApiError;
use crate::ts::Ts;
use serde_json::{Map, Value};

/// The arguments of one call, without `token`.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// A parameter as a string; empty strings count as absent.
    pub fn str(&self, key: &str) -> Option<String> {
        let s = match self.0.get(key)? {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        (!s.is_empty()).then_some(s)
    }

    /// A required parameter; `code` is the error Slack answers without it.
    pub fn required(&self, key: &str, code: &str) -> Result<String, ApiError> {
        self.str(key).ok_or_else(|| ApiError::new(code))
    }

    /// A JSON argument (`blocks`, `attachments`, `files`): an array or
    /// object in JSON bodies, a JSON string in forms.
    pub fn json(&self, key: &str, code: &str) -> Result<Option<Value>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::new(code)),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// A boolean: `true`, `"true"`, `"1"`, `1`.
    pub fn bool(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        }
    }

    /// A timestamp argument; malformed ones answer `code`.
    pub fn ts(&self, key: &str, code: &str) -> Result<Option<Ts>, ApiError> {
        match self.str(key) {
            None => Ok(None),
            Some(s) => Ts::parse(&s).map(Some).ok_or_else(|| ApiError::new(code)),
        }
    }

    /// `limit`, clamped to `1..=max`, `default` when absent or 0.
    pub fn limit(&self, default: usize, max: usize) -> usize {
        match self.str("limit").and_then(|s| s.parse::<usize>().ok()) {
            None | Some(0) => default,
            Some(n) => n.min(max),
        }
    }
}

/// Parses a body by its content type into `params`; returns the `token`
/// form field if present (JSON bodies cannot carry the token).
pub fn merge_body(
    params: &mut Params,
    content_type: &str,
    body: &[u8],
) -> Result<Option<String>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => {
            let value: Value =
                serde_json::from_slice(body).map_err(|_| ApiError::new("invalid_json"))?;
            let Value::Object(map) = value else {
                return Err(ApiError::new("invalid_json"));
            };
            for (k, v) in map {
                if k != "token" {
                    params.0.insert(k, v);
                }
            }
            Ok(None)
        }
        "application/x-www-form-urlencoded" | "" => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|_| ApiError::new("invalid_form_data"))?;
            let mut token = None;
            for (k, v) in pairs {
                if k == "token" {
                    token = Some(v);
                } else {
                    params.0.insert(k, Value::String(v));
                }
            }
            Ok(token)
        }
        _ => Err(ApiError::new("invalid_form_data")),
    }
}

/// Query-string arguments. A `token` there is ignored: Slack no longer
/// accepts tokens in query strings for new apps.
pub fn from_query(query: Option<&str>) -> Params {
    let mut params = Params::default();
    if let Some(q) = query {
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(q) {
            for (k, v) in pairs {
                if k != "token" {
                    params.0.insert(k, Value::String(v));
                }
            }
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_and_json_bodies_merge_alike() {
        let mut form = Params::default();
        let token = merge_body(
            &mut form,
            "application/x-www-form-urlencoded",
            b"channel=C1&blocks=%5B%5D&token=xoxb-1&unfurl_links=true",
        )
        .unwrap();
        assert_eq!(token.as_deref(), Some("xoxb-1"));
        assert_eq!(form.str("channel").as_deref(), Some("C1"));
        assert_eq!(
            form.json("blocks", "invalid_blocks").unwrap(),
            Some(json!([]))
        );
        assert!(form.bool("unfurl_links"));

        let mut js = Params::default();
        let token = merge_body(
            &mut js,
            "application/json; charset=utf-8",
            br#"{"channel":"C1","blocks":[],"token":"xoxb-1","limit":5}"#,
        )
        .unwrap();
        assert_eq!(token, None);
        assert_eq!(js.str("channel").as_deref(), Some("C1"));
        assert_eq!(
            js.json("blocks", "invalid_blocks").unwrap(),
            Some(json!([]))
        );
        assert_eq!(js.limit(100, 1000), 5);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut p = Params::default();
        assert_eq!(
            merge_body(&mut p, "application/json", b"{nope")
                .unwrap_err()
                .code,
            "invalid_json"
        );
        p.0.insert("blocks".into(), json!("[unclosed"));
        assert_eq!(
            p.json("blocks", "invalid_blocks").unwrap_err().code,
            "invalid_blocks"
        );
        p.0.insert("ts".into(), json!("yesterday"));
        assert_eq!(p.ts("ts", "invalid_ts").unwrap_err().code, "invalid_ts");
    }
}

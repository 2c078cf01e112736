//! `[web]` in handoff's config file: where the widget is served, which
//! sites may embed it, how it looks, the identity secret and the limits.
//! Read by this crate (the core never names a network); also the widget
//! network's answer to "may a desk live here" (no: customers only).

use std::time::Duration;

use handoff_bridge_api::settings::{self, Secret};
use serde::{Deserialize, Deserializer};

/// The name of the config table and of endpoints (`Endpoint::network`).
pub const SECTION: &str = crate::NETWORK;

/// `[web]`: the chat widget customers use on a website.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    /// Address the widget's HTTP and WebSocket server binds, e.g.
    /// "127.0.0.1:8090" (behind a TLS-terminating proxy in production).
    #[serde(deserialize_with = "settings::string")]
    pub listen: String,
    /// The URL visitors' browsers reach this server at (the `src` of the
    /// script tag); its origin may always talk to the server (the demo page
    /// lives there).
    #[serde(deserialize_with = "settings::http_url")]
    pub public_url: String,
    /// Origins of the sites that embed the widget, like
    /// "https://www.example.com". Any other Origin gets 403.
    #[serde(default, deserialize_with = "origins")]
    pub allowed_origins: Vec<String>,
    /// The secret the site's backend signs logged-in users' ids with
    /// (HMAC-SHA256, hex). Unset: every visitor is anonymous.
    #[serde(default)]
    pub identity_secret: Option<Secret>,
    /// How long an anonymous session (its token in the browser) lasts.
    #[serde(default = "default_session_ttl", deserialize_with = "duration")]
    pub session_ttl: Duration,
    /// Looks of the widget.
    #[serde(default)]
    pub theme: Theme,
    /// Caps and rate limits.
    #[serde(default)]
    pub limits: Limits,
}

/// `[web.theme]`: what the widget looks like and says first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Theme {
    /// Header of the chat panel.
    pub title: String,
    /// The first line a visitor sees (not sent to the team).
    pub greeting: String,
    /// Accent colour, a CSS hex colour like "#3b5bdb".
    #[serde(deserialize_with = "colour")]
    pub color: String,
    /// Corner of the page: "right" or "left" (bottom).
    pub position: Position,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            title: "Support".into(),
            greeting: "Hi! Ask us anything.".into(),
            color: "#3b5bdb".into(),
            position: Position::Right,
        }
    }
}

/// Bottom corner the bubble sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Right,
    Left,
}

/// `[web.limits]`: caps that bound what one visitor can cost.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest message text, in characters; longer is refused with an
    /// error frame.
    pub max_message_chars: usize,
    /// Messages one session may send per minute (a burst of this many,
    /// then one every 60/n seconds).
    pub session_per_minute: u32,
    /// Connections and messages one IP address may make per minute.
    pub ip_per_minute: u32,
    /// Events kept per session for replay after a reconnect or reload.
    pub history: usize,
    /// Frames queued for one slow connection before it is dropped (it
    /// reconnects and resumes from what it saw).
    pub connection_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_chars: 4000,
            session_per_minute: 20,
            ip_per_minute: 120,
            history: 200,
            connection_queue: 64,
        }
    }
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = settings::string(d)?;
    humantime::parse_duration(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "{s:?} is not a duration ({e}); write it like \"30d\" or \"12h\""
        ))
    })
}

fn colour<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = settings::string(d)?;
    let hex = s.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom(format!(
            "{s:?} is not a hex colour; write it like \"#3b5bdb\""
        )))
    }
}

fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|o| {
            let o = settings::expand(o).map_err(serde::de::Error::custom)?;
            crate::origin::normalise(&o).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{o:?} is not an origin; write it like \"https://www.example.com\" (scheme, host and port only)"
                ))
            })
        })
        .collect()
}

impl WebSettings {
    /// Settings for `listen` with everything else at its default (tests,
    /// tools); `public_url` is `http://{listen}` (port 0 there becomes the
    /// port bound).
    pub fn new(listen: impl Into<String>) -> Self {
        let listen = listen.into();
        WebSettings {
            public_url: format!("http://{listen}"),
            listen,
            allowed_origins: Vec::new(),
            identity_secret: None,
            session_ttl: default_session_ttl(),
            theme: Theme::default(),
            limits: Limits::default(),
        }
    }

    /// One line for `check-config` (no secrets).
    pub fn describe(&self) -> String {
        format!(
            "widget on {} (served as {}), {} allowed origin(s), identity {}",
            self.listen,
            self.public_url,
            self.allowed_origins.len(),
            if self.identity_secret.is_some() {
                "verified"
            } else {
                "anonymous only"
            }
        )
    }
}

/// The bridge records holding something of the visitor of session `room`
/// (`handoff forget`): the session (their verified identity) and its
/// history (what was said).
pub fn customer_records(room: &str, _user: &str) -> Vec<String> {
    vec![format!("session/{room}"), format!("history/{room}")]
}

/// Checks a desk on the widget network: there is none (customers only).
pub fn check_desk(_target: Option<&str>) -> Result<(), String> {
    Err("the web widget is where customers write, not a desk; put the team's desk on matrix or slack".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> Result<WebSettings, String> {
        settings::section::<WebSettings>(doc, SECTION)
            .map_err(|e| e.to_string())
            .map(|s| s.expect("the section").into_inner())
    }

    #[test]
    fn a_minimal_table_gets_the_defaults() {
        let s =
            parse("[web]\nlisten = \"127.0.0.1:8090\"\npublic_url = \"http://localhost:8090\"\n")
                .unwrap();
        assert_eq!(s.theme, Theme::default());
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.session_ttl, Duration::from_secs(30 * 24 * 3600));
        assert!(s.describe().contains("anonymous only"), "{}", s.describe());
    }

    #[test]
    fn every_option_is_read_and_the_secret_is_hidden() {
        let doc = r##"
[web]
listen = "0.0.0.0:8090"
public_url = "https://support.example.com"
allowed_origins = ["https://www.example.com", "http://localhost:3000/"]
identity_secret = "s3cret-value"
session_ttl = "12h"
[web.theme]
title = "Help"
greeting = "Hello"
color = "#abc"
position = "left"
[web.limits]
max_message_chars = 100
session_per_minute = 5
ip_per_minute = 50
history = 10
connection_queue = 8
"##;
        let s = parse(doc).unwrap();
        assert_eq!(
            s.allowed_origins,
            ["https://www.example.com", "http://localhost:3000"]
        );
        assert_eq!(s.session_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(s.theme.position, Position::Left);
        assert_eq!(s.limits.history, 10);
        assert!(!format!("{s:?}").contains("s3cret"), "{s:?}");
    }

    #[test]
    fn bad_values_say_how_to_write_them() {
        let base = "[web]\nlisten = \"a:1\"\npublic_url = \"http://a:1\"\n";
        let err = parse(&format!("{base}allowed_origins = [\"www.example.com\"]\n")).unwrap_err();
        assert!(err.contains("https://www.example.com"), "{err}");
        let err = parse(&format!("{base}session_ttl = \"soon\"\n")).unwrap_err();
        assert!(err.contains("\"30d\""), "{err}");
        let err = parse(&format!("{base}[web.theme]\ncolor = \"red\"\n")).unwrap_err();
        assert!(err.contains("hex colour"), "{err}");
        assert!(check_desk(None).unwrap_err().contains("not a desk"));
    }
}

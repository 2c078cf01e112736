//! handoff's web chat widget: customers on a website with no chat account,
//! as a network on the bridge contract (`handoff_bridge_api::Bridge`).
//!
//! The bridge serves a small script (`/widget.js`) that any site embeds
//! with one `<script>` tag, a demo page (`/demo`) and a WebSocket (`/ws`).
//! Each browser gets a session (an unguessable token it keeps); a session
//! is one customer endpoint, `web:<session id>`. The widget is a customer
//! network only: no desk lives here.
//!
//! Module map: `settings` (the `[web]` table), `origin` (allowed origins),
//! `identity` (signed logged-in users), `session` (tokens and visitors),
//! `limits` (rate limits), `protocol` (the frames), `store` (what is kept
//! in `BridgeState`), `hub` (open sockets per session), `server` (HTTP),
//! `conn` (one socket), `bridge` (the `Bridge` implementation).

mod bridge;
mod conn;
mod hub;
pub mod identity;
mod limits;
pub mod origin;
pub mod protocol;
mod server;
pub mod session;
pub mod settings;
mod store;

pub use bridge::WebBridge;
pub use server::{WIDGET_CSS, WIDGET_JS};
pub use settings::WebSettings;

/// The network name in endpoints and the config table.
pub const NETWORK: &str = "web";

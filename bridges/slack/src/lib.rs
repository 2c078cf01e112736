//! handoff's Slack bridge: agent desks in Slack channels, one thread per
//! case. Opens a case as a pinned Block Kit summary (Claim / Resolve
//! buttons, a Transfer menu), relays agents' replies, edits, deletions,
//! reactions, files and button presses to the core as
//! [`handoff_bridge_api::Inbound`], and carries out the core's
//! [`handoff_bridge_api::Outgoing`] actions exactly once per key.
//!
//! Not the case logic (the core) and not a general Slack SDK: it depends
//! only on the bridge contract crate, never on the `handoff` core. The
//! invariant: events come in through Socket Mode (default) or the signed
//! Events API; everything posted is reconcilable by its Outgoing key; one
//! ordered queue per channel keeps a busy channel from stalling others.

/// Block Kit: the summary card and marked message bodies.
mod blocks;
/// `SlackBridge`, start-up, shared state and the `Bridge` impl.
mod bridge;
/// Catch-up of missed replies after (re)connecting.
mod catchup;
/// Configuration: tokens, mode, name style, retry policy.
mod config;
/// Users and channels: lookups and caches.
mod directory;
/// Slack emoji names ⇄ Unicode.
mod emoji;
/// The Events API HTTP listener.
mod events_api;
/// The inbound worker queue.
mod inbound;
/// Size limits and cutting text to fit them.
mod limits;
/// Slack mrkdwn → plain text + HTML.
pub mod mrkdwn;
/// Carrying out Outgoing actions.
mod outbound;
/// Raw payloads → typed events; whose activity is never relayed.
mod parse;
/// Posting exactly once per key (read-back reconciliation).
mod post;
/// Per-channel ordered action queues.
mod queue;
/// `[slack]` in the config file, Slack desk targets and user groups.
pub mod settings;
/// Request signature verification.
mod signature;
/// HTML / Markdown-ish → Slack mrkdwn.
pub mod slackify;
/// Socket Mode through slack-morphism's listener.
mod socket;
/// The bridge's durable records in `BridgeState`.
mod store;
/// Slack event payloads → Inbound.
mod translate;
/// Slack `ts` helpers.
mod ts;
/// File uploads (external upload flow).
mod upload;
/// Web API calls with retry rules.
mod web;

pub use bridge::SlackBridge;
pub use config::{NameStyle, RetryPolicy, SlackBridgeConfig, DEFAULT_FILE_HOST};
pub use inbound::TEST_HOLD_ENV;
pub use limits::{MAX_BODY_BYTES, MAX_TEXT_CHARS};
pub use signature::{verify_signature, SignatureError, MAX_AGE_SECS};

/// The network name in every Slack [`handoff_bridge_api::Endpoint`].
pub const NETWORK: &str = "slack";

//! An in-process Slack for handoff's tests: the Web API methods the bridge
//! uses, Socket Mode and signed Events API delivery, agents acting in
//! channels, and switches for rate limits, failures and disconnects.
//!
//! Not a production component and not a full Slack: it covers what the
//! bridge touches, faithfully to Slack's documented shapes and errors, so
//! that code passing against it works against Slack. The invariant: every
//! state change goes through `state::ops` and emits the events Slack would.
//!
//! ```no_run
//! # async fn demo() -> Result<(), slack_emulator::EmulatorError> {
//! use slack_emulator::{Emulator, EmulatorConfig};
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let agents = emu.add_channel("agents");
//! emu.add_user("alice", false);
//! let ts = emu.post_as("alice", &agents, None, "hello")?;
//! assert_eq!(emu.thread(&agents, &ts).len(), 1);
//! # Ok(()) }
//! ```

/// Agent actions: post, edit, delete, react, upload, press buttons.
mod agent;
/// Web API handlers under `/api/{method}` and the file endpoints.
mod api;
/// The log of Web API calls.
mod calls;
/// Start-up configuration.
mod config;
/// Event delivery: outbox, Socket Mode, Events API.
mod delivery;
/// The server, shared state and run-time switches.
mod emulator;
/// Error types.
mod error;
/// Injected Web API faults.
mod faults;
/// UUID-shaped ids.
mod ids;
/// Test switches: injected events, redeliveries, raw socket frames.
mod inject;
/// Inspection and event-driven waits.
mod inspect;
/// Per-method, per-channel rate limits.
mod ratelimit;
/// Request signing.
mod signing;
/// Workspace data, its rules and JSON shapes.
mod state;
/// Slack timestamps.
mod ts;

pub use agent::ChannelOptions;
pub use calls::{Call, CallOutcome};
pub use config::{Delivery, EmulatorConfig, RateLimit};
pub use delivery::{DeliveryKind, DeliveryOutcome, DeliveryRecord};
pub use emulator::Emulator;
pub use error::{ApiError, EmulatorError};
pub use faults::Fault;
pub use signing::sign;
pub use state::{Ephemeral, Message, Reaction, User, UserGroup};
pub use ts::Ts;

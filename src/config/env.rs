//! `${VAR}` expansion and [`Secret`]: shared with the network plugins, so
//! they live in the contract crate (`handoff_bridge_api::settings`).

pub use handoff_bridge_api::settings::*;

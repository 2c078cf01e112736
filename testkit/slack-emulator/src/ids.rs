//! Process-wide unique UUID-shaped strings (envelope ids, trigger ids).
//!
//! Not for Slack object ids (`Workspace::mint_id` makes those). The
//! invariant: no two calls in one process return the same string.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A version-4-shaped UUID built from a counter and the clock.
pub fn uuid() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = crate::ts::now_micros();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 16) as u32,
        (t & 0xffff) as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

//! Capturing what the bridge logs during one test: a thread-local tracing
//! subscriber at TRACE writing into a buffer the test can read. Tokio's
//! test runtime polls every task on the test's thread, so the bridge's
//! spawned tasks log into it too.
//!
//! Not a test itself. Invariant: the bridge logs at TRACE; matrix-sdk and
//! the HTTP stack at DEBUG (their TRACE is megabytes per sync).

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;

/// The captured log text.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures until the guard drops.
pub fn capture() -> (Logs, DefaultGuard) {
    let logs = Logs::default();
    let buf = logs.0.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,handoff_matrix=trace",
        ))
        .with_ansi(false)
        .with_writer(move || Sink(buf.clone()))
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

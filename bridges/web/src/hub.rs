//! The open WebSocket connections of each session (several tabs share
//! one), with a bounded queue each. A connection whose queue is full is
//! cut loose rather than letting it hold memory: its socket closes, the
//! widget reconnects and resumes from the last entry it saw.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc;
use tracing::debug;

use crate::protocol::ServerFrame;

/// Live connections by session id.
#[derive(Debug, Default)]
pub struct Hub {
    next: AtomicU64,
    sessions: Mutex<HashMap<String, HashMap<u64, mpsc::Sender<ServerFrame>>>>,
}

impl Hub {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<u64, mpsc::Sender<ServerFrame>>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection to session `sid`; its id for [`Hub::leave`].
    pub fn join(&self, sid: &str, tx: mpsc::Sender<ServerFrame>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock()
            .entry(sid.to_string())
            .or_default()
            .insert(id, tx);
        id
    }

    pub fn leave(&self, sid: &str, id: u64) {
        let mut all = self.lock();
        if let Some(conns) = all.get_mut(sid) {
            conns.remove(&id);
            if conns.is_empty() {
                all.remove(sid);
            }
        }
    }

    /// Queues `frame` on every connection of `sid`; drops those that are full.
    pub fn broadcast(&self, sid: &str, frame: &ServerFrame) {
        let mut all = self.lock();
        let Some(conns) = all.get_mut(sid) else {
            return;
        };
        conns.retain(|id, tx| match tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(e) => {
                debug!(session = sid, conn = id, error = %e, "dropping a connection that does not keep up");
                false
            }
        });
        if conns.is_empty() {
            all.remove(sid);
        }
    }

    /// Open connections of `sid`.
    #[cfg(test)]
    pub fn count(&self, sid: &str) -> usize {
        self.lock().get(sid).map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_connection_is_dropped_and_others_keep_getting_frames() {
        let hub = Hub::default();
        let (slow, _slow_rx) = mpsc::channel(1);
        let (fast, mut fast_rx) = mpsc::channel(8);
        hub.join("s", slow);
        hub.join("s", fast);
        let f = ServerFrame::Synced { last_seq: 1 };
        hub.broadcast("s", &f);
        hub.broadcast("s", &f);
        assert_eq!(hub.count("s"), 1);
        assert_eq!(fast_rx.try_recv().unwrap(), f);
        assert_eq!(fast_rx.try_recv().unwrap(), f);
    }
}

//! One ordered worker per Slack channel: actions for a channel run one
//! after another (a 429 wait holds back only that channel), while
//! different channels run in parallel.
//!
//! Not for what the actions do (`outbound`). The invariant: jobs for one
//! channel start in the order they were queued and never overlap; a job
//! keeps running even if its caller stops waiting, so a half-done post is
//! always finished and recorded.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use handoff_bridge_api::BridgeError;
use tokio::sync::{mpsc, oneshot};

use crate::NETWORK;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Actions a channel's worker may be behind before callers wait
/// (back-pressure instead of an unbounded queue).
const CHANNEL_QUEUE: usize = 256;

/// The per-channel workers.
#[derive(Default)]
pub(crate) struct ChannelQueues {
    workers: Mutex<HashMap<String, mpsc::Sender<Job>>>,
}

impl ChannelQueues {
    /// Runs `work` on `channel`'s worker, after everything queued before it.
    pub async fn run<T, F>(&self, channel: &str, work: F) -> Result<T, BridgeError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, BridgeError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::pin(async move {
            let _ = tx.send(work.await);
        });
        self.sender(channel)
            .send(job)
            .await
            .map_err(|_| BridgeError::Unavailable {
                network: NETWORK.into(),
                detail: format!("the queue of channel {channel} stopped"),
            })?;
        rx.await.map_err(|_| BridgeError::Unavailable {
            network: NETWORK.into(),
            detail: format!("the queue of channel {channel} dropped an action"),
        })?
    }

    fn sender(&self, channel: &str) -> mpsc::Sender<Job> {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = workers.get(channel).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, mut rx) = mpsc::channel::<Job>(CHANNEL_QUEUE);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                job.await;
            }
        });
        workers.insert(channel.to_string(), tx.clone());
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn one_channel_is_ordered_and_others_are_not_blocked() {
        let q = Arc::new(ChannelQueues::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (slow_q, slow_log) = (q.clone(), log.clone());
        let slow = tokio::spawn(async move {
            slow_q
                .run("A", async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    slow_log.lock().unwrap().push("A1");
                    Ok(())
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (a2_q, a2_log) = (q.clone(), log.clone());
        let a2 = tokio::spawn(async move {
            a2_q.run("A", async move {
                a2_log.lock().unwrap().push("A2");
                Ok(())
            })
            .await
        });
        let b_log = log.clone();
        q.run("B", async move {
            b_log.lock().unwrap().push("B1");
            Ok(())
        })
        .await
        .unwrap();
        slow.await.unwrap().unwrap();
        a2.await.unwrap().unwrap();
        assert_eq!(*log.lock().unwrap(), vec!["B1", "A1", "A2"]);
    }
}

//! Seeding a fresh sled store with N open cases through the real `Store`
//! API: per case a `next_case_id`, then one `Commit` of the conversation
//! (in `Phase::Queued`) and its case (`CaseState::Queued`), from several
//! threads at once like concurrent conversation workers.
//!
//! Not for starting the daemon (`scale`). The invariant: the store is
//! closed (dropped) before this returns, so `handoff run` can lock it, and
//! every case id came from the store's own counter.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use handoff::store::sled::SledStore;
use handoff::store::{Commit, Store};

use crate::records::{now_millis, queued_case};

/// The team every seeded case is queued for.
pub const TEAM: &str = "billing";

/// Writes `n` open cases into a new store at `path` using `threads`
/// threads; returns how long it took. With `told`, each case records the
/// queue position its customer was told at escalation (as the router
/// does); without, none (as for cases whose team was closed).
pub fn seed(path: &Path, n: u64, threads: usize, told: bool) -> anyhow::Result<Duration> {
    let store = SledStore::open(path)?;
    let started = Instant::now();
    let threads = threads.max(1) as u64;
    let at = now_millis();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = &store;
                scope.spawn(move || -> anyhow::Result<()> {
                    // Customer numbers t, t + threads, ...: disjoint per thread.
                    let mut customer = t;
                    while customer < n {
                        let id = store.next_case_id()?;
                        // All cases are queued for one team, so the queue
                        // position told at escalation equals the id.
                        let position = u32::try_from(id).unwrap_or(u32::MAX);
                        let (conv, mut case) = queued_case(customer, id, position, at, TEAM);
                        if !told {
                            case.told_position = None;
                        }
                        store.commit(&Commit {
                            at,
                            conversation: Some(conv),
                            cases: vec![case],
                            ..Commit::default()
                        })?;
                        customer += threads;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    })?;
    let took = started.elapsed();
    let open = store.open_cases().context("counting the seeded cases")?;
    anyhow::ensure!(
        open.len() as u64 == n,
        "seeded {n} cases but the store lists {} open",
        open.len()
    );
    drop(store);
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_open_cases_with_their_conversations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sled");
        seed(&path, 5, 2, true).expect("seed");
        let store = SledStore::open(&path).expect("reopen");
        let open = store.open_cases().expect("open cases");
        assert_eq!(open.len(), 5);
        for case in open {
            let conv = store
                .conversation(&case.conversation)
                .expect("read")
                .expect("conversation exists");
            assert_eq!(conv.case, Some(case.id));
        }
        assert_eq!(store.next_case_id().expect("id"), 6);
    }
}

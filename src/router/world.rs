//! The state machine's view of everything outside one conversation, read
//! from the store: case numbers, queue positions, recent first-reply times
//! and a customer's earlier cases.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::{Millis, UserRef};

use crate::case::{Case, CaseId, CaseState, PreviousCase};
use crate::conversation::World;
use crate::store::Store;

/// First-reply samples are taken from cases opened in this window.
const HISTORY_MS: Millis = 7 * 24 * 3600 * 1000;
/// At most this many recent samples per team.
const SAMPLES: usize = 50;

/// [`World`] backed by a [`Store`]. Store errors degrade to "unknown"
/// answers (logged), except case numbers, whose absence refuses the step.
pub struct StoreWorld {
    pub store: Arc<dyn Store>,
    pub now: Millis,
    /// Queues and reply times read once for a whole timer tick; without
    /// it every open case would read every open case (quadratic).
    pub snapshot: Option<Arc<Snapshot>>,
}

/// Queues and first-reply samples as of one moment, shared by every
/// conversation a timer tick visits.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per team, the queued case ids in ascending order.
    queued: HashMap<String, Vec<CaseId>>,
    /// Per team, the recent first-reply times (oldest first).
    first_replies: HashMap<String, Vec<Duration>>,
}

impl Snapshot {
    /// Built from the open cases and the cases opened since `now` minus
    /// the sampling window.
    pub fn new(open: &[Case], recent: &[Case]) -> Snapshot {
        Snapshot::of_queue(
            open.iter()
                .filter(|c| c.state == CaseState::Queued)
                .map(|c| (c.team.as_str(), c.id)),
            recent,
        )
    }

    /// Built from the queued cases as (team, id) and the recent cases.
    pub fn of_queue<'a>(
        queued_cases: impl Iterator<Item = (&'a str, CaseId)>,
        recent: &[Case],
    ) -> Snapshot {
        let mut queued: HashMap<String, Vec<CaseId>> = HashMap::new();
        for (team, id) in queued_cases {
            match queued.get_mut(team) {
                Some(ids) => ids.push(id),
                None => {
                    queued.insert(team.to_string(), vec![id]);
                }
            }
        }
        for ids in queued.values_mut() {
            ids.sort_unstable();
        }
        let mut first_replies: HashMap<String, Vec<Duration>> = HashMap::new();
        for c in recent.iter().rev() {
            let Some(reply) = c.first_human_reply_at else {
                continue;
            };
            let samples = first_replies.entry(c.team.clone()).or_default();
            if samples.len() < SAMPLES {
                samples.push(Duration::from_millis((reply - c.opened_at).max(0) as u64));
            }
        }
        for samples in first_replies.values_mut() {
            samples.reverse();
        }
        Snapshot {
            queued,
            first_replies,
        }
    }

    /// Reads what [`Snapshot::new`] needs besides the open cases.
    pub fn read(store: &dyn Store, open: &[Case], now: Millis) -> Snapshot {
        Snapshot::new(open, &recent_cases(store, now))
    }

    /// Like [`Snapshot::read`], with the queued cases as (team, id).
    pub fn read_queue<'a>(
        store: &dyn Store,
        queued: impl Iterator<Item = (&'a str, CaseId)>,
        now: Millis,
    ) -> Snapshot {
        Snapshot::of_queue(queued, &recent_cases(store, now))
    }

    /// Queued cases of `team` opened before `case`.
    fn queue_ahead(&self, team: &str, case: CaseId) -> usize {
        let ids = self.queued.get(team).map(Vec::as_slice).unwrap_or(&[]);
        ids.partition_point(|id| *id < case)
    }

    /// `team`'s recent first-reply times, oldest first.
    fn first_replies(&self, team: &str) -> Vec<Duration> {
        self.first_replies.get(team).cloned().unwrap_or_default()
    }
}

/// Cases opened within the sampling window (empty, logged, on a store
/// error: the wait estimate is then "unknown").
fn recent_cases(store: &dyn Store, now: Millis) -> Vec<Case> {
    store.cases_since(now - HISTORY_MS).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read recent cases");
        Vec::new()
    })
}

impl World for StoreWorld {
    fn next_case_id(&self) -> Option<CaseId> {
        self.store
            .next_case_id()
            .map_err(|e| tracing::error!(error = %e, "cannot allocate a case number"))
            .ok()
    }

    fn queue_ahead(&self, team: &str, case: CaseId) -> usize {
        if let Some(snap) = &self.snapshot {
            return snap.queue_ahead(team, case);
        }
        match self.store.open_cases() {
            Ok(open) => Snapshot::new(&open, &[]).queue_ahead(team, case),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queue");
                0
            }
        }
    }

    fn first_replies(&self, team: &str) -> Vec<Duration> {
        if let Some(snap) = &self.snapshot {
            return snap.first_replies(team);
        }
        Snapshot::new(&[], &recent_cases(self.store.as_ref(), self.now)).first_replies(team)
    }

    fn previous_cases(&self, customer: &UserRef) -> Vec<PreviousCase> {
        let ids = match self
            .store
            .cases_of_customer(&customer.network, &customer.id)
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read earlier cases");
                return Vec::new();
            }
        };
        ids.into_iter()
            .take(5)
            .filter_map(|id| self.store.case_head(id).ok().flatten())
            .map(|c| PreviousCase::of(&c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::suite::{assigned, case, resolved};
    use crate::store::Commit;

    #[test]
    fn a_tick_snapshot_answers_like_the_store() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut cases = vec![
            case(1, "@a:x", CaseState::Queued, 1_000),
            case(2, "@b:x", assigned(), 2_000),
            case(3, "@c:x", CaseState::Queued, 3_000),
            case(4, "@d:x", CaseState::Queued, 4_000),
            case(5, "@e:x", resolved(), 5_000),
        ];
        cases[1].first_human_reply_at = Some(2_500);
        cases[4].first_human_reply_at = Some(5_900);
        let mut other = case(6, "@f:x", CaseState::Queued, 6_000);
        other.team = "tech".into();
        cases.push(other);
        store
            .commit(&Commit {
                cases: cases.clone(),
                ..Commit::default()
            })
            .unwrap();
        let now = 10_000;
        let open = store.open_cases().unwrap();
        let plain = StoreWorld {
            store: store.clone(),
            now,
            snapshot: None,
        };
        let snap = StoreWorld {
            store: store.clone(),
            now,
            snapshot: Some(Arc::new(Snapshot::read(store.as_ref(), &open, now))),
        };
        for team in ["billing", "tech", "nobody"] {
            for id in 0..8 {
                assert_eq!(
                    snap.queue_ahead(team, id),
                    plain.queue_ahead(team, id),
                    "{team} {id}"
                );
            }
            assert_eq!(
                snap.first_replies(team),
                plain.first_replies(team),
                "{team}"
            );
        }
        let by_queue = Snapshot::read_queue(
            store.as_ref(),
            open.iter()
                .filter(|c| c.state == CaseState::Queued)
                .map(|c| (c.team.as_str(), c.id)),
            now,
        );
        for team in ["billing", "tech", "nobody"] {
            for id in 0..8 {
                assert_eq!(by_queue.queue_ahead(team, id), plain.queue_ahead(team, id));
            }
            assert_eq!(by_queue.first_replies(team), plain.first_replies(team));
        }
        assert_eq!(snap.queue_ahead("billing", 4), 2);
        assert_eq!(
            snap.first_replies("billing"),
            vec![Duration::from_millis(500), Duration::from_millis(900)]
        );
    }
}

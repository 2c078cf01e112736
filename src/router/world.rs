//! The state machine's view of everything outside one conversation, read
//! from the store: case numbers, queue positions, recent first-reply times
//! and a customer's earlier cases.

use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::{Millis, UserRef};

use crate::case::{CaseId, CaseState, PreviousCase};
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
}

impl World for StoreWorld {
    fn next_case_id(&self) -> Option<CaseId> {
        self.store
            .next_case_id()
            .map_err(|e| tracing::error!(error = %e, "cannot allocate a case number"))
            .ok()
    }

    fn queue_ahead(&self, team: &str, case: CaseId) -> usize {
        match self.store.open_cases() {
            Ok(cases) => cases
                .iter()
                .filter(|c| c.id < case && c.state == CaseState::Queued && c.team == team)
                .count(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queue");
                0
            }
        }
    }

    fn first_replies(&self, team: &str) -> Vec<Duration> {
        let cases = match self.store.cases_since(self.now - HISTORY_MS) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read recent cases");
                return Vec::new();
            }
        };
        let mut samples: Vec<Duration> = cases
            .iter()
            .rev()
            .filter(|c| c.team == team)
            .filter_map(|c| {
                let reply = c.first_human_reply_at?;
                Some(Duration::from_millis((reply - c.opened_at).max(0) as u64))
            })
            .take(SAMPLES)
            .collect();
        samples.reverse();
        samples
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
            .filter_map(|id| self.store.case(id).ok().flatten())
            .map(|c| PreviousCase::of(&c))
            .collect()
    }
}

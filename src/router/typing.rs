//! Passing signals: an agent typing on a case's current desk is shown at
//! the customer's endpoint ("the team is typing"), where their network
//! shows typing. Never stored, never queued, never retried: a typing
//! notice that is late is worse than none, so a failure is only logged.
//!
//! Checked where it is acted on, like any agent action: only an agent of
//! the case's team ([`crate::conversation::Engine::is_agent`]) on the desk of a case that is
//! open is shown; anyone else typing there is ignored.

use std::time::Duration;

use handoff_bridge_api::Inbound;

use super::Router;

/// How long a bridge may take to show a typing notice before it is
/// given up.
const TYPING_TIMEOUT: Duration = Duration::from_secs(5);

impl Router {
    /// Shows the customer of the case on `ev`'s desk that its agent is
    /// typing (`on`) or stopped; does nothing anywhere else.
    pub(super) fn typing(&self, ev: &Inbound, on: bool) {
        let case = match self.current_case(&ev.endpoint) {
            Ok(Some(id)) => self.shared.store.case_head(id),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let case = match case {
            Ok(Some(case)) => case,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the case of a typing notice; ignored");
                return;
            }
        };
        if !case.state.is_open() || !self.shared.engine.is_agent(&case.team, &ev.sender) {
            return;
        }
        let to = case.customer.endpoint;
        let Some(bridge) = self.shared.bridges.get(&to.network).cloned() else {
            return;
        };
        if !bridge.capabilities().typing {
            return;
        }
        tokio::spawn(async move {
            match tokio::time::timeout(TYPING_TIMEOUT, bridge.typing(&to, on)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, at = %to, "typing notice not shown"),
                Err(_) => tracing::debug!(at = %to, "typing notice timed out"),
            }
        });
    }
}

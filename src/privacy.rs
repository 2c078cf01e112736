//! Privacy duties on the store: the retention period (`[privacy] keep`)
//! and erasing a person (`handoff forget --customer`).
//!
//! Both are planned here as a [`Plan`]: a [`Erasure`] (one atomic
//! write) and the conversations whose workers must hold still while it is
//! written, so that no cached state is written back over it (the daemon
//! runs plans through `Router::erase`; a stopped daemon's store takes the
//! erasure directly).
//!
//! - **Retention**: a case closed more than `keep` ago loses every turn's
//!   text (who and when stay, so reports keep their figures) and the twins
//!   of its messages; a conversation whose customer last wrote more than
//!   `keep` ago, with no open case, is removed with its bot turns.
//! - **Forget**: every case of the person keeps its number, team, times
//!   and rating, but their id, name and room become `erased-<case>` and
//!   every turn loses its text; their conversations, pending and parked
//!   deliveries and the twins of their messages go. A person with an open
//!   case is refused (resolve it first), since the desk is still talking
//!   to them. What was already posted on a network (the summary and the
//!   relayed lines in a case room or thread, the customer's own room) is
//!   the network's to delete: the report says so.

use std::collections::BTreeSet;
use std::fmt;

use handoff_bridge_api::{Endpoint, MessageRef, Millis};

use crate::case::{Case, CaseId, Conversation, ConversationKey, Speaker, Turn};
use crate::store::{Erased, Erasure, Store, StoreError};

/// An erasure and the conversations to hold while it is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub erasure: Erasure,
    /// Conversations whose state the erasure changes (removed, or owning
    /// an erased case), under their keys before the erasure.
    pub hold: Vec<ConversationKey>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.erasure == Erasure::default()
    }
}

/// Why a person cannot be forgotten now.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "case #{case} of {who} is still open; resolve it first (the desk is still talking to them)"
    )]
    OpenCase { who: String, case: CaseId },
    #[error("{0:?} names nobody: give a user id (\"@carol:example.org\") or network:id (\"matrix:@carol:example.org\")")]
    Empty(String),
}

/// What `handoff forget` did, for its report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Forgotten {
    /// The person as asked for.
    pub who: String,
    /// The cases erased, by number.
    pub cases: Vec<CaseId>,
    pub erased: Erased,
}

impl fmt::Display for Forgotten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.erased;
        if self.cases.is_empty() && e.conversations == 0 {
            return writeln!(f, "nothing stored about {}", self.who);
        }
        let cases: Vec<String> = self.cases.iter().map(|c| format!("#{c}")).collect();
        writeln!(f, "forgot {}:", self.who)?;
        writeln!(
            f,
            "  cases erased: {} ({}): customer id, name and room replaced, {} transcript line(s) emptied",
            self.cases.len(),
            if cases.is_empty() { "none".into() } else { cases.join(", ") },
            e.turns
        )?;
        writeln!(f, "  conversations removed: {}", e.conversations)?;
        writeln!(
            f,
            "  deliveries dropped (pending or parked): {}",
            e.outbox_entries
        )?;
        writeln!(f, "  message links removed: {}", e.twins)?;
        writeln!(f, "  bridge records removed: {}", e.bridge_records)?;
        writeln!(
            f,
            "  not erased here: what was already posted on the networks (case rooms and threads, the customer's own room); delete it there"
        )
    }
}

/// What a retention run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub cases: usize,
    pub conversations: usize,
}

/// Where a network keeps something of a customer: `(bridge, key)` of
/// the bridge records for `user` at `endpoint` (the composition file's
/// `bridges::customer_records` in the daemon).
pub type Records<'a> = &'a dyn Fn(&Endpoint, &str) -> Vec<(String, String)>;

/// Plans erasing `who` ("network:id", or a user id on any network).
pub fn plan_forget(
    store: &dyn Store,
    who: &str,
    now: Millis,
    records: Records<'_>,
) -> Result<(Plan, Vec<CaseId>), ForgetError> {
    let who = who.trim();
    let (network, id) = match who.split_once(':') {
        // A Matrix id has colons too: only a known prefix without '@'.
        Some((n, rest)) if !n.is_empty() && !n.starts_with('@') && !rest.is_empty() => {
            (Some(n), rest)
        }
        _ => (None, who),
    };
    if id.is_empty() {
        return Err(ForgetError::Empty(who.to_string()));
    }
    let theirs = |user: &handoff_bridge_api::UserRef| {
        user.id == id && network.is_none_or(|n| user.network == n)
    };
    let conversations: Vec<Conversation> = store
        .conversations()?
        .into_iter()
        .filter(|c| theirs(&c.customer.user))
        .collect();
    let heads: Vec<Case> = store
        .cases_since(Millis::MIN)?
        .into_iter()
        .filter(|c| theirs(&c.customer.user))
        .collect();
    if let Some(open) = heads.iter().find(|c| c.state.is_open()) {
        return Err(ForgetError::OpenCase {
            who: who.to_string(),
            case: open.id,
        });
    }
    let mut plan = Plan::default();
    let mut hold = BTreeSet::new();
    for conv in &conversations {
        hold.insert(conv.key.clone());
        plan.erasure.conversations.push(conv.key.clone());
        plan.erasure
            .bridge_records
            .extend(records(&conv.customer.endpoint, &conv.customer.user.id));
        plan.erasure
            .messages
            .extend(sources(&conv.turns, &conv.customer.endpoint, None));
    }
    let mut ids = Vec::new();
    for head in heads {
        let Some(case) = store.case(head.id)? else {
            continue;
        };
        hold.insert(case.conversation.clone());
        plan.erasure.conversations.push(case.conversation.clone());
        ids.push(case.id);
        plan.erasure.messages.extend(case_sources(&case));
        plan.erasure
            .bridge_records
            .extend(records(&case.customer.endpoint, &case.customer.user.id));
        plan.erasure.cases.push(erase_person(case, now));
    }
    plan.erasure.conversations.sort();
    plan.erasure.conversations.dedup();
    plan.erasure.bridge_records.sort();
    plan.erasure.bridge_records.dedup();
    plan.hold = hold.into_iter().collect();
    Ok((plan, ids))
}

/// Plans the retention run at `now`: cases closed at or before
/// `now - keep` and not yet erased, conversations idle as long with no
/// open case.
pub fn plan_expiry(store: &dyn Store, keep_ms: Millis, now: Millis) -> Result<Plan, StoreError> {
    let cutoff = now.saturating_sub(keep_ms);
    let mut plan = Plan::default();
    let mut hold = BTreeSet::new();
    for head in store.cases_since(Millis::MIN)? {
        let expired = head.erased_at.is_none()
            && !head.state.is_open()
            && head.closed_at.is_some_and(|at| at <= cutoff);
        if !expired {
            continue;
        }
        let Some(mut case) = store.case(head.id)? else {
            continue;
        };
        hold.insert(case.conversation.clone());
        plan.erasure.messages.extend(case_sources(&case));
        case.transcript.iter_mut().for_each(Turn::erase);
        case.erased_at = Some(now);
        plan.erasure.cases.push(case);
    }
    for conv in store.conversations()? {
        let linked_open = match conv.case {
            Some(id) => store.case_head(id)?.is_some_and(|c| c.state.is_open()),
            None => false,
        };
        if conv.last_customer_at <= cutoff && !linked_open {
            hold.insert(conv.key.clone());
            plan.erasure
                .messages
                .extend(sources(&conv.turns, &conv.customer.endpoint, None));
            plan.erasure.conversations.push(conv.key);
        }
    }
    plan.hold = hold.into_iter().collect();
    Ok(plan)
}

/// Counts of a written expiry plan, for the log.
pub fn expired(plan: &Plan) -> Expired {
    Expired {
        cases: plan.erasure.cases.len(),
        conversations: plan.erasure.conversations.len(),
    }
}

/// `case` with its customer replaced by `erased-<case>` and every turn's
/// text gone.
fn erase_person(mut case: Case, now: Millis) -> Case {
    let label = format!("erased-{}", case.id);
    let network = case.customer.user.network.clone();
    case.customer.user = handoff_bridge_api::UserRef {
        network: network.clone(),
        id: label.clone(),
        display_name: None,
        is_bot: false,
        standing: Default::default(),
    };
    case.customer.endpoint = Endpoint::new(network, label);
    case.customer.encrypted = false;
    case.conversation = ConversationKey::new(&case.customer.endpoint, &case.customer.user);
    case.transcript.iter_mut().for_each(Turn::erase);
    case.erased_at = Some(now);
    case
}

/// The network messages a case's turns record: the customer's in their
/// room, the desk's in the case room or thread.
fn case_sources(case: &Case) -> Vec<MessageRef> {
    let desk = case.desk.as_ref().map(|d| &d.endpoint);
    sources(&case.transcript, &case.customer.endpoint, desk)
}

fn sources(turns: &[Turn], customer: &Endpoint, desk: Option<&Endpoint>) -> Vec<MessageRef> {
    turns
        .iter()
        .filter_map(|t| {
            let id = t.source.as_ref()?;
            let endpoint = match t.speaker {
                Speaker::Customer => customer,
                _ => desk?,
            };
            Some(MessageRef {
                endpoint: endpoint.clone(),
                id: id.clone(),
            })
        })
        .collect()
}

/// Writes `plan` straight to `store` (the daemon is stopped, or a test).
pub fn apply(store: &dyn Store, plan: &Plan) -> Result<Erased, StoreError> {
    if plan.is_empty() {
        return Ok(Erased::default());
    }
    store.erase(&plan.erasure)
}

/// Plans and writes erasing `who` on a store no daemon holds.
pub fn forget(
    store: &dyn Store,
    who: &str,
    now: Millis,
    records: Records<'_>,
) -> Result<Forgotten, ForgetError> {
    let (plan, cases) = plan_forget(store, who, now, records)?;
    let erased = apply(store, &plan)?;
    Ok(Forgotten {
        who: who.trim().to_string(),
        cases,
        erased,
    })
}

#[cfg(test)]
mod tests;

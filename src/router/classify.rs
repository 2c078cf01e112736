//! Classification: which conversation an inbound event belongs to and
//! what it means there (a customer's message, an agent's action on a
//! case, a notice on a former desk, or nothing). Roles come from what an
//! endpoint is (a configured customer place, a current or former desk),
//! never from what it is not right now.

use handoff_bridge_api::{Endpoint, Inbound, InboundKind, MessageRef};

use super::{roles, Router};
use crate::case::{Case, CaseId, CaseState, ConversationKey, Customer};
use crate::conversation::{AgentEvent, CustomerEvent, Event};
use crate::store::StoreError;

/// What an inbound event is for.
pub(super) enum Classified {
    /// An event of the conversation, what it means there, and (for
    /// customer events) who the customer is.
    Event(ConversationKey, Box<Event>, Option<Box<Customer>>),
    /// Someone wrote on a former desk of a case (closed, or moved
    /// elsewhere): the case's conversation posts `notice` there once.
    Notice {
        conversation: ConversationKey,
        case: CaseId,
        at: handoff_bridge_api::Endpoint,
        notice: String,
    },
}

impl Router {
    /// Which conversation an event belongs to, and what it means there.
    /// Roles come from what the endpoint is, never from what it is not
    /// right now: a desk (current or former, see [`roles`]) never speaks
    /// for a customer.
    pub(super) fn classify(&self, ev: &Inbound) -> Result<Option<Classified>, StoreError> {
        let store = &self.shared.store;
        if let Some(case_id) = self.current_case(&ev.endpoint)? {
            let Some(case) = store.case_head(case_id)? else {
                return Ok(None);
            };
            if !case.state.is_open() && case.state != CaseState::Abandoned {
                return Ok(self.notice(ev, &case, None));
            }
            return Ok(self.agent_event(ev, case));
        }
        match roles::lookup(store.as_ref(), &ev.endpoint)? {
            Some(roles::Role::Case(id)) => {
                let Some(case) = store.case_head(id)? else {
                    return Ok(None);
                };
                let moved_to = (case.state.is_open() || case.state == CaseState::Abandoned)
                    .then(|| case.team.clone());
                return Ok(self.notice(ev, &case, moved_to));
            }
            // Staff chatter outside the case threads of a staff room.
            Some(roles::Role::StaffRoom) => return Ok(None),
            None => {}
        }
        self.customer_event(ev)
    }

    /// The case whose current desk `endpoint` is, if any.
    pub(super) fn current_case(&self, endpoint: &Endpoint) -> Result<Option<CaseId>, StoreError> {
        let store = &self.shared.store;
        Ok(match store.case_by_desk(endpoint)? {
            Some(id) => Some(id),
            // A native thread inside a case room is the case room.
            None if endpoint.thread.is_some() => store.case_by_desk(&Endpoint::new(
                endpoint.network.clone(),
                endpoint.room.clone(),
            ))?,
            None => None,
        })
    }

    /// The notice for someone writing on a former desk of `case`: it moved
    /// to the team `moved_to`, or it is closed. Only messages and files
    /// get one (not reactions, edits, joins), and only the first since
    /// the case last changed (see [`roles::notice_due`]).
    pub(super) fn notice(
        &self,
        ev: &Inbound,
        case: &Case,
        moved_to: Option<String>,
    ) -> Option<Classified> {
        if !matches!(
            ev.kind,
            InboundKind::Message { .. } | InboundKind::Attachment { .. }
        ) {
            return None;
        }
        let notice = match moved_to {
            Some(team) => format!(
                "case #{} moved to {team}; it continues on that team's desk",
                case.id
            ),
            None => format!(
                "case #{} is resolved; nothing written here reaches the customer",
                case.id
            ),
        };
        match roles::notice_due(self.shared.store.as_ref(), &ev.endpoint, &notice) {
            Ok(true) => Some(Classified::Notice {
                conversation: case.conversation.clone(),
                case: case.id,
                at: ev.endpoint.clone(),
                notice,
            }),
            Ok(false) => None,
            Err(e) => {
                // A lost notice costs nothing but the explanation.
                tracing::warn!(error = %e, "cannot record the notice on a former desk; not sent");
                None
            }
        }
    }

    /// An event on the current desk of the open case `case`.
    pub(super) fn agent_event(&self, ev: &Inbound, case: Case) -> Option<Classified> {
        let msg = |id: &str| MessageRef {
            endpoint: ev.endpoint.clone(),
            id: id.to_string(),
        };
        let event = match &ev.kind {
            InboundKind::Message { id, body, reply_to } => AgentEvent::Message {
                msg: msg(id),
                text: body.clone(),
                reply_to: reply_to.as_deref().map(msg),
            },
            InboundKind::Edit { target, body } => AgentEvent::Edit {
                target: msg(target),
                text: body.clone(),
            },
            InboundKind::Delete { target } => AgentEvent::Delete {
                target: msg(target),
            },
            InboundKind::Reaction { id, target, key } => AgentEvent::Reaction {
                reaction: msg(id),
                target: msg(target),
                key: key.clone(),
            },
            InboundKind::Attachment { id, file } => AgentEvent::File {
                msg: msg(id),
                file: file.clone(),
            },
            InboundKind::Button { action, value } => AgentEvent::Button {
                action: action.clone(),
                value: value.clone(),
            },
            InboundKind::Joined => {
                let agents = self
                    .shared
                    .engine
                    .config
                    .team(&case.team)
                    .map(|t| t.agents.clone())
                    .unwrap_or_default();
                if !agents.is_empty() && !agents.contains(&ev.sender.id) {
                    tracing::warn!(user = %ev.sender.id, case = case.id, "a user who is not an agent of the team joined the case room; their messages are ignored");
                }
                return None;
            }
            InboundKind::Left | InboundKind::Typing { .. } => return None,
        };
        Some(Classified::Event(
            case.conversation,
            Box::new(Event::Agent {
                agent: ev.sender.clone(),
                event,
            }),
            None,
        ))
    }

    /// An event where customers talk to the bot.
    pub(super) fn customer_event(&self, ev: &Inbound) -> Result<Option<Classified>, StoreError> {
        let msg = |id: &str| MessageRef {
            endpoint: ev.endpoint.clone(),
            id: id.to_string(),
        };
        let customer = Customer {
            user: ev.sender.clone(),
            endpoint: ev.endpoint.clone(),
            encrypted: ev.encrypted,
        };
        let key = ConversationKey::new(&customer.endpoint, &customer.user);
        let event = match &ev.kind {
            InboundKind::Message { id, body, reply_to } => CustomerEvent::Message {
                msg: msg(id),
                text: body.clone(),
                reply_to: reply_to.as_deref().map(msg),
            },
            InboundKind::Edit { target, body } => CustomerEvent::Edit {
                target: msg(target),
                text: body.clone(),
            },
            InboundKind::Delete { target } => CustomerEvent::Delete {
                target: msg(target),
            },
            InboundKind::Reaction { id, target, key } => CustomerEvent::Reaction {
                reaction: msg(id),
                target: msg(target),
                key: key.clone(),
            },
            InboundKind::Attachment { id, file } => CustomerEvent::File {
                msg: msg(id),
                file: file.clone(),
            },
            InboundKind::Left => CustomerEvent::Left,
            InboundKind::Joined | InboundKind::Button { .. } | InboundKind::Typing { .. } => {
                return Ok(None)
            }
        };
        // Customers live only where their network says so: a message in a
        // room that is no customer's (a staff room before its first case,
        // a desk channel outside case threads) is staff chatter.
        if !ev.customer_endpoint || !self.is_customer_network(&ev.endpoint.network) {
            return Ok(None);
        }
        Ok(Some(Classified::Event(
            key,
            Box::new(Event::Customer(event)),
            Some(Box::new(customer)),
        )))
    }

    /// Whether customers write on `network`: its bridge says so in its
    /// [`handoff_bridge_api::Capabilities`].
    pub(super) fn is_customer_network(&self, network: &str) -> bool {
        self.shared
            .bridges
            .get(network)
            .is_some_and(|b| b.capabilities().customers)
    }
}

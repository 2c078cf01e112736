//! Turns a queued [`Effect`] into a concrete bridge action at delivery
//! time: which network, which room or thread, which twin message an edit,
//! delete, reaction or reply refers to.
//!
//! Resolving late is what lets a relay queued before its case room exists
//! go to that room once it does. Pure apart from reading the store.

use handoff_bridge_api::{Action, Endpoint, MessageRef, Outgoing, Text};

use crate::case::{Case, Conversation, OutboxEntry};
use crate::conversation::{Effect, Relayed, Side};
use crate::store::{Store, StoreError};

/// What to remember once the action is delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Nothing,
    /// Map this source message to the delivered one.
    Map(MessageRef),
    /// The case room/thread now exists: feed it back to the state machine.
    CaseOpened(u64),
}

/// A resolved effect.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Deliver {
        network: String,
        outgoing: Box<Outgoing>,
        after: After,
    },
    /// Nothing can be done (no twin, no desk): logged and dropped.
    Skip(String),
}

/// Resolves `entry` for the conversation `conv` and its current case.
pub fn resolve(
    entry: &OutboxEntry,
    conv: &Conversation,
    case: Option<&Case>,
    store: &dyn Store,
) -> Result<Resolved, StoreError> {
    let deliver = |to: &Endpoint, action: Action, after: After| Resolved::Deliver {
        network: to.network.clone(),
        outgoing: Box::new(Outgoing {
            key: entry.key.clone(),
            action,
        }),
        after,
    };
    let desk = || case.and_then(|c| c.desk.as_ref());
    Ok(match &entry.effect {
        Effect::Say { text, choices } => {
            let to = &conv.customer.endpoint;
            let body = Text::plain(text.clone());
            let action = if choices.is_empty() {
                Action::Send {
                    to: to.clone(),
                    body,
                    reply_to: None,
                    as_name: None,
                }
            } else {
                Action::Ask {
                    to: to.clone(),
                    body,
                    choices: choices.clone(),
                }
            };
            deliver(to, action, After::Nothing)
        }
        Effect::OpenCase {
            case,
            network,
            desk,
            summary,
        } => Resolved::Deliver {
            network: network.clone(),
            outgoing: Box::new(Outgoing {
                key: entry.key.clone(),
                action: Action::OpenCase {
                    desk: desk.clone(),
                    summary: summary.clone(),
                },
            }),
            after: After::CaseOpened(*case),
        },
        Effect::UpdateSummary {
            message, summary, ..
        } => match message
            .clone()
            .or_else(|| desk().map(|d| d.summary.clone()))
        {
            Some(m) => deliver(
                &m.endpoint.clone(),
                Action::UpdateSummary {
                    summary_message: m,
                    summary: summary.clone(),
                },
                After::Nothing,
            ),
            None => Resolved::Skip("the case has no desk to update".into()),
        },
        Effect::Notify {
            text, mention, at, ..
        } => match at.clone().or_else(|| desk().map(|d| d.endpoint.clone())) {
            Some(to) => deliver(
                &to,
                Action::Notify {
                    to: to.clone(),
                    body: Text::plain(text.clone()),
                    mention: mention.clone(),
                },
                After::Nothing,
            ),
            None => Resolved::Skip("the case has no desk to notify".into()),
        },
        Effect::CloseDesk { desk, .. } => deliver(
            desk,
            Action::CloseCase { desk: desk.clone() },
            After::Nothing,
        ),
        Effect::ReopenDesk { desk, .. } => deliver(
            desk,
            Action::ReopenCase { desk: desk.clone() },
            After::Nothing,
        ),
        Effect::Explain { user, text, .. } => match desk() {
            Some(d) => deliver(
                &d.endpoint,
                Action::Explain {
                    to: d.endpoint.clone(),
                    user: user.clone(),
                    body: Text::plain(text.clone()),
                },
                After::Nothing,
            ),
            None => Resolved::Skip("the case has no desk to explain at".into()),
        },
        Effect::Relay { to, item, .. } => {
            let target = match to {
                Side::Customer => conv.customer.endpoint.clone(),
                Side::Desk => match desk() {
                    Some(d) => d.endpoint.clone(),
                    None => return Ok(Resolved::Skip("the case has no desk yet".into())),
                },
            };
            relay(&target, item, store, &deliver)?
        }
    })
}

fn relay(
    to: &Endpoint,
    item: &Relayed,
    store: &dyn Store,
    deliver: &dyn Fn(&Endpoint, Action, After) -> Resolved,
) -> Result<Resolved, StoreError> {
    let skip = |what: &str| Resolved::Skip(format!("no twin of the {what} on {to}"));
    Ok(match item {
        Relayed::Message {
            source,
            text,
            from,
            reply_to,
        } => {
            let reply_to = match reply_to {
                Some(r) => twin_on(store, r, to)?.map(|m| m.id),
                None => None,
            };
            deliver(
                to,
                Action::Send {
                    to: to.clone(),
                    body: text.clone(),
                    reply_to,
                    as_name: Some(from.clone()),
                },
                After::Map(source.clone()),
            )
        }
        // Edits, deletes and reactions act only on a line of this
        // conversation: its twin must be where this conversation's lines
        // go (room and thread), so in a shared customer room (or a staff
        // room with a thread per case) nobody rewrites another's line.
        Relayed::Edit { target, text } => match own_twin_on(store, target, to)? {
            Some(t) => deliver(
                to,
                Action::Edit {
                    target: t,
                    body: text.clone(),
                },
                After::Nothing,
            ),
            None => skip("edited message"),
        },
        Relayed::Delete { target } => match own_twin_on(store, target, to)? {
            Some(t) => deliver(to, Action::Delete { target: t }, After::Nothing),
            None => skip("deleted message"),
        },
        Relayed::Reaction {
            source,
            target,
            key,
        } => match own_twin_on(store, target, to)? {
            Some(t) => deliver(
                to,
                Action::React {
                    target: t,
                    key: key.clone(),
                },
                After::Map(source.clone()),
            ),
            None => skip("message reacted to"),
        },
        Relayed::File { source, file, from } => deliver(
            to,
            Action::Upload {
                to: to.clone(),
                file: file.clone(),
                as_name: Some(from.clone()),
            },
            After::Map(source.clone()),
        ),
    })
}

/// The twin of `m` in the room of `to`.
fn twin_on(
    store: &dyn Store,
    m: &MessageRef,
    to: &Endpoint,
) -> Result<Option<MessageRef>, StoreError> {
    Ok(store
        .twins(m)?
        .into_iter()
        .find(|t| t.endpoint.network == to.network && t.endpoint.room == to.room))
}

/// The twin of `m` at `to` itself: in its room and, when `to` is a thread
/// (a case thread on a shared desk), in that thread.
fn own_twin_on(
    store: &dyn Store,
    m: &MessageRef,
    to: &Endpoint,
) -> Result<Option<MessageRef>, StoreError> {
    let twin = twin_on(store, m, to)?;
    Ok(twin.filter(|t| to.thread.is_none() || t.endpoint.thread == to.thread))
}

#[cfg(test)]
mod tests;

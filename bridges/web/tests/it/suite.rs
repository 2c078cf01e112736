//! The web widget bridge against `bridge_suite!`, as a customer-only
//! network: each test runs in a fresh visitor session, driven through
//! real WebSockets. The visitor is a verified user (so the sender id is
//! the same in every session); whoever holds a session's token sees its
//! conversation, so `Outsider` reads the same session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bridge_suite::{bridge_suite, Harness, Person};
use handoff_bridge_api::{Bridge, Endpoint, InboundReceiver, MemoryState};
use handoff_web::protocol::{ClientFrame, EntryKind, ServerFrame};

use crate::common::{self, user, Client, Running};

const VISITOR: &str = "suite-visitor";

/// The suite polls with a new connection each time: no rate limits.
fn settings() -> handoff_web::WebSettings {
    let mut s = common::settings();
    s.limits.ip_per_minute = 100_000;
    s.limits.session_per_minute = 100_000;
    s
}

pub struct WebHarness {
    state: Arc<MemoryState>,
    running: Option<Running>,
    tokens: Mutex<HashMap<String, String>>,
    ids: AtomicU64,
}

impl WebHarness {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    fn token(&self, at: &Endpoint) -> String {
        self.tokens
            .lock()
            .unwrap()
            .get(&at.room)
            .cloned()
            .unwrap_or_else(|| panic!("no session {at}"))
    }

    fn new_id(&self) -> String {
        format!("m{}", self.ids.fetch_add(1, Ordering::Relaxed))
    }

    /// A connection to `at`'s session with nothing replayed.
    async fn tab(&self, at: &Endpoint) -> Client {
        let token = self.token(at);
        let (c, hello) = Client::join(
            self.running().addr,
            Some(&token),
            Some(u64::MAX),
            Some(user(VISITOR, "Vera")),
        )
        .await;
        assert_eq!(hello.session, at.room, "the same session");
        c
    }

    async fn frame(&self, at: &Endpoint, frame: ClientFrame, id: &str) {
        let mut c = self.tab(at).await;
        c.send(&frame).await;
        let f = c
            .until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await;
        assert_eq!(f, ServerFrame::Ack { id: id.into() });
        c.close().await;
    }
}

#[async_trait::async_trait]
impl Harness for WebHarness {
    async fn start() -> Self {
        let state = Arc::new(MemoryState::default());
        let running = Running::start(settings(), state.clone()).await;
        WebHarness {
            state,
            running: Some(running),
            tokens: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(0),
        }
    }

    fn customers_only() -> bool {
        true
    }

    async fn conversation(&self, _n: u32) -> Endpoint {
        let (c, hello) =
            Client::join(self.running().addr, None, None, Some(user(VISITOR, "Vera"))).await;
        c.close().await;
        self.tokens
            .lock()
            .unwrap()
            .insert(hello.session.clone(), hello.token);
        Endpoint::new("web", hello.session)
    }

    fn bridge(&self) -> Arc<dyn Bridge> {
        self.running().bridge.clone()
    }

    fn inbound(&mut self) -> &mut InboundReceiver {
        &mut self.running.as_mut().expect("running").rx
    }

    fn desk_room(&self) -> String {
        // Never used: a customer-only network runs in conversations.
        String::new()
    }

    fn user_id(&self, who: Person) -> String {
        match who {
            Person::Agent => VISITOR.into(),
            Person::Outsider => "suite-outsider".into(),
        }
    }

    async fn write(&self, _who: Person, at: &Endpoint, text: &str) -> String {
        let id = self.new_id();
        self.frame(
            at,
            ClientFrame::Message {
                id: id.clone(),
                text: text.into(),
            },
            &id,
        )
        .await;
        format!("v-{id}")
    }

    async fn edit(&self, _who: Person, at: &Endpoint, target: &str, text: &str) {
        let id = self.new_id();
        let frame = ClientFrame::Edit {
            id: id.clone(),
            target: target.into(),
            text: text.into(),
        };
        self.frame(at, frame, &id).await;
    }

    async fn delete(&self, _who: Person, at: &Endpoint, target: &str) {
        let id = self.new_id();
        let frame = ClientFrame::Delete {
            id: id.clone(),
            target: target.into(),
        };
        self.frame(at, frame, &id).await;
    }

    async fn react(&self, _who: Person, at: &Endpoint, target: &str, key: &str) {
        let id = self.new_id();
        let frame = ClientFrame::React {
            id: id.clone(),
            target: target.into(),
            key: key.into(),
        };
        self.frame(at, frame, &id).await;
    }

    async fn visible(&self, _who: Person, at: &Endpoint) -> Vec<String> {
        let token = self.token(at);
        let (c, hello) = Client::join(
            self.running().addr,
            Some(&token),
            None,
            Some(user(VISITOR, "Vera")),
        )
        .await;
        c.close().await;
        // What the widget shows: messages in order, edited and deleted.
        let mut shown: Vec<(Option<String>, String)> = Vec::new();
        for e in hello.replay {
            match e.kind {
                EntryKind::Message { id, text, .. } => shown.push((Some(id), text)),
                EntryKind::Notice { text } => shown.push((None, text)),
                EntryKind::Edit { target, text } => {
                    for (id, t) in &mut shown {
                        if id.as_deref() == Some(target.as_str()) {
                            *t = text.clone();
                        }
                    }
                }
                EntryKind::Delete { target } => {
                    shown.retain(|(id, _)| id.as_deref() != Some(target.as_str()))
                }
            }
        }
        shown.into_iter().map(|(_, t)| t).collect()
    }

    async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.running = Some(Running::start(settings(), self.state.clone()).await);
    }

    fn state(&self) -> Arc<MemoryState> {
        self.state.clone()
    }
}

bridge_suite!(WebHarness);

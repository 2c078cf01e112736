//! The Matrix bridge against `bridge_suite!` (the conformance tests every
//! bridge passes through the contract alone), on a real Synapse. The desk
//! is a staff room (cases as threads) the agent created with the bot and
//! an outsider invited.

use std::sync::Arc;

use bridge_suite::{bridge_suite, Harness, Person};
use handoff_bridge_api::{Bridge, Endpoint, InboundReceiver};
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::{Annotation, Thread};
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::{EventId, OwnedEventId, OwnedRoomId, RoomId, UserId};
use synapse_testkit::{Synapse, TestClient};

use crate::common::{self, MemState, Running};

pub struct MatrixHarness {
    synapse: Synapse,
    data: tempfile::TempDir,
    state: Arc<MemState>,
    running: Option<Running>,
    agent: TestClient,
    outsider: TestClient,
    staff: OwnedRoomId,
}

impl MatrixHarness {
    fn who(&self, who: Person) -> &TestClient {
        match who {
            Person::Agent => &self.agent,
            Person::Outsider => &self.outsider,
        }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    async fn start_bridge(&mut self) {
        let mut cfg = common::config(&self.synapse, self.data.path());
        cfg.desk_rooms = vec![self.staff.to_string()];
        self.running = Some(Running::start_tracked(cfg, self.state.clone()).await);
    }
}

fn room_id(at: &Endpoint) -> OwnedRoomId {
    RoomId::parse(&at.room).expect("a room id")
}

fn event_id(id: &str) -> OwnedEventId {
    EventId::parse(id).expect("an event id")
}

/// Puts `content` in `at`'s thread, if it has one.
fn in_thread(mut content: RoomMessageEventContent, at: &Endpoint) -> RoomMessageEventContent {
    if let Some(root) = &at.thread {
        let root = event_id(root);
        content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root)));
    }
    content
}

#[async_trait::async_trait]
impl Harness for MatrixHarness {
    async fn start() -> Self {
        let synapse = common::server().await;
        let agent = common::user(&synapse, "alice").await;
        let outsider = common::user(&synapse, "olga").await;
        let bot = UserId::parse(format!("@helper:{}", synapse.server_name())).expect("bot id");
        let staff = agent
            .create_room("staff", &[bot, outsider.user_id().to_owned()])
            .await
            .expect("staff room");
        outsider.join(&staff).await.expect("outsider joins");
        let mut h = MatrixHarness {
            synapse,
            data: tempfile::tempdir().expect("tempdir"),
            state: Arc::new(MemState::default()),
            running: None,
            agent,
            outsider,
            staff,
        };
        h.start_bridge().await;
        h
    }

    fn bridge(&self) -> Arc<dyn Bridge> {
        self.running().bridge.clone()
    }

    fn inbound(&mut self) -> &mut InboundReceiver {
        &mut self.running.as_mut().expect("running").rx
    }

    fn desk_room(&self) -> String {
        self.staff.to_string()
    }

    fn user_id(&self, who: Person) -> String {
        self.who(who).user_id().to_string()
    }

    async fn write(&self, who: Person, at: &Endpoint, text: &str) -> String {
        let room = self.who(who).room(&room_id(at)).expect("room");
        let content = in_thread(RoomMessageEventContent::text_plain(text), at);
        room.send(content)
            .await
            .expect("send")
            .response
            .event_id
            .to_string()
    }

    async fn edit(&self, who: Person, at: &Endpoint, id: &str, text: &str) {
        let room = self.who(who).room(&room_id(at)).expect("room");
        let content = RoomMessageEventContent::text_plain(text)
            .make_replacement(ReplacementMetadata::new(event_id(id), None));
        room.send(content).await.expect("edit");
    }

    async fn delete(&self, who: Person, at: &Endpoint, id: &str) {
        let room = self.who(who).room(&room_id(at)).expect("room");
        room.redact(&event_id(id), None, None)
            .await
            .expect("redact");
    }

    async fn react(&self, who: Person, at: &Endpoint, id: &str, key: &str) {
        let room = self.who(who).room(&room_id(at)).expect("room");
        room.send(ReactionEventContent::new(Annotation::new(
            event_id(id),
            key.to_string(),
        )))
        .await
        .expect("react");
    }

    async fn visible(&self, who: Person, at: &Endpoint) -> Vec<String> {
        let client = self.who(who);
        client
            .messages(&room_id(at))
            .into_iter()
            .filter(|m| match &at.thread {
                None => true,
                Some(root) => {
                    m.event_id.as_str() == root
                        || matches!(&m.event.content.relates_to,
                            Some(Relation::Thread(t)) if t.event_id.as_str() == root)
                }
            })
            .map(|m| m.body)
            .collect()
    }

    fn state(&self) -> Arc<MemState> {
        self.state.clone()
    }

    async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.start_bridge().await;
    }
}

bridge_suite!(MatrixHarness);

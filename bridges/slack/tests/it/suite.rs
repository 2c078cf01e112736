//! The Slack bridge against `bridge_suite!` (the conformance tests every
//! bridge passes through the contract alone), on the Slack emulator.

use std::sync::Arc;

use bridge_suite::{bridge_suite, Harness, Person};
use handoff_bridge_api::{Bridge, Endpoint, InboundReceiver};
use handoff_slack::SlackBridge;
use slack_emulator::{Emulator, EmulatorConfig};
use tokio::task::JoinHandle;

use crate::common::{self, MemState, WAIT};

pub struct SlackHarness {
    emu: Emulator,
    state: Arc<MemState>,
    bridge: Arc<SlackBridge>,
    rx: InboundReceiver,
    task: JoinHandle<()>,
    channel: String,
    agent: String,
    outsider: String,
}

async fn running(
    emu: &Emulator,
    state: &Arc<MemState>,
) -> (Arc<SlackBridge>, InboundReceiver, JoinHandle<()>) {
    let bridge = common::bridge(emu, state.clone()).await;
    let (tx, rx) = handoff_bridge_api::inbound_channel(256);
    let b = bridge.clone();
    let task = tokio::spawn(async move {
        let _ = b.run(tx).await;
    });
    emu.wait_for_sockets(1, WAIT)
        .await
        .expect("socket connects");
    (bridge, rx, task)
}

impl SlackHarness {
    fn who(&self, who: Person) -> &str {
        match who {
            Person::Agent => &self.agent,
            Person::Outsider => &self.outsider,
        }
    }
}

#[async_trait::async_trait]
impl Harness for SlackHarness {
    async fn start() -> Self {
        let emu = common::emulator(EmulatorConfig::default()).await;
        let channel = emu.add_channel("desk");
        let agent = emu.add_user("Alice", false);
        let outsider = emu.add_user("Olga", false);
        // A channel member (the emulator makes whoever acts a member).
        emu.post_as(&outsider, &channel, None, "hi all")
            .expect("the outsider joins the desk channel");
        let state = Arc::new(MemState::default());
        let (bridge, rx, task) = running(&emu, &state).await;
        SlackHarness {
            emu,
            state,
            bridge,
            rx,
            task,
            channel,
            agent,
            outsider,
        }
    }

    fn bridge(&self) -> Arc<dyn Bridge> {
        self.bridge.clone()
    }

    fn inbound(&mut self) -> &mut InboundReceiver {
        &mut self.rx
    }

    fn desk_room(&self) -> String {
        self.channel.clone()
    }

    fn user_id(&self, who: Person) -> String {
        self.who(who).to_string()
    }

    async fn write(&self, who: Person, at: &Endpoint, text: &str) -> String {
        self.emu
            .post_as(self.who(who), &at.room, at.thread.as_deref(), text)
            .expect("post")
    }

    async fn edit(&self, who: Person, at: &Endpoint, id: &str, text: &str) {
        self.emu
            .edit_as(self.who(who), &at.room, id, text)
            .expect("edit");
    }

    async fn delete(&self, who: Person, at: &Endpoint, id: &str) {
        self.emu
            .delete_as(self.who(who), &at.room, id)
            .expect("delete");
    }

    async fn react(&self, who: Person, at: &Endpoint, id: &str, key: &str) {
        let name = emojis::get(key)
            .and_then(|e| e.shortcode())
            .expect("an emoji with a Slack name");
        self.emu
            .react_as(self.who(who), &at.room, id, name)
            .expect("react");
    }

    async fn visible(&self, who: Person, at: &Endpoint) -> Vec<String> {
        let who = self.who(who);
        let mut seen: Vec<String> = match &at.thread {
            Some(ts) => self.emu.thread(&at.room, ts),
            None => self.emu.messages(&at.room),
        }
        .into_iter()
        .map(|m| m.text)
        .collect();
        seen.extend(
            self.emu
                .ephemerals(&at.room)
                .into_iter()
                .filter(|e| e.user == who && e.thread_ts == at.thread)
                .map(|e| e.text),
        );
        seen
    }

    fn state(&self) -> Arc<MemState> {
        self.state.clone()
    }

    async fn restart(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        let (bridge, rx, task) = running(&self.emu, &self.state).await;
        self.bridge = bridge;
        self.rx = rx;
        self.task = task;
    }
}

bridge_suite!(SlackHarness);

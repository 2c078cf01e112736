//! The router shell with the in-memory store and a recording bridge: the
//! plumbing (dedupe, commit, ordered delivery, twins, retries, case-room
//! feedback) without a network. Real networks are covered by the
//! integration tests against Synapse and the Slack emulator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoff_bridge_api::*;

use super::*;
use crate::fixtures::{config_with, engine, engine_with, FAQ, MINUTE, T0};
use crate::store::memory::MemoryStore;
use crate::store::StoreError;

/// Records actions; answers like a network would; can fail on demand.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Outgoing>>,
    by_key: Mutex<HashMap<String, Delivered>>,
    fail_next: AtomicU32,
    /// Answer every send with `Auth` (a revoked token).
    revoked: std::sync::atomic::AtomicBool,
    /// Sends into this room are rate limited (a slow network there).
    stalled_room: Mutex<Option<String>>,
    counter: AtomicU32,
    /// Cases opened so far: the n-th private room is `!case{n}:localhost`.
    opened: AtomicU32,
    /// Typing notices shown, in order.
    typing: Mutex<Vec<(Endpoint, bool)>>,
}

#[async_trait::async_trait]
impl Bridge for Recorder {
    fn network(&self) -> &str {
        "matrix"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            customers: true,
            typing: true,
            ..Capabilities::default()
        }
    }
    async fn run(&self, _inbound: InboundSender) -> Result<(), BridgeError> {
        Ok(())
    }
    async fn typing(&self, to: &Endpoint, on: bool) -> Result<(), BridgeError> {
        self.typing.lock().unwrap().push((to.clone(), on));
        Ok(())
    }
    async fn send(&self, out: &Outgoing) -> Result<Delivered, BridgeError> {
        if self.revoked.load(Ordering::SeqCst) {
            return Err(BridgeError::Auth {
                network: "matrix".into(),
                detail: "token revoked".into(),
            });
        }
        let to_room = match &out.action {
            Action::Send { to, .. } => Some(to.room.clone()),
            _ => None,
        };
        if to_room.is_some() && *self.stalled_room.lock().unwrap() == to_room {
            return Err(BridgeError::RateLimited {
                network: "matrix".into(),
                retry_after_ms: 20,
            });
        }
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(BridgeError::RateLimited {
                network: "matrix".into(),
                retry_after_ms: 5,
            });
        }
        if let Some(d) = self.by_key.lock().unwrap().get(&out.key) {
            return Ok(d.clone());
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let d = match &out.action {
            Action::OpenCase { desk, .. } => {
                let n = self.opened.fetch_add(1, Ordering::SeqCst) + 1;
                let room = match desk {
                    DeskTarget::PrivateRoom { .. } => {
                        Endpoint::new("matrix", format!("!case{n}:localhost"))
                    }
                    DeskTarget::Thread { room } => {
                        Endpoint::new("matrix", room.as_str()).in_thread(format!("$root{n}"))
                    }
                };
                Delivered::CaseOpened {
                    summary: MessageRef {
                        endpoint: room.clone(),
                        id: "$summary".into(),
                    },
                    endpoint: room,
                }
            }
            Action::Send { to, .. } => Delivered::Message(MessageRef {
                endpoint: to.clone(),
                id: format!("$out{n}"),
            }),
            _ => Delivered::Done,
        };
        self.sent.lock().unwrap().push(out.clone());
        self.by_key
            .lock()
            .unwrap()
            .insert(out.key.clone(), d.clone());
        Ok(d)
    }
}

struct Fixture {
    router: Router,
    bridge: Arc<Recorder>,
    store: Arc<dyn Store>,
}

fn fixture() -> Fixture {
    fixture_on(Arc::new(MemoryStore::new()))
}

fn fixture_on(store: Arc<dyn Store>) -> Fixture {
    fixture_with(store, engine(), Arc::new(SystemClock))
}

/// [`fixture_with`] on the SALES config (a team with an SLA) and `clock`.
fn sales_fixture(store: Arc<dyn Store>, clock: &Arc<TestClock>) -> Fixture {
    fixture_with(store, engine_with(config_with(SALES)), clock.clone())
}

fn fixture_with(store: Arc<dyn Store>, engine: Engine, clock: Arc<dyn Clock>) -> Fixture {
    let _ = FAQ;
    let bridge = Arc::new(Recorder::default());
    let mut bridges: HashMap<String, Arc<dyn Bridge>> = HashMap::new();
    bridges.insert("matrix".into(), bridge.clone());
    let router = Router::new(Shared {
        engine: Arc::new(engine),
        store: store.clone(),
        bridges,
        clock,
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            max: Duration::from_millis(10),
        },
    });
    Fixture {
        router,
        bridge,
        store,
    }
}

fn inbound(id: &str, room: &str, sender: &str, text: &str) -> Inbound {
    Inbound {
        event_id: id.into(),
        endpoint: Endpoint::new("matrix", room),
        sender: UserRef {
            network: "matrix".into(),
            id: sender.into(),
            display_name: None,
            is_bot: false,
            // As the Matrix bridge reports every sender in a room.
            standing: handoff_bridge_api::Standing::Member { groups: Vec::new() },
        },
        at: 0,
        kind: InboundKind::Message {
            id: id.into(),
            body: Text::plain(text),
            reply_to: None,
        },
        customer_endpoint: true,
        encrypted: false,
    }
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn texts(b: &Recorder) -> Vec<String> {
    b.sent
        .lock()
        .unwrap()
        .iter()
        .filter_map(|o| match &o.action {
            Action::Send { body, .. } => Some(body.plain.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn handover_relay_edit_and_dedupe() {
    let f = fixture();
    let customer_room = "!support:localhost";
    f.router
        .dispatch(inbound(
            "$1",
            customer_room,
            "@carol:localhost",
            "I want to talk to a human",
        ))
        .await;
    until("the case room", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.desk.is_some())
    })
    .await;
    // A redelivery of the same event is not handled again.
    f.router
        .dispatch(inbound(
            "$1",
            customer_room,
            "@carol:localhost",
            "I want to talk to a human",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$2",
            customer_room,
            "@carol:localhost",
            "my order is late",
        ))
        .await;
    until("the relay to the desk", || {
        texts(&f.bridge).iter().any(|t| t == "my order is late")
    })
    .await;
    // The agent answers in the case room; it reaches the customer.
    f.router
        .dispatch(inbound(
            "$3",
            "!case1:localhost",
            "@alice:localhost",
            "Sorry! Looking now.",
        ))
        .await;
    until("the relay to the customer", || {
        texts(&f.bridge).iter().any(|t| t == "Sorry! Looking now.")
    })
    .await;
    // The agent edits; the edit targets the twin in the customer room.
    let mut edit = inbound("$4", "!case1:localhost", "@alice:localhost", "");
    edit.kind = InboundKind::Edit {
        target: "$3".into(),
        body: Text::plain("Sorry! On it."),
    };
    f.router.dispatch(edit).await;
    until("the edit", || {
        f.bridge.sent.lock().unwrap().iter().any(|o| {
            matches!(&o.action, Action::Edit { target, body }
                if target.endpoint.room == customer_room && body.plain == "Sorry! On it.")
        })
    })
    .await;
    let opened = f
        .bridge
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|o| matches!(o.action, Action::OpenCase { .. }))
        .count();
    assert_eq!(opened, 1, "one case room");
    assert_eq!(
        texts(&f.bridge)
            .iter()
            .filter(|t| t.starts_with("I'm bringing in"))
            .count(),
        1,
        "the redelivered request was not handled twice"
    );
    assert!(f.store.outbox_pending().unwrap().is_empty());
}

#[tokio::test]
async fn rate_limits_are_waited_out_in_order() {
    let f = fixture();
    f.bridge.fail_next.store(3, Ordering::SeqCst);
    for (i, text) in ["what are your opening hours", "how long does shipping take"]
        .iter()
        .enumerate()
    {
        f.router
            .dispatch(inbound(
                &format!("$q{i}"),
                "!support:localhost",
                "@dave:localhost",
                text,
            ))
            .await;
    }
    until("both answers", || texts(&f.bridge).len() == 2).await;
    assert_eq!(
        texts(&f.bridge),
        vec!["Mon to Fri, 9 to 5.", "2 to 4 working days."]
    );
    assert!(f.store.outbox_pending().unwrap().is_empty());
}

#[tokio::test]
async fn strangers_in_a_case_room_are_not_relayed() {
    let f = fixture();
    f.router
        .dispatch(inbound(
            "$1",
            "!support:localhost",
            "@carol:localhost",
            "human",
        ))
        .await;
    until("the case room", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.desk.is_some())
    })
    .await;
    f.router
        .dispatch(inbound(
            "$2",
            "!case1:localhost",
            "@mallory:localhost",
            "give me your data",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$3",
            "!case1:localhost",
            "@alice:localhost",
            "hello from Alice",
        ))
        .await;
    until("alice's relay", || {
        texts(&f.bridge).iter().any(|t| t == "hello from Alice")
    })
    .await;
    assert!(!texts(&f.bridge)
        .iter()
        .any(|t| t.contains("give me your data")));
    assert!(
        f.store.is_seen("$2").unwrap(),
        "refused events are still marked handled"
    );
}

/// The in-memory store, whose writes fail like a full disk while `full`,
/// whose commits wait while `stall` is set, and which
/// counts conversation and open-case reads.
#[derive(Default)]
struct DiskFull {
    inner: MemoryStore,
    full: std::sync::atomic::AtomicBool,
    stall: std::sync::atomic::AtomicBool,
    conversation_reads: std::sync::atomic::AtomicU64,
    open_case_reads: std::sync::atomic::AtomicU64,
}

impl DiskFull {
    fn check(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "/full".into(),
                op: "committing",
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        Ok(())
    }
}

impl Store for DiskFull {
    fn commit(&self, c: &crate::store::Commit) -> Result<Vec<u64>, StoreError> {
        while self.stall.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.check()?;
        self.inner.commit(c)
    }
    fn is_seen(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.is_seen(id)
    }
    fn conversation(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<crate::case::Conversation>, StoreError> {
        self.conversation_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.conversation(key)
    }
    fn conversations(&self) -> Result<Vec<crate::case::Conversation>, StoreError> {
        self.inner.conversations()
    }
    fn next_case_id(&self) -> Result<crate::case::CaseId, StoreError> {
        self.check()?;
        self.inner.next_case_id()
    }
    fn case(&self, id: crate::case::CaseId) -> Result<Option<crate::case::Case>, StoreError> {
        self.inner.case(id)
    }
    fn case_head(&self, id: crate::case::CaseId) -> Result<Option<crate::case::Case>, StoreError> {
        self.inner.case_head(id)
    }
    fn case_by_desk(&self, e: &Endpoint) -> Result<Option<crate::case::CaseId>, StoreError> {
        self.inner.case_by_desk(e)
    }
    fn cases_of_customer(
        &self,
        network: &str,
        user: &str,
    ) -> Result<Vec<crate::case::CaseId>, StoreError> {
        self.inner.cases_of_customer(network, user)
    }
    fn open_cases(&self) -> Result<Vec<crate::case::Case>, StoreError> {
        self.open_case_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.open_cases()
    }
    fn cases_since(&self, since: Millis) -> Result<Vec<crate::case::Case>, StoreError> {
        self.inner.cases_since(since)
    }
    fn twins(&self, m: &MessageRef) -> Result<Vec<MessageRef>, StoreError> {
        self.inner.twins(m)
    }
    fn outbox_pending(&self) -> Result<Vec<(u64, crate::case::OutboxEntry)>, StoreError> {
        self.inner.outbox_pending()
    }
    fn outbox_update(&self, seq: u64, e: &crate::case::OutboxEntry) -> Result<(), StoreError> {
        self.check()?;
        self.inner.outbox_update(seq, e)
    }
    fn outbox_done(
        &self,
        seq: u64,
        mappings: &[(MessageRef, MessageRef)],
        cases: &[crate::case::Case],
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.outbox_done(seq, mappings, cases)
    }
    fn outbox_park(&self, seq: u64, reason: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.outbox_park(seq, reason)
    }
    fn outbox_parked(&self) -> Result<Vec<(u64, crate::store::Parked)>, StoreError> {
        self.inner.outbox_parked()
    }
    fn outbox_unpark(&self, seq: u64) -> Result<(), StoreError> {
        self.check()?;
        self.inner.outbox_unpark(seq)
    }
    fn bridge_get(&self, bridge: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.bridge_get(bridge, key)
    }
    fn bridge_put(&self, bridge: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.bridge_put(bridge, key, value)
    }
    fn bridge_delete(&self, bridge: &str, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.bridge_delete(bridge, key)
    }
    fn prune_seen(&self, older_than: Millis) -> Result<usize, StoreError> {
        self.inner.prune_seen(older_than)
    }
    fn erase(&self, e: &crate::store::Erasure) -> Result<crate::store::Erased, StoreError> {
        self.check()?;
        self.inner.erase(e)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_is_behind_holds_up_the_intake_instead_of_queueing_without_bound() {
    let store = Arc::new(DiskFull::default());
    let f = fixture_on(store.clone());
    let hello = |i: usize| {
        inbound(
            &format!("$m{i}"),
            "!flood:localhost",
            "@flo:localhost",
            "hi",
        )
    };
    store.stall.store(true, Ordering::SeqCst);
    // The worker takes the first event and waits in its commit; the
    // queue then holds JOB_QUEUE more.
    for i in 0..=super::worker::JOB_QUEUE {
        tokio::time::timeout(Duration::from_secs(10), f.router.dispatch(hello(i)))
            .await
            .unwrap_or_else(|_| panic!("event {i} fits in the queue"));
    }
    let over = f.router.dispatch(hello(999));
    tokio::pin!(over);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut over)
            .await
            .is_err(),
        "the intake waits while the worker is a full queue behind"
    );
    store.stall.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), over)
        .await
        .expect("taken once the worker catches up");
    until("every event handled", || {
        (0..=super::worker::JOB_QUEUE)
            .map(|i| format!("$m{i}"))
            .chain(["$m999".to_string()])
            .all(|id| f.store.is_seen(&id).unwrap())
    })
    .await;
}

async fn dispatch_acked(router: &Router, ev: Inbound) -> bool {
    let (tx, mut rx) = inbound_channel(1);
    let handled = tx.send_tracked(ev).await.unwrap();
    let incoming = rx.recv_tracked().await.unwrap();
    router.dispatch_tracked(incoming.event, incoming.ack).await;
    tokio::time::timeout(Duration::from_secs(10), handled.wait())
        .await
        .expect("the ack is fired or dropped")
}

#[tokio::test]
async fn events_are_acknowledged_once_stored_and_never_on_a_store_failure() {
    let store = Arc::new(DiskFull::default());
    let f = fixture_on(store.clone());
    let room = "!support:localhost";
    let mut failures = f.router.failures();

    let first = inbound("$1", room, "@carol:localhost", "how do i reset my password");
    assert!(
        dispatch_acked(&f.router, first.clone()).await,
        "stored, so acknowledged"
    );
    assert!(f.store.is_seen("$1").unwrap());
    // Seen before (a redelivery after a restart): acknowledged, not redone.
    assert!(dispatch_acked(&f.router, first).await);
    assert!(failures.borrow().is_none());

    // The disk fills: the event is not acknowledged and the daemon is told.
    store.full.store(true, Ordering::SeqCst);
    let second = inbound(
        "$2",
        room,
        "@carol:localhost",
        "where can i find my invoice",
    );
    assert!(!dispatch_acked(&f.router, second.clone()).await);
    tokio::time::timeout(Duration::from_secs(10), failures.changed())
        .await
        .expect("a failure is reported")
        .unwrap();
    let failure = failures.borrow().clone().expect("failure text");
    assert!(
        failure.contains("/full") && failure.contains("committing"),
        "{failure}"
    );
    assert!(!f.store.is_seen("$2").unwrap(), "nothing half-written");

    // Space again, handoff restarted: the bridge offers the event again and
    // it is answered then.
    store.full.store(false, Ordering::SeqCst);
    let restarted = fixture_on(store.clone());
    assert!(dispatch_acked(&restarted.router, second).await);
    until("the bot's reply to the second message", || {
        !texts(&restarted.bridge).is_empty()
    })
    .await;
}

#[tokio::test]
async fn revoked_credentials_stop_the_daemon_and_keep_the_outbox() {
    let f = fixture();
    let mut failures = f.router.failures();
    f.bridge.revoked.store(true, Ordering::SeqCst);
    f.router
        .dispatch(inbound(
            "$1",
            "!support:localhost",
            "@carol:localhost",
            "how do i reset my password",
        ))
        .await;
    tokio::time::timeout(Duration::from_secs(10), failures.changed())
        .await
        .expect("the failure is reported")
        .unwrap();
    let failure = failures.borrow().clone().unwrap_or_default();
    assert!(failure.contains("token revoked"), "{failure}");
    // Not dropped as failed for good: delivered after the restart.
    assert_eq!(f.store.outbox_pending().unwrap().len(), 1);
    f.bridge.revoked.store(false, Ordering::SeqCst);
    let restarted = Router::new(Shared {
        engine: f.router.shared().engine.clone(),
        store: f.store.clone(),
        bridges: f.router.shared().bridges.clone(),
        clock: Arc::new(SystemClock),
        retry: RetryPolicy::default(),
    });
    assert_eq!(restarted.drain_outbox().await.unwrap(), 1);
    until("the answer after the restart", || {
        !texts(&f.bridge).is_empty()
    })
    .await;
    until("the outbox drained", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_stalled_customer_room_does_not_hold_up_the_desk() {
    let f = fixture();
    let customer_room = "!support:localhost";
    f.router
        .dispatch(inbound(
            "$1",
            customer_room,
            "@carol:localhost",
            "I want to talk to a human",
        ))
        .await;
    until("the case room", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.desk.is_some())
    })
    .await;
    until("the handover message", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
    // The customer's homeserver room stops taking messages: the agent's
    // reply waits there...
    *f.bridge.stalled_room.lock().unwrap() = Some(customer_room.into());
    f.router
        .dispatch(inbound(
            "$2",
            "!case1:localhost",
            "@alice:localhost",
            "Hello Carol",
        ))
        .await;
    // ...while the customer's next message still reaches the agents.
    f.router
        .dispatch(inbound(
            "$3",
            customer_room,
            "@carol:localhost",
            "are you there?",
        ))
        .await;
    until("the customer's line on the desk", || {
        texts(&f.bridge).iter().any(|t| t == "are you there?")
    })
    .await;
    assert!(!texts(&f.bridge).iter().any(|t| t == "Hello Carol"));
    // The room recovers; the waiting reply arrives, once.
    *f.bridge.stalled_room.lock().unwrap() = None;
    until("the agent's reply", || {
        texts(&f.bridge).iter().any(|t| t == "Hello Carol")
    })
    .await;
    until("the outbox drained", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        texts(&f.bridge)
            .iter()
            .filter(|t| *t == "Hello Carol")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_long_outage_keeps_at_most_a_lane_of_deliveries_in_memory_and_loses_none() {
    let lane = super::delivery::LANE_QUEUE;
    let f = fixture();
    escalate(&f, "carol", "I want to talk to a human", 1).await;
    let customer_room = "!carol:localhost";
    // The customer's room stops taking messages while the agent writes
    // two lanes' worth and more.
    *f.bridge.stalled_room.lock().unwrap() = Some(customer_room.into());
    let replies = 2 * lane + 10;
    for i in 0..replies {
        f.router
            .dispatch(inbound(
                &format!("$r{i}"),
                "!case1:localhost",
                "@alice:localhost",
                &format!("reply {i}"),
            ))
            .await;
    }
    until("every reply stored in the outbox", || {
        (0..replies).all(|i| f.store.is_seen(&format!("$r{i}")).unwrap())
    })
    .await;
    let (_, peak) = f.router.deliveries_queued();
    assert!(
        peak <= lane as u64,
        "at most one lane in memory during the outage, held {peak}"
    );
    assert!(
        f.store.outbox_pending().unwrap().len() >= replies,
        "what did not fit waits in the outbox"
    );
    // The room recovers: every reply arrives once, in order.
    *f.bridge.stalled_room.lock().unwrap() = None;
    until("the outbox drained", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
    let got: Vec<String> = texts(&f.bridge)
        .into_iter()
        .filter(|t| t.starts_with("reply "))
        .collect();
    let want: Vec<String> = (0..replies).map(|i| format!("reply {i}")).collect();
    assert_eq!(got, want, "each reply once, in the order written");
    assert_eq!(f.router.deliveries_queued().0, 0);
}

#[tokio::test]
async fn forgetting_a_customer_leaves_no_trace_in_the_store_or_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let sled = Arc::new(crate::store::sled::SledStore::open(dir.path().join("store")).unwrap());
    let f = fixture_on(sled.clone());
    let room = "!support:localhost";
    let carol = |id: &str, text: &str| {
        let mut ev = inbound(id, room, "@carol:localhost", text);
        ev.sender.display_name = Some("Carol Zanzibar".into());
        ev
    };
    f.router
        .dispatch(carol("$c1", "how do i reset my password"))
        .await;
    f.router
        .dispatch(carol(
            "$c2",
            "I want to talk to a human about order quokka-4711",
        ))
        .await;
    until("the case room", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.desk.is_some())
    })
    .await;
    f.router
        .dispatch(inbound(
            "$a1",
            "!case1:localhost",
            "@alice:localhost",
            "Hello Carol Zanzibar",
        ))
        .await;
    f.router
        .dispatch(carol("$c3", "my card ends in wombat-99"))
        .await;
    until("relayed both ways", || {
        f.store.outbox_pending().unwrap().is_empty()
            && texts(&f.bridge).iter().any(|t| t.contains("wombat-99"))
    })
    .await;
    f.router
        .dispatch(inbound(
            "$a2",
            "!case1:localhost",
            "@alice:localhost",
            "!resolve",
        ))
        .await;
    until("resolved", || !case_state(&f.store, 1).is_open()).await;
    // Someone else, who stays.
    f.router
        .dispatch(inbound(
            "$d1",
            "!dave:localhost",
            "@dave:localhost",
            "where can i find my invoice",
        ))
        .await;
    until("dave answered and everything delivered", || {
        f.store.is_seen("$d1").unwrap() && f.store.outbox_pending().unwrap().is_empty()
    })
    .await;

    // Event ids stay in the dedupe table until it is pruned: opaque ids,
    // not what the person said or who they are.
    let traces = ["@carol:localhost", "Zanzibar", "quokka-4711", "wombat-99"];
    // What the Matrix bridge keeps of a customer in a busy room.
    sled.bridge_put(
        "matrix",
        "matrix/thread/!support:localhost|@carol:localhost",
        b"$root",
    )
    .unwrap();
    let found =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    let raw = sled.raw_records().concat();
    for t in traces {
        assert!(
            found(&raw, t),
            "the test's premise: {t} is stored before forget"
        );
    }

    let now = f.router.shared.clock.now();
    let (plan, cases) = crate::privacy::plan_forget(
        f.store.as_ref(),
        "matrix:@carol:localhost",
        now,
        &crate::bridges::customer_records,
    )
    .unwrap();
    assert_eq!(cases, vec![1]);
    let erased = f.router.erase(&plan).await.unwrap();
    assert_eq!(erased.cases, 1);
    assert!(erased.conversations >= 1, "{erased:?}");
    assert!(
        erased.twins >= 2,
        "the relayed lines' links went: {erased:?}"
    );
    assert_eq!(erased.bridge_records, 1, "{erased:?}");

    let raw = sled.raw_records().concat();
    for t in traces {
        assert!(!found(&raw, t), "{t} is still in the store after forget");
    }
    assert!(found(&raw, "@dave:localhost"), "others are kept");
    let config = crate::fixtures::config_with("");
    for format in [
        crate::report::Format::Jsonl,
        crate::report::Format::Markdown,
        crate::report::Format::Csv,
    ] {
        let out = crate::report::export(
            f.store.as_ref(),
            &config,
            crate::report::Selection::Since(0),
            format,
            false,
        )
        .unwrap();
        for t in traces {
            assert!(!out.contains(t), "{t} in the {format:?} export:\n{out}");
        }
        assert!(out.contains("erased-1"), "the case stays, erased:\n{out}");
    }
    let case = f
        .store
        .case(1)
        .unwrap()
        .expect("case 1 is kept for the figures");
    assert!(case.erased_at.is_some());
    assert!(!case.state.is_open());

    // The bot still works, and the person starts afresh if they return.
    f.router
        .dispatch(carol("$c4", "how do i reset my password"))
        .await;
    until("a fresh conversation", || {
        f.store.is_seen("$c4").unwrap() && f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
    let back = f
        .store
        .conversations()
        .unwrap()
        .into_iter()
        .find(|c| c.customer.user.id == "@carol:localhost")
        .expect("the returning customer has a conversation");
    assert_eq!(back.case, None, "no link to the erased case");
}

#[tokio::test]
async fn a_customer_with_an_open_case_is_not_forgotten() {
    let f = fixture();
    escalate(&f, "erin", "I want to talk to a human", 1).await;
    let err =
        crate::privacy::plan_forget(f.store.as_ref(), "@erin:localhost", 0, &|_, _| Vec::new())
            .unwrap_err();
    assert!(
        matches!(err, crate::privacy::ForgetError::OpenCase { case: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("resolve it first"), "{err}");
    assert!(f.store.case(1).unwrap().unwrap().erased_at.is_none());
}

#[tokio::test]
async fn the_retention_period_empties_old_transcripts_and_keeps_the_figures() {
    let clock = Arc::new(TestClock(T0.into()));
    let f = fixture_with(Arc::new(MemoryStore::new()), engine(), clock.clone());
    let day = 24 * 60 * MINUTE;
    // Old: escalated, answered, resolved 400 days ago.
    escalate(&f, "olga", "I want to talk to a human about llama-77", 1).await;
    f.router
        .dispatch(inbound(
            "$o2",
            "!case1:localhost",
            "@alice:localhost",
            "Hi Olga",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$o3",
            "!case1:localhost",
            "@alice:localhost",
            "!resolve",
        ))
        .await;
    until("resolved", || !case_state(&f.store, 1).is_open()).await;
    // A year and more later: a fresh case, still open.
    clock.at(T0 + 400 * day);
    escalate(&f, "nina", "I want to talk to a human about emu-12", 2).await;

    let e = f
        .router
        .expire(Duration::from_secs(365 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(e.cases, 1, "{e:?}");
    assert_eq!(e.conversations, 1, "olga's idle conversation: {e:?}");
    let old = f.store.case(1).unwrap().unwrap();
    assert_eq!(old.erased_at, Some(T0 + 400 * day));
    assert!(!old.transcript.is_empty(), "who and when stay");
    assert!(
        old.transcript
            .iter()
            .all(|t| t.text.is_empty() && t.source.is_none()),
        "{:?}",
        old.transcript
    );
    assert_eq!(
        old.customer.user.id, "@olga:localhost",
        "retention keeps who it was"
    );
    assert!(old.first_human_reply_at.is_some(), "the figures stay");
    let new = f.store.case(2).unwrap().unwrap();
    assert!(new.transcript.iter().any(|t| t.text.contains("emu-12")));
    assert!(new.erased_at.is_none());
    // Run again: nothing more to do.
    let again = f
        .router
        .expire(Duration::from_secs(365 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(again, crate::privacy::Expired::default());
}

#[tokio::test]
async fn an_encrypted_customer_room_asks_for_an_encrypted_case_room() {
    let f = fixture();
    let desks = |b: &Recorder| -> Vec<DeskTarget> {
        b.sent
            .lock()
            .unwrap()
            .iter()
            .filter_map(|o| match &o.action {
                Action::OpenCase { desk, .. } => Some(desk.clone()),
                _ => None,
            })
            .collect()
    };
    let mut secret = inbound(
        "$e1",
        "!private:localhost",
        "@erin:localhost",
        "how do i reset my password",
    );
    secret.encrypted = true;
    f.router.dispatch(secret).await;
    // Later events need not say so again: the conversation remembers.
    f.router
        .dispatch(inbound(
            "$e2",
            "!private:localhost",
            "@erin:localhost",
            "I want to talk to a human",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$p1",
            "!plain:localhost",
            "@paul:localhost",
            "I want to talk to a human",
        ))
        .await;
    until("two cases opened", || desks(&f.bridge).len() == 2).await;
    let opened = desks(&f.bridge);
    assert!(
        opened.iter().any(|d| matches!(
            d,
            DeskTarget::PrivateRoom {
                encrypted: true,
                ..
            }
        )),
        "{opened:?}"
    );
    assert!(
        opened.iter().any(|d| matches!(
            d,
            DeskTarget::PrivateRoom {
                encrypted: false,
                ..
            }
        )),
        "{opened:?}"
    );
}

/// A clock the test moves.
struct TestClock(std::sync::atomic::AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    fn at(&self, t: Millis) {
        self.0.store(t, Ordering::SeqCst);
    }
}

/// A team on the Matrix desk with a 5-minute first-reply SLA and no
/// fallback (the fixture's SLA team is on Slack).
const SALES: &str = "[[team]]\nname = \"sales\"\ndesk = \"matrix\"\nagents = [\"@alice:localhost\"]\ntopics = [\"pricing\"]\nfirst_reply_sla = \"5m\"\n";

fn left(id: &str, room: &str, sender: &str) -> Inbound {
    let mut ev = inbound(id, room, sender, "");
    ev.kind = InboundKind::Left;
    ev
}

/// Customer `name` (in room `!name:localhost`) escalates with `text`;
/// waits until the case room is open and everything is delivered.
async fn escalate(f: &Fixture, name: &str, text: &str, case: crate::case::CaseId) {
    f.router
        .dispatch(inbound(
            &format!("${name}"),
            &format!("!{name}:localhost"),
            &format!("@{name}:localhost"),
            text,
        ))
        .await;
    until("the case room", || {
        f.store
            .case(case)
            .ok()
            .flatten()
            .is_some_and(|c| c.desk.is_some())
    })
    .await;
    until("the outbox drained", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
}

fn watched(r: &Router) -> usize {
    r.watches.lock().unwrap().len()
}

fn watch_of(r: &Router, key: &ConversationKey) -> Option<Watch> {
    r.watches.lock().unwrap().get(key).cloned()
}

fn workers(r: &Router) -> usize {
    r.workers.lock().unwrap().len()
}

fn count_texts(b: &Recorder, f: impl Fn(&str) -> bool) -> usize {
    texts(b).iter().filter(|t| f(t)).count()
}

/// How many desk notices contain `part`.
fn count_notices(b: &Recorder, part: &str) -> usize {
    b.sent
        .lock()
        .unwrap()
        .iter()
        .filter(|o| matches!(&o.action, Action::Notify { body, .. } if body.plain.contains(part)))
        .count()
}

fn case_state(store: &Arc<dyn Store>, id: crate::case::CaseId) -> crate::case::CaseState {
    store.case(id).unwrap().expect("the case").state
}

#[tokio::test]
async fn timer_ticks_wake_only_due_conversations() {
    let clock = Arc::new(TestClock(T0.into()));
    let store = Arc::new(DiskFull::default());
    let f = sales_fixture(store.clone(), &clock);
    // Case 1: sales (SLA 5 min); cases 2, 3, 4 queue for tech in order.
    escalate(&f, "anna", "agent: pricing", 1).await;
    for (i, name) in ["bert", "cleo", "dora"].into_iter().enumerate() {
        escalate(&f, name, "I want to talk to a human", 2 + i as u64).await;
    }
    assert_eq!(f.store.case(1).unwrap().unwrap().team, "sales");
    assert_eq!(f.store.case(4).unwrap().unwrap().told_position, Some(3));
    until("every worker published its watch", || {
        watched(&f.router) == 4
    })
    .await;

    // Nothing has run out and the queue has not moved: nobody is woken,
    // no conversation is read, and while no case is written the open
    // cases are not read again either.
    clock.at(T0 + MINUTE);
    let reads = store.conversation_reads.load(Ordering::SeqCst);
    assert_eq!(f.router.tick_open_cases(), 0);
    let open_reads = store.open_case_reads.load(Ordering::SeqCst);
    assert_eq!(f.router.tick_open_cases(), 0);
    assert_eq!(f.router.tick_open_cases(), 0);
    assert_eq!(f.router.ticks_sent(), 0);
    assert_eq!(store.conversation_reads.load(Ordering::SeqCst), reads);
    assert_eq!(store.open_case_reads.load(Ordering::SeqCst), open_reads);

    // Two customers ahead of dora leave: only dora's place improved by
    // the step (3 → 1), so only dora is woken, and told.
    f.router
        .dispatch(left("$bert-left", "!bert:localhost", "@bert:localhost"))
        .await;
    f.router
        .dispatch(left("$cleo-left", "!cleo:localhost", "@cleo:localhost"))
        .await;
    until("both abandoned", || {
        case_state(&f.store, 2) == crate::case::CaseState::Abandoned
            && case_state(&f.store, 3) == crate::case::CaseState::Abandoned
    })
    .await;
    until("the abandoned cases are no longer watched", || {
        watched(&f.router) == 2
    })
    .await;
    clock.at(T0 + 2 * MINUTE);
    assert_eq!(f.router.tick_open_cases(), 1);
    until("dora's queue update", || {
        count_texts(&f.bridge, |t| {
            t.starts_with("Quick update: you're now number 1 in line")
        }) == 1
    })
    .await;
    let dora = f.store.case(4).unwrap().unwrap().conversation;
    until("dora's new watch", || {
        matches!(watch_of(&f.router, &dora), Some(Watch::Known(Some(w)))
            if w.queue.as_ref().is_some_and(|q| q.told == 1))
    })
    .await;
    assert_eq!(f.store.case(4).unwrap().unwrap().told_position, Some(1));
    assert_eq!(f.router.tick_open_cases(), 0, "told: nothing more to say");

    // anna's SLA runs out: only anna is woken; the team is pinged once.
    clock.at(T0 + 5 * MINUTE);
    assert_eq!(f.router.tick_open_cases(), 1);
    until("the SLA notice", || {
        count_notices(&f.bridge, "waited past its first-reply SLA") == 1
    })
    .await;
    until("anna's watch again", || {
        f.router.watches.lock().unwrap().values().all(|w| {
            !matches!(w, Watch::Known(Some(w)) if w.due_at.is_some_and(|d| d <= T0 + 5 * MINUTE))
        }) && watched(&f.router) == 2
    })
    .await;
    assert!(f.store.case(1).unwrap().unwrap().overdue);
    assert_eq!(f.router.tick_open_cases(), 0);

    // Thirty silent minutes: both remaining customers are abandoned.
    clock.at(T0 + 30 * MINUTE);
    assert_eq!(f.router.tick_open_cases(), 2);
    until("both abandoned", || {
        case_state(&f.store, 1) == crate::case::CaseState::Abandoned
            && case_state(&f.store, 4) == crate::case::CaseState::Abandoned
    })
    .await;
    assert_eq!(f.router.tick_open_cases(), 0);
    assert_eq!(f.router.ticks_sent(), 4);
    assert_eq!(
        count_notices(&f.bridge, "waited past its first-reply SLA"),
        1
    );
    assert_eq!(count_texts(&f.bridge, |t| t.starts_with("Quick update")), 1);
}

/// Opens case 1 (anna, sales, SLA 5 min) and case 2 (bert, queued for
/// tech) and waits until the router watches both.
async fn anna_and_bert(f: &Fixture) {
    escalate(f, "anna", "agent: pricing", 1).await;
    escalate(f, "bert", "I want to talk to a human", 2).await;
    until("both watches", || watched(&f.router) == 2).await;
}

#[tokio::test]
async fn only_writes_that_change_the_open_case_list_make_a_tick_reread_it() {
    let clock = Arc::new(TestClock(T0.into()));
    let store = Arc::new(DiskFull::default());
    let f = sales_fixture(store.clone(), &clock);
    anna_and_bert(&f).await;
    clock.at(T0 + MINUTE);
    f.router.tick_open_cases();
    let open_reads = store.open_case_reads.load(Ordering::SeqCst);

    // A message in an open case adds a transcript turn, nothing more.
    let turns = f.store.case(1).unwrap().unwrap().transcript.len();
    f.router
        .dispatch(inbound(
            "$anna-again",
            "!anna:localhost",
            "@anna:localhost",
            "any news?",
        ))
        .await;
    until("anna's new turn", || {
        f.store.case(1).unwrap().unwrap().transcript.len() > turns
    })
    .await;
    f.router.tick_open_cases();
    assert_eq!(store.open_case_reads.load(Ordering::SeqCst), open_reads);

    // A case closing changes the list: the next tick reads it again.
    f.router
        .dispatch(left("$bert-left", "!bert:localhost", "@bert:localhost"))
        .await;
    until("bert abandoned", || {
        case_state(&f.store, 2) == crate::case::CaseState::Abandoned
    })
    .await;
    f.router.tick_open_cases();
    assert_eq!(store.open_case_reads.load(Ordering::SeqCst), open_reads + 1);
}

// Multi-threaded, as in the daemon: the tick's store reads then run in
// `block_in_place`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_open_cases_are_read_once_without_starting_workers() {
    let clock = Arc::new(TestClock(T0.into()));
    let store = Arc::new(DiskFull::default());
    let before = sales_fixture(store.clone(), &clock);
    anna_and_bert(&before).await;

    // Restarted: nothing known. The first tick reads each open case's
    // conversation once and wakes nobody; the next reads nothing.
    clock.at(T0 + MINUTE);
    let restarted = sales_fixture(store.clone(), &clock);
    let reads = store.conversation_reads.load(Ordering::SeqCst);
    assert_eq!(restarted.router.tick_open_cases(), 0);
    assert_eq!(store.conversation_reads.load(Ordering::SeqCst), reads + 2);
    assert_eq!(workers(&restarted.router), 0, "no worker started");
    assert_eq!(watched(&restarted.router), 2);
    assert_eq!(restarted.router.tick_open_cases(), 0);
    assert_eq!(store.conversation_reads.load(Ordering::SeqCst), reads + 2);

    // Restarted after anna's SLA ran out: the first tick finds her due
    // and wakes her worker only; the SLA notice goes out once.
    clock.at(T0 + 6 * MINUTE);
    let late = sales_fixture(store.clone(), &clock);
    assert_eq!(late.router.tick_open_cases(), 1);
    assert_eq!(workers(&late.router), 1);
    until("the SLA notice", || {
        count_notices(&late.bridge, "waited past its first-reply SLA") == 1
    })
    .await;
    until("anna's new watch", || {
        matches!(
            late.router.watches.lock().unwrap().get(
                &store.case(1).unwrap().unwrap().conversation
            ),
            Some(Watch::Known(Some(w))) if w.due_at == Some(T0 + 30 * MINUTE)
        )
    })
    .await;
    assert!(store.case(1).unwrap().unwrap().overdue);
    assert_eq!(late.router.tick_open_cases(), 0);
    assert_eq!(workers(&late.router), 1);
    assert_eq!(
        count_notices(&before.bridge, "waited past its first-reply SLA"),
        0
    );
}

#[tokio::test]
async fn a_job_on_its_way_to_the_worker_makes_the_next_tick_visit() {
    let clock = Arc::new(TestClock(T0.into()));
    let f = sales_fixture(Arc::new(MemoryStore::new()), &clock);
    escalate(&f, "anna", "agent: pricing", 1).await;
    let key = f.store.case(1).unwrap().unwrap().conversation;
    until("anna's watch", || watch_of(&f.router, &key).is_some()).await;
    clock.at(T0 + MINUTE);
    assert_eq!(f.router.tick_open_cases(), 0);
    // Deliveries change no state: the watch stays.
    f.router.send(key.clone(), Job::Deliver(Vec::new())).await;
    assert!(watch_of(&f.router, &key).is_some());
    // A customer message is handed over (this test's runtime has one
    // thread, so the worker has not run yet): the watch is dropped at
    // once, and a tick now asks the worker, as it would have before.
    f.router
        .dispatch(inbound(
            "$more",
            "!anna:localhost",
            "@anna:localhost",
            "hello?",
        ))
        .await;
    assert_eq!(watch_of(&f.router, &key), None);
    assert_eq!(f.router.tick_open_cases(), 1);
    until("the message relayed", || {
        texts(&f.bridge).iter().any(|t| t == "hello?")
    })
    .await;
    // anna wrote at T0 + 1 min: her abandonment moved; the SLA is first.
    until("anna's new watch", || {
        matches!(watch_of(&f.router, &key), Some(Watch::Known(Some(w)))
            if w.due_at == Some(T0 + 5 * MINUTE))
    })
    .await;
    assert_eq!(f.router.tick_open_cases(), 0);
}

/// What the bridge posted as notices at `room` (any thread) containing `part`.
fn notices_at(b: &Recorder, room: &str, part: &str) -> usize {
    b.sent
        .lock()
        .unwrap()
        .iter()
        .filter(|o| {
            matches!(&o.action, Action::Notify { to, body, .. }
                if to.room == room && body.plain.contains(part))
        })
        .count()
}

/// Whether a conversation exists for `user` at `endpoint` (a customer
/// conversation the router would have started).
fn has_conversation(store: &Arc<dyn Store>, endpoint: Endpoint, user: &str) -> bool {
    let user = UserRef {
        network: "matrix".into(),
        id: user.into(),
        display_name: None,
        is_bot: false,
        standing: Default::default(),
    };
    store
        .conversation(&ConversationKey::new(&endpoint, &user))
        .unwrap()
        .is_some()
}

/// The FAQ answer to "how do i reset my password".
const RESET_ANSWER: &str = "Use the Forgot password link.";

async fn settled(f: &Fixture, ids: &[&str]) {
    until("the events handled", || {
        ids.iter().all(|id| f.store.is_seen(id).unwrap())
    })
    .await;
    until("the outbox drained", || {
        f.store.outbox_pending().unwrap().is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_case_room_stays_a_desk_after_its_case_moves_or_closes() {
    let f = fixture_with(
        Arc::new(MemoryStore::new()),
        engine_with(config_with(SALES)),
        Arc::new(SystemClock),
    );
    escalate(&f, "carol", "I want to talk to a human", 1).await;
    // Two agents in the case room: both act on the case.
    f.router
        .dispatch(inbound(
            "$a1",
            "!case1:localhost",
            "@alice:localhost",
            "hello from Alice",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$b1",
            "!case1:localhost",
            "@bob:localhost",
            "hello from Bob",
        ))
        .await;
    until("both relays", || {
        let t = texts(&f.bridge);
        t.iter().any(|t| t == "hello from Alice") && t.iter().any(|t| t == "hello from Bob")
    })
    .await;
    f.router
        .dispatch(inbound(
            "$t",
            "!case1:localhost",
            "@alice:localhost",
            "!transfer sales",
        ))
        .await;
    until("the case in its new room", || {
        f.store
            .case(1)
            .unwrap()
            .and_then(|c| c.desk)
            .map(|d| d.endpoint.room)
            == Some("!case2:localhost".into())
    })
    .await;
    settled(&f, &["$t"]).await;
    let answers = count_texts(&f.bridge, |t| t == RESET_ANSWER);
    // The old room: a notice once, no FAQ, no new conversation.
    for (i, text) in ["how do i reset my password", "hello?", "!resolve"]
        .iter()
        .enumerate()
    {
        f.router
            .dispatch(inbound(
                &format!("$old{i}"),
                "!case1:localhost",
                "@bob:localhost",
                text,
            ))
            .await;
    }
    // Only the first gets a notice (a committed job); the others are
    // classified as nothing on the caller's thread, before dispatch returns.
    settled(&f, &["$old0"]).await;
    assert_eq!(
        notices_at(&f.bridge, "!case1:localhost", "case #1 moved to sales"),
        1
    );
    assert_eq!(
        count_texts(&f.bridge, |t| t == RESET_ANSWER),
        answers,
        "no FAQ answer"
    );
    assert!(!has_conversation(
        &f.store,
        Endpoint::new("matrix", "!case1:localhost"),
        "@bob:localhost"
    ));
    assert!(
        case_state(&f.store, 1).is_open(),
        "the old room's !resolve is not obeyed"
    );
    // Resolved in the new room: what follows there gets one notice.
    f.router
        .dispatch(inbound(
            "$r",
            "!case2:localhost",
            "@alice:localhost",
            "!resolve",
        ))
        .await;
    until("resolved", || !case_state(&f.store, 1).is_open()).await;
    for (i, text) in ["how do i reset my password", "one more thing"]
        .iter()
        .enumerate()
    {
        f.router
            .dispatch(inbound(
                &format!("$new{i}"),
                "!case2:localhost",
                "@alice:localhost",
                text,
            ))
            .await;
    }
    settled(&f, &["$new0"]).await;
    assert_eq!(
        notices_at(&f.bridge, "!case2:localhost", "case #1 is resolved"),
        1
    );
    assert_eq!(
        count_texts(&f.bridge, |t| t == RESET_ANSWER),
        answers,
        "no FAQ answer"
    );
    assert!(!has_conversation(
        &f.store,
        Endpoint::new("matrix", "!case2:localhost"),
        "@alice:localhost"
    ));
    // The customer gets FAQ answers again.
    f.router
        .dispatch(inbound(
            "$c",
            "!carol:localhost",
            "@carol:localhost",
            "how do i reset my password",
        ))
        .await;
    until("the customer's FAQ answer", || {
        count_texts(&f.bridge, |t| t == RESET_ANSWER) == answers + 1
    })
    .await;
}

#[tokio::test]
async fn staff_chatter_in_a_staff_room_desk_is_never_answered() {
    let staff =
        "[[team]]\nname = \"ops\"\ndesk = \"matrix:#staff:localhost\"\ntopics = [\"outage\"]\n";
    let f = fixture_with(
        Arc::new(MemoryStore::new()),
        engine_with(config_with(staff)),
        Arc::new(SystemClock),
    );
    escalate(&f, "carol", "there is an outage, I want a human", 1).await;
    let desk = f
        .store
        .case(1)
        .unwrap()
        .and_then(|c| c.desk)
        .expect("desk")
        .endpoint;
    assert_eq!(desk.room, "#staff:localhost");
    let answers = count_texts(&f.bridge, |t| t == RESET_ANSWER);
    // Top level, and a thread that is not a case's.
    let mut top = inbound(
        "$s1",
        &desk.room,
        "@dave:localhost",
        "how do i reset my password",
    );
    top.endpoint.thread = None;
    let mut other = inbound(
        "$s2",
        &desk.room,
        "@erin:localhost",
        "I want to talk to a human",
    );
    other.endpoint.thread = Some("$chat".into());
    f.router.dispatch(top).await;
    f.router.dispatch(other).await;
    // The case thread itself still relays.
    let mut reply = inbound("$s3", &desk.room, "@dave:localhost", "on it");
    reply.endpoint = desk.clone();
    f.router.dispatch(reply).await;
    until("the relay", || {
        texts(&f.bridge).iter().any(|t| t == "on it")
    })
    .await;
    // $s1 and $s2 are ignored before dispatch returns; $s3 is committed.
    settled(&f, &["$s3"]).await;
    assert_eq!(count_texts(&f.bridge, |t| t == RESET_ANSWER), answers);
    assert!(
        f.store.case(2).unwrap().is_none(),
        "no case opened for staff"
    );
    assert!(!has_conversation(
        &f.store,
        Endpoint::new("matrix", desk.room.as_str()),
        "@dave:localhost"
    ));
    assert_eq!(
        notices_at(&f.bridge, &desk.room, "case #"),
        0,
        "chatter gets no notice"
    );
}

#[tokio::test]
async fn a_room_no_bridge_calls_a_customers_is_never_answered() {
    let f = fixture_with(
        Arc::new(MemoryStore::new()),
        engine_with(config_with("")),
        Arc::new(SystemClock),
    );
    // A staff room the bot joined before any case was opened there.
    let mut chatter = inbound(
        "$x1",
        "!staff:localhost",
        "@dave:localhost",
        "how do i reset my password",
    );
    chatter.customer_endpoint = false;
    f.router.dispatch(chatter).await;
    // The same words from a customer room are answered.
    f.router
        .dispatch(inbound(
            "$x2",
            "!carol:localhost",
            "@carol:localhost",
            "how do i reset my password",
        ))
        .await;
    until("the customer's answer", || {
        count_texts(&f.bridge, |t| t == RESET_ANSWER) == 1
    })
    .await;
    settled(&f, &["$x2"]).await;
    assert_eq!(count_texts(&f.bridge, |t| t == RESET_ANSWER), 1);
    assert!(!has_conversation(
        &f.store,
        Endpoint::new("matrix", "!staff:localhost"),
        "@dave:localhost"
    ));
}

#[tokio::test]
async fn a_deleted_customer_line_is_gone_from_the_stored_transcript() {
    let f = fixture();
    let room = "!support:localhost";
    let carol = "@carol:localhost";
    f.router
        .dispatch(inbound("$1", room, carol, "I want to talk to a human"))
        .await;
    f.router
        .dispatch(inbound(
            "$2",
            room,
            carol,
            "my iban is DE44 5001 0517 5407 3249 31",
        ))
        .await;
    until("the line in the case", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.transcript.iter().any(|t| t.text.contains("DE44")))
    })
    .await;
    let mut delete = inbound("$3", room, carol, "");
    delete.kind = InboundKind::Delete {
        target: "$2".into(),
    };
    f.router.dispatch(delete).await;
    until("the line's text removed from the store", || {
        f.store.case(1).ok().flatten().is_some_and(|c| {
            c.transcript.iter().any(|t| t.deleted)
                && !c.transcript.iter().any(|t| t.text.contains("DE44"))
        })
    })
    .await;
}

#[tokio::test]
async fn a_line_deleted_after_its_case_closed_is_gone_from_that_case_too() {
    let f = fixture();
    escalate(&f, "carol", "I want to talk to a human", 1).await;
    let room = "!carol:localhost";
    let carol = "@carol:localhost";
    f.router
        .dispatch(inbound(
            "$iban",
            room,
            carol,
            "my iban is DE44 5001 0517 5407 3249 31",
        ))
        .await;
    f.router
        .dispatch(inbound(
            "$r",
            "!case1:localhost",
            "@alice:localhost",
            "!resolve",
        ))
        .await;
    until("resolved", || !case_state(&f.store, 1).is_open()).await;
    // A new stretch with the bot: the old case is no longer the
    // conversation's.
    f.router
        .dispatch(inbound("$q", room, carol, "how do i reset my password"))
        .await;
    until("unlinked", || {
        f.store.is_seen("$q").unwrap()
            && f.store
                .conversations()
                .unwrap()
                .iter()
                .any(|c| c.customer.user.id == carol && c.case.is_none())
    })
    .await;
    let mut delete = inbound("$del", room, carol, "");
    delete.kind = InboundKind::Delete {
        target: "$iban".into(),
    };
    f.router.dispatch(delete).await;
    until("the line's text removed from the closed case", || {
        f.store.is_seen("$del").unwrap()
            && f.store.case(1).ok().flatten().is_some_and(|c| {
                c.transcript.iter().any(|t| t.deleted)
                    && !c.transcript.iter().any(|t| t.text.contains("DE44"))
            })
    })
    .await;
    // Someone else's message id in another room is never touched.
    let mut other = inbound("$del2", "!dave:localhost", "@dave:localhost", "");
    other.kind = InboundKind::Delete {
        target: "$q".into(),
    };
    f.router.dispatch(other).await;
    until("handled", || f.store.is_seen("$del2").unwrap()).await;
    let kept = f.store.case(1).unwrap().unwrap();
    assert_eq!(kept.transcript.iter().filter(|t| t.deleted).count(), 1);
}

fn typing_at(id: &str, room: &str, sender: &str, on: bool) -> Inbound {
    let mut ev = inbound(id, room, sender, "");
    ev.kind = InboundKind::Typing { on };
    ev.customer_endpoint = false;
    ev
}

#[tokio::test]
async fn an_agent_typing_on_the_desk_is_shown_to_the_customer_and_nobody_else_is() {
    let f = fixture();
    escalate(&f, "carol", "I want to talk to a human", 1).await;
    let customer = Endpoint::new("matrix", "!carol:localhost");
    // A stranger in the case room, and the customer typing in their own
    // room, show nothing.
    f.router
        .dispatch(typing_at(
            "t0",
            "!case1:localhost",
            "@mallory:localhost",
            true,
        ))
        .await;
    f.router
        .dispatch(typing_at(
            "t1",
            "!carol:localhost",
            "@carol:localhost",
            true,
        ))
        .await;
    // An agent of the team does, on and off.
    f.router
        .dispatch(typing_at(
            "t2",
            "!case1:localhost",
            "@alice:localhost",
            true,
        ))
        .await;
    f.router
        .dispatch(typing_at(
            "t3",
            "!case1:localhost",
            "@alice:localhost",
            false,
        ))
        .await;
    until("both notices", || {
        f.bridge.typing.lock().unwrap().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        *f.bridge.typing.lock().unwrap(),
        vec![(customer.clone(), true), (customer, false)]
    );
    // Passing: nothing stored, so the same signal again is shown again.
    assert!(!f.store.is_seen("t2").unwrap());
    assert!(f.store.outbox_pending().unwrap().is_empty());
}

#[tokio::test]
async fn the_rating_question_offers_its_scores_as_choices() {
    let f = fixture();
    escalate(&f, "dora", "I want to talk to a human", 1).await;
    f.router
        .dispatch(inbound(
            "$r",
            "!case1:localhost",
            "@alice:localhost",
            "!resolve",
        ))
        .await;
    until("the rating question", || {
        f.bridge
            .sent
            .lock()
            .unwrap()
            .iter()
            .any(|o| matches!(o.action, Action::Ask { .. }))
    })
    .await;
    let sent = f.bridge.sent.lock().unwrap().clone();
    let (to, body, choices) = sent
        .iter()
        .find_map(|o| match &o.action {
            Action::Ask { to, body, choices } => Some((to, body, choices)),
            _ => None,
        })
        .unwrap();
    assert_eq!(to, &Endpoint::new("matrix", "!dora:localhost"));
    assert!(
        body.plain.contains("1"),
        "the text alone asks too: {body:?}"
    );
    let replies: Vec<&str> = choices.iter().map(|c| c.reply.as_str()).collect();
    assert_eq!(replies, ["1", "2", "3", "4", "5"]);
    // Pressing "4" sends "4": it is the rating.
    f.router
        .dispatch(inbound("$4", "!dora:localhost", "@dora:localhost", "4"))
        .await;
    until("the rating", || {
        f.store
            .case(1)
            .ok()
            .flatten()
            .is_some_and(|c| c.csat == Some(4))
    })
    .await;
}

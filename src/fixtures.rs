//! Test fixtures shared by unit tests: a config with a Slack team and a
//! Matrix team, a small FAQ, an engine, a fake [`World`], customers and
//! agents. Test-only.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use handoff_bridge_api::{Endpoint, MessageRef, Millis, Text, UserRef};

use crate::case::{CaseId, Customer, PreviousCase};
use crate::config::Config;
use crate::conversation::{AgentEvent, CustomerEvent, Engine, Event, World};
use crate::faq::Faq;

pub const CONFIG: &str = r#"
[bot]
name = "Helper"
store = "store"
faq = "faq.toml"

[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@helper:localhost"
password = "pw"

[slack]
bot_token = "xoxb-1"
app_token = "xapp-1"

[escalation]
max_misses = 2
human_topics = ["lawsuit"]
vip = ["@vip:localhost"]

[conversation]
abandon_after = "30m"
queue_update_step = 2

[[team]]
name = "billing"
desk = "slack:#billing"
topics = ["invoice", "refund"]
first_reply_sla = "10m"
fallback = "tech"
mention = "@here"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost", "@bob:localhost"]
topics = ["crash"]
default = true
"#;

pub const FAQ: &str = r#"
[[faq]]
id = "reset_password"
questions = ["how do i reset my password", "i forgot my password", "reset password link", "change my password"]
answer = "Use the Forgot password link."
team = "tech"

[[faq]]
id = "invoice_copy"
questions = ["where can i find my invoice", "download my invoice", "copy of my bill", "send me the invoice"]
answer = "Invoices are under Billing."
team = "billing"

[[faq]]
id = "shipping_time"
questions = ["how long does shipping take", "when will my order arrive", "delivery time", "how fast do you ship"]
answer = "2 to 4 working days."

[[faq]]
id = "opening_hours"
questions = ["what are your opening hours", "when are you open", "are you open on sunday", "what time do you close"]
answer = "Mon to Fri, 9 to 5."

[[faq]]
id = "refund"
questions = ["i want my money back", "give me my money back", "money back please", "can i have my money returned"]
answer = "Refunds need a person."
team = "billing"
escalate = true
"#;

/// The fixture config with `patch` appended to it (TOML).
pub fn config_with(patch: &str) -> Config {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("faq.toml"), FAQ).expect("write faq");
    let src = format!("{CONFIG}\n{patch}");
    Config::parse(
        &src,
        &dir.path().join("handoff.toml"),
        |_| None,
        &crate::bridges::networks(),
    )
    .expect("fixture config parses")
}

pub fn engine_with(cfg: Config) -> Engine {
    let faq = Faq::from_toml_str(FAQ, "faq.toml").expect("fixture faq loads");
    Engine::new(Arc::new(cfg), Arc::new(faq)).expect("engine")
}

pub fn engine() -> Engine {
    engine_with(config_with(""))
}

/// A world with a counter for case numbers and settable queue and history.
#[derive(Default)]
pub struct FakeWorld {
    pub next: Cell<CaseId>,
    pub ahead: Cell<usize>,
    pub replies: RefCell<Vec<Duration>>,
    pub previous: RefCell<Vec<PreviousCase>>,
    pub out_of_numbers: Cell<bool>,
}

impl World for FakeWorld {
    fn next_case_id(&self) -> Option<CaseId> {
        if self.out_of_numbers.get() {
            return None;
        }
        self.next.set(self.next.get() + 1);
        Some(self.next.get())
    }
    fn queue_ahead(&self, _team: &str, _case: CaseId) -> usize {
        self.ahead.get()
    }
    fn first_replies(&self, _team: &str) -> Vec<Duration> {
        self.replies.borrow().clone()
    }
    fn previous_cases(&self, _customer: &UserRef) -> Vec<PreviousCase> {
        self.previous.borrow().clone()
    }
}

pub fn user(id: &str, name: &str) -> UserRef {
    UserRef {
        network: if id.starts_with('@') {
            "matrix"
        } else {
            "slack"
        }
        .into(),
        id: id.into(),
        display_name: Some(name.into()),
        is_bot: false,
        standing: Default::default(),
    }
}

pub fn customer() -> Customer {
    Customer {
        user: user("@carol:localhost", "Carol"),
        endpoint: Endpoint::new("matrix", "!support:localhost"),
        encrypted: false,
    }
}

pub fn alice() -> UserRef {
    user("@alice:localhost", "Alice")
}

pub fn msg_ref(id: &str) -> MessageRef {
    MessageRef {
        endpoint: Endpoint::new("matrix", "!support:localhost"),
        id: id.into(),
    }
}

pub fn says(text: &str) -> Event {
    Event::Customer(CustomerEvent::Message {
        msg: msg_ref(&format!("$c-{}", text.len())),
        text: Text::plain(text),
        reply_to: None,
    })
}

pub fn agent_says(agent: UserRef, text: &str) -> Event {
    Event::Agent {
        agent,
        event: AgentEvent::Message {
            msg: MessageRef {
                endpoint: Endpoint::new("matrix", "!case:localhost"),
                id: format!("$a-{}", text.len()),
            },
            text: Text::plain(text),
            reply_to: None,
        },
    }
}

/// 2026-11-26 10:00 UTC, a Thursday.
pub const T0: Millis = 1_795_687_200_000;
pub const MINUTE: Millis = 60_000;

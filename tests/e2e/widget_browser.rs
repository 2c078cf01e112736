//! The web widget in a real browser: Debian's headless Chromium (through
//! chromedriver) opens the daemon's `/demo` page, types into the widget
//! and reads its DOM, against the real `handoff` binary with a Matrix desk
//! on a real Synapse and with a Slack desk on the emulator. Covers an FAQ
//! answer, asking for a person, the agent's reply, markup shown as text,
//! a reload, and a SIGKILL of the daemon with messages typed meanwhile
//! (they reach the agent exactly once, and what the agent wrote while the
//! daemon was down reaches the widget).

use crate::common;

use std::time::Duration;

use common::browser::Browser;
use common::{user, Handoff, WAIT};
use serde_json::Value;
use slack_emulator::{Emulator, EmulatorConfig};
use thirtyfour::prelude::*;

const MATRIX_CONFIG: &str = r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{homeserver}"
user = "@helper:localhost"
password = "${HANDOFF_MATRIX_PASSWORD}"

[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
topics = ["invoice"]
"#;

/// Everything in the widget's conversation log, in DOM order: messages
/// (`from`, `text`, whether still `pending`, the links in them) and
/// notices; plus the status line, whether the panel is open and which
/// element has focus.
const SNAPSHOT: &str = r#"
const log = document.querySelector('.hw-log');
if (!log) { return null; }
const items = Array.from(log.children).filter(n => !n.classList.contains('hw-greeting')).map(n => {
  if (!n.classList.contains('hw-msg')) { return { kind: 'notice', text: n.textContent }; }
  const from = ['visitor', 'agent', 'bot'].find(c => n.classList.contains('hw-' + c)) || '?';
  const body = n.querySelector('.hw-body');
  return {
    kind: 'message', from,
    name: n.querySelector('.hw-name').textContent,
    text: body.textContent,
    pending: n.classList.contains('hw-pending'),
    links: Array.from(body.querySelectorAll('a')).map(a => a.href),
    elements: Array.from(body.querySelectorAll('*')).map(e => e.tagName.toLowerCase()),
  };
});
const panel = document.querySelector('.hw-panel');
return {
  items,
  status: document.querySelector('.hw-status').textContent,
  open: !!panel && !panel.hidden,
  focus: document.activeElement ? (document.activeElement.id || document.activeElement.className) : null,
  injected: document.querySelectorAll('.hw-log script, .hw-log img, .hw-log b, .hw-log i').length,
  pwned: window.__hwPwned === undefined ? null : window.__hwPwned,
};
"#;

/// The widget on the demo page of a daemon, in `browser`.
struct Widget<'a> {
    browser: &'a Browser,
}

fn items(snapshot: &Value) -> Vec<Value> {
    snapshot["items"].as_array().cloned().unwrap_or_default()
}

fn text(item: &Value) -> &str {
    item["text"].as_str().unwrap_or("")
}

/// Messages in `snapshot` whose text contains `needle`.
fn count(snapshot: &Value, needle: &str) -> usize {
    items(snapshot)
        .iter()
        .filter(|i| i["kind"] == "message" && text(i).contains(needle))
        .count()
}

impl<'a> Widget<'a> {
    /// Waits for the daemon's web server, loads `/demo` and opens the
    /// chat panel with a click on the bubble.
    async fn open(browser: &'a Browser, port: u16) -> Widget<'a> {
        let demo = format!("http://127.0.0.1:{port}/demo");
        let mut up = false;
        for _ in 0..600 {
            if reqwest::get(&demo)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "the daemon never served {demo}");
        browser
            .driver
            .goto(&demo)
            .await
            .expect("open the demo page");
        let w = Widget { browser };
        let bubble = browser
            .driver
            .query(By::Css(".hw-bubble"))
            .first()
            .await
            .expect("the widget's bubble on the demo page");
        assert_eq!(
            bubble.attr("aria-label").await.expect("label").as_deref(),
            Some("Open support chat")
        );
        bubble.click().await.expect("click the bubble");
        // Opening the panel puts the keyboard in the message box.
        w.until("the panel open with focus in the input", |s| {
            s["open"] == true && s["focus"] == "hw-input"
        })
        .await;
        // The keyboard alone: Escape closes it and gives focus back to
        // the bubble, Enter there opens it again.
        let input = browser
            .driver
            .find(By::Css(".hw-input"))
            .await
            .expect("the message box");
        input.send_keys(Key::Escape).await.expect("press Escape");
        w.until("the panel closed with focus on the bubble", |s| {
            s["open"] == false && s["focus"] == "hw-bubble"
        })
        .await;
        bubble.send_keys(Key::Enter).await.expect("press Enter");
        w.until("the panel open again with focus in the input", |s| {
            s["open"] == true && s["focus"] == "hw-input"
        })
        .await;
        w
    }

    async fn snapshot(&self) -> Value {
        self.browser.js(SNAPSHOT).await
    }

    /// Polls the widget until `done` holds; panics with `what` and the
    /// last snapshot.
    async fn until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.browser
            .wait_for(what, SNAPSHOT, |v| !v.is_null() && done(v))
            .await
    }

    /// Waits for a message satisfying `f` and returns it.
    async fn message(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let s = self
            .until(what, |s| {
                items(s).iter().any(|i| i["kind"] == "message" && f(i))
            })
            .await;
        items(&s)
            .into_iter()
            .find(|i| i["kind"] == "message" && f(i))
            .expect("the message just seen")
    }

    /// Types `line` into the message box like a person and presses Enter.
    async fn say(&self, line: &str) {
        let input = self
            .browser
            .driver
            .find(By::Css(".hw-input"))
            .await
            .expect("the message box");
        input.send_keys(line).await.expect("type");
        input.send_keys(Key::Enter).await.expect("press Enter");
        // The line shows at once (pending until the server takes it).
        self.message(&format!("{line:?} shown after sending"), |i| {
            i["from"] == "visitor" && text(i) == line
        })
        .await;
    }

    /// Waits until nothing the visitor typed is pending any more.
    async fn all_taken(&self, what: &str) -> Value {
        self.until(what, |s| {
            items(s).iter().all(|i| i["pending"] != true) && s["status"] == ""
        })
        .await
    }

    /// Reloads the page and waits until the conversation shown is the
    /// one before (same messages, same order, nothing twice).
    async fn reload_keeps(&self, before: &Value) {
        self.browser.driver.refresh().await.expect("reload");
        let want = items(before);
        self.until("the conversation back after the reload", |s| {
            items(s) == want && s["open"] == true
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_in_chromium_talks_to_a_matrix_agent_through_a_reload_and_a_crash() {
    let synapse = common::synapse_with_bot().await;
    let alice = user(&synapse, "alice").await;
    let port = common::free_port();
    let mut handoff = Handoff::start(
        &synapse,
        &MATRIX_CONFIG.replace("{port}", &port.to_string()),
    );
    let browser = Browser::start().await;
    let w = Widget::open(&browser, port).await;

    // An FAQ answer from the bot.
    w.say("how do I reset my password?").await;
    w.message("the FAQ answer", |i| {
        i["from"] == "bot" && text(i).contains("Reset password")
    })
    .await;

    // Asking for a person opens a case room; the agent's reply shows.
    w.say("I want to talk to a person").await;
    w.message("the handover", |i| {
        i["from"] == "bot" && text(i).contains("tech team")
    })
    .await;
    let case_room = alice.wait_for_invite(WAIT).await.expect("alice is invited");
    alice.join(&case_room).await.expect("alice joins");
    common::from_bot(&alice, &case_room, "the summary", |m| {
        m.body.contains("Case #1") && m.body.contains("reset my password")
    })
    .await;
    alice
        .send_text(&case_room, "Hi, Alice here. Let's sort it out.")
        .await
        .expect("alice replies");
    let reply = w
        .message("the agent's reply", |i| text(i).contains("Alice here"))
        .await;
    assert_eq!(reply["from"], "agent", "{reply}");

    // Markup both ways is text: the visitor's reaches the agent as typed,
    // the agent's shows literally in the widget (links still clickable).
    let visitor_markup =
        r#"<b>bold</b><img src=x onerror="window.__hwPwned=1"><script>window.__hwPwned=2</script>"#;
    w.say(visitor_markup).await;
    alice
        .wait_for_message(&case_room, |m| m.body.contains("__hwPwned=2"), WAIT)
        .await
        .expect("the visitor's markup reaches the agent");
    let agent_markup =
        r#"<i>see</i> <img src=x onerror="window.__hwPwned=3"> https://example.com/help."#;
    alice
        .send_text(&case_room, agent_markup)
        .await
        .expect("alice sends markup");
    let shown = w
        .message("the agent's markup", |i| text(i).contains("__hwPwned=3"))
        .await;
    assert_eq!(text(&shown), agent_markup, "shown exactly as written");
    assert_eq!(
        shown["links"],
        serde_json::json!(["https://example.com/help"]),
        "{shown}"
    );
    assert_eq!(shown["elements"], serde_json::json!(["a"]), "{shown}");
    let s = w.all_taken("the visitor's markup taken").await;
    let mine = items(&s)
        .into_iter()
        .find(|i| i["from"] == "visitor" && text(i) == visitor_markup)
        .expect("the visitor's markup in the log");
    assert_eq!(mine["elements"], serde_json::json!([]), "{mine}");
    assert_eq!(s["injected"], 0, "markup became elements: {s:#}");
    assert_eq!(s["pwned"], Value::Null, "injected script ran: {s:#}");

    // A reload shows the same conversation, still open.
    w.reload_keeps(&s).await;

    // The transcript downloads as a text file with what the page shows.
    browser
        .driver
        .find(By::Css(".hw-transcript"))
        .await
        .expect("the download link")
        .click()
        .await
        .expect("click download");
    let transcript = browser.downloaded("support-conversation.txt").await;
    for line in [
        "You: how do I reset my password?".to_string(),
        "You: I want to talk to a person".to_string(),
        format!("You: {visitor_markup}"),
    ] {
        assert!(transcript.contains(&line), "{line:?} in\n{transcript}");
    }
    assert!(
        transcript.contains(": Hi, Alice here. Let's sort it out."),
        "{transcript}"
    );

    // The daemon dies mid-conversation. The widget says it is
    // reconnecting; the visitor keeps typing; the agent writes too.
    handoff.kill();
    w.until("the widget noticing the lost connection", |s| {
        s["status"].as_str().unwrap_or("").contains("Reconnecting")
    })
    .await;
    w.say("my order number is 4711").await;
    w.say("and the parcel never came").await;
    alice
        .send_text(&case_room, "Are you still there?")
        .await
        .expect("alice writes while the daemon is down");
    let s = w.snapshot().await;
    assert!(
        items(&s)
            .iter()
            .filter(|i| text(i).contains("4711") || text(i).contains("parcel"))
            .all(|i| i["pending"] == true),
        "typed while down, so not taken yet: {s:#}"
    );
    handoff.restart_hard();
    w.message("what the agent wrote while the daemon was down", |i| {
        i["from"] == "agent" && text(i).contains("still there")
    })
    .await;
    let s = w.all_taken("the lines typed while down taken").await;
    alice
        .wait_for_message(&case_room, |m| m.body.contains("parcel never came"), WAIT)
        .await
        .expect("the visitor's lines reach the case room");
    for needle in ["4711", "parcel never came"] {
        let relayed = alice
            .messages(&case_room)
            .iter()
            .filter(|m| m.body.contains(needle))
            .count();
        assert_eq!(relayed, 1, "{needle:?} relayed exactly once");
        assert_eq!(count(&s, needle), 1, "{needle:?} shown once: {s:#}");
    }
    // And live again.
    alice
        .send_text(&case_room, "Found order 4711, sending a new parcel.")
        .await
        .expect("alice replies");
    w.message("the agent's reply after the restart", |i| {
        text(i).contains("new parcel")
    })
    .await;
    browser.quit().await;
    drop(handoff);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_in_chromium_talks_to_a_slack_agent_through_a_reload_and_a_crash() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let channel = emu.add_channel("support-billing");
    emu.add_channel("support-tech");
    let alice = emu.add_user("Alice", false);
    let port = common::free_port();
    let config = format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[slack]
bot_token = "{bot}"
app_token = "{app}"
api_url = "{api}"

[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
[web.limits]
session_per_minute = 6

[[team]]
name = "billing"
desk = "slack:#support-billing"
default = true

[[team]]
name = "tech"
desk = "slack:#support-tech"
topics = ["password"]
"#,
        bot = emu.bot_token(),
        app = emu.app_token(),
        api = emu.slack_api_url(),
    );
    let mut handoff = Handoff::start_without_matrix(&config);
    let browser = Browser::start().await;
    let w = Widget::open(&browser, port).await;

    w.say("where can I find my invoice").await;
    w.message("the FAQ answer", |i| {
        i["from"] == "bot" && text(i).contains("Billing → Invoices")
    })
    .await;
    w.say("I want to talk to a person").await;
    w.message("the handover", |i| {
        i["from"] == "bot" && text(i).contains("billing team")
    })
    .await;
    let root = emu
        .wait_for_message(
            &channel,
            |m| m.thread_ts.is_none() && m.bot_id.is_some() && m.text.contains("Case #1"),
            WAIT,
        )
        .await
        .expect("the case's summary in the channel");
    let root_ts = root.ts.to_string();
    emu.post_as(
        &alice,
        &channel,
        Some(&root_ts),
        "Hi, Alice from billing here",
    )
    .expect("alice replies in the thread");
    let reply = w
        .message("the agent's reply", |i| {
            text(i).contains("Alice from billing")
        })
        .await;
    assert_eq!(reply["from"], "agent", "{reply}");

    let s = w.all_taken("everything taken before the reload").await;
    w.reload_keeps(&s).await;

    handoff.kill();
    w.until("the widget noticing the lost connection", |s| {
        s["status"].as_str().unwrap_or("").contains("Reconnecting")
    })
    .await;
    w.say("invoice 2026-118 was charged twice").await;
    handoff.restart_hard();
    let s = w.all_taken("the line typed while down taken").await;
    assert_eq!(count(&s, "2026-118"), 1, "shown once: {s:#}");
    emu.wait_for_message(&channel, |m| m.text.contains("2026-118"), WAIT)
        .await
        .expect("the line reaches the thread");
    emu.post_as(
        &alice,
        &channel,
        Some(&root_ts),
        "Refunded the second charge.",
    )
    .expect("alice replies");
    w.message("the agent's reply after the restart", |i| {
        text(i).contains("Refunded")
    })
    .await;
    // The thread's replies (its root, the summary, is edited in place).
    let relayed = emu
        .thread(&channel, &root_ts)
        .iter()
        .skip(1)
        .filter(|m| m.text.contains("2026-118"))
        .count();
    assert_eq!(relayed, 1, "the line typed while down reached Slack once");

    // A burst from this session is throttled: the widget says so, holds
    // the rest and sends it when allowed; each line arrives once.
    let mut burst = Vec::new();
    for n in 1..=12 {
        let line = format!("burst line {n}");
        w.say(&line).await;
        burst.push(line);
        let s = w.snapshot().await;
        if s["status"].as_str().unwrap_or("").contains("too many") {
            break;
        }
    }
    w.until("the widget saying it is throttled", |s| {
        s["status"].as_str().unwrap_or("").contains("too many")
    })
    .await;
    let s = w.all_taken("the throttled lines sent when allowed").await;
    let last = burst.last().expect("a burst");
    emu.wait_for_message(&channel, |m| m.text.contains(last.as_str()), WAIT)
        .await
        .expect("the last burst line reaches the thread");
    let thread = emu.thread(&channel, &root_ts);
    for line in &burst {
        // "burst line 1" is also in "burst line 10": match the whole text.
        let n = thread
            .iter()
            .filter(|m| m.text.ends_with(line.as_str()))
            .count();
        assert_eq!(n, 1, "{line:?} reached Slack once");
        let shown = items(&s).iter().filter(|i| text(i) == line).count();
        assert_eq!(shown, 1, "{line:?} shown once: {s:#}");
    }
    browser.quit().await;
    drop(handoff);
}

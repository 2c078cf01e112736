//! The bot when it is unsure, and FAQ upkeep, through the real binary on a
//! real Synapse: a "did you mean" question (choices offered, a choice
//! answered, "person" hands over with the clarification in the summary),
//! small talk that never escalates, `faq gaps` over the running daemon, and
//! FAQ edits that take effect without a restart (file change and SIGHUP)
//! while a broken edit is refused with its line.

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::{bot_joined, free_port, handoff_cli, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use synapse_testkit::TestClient;

fn config(faq: &Path, port: u16) -> String {
    format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "{faq}"

[matrix]
homeserver = "{{homeserver}}"
user = "@helper:localhost"
password = "${{HANDOFF_MATRIX_PASSWORD}}"
auto_join = true

[escalation]
# Never hand over for misses: this test counts them with `faq gaps`.
max_misses = 0

[metrics]
listen = "127.0.0.1:{port}"
api_token = "e2e-api-token"

[[team]]
name = "support"
desk = "matrix"
agents = ["@alice:localhost"]
default = true
"#,
        faq = faq.display()
    )
}

/// Card questions close to each other: "lost pin" sits between two
/// entries, below `min_confidence` but above the clarify floor (an FAQ
/// this small has too few held-out questions to fit the band, so the
/// prior band applies; the engine's unit tests cover the step itself).
const FAQ: &str = r#"
[[faq]]
id = "reset_pin"
questions = ["how do i reset my card pin", "i forgot my card pin", "change the pin of my card", "new pin for my card"]
answer = "You can set a new PIN in the app under Card > PIN."

[[faq]]
id = "block_card"
questions = ["block my card", "my card was stolen", "i lost my card please block it", "freeze my card"]
answer = "Block the card at once in the app under Card > Block."

[[faq]]
id = "opening_hours"
questions = ["when are you open", "what are your opening hours", "what time do you close", "are you open on sunday"]
answer = "We are open Monday to Friday, 9 to 5."
"#;

const UNSURE: &str = "lost pin";

/// The same FAQ with a zebra marmalade entry.
fn with_zebra_marmalade() -> String {
    format!(
        "{FAQ}\n[[faq]]\nid = \"zebra_marmalade\"\nquestions = [\"do you sell zebra marmalade\", \"can i buy zebra marmalade\", \"zebra marmalade\"]\nanswer = \"Zebra marmalade is in the shop under Gifts.\"\n"
    )
}

fn helper() -> OwnedUserId {
    UserId::parse("@helper:localhost").expect("user id")
}

/// Sends `text` and returns the bot's first new reply containing `want`.
async fn ask(c: &TestClient, room: &OwnedRoomId, text: &str, want: &str) -> String {
    let before: HashSet<OwnedEventId> = c.messages(room).into_iter().map(|m| m.event_id).collect();
    c.send_text(room, text).await.expect("send");
    let helper = helper();
    match c
        .wait_for_message(
            room,
            |m| m.sender == helper && !before.contains(&m.event_id) && m.body.contains(want),
            WAIT,
        )
        .await
    {
        Ok(m) => m.body,
        Err(e) => {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("no new reply containing {want:?} to {text:?}: {e}\nseen: {seen:#?}")
        }
    }
}

async fn chat(customer: &TestClient) -> OwnedRoomId {
    let room = customer
        .create_room("support", &[helper()])
        .await
        .expect("create the customer room");
    bot_joined(customer, &room).await;
    room
}

/// Waits until the daemon's log has `n` lines containing `what`.
async fn log_lines(h: &Handoff, what: &str, n: usize) -> Vec<String> {
    for _ in 0..240 {
        let lines: Vec<String> = h
            .log()
            .lines()
            .filter(|l| l.contains(what))
            .map(str::to_string)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the log never had {n} line(s) with {what:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsure_bot_asks_a_choice_is_answered_and_person_hands_over() {
    let faq_dir = tempfile::tempdir().expect("tempdir");
    let faq = faq_dir.path().join("faq.toml");
    std::fs::write(&faq, FAQ).expect("write faq");
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let port = free_port();
    let h = Handoff::start(&synapse, &config(&faq, port));
    let room = chat(&carol).await;

    // Small talk: answered, never a miss, no handover.
    ask(&carol, &room, "hello!", "What can I help you with?").await;

    // Unsure: the closest entries as numbered choices, then a person.
    let offer = ask(&carol, &room, UNSURE, "Did you mean").await;
    assert!(offer.contains("1. "), "{offer}");
    assert!(offer.contains("talk to a person"), "{offer}");
    let pin_choice = offer
        .lines()
        .find(|l| l.contains("How do i reset my card pin"))
        .and_then(|l| l.split('.').next())
        .unwrap_or_else(|| panic!("reset_pin is not offered: {offer}"))
        .trim()
        .to_string();
    // A choice by number is answered.
    ask(&carol, &room, &pin_choice, "set a new PIN in the app").await;
    ask(&carol, &room, "thanks", "You're welcome").await;

    // Misses that `faq gaps` must group: near-duplicates and one other.
    for q in [
        "zebra marmalade",
        "Zebra marmalade?",
        "any zebra marmalade",
        "xq zv",
    ] {
        ask(&carol, &room, q, "don't know that one").await;
    }

    // Asked again, the customer declines the choices: a person takes over.
    let offer = ask(&carol, &room, UNSURE, "Did you mean").await;
    assert!(offer.contains("talk to a person"), "{offer}");
    ask(&carol, &room, "person", "support team").await;
    let case_room = alice.wait_for_invite(WAIT).await.expect("alice is invited");
    alice.join(&case_room).await.expect("alice joins");
    alice
        .wait_for_message(
            &case_room,
            |m| {
                m.sender == helper()
                    && m.body
                        .contains("none of the FAQ entries the bot offered fit")
            },
            WAIT,
        )
        .await
        .expect("the summary gives the reason");

    // `faq gaps` while the daemon holds the store (through /api/gaps).
    let cfg = h.config.display().to_string();
    let out = handoff_cli(
        &["faq", "gaps", "--config", &cfg, "--since", "1h", "--json"],
        &[],
    );
    let gaps: serde_json::Value = serde_json::from_str(&out).expect("gaps json");
    let groups = gaps["groups"].as_array().expect("groups");
    assert_eq!(groups[0]["count"], 3, "{out}");
    assert_eq!(groups[0]["example"], "zebra marmalade", "{out}");
    let declined: Vec<&serde_json::Value> = groups
        .iter()
        .filter(|g| g["declined_choices"] == 1)
        .collect();
    assert_eq!(declined.len(), 1, "{out}");
    assert_eq!(declined[0]["example"], UNSURE, "{out}");
    // Small talk and the answered choice are not gaps.
    assert_eq!(gaps["questions"], 5, "{out}");
    let text = handoff_cli(&["faq", "gaps", "--config", &cfg, "--since", "1h"], &[]);
    assert!(
        text.contains("   3 x  \u{201c}zebra marmalade\u{201d}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn faq_edits_apply_without_restart_and_a_broken_edit_is_refused_with_its_line() {
    let faq_dir = tempfile::tempdir().expect("tempdir");
    let faq = faq_dir.path().join("faq.toml");
    std::fs::write(&faq, FAQ).expect("write faq");
    let synapse = synapse_with_bot().await;
    let dave = user(&synapse, "dave").await;
    let h = Handoff::start_with(
        &synapse,
        &config(&faq, free_port()),
        &[("HANDOFF_FAQ_POLL_MS", "200")],
    );
    let room = chat(&dave).await;

    ask(&dave, &room, "sell zebra marmalade", "don't know that one").await;

    // An edit takes effect without a restart.
    std::fs::write(&faq, with_zebra_marmalade()).expect("edit faq");
    log_lines(&h, "FAQ reloaded", 1).await;
    ask(&dave, &room, "sell zebra marmalade", "Gifts").await;

    // A broken edit (line 3 is not TOML) is refused with its line; the
    // previous FAQ keeps answering.
    let broken = with_zebra_marmalade().replacen("[[faq]]\n", "[[faq]]\nthis is not toml\n", 1);
    std::fs::write(&faq, broken).expect("break faq");
    let refused = log_lines(&h, "the edited FAQ was refused", 1).await;
    assert!(
        refused[0].contains(&format!("{}:3:", faq.display())),
        "{refused:?}"
    );
    ask(&dave, &room, "sell zebra marmalade", "Gifts").await;

    // SIGHUP reloads at once, even an unchanged file: refused again.
    let pid = h.pid().expect("running").to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    log_lines(&h, "SIGHUP: reloading the FAQ", 1).await;
    log_lines(&h, "the edited FAQ was refused", 2).await;

    // Fixed: the original FAQ (without zebra marmalade) answers again.
    std::fs::write(&faq, FAQ).expect("fix faq");
    log_lines(&h, "FAQ reloaded", 2).await;
    ask(&dave, &room, "sell zebra marmalade", "don't know that one").await;
    ask(&dave, &room, "when are you open", "Monday to Friday").await;
}

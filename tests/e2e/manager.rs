//! The waiting customer, the busy team and the manager, through the real
//! binary on a real Synapse: queue positions, out-of-hours handover on a
//! fixed clock with real time-zone rules, an SLA breach that survives a
//! restart, abandonment and return, CSAT, and `/metrics`, `/readyz`,
//! `stats` and `export` checked against the scripted scenario.

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bot_joined, free_port, handoff_cli, http_get, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use synapse_testkit::TestClient;

fn config(port: u16, sla: &str, abandon: &str) -> String {
    format!(
        r#"
[bot]
name = "Helper"
store = "store.sled"
faq = "faq.toml"

[matrix]
homeserver = "{{homeserver}}"
user = "@helper:localhost"
password = "${{HANDOFF_MATRIX_PASSWORD}}"
auto_join = true

[conversation]
abandon_after = "{abandon}"

[metrics]
listen = "127.0.0.1:{port}"
api_token = "e2e-api-token"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true
first_reply_sla = "{sla}"

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
topics = ["pricing"]
hours = "Mon-Fri 09:00-17:00 Europe/Berlin"
"#
    )
}

fn helper() -> OwnedUserId {
    UserId::parse("@helper:localhost").expect("user id")
}

/// A customer's direct chat with the bot, once the bot has joined.
async fn chat(customer: &TestClient) -> OwnedRoomId {
    let room = customer
        .create_room("support", &[helper()])
        .await
        .expect("create the customer room");
    bot_joined(customer, &room).await;
    room
}

/// Sends `text` and returns the bot's reply containing `want`.
async fn ask(c: &TestClient, room: &OwnedRoomId, text: &str, want: &str) -> String {
    c.send_text(room, text).await.expect("send");
    let helper = helper();
    match c
        .wait_for_message(room, |m| m.sender == helper && m.body.contains(want), WAIT)
        .await
    {
        Ok(m) => m.body,
        Err(e) => {
            let seen: Vec<String> = c.messages(room).iter().map(|m| m.body.clone()).collect();
            panic!("no reply containing {want:?} to {text:?}: {e}\nseen: {seen:#?}")
        }
    }
}

/// The one of `rooms` whose pinned summary is case `n`'s.
async fn case_room(agent: &TestClient, rooms: &[OwnedRoomId], n: u64) -> OwnedRoomId {
    let helper = helper();
    let want = format!("Case #{n} ");
    for _ in 0..2 {
        for room in rooms {
            let found = agent
                .wait_for_message(
                    room,
                    |m| m.sender == helper && m.body.contains(&want),
                    Duration::from_secs(5),
                )
                .await;
            if found.is_ok() {
                return room.clone();
            }
        }
    }
    panic!("no room holds the summary of case #{n}");
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_positions_out_of_hours_and_sla_breach_across_a_restart() {
    let synapse = synapse_with_bot().await;
    let alice = user(&synapse, "alice").await;
    let customers = [
        user(&synapse, "cust1").await,
        user(&synapse, "cust2").await,
        user(&synapse, "cust3").await,
        user(&synapse, "cust4").await,
    ];
    let port = free_port();
    // Saturday 10:00 UTC: billing (Mon-Fri, Berlin) is closed; tech is always open.
    let mut handoff = Handoff::start_with(
        &synapse,
        &config(port, "25s", "1h"),
        &[("HANDOFF_FAKE_NOW", "2026-11-28T10:00:00Z")],
    );
    let mut rooms = Vec::new();
    for c in &customers {
        rooms.push(chat(c).await);
    }
    // Three queued cases: positions 1, 2, 3, with an honest wait.
    for (i, c) in customers[..3].iter().enumerate() {
        let said = ask(c, &rooms[i], "I want to talk to a person", "in line").await;
        assert!(
            said.contains(&format!("number {} in line", i + 1)),
            "customer {}: {said}",
            i + 1
        );
        assert!(said.contains("tech team"), "{said}");
    }
    // Out of hours: the right opening time in the team's time zone.
    let said = ask(
        &customers[3],
        &rooms[3],
        "I have a pricing question, can I talk to a person?",
        "offline",
    )
    .await;
    assert!(said.contains("billing team"), "{said}");
    assert!(
        said.contains("opens again Mon 09:00 (Europe/Berlin)"),
        "{said}"
    );

    // Crash before the SLA passes; the breach must still come, from the
    // restarted process.
    handoff.restart_hard();
    let restarted = now_ms();
    let mut case_rooms = Vec::new();
    for _ in 0..4 {
        let room = alice.wait_for_invite(WAIT).await.expect("alice is invited");
        alice.join(&room).await.expect("join the case room");
        case_rooms.push(room);
    }
    let case1 = case_room(&alice, &case_rooms, 1).await;
    let helper = helper();
    let breached = alice
        .wait_for_message(
            &case1,
            |m| {
                m.sender == helper
                    && m.body
                        .contains("Case #1 has waited past its first-reply SLA")
            },
            Duration::from_secs(90),
        )
        .await
        .expect("an SLA breach notice for case #1");
    let at: u64 = breached.event.origin_server_ts.0.into();
    assert!(
        at >= restarted,
        "the breach was announced before the restart ({at} < {restarted})"
    );
    // The summary says it is overdue.
    let overdue = alice
        .wait_for_message(
            &breached.room_id,
            |m| m.sender == helper && m.body.contains("Case #1") && m.body.contains("OVERDUE"),
            WAIT,
        )
        .await;
    assert!(overdue.is_ok(), "the case #1 summary does not say overdue");
    // Nothing was said twice across the crash.
    for (i, c) in customers[..3].iter().enumerate() {
        let _ = c.sync_once().await;
        let handovers = c
            .messages(&rooms[i])
            .iter()
            .filter(|m| m.sender == helper && m.body.contains("in line"))
            .count();
        assert_eq!(
            handovers,
            1,
            "customer {} was told {handovers} times",
            i + 1
        );
    }
    let (status, body) = http_get(port, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("matrix: connected"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_stats_and_export_match_a_scripted_scenario() {
    let synapse = synapse_with_bot().await;
    let alice = user(&synapse, "alice").await;
    let ann = user(&synapse, "ann").await; // resolved, rates 5
    let ben = user(&synapse, "ben").await; // abandons, then returns
    let cid = user(&synapse, "cid").await; // answered by the FAQ only
    let port = free_port();
    let mut handoff = Handoff::start(&synapse, &config(port, "1h", "6s"));
    let config_path = handoff.config.to_string_lossy().into_owned();
    let (ra, rb, rc) = (chat(&ann).await, chat(&ben).await, chat(&cid).await);

    ask(&cid, &rc, "how do I reset my password?", "Reset password").await;
    ask(&ann, &ra, "I want to talk to a person", "in line").await;
    ask(&ben, &rb, "I want to talk to a person", "in line").await;

    let helper = helper();
    // Case #1 (ann): claim, reply, note, resolve; ann rates 5.
    let mut rooms = Vec::new();
    for _ in 0..2 {
        let room = alice.wait_for_invite(WAIT).await.expect("invite");
        alice.join(&room).await.expect("join");
        rooms.push(room);
    }
    let case1 = case_room(&alice, &rooms, 1).await;
    alice.send_text(&case1, "!claim").await.expect("claim");
    alice
        .send_text(&case1, "Hi Ann, I can help with that.")
        .await
        .expect("reply");
    ann.wait_for_message(&ra, |m| m.body.contains("I can help with that"), WAIT)
        .await
        .expect("ann gets the reply");
    alice
        .send_text(&case1, "!note she is a long-time customer")
        .await
        .expect("note");
    alice.send_text(&case1, "!resolve").await.expect("resolve");
    ann.wait_for_message(
        &ra,
        |m| m.sender == helper && m.body.contains("How did we do"),
        WAIT,
    )
    .await
    .expect("CSAT question");
    ask(&ann, &ra, "5", "Thank you for rating us 5/5").await;

    // Ben goes silent past abandon_after (6 s), then comes back.
    let abandoned = async {
        for _ in 0..120 {
            let (_, m) = http_get(port, "/metrics").await;
            if m.contains("handoff_cases_abandoned_total{team=\"tech\",network=\"matrix\"} 1") {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    };
    assert!(abandoned.await, "ben's case was never marked abandoned");
    ben.send_text(&rb, "sorry, I was away - still there?")
        .await
        .expect("ben returns");
    let returned = async {
        for _ in 0..120 {
            let (_, m) = http_get(port, "/metrics").await;
            if m.contains("handoff_cases_returned_total{team=\"tech\",network=\"matrix\"} 1") {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        String::new()
    };
    let m = returned.await;
    assert!(!m.is_empty(), "ben's return was not counted");

    // Every metric, with the scenario's values.
    for want in [
        "handoff_conversations_total{network=\"matrix\"} 3",
        "handoff_faq_answers_total{network=\"matrix\"} 1",
        "handoff_escalations_total{reason=\"asked_for_human\",team=\"tech\",network=\"matrix\"} 2",
        "handoff_cases_resolved_total{team=\"tech\",network=\"matrix\"} 1",
        "handoff_cases_abandoned_total{team=\"tech\",network=\"matrix\"} 1",
        "handoff_cases_returned_total{team=\"tech\",network=\"matrix\"} 1",
        "handoff_first_reply_seconds_count{team=\"tech\",network=\"matrix\"} 1",
        "handoff_resolution_seconds_count{team=\"tech\",network=\"matrix\"} 1",
        "handoff_csat_responses_total{team=\"tech\",score=\"5\",network=\"matrix\"} 1",
        "handoff_csat_score_sum{team=\"tech\",network=\"matrix\"} 5",
        "handoff_queue_length{team=\"tech\"} 1",
        "handoff_queue_length{team=\"billing\"} 0",
        "handoff_cases_open{team=\"tech\",state=\"queued\"} 1",
        "handoff_bridge_connected{network=\"matrix\"} 1",
        "handoff_sla_breaches_total{team=\"tech\"} 0",
        "# TYPE handoff_delivery_duration_seconds histogram",
        "handoff_deliveries_total{network=\"matrix\"}",
        "# HELP handoff_faq_misses_total",
        "handoff_faq_misses_total{network=\"matrix\"} 0",
        "handoff_relay_errors_total{network=\"matrix\"} 0",
        "handoff_delivery_retries_total{network=\"matrix\",kind=\"rate_limited\"}",
    ] {
        assert!(m.contains(want), "missing {want:?} in /metrics:\n{m}");
    }
    let (status, body) = http_get(port, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // `stats` while the daemon holds the store: answered through its /api.
    let stats = handoff_cli(&["stats", "--config", &config_path, "--since", "1d"], &[]);
    for want in [
        "conversations:        3 (2 handed to a person)",
        "containment:          33.3 %",
        "cases:                2 (1 open, 1 resolved, 0 abandoned)",
        "escalations by reason asked_for_human 2",
        "(1 cases)",
        "5.00 average from 1 rating(s) (5: 1)",
    ] {
        assert!(stats.contains(want), "missing {want:?} in stats:\n{stats}");
    }
    let json = handoff_cli(
        &["stats", "--config", &config_path, "--since", "1d", "--json"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("stats --json is JSON");
    assert_eq!(v["cases"], 2);
    assert_eq!(v["csat"]["responses"], 1);

    let md = handoff_cli(
        &[
            "export",
            "--config",
            &config_path,
            "--case",
            "1",
            "--format",
            "md",
        ],
        &[],
    );
    assert!(md.starts_with("## Case #1 · tech"), "{md}");
    assert!(md.contains("I want to talk to a person"), "{md}");
    assert!(md.contains("Hi Ann, I can help with that."), "{md}");
    assert!(
        md.contains("*(internal note)*:\n  > she is a long-time customer"),
        "{md}"
    );
    assert!(md.contains("- Rating: 5/5"), "{md}");
    let jsonl = handoff_cli(
        &[
            "export",
            "--config",
            &config_path,
            "--since",
            "1d",
            "--format",
            "jsonl",
        ],
        &[],
    );
    assert_eq!(jsonl.lines().count(), 2, "{jsonl}");

    // Ann asks to be forgotten: erased through the running daemon's /api.
    let ann_id = ann.user_id().to_string();
    let forgot = handoff_cli(
        &["forget", "--config", &config_path, "--customer", &ann_id],
        &[],
    );
    assert!(forgot.contains(&format!("forgot {ann_id}")), "{forgot}");
    assert!(forgot.contains("cases erased: 1 (#1)"), "{forgot}");
    let md = handoff_cli(
        &[
            "export",
            "--config",
            &config_path,
            "--case",
            "1",
            "--format",
            "md",
        ],
        &[],
    );
    for gone in [
        ann_id.as_str(),
        "I want to talk to a person",
        "Hi Ann, I can help with that.",
    ] {
        assert!(
            !md.contains(gone),
            "{gone:?} still exported after forget:\n{md}"
        );
    }
    assert!(md.contains("- Transcript erased:"), "{md}");
    assert!(
        md.contains("- Rating: 5/5"),
        "the case's figures stay:\n{md}"
    );
    let stats = handoff_cli(&["stats", "--config", &config_path, "--since", "1d"], &[]);
    assert!(
        stats.contains("cases:                2 (1 open, 1 resolved, 0 abandoned)"),
        "{stats}"
    );

    // Stopped: the CLI opens the store itself and says the same.
    handoff.kill();
    let offline = handoff_cli(&["stats", "--config", &config_path, "--since", "1d"], &[]);
    assert_eq!(
        offline.lines().skip(1).collect::<Vec<_>>(),
        stats.lines().skip(1).collect::<Vec<_>>(),
        "stats differ between daemon and store"
    );
}

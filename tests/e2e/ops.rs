//! Running handoff as a service, through the real binary on a real
//! Synapse: it tells a `NOTIFY_SOCKET` `READY=1` once connected and
//! `STOPPING=1` on SIGTERM; with `[log] format = "json"` every log line is
//! a JSON object and the lines about a case carry its number; `handoff
//! backup` taken while a relay is going on restores into a fresh
//! directory with every case and transcript line relayed before it.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use common::{bot_joined, free_port, from_bot, handoff_cli, synapse_with_bot, user, Handoff, WAIT};
use matrix_sdk::ruma::{OwnedUserId, UserId};

fn config(port: u16) -> String {
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

[metrics]
listen = "127.0.0.1:{port}"
api_token = "e2e-api-token"

[log]
format = "json"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true

[[team]]
name = "billing"
desk = "matrix"
agents = ["@alice:localhost"]
"#
    )
}

fn helper() -> OwnedUserId {
    UserId::parse("@helper:localhost").expect("user id")
}

/// The next datagram on `socket` (a systemd notify message), or None
/// within `WAIT`.
fn next_notice(socket: &UnixDatagram) -> Option<String> {
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The case numbers found in the span fields of a JSON log line.
fn cases_of(line: &serde_json::Value) -> Vec<u64> {
    line["spans"]
        .as_array()
        .map(|spans| spans.iter().filter_map(|s| s["case"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_json_logs_and_a_backup_taken_while_relaying() {
    let synapse = synapse_with_bot().await;
    let carol = user(&synapse, "carol").await;
    let alice = user(&synapse, "alice").await;
    let notify_dir = tempfile::tempdir().expect("tempdir");
    let notify_path = notify_dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind the notify socket");
    let port = free_port();
    let notify_env = notify_path.to_str().expect("utf-8 path").to_string();
    let mut handoff = Handoff::start_with(
        &synapse,
        &config(port),
        &[("NOTIFY_SOCKET", notify_env.as_str())],
    );

    // READY=1 comes once the Matrix bridge is connected.
    let ready = next_notice(&notify)
        .unwrap_or_else(|| panic!("READY=1 on the notify socket; log:\n{}", handoff.log()));
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    let (status, body) = common::http_get(port, "/readyz").await;
    assert_eq!(status, 200, "ready was notified before /readyz: {body}");

    // A case with a relay going on.
    let room = carol
        .create_room("support", &[helper()])
        .await
        .expect("customer room");
    bot_joined(&carol, &room).await;
    carol
        .send_text(&room, "I want to talk to a person")
        .await
        .expect("ask");
    let desk = alice.wait_for_invite(WAIT).await.expect("invite");
    alice.join(&desk).await.expect("join");
    from_bot(&alice, &desk, "the summary", |m| m.body.contains("Case #1")).await;
    for i in 0..3 {
        let text = format!("before the backup {i}");
        carol.send_text(&room, &text).await.expect("send");
        from_bot(&alice, &desk, "the relayed line", |m| {
            m.body.contains(&text)
        })
        .await;
    }
    alice
        .send_text(&desk, "agent reply one")
        .await
        .expect("reply");
    from_bot(&carol, &room, "the relayed reply", |m| {
        m.body.contains("agent reply one")
    })
    .await;

    // Back up (through the daemon: it holds the store) while the customer
    // keeps writing.
    let backup_dir = tempfile::tempdir().expect("tempdir");
    let to = backup_dir.path().join("b1");
    let config_path = handoff.config.clone();
    let backup = {
        let to = to.clone();
        tokio::task::spawn_blocking(move || {
            handoff_cli(
                &[
                    "backup",
                    "--config",
                    config_path.to_str().expect("utf-8"),
                    "--to",
                    to.to_str().expect("utf-8"),
                ],
                &[],
            )
        })
    };
    for i in 0..3 {
        carol
            .send_text(&room, &format!("during the backup {i}"))
            .await
            .expect("send");
    }
    let said = backup.await.expect("backup task");
    assert!(said.contains("backed up to"), "{said}");
    assert!(said.contains("1 case(s)"), "{said}");
    assert!(said.contains("session.json"), "{said}");
    from_bot(&alice, &desk, "relaying goes on", |m| {
        m.body.contains("during the backup 2")
    })
    .await;

    // SIGTERM: STOPPING=1 and a clean exit.
    assert!(
        handoff.terminate(),
        "handoff did not exit cleanly on SIGTERM"
    );
    let stopping = next_notice(&notify).expect("STOPPING=1 on the notify socket");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");

    // Every log line is JSON; lines about the case carry its number.
    let log = handoff.log();
    let mut case_lines = 0;
    for (n, line) in log.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line {} is not JSON ({e}): {line}", n + 1));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        if cases_of(&v).contains(&1) {
            case_lines += 1;
            let spans = v["spans"].as_array().expect("spans");
            assert!(
                spans.iter().any(|s| s["key"].is_string()),
                "a case line without its conversation: {line}"
            );
        }
    }
    assert!(case_lines > 0, "no log line carries case 1:\n{log}");

    // Restore into a fresh directory and read it back.
    let fresh = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        handoff.dir.path().join("faq.toml"),
        fresh.path().join("faq.toml"),
    )
    .expect("faq");
    let fresh_config = fresh.path().join("handoff.toml");
    std::fs::write(
        &fresh_config,
        config(port).replace("{homeserver}", synapse.base_url()),
    )
    .expect("config");
    let fresh_config = fresh_config.to_str().expect("utf-8");
    let from = to.to_str().expect("utf-8");
    let said = handoff_cli(&["restore", "--config", fresh_config, "--from", from], &[]);
    assert!(said.contains("restored"), "{said}");
    assert!(said.contains("1 case(s)"), "{said}");
    assert!(
        Path::new(fresh.path())
            .join("store.matrix/session.json")
            .is_file(),
        "the Matrix session is restored next to the store"
    );
    let export = handoff_cli(
        &[
            "export",
            "--config",
            fresh_config,
            "--case",
            "1",
            "--format",
            "jsonl",
        ],
        &[],
    );
    let case: serde_json::Value = serde_json::from_str(export.trim()).expect("export JSON");
    let texts: Vec<&str> = case["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter_map(|t| t["text"].as_str())
        .collect();
    for want in [
        "I want to talk to a person",
        "before the backup 0",
        "before the backup 1",
        "before the backup 2",
        "agent reply one",
    ] {
        assert!(texts.contains(&want), "{want:?} missing from {texts:#?}");
    }
    // A second restore over it is refused without --force.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(["restore", "--config", fresh_config, "--from", from])
        .output()
        .expect("run handoff");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force"), "{err}");
}

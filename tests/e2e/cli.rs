//! The `handoff` binary as an admin uses it: check-config, faq eval/ask,
//! and `run` refusing what it cannot do, with clear messages and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn handoff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("HANDOFF_MATRIX_PASSWORD")
        .output()
        .expect("the handoff binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn check_config_accepts_the_example_and_summarises_it() {
    let o = handoff(&["check-config", "--config", "config/example.toml"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("config/example.toml: OK"), "{out}");
    assert!(
        out.contains("billing: desk slack:#support-billing"),
        "{out}"
    );
    assert!(out.contains("tech (default): desk matrix"), "{out}");
    assert!(out.contains("5 entries"), "{out}");
    assert!(out.contains("HANDOFF_MATRIX_PASSWORD is not set"), "{out}");
}

#[test]
fn check_config_reports_file_line_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(dir.path().join("faq.toml"), "").unwrap();
    std::fs::write(
        &path,
        "[bot]\nstore = \"s\"\nfaq = \"faq.toml\"\n\n[[team]]\nname = \"x\"\ndesk = \"matrix\"\nagents = [\"@a:x\"]\nhours = \"Mon-Fri 9-5 UTC\"\n",
    )
    .unwrap();
    let o = handoff(&["check-config", "--config", path.to_str().unwrap()]);
    let out = text(&o);
    assert!(!o.status.success());
    assert!(out.contains("bad.toml:9:9:"), "{out}");
    assert!(out.contains("is not a time like 09:00"), "{out}");
}

#[test]
fn faq_team_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("faq.toml"),
        "[[faq]]\nid = \"a\"\nquestions = [\"q\"]\nanswer = \"x\"\nteam = \"sales\"\n",
    )
    .unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[bot]\nstore = \"s\"\nfaq = \"faq.toml\"\n[matrix]\nhomeserver = \"http://x\"\nuser = \"@b:x\"\npassword = \"p\"\n[[team]]\nname = \"x\"\ndesk = \"matrix\"\nagents = [\"@a:x\"]\n",
    )
    .unwrap();
    let o = handoff(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("names team \"sales\""), "{}", text(&o));
}

#[test]
fn faq_eval_prints_the_json_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        "{\"text\": \"how do i reset my password\", \"expect\": \"reset_password\"}\nnot json\n{\"text\": \"what is the airspeed of a swallow\", \"expect\": null}\n",
    )
    .unwrap();
    let o = handoff(&[
        "faq",
        "eval",
        "--faq",
        "config/faq.toml",
        "--cases",
        cases.to_str().unwrap(),
        "--json",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    let last = out.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    for key in ["in_scope_accuracy", "oos_recall", "cases", "p99_us"] {
        assert!(v.get(key).is_some(), "missing {key} in {last}");
    }
    assert_eq!(v["cases"], 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cases.jsonl:2: skipped"),
        "{}",
        text(&o)
    );
}

#[test]
fn faq_ask_lists_entries_with_confidence() {
    let o = handoff(&[
        "faq",
        "ask",
        "--faq",
        "config/faq.toml",
        "I forgot my password",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("reset_password"), "{out}");
}

#[test]
fn run_without_secrets_says_which_variable() {
    let o = handoff(&["run", "--config", "config/example.toml"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("HANDOFF_MATRIX_PASSWORD"), "{}", text(&o));
}

#[test]
fn version_and_help() {
    let o = handoff(&["--version"]);
    assert!(text(&o).starts_with("handoff "), "{}", text(&o));
    let o = handoff(&["--help"]);
    for cmd in ["run", "check-config", "faq"] {
        assert!(text(&o).contains(cmd), "{}", text(&o));
    }
    assert!(Path::new(env!("CARGO_BIN_EXE_handoff")).exists());
}

/// A config whose store is `store` in `dir`, with a homeserver nobody
/// listens on (the store is opened before any network).
fn offline_config(dir: &Path, metrics: bool) -> std::path::PathBuf {
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/faq.toml"),
        dir.join("faq.toml"),
    )
    .expect("copy the FAQ");
    let path = dir.join("handoff.toml");
    let metrics = if metrics {
        "[metrics]\nlisten = \"127.0.0.1:9\"\n"
    } else {
        ""
    };
    std::fs::write(
        &path,
        format!(
            "[bot]\nstore = \"store\"\nfaq = \"faq.toml\"\n\n[matrix]\nhomeserver = \"http://127.0.0.1:9\"\nuser = \"@helper:localhost\"\npassword = \"pw\"\n\n{metrics}\n[[team]]\nname = \"tech\"\ndesk = \"matrix\"\nagents = [\"@a:localhost\"]\ndefault = true\n\n[[team]]\nname = \"billing\"\ndesk = \"matrix\"\nagents = [\"@a:localhost\"]\n"
        ),
    )
    .expect("write the config");
    path
}

#[test]
fn a_store_held_by_another_process_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path(), false);
    let config = config.to_str().unwrap();
    let held = handoff::store::sled::SledStore::open(dir.path().join("store")).expect("open");
    let o = handoff(&["run", "--config", config]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("is in use by another handoff process"),
        "{out}"
    );
    // Reports need the daemon's /api when the store is held.
    let o = handoff(&["stats", "--config", config]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("Set [metrics] listen"), "{out}");
    drop(held);
    // Free again: stats reads the (empty) store itself.
    let o = handoff(&["stats", "--config", config, "--since", "1d"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("conversations:        0"), "{out}");
    assert!(out.contains("containment:          n/a"), "{out}");
    let o = handoff(&["export", "--config", config, "--case", "3"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("there is no case #3 in the store"));
}

#[test]
fn a_corrupt_store_stops_run_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path(), false);
    let store = dir.path().join("store");
    drop(handoff::store::sled::SledStore::open(&store).expect("create the store"));
    let len = std::fs::metadata(store.join("db")).expect("db").len() as usize;
    std::fs::write(store.join("db"), vec![0xA5; len]).expect("corrupt");
    let before = std::fs::read(store.join("db")).expect("read");
    let o = handoff(&["run", "--config", config.to_str().unwrap()]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("is corrupt"), "{out}");
    assert!(out.contains("restore a backup or move it aside"), "{out}");
    assert_eq!(std::fs::read(store.join("db")).expect("read"), before);
}

#[test]
fn stats_and_export_explain_a_missing_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path(), true);
    let o = handoff(&["stats", "--config", config.to_str().unwrap()]);
    let out = text(&o);
    assert!(!o.status.success());
    assert!(out.contains("there is no store at"), "{out}");
    let o = handoff(&["export", "--config", config.to_str().unwrap()]);
    assert!(!o.status.success(), "export without --case or --since");
}

#[test]
fn a_bad_homeserver_url_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path(), false);
    let src = std::fs::read_to_string(&config)
        .unwrap()
        .replace("http://127.0.0.1:9", "matrix.example.org");
    std::fs::write(&config, src).unwrap();
    for cmd in ["check-config", "run"] {
        let o = handoff(&[cmd, "--config", config.to_str().unwrap()]);
        let out = text(&o);
        assert!(!o.status.success(), "{cmd}: {out}");
        assert!(out.contains("handoff.toml:6:"), "{cmd}: {out}");
        assert!(
            out.contains("\"matrix.example.org\" is not a URL"),
            "{cmd}: {out}"
        );
    }
}

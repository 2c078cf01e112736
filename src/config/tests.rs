//! Config loading: the example parses, and every kind of bad config gets
//! an error naming the problem and its line.

use std::path::{Path, PathBuf};

use super::*;

/// A temp dir holding an empty FAQ file, so `faq = "faq.toml"` resolves.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("faq.toml"), "").unwrap();
        Dir(d)
    }
    fn path(&self) -> PathBuf {
        self.0.path().join("handoff.toml")
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "PASS" => Some("s3cret-pass".into()),
        "SLACK_BOT" => Some("xoxb-123".into()),
        "SLACK_APP" => Some("xapp-123".into()),
        _ => None,
    }
}

const BASE: &str = r#"
[bot]
store = "data/store.sled"
faq = "faq.toml"

[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@helper:localhost"
password = "${PASS}"

[slack]
bot_token = "${SLACK_BOT}"
app_token = "${SLACK_APP}"

[[team]]
name = "billing"
desk = "slack:#support-billing"
topics = ["invoice", "refund"]
hours = "Mon-Fri 09:00-17:00 Europe/Berlin"
first_reply_sla = "10m"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
default = true
"#;

fn parse(src: &str) -> Result<Config, ConfigError> {
    let d = Dir::new();
    Config::parse(src, &d.path(), env, &crate::bridges::networks())
}

/// Asserts parsing fails at `line` with a message containing `want`.
fn fails(src: &str, line: usize, want: &str) {
    let err = parse(src).expect_err("config should be rejected");
    let text = err.to_string();
    match &err {
        ConfigError::Invalid { line: l, .. } => {
            assert_eq!(*l, line, "wrong line in: {text}")
        }
        other => panic!("unexpected error kind: {other}"),
    }
    assert!(text.contains(want), "{text:?} should mention {want:?}");
    assert!(
        text.contains("handoff.toml:"),
        "{text} should name the file"
    );
}

#[test]
fn base_config_parses_with_defaults() {
    let c = parse(BASE).unwrap();
    assert_eq!(c.teams.len(), 2);
    assert_eq!(c.default_team().name, "tech");
    assert_eq!(
        c.team("BILLING").unwrap().desk,
        Desk {
            network: "slack".into(),
            target: Some("#support-billing".into())
        }
    );
    assert_eq!(
        c.team("billing").unwrap().first_reply_sla,
        Some(std::time::Duration::from_secs(600))
    );
    let matrix = c
        .settings::<handoff_matrix::settings::MatrixSettings>("matrix")
        .expect("[matrix] parsed by its plugin");
    assert_eq!(matrix.password.expose(), "s3cret-pass");
    assert_eq!(c.escalation.max_misses, 2);
    assert_eq!(c.bot.min_confidence, crate::faq::DEFAULT_MIN_CONFIDENCE);
    assert!(c.bot.store.ends_with("data/store.sled"));
    assert!(c.bot.store.is_absolute() || c.bot.store.starts_with(std::env::temp_dir()));
}

#[test]
fn debug_output_redacts_secrets() {
    let c = parse(BASE).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s3cret-pass"), "{dbg}");
    assert!(!dbg.contains("xoxb-123"), "{dbg}");
    assert!(!dbg.contains("xapp-123"), "{dbg}");
}

#[test]
fn missing_env_variable_is_named_with_its_line() {
    let src = BASE.replace("${PASS}", "${HANDOFF_NO_SUCH_VAR}");
    fails(&src, 9, "HANDOFF_NO_SUCH_VAR");
}

#[test]
fn unknown_key_is_rejected() {
    let src = BASE.replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"10m\"\ncolour = \"red\"",
    );
    fails(&src, 21, "colour");
}

#[test]
fn wrong_type_is_rejected() {
    let src = BASE.replace("[escalation]", "").replace(
        "[[team]]\nname = \"billing\"",
        "[escalation]\nmax_misses = \"two\"\n\n[[team]]\nname = \"billing\"",
    );
    fails(&src, 16, "invalid type");
}

#[test]
fn team_without_desk_is_rejected() {
    let src = BASE.replace("desk = \"slack:#support-billing\"\n", "");
    fails(&src, 15, "desk");
}

#[test]
fn bad_desk_is_rejected() {
    let src = BASE.replace("slack:#support-billing", "teams:#billing");
    fails(&src, 17, "desk network \"teams\" is not one this build has");
    let src = BASE.replace("slack:#support-billing", "Slack channel");
    fails(&src, 17, "is not \"network\"");
    // The network's plugin checks the target.
    let src = BASE.replace("slack:#support-billing", "matrix:staff");
    fails(&src, 17, "not a room alias or id");
    let src = BASE.replace("slack:#support-billing", "slack");
    fails(&src, 17, "names its channel");
}

#[test]
fn an_unknown_table_is_named_with_its_line() {
    let src = format!("{BASE}\n[slak]\nbot_token = \"x\"\n");
    let line = src.lines().position(|l| l == "[slak]").unwrap() + 1;
    fails(&src, line, "unknown table [slak]");
}

#[test]
fn two_default_teams_are_rejected() {
    let src = BASE.replace("hours = \"Mon", "default = true\nhours = \"Mon");
    let err = parse(&src).unwrap_err().to_string();
    assert!(err.contains("both `default = true`"), "{err}");
}

#[test]
fn second_default_is_the_line_reported() {
    let src = BASE.replace(
        "topics = [\"invoice\"",
        "default = true\ntopics = [\"invoice\"",
    );
    // billing (first) is default at line 18; tech's, now at line 27, is reported.
    fails(&src, 27, "only one team can be the default");
}

#[test]
fn several_teams_and_no_default_is_rejected() {
    let src = BASE.replace("default = true\n", "");
    fails(&src, 15, "none is `default = true`");
}

#[test]
fn single_team_is_the_default() {
    let src = BASE.replace("default = true\n", "");
    let cut = src.find("[[team]]\nname = \"tech\"").unwrap();
    let c = parse(&src[..cut]).unwrap();
    assert_eq!(c.default_team().name, "billing");
}

#[test]
fn missing_faq_file_is_rejected() {
    let src = BASE.replace("faq = \"faq.toml\"", "faq = \"nope/faq.toml\"");
    fails(&src, 4, "does not exist");
}

#[test]
fn bad_business_hours_are_rejected() {
    let src = BASE.replace("Europe/Berlin", "Europe/Atlantis");
    fails(&src, 19, "time zone");
    let src = BASE.replace("09:00-17:00", "9am-5pm");
    fails(&src, 19, "time");
}

#[test]
fn bad_duration_is_rejected() {
    let src = BASE.replace("\"10m\"", "\"ten minutes\"");
    fails(&src, 20, "duration");
}

#[test]
fn bad_holiday_is_rejected() {
    let src = BASE.replace(
        "first_reply_sla",
        "holidays = [\"25.12.2026\"]\nfirst_reply_sla",
    );
    fails(&src, 20, "neither a date like 2026-12-25");
}

#[test]
fn matrix_desk_without_agents_is_rejected() {
    let src = BASE.replace("agents = [\"@alice:localhost\"]\n", "");
    fails(&src, 22, "no `agents`");
}

#[test]
fn desk_without_its_network_section_is_rejected() {
    let src = BASE.replace(
        "[slack]\nbot_token = \"${SLACK_BOT}\"\napp_token = \"${SLACK_APP}\"\n",
        "",
    );
    let err = parse(&src).unwrap_err().to_string();
    assert!(err.contains("no [slack] section"), "{err}");
}

#[test]
fn slack_without_a_connection_mode_is_rejected() {
    let src = BASE.replace("app_token = \"${SLACK_APP}\"\n", "");
    fails(&src, 11, "app_token");
}

#[test]
fn unknown_fallback_team_is_rejected() {
    let src = BASE.replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"10m\"\nfallback = \"nobody\"",
    );
    fails(&src, 15, "fallback team \"nobody\" does not exist");
}

#[test]
fn fallback_when_closed_needs_a_fallback_team() {
    let src = BASE.replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"10m\"\nfallback_when_closed = true",
    );
    fails(
        &src,
        15,
        "`fallback_when_closed = true` needs a `fallback` team",
    );
}

#[test]
fn min_confidence_out_of_range_is_rejected() {
    let src = BASE.replace(
        "faq = \"faq.toml\"",
        "faq = \"faq.toml\"\nmin_confidence = 1.5",
    );
    fails(&src, 5, "between 0 and 1");
}

#[test]
fn bad_privacy_pattern_is_rejected() {
    let src = format!("{BASE}\n[privacy]\nextra_patterns = [\"(\"]\n");
    let err = parse(&src).unwrap_err().to_string();
    assert!(err.contains("not a valid regular expression"), "{err}");
    assert!(err.contains(":28:"), "{err}");
}

#[test]
fn the_retention_period_is_a_duration_of_a_day_or_more() {
    let c = parse(&format!("{BASE}\n[privacy]\nkeep = \"365d\"\n")).unwrap();
    assert_eq!(
        c.privacy.keep,
        Some(std::time::Duration::from_secs(365 * 24 * 3600))
    );
    assert_eq!(
        parse(BASE).unwrap().privacy.keep,
        None,
        "kept for good by default"
    );
    let err = parse(&format!("{BASE}\n[privacy]\nkeep = \"2h\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("shorter than a day"), "{err}");
    assert!(err.contains(":28:"), "{err}");
    let err = parse(&format!("{BASE}\n[privacy]\nkeep = \"a year\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a duration"), "{err}");
}

#[test]
fn holidays_come_from_a_calendar_file_beside_the_config() {
    let d = Dir::new();
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261124\r\nSUMMARY:Closed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    std::fs::write(d.0.path().join("holidays.ics"), ics).unwrap();
    let src = BASE.replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"10m\"\nholidays_file = \"holidays.ics\"",
    );
    let c = Config::parse(&src, &d.path(), env, &crate::bridges::networks()).unwrap();
    let billing = c.team("billing").unwrap();
    // Tue 24 Nov 2026, 10:00 in Berlin (09:00 UTC).
    let tuesday = 1_795_510_800_000;
    assert!(!billing.hours.is_open(tuesday));
    assert!(billing.hours.is_open(tuesday + 24 * 3_600_000));

    let missing = BASE.replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"10m\"\nholidays_file = \"nope.ics\"",
    );
    let err = Config::parse(&missing, &d.path(), env, &crate::bridges::networks())
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.ics: cannot read it"), "{err}");
    assert!(err.contains(":21:"), "{err}");
}

#[test]
fn syntax_error_has_position() {
    fails("[bot\nstore = 1", 1, "");
}

#[test]
fn unreadable_file_names_the_path() {
    let err = Config::load(
        Path::new("/nonexistent/handoff.toml"),
        &crate::bridges::networks(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/handoff.toml"));
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("é\nx", 3), (2, 1));
    assert_eq!(line_col("", 10), (1, 1));
}

/// The shipped example must parse and use every section.
#[test]
fn example_config_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("config/example.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let c = Config::parse(
        &src,
        &path,
        |name| Some(format!("value-of-{name}")),
        &crate::bridges::networks(),
    )
    .unwrap();
    assert!(c.networks.contains_key("matrix") && c.networks.contains_key("slack"));
    assert!(c.metrics.is_some());
    assert!(c.teams.len() >= 2);
    assert!(c.teams.iter().any(|t| t.desk.network == "slack"));
    assert!(c
        .teams
        .iter()
        .any(|t| t.desk.network == "matrix" && t.desk.is_room_per_case()));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC*") {
        let _ = parse(&src);
    }

    #[test]
    fn mutated_base_never_panics(pos in 0usize..BASE.len(), junk in "[\\[\\]=\"{}#a-z0-9 \n:,.-]{0,12}") {
        let mut src = BASE.to_string();
        let pos = (0..=pos).rev().find(|p| src.is_char_boundary(*p)).unwrap_or(0);
        src.insert_str(pos, &junk);
        let _ = parse(&src);
    }
}

#[test]
fn homeserver_must_be_an_http_url() {
    let src = BASE.replace("http://127.0.0.1:8008", "htp//not a url");
    fails(&src, 7, "is not a URL");
    let src = BASE.replace("http://127.0.0.1:8008", "ftp://matrix.example.org");
    fails(&src, 7, "is not an http(s) URL");
}

#[test]
fn internal_prefix_lives_in_conversation_and_works_without_slack() {
    let matrix_only = r#"
[bot]
store = "data/store.sled"
faq = "faq.toml"

[matrix]
homeserver = "http://127.0.0.1:8008"
user = "@helper:localhost"
password = "${PASS}"

[conversation]
internal_prefix = "%%"

[[team]]
name = "tech"
desk = "matrix"
agents = ["@alice:localhost"]
"#;
    let c = parse(matrix_only).unwrap();
    assert_eq!(c.internal_prefix(), Some("%%"));
    assert!(c.deprecations.is_empty());
    // No key anywhere: the default, Slack section or not.
    let c = parse(BASE).unwrap();
    assert_eq!(c.internal_prefix(), Some("//"));
    assert!(c.deprecations.is_empty());
    let off = matrix_only.replace("\"%%\"", "\"\"");
    assert_eq!(parse(&off).unwrap().internal_prefix(), None);
}

#[test]
fn slack_internal_prefix_is_accepted_but_reported_deprecated_with_its_line() {
    let src = BASE.replace(
        "app_token = \"${SLACK_APP}\"\n",
        "app_token = \"${SLACK_APP}\"\ninternal_prefix = \"##\"\n",
    );
    let line = src
        .lines()
        .position(|l| l.starts_with("internal_prefix"))
        .unwrap()
        + 1;
    let c = parse(&src).unwrap();
    assert_eq!(c.internal_prefix(), Some("##"));
    assert_eq!(c.deprecations.len(), 1, "{:?}", c.deprecations);
    let d = &c.deprecations[0];
    assert!(
        d.contains(&format!("handoff.toml:{line}:")),
        "{d} should name the file and line {line}"
    );
    assert!(d.contains("[slack] internal_prefix is deprecated"), "{d}");
    // The new key wins; the old one is still reported.
    let both = src.replace(
        "[[team]]\nname = \"billing\"",
        "[conversation]\ninternal_prefix = \"%%\"\n\n[[team]]\nname = \"billing\"",
    );
    let c = parse(&both).unwrap();
    assert_eq!(c.internal_prefix(), Some("%%"));
    assert!(
        c.deprecations[0].contains("ignored"),
        "{:?}",
        c.deprecations
    );
}

#[test]
fn the_first_problem_in_the_document_is_reported_whoever_parses_it() {
    // [matrix] (parsed by its plugin) comes before the teams (the core's):
    // its missing variable is the one reported, as in one parse.
    let src = BASE.replace("${PASS}", "${NOPE_FIRST}").replace(
        "first_reply_sla = \"10m\"",
        "first_reply_sla = \"${NOPE_LATER}\"",
    );
    let line = src.lines().position(|l| l.contains("NOPE_FIRST")).unwrap() + 1;
    fails(&src, line, "NOPE_FIRST");
    // And the other way round.
    let src = format!("{BASE}\n[log]\nformat = \"yaml\"\n").replace("${SLACK_BOT}", "${NOPE}");
    let line = src.lines().position(|l| l.contains("NOPE")).unwrap() + 1;
    fails(&src, line, "NOPE");
}

#[test]
fn every_core_table_is_known() {
    // A table of the core is never taken for an unknown network.
    let extra = "[escalation]\n[conversation]\n[messages]\n[privacy]\n[log]\n[metrics]\nlisten = \"127.0.0.1:9\"\n";
    let c = parse(&format!("{BASE}\n{extra}")).expect("all core tables");
    assert!(c.metrics.is_some());
}

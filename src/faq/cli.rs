//! The `handoff faq …` subcommands: `eval` (measure a FAQ on labelled
//! questions) and `ask` (see what the matcher would do with one question).
//!
//! This is the only place in the FAQ module that prints; it parses
//! arguments (clap), calls `Faq` and `eval`, and formats results. The
//! `--json` output of `eval` is a stable interface (docs/design.md,
//! "Evaluation interface"): one JSON object on the last line of stdout.
//!
//! Invariant: errors are returned as `FaqCliError`, never printed and exited
//! here; the binary decides the exit code.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use super::eval::{evaluate, parse_cases_for, pick_held_out};
use super::{Faq, FaqError, MatcherParams, DEFAULT_MIN_CONFIDENCE};

/// `--hold-out-entries`: a share like `10%` or `0.1`.
fn share_arg(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a share like 10% or 0.1"))?;
    let v = v / scale;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is not between 0% and 100% (exclusive)"))
    }
}

fn confidence_arg(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// FAQ tools for admins.
#[derive(Debug, clap::Subcommand)]
pub enum FaqCommand {
    /// Measure a FAQ on labelled questions: in-scope accuracy, out-of-scope
    /// recall, false answers and match latency.
    ///
    /// The cases file has one JSON object per line:
    /// {"text": "...", "expect": "<faq id>"} for questions the FAQ should
    /// answer, {"text": "...", "expect": null} for questions the bot must
    /// hand over. Malformed lines are reported on stderr and skipped.
    Eval {
        /// The FAQ file (TOML with [[faq]] tables).
        #[arg(long, value_name = "FAQ.toml")]
        faq: PathBuf,
        /// Labelled questions, one JSON object per line.
        #[arg(long, value_name = "CASES.jsonl")]
        cases: PathBuf,
        /// Print the results as one JSON object on one line.
        #[arg(long)]
        json: bool,
        /// Answer only at or above this confidence (0..1); the default is
        /// the built-in `[bot] min_confidence` default.
        #[arg(long, value_name = "X", default_value_t = DEFAULT_MIN_CONFIDENCE, value_parser = confidence_arg)]
        min_confidence: f32,
        /// Remove this share of the FAQ's entries (e.g. 10%) before
        /// indexing and count their questions as must-not-answer.
        #[arg(long, value_name = "SHARE", value_parser = share_arg)]
        hold_out_entries: Option<f64>,
        /// Seed of the choice of held-out entries.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
    },
    /// Show the best FAQ entries for a question, with confidences, and
    /// whether the bot would answer it.
    Ask {
        /// The FAQ file (TOML with [[faq]] tables).
        #[arg(long, value_name = "FAQ.toml")]
        faq: PathBuf,
        /// How many entries to show.
        #[arg(long, value_name = "N", default_value_t = 5)]
        top: usize,
        /// The threshold to judge "would answer" against (0..1).
        #[arg(long, value_name = "X", default_value_t = DEFAULT_MIN_CONFIDENCE, value_parser = confidence_arg)]
        min_confidence: f32,
        /// The customer's question (several words are joined by spaces).
        #[arg(required = true, value_name = "QUESTION")]
        question: Vec<String>,
    },
}

/// Why a `faq` subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum FaqCliError {
    #[error(transparent)]
    Faq(#[from] FaqError),
    #[error("cannot read cases file {}: {source}", path.display())]
    Cases {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs a subcommand, printing to stdout and stderr.
pub fn run(cmd: FaqCommand) -> Result<(), FaqCliError> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(cmd, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs a subcommand with explicit output streams (for tests).
pub fn run_with(
    cmd: FaqCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), FaqCliError> {
    match cmd {
        FaqCommand::Eval {
            faq,
            cases,
            json,
            min_confidence,
            hold_out_entries,
            seed,
        } => {
            let entries = Faq::read_entries(&faq)?;
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let known: HashSet<String> = ids.iter().map(|s| (*s).to_owned()).collect();
            let held_out = pick_held_out(&ids, hold_out_entries.unwrap_or(0.0), seed);
            let kept = entries
                .iter()
                .filter(|e| !held_out.contains(&e.id))
                .cloned()
                .collect();
            let started = std::time::Instant::now();
            let faq_index = Faq::from_entries(kept, &MatcherParams::default());
            let load_ms = started.elapsed().as_secs_f64() * 1e3;
            let src = std::fs::read_to_string(&cases).map_err(|source| FaqCliError::Cases {
                path: cases.clone(),
                source,
            })?;
            let (parsed, skipped) = parse_cases_for(&src, |id| known.contains(id));
            for s in &skipped {
                writeln!(err, "{}:{}: skipped: {}", cases.display(), s.line, s.reason)?;
            }
            let r = evaluate(
                &faq_index,
                &parsed,
                min_confidence,
                skipped.len(),
                &held_out,
            );
            if json {
                let mut v = r.to_json();
                v["faq_load_ms"] = serde_json::json!(load_ms);
                writeln!(out, "{v}")?;
                return Ok(());
            }
            writeln!(
                out,
                "FAQ {}: {} entries, {} questions, indexed in {load_ms:.0} ms",
                faq.display(),
                faq_index.entries().len(),
                faq_index.question_count()
            )?;
            writeln!(
                out,
                "cases: {} ({} in scope, {} out of scope, {} lines skipped), min confidence {:.2}",
                r.cases, r.in_scope_cases, r.oos_cases, r.skipped_lines, r.min_confidence
            )?;
            writeln!(
                out,
                "in-scope accuracy:  {:6.2} %  ({} / {} answered with the right entry)",
                100.0 * r.in_scope_accuracy(),
                r.in_scope_correct,
                r.in_scope_cases
            )?;
            writeln!(
                out,
                "out-of-scope recall:{:6.2} %  ({} / {} handed over)",
                100.0 * r.oos_recall(),
                r.oos_rejected,
                r.oos_cases
            )?;
            writeln!(out, "false answers:      {}", r.false_answers)?;
            let outcomes = |name: &str, o: &super::eval::Outcomes| {
                format!(
                    "{name}: answered right {}, answered wrong {}, clarified with the right entry {}, clarified without it {}, declined {}",
                    o.answered_right, o.answered_wrong, o.clarified_with_right, o.clarified_without_right, o.declined
                )
            };
            writeln!(out, "{}", outcomes("in scope", &r.in_scope))?;
            writeln!(out, "{}", outcomes("out of scope", &r.oos))?;
            if !held_out.is_empty() {
                writeln!(out, "{}", outcomes("held-out entries", &r.held_out))?;
                writeln!(
                    out,
                    "held-out entries ({}): {:.2} % of their {} questions declined or clarified",
                    held_out.len(),
                    100.0 * r.held_out_not_answered(),
                    r.held_out.total()
                )?;
            }
            writeln!(
                out,
                "speed: {:.0} cases/s, latency p50 {:.1} µs, p99 {:.1} µs",
                r.cases_per_sec, r.p50_us, r.p99_us
            )?;
            Ok(())
        }
        FaqCommand::Ask {
            faq,
            top,
            min_confidence,
            question,
        } => {
            let faq = Faq::load(&faq)?;
            let text = question.join(" ");
            let matches = faq.top(&text, top);
            if matches.is_empty() {
                writeln!(out, "no entry shares any feature with this question")?;
            }
            for m in &matches {
                let e = &faq.entries()[m.index];
                let mut notes = Vec::new();
                if let Some(team) = &e.team {
                    notes.push(format!("team {team}"));
                }
                if e.escalate {
                    notes.push("escalate".to_owned());
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", notes.join(", "))
                };
                writeln!(out, "{:.3}  {}{notes}", m.confidence, m.id)?;
            }
            match faq.answer(&text, min_confidence) {
                Some(m) => writeln!(
                    out,
                    "would answer with {} (confidence {:.3} >= {min_confidence:.2})",
                    m.id, m.confidence
                )?,
                None => writeln!(
                    out,
                    "would not answer: hand over (best confidence below {min_confidence:.2})"
                )?,
            }
            Ok(())
        }
    }
}

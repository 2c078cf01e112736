//! Evaluation of a FAQ against labelled cases (`handoff faq eval`).
//!
//! Reads JSON lines `{"text": "...", "expect": "<faq id>" | null}` and
//! measures what matters for a support bot: how often an in-scope question
//! gets the right answer, how often an out-of-scope one is handed over, how
//! many answers are wrong, and how long matching takes. Printing is the
//! CLI's job; this module only computes.
//!
//! Invariant: a malformed line never aborts an evaluation; it is reported
//! with its 1-based line number and skipped.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;

use super::{Decision, Faq};

/// One labelled question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCase {
    /// 1-based line in the cases file.
    pub line: usize,
    pub text: String,
    /// The entry id that should answer, or `None` if the bot must not answer.
    pub expect: Option<String>,
}

/// A line that was not a usable case, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    pub line: usize,
    pub reason: String,
}

/// Parses cases; blank lines are ignored, malformed ones are returned as
/// skipped (bad JSON, no `text`, `expect` missing or not a known id).
pub fn parse_cases(src: &str, faq: &Faq) -> (Vec<EvalCase>, Vec<SkippedLine>) {
    parse_cases_for(src, |id| faq.entry(id).is_some())
}

/// [`parse_cases`] with the known entry ids given by `known` (entries held
/// out of the FAQ are still valid expectations).
pub fn parse_cases_for(
    src: &str,
    known: impl Fn(&str) -> bool,
) -> (Vec<EvalCase>, Vec<SkippedLine>) {
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match parse_case(raw, &known) {
            Ok((text, expect)) => cases.push(EvalCase { line, text, expect }),
            Err(reason) => skipped.push(SkippedLine { line, reason }),
        }
    }
    (cases, skipped)
}

fn parse_case(
    raw: &str,
    known: &impl Fn(&str) -> bool,
) -> Result<(String, Option<String>), String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let text = match obj.get("text") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err("\"text\" is not a string".into()),
        None => return Err("missing \"text\"".into()),
    };
    let expect = match obj.get("expect") {
        Some(Value::Null) => None,
        Some(Value::String(id)) if known(id) => Some(id.clone()),
        Some(Value::String(id)) => return Err(format!("unknown FAQ id {id:?} in \"expect\"")),
        Some(_) => return Err("\"expect\" is neither a string nor null".into()),
        None => return Err("missing \"expect\" (use null for out-of-scope)".into()),
    };
    Ok((text, expect))
}

/// What happened to the questions of one kind (in scope, out of scope, or
/// of held-out entries) under the three-way decision ([`Faq::decide`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Answered with the expected entry (in scope only).
    pub answered_right: usize,
    /// Answered with another entry, or answered at all when the bot must
    /// not answer.
    pub answered_wrong: usize,
    /// A clarifying question whose choices include the expected entry.
    pub clarified_with_right: usize,
    /// A clarifying question without the expected entry among its choices
    /// (every clarification of a question the bot must not answer).
    pub clarified_without_right: usize,
    pub declined: usize,
}

impl Outcomes {
    pub fn total(&self) -> usize {
        self.answered_right
            + self.answered_wrong
            + self.clarified_with_right
            + self.clarified_without_right
            + self.declined
    }

    fn record(&mut self, expect: Option<&str>, decision: &Decision) {
        match decision {
            Decision::Answer(m) if Some(m.id.as_str()) == expect => self.answered_right += 1,
            Decision::Answer(_) => self.answered_wrong += 1,
            Decision::Clarify(choices) if choices.iter().any(|m| Some(m.id.as_str()) == expect) => {
                self.clarified_with_right += 1
            }
            Decision::Clarify(_) => self.clarified_without_right += 1,
            Decision::Decline => self.declined += 1,
        }
    }

    fn to_json(self) -> Value {
        serde_json::json!({
            "answered_right": self.answered_right,
            "answered_wrong": self.answered_wrong,
            "clarified_with_right": self.clarified_with_right,
            "clarified_without_right": self.clarified_without_right,
            "declined": self.declined,
        })
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub cases: usize,
    pub in_scope_cases: usize,
    pub oos_cases: usize,
    /// In-scope cases answered with the expected id.
    pub in_scope_correct: usize,
    /// Out-of-scope cases not answered.
    pub oos_rejected: usize,
    /// Answers with a wrong id plus out-of-scope cases answered.
    pub false_answers: usize,
    /// The three-way outcomes of in-scope cases.
    pub in_scope: Outcomes,
    /// The three-way outcomes of out-of-scope cases (held-out entries'
    /// questions excluded).
    pub oos: Outcomes,
    /// The three-way outcomes of questions whose entry was held out of the
    /// FAQ (`--hold-out-entries`); they count as out of scope too.
    pub held_out: Outcomes,
    pub min_confidence: f32,
    pub skipped_lines: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cases_per_sec: f64,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

impl EvalReport {
    /// Fraction of in-scope cases answered correctly (0 when there are none).
    pub fn in_scope_accuracy(&self) -> f64 {
        ratio(self.in_scope_correct, self.in_scope_cases)
    }

    /// Fraction of out-of-scope cases not answered (0 when there are none).
    pub fn oos_recall(&self) -> f64 {
        ratio(self.oos_rejected, self.oos_cases)
    }

    /// Fraction of held-out entries' questions declined or clarified (not
    /// answered), 0 when nothing was held out.
    pub fn held_out_not_answered(&self) -> f64 {
        let h = &self.held_out;
        ratio(h.total() - h.answered_wrong, h.total())
    }

    /// The report as one JSON object (fractions in 0..1, latencies in µs).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "in_scope_accuracy": self.in_scope_accuracy(),
            "oos_recall": self.oos_recall(),
            "false_answers": self.false_answers,
            "cases": self.cases,
            "in_scope_cases": self.in_scope_cases,
            "oos_cases": self.oos_cases,
            "in_scope": self.in_scope.to_json(),
            "out_of_scope": self.oos.to_json(),
            "held_out": self.held_out.to_json(),
            "held_out_cases": self.held_out.total(),
            "held_out_declined_or_clarified": self.held_out_not_answered(),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "cases_per_sec": self.cases_per_sec,
            // Through its decimal form, so 0.69 prints as 0.69, not 0.6899…
            "min_confidence": self.min_confidence.to_string().parse::<f64>().unwrap_or(0.0),
            "skipped_lines": self.skipped_lines,
        })
    }
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    crate::percentile::nearest_rank(sorted, p).unwrap_or(0.0)
}

/// Runs every case through [`Faq::decide`] at `min_confidence`. A case
/// whose expected id is in `held_out` (entries removed from the FAQ) counts
/// as out of scope, and its outcome is also tallied in
/// [`EvalReport::held_out`].
pub fn evaluate(
    faq: &Faq,
    cases: &[EvalCase],
    min_confidence: f32,
    skipped: usize,
    held_out: &HashSet<String>,
) -> EvalReport {
    let mut r = EvalReport {
        cases: cases.len(),
        in_scope_cases: 0,
        oos_cases: 0,
        in_scope_correct: 0,
        oos_rejected: 0,
        false_answers: 0,
        in_scope: Outcomes::default(),
        oos: Outcomes::default(),
        held_out: Outcomes::default(),
        min_confidence,
        skipped_lines: skipped,
        p50_us: 0.0,
        p99_us: 0.0,
        cases_per_sec: 0.0,
    };
    let mut latencies = Vec::with_capacity(cases.len());
    for case in cases {
        let started = Instant::now();
        let decision = faq.decide(&case.text, min_confidence);
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        // `Answer` is exactly `Faq::answer` (decide.rs), so the plain
        // answer-or-decline figures keep their meaning.
        let answer = match &decision {
            Decision::Answer(m) => Some(m),
            _ => None,
        };
        let expect = case.expect.as_deref().filter(|id| !held_out.contains(*id));
        match (expect, answer) {
            (Some(want), Some(got)) => {
                r.in_scope_cases += 1;
                if want == got.id {
                    r.in_scope_correct += 1;
                } else {
                    r.false_answers += 1;
                }
            }
            (Some(_), None) => r.in_scope_cases += 1,
            (None, Some(_)) => {
                r.oos_cases += 1;
                r.false_answers += 1;
            }
            (None, None) => {
                r.oos_cases += 1;
                r.oos_rejected += 1;
            }
        }
        match (expect, &case.expect) {
            (Some(_), _) => r.in_scope.record(expect, &decision),
            (None, Some(_)) => r.held_out.record(None, &decision),
            (None, None) => r.oos.record(None, &decision),
        }
    }
    let total_us: f64 = latencies.iter().sum();
    latencies.sort_by(f64::total_cmp);
    r.p50_us = percentile(&latencies, 0.50);
    r.p99_us = percentile(&latencies, 0.99);
    r.cases_per_sec = if total_us > 0.0 {
        cases.len() as f64 / (total_us / 1e6)
    } else {
        0.0
    };
    r
}

/// Which entries to hold out of the FAQ: `share` of them (rounded, at
/// least one when `share > 0` and there are entries), picked by a seeded
/// shuffle so the same seed holds out the same entries.
pub fn pick_held_out(ids: &[&str], share: f64, seed: u64) -> HashSet<String> {
    if ids.is_empty() || share <= 0.0 {
        return HashSet::new();
    }
    let n = ((share * ids.len() as f64).round() as usize).clamp(1, ids.len());
    let mut order: Vec<&str> = ids.to_vec();
    fastrand::Rng::with_seed(seed).shuffle(&mut order);
    order.into_iter().take(n).map(str::to_owned).collect()
}

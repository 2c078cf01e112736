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

use std::time::Instant;

use serde_json::Value;

use super::Faq;

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
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match parse_case(raw, faq) {
            Ok((text, expect)) => cases.push(EvalCase { line, text, expect }),
            Err(reason) => skipped.push(SkippedLine { line, reason }),
        }
    }
    (cases, skipped)
}

fn parse_case(raw: &str, faq: &Faq) -> Result<(String, Option<String>), String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let text = match obj.get("text") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err("\"text\" is not a string".into()),
        None => return Err("missing \"text\"".into()),
    };
    let expect = match obj.get("expect") {
        Some(Value::Null) => None,
        Some(Value::String(id)) if faq.entry(id).is_some() => Some(id.clone()),
        Some(Value::String(id)) => return Err(format!("unknown FAQ id {id:?} in \"expect\"")),
        Some(_) => return Err("\"expect\" is neither a string nor null".into()),
        None => return Err("missing \"expect\" (use null for out-of-scope)".into()),
    };
    Ok((text, expect))
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

    /// The report as one JSON object (fractions in 0..1, latencies in µs).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "in_scope_accuracy": self.in_scope_accuracy(),
            "oos_recall": self.oos_recall(),
            "false_answers": self.false_answers,
            "cases": self.cases,
            "in_scope_cases": self.in_scope_cases,
            "oos_cases": self.oos_cases,
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

/// Runs every case through [`Faq::answer`] at `min_confidence`.
pub fn evaluate(faq: &Faq, cases: &[EvalCase], min_confidence: f32, skipped: usize) -> EvalReport {
    let mut r = EvalReport {
        cases: cases.len(),
        in_scope_cases: 0,
        oos_cases: 0,
        in_scope_correct: 0,
        oos_rejected: 0,
        false_answers: 0,
        min_confidence,
        skipped_lines: skipped,
        p50_us: 0.0,
        p99_us: 0.0,
        cases_per_sec: 0.0,
    };
    let mut latencies = Vec::with_capacity(cases.len());
    for case in cases {
        let started = Instant::now();
        let answer = faq.answer(&case.text, min_confidence);
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        match (&case.expect, answer) {
            (Some(want), Some(got)) => {
                r.in_scope_cases += 1;
                if *want == got.id {
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

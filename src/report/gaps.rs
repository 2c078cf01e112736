//! `handoff faq gaps`: what customers asked that the bot could not answer,
//! or whose answer "didn't help", grouped by similarity so that an admin
//! sees which FAQ entries to write, biggest group first.
//!
//! Read from what the store already keeps: each conversation's turns with
//! the bot since its last case (bounded, the newest 50) and the bot part
//! of every case's transcript. A customer question is a gap when
//! - the bot said it did not know (the next turn is its "no answer"
//!   notice), or the handover it caused was for repeated misses;
//! - the bot offered choices ("did you mean") and the customer declined
//!   them all (the case's reason says so);
//! - the bot answered and the customer said the answer did not help.
//!
//! Small talk, requests for a person and questions the bot was told not to
//! answer (human-only topics, `escalate = true` entries, VIPs) are not
//! gaps. A clarification still waiting for its answer is not a gap either.
//! Texts are masked with the `[privacy]` patterns like every report.

use handoff_bridge_api::Millis;
use serde::Serialize;

use crate::case::{Case, EscalationReason, Speaker, Turn};
use crate::conversation::SmallTalkPhrases;
use crate::escalation::normalize;
use crate::faq::cluster;
use crate::pii::Masker;

use super::stats::when;

/// Why a question counts as a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The bot had no answer.
    NotAnswered,
    /// The bot offered choices and the customer wanted none of them.
    DeclinedChoices,
    /// The customer said the bot's answer did not help.
    DidNotHelp,
}

/// One question the FAQ did not cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapQuestion {
    pub at: Millis,
    pub text: String,
    pub kind: GapKind,
}

/// Near-duplicate questions, counted together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapGroup {
    pub count: u64,
    /// The first question of the group, as asked (masked).
    pub example: String,
    pub not_answered: u64,
    pub declined_choices: u64,
    pub did_not_help: u64,
    pub last_asked_at: String,
    /// Up to five different wordings (case and punctuation aside), in the
    /// order they were asked.
    pub wordings: Vec<String>,
}

/// The gaps of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gaps {
    pub since: Millis,
    pub until: Millis,
    pub questions: u64,
    pub groups: Vec<GapGroup>,
}

/// The most wordings shown per group.
const WORDINGS: usize = 5;

/// The customer questions of one stretch with the bot that are gaps.
/// `turns` are the bot-time turns (a conversation's, or a case's up to its
/// handover); `ended_by` is the reason of the handover that ended them,
/// if one did.
pub fn gap_questions(
    turns: &[Turn],
    ended_by: Option<&EscalationReason>,
    small_talk: &SmallTalkPhrases,
) -> Vec<GapQuestion> {
    let mut out = Vec::new();
    let trigger = ended_by.and_then(|_| turns.iter().rposition(is_customer));
    // The last question the bot answered, for "that didn't help".
    let mut answered: Option<&Turn> = None;
    // The last question the bot answered with choices, until a choice or
    // a new answer settles it.
    let mut clarified: Option<&Turn> = None;
    for (i, t) in turns.iter().enumerate() {
        if !is_customer(t) || small_talk.classify(&t.text).is_some() {
            continue;
        }
        let next = turns[i + 1..].iter().find(|x| !is_customer(x));
        if Some(i) == trigger {
            match ended_by {
                Some(EscalationReason::RepeatedMisses { .. }) => {
                    out.push(gap(t, GapKind::NotAnswered));
                }
                Some(EscalationReason::ClarifyDeclined { .. }) => {
                    if let Some(q) = clarified {
                        out.push(gap(q, GapKind::DeclinedChoices));
                    }
                }
                Some(EscalationReason::AnswerRejected { .. }) => {
                    if let Some(q) = answered {
                        out.push(gap(q, GapKind::DidNotHelp));
                    }
                }
                _ => {}
            }
            break;
        }
        match next {
            Some(n) if is_answer(n) => {
                answered = Some(match clarified {
                    // "2" picked an offered entry: the question is the one
                    // that was clarified.
                    Some(q) if is_choice(&t.text) => q,
                    _ => t,
                });
                clarified = None;
            }
            Some(n) if is_clarification(n) => clarified = Some(t),
            Some(n) if n.speaker == Speaker::System => {
                out.push(gap(t, GapKind::NotAnswered));
            }
            _ => {}
        }
    }
    out
}

fn is_customer(t: &Turn) -> bool {
    t.speaker == Speaker::Customer && !t.internal
}

/// A bot turn with the entry it answered from.
fn is_answer(t: &Turn) -> bool {
    t.speaker == Speaker::Bot && t.faq.is_some()
}

/// The bot's own turns without an entry are its "did you mean" questions.
fn is_clarification(t: &Turn) -> bool {
    t.speaker == Speaker::Bot && t.faq.is_none()
}

/// A bare number: how a customer picks a numbered choice.
fn is_choice(text: &str) -> bool {
    let t = text.trim().trim_end_matches(['.', ')']);
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())
}

fn gap(t: &Turn, kind: GapKind) -> GapQuestion {
    GapQuestion {
        at: t.at,
        text: t.text.clone(),
        kind,
    }
}

/// The bot-time part of a case's transcript: what came before the
/// handover notice.
pub fn bot_part(case: &Case) -> &[Turn] {
    let t = &case.transcript;
    let mut end = t.iter().take_while(|x| x.at <= case.opened_at).count();
    // The handover notice itself (said at the opening) is not bot time.
    while end > 0 && t[end - 1].speaker == Speaker::System && t[end - 1].at == case.opened_at {
        end -= 1;
    }
    &t[..end]
}

impl Gaps {
    /// Groups `questions` (any order) asked in `[since, until]`.
    pub fn compute(
        mut questions: Vec<GapQuestion>,
        since: Millis,
        until: Millis,
        min_similarity: f32,
        masker: &Masker,
    ) -> Gaps {
        questions.retain(|q| q.at >= since && q.at <= until);
        questions.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.text.cmp(&b.text)));
        let texts: Vec<String> = questions
            .iter()
            .map(|q| masker.mask(&q.text).into_owned())
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let groups = cluster::group(&refs, min_similarity)
            .into_iter()
            .map(|members| {
                let count =
                    |k: GapKind| members.iter().filter(|&&m| questions[m].kind == k).count() as u64;
                let mut wordings: Vec<String> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for &m in &members {
                    // "Gift cards?" and "gift cards" are one wording.
                    if wordings.len() < WORDINGS && seen.insert(normalize(&texts[m])) {
                        wordings.push(texts[m].trim().to_string());
                    }
                }
                let last = members
                    .iter()
                    .map(|&m| questions[m].at)
                    .max()
                    .unwrap_or(since);
                GapGroup {
                    count: members.len() as u64,
                    example: texts[members[0]].trim().to_string(),
                    not_answered: count(GapKind::NotAnswered),
                    declined_choices: count(GapKind::DeclinedChoices),
                    did_not_help: count(GapKind::DidNotHelp),
                    last_asked_at: when(last),
                    wordings,
                }
            })
            .collect();
        Gaps {
            since,
            until,
            questions: questions.len() as u64,
            groups,
        }
    }

    /// The text report: biggest groups first, with counts and wordings.
    pub fn render(&self) -> String {
        let mut out = format!(
            "FAQ gaps from {} to {}: {} question(s) the bot could not answer, in {} group(s)\n",
            when(self.since),
            when(self.until),
            self.questions,
            self.groups.len()
        );
        if self.groups.is_empty() {
            out.push_str("  none: every question in this window was answered\n");
        }
        for g in &self.groups {
            let mut why = Vec::new();
            for (n, label) in [
                (g.not_answered, "not answered"),
                (g.declined_choices, "declined the choices"),
                (g.did_not_help, "answer didn't help"),
            ] {
                if n > 0 {
                    why.push(format!("{label} {n}"));
                }
            }
            out.push_str(&format!(
                "\n{:>4} x  \u{201c}{}\u{201d}\n        {}; last asked {}\n",
                g.count,
                g.example,
                why.join(", "),
                g.last_asked_at
            ));
            for w in g.wordings.iter().skip(1) {
                out.push_str(&format!("        also: \u{201c}{w}\u{201d}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;

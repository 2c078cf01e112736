//! The bot's three-way decision on a question: answer with one entry, ask
//! the customer which of the closest two or three entries they mean, or
//! decline (hand over). The conversation layer phrases each outcome; this
//! module only decides.
//!
//! Invariant: `Answer` exactly when [`Faq::answer`] would answer at the same
//! `min_confidence`, so the plain answer-or-decline figures stay comparable;
//! `Clarify` only replaces some declines, never an answer.

use super::{Faq, Match};

/// What the bot should do with a customer's question.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Confident enough: answer with this entry.
    Answer(Match),
    /// Unsure between a few entries: offer these (2 or 3, best first) as
    /// choices, plus "talk to a person".
    Clarify(Vec<Match>),
    /// Nothing close enough: hand over.
    Decline,
}

/// At most this many choices are offered.
const MAX_CHOICES: usize = 3;

/// A third choice is offered only when it is at least this share of the
/// best's confidence: a far third option adds noise to the question.
const THIRD_CHOICE_SHARE: f32 = 0.5;

impl Faq {
    /// The confidence from which (up to `min_confidence`) the bot asks
    /// instead of declining. Calibrated at load (see `calibrate.rs`), and
    /// never above `min_confidence`.
    pub fn clarify_floor(&self, min_confidence: f32) -> f32 {
        (min_confidence - self.clarify_band).clamp(0.0, min_confidence)
    }

    /// Answers, asks or declines `text` (see [`Decision`]).
    pub fn decide(&self, text: &str, min_confidence: f32) -> Decision {
        let mut top = self.top(text, MAX_CHOICES);
        let Some(best) = top.first() else {
            return Decision::Decline;
        };
        if best.confidence >= min_confidence {
            return Decision::Answer(top.swap_remove(0));
        }
        if best.confidence < self.clarify_floor(min_confidence) || top.len() < 2 {
            return Decision::Decline;
        }
        let best_confidence = best.confidence;
        if top.len() > 2 && top[2].confidence < THIRD_CHOICE_SHARE * best_confidence {
            top.truncate(2);
        }
        Decision::Clarify(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = r#"
[[faq]]
id = "reset_pin"
questions = ["how do i reset my card pin", "i forgot my card pin", "change the pin of my card"]
answer = "Reset it in the app."

[[faq]]
id = "block_card"
questions = ["block my card", "my card was stolen", "i lost my card please block it"]
answer = "Block it in the app."

[[faq]]
id = "refund"
questions = ["i want a refund", "how do i get my money back", "refund my order"]
answer = "Refunds take five days."

[[faq]]
id = "opening_hours"
questions = ["when are you open", "opening hours", "what time do you close"]
answer = "9 to 5."
"#;

    fn faq() -> Faq {
        Faq::from_toml_str(FAQ, "decide.toml").expect("valid FAQ")
    }

    #[test]
    fn answers_exactly_when_answer_does() {
        let faq = faq();
        for q in [
            "how do i reset my card pin",
            "refund my order",
            "card pin",
            "what is the weather on mars",
            "",
        ] {
            for min in [0.0, 0.3, 0.69, 0.95, 1.0] {
                let answer = faq.answer(q, min);
                match faq.decide(q, min) {
                    Decision::Answer(m) => assert_eq!(Some(m), answer, "{q:?} at {min}"),
                    other => assert!(answer.is_none(), "{q:?} at {min}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn an_exact_question_is_answered() {
        let faq = faq();
        match faq.decide("i forgot my card pin", 0.5) {
            Decision::Answer(m) => assert_eq!(m.id, "reset_pin"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsure_between_entries_asks_with_the_closest_first() {
        let faq = faq();
        let q = "my card pin";
        let best = faq.best(q).expect("shares words");
        // A threshold just above the best confidence puts it in the band.
        let min = (best.confidence + 0.01).min(1.0);
        assert!(faq.clarify_floor(min) <= best.confidence);
        match faq.decide(q, min) {
            Decision::Clarify(choices) => {
                assert!((2..=3).contains(&choices.len()), "{choices:?}");
                assert_eq!(choices[0], best);
                assert!(choices
                    .windows(2)
                    .all(|w| w[0].confidence >= w[1].confidence));
                let ids: Vec<&str> = choices.iter().map(|m| m.id.as_str()).collect();
                assert!(ids.contains(&"reset_pin"), "{ids:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn far_below_the_threshold_declines() {
        let faq = faq();
        assert_eq!(faq.decide("", 0.69), Decision::Decline);
        // Every threshold whose floor is above the best confidence declines.
        let mut declined = 0;
        for q in [
            "my card pin",
            "what is the weather on mars",
            "open",
            "xq zv",
        ] {
            let Some(best) = faq.best(q).map(|m| m.confidence) else {
                assert_eq!(faq.decide(q, 0.5), Decision::Decline, "{q}");
                continue;
            };
            for step in 0..=100 {
                let min = step as f32 / 100.0;
                if faq.clarify_floor(min) > best {
                    assert_eq!(faq.decide(q, min), Decision::Decline, "{q} at {min}");
                    declined += 1;
                }
            }
        }
        assert!(
            declined > 0,
            "no threshold put a best match below the floor"
        );
    }

    #[test]
    fn the_floor_is_below_the_threshold_and_not_negative() {
        let faq = faq();
        for min in [0.0, 0.1, 0.5, 0.69, 1.0] {
            let floor = faq.clarify_floor(min);
            assert!((0.0..=min).contains(&floor), "{floor} for {min}");
        }
        assert!(faq.clarify_floor(0.69) < 0.69);
    }
}

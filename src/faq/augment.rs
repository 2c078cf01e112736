//! Training-set augmentation by word dropout: each FAQ question also
//! yields copies with one word left out, so the classifier learns that no
//! single word is required ("how do I reset my password" still means the
//! same without "do" or "my"). It helps small FAQs most, where ten
//! questions per entry cannot show every phrasing.
//!
//! Only the training set grows; the vocabulary and idf come from the real
//! questions, and the copies are never matched against. Not for anything
//! dataset-specific: no word lists, only positions.
//!
//! Invariant: the copies are a deterministic function of the questions
//! (positions spread evenly from an offset given by the question's index),
//! and their total number is bounded by [`EXTRA_BUDGET`] so load time stays
//! bounded for large FAQs.

use super::index::{SparseVec, Vectoriser};
use super::text::normalise;

/// At most about this many copies in total over the whole FAQ; a large FAQ
/// gets fewer copies per question (at least one each).
pub(crate) const EXTRA_BUDGET: usize = 15_000;

/// Questions with fewer words than this are not copied: dropping a word
/// from a two-word question often changes its meaning.
const MIN_WORDS: usize = 3;

/// The word-dropout copies of every question, in question order (an empty
/// list for questions too short to copy).
pub(crate) fn variants(questions: &[&str], vectoriser: &Vectoriser) -> Vec<Vec<SparseVec>> {
    let per_question = EXTRA_BUDGET.div_ceil(questions.len().max(1)).max(1);
    questions
        .iter()
        .enumerate()
        .map(|(qi, q)| {
            let norm = normalise(q);
            let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
            if words.len() < MIN_WORDS {
                return Vec::new();
            }
            let k = per_question.min(words.len());
            (0..k)
                .map(|j| (qi + j * words.len() / k) % words.len())
                .filter_map(|drop| {
                    let kept: Vec<&str> = words
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| i != drop)
                        .map(|(_, w)| *w)
                        .collect();
                    let v = vectoriser.transform(&kept.join(" "));
                    (!v.is_empty()).then_some(v)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faq::index::FamilyWeights;

    const EVEN: FamilyWeights = FamilyWeights {
        word: std::f32::consts::FRAC_1_SQRT_2,
        char: std::f32::consts::FRAC_1_SQRT_2,
    };

    #[test]
    fn small_faqs_get_one_copy_per_word_and_short_questions_none() {
        let qs = ["reset my password now", "hi there"];
        let (vec, _) = Vectoriser::fit(&qs, EVEN);
        let v = variants(&qs, &vec);
        assert_eq!(v[0].len(), 4);
        assert!(v[1].is_empty());
        // Each copy lacks something the original has.
        let full = vec.transform(qs[0]);
        assert!(v[0].iter().all(|c| c.len() < full.len()));
    }

    #[test]
    fn copies_are_deterministic_and_bounded() {
        let qs: Vec<String> = (0..EXTRA_BUDGET + 10)
            .map(|i| format!("question number {i} about things"))
            .collect();
        let refs: Vec<&str> = qs.iter().map(String::as_str).collect();
        let (vec, _) = Vectoriser::fit(&refs[..50], EVEN);
        let a = variants(&refs, &vec);
        assert!(a.iter().all(|v| v.len() <= 1));
        assert_eq!(a, variants(&refs, &vec));
    }
}

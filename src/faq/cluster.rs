//! Grouping near-duplicate texts with the matcher's own similarity, for
//! `handoff faq gaps` (which questions did customers keep asking that the
//! FAQ does not cover).
//!
//! The texts are vectorised like FAQ questions (TF-IDF over word uni/bigrams
//! and character n-grams, fitted on the texts themselves, so words that
//! every text shares weigh little) and grouped greedily: each text joins
//! the group holding its most similar earlier text if that similarity
//! reaches the threshold, else starts a group. Deterministic for a given
//! input order.

use super::index::{dot, FamilyWeights, Vectoriser};

/// The cosine at which two questions count as the same question asked
/// differently. Chosen on hand-made pairs (the tests): rephrasings of one
/// request score above it (0.32 and up), different requests about the same
/// object ("cancel my order" / "where is my order", 0.25) below.
pub const DEFAULT_MIN_SIMILARITY: f32 = 0.3;

/// Groups of indices into `texts`, biggest first (ties: the group whose
/// first text comes first), each in input order.
pub fn group(texts: &[&str], min_similarity: f32) -> Vec<Vec<usize>> {
    if texts.is_empty() {
        return Vec::new();
    }
    let weights = FamilyWeights {
        word: 0.5f32.sqrt(),
        char: 0.5f32.sqrt(),
    };
    let (_, vectors) = Vectoriser::fit(texts, weights);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let best = groups
            .iter()
            .enumerate()
            .map(|(g, members)| {
                let sim = members
                    .iter()
                    .map(|&m| dot(v, &vectors[m]))
                    .fold(0.0f32, f32::max);
                (g, sim)
            })
            .filter(|&(_, sim)| sim >= min_similarity)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((g, _)) => groups[g].push(i),
            None => groups.push(vec![i]),
        }
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_duplicates_group_and_different_requests_do_not() {
        let texts = [
            "how do I change my delivery address",  // 0 address
            "where is my order",                    // 1 tracking
            "can I change the delivery address?",   // 2 address
            "cancel my order please",               // 3 cancel
            "Change delivery address for my order", // 4 address
            "where's my order??",                   // 5 tracking
            "do you sell gift cards",               // 6 alone
            "how to cancel an order",               // 7 cancel
        ];
        let groups = group(&texts, DEFAULT_MIN_SIMILARITY);
        assert_eq!(
            groups,
            vec![vec![0, 2, 4], vec![1, 5], vec![3, 7], vec![6]],
            "{groups:?}"
        );
    }

    #[test]
    fn thresholds_bound_the_grouping() {
        let texts = ["reset my pin", "reset my pin", "opening hours"];
        assert_eq!(group(&texts, 1.1), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(group(&texts, 0.0).len(), 1);
        assert_eq!(
            group(&texts, DEFAULT_MIN_SIMILARITY),
            vec![vec![0, 1], vec![2]]
        );
        assert!(group(&[], 0.5).is_empty());
    }
}

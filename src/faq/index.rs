//! The TF-IDF vectoriser: feature vocabulary, inverse document frequencies
//! and the weighting that turns a question into a sparse unit vector.
//!
//! It is fitted once on the FAQ's questions and is read-only afterwards.
//! It does not classify; `model.rs` does.
//!
//! Invariant: a transformed vector is sorted by feature id, has no
//! duplicate ids, and each family (words, characters) is L2-normalised
//! including features the vocabulary has never seen, so a question full of
//! unknown words gets a small vector, not an inflated one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::text::{self, Family};

/// A sparse vector: (feature id, value), sorted by id.
pub(crate) type SparseVec = Vec<(u32, f32)>;

/// Feature keys are already well-mixed 64-bit hashes; hashing them again
/// would only cost time.
#[derive(Default)]
pub(crate) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FeatureMap = HashMap<u64, u32, BuildHasherDefault<PassThroughHasher>>;

/// How much of the unit norm each family gets (squared weights sum to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FamilyWeights {
    pub word: f32,
    pub char: f32,
}

pub(crate) struct Vectoriser {
    vocab: FeatureMap,
    idf: Vec<f32>,
    family: Vec<Family>,
    /// The idf an unseen feature would have (document frequency zero).
    unseen_idf: f32,
    weights: FamilyWeights,
}

/// Groups raw hashed features into (hash, family, count), sorted by hash.
fn counted(raw: &mut [(u64, Family)]) -> Vec<(u64, Family, u32)> {
    raw.sort_unstable_by_key(|(h, _)| *h);
    let mut out: Vec<(u64, Family, u32)> = Vec::with_capacity(raw.len());
    for &(h, f) in raw.iter() {
        match out.last_mut() {
            Some(last) if last.0 == h => last.2 += 1,
            _ => out.push((h, f, 1)),
        }
    }
    out
}

impl Vectoriser {
    /// Fits the vocabulary and idf on `questions` and returns the vectoriser
    /// with the questions' own vectors (in input order).
    pub(crate) fn fit(questions: &[&str], weights: FamilyWeights) -> (Self, Vec<SparseVec>) {
        let mut vocab = FeatureMap::default();
        let mut family = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut docs: Vec<Vec<(u32, u32)>> = Vec::with_capacity(questions.len());
        let mut raw = Vec::new();
        for q in questions {
            raw.clear();
            text::features(q, &mut raw);
            let mut doc = Vec::new();
            for (h, fam, count) in counted(&mut raw) {
                let next = u32::try_from(family.len()).unwrap_or(u32::MAX);
                let id = *vocab.entry(h).or_insert_with(|| {
                    family.push(fam);
                    df.push(0);
                    next
                });
                let slot = id as usize;
                df[slot] += 1;
                doc.push((id, count));
            }
            docs.push(doc);
        }
        let n = questions.len() as f32;
        let idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let me = Vectoriser {
            vocab,
            idf,
            family,
            unseen_idf: (1.0 + n).ln() + 1.0,
            weights,
        };
        let vectors = docs
            .iter()
            .map(|doc| {
                let known = doc
                    .iter()
                    .map(|&(id, c)| (Some(id), me.family[id as usize], c));
                me.weigh(known)
            })
            .collect();
        (me, vectors)
    }

    /// Number of features in the vocabulary.
    pub(crate) fn features(&self) -> usize {
        self.idf.len()
    }

    /// The vector of a new text under the fitted vocabulary.
    pub(crate) fn transform(&self, text: &str) -> SparseVec {
        let mut raw = Vec::new();
        text::features(text, &mut raw);
        let counted = counted(&mut raw);
        self.weigh(
            counted
                .into_iter()
                .map(|(h, fam, c)| (self.vocab.get(&h).copied(), fam, c)),
        )
    }

    /// Sublinear tf × idf, each family scaled to its share of the unit norm.
    /// Unknown features (id `None`) count towards the norm only.
    fn weigh(&self, feats: impl Iterator<Item = (Option<u32>, Family, u32)>) -> SparseVec {
        let mut out: SparseVec = Vec::new();
        let (mut word_sq, mut char_sq) = (0.0f32, 0.0f32);
        let mut fams = Vec::new();
        for (id, fam, count) in feats {
            let idf = id.map_or(self.unseen_idf, |i| self.idf[i as usize]);
            let v = (1.0 + (count as f32).ln()) * idf;
            match fam {
                Family::Word => word_sq += v * v,
                Family::Char => char_sq += v * v,
            }
            if let Some(i) = id {
                out.push((i, v));
                fams.push(fam);
            }
        }
        let word_scale = if word_sq > 0.0 {
            self.weights.word / word_sq.sqrt()
        } else {
            0.0
        };
        let char_scale = if char_sq > 0.0 {
            self.weights.char / char_sq.sqrt()
        } else {
            0.0
        };
        for ((_, v), fam) in out.iter_mut().zip(&fams) {
            *v *= match fam {
                Family::Word => word_scale,
                Family::Char => char_scale,
            };
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }
}

/// Dot product of two sorted sparse vectors (their cosine when both are
/// unit vectors).
pub(crate) fn dot(a: &SparseVec, b: &SparseVec) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    sum
}

thread_local! {
    /// A dense copy of the query, reused across calls on this thread, so
    /// comparing it with many questions costs one lookup per question
    /// feature instead of a merge.
    static DENSE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Highest dot product of `x` with any of `questions` (0 for none).
pub(crate) fn nearest<'a>(x: &SparseVec, questions: impl Iterator<Item = &'a SparseVec>) -> f32 {
    DENSE.with(|cell| {
        let Ok(mut dense) = cell.try_borrow_mut() else {
            return questions.map(|q| dot(x, q)).fold(0.0, f32::max);
        };
        let mut touched: Vec<u32> = Vec::with_capacity(x.len());
        for &(f, v) in x {
            let i = f as usize;
            if dense.len() <= i {
                dense.resize(i + 1, 0.0);
            }
            dense[i] = v;
            touched.push(f);
        }
        let mut best = 0.0f32;
        for q in questions {
            let s: f32 = q
                .iter()
                .map(|&(f, v)| dense.get(f as usize).map_or(0.0, |d| d * v))
                .sum();
            best = best.max(s);
        }
        for f in touched {
            dense[f as usize] = 0.0;
        }
        best
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVEN: FamilyWeights = FamilyWeights {
        word: std::f32::consts::FRAC_1_SQRT_2,
        char: std::f32::consts::FRAC_1_SQRT_2,
    };

    fn norm(v: &SparseVec) -> f32 {
        v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn training_vectors_are_unit_and_sorted() {
        let (vec, docs) = Vectoriser::fit(&["reset my password", "where is my card"], EVEN);
        assert!(vec.features() > 10);
        for d in &docs {
            assert!((norm(d) - 1.0).abs() < 1e-4);
            assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn unknown_words_shrink_the_vector() {
        let (vec, _) = Vectoriser::fit(&["reset my password", "where is my card"], EVEN);
        let known = vec.transform("reset my password");
        let mixed = vec.transform("reset my password xylophone quartz zebra");
        assert!((norm(&known) - 1.0).abs() < 1e-4);
        assert!(norm(&mixed) < 0.8);
        assert!(vec.transform("qqq zzz").is_empty());
    }

    #[test]
    fn nearest_finds_the_identical_question() {
        let (vec, docs) = Vectoriser::fit(&["reset my password", "where is my card"], EVEN);
        let x = vec.transform("where is my card");
        assert!((nearest(&x, docs.iter()) - 1.0).abs() < 1e-4);
        assert!(dot(&x, &docs[0]) < 0.5);
    }
}

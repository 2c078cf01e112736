//! The TF-IDF vectoriser (feature vocabulary, inverse document frequencies
//! and the weighting that turns a question into a sparse unit vector) and
//! the per-entry inverted index that finds a query's most similar FAQ
//! question.
//!
//! Both are built once from the FAQ's questions and are read-only
//! afterwards. Nothing here classifies; `model.rs` does.
//!
//! Invariants: a transformed vector is sorted by feature id, has no
//! duplicate ids, and each family (words, characters) is L2-normalised
//! including features the vocabulary has never seen, so a question full of
//! unknown words gets a small vector, not an inflated one.
//! [`QuestionIndex::nearest`] returns exactly (bit for bit) what
//! [`nearest`] returns over the entry's questions: it adds the same
//! products in the same order (by feature id) and only skips the zeros.

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
        // About three character n-grams per character plus the words:
        // reserving once saves the growth steps of a typical question.
        let mut raw = Vec::with_capacity(16 + 3 * text.len().min(text::MAX_INPUT_CHARS));
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
        let mut out: SparseVec = Vec::with_capacity(feats.size_hint().0);
        let (mut word_sq, mut char_sq) = (0.0f32, 0.0f32);
        let mut fams = Vec::with_capacity(out.capacity());
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

/// An inverted index of the FAQ's question vectors, per entry: for a
/// feature and an entry, the entry's questions that have the feature and
/// their weights. The most similar question of an entry then costs the
/// postings of the query's features in that entry, not a pass over every
/// question of the entry.
///
/// Layout (flat arrays, no allocation per feature): the runs of feature `f`
/// are `runs[feature_runs[f]..feature_runs[f + 1]]`, one per entry that has
/// the feature, ascending by entry; a run `(entry, start)` owns the
/// postings from `start` to the next run's start, ordered by question.
/// Postings are laid out by feature, then entry, then question, so
/// consecutive runs are adjacent; a sentinel run closes the last.
pub(crate) struct QuestionIndex {
    /// Questions per entry.
    entry_questions: Vec<u32>,
    feature_runs: Vec<u32>,
    /// (entry, first posting).
    runs: Vec<(u32, u32)>,
    /// (question's position within its entry, the question's weight for
    /// the feature).
    postings: Vec<(u32, f32)>,
}

/// `usize` → `u32` for index arrays; FAQs are far below 4 billion
/// questions or postings, so overflow is a bug, not an input error.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("FAQ index exceeds u32 range")
}

impl QuestionIndex {
    /// Indexes `vectors` (all entries' questions, entry after entry; entry
    /// `i` owns the next `entry_questions[i]` vectors). Every feature id must
    /// be `< features`, and each vector sorted with unique ids (as the
    /// vectoriser makes them).
    pub(crate) fn build(vectors: &[SparseVec], entry_questions: &[usize], features: usize) -> Self {
        assert_eq!(
            entry_questions.iter().sum::<usize>(),
            vectors.len(),
            "entry sizes must cover the question vectors"
        );
        // first[f]: where feature f's postings start (counting sort).
        let mut first = vec![0u32; features + 1];
        for v in vectors {
            for &(f, _) in v {
                first[f as usize + 1] += 1;
            }
        }
        for f in 1..first.len() {
            first[f] += first[f - 1];
        }
        let nnz = first[features] as usize;
        let mut next = first.clone();
        let mut postings = vec![(0u32, 0.0f32); nnz];
        let mut posting_entry = vec![0u32; nnz];
        let mut vectors_left = vectors.iter();
        for (entry, &n) in entry_questions.iter().enumerate() {
            for (question, v) in vectors_left.by_ref().take(n).enumerate() {
                for &(f, w) in v {
                    let at = &mut next[f as usize];
                    let p = *at as usize;
                    *at += 1;
                    postings[p] = (to_u32(question), w);
                    posting_entry[p] = to_u32(entry);
                }
            }
        }
        // A feature's postings are in question order, hence entry order:
        // each change of entry starts a run.
        let mut feature_runs = Vec::with_capacity(features + 1);
        let mut runs = Vec::new();
        for f in 0..features {
            feature_runs.push(to_u32(runs.len()));
            let (lo, hi) = (first[f] as usize, first[f + 1] as usize);
            for p in lo..hi {
                if p == lo || posting_entry[p] != posting_entry[p - 1] {
                    runs.push((posting_entry[p], to_u32(p)));
                }
            }
        }
        feature_runs.push(to_u32(runs.len()));
        runs.push((u32::MAX, to_u32(nnz)));
        runs.shrink_to_fit();
        QuestionIndex {
            entry_questions: entry_questions.iter().map(|&n| to_u32(n)).collect(),
            feature_runs,
            runs,
            postings,
        }
    }

    /// Postings of feature `f` in `entry` (empty when none of the entry's
    /// questions has it, or `f` is unknown).
    fn postings(&self, f: u32, entry: u32) -> &[(u32, f32)] {
        let f = f as usize;
        let (Some(&lo), Some(&hi)) = (self.feature_runs.get(f), self.feature_runs.get(f + 1))
        else {
            return &[];
        };
        let (lo, hi) = (lo as usize, hi as usize);
        match self.runs[lo..hi].binary_search_by_key(&entry, |&(e, _)| e) {
            Ok(i) => {
                let r = lo + i;
                &self.postings[self.runs[r].1 as usize..self.runs[r + 1].1 as usize]
            }
            Err(_) => &[],
        }
    }

    /// Highest dot product of `x` with any question of `entry` (0 for an
    /// entry without questions); equal to [`nearest`] over those questions.
    pub(crate) fn nearest(&self, x: &SparseVec, entry: usize) -> f32 {
        let Some(&n) = self.entry_questions.get(entry) else {
            return 0.0;
        };
        let entry = to_u32(entry);
        // Find every run first: the lookups are independent, so their
        // cache misses overlap instead of waiting on the sums.
        let found: Vec<(&[(u32, f32)], f32)> = x
            .iter()
            .map(|&(f, v)| (self.postings(f, entry), v))
            .filter(|(p, _)| !p.is_empty())
            .collect();
        // Query features in ascending id order: each question's sum gets
        // its terms in the order a merge of the two vectors adds them.
        let mut sums = vec![0.0f32; n as usize];
        for (postings, v) in found {
            for &(q, w) in postings {
                sums[q as usize] += v * w;
            }
        }
        sums.into_iter().fold(0.0, f32::max)
    }

    /// Heap bytes the index holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(self.entry_questions.as_slice())
            + size_of_val(self.feature_runs.as_slice())
            + size_of_val(self.runs.as_slice())
            + size_of_val(self.postings.as_slice())
    }
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

    /// xorshift64: a seeded generator for the random index tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        /// Magnitudes over six decades, so that summing in another order
        /// would change the low bits.
        fn value(&mut self) -> f32 {
            let mantissa = 1.0 + self.below(1 << 20) as f32 / (1 << 20) as f32;
            mantissa * 10f32.powi(self.below(7) as i32 - 4)
        }
        /// A sorted sparse vector with up to `max_len` distinct ids below
        /// `features`.
        fn sparse(&mut self, features: usize, max_len: usize) -> SparseVec {
            let len = self.below(max_len + 1);
            let mut ids: Vec<u32> = (0..len).map(|_| self.below(features) as u32).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().map(|f| (f, self.value())).collect()
        }
    }

    /// The brute-force answers the index must reproduce: a scan with the
    /// dense query (`nearest`) and with sorted merges (`dot`).
    fn brute(x: &SparseVec, questions: &[SparseVec]) -> (f32, f32) {
        let merged = questions.iter().map(|q| dot(x, q)).fold(0.0, f32::max);
        (nearest(x, questions.iter()), merged)
    }

    #[test]
    fn index_nearest_equals_brute_force_on_random_vectors() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut compared, mut nonzero, mut order_sensitive) = (0, 0, 0);
        for round in 0..60 {
            // Few features make long postings and many shared features per
            // pair; many make sparse overlaps.
            let features = [8, 40, 300, 5_000][round % 4];
            let sizes: Vec<usize> = (0..1 + rng.below(12))
                .map(|_| [0, 1, 3, 40, 250][rng.below(5)])
                .collect();
            let vectors: Vec<SparseVec> = (0..sizes.iter().sum::<usize>())
                .map(|_| rng.sparse(features, 60))
                .collect();
            let index = QuestionIndex::build(&vectors, &sizes, features);
            let mut at = 0;
            let ranges: Vec<std::ops::Range<usize>> = sizes
                .iter()
                .map(|&n| {
                    at += n;
                    at - n..at
                })
                .collect();
            for _ in 0..25 {
                // Ids up to twice the vocabulary: unknown ones must count
                // for nothing.
                let x = rng.sparse(features * 2, 80);
                for (entry, range) in ranges.iter().enumerate() {
                    let questions = &vectors[range.clone()];
                    let fast = index.nearest(&x, entry);
                    let (dense, merged) = brute(&x, questions);
                    assert_eq!(fast, dense, "entry {entry} of round {round}");
                    assert_eq!(fast, merged, "entry {entry} of round {round}");
                    compared += 1;
                    if fast != 0.0 {
                        nonzero += 1;
                    }
                    // Would a different summation order have been caught?
                    let reversed = questions
                        .iter()
                        .map(|q| {
                            q.iter()
                                .rev()
                                .filter_map(|&(f, v)| {
                                    x.binary_search_by_key(&f, |&(g, _)| g)
                                        .ok()
                                        .map(|i| x[i].1 * v)
                                })
                                .sum::<f32>()
                        })
                        .fold(0.0, f32::max);
                    if reversed != fast {
                        order_sensitive += 1;
                    }
                }
                assert_eq!(index.nearest(&x, sizes.len()), 0.0, "no such entry");
            }
        }
        eprintln!(
            "index nearest: {compared} comparisons, {nonzero} non-zero, \
             {order_sensitive} where reversed summation differs"
        );
        assert!(nonzero > compared / 2, "{nonzero} of {compared}");
        assert!(order_sensitive > 0, "the data must be order-sensitive");
    }

    #[test]
    fn index_nearest_equals_brute_force_on_questions() {
        let entries: [&[&str]; 3] = [
            &[
                "reset my password",
                "I forgot my password",
                "change password",
            ],
            &[
                "where is my card",
                "my card has not arrived",
                "card delivery",
            ],
            &["talk to a human", "can I speak to an agent please"],
        ];
        let texts: Vec<&str> = entries.iter().flat_map(|e| e.iter().copied()).collect();
        let sizes: Vec<usize> = entries.iter().map(|e| e.len()).collect();
        let (vec, docs) = Vectoriser::fit(&texts, EVEN);
        let index = QuestionIndex::build(&docs, &sizes, vec.features());
        let queries = [
            "how do I reset my password",
            "has my card arrived",
            "agent please",
            "password card human",
            "something else entirely",
        ];
        let mut at = 0;
        for (entry, &n) in sizes.iter().enumerate() {
            for q in queries {
                let x = vec.transform(q);
                let (dense, merged) = brute(&x, &docs[at..at + n]);
                assert_eq!(index.nearest(&x, entry), dense, "{q:?} in entry {entry}");
                assert_eq!(dense, merged, "{q:?} in entry {entry}");
            }
            at += n;
        }
        let own = vec.transform("my card has not arrived");
        assert!((index.nearest(&own, 1) - 1.0).abs() < 1e-4);
        assert!(index.nearest(&own, 0) < 0.5);
        assert!(index.heap_bytes() >= docs.iter().map(Vec::len).sum::<usize>() * 8);
    }
}

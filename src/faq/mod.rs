//! FAQ loading and matching: the bot answers a question only when it is
//! confident the question is one of the FAQ's.
//!
//! `Faq` owns the entries and an index built once at load: a TF-IDF
//! vectoriser (word uni/bigrams + character n-grams, `index.rs`), a
//! softmax classifier over entries (`model.rs`) and an inverted index of
//! the questions (`index.rs`). The confidence of a match combines the
//! classifier's probability for that entry with the similarity to the
//! entry's nearest question, calibrated (`calibrate.rs`); `answer` returns
//! `None` below a threshold, and the caller hands over to a human. This
//! module does not decide about escalation (`escalate = true` entries still
//! match) or phrase answers.
//!
//! Invariant: a `Faq` is immutable after load (so `Send + Sync`, shared via
//! `Arc`), and the same file and question always give the same matches.

mod calibrate;
pub mod cli;
pub mod cluster;
mod decide;
mod error;
pub mod eval;
mod index;
mod load;
mod model;
#[cfg(test)]
mod tests;
mod text;

use std::path::Path;

pub use decide::Decision;
pub use error::{FaqError, Position};

use calibrate::Calibration;
use index::{FamilyWeights, QuestionIndex, Vectoriser};
use model::{softmax, Model, TrainParams};

/// The default `[bot] min_confidence`: the bot answers when the best match
/// has at least this confidence, and hands over otherwise. Chosen as the
/// midpoint of the thresholds that hand over 85 % of a held-out set of
/// unrelated questions with a 100-question-per-entry and a 10-per-entry
/// FAQ (CLINC150 `oos-train`); calibration makes one value fit both.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.69;

/// How far below `min_confidence` a best match still leads to a
/// clarifying question rather than a handover, until calibrated.
const DEFAULT_CLARIFY_BAND: f32 = 0.2;

/// One FAQ topic: the questions that ask for it and the answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqEntry {
    pub id: String,
    pub questions: Vec<String>,
    pub answer: String,
    /// The team that owns the topic, for routing a handover.
    pub team: Option<String>,
    /// The topic always needs a human; the caller escalates after a match.
    pub escalate: bool,
    pub tags: Vec<String>,
}

/// A matched entry and how sure the matcher is.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index into [`Faq::entries`].
    pub index: usize,
    pub id: String,
    /// In `[0, 1]`; comparable across FAQs of different sizes.
    pub confidence: f32,
}

/// Heap bytes of a loaded FAQ's matching structures, from
/// [`Faq::index_memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexMemory {
    /// The inverted index of the questions' vectors, which gives the
    /// similarity to an entry's nearest question.
    pub questions: usize,
    /// The classifier's weights (features × entries) and biases.
    pub model: usize,
}

/// Knobs of the matcher. The defaults were chosen by cross-validation on
/// FAQ questions and held-out unrelated questions; change them only to
/// experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatcherParams {
    /// Minimum passes of SGD over the questions at load.
    pub epochs: usize,
    /// Minimum SGD updates in total: a small FAQ gets more passes, so it is
    /// trained as thoroughly as a large one.
    pub min_updates: usize,
    /// Inverse L2 strength (like scikit-learn's `C`), per question.
    pub inverse_l2: f32,
    pub learning_rate: f32,
    /// Share of the vector norm given to word features (the rest goes to
    /// character n-grams), in `[0, 1]`.
    pub word_share: f32,
    /// Fit the confidence calibration at load on held-out FAQ questions
    /// (see `calibrate.rs`); without it a confidence is `p / (1 + p)` of
    /// the raw top probability `p`.
    pub calibrate: bool,
}

impl Default for MatcherParams {
    fn default() -> Self {
        MatcherParams {
            epochs: 8,
            min_updates: 50_000,
            inverse_l2: 10.0,
            learning_rate: 0.5,
            word_share: 0.5,
            calibrate: true,
        }
    }
}

/// A loaded FAQ with its matching index.
pub struct Faq {
    entries: Vec<FaqEntry>,
    question_count: usize,
    vectoriser: Vectoriser,
    model: Model,
    calibration: Calibration,
    /// The questions' vectors, inverted per entry, for the similarity of
    /// a query to an entry's nearest question.
    questions: QuestionIndex,
    /// How far below `min_confidence` the bot still asks "did you mean"
    /// instead of declining (see `decide.rs`).
    clarify_band: f32,
}

impl std::fmt::Debug for Faq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faq")
            .field("entries", &self.entries.len())
            .field("questions", &self.question_count)
            .field("features", &self.vectoriser.features())
            .finish()
    }
}

impl Faq {
    /// Reads and indexes the FAQ file at `path`.
    pub fn load(path: &Path) -> Result<Faq, FaqError> {
        Self::load_with(path, &MatcherParams::default())
    }

    /// [`Faq::load`] with explicit matcher knobs.
    pub fn load_with(path: &Path, params: &MatcherParams) -> Result<Faq, FaqError> {
        let src = std::fs::read_to_string(path).map_err(|source| FaqError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str_with(&src, &path.display().to_string(), params)
    }

    /// Reads and validates the entries of the FAQ file at `path` without
    /// indexing them.
    pub fn read_entries(path: &Path) -> Result<Vec<FaqEntry>, FaqError> {
        let src = std::fs::read_to_string(path).map_err(|source| FaqError::Read {
            path: path.to_owned(),
            source,
        })?;
        load::parse_entries(&src, &path.display().to_string())
    }

    /// Indexes already validated entries (e.g. a FAQ with some entries
    /// held out for evaluation).
    pub fn from_entries(entries: Vec<FaqEntry>, params: &MatcherParams) -> Faq {
        Self::build(entries, params)
    }

    /// Parses and indexes FAQ TOML; `origin` names it in errors.
    pub fn from_toml_str(src: &str, origin: &str) -> Result<Faq, FaqError> {
        Self::from_toml_str_with(src, origin, &MatcherParams::default())
    }

    /// [`Faq::from_toml_str`] with explicit matcher knobs.
    pub fn from_toml_str_with(
        src: &str,
        origin: &str,
        params: &MatcherParams,
    ) -> Result<Faq, FaqError> {
        let entries = load::parse_entries(src, origin)?;
        Ok(Self::build(entries, params))
    }

    fn build(entries: Vec<FaqEntry>, params: &MatcherParams) -> Faq {
        let started = std::time::Instant::now();
        let (texts, labels) = questions_of(&entries);
        let share = params.word_share.clamp(0.0, 1.0);
        let weights = FamilyWeights {
            word: share.sqrt(),
            char: (1.0 - share).sqrt(),
        };
        let (vectoriser, xs) = Vectoriser::fit(&texts, weights);
        let epochs = params
            .epochs
            .max(params.min_updates.div_ceil(texts.len().max(1)));
        let train = TrainParams {
            epochs,
            inverse_l2: params.inverse_l2,
            learning_rate: params.learning_rate,
            seed: 0x5eed_f00d,
        };
        let model = Model::train(&xs, &labels, vectoriser.features(), entries.len(), &train);
        let calibration = if params.calibrate {
            calibrate::calibration(&xs, &labels, vectoriser.features(), entries.len(), &train)
        } else {
            Calibration::PRIOR
        };
        let sizes: Vec<usize> = entries.iter().map(|e| e.questions.len()).collect();
        let questions = QuestionIndex::build(&xs, &sizes, vectoriser.features());
        drop(xs);
        tracing::debug!(
            entries = entries.len(),
            questions = texts.len(),
            features = vectoriser.features(),
            question_index_bytes = questions.heap_bytes(),
            calibration = ?calibration,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "FAQ index built"
        );
        Faq {
            questions,
            question_count: texts.len(),
            entries,
            vectoriser,
            model,
            calibration,
            clarify_band: DEFAULT_CLARIFY_BAND,
        }
    }

    pub fn entries(&self) -> &[FaqEntry] {
        &self.entries
    }

    pub fn entry(&self, id: &str) -> Option<&FaqEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Total number of questions over all entries.
    pub fn question_count(&self) -> usize {
        self.question_count
    }

    /// Approximate heap bytes of the matching structures (for sizing and
    /// benchmarks; the entries' own text is not counted).
    pub fn index_memory(&self) -> IndexMemory {
        let features = self.vectoriser.features();
        let classes = self.entries.len();
        IndexMemory {
            questions: self.questions.heap_bytes(),
            model: std::mem::size_of::<f32>() * (features * classes + classes),
        }
    }

    /// The `k` entries the classifier ranks highest (by probability, best
    /// first, ties by index) with the query vector; empty when the text has
    /// no feature the FAQ knows (nothing to go on).
    fn ranked(&self, text: &str, k: usize) -> (index::SparseVec, Vec<(usize, f32)>) {
        let x = self.vectoriser.transform(text);
        if x.is_empty() || self.entries.is_empty() {
            return (x, Vec::new());
        }
        let mut z = Vec::with_capacity(self.entries.len());
        self.model.logits(&x, &mut z);
        softmax(&mut z);
        let mut ranked: Vec<(usize, f32)> = z.into_iter().enumerate().collect();
        // A strict total order (indices are unique), so selecting the top
        // k and sorting only those gives the head of a full sort.
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if k < ranked.len() {
            ranked.select_nth_unstable_by(k, order);
            ranked.truncate(k);
        }
        ranked.sort_unstable_by(order);
        (x, ranked)
    }

    fn to_match(&self, x: &index::SparseVec, index: usize, probability: f32) -> Match {
        let similarity = self.questions.nearest(x, index);
        let confidence = self
            .calibration
            .confidence(calibrate::score(probability, similarity));
        Match {
            index,
            id: self.entries[index].id.clone(),
            confidence: if confidence.is_finite() {
                confidence.clamp(0.0, 1.0)
            } else {
                0.0
            },
        }
    }

    /// The `k` entries the classifier ranks highest for `text`, best first,
    /// each with its confidence (`top(t, 1)` is `best(t)`).
    pub fn top(&self, text: &str, k: usize) -> Vec<Match> {
        let (x, ranked) = self.ranked(text, k);
        ranked
            .into_iter()
            .map(|(i, p)| self.to_match(&x, i, p))
            .collect()
    }

    /// The best entry for `text`, however unsure.
    pub fn best(&self, text: &str) -> Option<Match> {
        self.top(text, 1).pop()
    }

    /// The entry to answer with, or `None` when the bot must not answer
    /// (best confidence below `min_confidence`, or nothing matched).
    pub fn answer(&self, text: &str, min_confidence: f32) -> Option<Match> {
        self.best(text).filter(|m| m.confidence >= min_confidence)
    }
}

/// Every question of `entries` in order, with the index of its entry (the
/// training label).
fn questions_of(entries: &[FaqEntry]) -> (Vec<&str>, Vec<usize>) {
    entries
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.questions.iter().map(move |q| (q.as_str(), i)))
        .unzip()
}

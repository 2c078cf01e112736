//! Confidence calibration: fitted at load so that a confidence means
//! "estimated probability that answering with this entry is right",
//! whatever the size of the FAQ.
//!
//! The FAQ's own questions are split: every k-th question of each entry is
//! held out, and every k-th entry is held out whole. A model is trained on
//! the rest; the held-out questions of known entries give "right" and
//! "wrong" answers, and the questions of the held-out entries play the
//! questions the FAQ cannot answer (they must never be answered). A logistic
//! map over a few match features ([`Evidence`]) is fitted to those labels.
//! A small FAQ yields a flat softmax and a large one a sharp one; the map
//! removes that difference, so one `min_confidence` works for both. Not for
//! choosing other hyper-parameters.
//!
//! Invariant: the map is finite and non-decreasing in every feature (a
//! fitted negative weight is clamped to zero), so more evidence never
//! lowers a confidence; with nothing to hold out it is [`Calibration::PRIOR`].

use super::index::{nearest, SparseVec};
use super::model::{softmax, Model, TrainParams};
use super::platt::{fit, Sample};

/// Every `HOLD_OUT_EVERY`-th question of an entry is held out for
/// calibration; an entry with fewer (but at least two) questions holds out
/// its last one. Every `HOLD_OUT_EVERY`-th entry is held out whole.
const HOLD_OUT_EVERY: usize = 5;

/// Number of features the calibration map reads.
pub(crate) const FEATURES: usize = 3;

/// What the matcher knows about one candidate entry for one question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Evidence {
    /// The classifier's softmax probability of the entry.
    pub probability: f32,
    /// The highest probability of any other entry (0 if there is none).
    pub runner_up: f32,
    /// Cosine similarity to the nearest question of the entry.
    pub similarity: f32,
}

impl Evidence {
    /// The features the map reads, each growing with the evidence for the
    /// entry: log probability, log similarity, log-odds margin over the
    /// runner-up (clamped and scaled into `[-1, 1]`). (The share of the
    /// question's features the FAQ knows was tried as a fourth feature; the
    /// fit gave it no weight.)
    pub(crate) fn features(&self) -> [f32; FEATURES] {
        let ln = |v: f32| v.max(1e-6).ln();
        let margin = if self.runner_up > 0.0 {
            (ln(self.probability) - ln(self.runner_up)).clamp(-MARGIN_CAP, MARGIN_CAP)
        } else {
            MARGIN_CAP
        };
        [
            ln(self.probability),
            ln(self.similarity),
            margin / MARGIN_CAP,
        ]
    }
}

/// The log-odds margin is clamped to this, then scaled into `[-1, 1]`.
const MARGIN_CAP: f32 = 5.0;

/// A map from the match features to the probability that the answer is
/// right: `sigmoid(w · features + b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Calibration {
    pub w: [f32; FEATURES],
    pub b: f32,
}

impl Calibration {
    /// The map a fit starts from and is pulled towards when only a few
    /// questions can be held out; used as is when none can. Roughly the
    /// mean of the maps fitted on a 10- and a 100-question-per-entry FAQ
    /// (CLINC150), so a tiny FAQ gets the same scale of confidence.
    pub(crate) const PRIOR: Calibration = Calibration {
        w: [1.2, 2.5, 2.1],
        b: 1.7,
    };

    pub(crate) fn confidence(&self, evidence: &Evidence) -> f32 {
        let f = evidence.features();
        let m: f32 = self.w.iter().zip(&f).map(|(w, x)| w * x).sum::<f32>() + self.b;
        let v = 1.0 / (1.0 + (-m).exp());
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }
}

/// The evidence for the best entry of a softmax `probabilities`, with the
/// entry's questions `members` (vectors) to measure similarity against.
pub(crate) fn evidence<'a>(
    x: &SparseVec,
    probabilities: &[f32],
    entry: usize,
    members: impl Iterator<Item = &'a SparseVec>,
) -> Evidence {
    let runner_up = probabilities
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != entry)
        .map(|(_, &p)| p)
        .fold(0.0f32, f32::max);
    Evidence {
        probability: probabilities.get(entry).copied().unwrap_or(0.0),
        runner_up,
        similarity: nearest(x, members),
    }
}

/// Total weight of the held-out entries' questions relative to the held-out
/// questions of known entries: how common unanswerable questions are
/// assumed to be. Equal weight made the oos-train threshold nearly the same
/// for a 10- and a 100-question-per-entry FAQ (0.105 vs 0.109); smaller
/// shares spread them apart.
const UNANSWERABLE_SHARE: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Trains the held-out model.
    Train,
    /// A question of a known entry the held-out model has not seen.
    Held,
    /// A question of an entry held out whole: must not be answered.
    Unanswerable,
}

/// Which entries are held out whole: every `HOLD_OUT_EVERY`-th, or the last
/// one of a FAQ too small for that; none when fewer than three entries
/// would leave nothing to confuse.
fn held_out_entries(classes: usize) -> Vec<bool> {
    let mut out: Vec<bool> = (0..classes)
        .map(|i| (i + 1).is_multiple_of(HOLD_OUT_EVERY))
        .collect();
    if classes >= 3 && !out.contains(&true) {
        out[classes - 1] = true;
    }
    if classes < 3 {
        out.iter_mut().for_each(|h| *h = false);
    }
    out
}

/// The FAQ's training data as the calibration sees it.
pub(crate) struct Split<'a> {
    /// Question vectors and their entries.
    pub xs: &'a [SparseVec],
    pub ys: &'a [usize],
    /// Word-dropout copies per question (see `augment.rs`).
    pub variants: &'a [Vec<SparseVec>],
}

/// Fits the calibration for a model trained with `params` on `data`; the
/// held-out model gets the same number of updates per training vector.
pub(crate) fn calibration(
    data: &Split<'_>,
    features: usize,
    classes: usize,
    params: &TrainParams,
) -> Calibration {
    let entry_out = held_out_entries(classes);
    // Kept entries are renumbered 0.. for the calibration model.
    let mut remap = vec![usize::MAX; classes];
    let mut kept = 0;
    for (c, out) in entry_out.iter().enumerate() {
        if !out {
            remap[c] = kept;
            kept += 1;
        }
    }
    let mut per_class = vec![0usize; classes];
    for &y in data.ys {
        per_class[y] += 1;
    }
    let mut seen = vec![0usize; classes];
    let mut role = Vec::with_capacity(data.xs.len());
    for &y in data.ys {
        seen[y] += 1;
        let every = HOLD_OUT_EVERY.min(per_class[y]);
        role.push(if entry_out[y] {
            Role::Unanswerable
        } else if every >= 2 && seen[y].is_multiple_of(every) {
            Role::Held
        } else {
            Role::Train
        });
    }
    let (train_x, train_y) =
        super::with_variants(data.xs, data.ys, data.variants, |i| role[i] == Role::Train);
    let train_y: Vec<usize> = train_y.into_iter().map(|y| remap[y]).collect();
    // Similarity is measured against real questions only, as in matching.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); kept];
    for (i, &y) in data.ys.iter().enumerate() {
        if role[i] == Role::Train {
            members[remap[y]].push(i);
        }
    }
    let pick = |r: Role| {
        data.xs
            .iter()
            .zip(data.ys)
            .zip(&role)
            .filter(move |(_, &ro)| ro == r)
            .map(|((x, &y), _)| (x, remap[y]))
    };
    let held: Vec<(&SparseVec, usize)> = pick(Role::Held).collect();
    let unanswerable: Vec<&SparseVec> = pick(Role::Unanswerable).map(|(x, _)| x).collect();
    let full_size = data.xs.len() + data.variants.iter().map(Vec::len).sum::<usize>();
    let params = TrainParams {
        updates: (params.updates as f64 * train_x.len() as f64 / full_size.max(1) as f64) as usize,
        ..*params
    };
    if held.is_empty() || train_x.is_empty() {
        return Calibration::PRIOR;
    }
    let model = Model::train(&train_x, &train_y, features, kept, &params);
    let mut z = Vec::new();
    let mut observe = |x: &SparseVec| {
        model.logits(x, &mut z);
        softmax(&mut z);
        let best = (0..z.len()).fold(0, |b, i| if z[i] > z[b] { i } else { b });
        let e = evidence(x, &z, best, members[best].iter().map(|&i| &data.xs[i]));
        (e.features(), best)
    };
    let mut samples: Vec<Sample> = held
        .iter()
        .map(|&(x, y)| {
            let (f, best) = observe(x);
            Sample {
                x: f,
                right: best == y,
                weight: 1.0,
            }
        })
        .collect();
    if !unanswerable.is_empty() {
        let weight = UNANSWERABLE_SHARE * held.len() as f64 / unanswerable.len() as f64;
        for x in unanswerable {
            let (f, _) = observe(x);
            samples.push(Sample {
                x: f,
                right: false,
                weight,
            });
        }
    }
    let c = fit(&samples);
    tracing::debug!(calibration = ?c, samples = samples.len(), "FAQ confidence calibrated");
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_keeps_order_and_range() {
        let c = Calibration::PRIOR;
        let e = |p: f32, s: f32| Evidence {
            probability: p,
            runner_up: 1.0 - p,
            similarity: s,
        };
        assert!(c.confidence(&e(0.9, 0.8)) > c.confidence(&e(0.2, 0.8)));
        assert!(c.confidence(&e(0.9, 0.8)) > c.confidence(&e(0.9, 0.1)));
        assert!((0.0..=1.0).contains(&c.confidence(&e(0.0, 0.0))));
    }

    #[test]
    fn small_faqs_hold_out_one_entry_and_tiny_ones_none() {
        assert_eq!(held_out_entries(2), vec![false, false]);
        assert_eq!(held_out_entries(4), vec![false, false, false, true]);
        let many = held_out_entries(150);
        assert_eq!(many.iter().filter(|h| **h).count(), 30);
    }
}

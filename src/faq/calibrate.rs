//! Confidence calibration: fitted at load so that
//! a confidence means "estimated probability that this answer is right",
//! whatever the size of the FAQ.
//!
//! The FAQ's own questions are split (every k-th question of each entry is
//! held out), a model is trained on the rest, and a monotone map from the
//! top softmax probability to "the top entry was right" is fitted on the
//! held-out questions (Platt scaling). A small FAQ yields a flat softmax and
//! a large one a sharp one; the map removes that difference, so one
//! `min_confidence` works for both. Not for choosing other hyper-parameters.
//!
//! Invariant: the map is increasing (a > 0) and finite, so it never changes
//! which entry is best nor the order of two questions' confidences; with
//! nothing to hold out it is the identity on the probability.

use super::index::{QuestionIndex, SparseVec};
use super::model::{softmax, Model, TrainParams};

/// Every `HOLD_OUT_EVERY`-th question of an entry is held out for
/// calibration; an entry with fewer (but at least two) questions holds out
/// its last one.
const HOLD_OUT_EVERY: usize = 5;

/// A monotone map from the classifier's top score to the probability that
/// the top entry is the right one: `sigmoid(a * score + b)` (Platt scaling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Calibration {
    pub a: f32,
    pub b: f32,
}

impl Calibration {
    /// The map a fit starts from and is pulled towards when only a few
    /// questions can be held out; used as is when none can.
    pub(crate) const PRIOR: Calibration = Calibration { a: 1.25, b: 3.0 };

    pub(crate) fn confidence(&self, score: f32) -> f32 {
        let v = 1.0 / (1.0 + (-(self.a * score + self.b)).exp());
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }
}

/// The score that calibration maps: the log of the top entry's softmax
/// probability times the question's cosine similarity to the nearest
/// question of that entry. The probability says "this entry rather than
/// the others"; the similarity says "at all", which a softmax cannot.
pub(crate) fn score(top_probability: f32, similarity: f32) -> f32 {
    top_probability.max(1e-6).ln() + similarity.max(1e-6).ln()
}

/// Platt's smoothed targets: with `n+` right and `n-` wrong held-out
/// answers, "right" means `(n+ + 1) / (n+ + 2)` and "wrong" `1 / (n- + 2)`,
/// so four right answers out of four do not claim certainty.
fn targets(samples: &[(f32, bool)]) -> (f64, f64) {
    let right = samples.iter().filter(|(_, ok)| *ok).count() as f64;
    let wrong = samples.len() as f64 - right;
    ((right + 1.0) / (right + 2.0), 1.0 / (wrong + 2.0))
}

/// Regularised cross-entropy of the map `(a, b)` against smoothed targets.
fn loss(samples: &[(f32, bool)], a: f64, b: f64) -> f64 {
    let (hi, lo) = targets(samples);
    let (da, db) = (a - PRIOR_A, b - PRIOR_B);
    let mut sum = 0.5 * RIDGE * (da * da + db * db);
    for &(s, ok) in samples {
        let t = if ok { hi } else { lo };
        let m = a * f64::from(s) + b;
        // log(1 + e^-m) and log(1 + e^m), stable for large |m|.
        let softplus = |v: f64| {
            if v > 0.0 {
                v + (-v).exp().ln_1p()
            } else {
                v.exp().ln_1p()
            }
        };
        sum += t * softplus(-m) + (1.0 - t) * softplus(m);
    }
    sum
}

/// Pulls the fit towards [`Calibration::PRIOR`]: keeps it finite when the
/// held-out set is all right (or all wrong) and sane when it is tiny; worth
/// about a dozen held-out questions.
const RIDGE: f64 = 2.0;
const PRIOR_A: f64 = Calibration::PRIOR.a as f64;
const PRIOR_B: f64 = Calibration::PRIOR.b as f64;

/// Fits a Platt map to (score, was the top entry right) pairs by damped
/// Newton steps on the regularised logistic loss.
fn fit(samples: &[(f32, bool)]) -> Calibration {
    let (hi, lo) = targets(samples);
    let (mut a, mut b) = (PRIOR_A, PRIOR_B);
    let mut current = loss(samples, a, b);
    for _ in 0..100 {
        let (mut ga, mut gb) = (RIDGE * (a - PRIOR_A), RIDGE * (b - PRIOR_B));
        let (mut haa, mut hab, mut hbb) = (RIDGE, 0.0, RIDGE);
        for &(s, ok) in samples {
            let s = f64::from(s);
            let p = 1.0 / (1.0 + (-(a * s + b)).exp());
            let r = p - if ok { hi } else { lo };
            let w = p * (1.0 - p);
            ga += r * s;
            gb += r;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if !det.is_finite() || det <= 0.0 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-4 {
            let (na, nb) = (a - step * da, b - step * db);
            let l = loss(samples, na, nb);
            if l.is_finite() && l <= current {
                (a, b, current) = (na, nb, l);
                improved = true;
                break;
            }
            step *= 0.5;
        }
        if !improved || (step * (da.abs() + db.abs())) < 1e-9 {
            break;
        }
    }
    if a.is_finite() && b.is_finite() && a > 0.0 {
        Calibration {
            a: a as f32,
            b: b as f32,
        }
    } else {
        Calibration::PRIOR
    }
}

/// How a held-out question's nearest training question of an entry is
/// found: through the matcher's exact inverted index, or (tests) by
/// scanning the entry's questions. Both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Similarity {
    Index,
    #[cfg(test)]
    Scan,
}

/// Fits the calibration for a model trained with `params` on `xs`/`ys`.
pub(crate) fn calibration(
    xs: &[SparseVec],
    ys: &[usize],
    features: usize,
    classes: usize,
    params: &TrainParams,
) -> Calibration {
    match held_out_samples(xs, ys, features, classes, params, Similarity::Index) {
        Some(samples) => fit(&samples),
        None => Calibration::PRIOR,
    }
}

/// The (score, was the top entry right) pair of every held-out question,
/// for a model trained on the rest; None when nothing can be held out (or
/// nothing is left to train on).
fn held_out_samples(
    xs: &[SparseVec],
    ys: &[usize],
    features: usize,
    classes: usize,
    params: &TrainParams,
    similarity: Similarity,
) -> Option<Vec<(f32, bool)>> {
    let mut per_class = vec![0usize; classes];
    for &y in ys {
        per_class[y] += 1;
    }
    let mut seen = vec![0usize; classes];
    let (mut train_x, mut train_y, mut held_x, mut held_y) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (x, &y) in xs.iter().zip(ys) {
        seen[y] += 1;
        let every = HOLD_OUT_EVERY.min(per_class[y]);
        if every >= 2 && seen[y].is_multiple_of(every) {
            held_x.push(x);
            held_y.push(y);
        } else {
            members[y].push(train_x.len());
            train_x.push(x.clone());
            train_y.push(y);
        }
    }
    if held_x.is_empty() || train_x.is_empty() {
        return None;
    }
    let model = Model::train(&train_x, &train_y, features, classes, params);
    // The training questions grouped by entry (each entry's in their
    // original order), as the index wants them; moved, not copied, since
    // training is done with them.
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let index = match similarity {
        Similarity::Index => {
            let grouped: Vec<SparseVec> = members
                .iter()
                .flatten()
                .map(|&i| std::mem::take(&mut train_x[i]))
                .collect();
            Some(QuestionIndex::build(&grouped, &sizes, features))
        }
        #[cfg(test)]
        Similarity::Scan => None,
    };
    let mut z = Vec::new();
    let samples = held_x
        .iter()
        .zip(&held_y)
        .map(|(x, &y)| {
            model.logits(x, &mut z);
            softmax(&mut z);
            let best = (0..z.len()).fold(0, |b, i| if z[i] > z[b] { i } else { b });
            let similarity = match &index {
                Some(index) => index.nearest(x, best),
                None => super::index::nearest(x, members[best].iter().map(|&i| &train_x[i])),
            };
            (score(z[best], similarity), best == y)
        })
        .collect();
    Some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_scores_to_observed_accuracy() {
        // High scores are right, low ones wrong: a steep increasing map.
        let mut samples = Vec::new();
        for i in 0..50 {
            samples.push((-0.1 - i as f32 * 0.001, true));
            samples.push((-3.0 - i as f32 * 0.001, false));
        }
        samples.push((-1.5, true));
        samples.push((-1.6, false));
        let c = fit(&samples);
        assert!(c.confidence(-0.1) > 0.9, "{c:?}");
        assert!(c.confidence(-3.0) < 0.1, "{c:?}");
    }

    #[test]
    fn prior_keeps_order_and_range() {
        let c = Calibration::PRIOR;
        assert!(c.confidence(score(0.9, 0.8)) > c.confidence(score(0.2, 0.8)));
        assert!(c.confidence(score(0.9, 0.8)) > c.confidence(score(0.9, 0.1)));
        assert!((0.0..=1.0).contains(&c.confidence(score(0.0, 0.0))));
    }

    /// The held-out samples through the index and through the brute-force
    /// scan, compared bit for bit, and the calibrations fitted on them.
    fn index_matches_scan(src: &str, origin: &str) -> usize {
        let entries = super::super::load::parse_entries(src, origin).expect("a valid FAQ");
        let (texts, ys) = super::super::questions_of(&entries);
        let weights = super::super::index::FamilyWeights {
            word: std::f32::consts::FRAC_1_SQRT_2,
            char: std::f32::consts::FRAC_1_SQRT_2,
        };
        let (vectoriser, xs) = super::super::index::Vectoriser::fit(&texts, weights);
        let params = TrainParams {
            epochs: 3,
            inverse_l2: 10.0,
            learning_rate: 0.5,
            seed: 7,
        };
        let features = vectoriser.features();
        let run = |s| held_out_samples(&xs, &ys, features, entries.len(), &params, s);
        let indexed = run(Similarity::Index).expect("questions are held out");
        let scanned = run(Similarity::Scan).expect("questions are held out");
        assert_eq!(indexed.len(), scanned.len());
        for (i, (a, b)) in indexed.iter().zip(&scanned).enumerate() {
            assert_eq!(a.0.to_bits(), b.0.to_bits(), "{origin}: sample {i}");
            assert_eq!(a.1, b.1, "{origin}: sample {i}");
        }
        assert_eq!(fit(&indexed), fit(&scanned), "{origin}");
        indexed.len()
    }

    #[test]
    fn index_and_scan_agree_on_a_generated_faq() {
        // Entries of varied size (1 question: nothing held out from it)
        // sharing most words, so nearest questions are often in other
        // entries and similarities are far from 0 and 1.
        let words = [
            "card", "password", "reset", "order", "late", "refund", "invoice", "account",
            "blocked", "my", "where", "is", "how", "do", "i", "change", "address", "email",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut pick = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut src = String::new();
        for e in 0..12 {
            let n = [1, 2, 3, 7, 12, 30][e % 6];
            src.push_str(&format!("[[faq]]\nid = \"e{e}\"\nquestions = [\n"));
            for q in 0..n {
                let len = 2 + pick(5);
                let text: Vec<&str> = (0..len).map(|_| words[pick(words.len())]).collect();
                src.push_str(&format!("  \"{} {q}\",\n", text.join(" ")));
            }
            src.push_str(&format!("]\nanswer = \"Answer {e}.\"\n\n"));
        }
        let held = index_matches_scan(&src, "generated.toml");
        assert!(held > 10, "{held} held-out questions");
    }

    #[test]
    fn index_and_scan_agree_on_clinc150_faq_10() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/clinc150/faq-10.toml");
        let Ok(src) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {} is not there", path.display());
            return;
        };
        let held = index_matches_scan(&src, "faq-10.toml");
        assert_eq!(held, 300, "two of every entry's ten questions");
    }
}

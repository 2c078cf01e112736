//! A multinomial logistic regression over TF-IDF vectors, trained in pure
//! Rust when the FAQ is loaded.
//!
//! Training is plain SGD on the softmax cross-entropy with L2 weight decay
//! (the decay is kept as one scale factor so a step costs only the sparse
//! features of one question). It is not a general ML library: one model
//! shape, the few knobs the matcher needs.
//!
//! Invariant: training is deterministic (fixed-seed shuffle, fixed summation
//! order), and the weight matrix is `features × classes`, row-major by
//! feature, so scoring a question touches one contiguous row per feature.

use super::index::SparseVec;

/// Training knobs. `inverse_l2` plays the role of scikit-learn's `C`: the
/// per-question decay is `1 / (inverse_l2 × questions)`, so the same value
/// regularises small and large FAQs alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TrainParams {
    pub epochs: usize,
    pub inverse_l2: f32,
    pub learning_rate: f32,
    pub seed: u64,
}

pub(crate) struct Model {
    classes: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// xorshift64*: a tiny deterministic generator for the epoch shuffles.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// In-place softmax; returns nothing useful for an empty slice.
pub(crate) fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        for v in z.iter_mut() {
            *v /= sum;
        }
    }
}

impl Model {
    /// Trains on `xs` with labels `ys` (each `< classes`); every feature id
    /// in `xs` must be `< features`.
    pub(crate) fn train(
        xs: &[SparseVec],
        ys: &[usize],
        features: usize,
        classes: usize,
        p: &TrainParams,
    ) -> Model {
        let mut v = vec![0.0f32; features * classes];
        let mut bias = vec![0.0f32; classes];
        let mut scale = 1.0f32;
        let n = xs.len().max(1);
        let l2 = 1.0 / (p.inverse_l2.max(1e-6) * n as f32);
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Rng(p.seed | 1);
        let mut z = vec![0.0f32; classes];
        let mut t = 0.0f32;
        for _ in 0..p.epochs {
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for &i in &order {
                let eta = p.learning_rate / (1.0 + p.learning_rate * l2 * t);
                t += 1.0;
                z.copy_from_slice(&bias);
                for &(f, x) in &xs[i] {
                    let row = &v[f as usize * classes..][..classes];
                    let sx = scale * x;
                    for (zc, w) in z.iter_mut().zip(row) {
                        *zc += sx * w;
                    }
                }
                softmax(&mut z);
                z[ys[i]] -= 1.0;
                scale *= (1.0 - eta * l2).max(1e-3);
                for &(f, x) in &xs[i] {
                    let row = &mut v[f as usize * classes..][..classes];
                    let k = eta * x / scale;
                    for (w, g) in row.iter_mut().zip(&z) {
                        *w -= k * g;
                    }
                }
                for (b, g) in bias.iter_mut().zip(&z) {
                    *b -= eta * g;
                }
                if scale < 1e-3 {
                    v.iter_mut().for_each(|w| *w *= scale);
                    scale = 1.0;
                }
            }
        }
        v.iter_mut().for_each(|w| *w *= scale);
        Model {
            classes,
            weights: v,
            bias,
        }
    }

    /// Raw class scores (logits) of `x` into `out` (length `classes`).
    pub(crate) fn logits(&self, x: &SparseVec, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.bias);
        for &(f, val) in x {
            let start = f as usize * self.classes;
            if let Some(row) = self.weights.get(start..start + self.classes) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += val * w;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_toy_problem() {
        let xs = vec![vec![(0, 1.0)], vec![(1, 1.0)], vec![(0, 0.9), (2, 0.4)]];
        let ys = vec![0, 1, 0];
        let p = TrainParams {
            epochs: 30,
            inverse_l2: 10.0,
            learning_rate: 0.5,
            seed: 7,
        };
        let m = Model::train(&xs, &ys, 3, 2, &p);
        let mut z = Vec::new();
        m.logits(&vec![(0, 1.0)], &mut z);
        softmax(&mut z);
        assert!(z[0] > 0.7, "{z:?}");
        m.logits(&vec![(1, 1.0)], &mut z);
        softmax(&mut z);
        assert!(z[1] > 0.7, "{z:?}");
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut z = vec![1.0, 2.0, 3.0];
        softmax(&mut z);
        assert!((z.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(z[2] > z[1] && z[1] > z[0]);
    }
}

//! The logistic fit behind the confidence calibration: a few features in,
//! "was the answer right" out, fitted by damped Newton steps on a weighted,
//! ridge-regularised cross-entropy with Platt's smoothed targets.
//!
//! It knows nothing about FAQs; `calibrate.rs` builds the samples and reads
//! the map. Invariant: the result is finite and its weights are never
//! negative (a weight that fits negative is pinned at zero and the rest
//! refitted), so the map is non-decreasing in every feature.

use super::calibrate::{Calibration, FEATURES};

/// One held-out observation: the features of the top entry, whether
/// answering with it was right, and how much the observation counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub x: [f32; FEATURES],
    pub right: bool,
    pub weight: f64,
}

/// Pulls the fit towards [`Calibration::PRIOR`]: keeps it finite when the
/// held-out set is all right (or all wrong) and sane when it is tiny (a
/// 4-entry FAQ holds out only a handful of questions). Negligible against
/// the hundreds of held-out questions of a 1,500-question FAQ.
const RIDGE: f64 = 10.0;

/// Parameters as `[w.., b]`.
const DIM: usize = FEATURES + 1;

fn prior() -> [f64; DIM] {
    let mut p = [0.0; DIM];
    for (d, w) in p.iter_mut().zip(Calibration::PRIOR.w) {
        *d = f64::from(w);
    }
    p[FEATURES] = f64::from(Calibration::PRIOR.b);
    p
}

/// Platt's smoothed targets: with `n+` right and `n-` wrong held-out
/// answers (weighted), "right" means `(n+ + 1) / (n+ + 2)` and "wrong"
/// `1 / (n- + 2)`, so four right answers out of four do not claim certainty.
fn targets(samples: &[Sample]) -> (f64, f64) {
    let right: f64 = samples.iter().filter(|s| s.right).map(|s| s.weight).sum();
    let wrong: f64 = samples.iter().filter(|s| !s.right).map(|s| s.weight).sum();
    ((right + 1.0) / (right + 2.0), 1.0 / (wrong + 2.0))
}

fn margin(theta: &[f64; DIM], x: &[f32; FEATURES]) -> f64 {
    theta[..FEATURES]
        .iter()
        .zip(x)
        .map(|(w, v)| w * f64::from(*v))
        .sum::<f64>()
        + theta[FEATURES]
}

/// log(1 + e^v), stable for large |v|.
fn softplus(v: f64) -> f64 {
    if v > 0.0 {
        v + (-v).exp().ln_1p()
    } else {
        v.exp().ln_1p()
    }
}

/// Regularised weighted cross-entropy of `theta` against smoothed targets.
fn loss(samples: &[Sample], theta: &[f64; DIM], prior: &[f64; DIM]) -> f64 {
    let (hi, lo) = targets(samples);
    let mut sum: f64 = theta
        .iter()
        .zip(prior)
        .map(|(t, p)| 0.5 * RIDGE * (t - p) * (t - p))
        .sum();
    for s in samples {
        let t = if s.right { hi } else { lo };
        let m = margin(theta, &s.x);
        sum += s.weight * (t * softplus(-m) + (1.0 - t) * softplus(m));
    }
    sum
}

/// Solves `h · d = g` for a small symmetric positive definite `h` by
/// Gaussian elimination with partial pivoting; `None` if it is singular.
fn solve(mut h: [[f64; DIM]; DIM], mut g: [f64; DIM]) -> Option<[f64; DIM]> {
    for col in 0..DIM {
        let pivot = (col..DIM).max_by(|&a, &b| h[a][col].abs().total_cmp(&h[b][col].abs()))?;
        if !h[pivot][col].is_normal() {
            return None;
        }
        h.swap(col, pivot);
        g.swap(col, pivot);
        for row in col + 1..DIM {
            let f = h[row][col] / h[col][col];
            let pivot_row = h[col];
            for (v, p) in h[row].iter_mut().zip(pivot_row).skip(col) {
                *v -= f * p;
            }
            g[row] -= f * g[col];
        }
    }
    let mut d = [0.0; DIM];
    for row in (0..DIM).rev() {
        let tail: f64 = (row + 1..DIM).map(|k| h[row][k] * d[k]).sum();
        d[row] = (g[row] - tail) / h[row][row];
    }
    d.iter().all(|v| v.is_finite()).then_some(d)
}

/// Damped Newton steps on the regularised loss, moving only the parameters
/// in `free` (the others stay at their value in `theta`).
fn newton(samples: &[Sample], mut theta: [f64; DIM], free: &[bool; DIM]) -> [f64; DIM] {
    let prior = prior();
    let (hi, lo) = targets(samples);
    let mut current = loss(samples, &theta, &prior);
    for _ in 0..100 {
        let mut g = [0.0; DIM];
        let mut h = [[0.0; DIM]; DIM];
        for i in 0..DIM {
            g[i] = RIDGE * (theta[i] - prior[i]);
            h[i][i] = RIDGE;
        }
        for s in samples {
            let mut x = [1.0; DIM];
            for (d, v) in x.iter_mut().zip(&s.x) {
                *d = f64::from(*v);
            }
            let p = 1.0 / (1.0 + (-margin(&theta, &s.x)).exp());
            let r = s.weight * (p - if s.right { hi } else { lo });
            let w = s.weight * p * (1.0 - p);
            for i in 0..DIM {
                g[i] += r * x[i];
                for j in 0..DIM {
                    h[i][j] += w * x[i] * x[j];
                }
            }
        }
        for i in (0..DIM).filter(|&i| !free[i]) {
            g[i] = 0.0;
            h[i] = [0.0; DIM];
            for row in h.iter_mut() {
                row[i] = 0.0;
            }
            h[i][i] = 1.0;
        }
        let Some(d) = solve(h, g) else { break };
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-4 {
            let mut next = theta;
            for (t, dv) in next.iter_mut().zip(&d) {
                *t -= step * dv;
            }
            let l = loss(samples, &next, &prior);
            if l.is_finite() && l <= current {
                (theta, current) = (next, l);
                improved = true;
                break;
            }
            step *= 0.5;
        }
        if !improved || step * d.iter().map(|v| v.abs()).sum::<f64>() < 1e-9 {
            break;
        }
    }
    theta
}

/// Fits the map to held-out samples; a weight that comes out negative is
/// pinned to zero and the rest refitted, so the map stays non-decreasing.
pub(crate) fn fit(samples: &[Sample]) -> Calibration {
    let mut free = [true; DIM];
    let mut theta = prior();
    for _ in 0..DIM {
        theta = newton(samples, theta, &free);
        let negative: Vec<usize> = (0..FEATURES).filter(|&i| theta[i] < 0.0).collect();
        if negative.is_empty() {
            break;
        }
        for i in negative {
            theta[i] = 0.0;
            free[i] = false;
        }
    }
    if !theta.iter().all(|v| v.is_finite()) {
        return Calibration::PRIOR;
    }
    let mut w = [0.0f32; FEATURES];
    for (o, t) in w.iter_mut().zip(&theta) {
        *o = t.max(0.0) as f32;
    }
    Calibration {
        w,
        b: theta[FEATURES] as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faq::calibrate::Evidence;

    fn sample(p: f32, sim: f32, right: bool) -> Sample {
        let e = Evidence {
            probability: p,
            runner_up: (1.0 - p) / 2.0,
            similarity: sim,
        };
        Sample {
            x: e.features(),
            right,
            weight: 1.0,
        }
    }

    #[test]
    fn maps_evidence_to_observed_accuracy() {
        // Confident, similar matches are right; flat, dissimilar ones wrong.
        let mut samples = Vec::new();
        for i in 0..50 {
            let d = i as f32 * 0.001;
            samples.push(sample(0.9 - d, 0.8, true));
            samples.push(sample(0.1 + d, 0.2, false));
        }
        samples.push(sample(0.5, 0.5, true));
        samples.push(sample(0.45, 0.5, false));
        let c = fit(&samples);
        let hi = Evidence {
            probability: 0.9,
            runner_up: 0.05,
            similarity: 0.8,
        };
        let lo = Evidence {
            probability: 0.1,
            runner_up: 0.45,
            similarity: 0.2,
        };
        assert!(c.confidence(&hi) > 0.9, "{c:?}");
        assert!(c.confidence(&lo) < 0.1, "{c:?}");
    }

    #[test]
    fn fitted_weights_are_never_negative() {
        // A feature that goes against the label must not be given a
        // negative weight: more evidence never lowers a confidence.
        let mut samples = Vec::new();
        for i in 0..40 {
            let d = i as f32 * 0.002;
            samples.push(sample(0.9 - d, 0.2, true));
            samples.push(sample(0.2 + d, 0.9, false));
        }
        let c = fit(&samples);
        assert!(c.w.iter().all(|w| *w >= 0.0), "{c:?}");
        assert!(c.w[0] > 0.0, "{c:?}");
    }
}

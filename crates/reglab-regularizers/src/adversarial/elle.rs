//! `elle=λ[:eps=ε]` and `elle-a=λ[:eps=ε][:sensitivity=s][:decay=d]`: efficient local linearity
//! regularization, added to single-step adversarial training against catastrophic overfitting.
//!
//! ## Formula
//! For a mini-batch of `n` examples `x_i` (`k` values each) with labels `y_i` and per-example
//! cross-entropy `ℓ(x, y)` of the logits:
//! ```text
//! x_a,i, x_b,i ~ U(x_i ± ε)  (each coordinate),   α_i ~ U[0, 1],   x_c,i = (1 − α_i)·x_a,i + α_i·x_b,i
//! E_lin = (1/n) Σ_i (ℓ(x_c,i) − (1 − α_i)·ℓ(x_a,i) − α_i·ℓ(x_b,i))²
//! loss  = (adversarial training's loss) + λ_t·E_lin
//! ```
//! `E_lin` is 0 for a loss that is linear on the segment: it measures the curvature whose growth
//! comes with catastrophic overfitting, with three forward passes and no double backpropagation.
//! Its gradient, with `r_i` the residual in the square:
//! `∂E/∂ℓ_c,i = 2r_i/n`, `∂E/∂ℓ_a,i = −2(1 − α_i)r_i/n`, `∂E/∂ℓ_b,i = −2α_i r_i/n`, and
//! `∂ℓ/∂z = softmax(z) − e_y` through each point's logits `z`.
//!
//! **ELLE** (`elle`) uses `λ_t = λ`. **ELLE-A** (`elle-a`) starts at `λ_t = 0` and adapts it after
//! every step from the history `E_1, …, E_{t−1}` of the measured errors (all steps so far):
//! `λ_{t+1} = λ` if `t − 1 > 2` and `E_t > mean(E_{<t}) + s·std(E_{<t})` (population standard
//! deviation), else `λ_{t+1} = d·λ_t`; then `E_t` joins the history. The mean and variance are kept
//! by Welford's update, so the state is four numbers whatever the length of training.
//!
//! Symbols: `λ ≥ 0` (the strength), `ε > 0` (default: the radius of the run's adversarial
//! training), `s > 0` (default 2), `d ∈ (0, 1]` (default 0.99).
//!
//! ## Paper and official code
//! Abad Rocamora, Liu, Chrysos, Olmos, Cevher, "Efficient local linearity regularization to
//! overcome catastrophic overfitting", ICLR 2024 (catalog #8). Checked against the official code
//! (LIONS-EPFL/ELLE, `core/utils/train.py`, `train.py`, `parser.py`): the triplet, the mean squared
//! residual (`MSELoss` over the batch), the on/off rule with `sensitivity` 2 and `decay_rate` 0.99
//! over the whole history, λ = 10,000 (ELLE) and 4,000 (ELLE-A) on CIFAR-10. The official points
//! `x_a, x_b` are not clipped to the data range; reglab does not clip them either.

use rand::{Rng, SeedableRng};
use reglab_core::{Result, Spec};

/// ELLE's adaptive rule (ELLE-A).
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    /// `s`.
    pub sensitivity: f64,
    /// `d`.
    pub decay: f64,
}

/// ELLE / ELLE-A settings. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Elle {
    /// `λ` (ELLE-A: the value it switches on to).
    pub lambda: f64,
    /// `ε` (`None`: the run's adversarial-training radius).
    pub eps: Option<f64>,
    /// ELLE-A's rule (`None`: ELLE, constant λ).
    pub adaptive: Option<Adaptive>,
}

impl Elle {
    /// From `elle=λ[:eps=ε]` or `elle-a=λ[:eps=ε][:sensitivity=s][:decay=d]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let eps = o.f64_opt("eps")?;
        let adaptive =
            if spec.name == "elle-a" { Some(Adaptive { sensitivity: o.f64("sensitivity", 2.0)?, decay: o.f64("decay", 0.99)? }) } else { None };
        o.ensure(spec.strength >= 0.0 && spec.strength.is_finite(), "the strength λ must be ≥ 0")?;
        o.ensure(eps.is_none_or(|e| e > 0.0), "option `eps` must be > 0")?;
        if let Some(a) = &adaptive {
            o.ensure(a.sensitivity > 0.0, "option `sensitivity` must be > 0")?;
            o.ensure(a.decay > 0.0 && a.decay <= 1.0, "option `decay` must be in (0, 1]")?;
        }
        o.finish()?;
        Ok(Elle { lambda: spec.strength, eps, adaptive })
    }
}

/// The triplets of a batch: `x_a`, `x_b` (`n·k` values each, uniform in the ε-cube around `x`)
/// and `α` (`n` values in `[0, 1]`), from `(seed, step)`.
pub fn triplets(x: &[f32], n: usize, eps: f64, seed: u64, step: u64) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xe11e_0000_0000_0000 ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut around = |x: &[f32]| -> Vec<f32> { x.iter().map(|&v| (v as f64 + rng.random_range(-eps..=eps)) as f32).collect() };
    let xa = around(x);
    let xb = around(x);
    let alpha = (0..n).map(|_| rng.random::<f64>()).collect();
    (xa, xb, alpha)
}

/// `x_c = (1 − α)·x_a + α·x_b`, row by row.
pub fn midpoints(xa: &[f32], xb: &[f32], alpha: &[f64]) -> Vec<f32> {
    let k = xa.len() / alpha.len().max(1);
    let mut out = Vec::with_capacity(xa.len());
    for (i, &a) in alpha.iter().enumerate() {
        for j in i * k..(i + 1) * k {
            out.push(((1.0 - a) * xa[j] as f64 + a * xb[j] as f64) as f32);
        }
    }
    out
}

/// `E_lin` from the per-example losses at `x_a`, `x_b`, `x_c`, and its gradient with respect to
/// each (`(value, ∂E/∂ℓ_a, ∂E/∂ℓ_b, ∂E/∂ℓ_c)`).
pub fn linearity_error(la: &[f64], lb: &[f64], lc: &[f64], alpha: &[f64]) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = alpha.len();
    let inv = 1.0 / n.max(1) as f64;
    let (mut e, mut ga, mut gb, mut gc) = (0.0, vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let r = lc[i] - (1.0 - alpha[i]) * la[i] - alpha[i] * lb[i];
        e += r * r * inv;
        gc[i] = 2.0 * r * inv;
        ga[i] = -2.0 * (1.0 - alpha[i]) * r * inv;
        gb[i] = -2.0 * alpha[i] * r * inv;
    }
    (e, ga, gb, gc)
}

/// `E_lin` from the logits of the `3n` points (rows `x_a` (n), then `x_b` (n), then `x_c` (n);
/// `c` classes) and the labels, and `∂E_lin/∂z` (`3n × c`).
pub fn linearity_error_logits(z: &[f32], y: &[usize], alpha: &[f64], c: usize) -> (f64, Vec<f64>) {
    let n = y.len();
    let (l, gl) = super::attack::cross_entropy_rows(z, &y.repeat(3), c);
    let (e, ga, gb, gc) = linearity_error(&l[..n], &l[n..2 * n], &l[2 * n..], alpha);
    let mut g = gl;
    for (i, row) in g.chunks_mut(c).enumerate() {
        let w = match i / n.max(1) {
            0 => ga[i % n],
            1 => gb[i % n],
            _ => gc[i % n],
        };
        row.iter_mut().for_each(|v| *v *= w);
    }
    (e, g)
}

/// ELLE-A's state: `λ_t` and Welford's running mean and sum of squared deviations of the errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Controller {
    /// `λ_t`, the strength of the next step.
    pub lambda: f64,
    /// Errors seen.
    pub count: f64,
    /// Their mean.
    pub mean: f64,
    /// Their sum of squared deviations from the mean.
    pub m2: f64,
}

impl Controller {
    /// ELLE: `λ` for ever; ELLE-A: off (0) until the error spikes.
    pub fn new(e: &Elle) -> Self {
        Controller { lambda: if e.adaptive.is_some() { 0.0 } else { e.lambda }, count: 0.0, mean: 0.0, m2: 0.0 }
    }

    /// After a step that measured `err`: ELLE-A's rule (nothing for ELLE), then `err` joins the
    /// history.
    pub fn update(&mut self, e: &Elle, err: f64) {
        let Some(a) = &e.adaptive else { return };
        let std = if self.count > 0.0 { (self.m2 / self.count).max(0.0).sqrt() } else { 0.0 };
        if self.count > 2.0 && err > self.mean + a.sensitivity * std {
            self.lambda = e.lambda;
        } else {
            self.lambda *= a.decay;
        }
        self.count += 1.0;
        let d = err - self.mean;
        self.mean += d / self.count;
        self.m2 += d * (err - self.mean);
    }

    /// The state as numbers (checkpoints).
    pub fn to_vec(&self) -> [f64; 4] {
        [self.lambda, self.count, self.mean, self.m2]
    }

    /// From [`Controller::to_vec`].
    pub fn from_slice(v: &[f64]) -> Option<Self> {
        match v {
            [lambda, count, mean, m2] => Some(Controller { lambda: *lambda, count: *count, mean: *mean, m2: *m2 }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Elle> {
        Elle::from_spec(&Spec::parse(s)?)
    }

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        let e = parse("elle=5000").unwrap();
        assert_eq!((e.lambda, e.eps, e.adaptive.is_none()), (5000.0, None, true));
        let a = parse("elle-a=4000:eps=0.3,sensitivity=3,decay=0.9").unwrap();
        assert_eq!(a.eps, Some(0.3));
        assert_eq!(a.adaptive, Some(Adaptive { sensitivity: 3.0, decay: 0.9 }));
        for (s, want) in
            [("elle=1:eps=0", "eps"), ("elle-a=1:decay=1.5", "decay"), ("elle-a=1:sensitivity=0", "sensitivity"), ("elle=1:decay=0.5", "decay")]
        {
            let err = parse(s).unwrap_err().to_string();
            assert!(err.contains(want), "{s}: {err}");
        }
    }

    #[test]
    fn triplets_are_in_the_cube_and_midpoints_on_the_segment() {
        let x = vec![0.5f32; 40];
        let (xa, xb, alpha) = triplets(&x, 4, 0.1, 3, 9);
        assert!(xa.iter().chain(&xb).all(|v| (v - 0.5).abs() <= 0.1 + 1e-6));
        assert!(alpha.iter().all(|a| (0.0..=1.0).contains(a)));
        assert_eq!((xa.clone(), xb.clone(), alpha.clone()), triplets(&x, 4, 0.1, 3, 9), "deterministic");
        assert_ne!(xa, xb);
        let xc = midpoints(&xa, &xb, &alpha);
        for (i, a) in alpha.iter().enumerate() {
            for j in i * 10..(i + 1) * 10 {
                let want = (1.0 - a) * xa[j] as f64 + a * xb[j] as f64;
                assert!((xc[j] as f64 - want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn a_linear_loss_has_no_error_and_a_curved_one_has_the_squared_gap() {
        // ℓ = affine in the point: the midpoint value is the interpolation, E = 0
        let alpha = [0.25, 0.5, 0.9];
        let (la, lb) = ([1.0, 2.0, 0.5], [3.0, 0.0, 1.5]);
        let lc: Vec<f64> = (0..3).map(|i| (1.0 - alpha[i]) * la[i] + alpha[i] * lb[i]).collect();
        assert!(linearity_error(&la, &lb, &lc, &alpha).0.abs() < 1e-15);
        // a gap of 0.3 on one example of three: E = 0.09/3
        let mut lc2 = lc.clone();
        lc2[1] += 0.3;
        assert!((linearity_error(&la, &lb, &lc2, &alpha).0 - 0.03).abs() < 1e-12);
    }

    #[test]
    fn gradient_of_the_error_against_finite_differences_through_the_logits() {
        let z: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
        let y = [0usize, 2];
        let alpha = [0.3, 0.8];
        let (_, g) = linearity_error_logits(&z, &y, &alpha, 3);
        let h = 1e-3f32;
        for j in 0..z.len() {
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[j] += h;
            zm[j] -= h;
            let fd = (linearity_error_logits(&zp, &y, &alpha, 3).0 - linearity_error_logits(&zm, &y, &alpha, 3).0) / (2.0 * h as f64);
            assert!((fd - g[j]).abs() < 1e-4 * (1.0 + g[j].abs()), "{j}: {fd} vs {}", g[j]);
        }
    }

    #[test]
    fn elle_a_switches_on_at_a_spike_and_decays_after() {
        let e = parse("elle-a=100").unwrap();
        let mut c = Controller::new(&e);
        assert_eq!(c.lambda, 0.0, "off at the start");
        for err in [1.0, 1.1, 0.9] {
            c.update(&e, err);
            assert_eq!(c.lambda, 0.0, "no decision before 3 values");
        }
        c.update(&e, 1.05);
        assert_eq!(c.lambda, 0.0, "within mean + 2 std");
        c.update(&e, 5.0);
        assert_eq!(c.lambda, 100.0, "a spike switches it on");
        c.update(&e, 1.0);
        assert!((c.lambda - 99.0).abs() < 1e-12, "then it decays by 0.99 per step");
        // the running statistics equal the direct (population) ones
        let hist = [1.0, 1.1, 0.9, 1.05, 5.0, 1.0];
        let m = hist.iter().sum::<f64>() / 6.0;
        let v = hist.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 6.0;
        assert!((c.mean - m).abs() < 1e-12 && (c.m2 / c.count - v).abs() < 1e-12);
        assert_eq!(Controller::from_slice(&c.to_vec()), Some(c.clone()));
        // ELLE: constant
        let e = parse("elle=7").unwrap();
        let mut c = Controller::new(&e);
        c.update(&e, 100.0);
        assert_eq!(c.lambda, 7.0);
    }
}

//! `ridg=λ`: rationale invariance — each example's element-wise contributions to the logits
//! held near a running mean of its class's.
//!
//! ## Formula
//! ```text
//! R(x)_kj = W_kj · h_j(x)                             (the rationale, C × d)
//! m_c     = (1/n_c) Σ_{i: y_i = c} R(x_i)             (the batch's class mean)
//! R̄_c    ← m_c the first time class c is seen, else (1 − μ)·R̄_c + μ·m_c   (before the loss)
//! L       = Σ_{c in the batch} 1/(C·n_c) Σ_{i: y_i = c} ‖R(x_i) − R̄_c‖²_F
//! ```
//! and the training objective adds `λ·L`. Gradients (`R̄` held constant):
//! `∂L/∂h_ij = Σ_k W_kj·G_ikj`, `∂L/∂W_kj = Σ_i h_ij·G_ikj`, `G_i = 2(R(x_i) − R̄_{y_i})/(C·n_{y_i})`.
//!
//! Symbols and shapes:
//! - `h(x) ∈ R^d`: the penultimate features (the input of the last layer), not normalised.
//! - `W ∈ R^{C×d}`: the last layer's weight in PyTorch layout (all `C` rows; the bias is not
//!   part of the rationale). The gradient reaches both `W` and the features.
//! - `R̄ ∈ R^{C×C×d}`: one running rationale per class (the state, in checkpoints; kept at f32
//!   precision so a resumed run continues bit for bit); `μ` (option `momentum`, default 0.001)
//!   weights the new batch mean, so `R̄` moves slowly; `n_c` the class's count in the batch.
//! - `λ ≥ 0`: the strength (official default 0.01).
//!
//! `L = 0` when every example of a class has the class's rationale (e.g. identical features
//! within a class on the first step). `L` is unchanged when the features are scaled by `s` and
//! `W` by `1/s` (the rationale is), and when the classes are relabelled consistently.
//!
//! ## Paper
//! Chen, Zhang, Li, Wang, Zhang, "Domain Generalization via Rationale Invariance", ICCV 2023
//! (arXiv 2308.11158). Checked against the official code (liangchen527/RIDG 34501b2,
//! `domainbed/algorithms.py` class `RIDG`, defaults in `hparams_registry.py`): all `C` rows of
//! the rationale, the bank updated before the loss from the batch's class mean and detached, the
//! squared error averaged over the `C` rows and the class's examples and summed over the classes
//! present, `λ = 0.01`, `μ = 0.001`.

use reglab_core::{Error, NamedTensor, Result, Spec};

/// The term and its class-rationale bank. See the module documentation.
#[derive(Debug, Clone)]
pub struct Ridg {
    /// `λ`.
    pub lambda: f64,
    /// `μ`.
    pub momentum: f64,
    /// `R̄`, `[C, C, d]` row-major (empty until [`Ridg::bind`]).
    pub bank: Vec<f64>,
    /// Whether class `c`'s entry has been set.
    pub seen: Vec<bool>,
    /// `C`.
    pub classes: usize,
    /// `d`.
    pub dim: usize,
}

impl Ridg {
    /// From `ridg=λ[:momentum=μ]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let momentum = o.f64("momentum", 0.001)?;
        o.ensure(momentum > 0.0 && momentum <= 1.0, format!("option `momentum` must be in (0, 1], got {momentum}"))?;
        o.finish()?;
        if !(spec.strength >= 0.0 && spec.strength.is_finite()) {
            return Err(Error::Spec { spec: spec.raw().into(), why: "the strength must be finite and ≥ 0".into() });
        }
        Ok(Self { lambda: spec.strength, momentum, bank: Vec::new(), seen: Vec::new(), classes: 0, dim: 0 })
    }

    /// An empty bank for `classes` classes and features of width `dim`.
    pub fn bind(&mut self, classes: usize, dim: usize) -> Result<()> {
        if classes == 0 || dim == 0 {
            return Err(Error::Shape {
                tensor: "features".into(),
                why: format!("ridg needs classes and features, got {classes} classes of width {dim}"),
            });
        }
        self.bank = vec![0.0; classes * classes * dim];
        self.seen = vec![false; classes];
        self.classes = classes;
        self.dim = dim;
        Ok(())
    }

    /// One training step: update the bank from the batch, then return `λ·L` and add `λ·∂L/∂h`
    /// into `grad_h` (`[n, d]`) and `λ·∂L/∂W` into `grad_w` (`[C, d]`, PyTorch layout). `w` is
    /// the last layer's weight `[C, d]` (PyTorch layout).
    pub fn step(&mut self, h: &[f32], labels: &[usize], n: usize, w: &[f32], grad_h: &mut [f64], grad_w: &mut [f64]) -> Result<f64> {
        let (c, d) = (self.classes, self.dim);
        if c == 0 {
            return Err(Error::State("ridg: the bank is not bound".into()));
        }
        if h.len() != n * d || labels.len() != n || grad_h.len() != n * d || w.len() != c * d || grad_w.len() != c * d {
            return Err(Error::Shape {
                tensor: "features".into(),
                why: format!(
                    "ridg: {} features, {} labels, {} head weights for {n} examples, {c} classes, width {d}",
                    h.len(),
                    labels.len(),
                    w.len()
                ),
            });
        }
        if let Some(&y) = labels.iter().find(|&&y| y >= c) {
            return Err(Error::Shape { tensor: "labels".into(), why: format!("ridg: label {y} with {c} classes") });
        }
        let cd = c * d;
        let rationale = |i: usize, out: &mut [f64]| {
            for k in 0..c {
                for j in 0..d {
                    out[k * d + j] = w[k * d + j] as f64 * h[i * d + j] as f64;
                }
            }
        };
        // the bank, from the batch's class means
        let mut count = vec![0usize; c];
        let mut mean = vec![0.0; c * cd];
        let mut r = vec![0.0; cd];
        for (i, &y) in labels.iter().enumerate() {
            count[y] += 1;
            rationale(i, &mut r);
            mean[y * cd..(y + 1) * cd].iter_mut().zip(&r).for_each(|(m, v)| *m += v);
        }
        for y in (0..c).filter(|&y| count[y] > 0) {
            let (b, m) = (&mut self.bank[y * cd..(y + 1) * cd], &mean[y * cd..(y + 1) * cd]);
            let inv = 1.0 / count[y] as f64;
            for (bv, &mv) in b.iter_mut().zip(m) {
                let new = if self.seen[y] { (1.0 - self.momentum) * *bv + self.momentum * mv * inv } else { mv * inv };
                *bv = new as f32 as f64;
            }
            self.seen[y] = true;
        }
        // the loss and its gradients
        let mut value = 0.0;
        for (i, &y) in labels.iter().enumerate() {
            rationale(i, &mut r);
            let b = &self.bank[y * cd..(y + 1) * cd];
            let scale = 1.0 / (c as f64 * count[y] as f64);
            for k in 0..c {
                for j in 0..d {
                    let e = r[k * d + j] - b[k * d + j];
                    value += scale * e * e;
                    let g = self.lambda * 2.0 * scale * e;
                    grad_h[i * d + j] += w[k * d + j] as f64 * g;
                    grad_w[k * d + j] += h[i * d + j] as f64 * g;
                }
            }
        }
        Ok(self.lambda * value)
    }

    /// The bank and which classes it holds, as checkpoint tensors.
    pub fn state(&self) -> Vec<NamedTensor> {
        if self.bank.is_empty() {
            return Vec::new();
        }
        vec![
            NamedTensor::new("ridg.bank", vec![self.classes, self.classes, self.dim], self.bank.iter().map(|&v| v as f32).collect()),
            NamedTensor::new("ridg.seen", vec![self.classes], self.seen.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect()),
        ]
    }

    /// Restore [`Ridg::state`] (exact: the bank is kept at f32 precision).
    pub fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        let (c, d) = (self.classes, self.dim);
        for t in state {
            match t.name.as_str() {
                "ridg.bank" if t.shape == [c, c, d] => self.bank = t.data.iter().map(|&v| v as f64).collect(),
                "ridg.seen" if t.shape == [c] => self.seen = t.data.iter().map(|&v| v != 0.0).collect(),
                "ridg.bank" | "ridg.seen" => return Err(Error::State(format!("{} has shape {:?} for {c} classes of width {d}", t.name, t.shape))),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ridg(s: &str, c: usize, d: usize) -> Ridg {
        let mut r = Ridg::from_spec(&Spec::parse(s).unwrap()).unwrap();
        r.bind(c, d).unwrap();
        r
    }

    /// Independent: the rationale tensor and the loss from the definition, given the bank.
    fn loss(h: &[f32], labels: &[usize], w: &[f32], bank: &[f64], c: usize, d: usize) -> f64 {
        let mut total = 0.0;
        for class in 0..c {
            let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
            if members.is_empty() {
                continue;
            }
            let mut s = 0.0;
            for &i in &members {
                for k in 0..c {
                    for j in 0..d {
                        s += (w[k * d + j] as f64 * h[i * d + j] as f64 - bank[(class * c + k) * d + j]).powi(2);
                    }
                }
            }
            total += s / (c * members.len()) as f64;
        }
        total
    }

    #[test]
    fn values_by_hand() {
        // C = 2, d = 2, W = [[1, 2], [0, −1]]; h = [1, 1] (y 0), [3, −1] (y 0), [2, 0] (y 1).
        // R = [[1, 2], [0, −1]], [[3, −2], [0, 1]], [[2, 0], [0, 0]]. First step: the bank takes
        // the class means, m₀ = [[2, 0], [0, 0]]: class 0 errors 1 + 4 + 0 + 1 and 1 + 4 + 0 + 1,
        // 12/(2·2) = 3; class 1: 0.
        let w = [1.0f32, 2.0, 0.0, -1.0];
        let h = [1.0f32, 1.0, 3.0, -1.0, 2.0, 0.0];
        let labels = [0, 0, 1];
        let mut r = ridg("ridg=1:momentum=0.5", 2, 2);
        let v = r.step(&h, &labels, 3, &w, &mut [0.0; 6], &mut [0.0; 4]).unwrap();
        assert_eq!(v, 3.0);
        // second step with the bank reset to zeros but marked seen, μ = 0.5: the bank becomes
        // half the class means, B = [[1, 0], [0, 0]] for both classes; class 0: ‖R₁ − B‖² =
        // 0 + 4 + 0 + 1 = 5, ‖R₂ − B‖² = 4 + 4 + 0 + 1 = 9, 14/(2·2) = 3.5; class 1:
        // ‖R₃ − B‖² = 1, 1/(2·1) = 0.5; total 4
        r.bank.iter_mut().for_each(|v| *v = 0.0);
        let v = r.step(&h, &labels, 3, &w, &mut [0.0; 6], &mut [0.0; 4]).unwrap();
        assert_eq!(v, 4.0);
        assert_eq!(&r.bank[..4], &[1.0, 0.0, 0.0, 0.0]);
        // λ scales the value
        let mut r = ridg("ridg=0.01", 2, 2);
        assert!((r.step(&h, &labels, 3, &w, &mut [0.0; 6], &mut [0.0; 4]).unwrap() - 0.03).abs() < 1e-15);
    }

    #[test]
    fn value_matches_the_definition_and_gradients_match_finite_differences() {
        let (c, d, n) = (3, 4, 7);
        let w = reglab_core::testing::random_vec(c * d, 1.0, 1);
        let h = reglab_core::testing::random_vec(n * d, 1.0, 2);
        let labels = [0, 2, 2, 1, 0, 2, 0];
        let mut r = ridg("ridg=0.5:momentum=0.3", c, d);
        // a bank from an earlier batch
        let h0 = reglab_core::testing::random_vec(n * d, 1.0, 3);
        r.step(&h0, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap();
        let mut after = r.clone();
        let (mut gh, mut gw) = (vec![0.0; n * d], vec![0.0; c * d]);
        let v = after.step(&h, &labels, n, &w, &mut gh, &mut gw).unwrap();
        // the value: against the definition with the updated bank
        assert!((v - 0.5 * loss(&h, &labels, &w, &after.bank, c, d)).abs() < 1e-12);
        // gradients with the bank held constant (as the official code detaches it)
        let f = |h: &[f32], w: &[f32]| 0.5 * loss(h, &labels, w, &after.bank, c, d);
        let e = 1.0f32 / 512.0;
        for k in 0..n * d {
            let (mut p, mut q) = (h.clone(), h.clone());
            p[k] += e;
            q[k] -= e;
            let fd = (f(&p, &w) - f(&q, &w)) / (p[k] - q[k]) as f64;
            assert!((fd - gh[k]).abs() < 1e-6, "∂/∂h[{k}]: {fd} vs {}", gh[k]);
        }
        for k in 0..c * d {
            let (mut p, mut q) = (w.clone(), w.clone());
            p[k] += e;
            q[k] -= e;
            let fd = (f(&h, &p) - f(&h, &q)) / (p[k] - q[k]) as f64;
            assert!((fd - gw[k]).abs() < 1e-6, "∂/∂W[{k}]: {fd} vs {}", gw[k]);
        }
    }

    #[test]
    fn invariants() {
        let (c, d, n) = (3, 4, 6);
        let w = reglab_core::testing::random_vec(c * d, 1.0, 4);
        let h = reglab_core::testing::random_vec(n * d, 1.0, 5);
        let labels = [0, 1, 2, 0, 1, 2];
        // identical features within each class: 0 on the first step
        let same: Vec<f32> = labels.iter().flat_map(|&y| h[y * d..(y + 1) * d].to_vec()).collect();
        // (≈ 0: the bank holds the class means at f32 precision)
        assert!(ridg("ridg=1", c, d).step(&same, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap() < 1e-12);
        // features ×2, W ×1/2: the same rationale, the same value
        let base = ridg("ridg=1", c, d).step(&h, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap();
        let h2: Vec<f32> = h.iter().map(|v| 2.0 * v).collect();
        let w2: Vec<f32> = w.iter().map(|v| 0.5 * v).collect();
        let scaled = ridg("ridg=1", c, d).step(&h2, &labels, n, &w2, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap();
        assert!((scaled - base).abs() < 1e-12 * base.max(1.0), "{scaled} vs {base}");
        assert!(base > 0.0);
        // the state round-trips exactly
        let mut a = ridg("ridg=1:momentum=0.2", c, d);
        a.step(&h, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap();
        let mut b = ridg("ridg=1:momentum=0.2", c, d);
        b.load_state(&a.state()).unwrap();
        assert_eq!((&a.bank, &a.seen), (&b.bank, &b.seen));
        let (va, vb) = (
            a.step(&h2, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap(),
            b.step(&h2, &labels, n, &w, &mut vec![0.0; n * d], &mut vec![0.0; c * d]).unwrap(),
        );
        assert_eq!(va, vb);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in ["ridg=-1", "ridg=1:momentum=0", "ridg=1:momentum=2", "ridg=1:k=1"] {
            assert!(Spec::parse(bad).and_then(|s| Ridg::from_spec(&s)).is_err(), "{bad}");
        }
        let mut r = Ridg::from_spec(&Spec::parse("ridg=1").unwrap()).unwrap();
        assert!(r.step(&[0.0; 4], &[0, 1], 2, &[0.0; 4], &mut [0.0; 4], &mut [0.0; 4]).is_err(), "unbound");
        assert!(r.bind(0, 2).is_err());
        r.bind(2, 2).unwrap();
        assert!(r.step(&[0.0; 4], &[0, 5], 2, &[0.0; 4], &mut [0.0; 4], &mut [0.0; 4]).is_err(), "label");
        assert!(r.step(&[0.0; 4], &[0, 1], 2, &[0.0; 3], &mut [0.0; 4], &mut [0.0; 4]).is_err(), "head");
        let bad = NamedTensor::new("ridg.bank", vec![3, 2, 2], vec![0.0; 12]);
        assert!(r.load_state(&[bad]).is_err());
    }
}

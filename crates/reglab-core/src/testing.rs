//! Helpers for the tests of regularizers: seeded random tensors and a finite-difference check
//! of `eval`'s gradient. Used by every regularizer's test module.

use crate::regularizer::{Mode, Regularizer, Target, TargetGrad};
use crate::select::role_from_name;
use crate::tensor::{Layout, TensorRef};
use rand::{Rng, SeedableRng};

/// `n` values uniform in `[-scale, scale)` from a generator seeded by `seed`.
pub fn random_vec(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale).collect()
}

pub use crate::linalg::transpose;

/// An owned test case: a tensor, its layout, optional bias and init.
#[derive(Debug, Clone)]
pub struct Case {
    /// Name (decides the role).
    pub name: String,
    /// PyTorch shape.
    pub shape: Vec<usize>,
    /// Layout of `weight` and `init`.
    pub layout: Layout,
    /// Weight values.
    pub weight: Vec<f32>,
    /// Optional bias `[out]`.
    pub bias: Option<Vec<f32>>,
    /// Optional init, same layout as `weight`.
    pub init: Option<Vec<f32>>,
}

impl Case {
    /// A row-major case with random weights.
    pub fn random(name: &str, shape: &[usize], seed: u64) -> Self {
        let n = shape.iter().product();
        Self {
            name: name.to_string(),
            shape: shape.to_vec(),
            layout: Layout::RowMajor,
            weight: random_vec(n, 0.5, seed),
            bias: None,
            init: None,
        }
    }

    /// Add a random bias of length `shape[0]`.
    pub fn with_random_bias(mut self, seed: u64) -> Self {
        self.bias = Some(random_vec(self.shape[0], 0.5, seed));
        self
    }

    /// Add a random init.
    pub fn with_random_init(mut self, seed: u64) -> Self {
        self.init = Some(random_vec(self.weight.len(), 0.5, seed));
        self
    }

    /// The same case stored transposed (2-D only), as burn's `Linear` stores it.
    pub fn transposed(&self) -> Self {
        assert_eq!(self.shape.len(), 2);
        assert_eq!(self.layout, Layout::RowMajor);
        let (r, c) = (self.shape[0], self.shape[1]);
        Self {
            layout: Layout::Transposed,
            weight: transpose(&self.weight, r, c),
            init: self.init.as_ref().map(|i| transpose(i, r, c)),
            ..self.clone()
        }
    }

    /// Borrow as a [`Target`].
    pub fn target(&self) -> Target<'_> {
        Target {
            name: &self.name,
            role: role_from_name(&self.name, self.shape.len()),
            weight: TensorRef { shape: &self.shape, layout: self.layout, data: &self.weight },
            bias: self.bias.as_ref().map(|b| TensorRef { shape: std::slice::from_ref(&self.shape[0]), layout: Layout::RowMajor, data: b }),
            init: self.init.as_ref().map(|i| TensorRef { shape: &self.shape, layout: self.layout, data: i }),
        }
    }

    /// `r` in exact mode, and its gradient `(∇_W r, ∇_b r)` from `eval` with scale 1.
    pub fn value_and_grad(&self, reg: &mut dyn Regularizer) -> (f64, Vec<f32>, Option<Vec<f32>>) {
        let mut gw = vec![0.0; self.weight.len()];
        let mut gb = self.bias.as_ref().map(|b| vec![0.0; b.len()]);
        let mut g = TargetGrad { weight: &mut gw, bias: gb.as_deref_mut() };
        let v = reg.eval(&self.target(), Some(&mut g), 1.0, Mode::Exact).expect("eval");
        (v, gw, gb)
    }

    /// The weights after `reg`'s proximal step with step size `step` (the case is unchanged).
    pub fn prox(&self, reg: &mut dyn Regularizer, step: f32) -> crate::Result<Vec<f32>> {
        let mut w = self.weight.clone();
        let mut t = crate::regularizer::TargetMut {
            name: &self.name,
            role: role_from_name(&self.name, self.shape.len()),
            shape: &self.shape,
            layout: self.layout,
            weight: &mut w,
        };
        reg.prox(&mut t, step)?;
        Ok(w)
    }

    /// `r` in exact mode, no gradient.
    pub fn value(&self, reg: &mut dyn Regularizer) -> f64 {
        reg.eval(&self.target(), None, 1.0, Mode::Exact).expect("eval")
    }
}

/// Central finite differences of `r` over every weight (and bias) entry, compared with the
/// analytic gradient: returns `‖g_fd − g‖ / max(‖g‖, 1e-12)` over the concatenated vector.
/// The step actually taken in f32 is used in the quotient, so the rounding of `w ± h` does not
/// pollute the difference.
pub fn gradient_error(reg: &mut dyn Regularizer, case: &Case, h: f32) -> f64 {
    let (_, gw, gb) = case.value_and_grad(reg);
    let mut num = Vec::with_capacity(gw.len());
    let mut c = case.clone();
    for i in 0..c.weight.len() {
        let w = c.weight[i];
        let (wp, wm) = (w + h, w - h);
        c.weight[i] = wp;
        let fp = c.value(reg);
        c.weight[i] = wm;
        let fm = c.value(reg);
        c.weight[i] = w;
        num.push((fp - fm) / (wp as f64 - wm as f64));
    }
    let mut ana: Vec<f64> = gw.iter().map(|&x| x as f64).collect();
    if let (Some(gb), Some(_)) = (gb, c.bias.as_ref()) {
        for i in 0..gb.len() {
            let bias = c.bias.as_mut().unwrap();
            let b = bias[i];
            let (bp, bm) = (b + h, b - h);
            bias[i] = bp;
            let fp = c.value(reg);
            c.bias.as_mut().unwrap()[i] = bm;
            let fm = c.value(reg);
            c.bias.as_mut().unwrap()[i] = b;
            num.push((fp - fm) / (bp as f64 - bm as f64));
        }
        ana.extend(gb.iter().map(|&x| x as f64));
    }
    let diff: f64 = num.iter().zip(&ana).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let scale: f64 = ana.iter().map(|a| a * a).sum::<f64>().sqrt();
    diff / scale.max(1e-12)
}

/// Relative difference `|a − b| / max(|a|, |b|, tiny)`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

//! `lambda-orth=λ`: relaxed ("λ-") orthogonality, which leaves a matrix free within a distance
//! `τ` of orthogonality and pulls it back only beyond.
//!
//! ## Formula
//! ```text
//! x(W) = ‖W Wᵀ − I_out‖_F                       (Frobenius norm, not squared)
//! r(W) = s(α(x − τ)) · x,   s(u) = 1/(1 + e^{−u})
//! ∇r   = r'(x) · 2 (W Wᵀ − I) W / x,   r'(x) = s + α·x·s·(1 − s)   (0 at x = 0)
//! ```
//! and the training objective adds `λ · Σ_layers r`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{out×in}`: the layer weight in PyTorch layout (an affine adapter `h ↦ W h + b`; the
//!   bias is not involved); a convolution kernel is read as `[out, in·kh·kw]`. burn's `Linear`
//!   stores `[in, out]`; the gradient is written in the storage layout.
//! - `gram=rows` (default, the paper's `L_λ`): `W Wᵀ − I_out`; `gram=cols`: `WᵀW − I_in`. For a
//!   square `W` (the paper's adapter, `n × n`) both give the same `x`.
//! - `τ` (option `threshold`, the paper's λ; default 12, the paper's value for `n = 512`): the
//!   tolerated distance from orthogonality. `α` (option `alpha`, default 1): the steepness of
//!   the sigmoid gate.
//! - `λ ≥ 0`: the strength (the paper weights `L_λ` by 1).
//!
//! The gate `s(α(x − τ))` switches the term off for `x ≪ τ` and lets it act as `‖W Wᵀ − I‖_F`
//! for `x ≫ τ` (as `α → ∞`, `r → 1[x > τ]·x`): gradient descent drives `x` down to about `τ`
//! and no further (the paper reports `‖WᵀW − I‖_F = 12.05` at the end of training with λ = 12).
//! With `τ = 0` and `α → ∞` it is the unsquared soft orthogonality `‖W Wᵀ − I‖_F`. Like every
//! orthogonality penalty, `r` is invariant under `W → Q W P` for orthogonal `Q`, `P`.
//!
//! ## Paper
//! Ricci, Biondi, Pernici, Patras, Del Bimbo, "λ-Orthogonality Regularization for Compatible
//! Representation Learning", NeurIPS 2025 (arXiv 2509.16664), §3.3: the penalty on the backward
//! adapter `B(h) = W h + b` mapping new embeddings to old ones, `L_λ = σ(α(‖W Wᵀ − I‖_F − λ))·
//! ‖W Wᵀ − I‖_F`, added with weight 1 to the alignment and contrastive losses. Read from the
//! paper's text; its official code (miccunifi/lambda_orthogonality) could not be obtained here,
//! and the text does not state α, so the default α = 1 is ours.

use reglab_core::linalg::{add_sym_times, gemm};
use reglab_core::regularizer::check_matrix;
use reglab_core::{Layout, Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// Which Gram matrix is held near the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gram {
    /// `W Wᵀ − I_out` (the rows).
    Rows,
    /// `WᵀW − I_in` (the columns).
    Cols,
}

/// Relaxed λ-orthogonality `s(α(x − τ))·x`. See the module documentation.
#[derive(Debug, Clone)]
pub struct LambdaOrth {
    threshold: f64,
    alpha: f64,
    gram: Gram,
    /// Scratch for the Gram matrix minus the identity, row-major.
    d: Vec<f32>,
}

impl LambdaOrth {
    /// Build from a spec (`lambda-orth=λ[:threshold=τ][:alpha=α][:gram=rows|cols]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let threshold = o.f64("threshold", 12.0)?;
        let alpha = o.f64("alpha", 1.0)?;
        let gram = if o.choice("gram", &["rows", "cols"], "rows")? == "rows" { Gram::Rows } else { Gram::Cols };
        o.ensure(threshold >= 0.0, format!("option `threshold` must be ≥ 0, got {threshold}"))?;
        o.ensure(alpha > 0.0, format!("option `alpha` must be > 0, got {alpha}"))?;
        o.finish()?;
        Ok(Self { threshold, alpha, gram, d: Vec::new() })
    }

    /// `(r(x), r'(x))` for the distance `x ≥ 0`.
    pub fn gate(&self, x: f64) -> (f64, f64) {
        let s = 1.0 / (1.0 + (-self.alpha * (x - self.threshold)).exp());
        (s * x, s + self.alpha * x * s * (1.0 - s))
    }
}

impl Regularizer for LambdaOrth {
    fn name(&self) -> &'static str {
        "lambda-orth"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check_matrix("lambda-orth", t, grad.as_deref())?;
        let wt = &t.weight;
        let w = wt.matrix();
        // the matrix whose rows are held orthonormal, and how its gradient is stored
        let (m, layout) = match (self.gram, wt.layout) {
            (Gram::Rows, l) => (w, l),
            (Gram::Cols, Layout::RowMajor) => (w.t(), Layout::Transposed),
            (Gram::Cols, Layout::Transposed) => (w.t(), Layout::RowMajor),
        };
        let n = m.rows;
        if n == 0 {
            return Ok(0.0);
        }
        self.d.resize(n * n, 0.0);
        let d = &mut self.d[..n * n];
        gemm(1.0, m, m.t(), 0.0, d);
        for i in 0..n {
            d[i * n + i] -= 1.0;
        }
        let x = d.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
        let (value, slope) = self.gate(x);
        if let Some(g) = grad
            && x > 0.0
        {
            add_sym_times((scale as f64 * slope * 2.0 / x) as f32, &self.d[..n * n], m, layout, g.weight);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{self as t, Case, dense, orthogonal, rel};

    fn reg(s: &str) -> LambdaOrth {
        LambdaOrth::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    /// Independent: the Gram matrix by a triple loop in f64, the gate by its definition.
    fn naive(c: &Case, tau: f64, alpha: f64, cols: bool) -> f64 {
        let (r, k, m) = dense(c);
        let (n, inner) = if cols { (k, r) } else { (r, k) };
        let at = |i: usize, l: usize| if cols { m[l * k + i] } else { m[i * k + l] };
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                let g = (0..inner).map(|l| at(i, l) * at(j, l)).sum::<f64>() - if i == j { 1.0 } else { 0.0 };
                s += g * g;
            }
        }
        let x = s.sqrt();
        x / (1.0 + (-alpha * (x - tau)).exp())
    }

    #[test]
    fn values_by_hand_and_against_a_triple_loop() {
        // W = diag(2, 1): W Wᵀ − I = diag(3, 0), x = 3
        let c = Case::from_weights("a.weight", &[2, 2], vec![2.0, 0.0, 0.0, 1.0]);
        let sig = |u: f64| 1.0 / (1.0 + (-u).exp());
        assert!(rel(c.value(&mut reg("lambda-orth=1:threshold=2")), 3.0 * sig(1.0)) < 1e-12);
        assert_eq!(c.value(&mut reg("lambda-orth=1:threshold=3")), 1.5);
        assert!(rel(c.value(&mut reg("lambda-orth=1:threshold=12")), 3.0 * sig(-9.0)) < 1e-12);
        // W = [[1, 1], [0, 1]]: W Wᵀ − I = [[1, 1], [1, 0]], x = √3; α = 5, τ = 1
        let c = Case::from_weights("b.weight", &[2, 2], vec![1.0, 1.0, 0.0, 1.0]);
        let x = 3f64.sqrt();
        assert!(rel(c.value(&mut reg("lambda-orth=1:threshold=1:alpha=5")), sig(5.0 * (x - 1.0)) * x) < 1e-7);
        // rows and columns differ for a non-square W: [[1, 0, 0], [0, 1, 1]] has x = 1 on the
        // rows (W Wᵀ = diag(1, 2)) and √2 on the columns
        let c = Case::from_weights("c.weight", &[2, 3], vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert!(rel(c.value(&mut reg("lambda-orth=1:threshold=0:alpha=1")), sig(1.0)) < 1e-7);
        let sq = 2f64.sqrt();
        assert!(rel(c.value(&mut reg("lambda-orth=1:threshold=0:alpha=1:gram=cols")), sig(sq) * sq) < 1e-7);
        for (spec, tau, alpha, cols) in
            [("lambda-orth=1:threshold=1", 1.0, 1.0, false), ("lambda-orth=1:threshold=0.5:alpha=4:gram=cols", 0.5, 4.0, true)]
        {
            t::check_value(1e-5, |_, _| reg(spec), |_, c| naive(c, tau, alpha, cols));
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for spec in ["lambda-orth=1:threshold=1", "lambda-orth=1:threshold=2:alpha=3:gram=cols", "lambda-orth=1:threshold=0"] {
            t::check_gradient(1e-2, 2e-3, |_, _| reg(spec));
        }
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: r'(x)·2(WWᵀ − I)W/x in f64, on the rows
        let r = reg("lambda-orth=1:threshold=1:alpha=2");
        t::check_added_scaled(
            1e-5,
            || r.clone(),
            |rows, cols, m| {
                let gram = |i: usize, j: usize| (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum::<f64>() - if i == j { 1.0 } else { 0.0 };
                let x = (0..rows * rows).map(|ij| gram(ij / rows, ij % rows).powi(2)).sum::<f64>().sqrt();
                let slope = r.gate(x).1;
                (0..rows * cols).map(|ik| slope * 2.0 / x * (0..rows).map(|j| gram(ik / cols, j) * m[j * cols + ik % cols]).sum::<f64>()).collect()
            },
        );
    }

    #[test]
    fn free_within_the_threshold_and_the_norm_beyond() {
        // an orthogonal matrix: x ≈ 0 (f32 rounding), value ≈ 0; the identity: exactly 0 with a
        // zero gradient (elsewhere the unsquared norm's gradient has norm ≈ r'(x), a cone)
        let q = Case::from_weights("q.weight", &[5, 5], orthogonal(5, 3));
        assert!(q.value(&mut reg("lambda-orth=1:threshold=0")) < 1e-6);
        let eye = Case::from_weights("i.weight", &[3, 3], vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let (v, g, _) = eye.value_and_grad(&mut reg("lambda-orth=1:threshold=0"));
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0));
        // far inside the threshold the term is off (value and gradient ≈ 0), far outside it is
        // the unsquared distance with the distance's gradient
        let c = Case::random("r.weight", &[4, 6], 12);
        let x = naive(&c, -1e9, 1.0, false);
        let (v_in, g_in, _) = c.value_and_grad(&mut reg(&format!("lambda-orth=1:threshold={}:alpha=20", x + 2.0)));
        assert!(v_in < 1e-15 && g_in.iter().all(|v| v.abs() < 1e-12), "{v_in}");
        let (v_out, g_out, _) = c.value_and_grad(&mut reg(&format!("lambda-orth=1:threshold={}:alpha=20", (x - 2.0).max(0.0))));
        assert!(rel(v_out, x) < 1e-6, "{v_out} vs {x}");
        let (_, g_soft, _) = c.value_and_grad(&mut crate::orthogonality::soft_orth::SoftOrth::default());
        // ∇x = ∇(x²)/(2x)
        for (a, b) in g_out.iter().zip(&g_soft) {
            assert!((*a as f64 - *b as f64 / (2.0 * x)).abs() < 1e-5, "{a} vs {}", *b as f64 / (2.0 * x));
        }
        // training by gradient descent stops near the threshold, not at orthogonality
        let tau = 1.0;
        let mut w = Case::random("s.weight", &[4, 4], 5);
        w.weight.iter_mut().for_each(|v| *v *= 3.0);
        let mut r = reg("lambda-orth=1:threshold=1:alpha=30");
        for _ in 0..3000 {
            let (_, g, _) = w.value_and_grad(&mut r);
            w.weight.iter_mut().zip(&g).for_each(|(v, g)| *v -= 0.002 * g);
        }
        // (from x ≈ 27; below τ the pull decays like e^{−α(τ − x)}, so the flow stalls a few 1/α
        // under τ: ≈ 0.72 here)
        let x_end = naive(&w, -1e9, 1.0, false);
        assert!(x_end > 0.5 * tau && x_end <= tau, "x = {x_end}");
    }

    #[test]
    fn invariant_under_orthogonal_maps_on_either_side() {
        t::check_orthogonal_invariance(&mut reg("lambda-orth=1:threshold=1"));
        t::check_orthogonal_invariance(&mut reg("lambda-orth=1:threshold=1:gram=cols"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg("lambda-orth=1"));
        for bad in ["lambda-orth=1:threshold=-1", "lambda-orth=1:alpha=0", "lambda-orth=1:alpha=nan", "lambda-orth=1:gram=diag", "lambda-orth=1:k=2"]
        {
            assert!(LambdaOrth::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        t::check_scratch_reuse(|| reg("lambda-orth=1:threshold=0.5"));
    }
}

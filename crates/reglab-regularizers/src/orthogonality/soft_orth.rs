//! `soft-orth=λ`: soft orthogonality of the rows, `‖W Wᵀ − I‖²_F`.
//!
//! ## Formula
//! ```text
//! r(W) = ‖W Wᵀ − I_out‖²_F = Σ_ij ((W Wᵀ)_ij − δ_ij)²
//! ∇r   = 4 (W Wᵀ − I_out) W
//! ```
//! and the training objective adds `λ · Σ_layers r`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{out×in}`: the layer weight in PyTorch layout, rows are units or filters; a
//!   convolution kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]`. Stored either
//!   row-major or transposed (burn's `Linear`, `[in, out]`); the gradient is written in the
//!   storage layout of `W`.
//! - `W Wᵀ ∈ R^{out×out}`: the Gram matrix of the rows (filters), `I_out` the identity.
//! - `λ ≥ 0`: the strength (outside `r`). The bias is not involved.
//!
//! `r = 0` exactly when the rows are orthonormal (possible only when `out ≤ in`; for
//! `out > in` the minimum is `out − in`, reached when the columns are orthonormal). `r` is
//! invariant under `W → Q W P` for orthogonal `Q ∈ R^{out×out}` and `P ∈ R^{in×in}`.
//!
//! Computation: the Gram matrix and the gradient product are two f32 GEMMs on strided views
//! (no transposing copy, whatever the storage); the value is summed in f64 over the f32 Gram
//! entries. The `out×out` scratch buffer is kept between calls. [`Mode`] makes no difference.
//!
//! ## Paper
//! Xie, Xiong, Pu, "All You Need is Beyond a Good Init: Exploring Better Solution for Training
//! Extremely Deep Convolutional Neural Networks with Orthonormality and Modulation", CVPR 2017
//! (arXiv 1703.01827): the orthonormality regularizer `λ‖W Wᵀ − I‖²_F` on each layer's filter
//! bank, rows = filters. The name "soft orthogonality" is that of Bansal, Chen, Wang, "Can We
//! Gain More from Orthogonality Regularizations in Training Deep CNNs?", NeurIPS 2018, who
//! write it `λ‖WᵀW − I‖²_F` with filters as the columns of `W` — the same penalty.

use reglab_core::linalg::{add_sym_times, gemm};
use reglab_core::regularizer::check_matrix;
use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// Soft orthogonality `‖W Wᵀ − I‖²_F`. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SoftOrth {
    /// Scratch for `W Wᵀ − I`, `[out, out]` row-major.
    gram: Vec<f32>,
}

impl SoftOrth {
    /// Build from a spec (`soft-orth=λ`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self::default())
    }
}

impl Regularizer for SoftOrth {
    fn name(&self) -> &'static str {
        "soft-orth"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check_matrix("soft-orth", t, grad.as_deref())?;
        let wt = &t.weight;
        let w = wt.matrix();
        let n = w.rows;
        if n == 0 {
            return Ok(0.0);
        }
        self.gram.resize(n * n, 0.0);
        let d = &mut self.gram[..n * n];
        gemm(1.0, w, w.t(), 0.0, d);
        let mut value = 0.0f64;
        for i in 0..n {
            d[i * n + i] -= 1.0;
        }
        for &x in d.iter() {
            value += (x as f64) * (x as f64);
        }
        if let Some(g) = grad {
            // G += 4·scale·D W in the storage layout
            add_sym_times(4.0 * scale, d, w, wt.layout, g.weight);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::Layout;
    use reglab_core::testing::{self as t, Case, dense, orthogonal, rel, transpose};

    fn reg() -> SoftOrth {
        SoftOrth::from_spec(&Spec::parse("soft-orth=1").unwrap()).unwrap()
    }

    /// Naive triple loop: Σ_ij (Σ_k W_ik W_jk − δ_ij)².
    fn naive(c: &Case) -> f64 {
        let (rows, cols, m) = dense(c);
        let mut s = 0.0;
        for i in 0..rows {
            for j in 0..rows {
                let mut g = 0.0;
                for k in 0..cols {
                    g += m[i * cols + k] * m[j * cols + k];
                }
                let d = g - if i == j { 1.0 } else { 0.0 };
                s += d * d;
            }
        }
        s
    }

    #[test]
    fn value_matches_a_naive_triple_loop() {
        t::check_value(1e-5, |_, _| reg(), |_, c| naive(c));
        // and a hand value: W = [[1, 1], [0, 1]], WWᵀ − I = [[1, 1], [1, 0]], r = 3
        let c = Case { weight: vec![1.0, 1.0, 0.0, 1.0], ..Case::random("e.weight", &[2, 2], 0) };
        assert_eq!(c.value(&mut reg()), 3.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        t::check_gradient(1e-2, 1e-3, |_, _| reg());
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: 4 (WWᵀ − I) W in f64
        t::check_added_scaled(1e-5, reg, |rows, cols, m| {
            let gram = |i: usize, j: usize| (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum::<f64>() - if i == j { 1.0 } else { 0.0 };
            (0..rows * cols).map(|ik| 4.0 * (0..rows).map(|j| gram(ik / cols, j) * m[j * cols + ik % cols]).sum::<f64>()).collect()
        });
    }

    #[test]
    fn zero_exactly_for_orthonormal_rows() {
        // rows of a permutation sub-matrix of a 3×5: e_4, e_0, e_2
        let mut w = vec![0.0f32; 15];
        w[4] = 1.0;
        w[5] = 1.0;
        w[12] = 1.0;
        let p = Case { weight: w, ..Case::random("p.weight", &[3, 5], 0) };
        let (v, g, _) = p.value_and_grad(&mut reg());
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0));
        assert_eq!(p.transposed().value(&mut reg()), 0.0);
        // an orthogonal 6×6, and its first 4 rows
        let q = orthogonal(6, 11);
        let c = Case { weight: q.clone(), ..Case::random("q.weight", &[6, 6], 0) };
        assert!(c.value(&mut reg()) < 1e-10, "{}", c.value(&mut reg()));
        let c = Case { weight: q[..24].to_vec(), ..Case::random("q.weight", &[4, 6], 0) };
        assert!(c.value(&mut reg()) < 1e-10);
        // positive as soon as a row is scaled or two rows lean together
        let mut s = c.clone();
        s.weight[..6].iter_mut().for_each(|x| *x *= 1.1);
        assert!(rel(s.value(&mut reg()), (1.21f64 - 1.0).powi(2)) < 1e-4);
        assert!(Case::random("r.weight", &[4, 6], 12).value(&mut reg()) > 0.1);
    }

    #[test]
    fn invariant_under_orthogonal_maps_on_either_side() {
        t::check_orthogonal_invariance(&mut reg());
    }

    #[test]
    fn wide_and_tall_minima() {
        // out > in: the best is orthonormal columns, r = out − in
        let q = orthogonal(5, 16);
        let cols3: Vec<f32> = (0..5).flat_map(|i| q[i * 5..i * 5 + 3].to_vec()).collect();
        let c = Case { weight: cols3, ..Case::random("t.weight", &[5, 3], 0) };
        assert!(rel(c.value(&mut reg()), 2.0) < 1e-5);
        let ct = Case { weight: transpose(&c.weight, 5, 3), layout: Layout::Transposed, ..c.clone() };
        assert!(rel(ct.value(&mut reg()), 2.0) < 1e-5);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        assert!(SoftOrth::from_spec(&Spec::parse("soft-orth=1:k=2").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        // a big then a small tensor through the same instance give the fresh-instance values
        t::check_scratch_reuse(reg);
        let small = Case::random("b.weight", &[3, 4], 20);
        assert!(rel(small.value(&mut reg()), naive(&small)) < 1e-5);
    }
}

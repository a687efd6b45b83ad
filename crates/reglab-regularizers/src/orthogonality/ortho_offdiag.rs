//! `ortho-offdiag=λ`: BigGAN's orthogonal regularization, the off-diagonal part of the filter
//! Gram matrix, `‖(W Wᵀ) ⊙ (1 − I)‖²_F`.
//!
//! ## Formula
//! ```text
//! r(W) = ‖(W Wᵀ) ⊙ (1 − I_out)‖²_F = Σ_{i≠j} ((W Wᵀ)_ij)²
//! ∇r   = 4 ((W Wᵀ) ⊙ (1 − I_out)) W
//! ```
//! and the training objective adds `λ · Σ_layers r`.
//!
//! Symbols and shapes:
//! - `W ∈ R^{out×in}`: the layer weight in PyTorch layout, rows are units or filters; a
//!   convolution kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]` (BigGAN's
//!   `param.view(param.shape[0], -1)`). Stored either row-major or transposed (burn's `Linear`,
//!   `[in, out]`); the gradient is written in the storage layout of `W`.
//! - `W Wᵀ ∈ R^{out×out}`: the Gram matrix of the rows (filters); `1` the all-ones matrix,
//!   `I_out` the identity, `⊙` the entrywise product: only the inner products of distinct
//!   filters are penalised, the filter norms are free (unlike `soft-orth`, `‖W Wᵀ − I‖²_F`).
//! - `λ ≥ 0`: the strength (outside `r`). The bias is not involved.
//!
//! `r = 0` exactly when the rows are mutually orthogonal, whatever their norms (possible only
//! with at most `in` non-zero rows). `r` is invariant under `W → D W P` for a diagonal sign
//! matrix `D` (and permutations of the rows) and an orthogonal `P ∈ R^{in×in}`, and is
//! homogeneous of degree 4: `r(c W) = c⁴ r(W)`.
//!
//! ## Strength: BigGAN's β versus λ here
//! The official code (ajbrock/BigGAN-PyTorch, `utils.py`, `ortho(model, strength)`) never forms
//! the penalty: it adds `β · 2 ((w wᵀ) ⊙ (1 − I)) w` to each parameter's gradient, with
//! `w = param.view(out, -1)` and `β = strength` (`--G_ortho`/`--D_ortho`, 1e-4 in the paper's
//! runs). That is the gradient of `(β/2) · r`, so **the code's β is `λ = β/2` here**. The paper
//! writes the penalty `R_β(W) = β ‖WᵀW ⊙ (1 − I)‖²_F` (gradient `4β…`), so **the paper's β
//! is `λ = β` here**. The two differ by the factor 2; the test
//! `matches_the_official_biggan_gradient` pins the code's convention. (The same file's
//! `default_ortho` is, by the same mapping, `soft-orth` with `λ = β/2`.)
//!
//! Computation: the Gram matrix and the gradient product are two f32 GEMMs on strided views
//! (no transposing copy, whatever the storage); the value is summed in f64 over the f32 Gram
//! entries with the diagonal zeroed. The `out×out` scratch buffer is kept between calls.
//! [`Mode`] makes no difference.
//!
//! ## Paper
//! Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
//! Synthesis", ICLR 2019 (arXiv 1809.11096), "Orthogonal Regularization" (the modified penalty), with the
//! official PyTorch code ajbrock/BigGAN-PyTorch (`utils.ortho`).

use reglab_core::linalg::{add_sym_times, gemm};
use reglab_core::regularizer::check_matrix;
use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// BigGAN's off-diagonal orthogonality `‖(W Wᵀ) ⊙ (1 − I)‖²_F`. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct OrthoOffdiag {
    /// Scratch for `(W Wᵀ) ⊙ (1 − I)`, `[out, out]` row-major.
    gram: Vec<f32>,
}

impl OrthoOffdiag {
    /// Build from a spec (`ortho-offdiag=λ`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self::default())
    }
}

impl Regularizer for OrthoOffdiag {
    fn name(&self) -> &'static str {
        "ortho-offdiag"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        check_matrix("ortho-offdiag", t, grad.as_deref())?;
        let wt = &t.weight;
        let w = wt.matrix();
        let n = w.rows;
        if n == 0 {
            return Ok(0.0);
        }
        self.gram.resize(n * n, 0.0);
        let d = &mut self.gram[..n * n];
        gemm(1.0, w, w.t(), 0.0, d);
        for i in 0..n {
            d[i * n + i] = 0.0;
        }
        let value = reglab_core::linalg::sum_sq(d);
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
    use reglab_core::testing::{self as t, Case, dense, fixture_weights, rel};

    fn reg() -> OrthoOffdiag {
        OrthoOffdiag::from_spec(&Spec::parse("ortho-offdiag=1").unwrap()).unwrap()
    }

    /// Naive: Σ_{i≠j} (Σ_k W_ik W_jk)².
    fn naive(c: &Case) -> f64 {
        let (rows, cols, m) = dense(c);
        let mut s = 0.0;
        for i in 0..rows {
            for j in 0..rows {
                if i == j {
                    continue;
                }
                let g: f64 = (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum();
                s += g * g;
            }
        }
        s
    }

    #[test]
    fn value_matches_a_naive_double_loop() {
        t::check_value(1e-5, |_, _| reg(), |_, c| naive(c));
        // by hand: W = [[1, 1], [0, 2]], W Wᵀ = [[2, 2], [2, 4]], off-diagonal 2 and 2: r = 8
        let c = Case { weight: vec![1.0, 1.0, 0.0, 2.0], ..Case::random("e.weight", &[2, 2], 0) };
        assert_eq!(c.value(&mut reg()), 8.0);
        // a single row has no pair: r = 0
        assert_eq!(Case::random("f.weight", &[1, 9], 5).value(&mut reg()), 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        t::check_gradient(1e-2, 1e-3, |_, _| reg());
    }

    // Official gradients: ajbrock/BigGAN-PyTorch utils.py `ortho(model, strength=0.5)` (commit
    // 07f9ba30 as stored), run by hand in float64 on CPU with `param.grad` zero before, on the
    // parameters `[5, 7]` and `[4, 3, 3, 3]` filled with `((i·37 mod 19) − 9)/10` in
    // row-major order; the numbers are the `param.grad` it leaves.
    const BIGGAN_GRAD_5X7: [f64; 35] = [
        1.4440000000e+00,
        1.6040000000e+00,
        1.7640000000e+00,
        1.9240000000e+00,
        2.0840000000e+00,
        2.2440000000e+00,
        -6.9300000000e-01,
        6.2900000000e-01,
        8.0000000000e-02,
        8.2000000000e-02,
        8.4000000000e-02,
        8.6000000000e-02,
        8.8000000000e-02,
        -4.6100000000e-01,
        -2.1000000000e-02,
        -2.7780000000e+00,
        -2.4380000000e+00,
        -2.0980000000e+00,
        -1.7580000000e+00,
        -1.4180000000e+00,
        -1.0780000000e+00,
        -3.3100000000e-01,
        2.0400000000e+00,
        2.1120000000e+00,
        2.1840000000e+00,
        2.2560000000e+00,
        2.3280000000e+00,
        -1.0010000000e+00,
        4.2500000000e-01,
        -1.1940000000e+00,
        -1.1220000000e+00,
        -1.0500000000e+00,
        -9.7800000000e-01,
        -9.0600000000e-01,
        -2.4500000000e-01,
    ];
    const BIGGAN_GRAD_4X3X3X3: [f64; 108] = [
        -1.7380000000e+00,
        -1.4460000000e+00,
        -1.1540000000e+00,
        -8.6200000000e-01,
        1.6720000000e+00,
        1.9640000000e+00,
        2.2560000000e+00,
        2.5480000000e+00,
        2.8400000000e+00,
        3.1320000000e+00,
        3.4240000000e+00,
        3.7160000000e+00,
        -2.4520000000e+00,
        -2.1600000000e+00,
        -1.8680000000e+00,
        -2.9060000000e+00,
        -2.6140000000e+00,
        -2.3220000000e+00,
        -2.0300000000e+00,
        -1.7380000000e+00,
        -1.4460000000e+00,
        -1.1540000000e+00,
        -8.6200000000e-01,
        1.6720000000e+00,
        1.9640000000e+00,
        2.2560000000e+00,
        2.5480000000e+00,
        6.0060000000e+00,
        1.2400000000e-01,
        7.0200000000e-01,
        1.2800000000e+00,
        -5.2860000000e+00,
        -4.7080000000e+00,
        -4.1300000000e+00,
        -3.5520000000e+00,
        -2.9740000000e+00,
        -2.3960000000e+00,
        -1.8180000000e+00,
        -1.2400000000e+00,
        -6.6200000000e-01,
        -8.4000000000e-02,
        4.9400000000e-01,
        3.6940000000e+00,
        4.2720000000e+00,
        4.8500000000e+00,
        5.4280000000e+00,
        6.0060000000e+00,
        1.2400000000e-01,
        7.0200000000e-01,
        1.2800000000e+00,
        -5.2860000000e+00,
        -4.7080000000e+00,
        -4.1300000000e+00,
        -3.5520000000e+00,
        -3.6940000000e+00,
        -8.1800000000e-01,
        -1.8400000000e-01,
        4.5000000000e-01,
        1.0840000000e+00,
        1.7180000000e+00,
        2.3520000000e+00,
        2.9860000000e+00,
        3.6200000000e+00,
        4.2540000000e+00,
        4.8880000000e+00,
        5.5220000000e+00,
        -9.8800000000e-01,
        -3.5400000000e-01,
        2.8000000000e-01,
        -6.2300000000e+00,
        -5.5960000000e+00,
        -4.9620000000e+00,
        -4.3280000000e+00,
        -3.6940000000e+00,
        -8.1800000000e-01,
        -1.8400000000e-01,
        4.5000000000e-01,
        1.0840000000e+00,
        1.7180000000e+00,
        2.3520000000e+00,
        2.9860000000e+00,
        3.1620000000e+00,
        2.1400000000e+00,
        2.4480000000e+00,
        2.7560000000e+00,
        -4.0800000000e+00,
        -3.7720000000e+00,
        -3.4640000000e+00,
        -3.1560000000e+00,
        -2.8480000000e+00,
        -2.5400000000e+00,
        -2.2320000000e+00,
        -1.9240000000e+00,
        1.0060000000e+00,
        1.3140000000e+00,
        1.6220000000e+00,
        1.9300000000e+00,
        2.2380000000e+00,
        2.5460000000e+00,
        2.8540000000e+00,
        3.1620000000e+00,
        2.1400000000e+00,
        2.4480000000e+00,
        2.7560000000e+00,
        -4.0800000000e+00,
        -3.7720000000e+00,
        -3.4640000000e+00,
        -3.1560000000e+00,
    ];

    #[test]
    fn matches_the_official_biggan_gradient() {
        // The code adds β·2((wwᵀ)⊙(1−I))w: our gradient with scale λ = β/2 must equal it.
        let beta = 0.5f32;
        let cases: [(&[usize], &[f64]); 2] = [(&[5, 7], &BIGGAN_GRAD_5X7), (&[4, 3, 3, 3], &BIGGAN_GRAD_4X3X3X3)];
        for (shape, want) in cases {
            let n: usize = shape.iter().product();
            let c = Case { weight: fixture_weights(n), ..Case::random("p.weight", shape, 0) };
            let mut layouts = vec![c.clone()];
            if shape.len() == 2 {
                layouts.push(c.transposed());
            }
            for case in layouts {
                let mut gw = vec![0.0f32; n];
                let mut g = TargetGrad { weight: &mut gw, bias: None };
                reg().eval(&case.target(), Some(&mut g), beta / 2.0, Mode::Step).unwrap();
                let (rows, cols) = (shape[0], n / shape[0]);
                let mut err = 0.0f64;
                let mut norm = 0.0f64;
                for i in 0..rows {
                    for k in 0..cols {
                        let got = match case.layout {
                            Layout::RowMajor => gw[i * cols + k],
                            Layout::Transposed => gw[k * rows + i],
                        } as f64;
                        err = err.max((got - want[i * cols + k]).abs());
                        norm = norm.max(want[i * cols + k].abs());
                    }
                }
                assert!(err < 1e-5 * norm, "{shape:?} {:?}: max error {err} (max |g| {norm})", case.layout);
            }
        }
        // and the official gradient is not the paper's scaling: with scale β it would be twice it
        let c = Case { weight: fixture_weights(35), ..Case::random("p.weight", &[5, 7], 0) };
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert!(rel(g[0] as f64 * beta as f64, 2.0 * BIGGAN_GRAD_5X7[0]) < 1e-5);
    }

    #[test]
    fn zero_for_orthogonal_rows_of_any_norm() {
        // rows 3e_4, −0.5e_0, 2e_2 of a 3×5: orthogonal, not normalised
        let mut w = vec![0.0f32; 15];
        w[4] = 3.0;
        w[5] = -0.5;
        w[12] = 2.0;
        let p = Case { weight: w, ..Case::random("p.weight", &[3, 5], 0) };
        let (v, g, _) = p.value_and_grad(&mut reg());
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0));
        assert_eq!(p.transposed().value(&mut reg()), 0.0);
        // two rows leaning together: r = 2 (e_0 · (e_0 + e_1))² = 2
        let mut w = vec![0.0f32; 15];
        w[0] = 1.0;
        w[5] = 1.0;
        w[6] = 1.0;
        w[12] = 1.0;
        let q = Case { weight: w, ..Case::random("q.weight", &[3, 5], 0) };
        assert_eq!(q.value(&mut reg()), 2.0);
    }

    #[test]
    fn homogeneous_of_degree_four_and_ignores_the_diagonal() {
        let c = Case::random("fc.weight", &[4, 6], 13);
        let base = c.value(&mut reg());
        assert!(base > 1e-3);
        let s = Case { weight: c.weight.iter().map(|x| 2.0 * x).collect(), ..c.clone() };
        assert!(rel(s.value(&mut reg()), 16.0 * base) < 1e-5);
        // scaling row 0 by 3 multiplies its off-diagonal Gram entries by 3, so r grows by exactly
        // 8 × their share; the diagonal entry (0, 0) (times 9) would add more if it counted
        let mut r0 = c.clone();
        r0.weight[..6].iter_mut().for_each(|x| *x *= 3.0);
        let (_, cols, m) = dense(&c);
        let gram = |i: usize, j: usize| (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum::<f64>();
        let row0: f64 = (1..4).map(|j| gram(0, j).powi(2)).sum::<f64>() * 2.0;
        assert!(rel(r0.value(&mut reg()), base + 8.0 * row0) < 1e-5);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        assert!(OrthoOffdiag::from_spec(&Spec::parse("ortho-offdiag=1:k=2").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        t::check_scratch_reuse(reg);
        let small = Case::random("b.weight", &[3, 4], 20);
        assert!(rel(small.value(&mut reg()), naive(&small)) < 1e-5);
    }
}

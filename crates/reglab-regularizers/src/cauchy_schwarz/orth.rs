//! `cs-orth=λ[:norm=numel]`: the orthogonal-matrix Cauchy–Schwarz regularizer, on the rows of
//! a layer weight.
//!
//! ## Formula
//! For a matrix `X ∈ R^{N×K}` whose `K` columns are the vectors to make orthogonal:
//! ```text
//! ℓ_orth(X) = K‖XᵀX‖²_F − ‖X‖⁴_F
//! ∇ℓ_orth   = 4K·X XᵀX − 4‖X‖²_F X
//! ```
//! It is the Cauchy–Schwarz gap `‖I_K‖²_F ‖XᵀX‖²_F − ⟨I_K, XᵀX⟩²_F ≥ 0` (`⟨I, XᵀX⟩ = ‖X‖²_F`),
//! so `ℓ_orth(X) = 0` exactly when `XᵀX = α I_K` for some `α ≥ 0`: the columns are pairwise
//! orthogonal with one common norm `√α` (any scale). It is 4-homogeneous. The constant is the
//! number of columns `K`, the size of `I_K` in the bound (the official script writes `N` and
//! runs `N = K`).
//!
//! On a layer (reglab's choice, the paper has no network experiment with `ℓ_orth`): the units or
//! filters are the vectors, i.e. the rows of the matrix view `W ∈ R^{out×in}` (conv
//! `[out, in, kh, kw]` → `[out, in·kh·kw]`) are the `K = out` columns of `X = Wᵀ`:
//! ```text
//! r(W) = (1/ν) (out·‖W Wᵀ‖²_F − ‖W‖⁴_F),   ∇r = (4/ν) (out·W Wᵀ W − ‖W‖²_F W)
//! ```
//! with `ν = out·in` (`norm=numel`, the default, as for the other CS regularizers) or `1`
//! (`norm=none`); training adds `λ·Σ_layers r`. The zero set is `W Wᵀ = α I_out`: rows
//! orthogonal with equal norms, the scale-free version of `soft-orth`'s `‖W Wᵀ − I‖²_F`. Only a
//! layer with `out ≤ in` can reach it away from `W = 0` (for `out > in`, `W Wᵀ` has rank ≤ in).
//! `r` is invariant under `W → Q W P` for orthogonal `Q`, `P`. Unlike the per-row regularizers of
//! this family, `ν` here does not make `r` an average of per-row terms: `r` grows like `out²`.
//!
//! Computation: the `out×out` Gram matrix `G = W Wᵀ` and the gradient product `(G − (‖W‖²/out) I) W`
//! are two f32 GEMMs on strided views (no transposing copy in either storage layout); the value
//! is `out·Σ_{i≠j} G_ij² + (out·Σᵢ dᵢ² − (Σᵢ dᵢ)²)` in f64, with the row norms `dᵢ = ‖W_i‖²` summed
//! in f64. [`Mode`] makes no difference. The `out×out` buffer is kept between calls.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the regularizer
//! for orthogonal matrices; official code IIP-Group/CS_regularizers
//! (`solution_recovery/orth_matrix_recovery.m`).

use super::{Norm, row_dots};
use reglab_core::linalg::{add_sym_times, gemm};
use reglab_core::regularizer::check_matrix;
use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// `ℓ_orth(X) = K‖XᵀX‖²_F − ‖X‖⁴_F` in f64 for `X ∈ R^{N×K}` stored row-major in `x`
/// (`x.len() = n·k`; the `K` columns are the vectors). When `grad` is given (length `n·k`),
/// **writes** `∇ℓ_orth = 4K·X XᵀX − 4‖X‖²_F X` into it, row-major. Cost `O(N K²)`. Panics on
/// mismatched lengths.
pub fn value_grad(x: &[f64], n: usize, k: usize, grad: Option<&mut [f64]>) -> f64 {
    assert_eq!(x.len(), n * k, "cs-orth: X must have n·k entries");
    // G = XᵀX, k×k
    let mut gm = vec![0.0f64; k * k];
    for row in x.chunks_exact(k.max(1)).take(n) {
        for a in 0..k {
            for b in 0..k {
                gm[a * k + b] += row[a] * row[b];
            }
        }
    }
    let tr: f64 = (0..k).map(|a| gm[a * k + a]).sum();
    let fro2: f64 = gm.iter().map(|v| v * v).sum();
    if let Some(g) = grad {
        assert_eq!(g.len(), x.len(), "cs-orth: gradient buffer length");
        for (grow, row) in g.chunks_exact_mut(k.max(1)).zip(x.chunks_exact(k.max(1))) {
            for b in 0..k {
                let xg: f64 = (0..k).map(|a| row[a] * gm[a * k + b]).sum();
                grow[b] = 4.0 * k as f64 * xg - 4.0 * tr * row[b];
            }
        }
    }
    k as f64 * fro2 - tr * tr
}

/// The orthogonal-rows CS regularizer. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct CsOrth {
    /// Normalization of a layer's value.
    pub norm: Norm,
    /// Scratch for `G = W Wᵀ` (then `G − (‖W‖²/out) I`), `[out, out]` row-major.
    gram: Vec<f32>,
    /// Scratch for the row norms `‖W_i‖²`.
    d: Vec<f64>,
}

impl CsOrth {
    /// Build from a spec (`cs-orth=λ[:norm=numel|none]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        Ok(Self { norm: Norm::from_spec(spec)?, ..Self::default() })
    }
}

impl Regularizer for CsOrth {
    fn name(&self) -> &'static str {
        "cs-orth"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let (n, cols) = check_matrix("cs-orth", t, grad.as_deref())?;
        let wt = &t.weight;
        if wt.is_empty() {
            return Ok(0.0);
        }
        let w = wt.matrix();
        let nu = self.norm.divisor(wt.len());
        let kf = n as f64;
        row_dots(wt.data, wt.data, n, cols, wt.layout, &mut self.d);
        let tr: f64 = self.d.iter().sum();
        let diag: f64 = kf * self.d.iter().map(|d| d * d).sum::<f64>() - tr * tr;
        self.gram.resize(n * n, 0.0);
        let gm = &mut self.gram[..n * n];
        gemm(1.0, w, w.t(), 0.0, gm);
        let mut off = 0.0f64;
        for i in 0..n {
            for (j, &v) in gm[i * n..(i + 1) * n].iter().enumerate() {
                if j != i {
                    off += v as f64 * v as f64;
                }
            }
        }
        let value = (kf * off + diag) / nu;
        if let Some(g) = grad {
            // D = G − (‖W‖²/out) I with the f64 row norms on the diagonal
            for i in 0..n {
                gm[i * n + i] = (self.d[i] - tr / kf) as f32;
            }
            // G += α D W in the storage layout
            let alpha = (4.0 * kf * scale as f64 / nu) as f32;
            add_sym_times(alpha, gm, w, wt.layout, g.weight);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_fixture, check_homogeneous, check_vector_fn};
    use super::*;
    use reglab_core::testing::{self as t, Case, assert_close, dense, orthogonal, random_vec, rel, transpose};

    fn reg() -> CsOrth {
        CsOrth::from_spec(&Spec::parse("cs-orth=1").unwrap()).unwrap()
    }

    fn none() -> CsOrth {
        CsOrth::from_spec(&Spec::parse("cs-orth=1:norm=none").unwrap()).unwrap()
    }

    /// `G = W Wᵀ` in f64 from the dense rows.
    fn gram(rows: usize, cols: usize, m: &[f64]) -> Vec<f64> {
        (0..rows * rows).map(|ij| (0..cols).map(|k| m[(ij / rows) * cols + k] * m[(ij % rows) * cols + k]).sum()).collect()
    }

    /// Independent: `K Σ_{i≠j} G_ij² + ½ Σ_ij (G_ii − G_jj)²` (Lagrange on the diagonal).
    fn naive(c: &Case, numel: bool) -> f64 {
        let (rows, cols, m) = dense(c);
        let g = gram(rows, cols, &m);
        let mut s = 0.0;
        for i in 0..rows {
            for j in 0..rows {
                if i != j {
                    s += rows as f64 * g[i * rows + j].powi(2);
                }
                s += 0.5 * (g[i * rows + i] - g[j * rows + j]).powi(2);
            }
        }
        if numel { s / (rows * cols) as f64 } else { s }
    }

    #[test]
    fn value_matches_a_naive_gram_loop() {
        t::check_value(1e-5, |_, _| reg(), |_, c| naive(c, true));
        t::check_value(1e-5, |_, _| none(), |_, c| naive(c, false));
    }

    #[test]
    fn layer_value_by_hand() {
        // W = [[1, 1], [0, 1]]: G = [[2, 1], [1, 1]], K = 2: 2·(4 + 1 + 1 + 1) − 3² = 5; ν = 4
        let c = Case::from_weights("fc.weight", &[2, 2], vec![1.0, 1.0, 0.0, 1.0]);
        assert_eq!(c.value(&mut reg()), 1.25);
        assert_eq!(c.transposed().value(&mut reg()), 1.25);
        let mut none = none();
        assert_eq!(c.value(&mut none), 5.0);
        // ∇ = 4·2·G W − 4·3·W = 8·[[2, 3], [1, 2]] − 12·[[1, 1], [0, 1]] = [[4, 12], [8, 4]]
        let (_, g, _) = c.value_and_grad(&mut none);
        assert_eq!(g, vec![4.0, 12.0, 8.0, 4.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        t::check_gradient(1e-2, 1e-3, |_, _| reg());
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: 4K (W Wᵀ W) − 4‖W‖² W in f64, over ν
        t::check_added_scaled(1e-6, reg, |rows, cols, m| {
            let g = gram(rows, cols, m);
            let fro2: f64 = m.iter().map(|x| x * x).sum();
            (0..rows * cols)
                .map(|ik| {
                    let (i, k) = (ik / cols, ik % cols);
                    let gw: f64 = (0..rows).map(|j| g[i * rows + j] * m[j * cols + k]).sum();
                    (4.0 * rows as f64 * gw - 4.0 * fro2 * m[i * cols + k]) / (rows * cols) as f64
                })
                .collect()
        });
    }

    #[test]
    fn zero_on_scaled_orthogonal_rows_and_positive_off_them() {
        let q = orthogonal(6, 11);
        for alpha in [1.0f32, -1.0, 0.37, -2.5, 1e3, 1e-3] {
            // the first 4 rows of an orthogonal 6×6, scaled: W Wᵀ = α² I₄
            let w: Vec<f32> = q[..24].iter().map(|x| x * alpha).collect();
            let c = Case::from_weights("q.weight", &[4, 6], w);
            let sc = 4.0 * 4.0 * (alpha as f64).powi(4) / 24.0; // K‖W Wᵀ‖² / ν
            for cc in [c.clone(), c.transposed()] {
                let (v, g, _) = cc.value_and_grad(&mut reg());
                assert!(v.abs() <= 1e-6 * sc, "α={alpha}: {v} (scale {sc})");
                let gs = 4.0 * 4.0 * (alpha as f64).abs().powi(3);
                assert!(g.iter().all(|&x| (x as f64).abs() <= 1e-5 * gs), "α={alpha}: {g:?}");
            }
        }
        // scaled permutation rows: exactly zero
        let mut w = vec![0.0f32; 15];
        w[4] = -3.0;
        w[5] = 3.0;
        w[12] = 3.0;
        let p = Case::from_weights("p.weight", &[3, 5], w);
        let (v, g, _) = p.value_and_grad(&mut reg());
        assert_eq!(v, 0.0);
        assert!(g.iter().all(|&x| x == 0.0));
        // orthogonal rows of unequal norms: K Σdᵢ² − (Σdᵢ)² with d = (1.21, 1, 1, 1)
        let mut s: Vec<f32> = q[..24].to_vec();
        s[..6].iter_mut().for_each(|x| *x *= 1.1);
        let c = Case::from_weights("q.weight", &[4, 6], s);
        let want = (4.0 * (1.21f64 * 1.21 + 3.0) - 4.21f64 * 4.21) / 24.0;
        assert!(rel(c.value(&mut reg()), want) < 1e-4, "{} vs {want}", c.value(&mut reg()));
        // random, and tall (out > in: W Wᵀ has rank ≤ in, never α I)
        assert!(Case::random("r.weight", &[4, 6], 12).value(&mut reg()) > 1e-3);
        let cols3: Vec<f32> = (0..5).flat_map(|i| orthogonal(5, 16)[i * 5..i * 5 + 3].to_vec()).collect();
        let tall = Case::from_weights("t.weight", &[5, 3], cols3);
        // G is a rank-3 projection: 5·3 − 3² = 6, over ν = 15
        assert!(rel(tall.value(&mut reg()), 6.0 / 15.0) < 1e-5);
    }

    #[test]
    fn invariant_under_orthogonal_maps_and_homogeneous() {
        t::check_orthogonal_invariance(&mut reg());
        check_homogeneous(&mut reg(), 4, 1e-5);
    }

    #[test]
    fn vector_function_value_gradient_and_zero_set() {
        // X ∈ R^{6×3} (K = 3 columns), from random values
        let x: Vec<f64> = random_vec(18, 1.0, 20).iter().map(|&v| v as f64).collect();
        // independent value through the weight path: W = Xᵀ [3, 6], norm=none
        let w: Vec<f32> = transpose(&x.iter().map(|&v| v as f32).collect::<Vec<_>>(), 6, 3);
        let wv = naive(&Case::from_weights("x.weight", &[3, 6], w.clone()), false);
        let (v, g) = check_vector_fn(&x, 1e-10, |x, g| value_grad(x, 6, 3, g), |_| wv);
        let (_, gw, _) = Case::from_weights("x.weight", &[3, 6], w).value_and_grad(&mut none());
        assert_close(&transpose(&gw, 3, 6), &g, 1e-6, "weight path vs vector function");
        // zero on α·(3 orthonormal columns), positive on random X
        let q = orthogonal(6, 21);
        for alpha in [1.0, -0.2, 50.0] {
            let xo: Vec<f64> = (0..18).map(|ij| alpha * q[(ij / 3) * 6 + ij % 3] as f64).collect();
            assert!(value_grad(&xo, 6, 3, None).abs() <= 1e-6 * 9.0 * alpha.powi(4));
        }
        assert!(v > 1e-2);
    }

    // Fixtures: the official code has no PyTorch form of ℓ_orth. These numbers are the MATLAB
    // handles Lorth/grad_Lorth of IIP-Group/CS_regularizers solution_recovery/orth_matrix_recovery.m
    // (commit ef70f7e6), transcribed op-for-op into numpy (float64) with the script's constant N
    // replaced by K (the number of columns; the script has N = K), applied to X = Wᵀ for the f32
    // inputs of `fixture_weights` (entry i = ((i·37 mod 19) − 9)/10), gradient transposed back and
    // divided by numel: a conv weight [4, 3, 3, 3] (W [4, 27], K = 4) and a linear weight [5, 7]
    // (K = 5). grad_Lorth agrees with torch autograd of Lorth to 1e-15.
    const CONV_VALUE: f64 = 3.704410387303887;
    const CONV_GRAD: [f64; 108] = [
        -4.251481606607e-01,
        -4.655558084117e-02,
        -2.192594937925e-02,
        2.703682943628e-03,
        3.594815051291e-01,
        3.841111404322e-01,
        4.087407633618e-01,
        4.333703967112e-01,
        4.580000326490e-01,
        4.826296436163e-01,
        5.072592846067e-01,
        5.318888960597e-01,
        -4.005185200539e-01,
        -3.758889086865e-01,
        -3.512592707011e-01,
        -5.236666848306e-01,
        -4.990370536998e-01,
        -4.744074176903e-01,
        -4.497777989661e-01,
        -4.251481606607e-01,
        -4.655558084117e-02,
        -2.192594937925e-02,
        2.703682943628e-03,
        3.594815051291e-01,
        3.841111404322e-01,
        4.087407633618e-01,
        4.333703967112e-01,
        8.378518828496e-01,
        -7.592582352183e-03,
        1.040000083358e-01,
        2.155925927984e-01,
        -7.311852049905e-01,
        -6.195926170702e-01,
        -5.080000148283e-01,
        -3.964074457884e-01,
        -2.848148298264e-01,
        -1.732222466469e-01,
        -6.162964799228e-02,
        4.996293739478e-02,
        -3.317407370188e-01,
        -2.201481520291e-01,
        -1.085555468842e-01,
        3.914814976851e-01,
        5.030741219918e-01,
        6.146666880515e-01,
        7.262592963201e-01,
        8.378518828496e-01,
        -7.592582352183e-03,
        1.040000083358e-01,
        2.155925927984e-01,
        -7.311852049905e-01,
        -6.195926170702e-01,
        -5.080000148283e-01,
        -3.964074457884e-01,
        -7.470370739478e-01,
        -3.542592481772e-01,
        -2.936296217839e-01,
        -2.329999776637e-01,
        4.602592704605e-01,
        5.208889145807e-01,
        5.815185357641e-01,
        6.421481767937e-01,
        7.027778161234e-01,
        7.634074251762e-01,
        8.240370674310e-01,
        8.846666881232e-01,
        -1.130740756575e-01,
        -5.244445378692e-02,
        8.185170688563e-03,
        -9.895555917897e-01,
        -9.289259750048e-01,
        -8.682963262377e-01,
        -8.076667210923e-01,
        -7.470370739478e-01,
        -3.542592481772e-01,
        -2.936296217839e-01,
        -2.329999776637e-01,
        4.602592704605e-01,
        5.208889145807e-01,
        5.815185357641e-01,
        6.421481767937e-01,
        3.386296521823e-01,
        2.131851966359e-01,
        2.847777963833e-01,
        3.563703729786e-01,
        -6.304074122933e-01,
        -5.588148391556e-01,
        -4.872222328600e-01,
        -4.156296597664e-01,
        -3.440370560840e-01,
        -2.724444614583e-01,
        -2.008518790183e-01,
        -1.292592683545e-01,
        3.307777775835e-01,
        4.023703848698e-01,
        4.739629629497e-01,
        5.225928537934e-02,
        1.238518707002e-01,
        1.954444631073e-01,
        2.670370462206e-01,
        3.386296521823e-01,
        2.131851966359e-01,
        2.847777963833e-01,
        3.563703729786e-01,
        -6.304074122933e-01,
        -5.588148391556e-01,
        -4.872222328600e-01,
        -4.156296597664e-01,
    ];
    const LIN_VALUE: f64 = 3.8687829035917423;
    const LIN_GRAD: [f64; 35] = [
        3.417149502550e-02,
        1.707542817460e+00,
        1.711085758463e+00,
        1.714628550352e+00,
        1.718171474539e+00,
        1.721714283245e+00,
        -4.445712091752e-02,
        6.765714957714e-02,
        -1.487999983072e-01,
        -5.039999407870e-02,
        4.800000061308e-02,
        1.463999988811e-01,
        2.447999995334e-01,
        2.834285522529e-02,
        -3.635428979175e-01,
        -2.026857124737e+00,
        -1.920457209958e+00,
        -1.814057126311e+00,
        -1.707657182368e+00,
        -1.601257127884e+00,
        1.749713644845e-01,
        -1.671999548095e-01,
        1.184914313463e+00,
        1.223314362437e+00,
        1.261714307598e+00,
        1.300114357543e+00,
        1.338514301733e+00,
        -5.665142661231e-01,
        1.615999856813e-01,
        -6.822857217533e-01,
        -5.598857525979e-01,
        -4.374857282656e-01,
        -3.150857459034e-01,
        -1.926857347778e-01,
        2.662857019561e-01,
    ];

    #[test]
    fn matches_the_official_matlab_formula() {
        check_fixture(&mut reg(), &[4, 3, 3, 3], CONV_VALUE, &CONV_GRAD);
        check_fixture(&mut reg(), &[5, 7], LIN_VALUE, &LIN_GRAD);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        assert!(CsOrth::from_spec(&Spec::parse("cs-orth=1:k=2").unwrap()).is_err());
        assert!(CsOrth::from_spec(&Spec::parse("cs-orth=1:norm=rows").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        t::check_scratch_reuse(reg);
    }
}

//! `cs-binary=λ[:norm=numel]`: the symmetric binary Cauchy–Schwarz regularizer on each row.
//!
//! ## Formula
//! For a vector `x ∈ R^N` (here: one row of the weight, `N = in·kh·kw`):
//! ```text
//! ℓ_bin(x) = N‖x‖₄⁴ − ‖x‖₂⁴ = N Σᵢ xᵢ⁴ − (Σᵢ xᵢ²)²
//! ∇ℓ_bin   = 4N x³ − 4‖x‖₂² x          (powers elementwise)
//! ```
//! It is the Cauchy–Schwarz gap `‖1‖²‖x²‖² − ⟨1, x²⟩² = ½ Σᵢⱼ (xᵢ² − xⱼ²)² ≥ 0` between the
//! all-ones vector and `x²`, so `ℓ_bin(x) = 0` exactly when all `|xᵢ|` are equal:
//! `x ∈ {−α, +α}^N` for some `α ≥ 0` (any scale). It is 4-homogeneous:
//! `ℓ_bin(αx) = α⁴ ℓ_bin(x)`. It equals the official code's general form
//! `N^{r/q − r/p}‖x‖_p^r − ‖x‖_q^r` at its settings `p = 4, q = 2, r = 4`.
//!
//! On a layer: `r(W) = (1/ν) Σ_r ℓ_bin(W_r)` over the rows `W_r` of the matrix view
//! `W ∈ R^{out×in}` (conv `[out, in, kh, kw]` → `[out, in·kh·kw]`), `ν = out·in` (`norm=numel`,
//! the official `elenum`) or `1` (`norm=none`); training adds `λ·Σ_layers r`. Each row finds its
//! own level `α_r`. See the [family documentation](super) for layouts and the vector function.
//!
//! Computation: per-row `Σx²`, `Σx⁴` in f64 from the f32 weights (contiguous rows, or all rows
//! at once over the contiguous storage rows of burn's `[in, out]`), then one elementwise pass for
//! the gradient. [`Mode`](reglab_core::Mode) makes no difference.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the symmetric
//! binary regularizer; official code IIP-Group/CS_regularizers (`solution_recovery/
//! binary_recovery.m`, `quantized_nns/tools/regularization_modules.py`, conv grouping
//! `binary_input_ch`, fc `binary`).

use super::{PowerSums, power_value_grad};

/// `ℓ_bin` as power sums `[Σx², Σx⁴, ·]`.
pub(crate) struct Bin;

impl PowerSums for Bin {
    const SUMS: usize = 2;
    #[inline(always)]
    fn terms(x: f64) -> [f64; 3] {
        let x2 = x * x;
        [x2, x2 * x2, 0.0]
    }
    #[inline(always)]
    fn value(s: &[f64; 3], n: f64) -> f64 {
        n * s[1] - s[0] * s[0]
    }
    #[inline(always)]
    fn grad(x: f64, s: &[f64; 3], n: f64) -> f64 {
        4.0 * x * (n * x * x - s[0])
    }
}

/// `ℓ_bin(x) = N‖x‖₄⁴ − ‖x‖₂⁴` in f64; when `grad` is given (length `N`), **writes**
/// `∇ℓ_bin(x) = 4N x³ − 4‖x‖₂² x` into it. Panics if `grad.len() != x.len()`.
pub fn value_grad(x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    power_value_grad::<Bin>(x, grad)
}

power_regularizer! {
    /// The symmetric binary CS regularizer on the rows. See the module documentation.
    CsBinary, Bin, "cs-binary"
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_fixture, check_homogeneous, check_vector_fn, check_zero_layer, rows_grad, rows_naive};
    use super::*;
    use reglab_core::testing::{self as t, Case, random_vec};
    use reglab_core::{Mode, Regularizer, Spec};

    fn reg() -> CsBinary {
        CsBinary::from_spec(&Spec::parse("cs-binary=1").unwrap()).unwrap()
    }

    fn none() -> CsBinary {
        CsBinary::from_spec(&Spec::parse("cs-binary=1:norm=none").unwrap()).unwrap()
    }

    /// Independent: the Lagrange identity `½ Σᵢⱼ (xᵢ² − xⱼ²)²` on one vector.
    fn lagrange(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for &a in x {
            for &b in x {
                s += 0.5 * (a * a - b * b).powi(2);
            }
        }
        s
    }

    #[test]
    fn value_matches_the_lagrange_identity() {
        t::check_value(1e-10, |_, _| reg(), |_, c| rows_naive(c, true, lagrange));
        t::check_value(1e-10, |_, _| none(), |_, c| rows_naive(c, false, lagrange));
    }

    #[test]
    fn per_row_sum_over_numel_by_hand() {
        // row 0 ∈ {±1}⁴: 0; row 1 = (1, 2, 0, 0): 4·(1 + 16) − (1 + 4)² = 43; ν = 8
        let c = Case::from_weights("fc.weight", &[2, 4], vec![1.0, -1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0]);
        assert_eq!(c.value(&mut reg()), 43.0 / 8.0);
        assert_eq!(c.transposed().value(&mut reg()), 43.0 / 8.0);
        assert_eq!(c.value(&mut none()), 43.0);
        // gradient of row 1: 4·4·x³ − 4·5·x = (−4, 88, 0, 0), over 8; row 0: 16x − 16x = 0
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, vec![0.0, 0.0, 0.0, 0.0, -0.5, 11.0, 0.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // h = 1e-3: the values are exact f64 power sums, and the O(h²) truncation
        // error of a quartic (sextic, octic) at |w| ~ 0.25 is ~1e-3 at h = 1e-2
        t::check_gradient(1e-3, 1e-3, |_, _| reg());
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: 4N x³ − 4‖x‖² x per row, over ν
        t::check_added_scaled(1e-6, reg, |rows, cols, m| {
            rows_grad(rows, cols, m, |x| {
                let s2: f64 = x.iter().map(|v| v * v).sum();
                x.iter().map(|&v| 4.0 * cols as f64 * v.powi(3) - 4.0 * s2 * v).collect()
            })
        });
    }

    #[test]
    fn vector_function_value_and_gradient() {
        let x: Vec<f64> = random_vec(11, 1.0, 11).iter().map(|&v| v as f64).collect();
        check_vector_fn(&x, 1e-12, value_grad, lagrange);
    }

    #[test]
    fn zero_exactly_on_scaled_sign_vectors_and_positive_off_them() {
        let signs: Vec<f64> = random_vec(16, 1.0, 12).iter().map(|&v| if v < 0.0 { -1.0 } else { 1.0 }).collect();
        for alpha in [1.0, -1.0, 0.37, -2.5, 1e3, 1e-3, -7e-4] {
            let x: Vec<f64> = signs.iter().map(|s| s * alpha).collect();
            let mut g = vec![1.0; 16];
            let v = value_grad(&x, Some(&mut g));
            let sc = 16.0 * 16.0 * alpha.powi(4);
            assert!(v.abs() <= 1e-12 * sc, "α={alpha}: {v}");
            let gs = 16.0 * alpha.abs().powi(3);
            assert!(g.iter().all(|gi| gi.abs() <= 1e-12 * gs), "α={alpha}: {g:?}");
        }
        // a layer whose rows have different levels α_r, incl. negative and tiny: r = 0
        check_zero_layer(&mut reg(), &signs[..8]);
        // off the set: random vectors, or one entry moved
        for seed in 0..20 {
            let x: Vec<f64> = random_vec(10, 1.0, 100 + seed).iter().map(|&v| v as f64).collect();
            assert!(value_grad(&x, None) > 1e-3, "seed {seed}");
        }
        let mut x: Vec<f64> = signs.clone();
        x[3] *= 1.01;
        assert!(value_grad(&x, None) > 1e-3);
        // {0, α} mixes are not binary
        assert!(value_grad(&[0.0, 1.0, 1.0, 0.0], None) > 1.0);
    }

    #[test]
    fn homogeneous_of_degree_four() {
        check_homogeneous(&mut reg(), 4, 1e-6);
    }

    // Fixtures: the official PyTorch module IIP-Group/CS_regularizers
    // quantized_nns/tools/regularization_modules.py (commit ef70f7e6), function
    // lplq_regularization_CNN(p=4, q=2, r=4, normalization_type='elenum', exclude_first_last=False),
    // run in float64 with torch 2.15 on the f32 inputs of `fixture_weights` (entry i =
    // ((i·37 mod 19) − 9)/10): a conv weight [4, 3, 3, 3] with conv_regu='binary_input_ch', and a
    // linear weight [5, 7] (named fc.weight) with fc_regu='binary'; value, and gradient by autograd.
    // The MATLAB handles Lbin/gradLbin of binary_recovery.m, per row over numel, agree to 1e-15.
    const CONV_VALUE: f64 = 1.861153588677017;
    const CONV_GRAD: [f64; 108] = [
        -4.186666182831e-01,
        4.186666182831e-01,
        2.361481681091e-01,
        1.016296172517e-01,
        9.111129526740e-03,
        -4.740740666787e-02,
        -7.392592452853e-02,
        -7.644444489258e-02,
        -6.096296333715e-02,
        -3.348148180268e-02,
        0.000000000000e+00,
        3.348148180268e-02,
        6.096296333715e-02,
        7.644444489258e-02,
        7.392592452853e-02,
        4.740740666787e-02,
        -9.111129526740e-03,
        -1.016296172517e-01,
        -2.361481681091e-01,
        -4.186666182831e-01,
        4.186666182831e-01,
        2.361481681091e-01,
        1.016296172517e-01,
        9.111129526740e-03,
        -4.740740666787e-02,
        -7.392592452853e-02,
        -7.644444489258e-02,
        -3.866666713688e-02,
        -2.233333370255e-02,
        0.000000000000e+00,
        2.233333370255e-02,
        3.866666713688e-02,
        4.299999976158e-02,
        2.933333212799e-02,
        -8.333333002196e-03,
        -7.600001978874e-02,
        -1.796666514609e-01,
        -3.253333529101e-01,
        -5.189999470313e-01,
        5.189999470313e-01,
        3.253333529101e-01,
        1.796666514609e-01,
        7.600001978874e-02,
        8.333333002196e-03,
        -2.933333212799e-02,
        -4.299999976158e-02,
        -3.866666713688e-02,
        -2.233333370255e-02,
        0.000000000000e+00,
        2.233333370255e-02,
        3.866666713688e-02,
        4.299999976158e-02,
        2.933333212799e-02,
        -8.333333002196e-03,
        1.288887177132e-02,
        -7.596295052767e-02,
        -2.068148337735e-01,
        -3.856666185216e-01,
        3.856666185216e-01,
        2.068148337735e-01,
        7.596295052767e-02,
        -1.288887177132e-02,
        -6.574074035441e-02,
        -8.859259169632e-02,
        -8.744444554161e-02,
        -6.829629692104e-02,
        -3.714814859463e-02,
        0.000000000000e+00,
        3.714814859463e-02,
        6.829629692104e-02,
        8.744444554161e-02,
        8.859259169632e-02,
        6.574074035441e-02,
        1.288887177132e-02,
        -7.596295052767e-02,
        -2.068148337735e-01,
        -3.856666185216e-01,
        3.856666185216e-01,
        2.068148337735e-01,
        7.596295052767e-02,
        -1.288887177132e-02,
        8.333333002196e-03,
        -2.933333212799e-02,
        -4.299999976158e-02,
        -3.866666713688e-02,
        -2.233333370255e-02,
        0.000000000000e+00,
        2.233333370255e-02,
        3.866666713688e-02,
        4.299999976158e-02,
        2.933333212799e-02,
        -8.333333002196e-03,
        -7.600001978874e-02,
        -1.796666514609e-01,
        -3.253333529101e-01,
        -5.189999470313e-01,
        5.189999470313e-01,
        3.253333529101e-01,
        1.796666514609e-01,
        7.600001978874e-02,
        8.333333002196e-03,
        -2.933333212799e-02,
        -4.299999976158e-02,
        -3.866666713688e-02,
        -2.233333370255e-02,
        0.000000000000e+00,
        2.233333370255e-02,
        3.866666713688e-02,
    ];
    const LIN_VALUE: f64 = 0.23381712107522412;
    const LIN_GRAD: [f64; 35] = [
        -2.211428255354e-01,
        2.211428255354e-01,
        8.777144666399e-02,
        -7.200005217961e-03,
        -6.857141413007e-02,
        -1.011428542818e-01,
        -1.097142835345e-01,
        1.200000160081e-02,
        -2.043587911740e-10,
        -2.400000209468e-03,
        0.000000000000e+00,
        2.400000209468e-03,
        2.043587911740e-10,
        -1.200000160081e-02,
        1.097142835345e-01,
        1.011428542818e-01,
        6.857141413007e-02,
        7.200005217961e-03,
        -8.777144666399e-02,
        -2.211428255354e-01,
        2.211428255354e-01,
        2.240000115122e-01,
        1.119999852180e-01,
        3.360001204354e-02,
        -1.600000252043e-02,
        -4.160000111035e-02,
        -4.800000170299e-02,
        -4.000000141348e-02,
        -5.600000216280e-03,
        0.000000000000e+00,
        5.600000216280e-03,
        6.400000217983e-03,
        -2.400001341956e-03,
        -2.560000128065e-02,
        -6.799999921662e-02,
    ];

    #[test]
    fn matches_the_official_pytorch_module() {
        check_fixture(&mut reg(), &[4, 3, 3, 3], CONV_VALUE, &CONV_GRAD);
        check_fixture(&mut reg(), &[5, 7], LIN_VALUE, &LIN_GRAD);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        let empty = Case { shape: vec![0, 4], weight: vec![], ..Case::random("fc.weight", &[3, 4], 18) };
        assert_eq!(reg().eval(&empty.target(), None, 1.0, Mode::Step).unwrap(), 0.0);
        assert!(CsBinary::from_spec(&Spec::parse("cs-binary=1:k=2").unwrap()).is_err());
        assert!(CsBinary::from_spec(&Spec::parse("cs-binary=1:norm=rows").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        t::check_scratch_reuse(reg);
    }
}

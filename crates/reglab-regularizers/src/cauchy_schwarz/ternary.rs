//! `cs-ternary=λ[:norm=numel]`: the symmetric ternary Cauchy–Schwarz regularizer on each row.
//!
//! ## Formula
//! For a vector `x ∈ R^N` (here: one row of the weight, `N = in·kh·kw`):
//! ```text
//! ℓ_ter(x) = ‖x‖₂² ‖x‖₆⁶ − ‖x‖₄⁸ = (Σᵢ xᵢ²)(Σᵢ xᵢ⁶) − (Σᵢ xᵢ⁴)²
//! ∇ℓ_ter   = 2x ⊙ (‖x‖₆⁶ + 3‖x‖₂² x⁴ − 4‖x‖₄⁴ x²)      (powers elementwise)
//! ```
//! It is the Cauchy–Schwarz gap `‖x‖²‖x³‖² − ⟨x, x³⟩² = ½ Σᵢⱼ xᵢ² xⱼ² (xᵢ² − xⱼ²)² ≥ 0` between
//! `x` and `x³`, so `ℓ_ter(x) = 0` exactly when all non-zero entries have the same magnitude:
//! `x ∈ {−α, 0, +α}^N` for some `α ≥ 0`. It is 8-homogeneous: `ℓ_ter(αx) = α⁸ ℓ_ter(x)`.
//!
//! On a layer: `r(W) = (1/ν) Σ_r ℓ_ter(W_r)` over the rows `W_r` of the matrix view
//! `W ∈ R^{out×in}` (conv `[out, in, kh, kw]` → `[out, in·kh·kw]`), `ν = out·in` (`norm=numel`,
//! the official `elenum`) or `1` (`norm=none`); training adds `λ·Σ_layers r`. This is the
//! official `ternary_input_ch` conv grouping; the official `fc_regu='ternary'` branch reads the
//! preceding conv layer's tensor instead of the linear weight (a bug there), reglab uses each
//! linear layer's own rows. See the [family documentation](super) for layouts and the vector
//! function.
//!
//! Computation: per-row `Σx²`, `Σx⁴`, `Σx⁶` in f64 from the f32 weights, then one elementwise
//! pass for the gradient. [`Mode`](reglab_core::Mode) makes no difference.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the symmetric
//! ternary regularizer; official code IIP-Group/CS_regularizers
//! (`solution_recovery/osb_ternary_recovery.m`, `f_version == 1`;
//! `quantized_nns/tools/regularization_modules.py`, `ternary_input_ch`).

use super::{PowerSums, power_value_grad};

/// `ℓ_ter` as power sums `[Σx², Σx⁴, Σx⁶]`.
pub(crate) struct Ter;

impl PowerSums for Ter {
    const SUMS: usize = 3;
    #[inline(always)]
    fn terms(x: f64) -> [f64; 3] {
        let x2 = x * x;
        let x4 = x2 * x2;
        [x2, x4, x4 * x2]
    }
    #[inline(always)]
    fn value(s: &[f64; 3], _n: f64) -> f64 {
        s[0] * s[2] - s[1] * s[1]
    }
    #[inline(always)]
    fn grad(x: f64, s: &[f64; 3], _n: f64) -> f64 {
        let x2 = x * x;
        2.0 * x * (s[2] + x2 * (3.0 * s[0] * x2 - 4.0 * s[1]))
    }
}

/// `ℓ_ter(x) = ‖x‖₂²‖x‖₆⁶ − ‖x‖₄⁸` in f64; when `grad` is given (length `N`), **writes**
/// `∇ℓ_ter(x) = 2x ⊙ (‖x‖₆⁶ + 3‖x‖₂² x⁴ − 4‖x‖₄⁴ x²)` into it. Panics if
/// `grad.len() != x.len()`.
pub fn value_grad(x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    power_value_grad::<Ter>(x, grad)
}

power_regularizer! {
    /// The symmetric ternary CS regularizer on the rows. See the module documentation.
    CsTernary, Ter, "cs-ternary"
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_fixture, check_homogeneous, check_vector_fn, check_zero_layer, rows_grad, rows_naive};
    use super::*;
    use reglab_core::Spec;
    use reglab_core::testing::{self as t, Case, random_vec};

    fn reg() -> CsTernary {
        CsTernary::from_spec(&Spec::parse("cs-ternary=1").unwrap()).unwrap()
    }

    fn none() -> CsTernary {
        CsTernary::from_spec(&Spec::parse("cs-ternary=1:norm=none").unwrap()).unwrap()
    }

    /// Independent: the Lagrange identity `½ Σᵢⱼ (xᵢ xⱼ³ − xⱼ xᵢ³)²` on one vector.
    fn lagrange(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for &a in x {
            for &b in x {
                s += 0.5 * (a * b.powi(3) - b * a.powi(3)).powi(2);
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
        // row 0 = (0, −3, 3): 0; row 1 = (1, 2, 0): 5·65 − 17² = 36; ν = 6
        let c = Case::from_weights("fc.weight", &[2, 3], vec![0.0, -3.0, 3.0, 1.0, 2.0, 0.0]);
        assert_eq!(c.value(&mut reg()), 6.0);
        assert_eq!(c.transposed().value(&mut reg()), 6.0);
        assert_eq!(c.value(&mut none()), 36.0);
        // row 1 gradient 2x(65 + 15x⁴ − 68x²) = (24, 132, 0); row 0: 2x(1458 + 54x⁴ − 648x²) = 0
        let (_, g, _) = c.value_and_grad(&mut none());
        assert_eq!(g, vec![0.0, 0.0, 0.0, 24.0, 132.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // h = 1e-3: the values are exact f64 power sums, and the O(h²) truncation
        // error of a quartic (sextic, octic) at |w| ~ 0.25 is ~1e-3 at h = 1e-2
        t::check_gradient(1e-3, 1e-3, |_, _| reg());
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: 2‖x‖₆⁶ x + 6‖x‖² x⁵ − 8‖x‖₄⁴ x³ per row, over ν
        t::check_added_scaled(1e-6, reg, |rows, cols, m| {
            rows_grad(rows, cols, m, |x| {
                let (s2, s4, s6) = x.iter().fold((0.0, 0.0, 0.0), |(a, b, c), v| (a + v * v, b + v.powi(4), c + v.powi(6)));
                x.iter().map(|&xk| 2.0 * s6 * xk + 6.0 * s2 * xk.powi(5) - 8.0 * s4 * xk.powi(3)).collect()
            })
        });
    }

    #[test]
    fn vector_function_value_and_gradient() {
        let x: Vec<f64> = random_vec(11, 1.0, 11).iter().map(|&v| v as f64).collect();
        check_vector_fn(&x, 1e-12, value_grad, lagrange);
    }

    #[test]
    fn zero_exactly_on_ternary_vectors_and_positive_off_them() {
        let pattern: Vec<f64> = random_vec(18, 1.0, 12).iter().map(|&v| (v as f64 * 1.5).round().clamp(-1.0, 1.0)).collect();
        for s in [-1.0, 0.0, 1.0] {
            assert!(pattern.contains(&s), "{pattern:?}");
        }
        for alpha in [1.0, -1.0, 0.37, -2.5, 1e3, 1e-3, -7e-4] {
            let x: Vec<f64> = pattern.iter().map(|s| s * alpha).collect();
            let mut g = vec![1.0; 18];
            let v = value_grad(&x, Some(&mut g));
            let sc = 18.0 * 18.0 * alpha.powi(8);
            assert!(v.abs() <= 1e-12 * sc, "α={alpha}: {v}");
            let gs = 18.0 * 18.0 * alpha.abs().powi(7);
            assert!(g.iter().all(|gi| gi.abs() <= 1e-12 * gs), "α={alpha}: {g:?}");
        }
        // a layer whose rows have different levels α_r: r = 0
        check_zero_layer(&mut reg(), &pattern[..9]);
        // binary and one-sided binary vectors are ternary too; two magnitudes are not
        assert_eq!(value_grad(&[1.0, -1.0, 1.0], None), 0.0);
        assert_eq!(value_grad(&[0.0, 2.0, 0.0], None), 0.0);
        assert!(value_grad(&[0.5, -1.0, 0.0, 1.0], None) > 1e-2);
        for seed in 0..20 {
            let x: Vec<f64> = random_vec(10, 1.0, 100 + seed).iter().map(|&v| v as f64).collect();
            assert!(value_grad(&x, None) > 1e-4, "seed {seed}");
        }
    }

    #[test]
    fn homogeneous_of_degree_eight() {
        check_homogeneous(&mut reg(), 8, 1e-6);
    }

    // Fixtures: the official PyTorch module IIP-Group/CS_regularizers
    // quantized_nns/tools/regularization_modules.py (commit ef70f7e6), function
    // lplq_regularization_CNN(conv_regu='ternary_input_ch', fc_regu='none', p=4, q=2, r=4,
    // normalization_type='elenum', exclude_first_last=False), run in float64 with torch 2.15 on the
    // f32 inputs of `fixture_weights` (entry i = ((i·37 mod 19) − 9)/10): a conv weight [4, 3, 3, 3],
    // and the linear [5, 7] passed as a conv weight [5, 7, 1, 1] (same rows), because the official
    // fc 'ternary' branch regularizes the previous conv tensor instead; value, and gradient by
    // autograd. The MATLAB handles of osb_ternary_recovery.m (f_version == 1) agree to 1e-15.
    const CONV_VALUE: f64 = 0.131173324752592;
    const CONV_GRAD: [f64; 108] = [
        -7.945885135192e-02,
        7.945885135192e-02,
        2.156609562517e-02,
        -1.631311651513e-03,
        -5.331922944307e-03,
        -3.896675244690e-04,
        6.065531854288e-03,
        1.000708752033e-02,
        9.891076955328e-03,
        6.035577372530e-03,
        0.000000000000e+00,
        -6.035577372530e-03,
        -9.891076955328e-03,
        -1.000708752033e-02,
        -6.065531854288e-03,
        3.896675244690e-04,
        5.331922944307e-03,
        1.631311651513e-03,
        -2.156609562517e-02,
        -7.945885135192e-02,
        7.945885135192e-02,
        2.156609562517e-02,
        -1.631311651513e-03,
        -5.331922944307e-03,
        -3.896675244690e-04,
        6.065531854288e-03,
        1.000708752033e-02,
        5.559399624451e-03,
        3.430799823422e-03,
        0.000000000000e+00,
        -3.430799823422e-03,
        -5.559399624451e-03,
        -5.503599319820e-03,
        -3.221199264670e-03,
        7.000042574267e-05,
        1.472199873236e-03,
        -4.012399098975e-03,
        -2.390160489251e-02,
        -6.865318782559e-02,
        6.865318782559e-02,
        2.390160489251e-02,
        4.012399098975e-03,
        -1.472199873236e-03,
        -7.000042574267e-05,
        3.221199264670e-03,
        5.503599319820e-03,
        5.559399624451e-03,
        3.430799823422e-03,
        0.000000000000e+00,
        -3.430799823422e-03,
        -5.559399624451e-03,
        -5.503599319820e-03,
        -3.221199264670e-03,
        7.000042574267e-05,
        7.473623304911e-03,
        4.480311834914e-03,
        -1.969609559240e-02,
        -8.181504939925e-02,
        8.181504939925e-02,
        1.969609559240e-02,
        -4.480311834914e-03,
        -7.473623304911e-03,
        -1.236667526955e-03,
        6.397731847586e-03,
        1.103008754675e-02,
        1.100757702745e-02,
        6.737377420349e-03,
        0.000000000000e+00,
        -6.737377420349e-03,
        -1.100757702745e-02,
        -1.103008754675e-02,
        -6.397731847586e-03,
        1.236667526955e-03,
        7.473623304911e-03,
        4.480311834914e-03,
        -1.969609559240e-02,
        -8.181504939925e-02,
        8.181504939925e-02,
        1.969609559240e-02,
        -4.480311834914e-03,
        -7.473623304911e-03,
        -7.000042574267e-05,
        3.221199264670e-03,
        5.503599319820e-03,
        5.559399624451e-03,
        3.430799823422e-03,
        0.000000000000e+00,
        -3.430799823422e-03,
        -5.559399624451e-03,
        -5.503599319820e-03,
        -3.221199264670e-03,
        7.000042574267e-05,
        1.472199873236e-03,
        -4.012399098975e-03,
        -2.390160489251e-02,
        -6.865318782559e-02,
        6.865318782559e-02,
        2.390160489251e-02,
        4.012399098975e-03,
        -1.472199873236e-03,
        -7.000042574267e-05,
        3.221199264670e-03,
        5.503599319820e-03,
        5.559399624451e-03,
        3.430799823422e-03,
        0.000000000000e+00,
        -3.430799823422e-03,
        -5.559399624451e-03,
    ];
    const LIN_VALUE: f64 = 0.03606827031847473;
    const LIN_GRAD: [f64; 35] = [
        -7.074327660075e-02,
        7.074327660075e-02,
        1.164124189465e-02,
        -9.100319682593e-03,
        -8.948436034864e-03,
        -3.013727588652e-04,
        8.787289144259e-03,
        2.290286319665e-05,
        -2.331428783962e-06,
        5.074287132536e-06,
        0.000000000000e+00,
        -5.074287132536e-06,
        2.331428783962e-06,
        -2.290286319665e-05,
        -8.787289144259e-03,
        3.013727588652e-04,
        8.948436034864e-03,
        9.100319682593e-03,
        -1.164124189465e-02,
        -7.074327660075e-02,
        7.074327660075e-02,
        3.181947833648e-02,
        7.602237947865e-03,
        -9.187536415603e-04,
        -1.414628577454e-03,
        9.490971303405e-04,
        3.094902903667e-03,
        3.615668792679e-03,
        9.579428900685e-05,
        0.000000000000e+00,
        -9.579428900685e-05,
        -8.598857085092e-05,
        1.981715758596e-05,
        -1.837715281895e-05,
        -7.861714341640e-04,
    ];

    #[test]
    fn matches_the_official_pytorch_module() {
        check_fixture(&mut reg(), &[4, 3, 3, 3], CONV_VALUE, &CONV_GRAD);
        check_fixture(&mut reg(), &[5, 7], LIN_VALUE, &LIN_GRAD);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        assert!(CsTernary::from_spec(&Spec::parse("cs-ternary=1:k=2").unwrap()).is_err());
        assert!(CsTernary::from_spec(&Spec::parse("cs-ternary=1:norm=rows").unwrap()).is_err());
    }
}

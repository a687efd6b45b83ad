//! `cs-binary-pos=λ[:norm=numel]`: the one-sided binary Cauchy–Schwarz regularizer on each row.
//!
//! ## Formula
//! For a vector `x ∈ R^N` (here: one row of the weight, `N = in·kh·kw`):
//! ```text
//! ℓ_osb(x) = ‖x‖₂² ‖x‖₄⁴ − (Σᵢ xᵢ³)²
//! ∇ℓ_osb   = 2x ⊙ (‖x‖₄⁴ + 2‖x‖₂² x² − 3(Σᵢ xᵢ³) x)      (powers elementwise)
//! ```
//! It is the Cauchy–Schwarz gap `‖x‖²‖x²‖² − ⟨x, x²⟩² = ½ Σᵢⱼ xᵢ² xⱼ² (xᵢ − xⱼ)² ≥ 0` between
//! `x` and `x²`, so `ℓ_osb(x) = 0` exactly when all non-zero entries are equal:
//! `x ∈ {0, α}^N` for some `α` of **either** sign (no `x ≥ 0` constraint and no absolute values,
//! as in the paper and the official script). A mix of `+α` and `−α` is penalized. It is
//! 6-homogeneous (not 4): `ℓ_osb(αx) = α⁶ ℓ_osb(x)` for any real `α`.
//!
//! On a layer: `r(W) = (1/ν) Σ_r ℓ_osb(W_r)` over the rows `W_r` of the matrix view
//! `W ∈ R^{out×in}` (conv `[out, in, kh, kw]` → `[out, in·kh·kw]`), `ν = out·in` (`norm=numel`)
//! or `1` (`norm=none`); training adds `λ·Σ_layers r`. The official PyTorch module has no
//! one-sided variant; reglab applies it per row as it does the binary and ternary ones. See the
//! [family documentation](super) for layouts and the vector function.
//!
//! Computation: per-row `Σx²`, `Σx³`, `Σx⁴` in f64 from the f32 weights, then one elementwise
//! pass for the gradient. [`Mode`](reglab_core::Mode) makes no difference.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the one-sided
//! binary regularizer; official code IIP-Group/CS_regularizers
//! (`solution_recovery/osb_ternary_recovery.m`, `f_version == 2`).

use super::{PowerSums, power_value_grad};

/// `ℓ_osb` as power sums `[Σx², Σx³, Σx⁴]`.
pub(crate) struct Osb;

impl PowerSums for Osb {
    const SUMS: usize = 3;
    #[inline(always)]
    fn terms(x: f64) -> [f64; 3] {
        let x2 = x * x;
        [x2, x2 * x, x2 * x2]
    }
    #[inline(always)]
    fn value(s: &[f64; 3], _n: f64) -> f64 {
        s[0] * s[2] - s[1] * s[1]
    }
    #[inline(always)]
    fn grad(x: f64, s: &[f64; 3], _n: f64) -> f64 {
        2.0 * x * (s[2] + x * (2.0 * s[0] * x - 3.0 * s[1]))
    }
}

/// `ℓ_osb(x) = ‖x‖₂²‖x‖₄⁴ − (Σx³)²` in f64; when `grad` is given (length `N`), **writes**
/// `∇ℓ_osb(x) = 2x ⊙ (‖x‖₄⁴ + 2‖x‖₂² x² − 3(Σx³) x)` into it. Panics if
/// `grad.len() != x.len()`.
pub fn value_grad(x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    power_value_grad::<Osb>(x, grad)
}

power_regularizer! {
    /// The one-sided binary CS regularizer on the rows. See the module documentation.
    CsBinaryPos, Osb, "cs-binary-pos"
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check_fixture, check_homogeneous, check_vector_fn, check_zero_layer, rows_grad, rows_naive};
    use super::*;
    use reglab_core::Spec;
    use reglab_core::testing::{self as t, Case, random_vec};

    fn reg() -> CsBinaryPos {
        CsBinaryPos::from_spec(&Spec::parse("cs-binary-pos=1").unwrap()).unwrap()
    }

    fn none() -> CsBinaryPos {
        CsBinaryPos::from_spec(&Spec::parse("cs-binary-pos=1:norm=none").unwrap()).unwrap()
    }

    /// Independent: the Lagrange identity `½ Σᵢⱼ (xᵢ xⱼ² − xⱼ xᵢ²)²` on one vector.
    fn lagrange(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for &a in x {
            for &b in x {
                s += 0.5 * (a * b * b - b * a * a).powi(2);
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
        // row 0 = (0, 2, 2): 0; row 1 = (1, −1, 0): ‖x‖²‖x‖₄⁴ − (Σx³)² = 2·2 − 0 = 4; ν = 6
        let c = Case::from_weights("fc.weight", &[2, 3], vec![0.0, 2.0, 2.0, 1.0, -1.0, 0.0]);
        assert_eq!(c.value(&mut reg()), 4.0 / 6.0);
        assert_eq!(c.transposed().value(&mut reg()), 4.0 / 6.0);
        assert_eq!(c.value(&mut none()), 4.0);
        // row 1 gradient: 2x(2 + 4x² − 0) = (12, −12, 0); row 0: 2x(32 + 16x² − 48x) = (0, 0, 0)
        let (_, g, _) = c.value_and_grad(&mut none());
        assert_eq!(g, vec![0.0, 0.0, 0.0, 12.0, -12.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // h = 1e-3: the values are exact f64 power sums, and the O(h²) truncation
        // error of a quartic (sextic, octic) at |w| ~ 0.25 is ~1e-3 at h = 1e-2
        t::check_gradient(1e-3, 1e-3, |_, _| reg());
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        // independent: 4‖x‖² x³ + 2‖x‖₄⁴ x − 6(Σx³) x² per row, over ν
        t::check_added_scaled(1e-6, reg, |rows, cols, m| {
            rows_grad(rows, cols, m, |x| {
                let (s2, s3, s4) = x.iter().fold((0.0, 0.0, 0.0), |(a, b, c), v| (a + v * v, b + v.powi(3), c + v.powi(4)));
                x.iter().map(|&xk| 4.0 * s2 * xk.powi(3) + 2.0 * xk * s4 - 6.0 * s3 * xk.powi(2)).collect()
            })
        });
    }

    #[test]
    fn vector_function_value_and_gradient() {
        let x: Vec<f64> = random_vec(11, 1.0, 11).iter().map(|&v| v as f64).collect();
        check_vector_fn(&x, 1e-12, value_grad, lagrange);
    }

    #[test]
    fn zero_exactly_on_zero_alpha_vectors_and_positive_off_them() {
        let mask: Vec<f64> = random_vec(16, 1.0, 12).iter().map(|&v| if v < 0.0 { 0.0 } else { 1.0 }).collect();
        assert!(mask.contains(&0.0) && mask.contains(&1.0));
        for alpha in [1.0, -1.0, 0.37, -2.5, 1e3, 1e-3, -7e-4] {
            let x: Vec<f64> = mask.iter().map(|s| s * alpha).collect();
            let mut g = vec![1.0; 16];
            let v = value_grad(&x, Some(&mut g));
            let sc = 16.0 * 16.0 * alpha.powi(4);
            assert!(v.abs() <= 1e-12 * sc, "α={alpha}: {v}");
            let gs = 16.0 * alpha.abs().powi(3);
            assert!(g.iter().all(|gi| gi.abs() <= 1e-12 * gs), "α={alpha}: {g:?}");
        }
        // a layer whose rows have different levels α_r (either sign): r = 0
        check_zero_layer(&mut reg(), &mask[..8]);
        // positive on ±α mixes (binary, not one-sided), on ternary vectors and on random vectors
        assert!(value_grad(&[1.0, -1.0, 1.0, 1.0], None) > 1.0);
        assert!(value_grad(&[0.5, -0.5, 0.0, 0.5], None) > 1e-2);
        for seed in 0..20 {
            let x: Vec<f64> = random_vec(10, 1.0, 100 + seed).iter().map(|&v| v as f64).collect();
            assert!(value_grad(&x, None) > 1e-3, "seed {seed}");
        }
    }

    #[test]
    fn homogeneous_of_degree_six() {
        check_homogeneous(&mut reg(), 6, 1e-6);
    }

    // Fixtures: the official code has no PyTorch form of ℓ_osb. These numbers are the MATLAB
    // handles f/gradf of IIP-Group/CS_regularizers solution_recovery/osb_ternary_recovery.m
    // (commit ef70f7e6, f_version == 2), transcribed op-for-op into numpy (float64), applied to each
    // row of the f32 inputs of `fixture_weights` (entry i = ((i·37 mod 19) − 9)/10) and divided by
    // numel: a conv weight [4, 3, 3, 3] (rows [4, 27]) and a linear weight [5, 7]. gradf agrees with
    // torch autograd of f to 1e-16.
    const CONV_VALUE: f64 = 1.3723813650783152;
    const CONV_GRAD: [f64; 108] = [
        -3.968566388388e-01,
        2.810266416283e-01,
        2.086266695572e-01,
        1.513477678705e-01,
        1.071211171621e-01,
        7.387777537748e-02,
        4.954888833010e-02,
        3.206555606871e-02,
        1.935888844293e-02,
        9.359999777186e-03,
        0.000000000000e+00,
        -1.078999986113e-02,
        -2.507888877870e-02,
        -4.493555746346e-02,
        -7.242888967319e-02,
        -1.096277764106e-01,
        -1.586011227411e-01,
        -2.214177675089e-01,
        -3.001466749295e-01,
        -3.968566388388e-01,
        2.810266416283e-01,
        2.086266695572e-01,
        1.513477678705e-01,
        1.071211171621e-01,
        7.387777537748e-02,
        4.954888833010e-02,
        3.206555606871e-02,
        1.407333335469e-02,
        6.216666637113e-03,
        0.000000000000e+00,
        -5.976666623205e-03,
        -1.311333329906e-02,
        -2.281000094672e-02,
        -3.646666707496e-02,
        -5.548333265682e-02,
        -8.126000627438e-02,
        -1.151966611960e-01,
        -1.586933381871e-01,
        -2.131499845932e-01,
        2.325899841104e-01,
        1.740533390772e-01,
        1.269566611264e-01,
        8.990000720422e-02,
        6.148333282570e-02,
        4.030666729748e-02,
        2.497000117918e-02,
        1.407333335469e-02,
        6.216666637113e-03,
        0.000000000000e+00,
        -5.976666623205e-03,
        -1.311333329906e-02,
        -2.281000094672e-02,
        -3.646666707496e-02,
        -5.548333265682e-02,
        -1.483711216371e-01,
        -2.078144341403e-01,
        -2.832800073113e-01,
        -3.770566387534e-01,
        3.770566387534e-01,
        2.832800073113e-01,
        2.078144341403e-01,
        1.483711216371e-01,
        1.026611095550e-01,
        6.839555608526e-02,
        4.328555719755e-02,
        2.504222209634e-02,
        1.137666655488e-02,
        0.000000000000e+00,
        -1.137666655488e-02,
        -2.504222209634e-02,
        -4.328555719755e-02,
        -6.839555608526e-02,
        -1.026611095550e-01,
        -1.483711216371e-01,
        -2.078144341403e-01,
        -2.832800073113e-01,
        -3.770566387534e-01,
        3.770566387534e-01,
        2.832800073113e-01,
        2.078144341403e-01,
        1.483711216371e-01,
        5.548333265682e-02,
        3.646666707496e-02,
        2.281000094672e-02,
        1.311333329906e-02,
        5.976666623205e-03,
        0.000000000000e+00,
        -6.216666637113e-03,
        -1.407333335469e-02,
        -2.497000117918e-02,
        -4.030666729748e-02,
        -6.148333282570e-02,
        -8.990000720422e-02,
        -1.269566611264e-01,
        -1.740533390772e-01,
        -2.325899841104e-01,
        2.131499845932e-01,
        1.586933381871e-01,
        1.151966611960e-01,
        8.126000627438e-02,
        5.548333265682e-02,
        3.646666707496e-02,
        2.281000094672e-02,
        1.311333329906e-02,
        5.976666623205e-03,
        0.000000000000e+00,
        -6.216666637113e-03,
        -1.407333335469e-02,
    ];
    const LIN_VALUE: f64 = 0.3509389385955863;
    const LIN_GRAD: [f64; 35] = [
        -5.803199594017e-01,
        2.303999685059e-01,
        1.673691377959e-01,
        1.193279858996e-01,
        8.386285722596e-02,
        5.855999471835e-02,
        4.100571136270e-02,
        1.200000217302e-03,
        4.800000623294e-04,
        1.440000209468e-04,
        0.000000000000e+00,
        -1.440000209468e-04,
        -4.800000623294e-04,
        -1.200000217302e-03,
        -4.100571136270e-02,
        -5.855999471835e-02,
        -8.386285722596e-02,
        -1.193279858996e-01,
        -1.673691377959e-01,
        -2.303999685059e-01,
        5.803199594017e-01,
        1.680000157731e-02,
        5.879998879433e-03,
        2.640006709781e-04,
        -1.440000077316e-03,
        -6.240000819138e-04,
        1.319999854224e-03,
        3.000000111290e-03,
        1.008000051941e-03,
        0.000000000000e+00,
        -2.400000069823e-04,
        -9.599999557223e-05,
        4.800000885555e-05,
        -1.920000238419e-04,
        -1.200000003406e-03,
    ];

    #[test]
    fn matches_the_official_matlab_formula() {
        check_fixture(&mut reg(), &[4, 3, 3, 3], CONV_VALUE, &CONV_GRAD);
        check_fixture(&mut reg(), &[5, 7], LIN_VALUE, &LIN_GRAD);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        t::check_bad_matrix_input(&mut reg());
        assert!(CsBinaryPos::from_spec(&Spec::parse("cs-binary-pos=1:k=2").unwrap()).is_err());
        assert!(CsBinaryPos::from_spec(&Spec::parse("cs-binary-pos=1:norm=rows").unwrap()).is_err());
    }
}

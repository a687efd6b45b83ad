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
//! the gradient. [`Mode`] makes no difference.
//!
//! ## Paper
//! Taner & Studer, "Cauchy–Schwarz Regularizers", ICLR 2025 (arXiv 2503.01639), the symmetric
//! binary regularizer; official code IIP-Group/CS_regularizers (`solution_recovery/
//! binary_recovery.m`, `quantized_nns/tools/regularization_modules.py`, conv grouping
//! `binary_input_ch`, fc `binary`).

use super::{Norm, PowerSums, SumScratch, power_eval, power_value_grad};
use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

/// `ℓ_bin` as power sums `[Σx², Σx⁴, ·]`.
pub(crate) struct Bin;

impl PowerSums for Bin {
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

/// The symmetric binary CS regularizer on the rows. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct CsBinary {
    /// Normalization of a layer's sum.
    pub norm: Norm,
    scratch: SumScratch,
}

impl CsBinary {
    /// Build from a spec (`cs-binary=λ[:norm=numel|none]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let norm = Norm::from_options(&mut o)?;
        o.finish()?;
        Ok(Self { norm, ..Self::default() })
    }
}

impl Regularizer for CsBinary {
    fn name(&self) -> &'static str {
        "cs-binary"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        power_eval::<Bin>("cs-binary", self.norm, &mut self.scratch, t, grad, scale)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, case, dense, fixture_weights};
    use super::*;
    use reglab_core::testing::{gradient_error, random_vec, rel, Case};
    use reglab_core::{Error, Layout};

    fn reg() -> CsBinary {
        CsBinary::from_spec(&Spec::parse("cs-binary=1").unwrap()).unwrap()
    }

    /// Independent: the Lagrange identity `½ Σᵢⱼ (xᵢ² − xⱼ²)²` per row, summed, over `ν`.
    fn naive(c: &Case, numel: bool) -> f64 {
        let (rows, cols, m) = dense(c);
        let mut s = 0.0;
        for r in 0..rows {
            let x = &m[r * cols..(r + 1) * cols];
            for i in 0..cols {
                for j in 0..cols {
                    s += 0.5 * (x[i].powi(2) - x[j].powi(2)).powi(2);
                }
            }
        }
        if numel { s / (rows * cols) as f64 } else { s }
    }

    #[test]
    fn value_matches_the_lagrange_identity() {
        let none = CsBinary::from_spec(&Spec::parse("cs-binary=1:norm=none").unwrap()).unwrap();
        for c in [
            Case::random("a.weight", &[5, 7], 1),
            Case::random("b.weight", &[7, 5], 2),
            Case::random("c.weight", &[1, 9], 3),
            Case::random("d.weight", &[4, 3, 2, 2], 4),
        ] {
            let want = naive(&c, true);
            assert!(rel(c.value(&mut reg()), want) < 1e-10, "{}: {} vs {want}", c.name, c.value(&mut reg()));
            assert!(rel(c.value(&mut none.clone()), naive(&c, false)) < 1e-10, "{} norm=none", c.name);
            if c.shape.len() == 2 {
                assert!(rel(c.transposed().value(&mut reg()), want) < 1e-10, "{} transposed", c.name);
            }
        }
    }

    #[test]
    fn per_row_sum_over_numel_by_hand() {
        // row 0 ∈ {±1}⁴: 0; row 1 = (1, 2, 0, 0): 4·(1 + 16) − (1 + 4)² = 43; ν = 8
        let c = case("fc.weight", &[2, 4], vec![1.0, -1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 0.0]);
        assert_eq!(c.value(&mut reg()), 43.0 / 8.0);
        assert_eq!(c.transposed().value(&mut reg()), 43.0 / 8.0);
        let mut none = CsBinary::from_spec(&Spec::parse("cs-binary=1:norm=none").unwrap()).unwrap();
        assert_eq!(c.value(&mut none), 43.0);
        // gradient of row 1: 4·4·x³ − 4·5·x = (−4, 88, 0, 0), over 8; row 0: 16x − 16x = 0
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, vec![0.0, 0.0, 0.0, 0.0, -0.5, 11.0, 0.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for c in [
            Case::random("a.weight", &[3, 5], 5),
            Case::random("b.weight", &[5, 3], 6),
            Case::random("a.weight", &[3, 5], 7).transposed(),
            Case::random("b.weight", &[5, 3], 8).transposed(),
            Case::random("conv.weight", &[4, 3, 2, 2], 9),
        ] {
            // h = 1e-3: the values are exact f64 power sums, and the O(h²) truncation
            // error of a quartic (sextic, octic) at |w| ~ 0.25 is ~1e-3 at h = 1e-2
            let e = gradient_error(&mut reg(), &c, 1e-3);
            assert!(e < 1e-3, "{} {:?}: {e}", c.name, c.layout);
        }
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        let c = Case::random("fc.weight", &[3, 4], 10);
        let (rows, cols, m) = dense(&c);
        let (_, want_rm, _) = c.value_and_grad(&mut reg());
        for case in [c.clone(), c.transposed()] {
            let mut gw = vec![1.0f32; case.weight.len()];
            let mut g = TargetGrad { weight: &mut gw, bias: None };
            reg().eval(&case.target(), Some(&mut g), 0.25, Mode::Step).unwrap();
            for r in 0..rows {
                let x = &m[r * cols..(r + 1) * cols];
                let s2: f64 = x.iter().map(|v| v * v).sum();
                for k in 0..cols {
                    let idx = reglab_core::tensor::index(case.layout, rows, cols, r, k);
                    let w = 1.0 + 0.25 * (4.0 * cols as f64 * x[k].powi(3) - 4.0 * s2 * x[k]) / (rows * cols) as f64;
                    assert!((gw[idx] as f64 - w).abs() < 1e-6, "{:?} ({r},{k}): {} vs {w}", case.layout, gw[idx]);
                    assert!((want_rm[r * cols + k] as f64 - (w - 1.0) / 0.25).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn vector_function_value_and_gradient() {
        let x: Vec<f64> = random_vec(11, 1.0, 11).iter().map(|&v| v as f64).collect();
        let mut g = vec![0.0; 11];
        let v = value_grad(&x, Some(&mut g));
        let lagrange: f64 = (0..11).flat_map(|i| (0..11).map(move |j| (i, j))).map(|(i, j)| 0.5 * (x[i].powi(2) - x[j].powi(2)).powi(2)).sum();
        assert!(rel(v, lagrange) < 1e-12);
        assert_eq!(value_grad(&x, None), v);
        let h = 1e-6;
        for i in 0..11 {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (value_grad(&xp, None) - value_grad(&xm, None)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()), "{i}: {fd} vs {}", g[i]);
        }
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
        let levels = [0.3f32, -1.7, 4e-3];
        let w: Vec<f32> = (0..3 * 8).map(|i| levels[i / 8] * signs[i % 8] as f32).collect();
        let c = case("fc.weight", &[3, 8], w);
        for cc in [c.clone(), c.transposed()] {
            let (v, g, _) = cc.value_and_grad(&mut reg());
            assert!(v.abs() <= 1e-12, "{v}");
            assert!(g.iter().all(|&x| x.abs() <= 1e-7), "{g:?}");
        }
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
        let c = Case::random("fc.weight", &[4, 6], 13);
        let base = c.value(&mut reg());
        for a in [-3.0f32, 0.5, 20.0] {
            let s = Case { weight: c.weight.iter().map(|w| w * a).collect(), ..c.clone() };
            assert!(rel(s.value(&mut reg()), (a as f64).powi(4) * base) < 1e-6, "α={a}");
        }
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
        -4.186666182831e-01, 4.186666182831e-01, 2.361481681091e-01, 1.016296172517e-01, 9.111129526740e-03, -4.740740666787e-02,
        -7.392592452853e-02, -7.644444489258e-02, -6.096296333715e-02, -3.348148180268e-02, 0.000000000000e+00, 3.348148180268e-02,
        6.096296333715e-02, 7.644444489258e-02, 7.392592452853e-02, 4.740740666787e-02, -9.111129526740e-03, -1.016296172517e-01,
        -2.361481681091e-01, -4.186666182831e-01, 4.186666182831e-01, 2.361481681091e-01, 1.016296172517e-01, 9.111129526740e-03,
        -4.740740666787e-02, -7.392592452853e-02, -7.644444489258e-02, -3.866666713688e-02, -2.233333370255e-02, 0.000000000000e+00,
        2.233333370255e-02, 3.866666713688e-02, 4.299999976158e-02, 2.933333212799e-02, -8.333333002196e-03, -7.600001978874e-02,
        -1.796666514609e-01, -3.253333529101e-01, -5.189999470313e-01, 5.189999470313e-01, 3.253333529101e-01, 1.796666514609e-01,
        7.600001978874e-02, 8.333333002196e-03, -2.933333212799e-02, -4.299999976158e-02, -3.866666713688e-02, -2.233333370255e-02,
        0.000000000000e+00, 2.233333370255e-02, 3.866666713688e-02, 4.299999976158e-02, 2.933333212799e-02, -8.333333002196e-03,
        1.288887177132e-02, -7.596295052767e-02, -2.068148337735e-01, -3.856666185216e-01, 3.856666185216e-01, 2.068148337735e-01,
        7.596295052767e-02, -1.288887177132e-02, -6.574074035441e-02, -8.859259169632e-02, -8.744444554161e-02, -6.829629692104e-02,
        -3.714814859463e-02, 0.000000000000e+00, 3.714814859463e-02, 6.829629692104e-02, 8.744444554161e-02, 8.859259169632e-02,
        6.574074035441e-02, 1.288887177132e-02, -7.596295052767e-02, -2.068148337735e-01, -3.856666185216e-01, 3.856666185216e-01,
        2.068148337735e-01, 7.596295052767e-02, -1.288887177132e-02, 8.333333002196e-03, -2.933333212799e-02, -4.299999976158e-02,
        -3.866666713688e-02, -2.233333370255e-02, 0.000000000000e+00, 2.233333370255e-02, 3.866666713688e-02, 4.299999976158e-02,
        2.933333212799e-02, -8.333333002196e-03, -7.600001978874e-02, -1.796666514609e-01, -3.253333529101e-01, -5.189999470313e-01,
        5.189999470313e-01, 3.253333529101e-01, 1.796666514609e-01, 7.600001978874e-02, 8.333333002196e-03, -2.933333212799e-02,
        -4.299999976158e-02, -3.866666713688e-02, -2.233333370255e-02, 0.000000000000e+00, 2.233333370255e-02, 3.866666713688e-02,
    ];
    const LIN_VALUE: f64 = 0.23381712107522412;
    const LIN_GRAD: [f64; 35] = [
        -2.211428255354e-01, 2.211428255354e-01, 8.777144666399e-02, -7.200005217961e-03, -6.857141413007e-02, -1.011428542818e-01,
        -1.097142835345e-01, 1.200000160081e-02, -2.043587911740e-10, -2.400000209468e-03, 0.000000000000e+00, 2.400000209468e-03,
        2.043587911740e-10, -1.200000160081e-02, 1.097142835345e-01, 1.011428542818e-01, 6.857141413007e-02, 7.200005217961e-03,
        -8.777144666399e-02, -2.211428255354e-01, 2.211428255354e-01, 2.240000115122e-01, 1.119999852180e-01, 3.360001204354e-02,
        -1.600000252043e-02, -4.160000111035e-02, -4.800000170299e-02, -4.000000141348e-02, -5.600000216280e-03, 0.000000000000e+00,
        5.600000216280e-03, 6.400000217983e-03, -2.400001341956e-03, -2.560000128065e-02, -6.799999921662e-02,
    ];

    #[test]
    fn matches_the_official_pytorch_module() {
        let conv = case("layer1.conv.weight", &[4, 3, 3, 3], fixture_weights(108));
        let (v, g, _) = conv.value_and_grad(&mut reg());
        assert!(rel(v, CONV_VALUE) < 1e-5, "{v} vs {CONV_VALUE}");
        assert_close(&g, &CONV_GRAD, 1e-5, "conv gradient");
        let lin = case("fc.weight", &[5, 7], fixture_weights(35));
        for c in [lin.clone(), lin.transposed()] {
            let (v, g, _) = c.value_and_grad(&mut reg());
            assert!(rel(v, LIN_VALUE) < 1e-5, "{:?}: {v} vs {LIN_VALUE}", c.layout);
            let g = if c.layout == Layout::Transposed { reglab_core::testing::transpose(&g, 7, 5) } else { g };
            assert_close(&g, &LIN_GRAD, 1e-5, "linear gradient");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = reg();
        let v = Case::random("norm.weight", &[5], 17);
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(!r.accepts(&v.target().weight));
        let c = Case::random("fc.weight", &[3, 4], 18);
        assert!(r.accepts(&c.target().weight));
        let mut gw = vec![0.0; 11];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        let bad = Case { shape: vec![4, 4], ..c.clone() };
        assert!(matches!(r.eval(&bad.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        let empty = Case { shape: vec![0, 4], weight: vec![], ..c.clone() };
        assert_eq!(r.eval(&empty.target(), None, 1.0, Mode::Step).unwrap(), 0.0);
        assert!(CsBinary::from_spec(&Spec::parse("cs-binary=1:k=2").unwrap()).is_err());
        assert!(CsBinary::from_spec(&Spec::parse("cs-binary=1:norm=rows").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        let mut r = reg();
        Case::random("a.weight", &[9, 4], 19).transposed().value(&mut r);
        let small = Case::random("b.weight", &[3, 4], 20).transposed();
        assert_eq!(small.value(&mut r), small.value(&mut reg()));
    }

    /// `cargo test --release -p reglab-regularizers -- --ignored --nocapture cs_binary_timing`
    #[test]
    #[ignore]
    fn cs_binary_timing() {
        let mut c = Case::random("layers.0.weight", &[400, 784], 21).transposed();
        c.weight = random_vec(c.weight.len(), 0.05, 22);
        let mut gw = vec![0.0f32; c.weight.len()];
        let mut r = reg();
        let n = 200;
        let t0 = std::time::Instant::now();
        let mut acc = 0.0;
        for _ in 0..n {
            let mut g = TargetGrad { weight: &mut gw, bias: None };
            acc += r.eval(&c.target(), Some(&mut g), 1e-4, Mode::Step).unwrap();
        }
        let dt = t0.elapsed().as_secs_f64() / n as f64;
        println!("cs-binary, 400x784 (transposed), value + gradient: {:.3} ms per call (sum {acc:.3e})", dt * 1e3);
    }
}

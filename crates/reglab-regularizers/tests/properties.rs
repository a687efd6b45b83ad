//! Property tests of every parameter regularizer of the registry, on random shapes and values
//! (proptest, fixed seed: the same cases on every run):
//!
//! - the value is finite, and ≥ 0 for the regularizers that are sums of squares or norms;
//! - the analytic gradient matches central finite differences (the smooth ones);
//! - the proximal step is optimal: `p = prox_{ηr}(v)` minimizes `½‖x − v‖² + η·r(x)`, so no
//!   small perturbation of `p` lowers it, and 0 is a fixed point;
//! - both storage layouts (PyTorch row-major, burn's transposed) give the same value;
//! - the invariances of each regularizer's formula, from the table [`INVARIANCES`] that classifies
//!   every registry entry: permutations of the rows (units) and of the columns (inputs),
//!   orthogonal maps `W → QW` and `W → WQ`, and the scaling law `W → cW` (positive homogeneity of
//!   some degree, a polynomial in `c`, or, for anchored entries, a function of `W − W₀`), with the
//!   gradient mapped alike; and the table's exceptions are checked to be real.
//!
//! Each regularizer's own file has the tests against independent values and its invariants;
//! these check the registry as a whole, including entries added later (with their defaults).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError};
use reglab_core::testing::{Case, gradient_error, random_vec, transpose};
use reglab_core::{Layout, Mode, Regularizer, Spec, TargetGrad};
use reglab_regularizers::ENTRIES;
use reglab_regularizers::cauchy_schwarz::Norm;
use reglab_regularizers::cauchy_schwarz::eig::CsEig;

/// Regularizers whose value is a sum of squares, norms or Cauchy–Schwarz gaps: never negative.
const NON_NEGATIVE: &[&str] = &[
    "l2",
    "l1",
    "elastic-net",
    "group-lasso",
    "selective-decay",
    "l2-init",
    "wasserstein-init",
    "spectral",
    "soft-orth",
    "ortho-offdiag",
    "cs-binary",
    "cs-binary-pos",
    "cs-ternary",
    "cs-orth",
];

/// Smooth in the weights at random points (the others have thresholds that move with the
/// weights, a kink at the data, a singular pair energy or no value): checked by finite
/// differences.
const SMOOTH: &[&str] = &["l2", "l2-init", "soft-orth", "ortho-offdiag", "cs-binary", "cs-binary-pos", "cs-ternary", "cs-orth", "spectral"];

/// Each registry entry that builds with its defaults (`NAME=1`) and accepts a `[out, in]` layer.
fn entries(case: &Case) -> Vec<(&'static str, Box<dyn Regularizer>)> {
    ENTRIES
        .iter()
        .filter_map(|e| {
            let spec = Spec::parse(&format!("{}=1", e.name)).ok()?;
            let r = (e.build)(&spec).ok()?;
            r.accepts(&case.target().weight).then_some((e.name, r))
        })
        .collect()
}

/// A layer `[out, in]` with bias and initial values, from a seed.
fn layer(out: usize, inp: usize, seed: u64, transposed: bool) -> Case {
    let c = Case::random("layers.0.weight", &[out, inp], seed).with_random_bias(seed + 1).with_random_init(seed + 2);
    if transposed { c.transposed() } else { c }
}

fn config() -> Config {
    Config { cases: 24, rng_seed: RngSeed::Fixed(2025), failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn values_are_finite_non_negative_and_layout_free(out in 2usize..9, inp in 2usize..9, seed in 0u64..1_000_000) {
        let (row, tr) = (layer(out, inp, seed, false), layer(out, inp, seed, true));
        let mut others = entries(&tr);
        for ((name, mut r), (_, r2)) in entries(&row).into_iter().zip(others.iter_mut()) {
            // a shape the regularizer cannot take is a named error, never a panic
            let v = match r.eval(&row.target(), None, 1.0, Mode::Exact) {
                Ok(v) => v,
                Err(e) => {
                    prop_assert!(matches!(e, reglab_core::Error::Shape { .. }), "{name} [{out}, {inp}]: {e}");
                    continue;
                }
            };
            prop_assert!(v.is_finite(), "{name} [{out}, {inp}]: {v}");
            if NON_NEGATIVE.contains(&name) {
                prop_assert!(v >= -1e-9 * (1.0 + v.abs()), "{name} [{out}, {inp}]: {v} < 0");
            }
            let v2 = r2.eval(&tr.target(), None, 1.0, Mode::Exact).expect("the same shape, transposed");
            prop_assert!((v - v2).abs() <= 1e-5 * (1.0 + v.abs()), "{name} [{out}, {inp}]: row-major {v}, transposed {v2}");
        }
    }

    #[test]
    fn gradients_match_finite_differences(out in 2usize..7, inp in 2usize..7, seed in 0u64..1_000_000, transposed in any::<bool>()) {
        let c = layer(out, inp, seed, transposed);
        for (name, mut r) in entries(&c) {
            if !SMOOTH.contains(&name) {
                continue;
            }
            let e = gradient_error(r.as_mut(), &c, 2e-3);
            prop_assert!(e < 2e-2, "{name} [{out}, {inp}] transposed={transposed}: relative gradient error {e}");
        }
    }

    #[test]
    fn proximal_steps_are_optimal(out in 2usize..7, inp in 2usize..7, seed in 0u64..1_000_000, eta in 0.01f32..0.5) {
        let c = layer(out, inp, seed, false);
        for (name, mut r) in entries(&c) {
            if !r.has_prox() {
                continue;
            }
            let p = c.prox(r.as_mut(), eta).unwrap();
            let objective = |x: &[f32], r: &mut dyn Regularizer| -> f64 {
                let q = Case { weight: x.to_vec(), ..c.clone() };
                let d: f64 = x.iter().zip(&c.weight).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
                0.5 * d + eta as f64 * q.value(r)
            };
            let best = objective(&p, r.as_mut());
            for k in 0..8u64 {
                let delta = reglab_core::testing::random_vec(p.len(), 1e-2, seed ^ ((k + 1) * 7919));
                let moved: Vec<f32> = p.iter().zip(&delta).map(|(a, b)| a + b).collect();
                let f = objective(&moved, r.as_mut());
                prop_assert!(best <= f + 1e-9, "{name}: prox point {best} > a perturbation's {f}");
            }
            let zero = Case { weight: vec![0.0; c.weight.len()], ..c.clone() };
            prop_assert!(zero.prox(r.as_mut(), eta).unwrap().iter().all(|&v| v == 0.0), "{name}: 0 is not a fixed point");
        }
    }
}

#[test]
fn the_property_tests_cover_the_registry() {
    let c = layer(4, 5, 1, false);
    let names: Vec<&str> = entries(&c).into_iter().map(|(n, _)| n).collect();
    for n in NON_NEGATIVE.iter().chain(SMOOTH) {
        assert!(names.contains(n), "{n} is not built with its defaults on a [4, 5] layer");
    }
    assert!(entries(&c).iter().filter(|(_, r)| r.has_prox()).count() >= 3, "l1, elastic-net, group-lasso have a prox");
}

// ---------------------------------------------------------------------------------------------
// Invariances: what each regularizer's formula says it cannot see, entry by entry.
// ---------------------------------------------------------------------------------------------

/// Whether an invariance holds for a regularizer (see [`INVARIANCES`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Holds {
    /// Yes, mapping the weight alone (with a row map, the layer's bias moves with its rows: a
    /// unit keeps its bias); the gradient maps the same way (`∇r(QW) = Q∇r(W)`, `∇r(WQ) = ∇r(W)Q`).
    Yes,
    /// Only when the regularizer's reference is mapped the same way: `W₀` (anchors) or the matrix
    /// `C` of `cs-eig` (`C → QᵀCQ` for `W → WQ`). Mapping the weight alone changes the value.
    WithReference,
    /// `group-orth`: only maps that respect its contiguous groups of `n = out/G` rows (for
    /// permutations: permute whole groups and the rows inside each group; for orthogonal maps: one
    /// orthogonal `n×n` block per group).
    Groups,
    /// `conv-orth`: only maps of the input channels, the same at every kernel tap (`Q ⊗ I_{kh·kw}`
    /// on the columns of `[out, in·kh·kw]`); a general map of the flattened columns mixes taps,
    /// which the shifted self-convolution sees.
    Channels,
    /// No, and why.
    No(&'static str),
}

/// How the value scales, `W → cW` for `c > 0` (the bias and `W₀` scaled alike).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// `r(cW) = Σ_k c^{p_k} A_k(W)`: one exponent is positive homogeneity of degree `p`
    /// (`∇r(cW) = c^{p−1}∇r(W)`); several make `r(cW)` a polynomial in `c` with these exponents
    /// (e.g. `(c²σ² − 1)² = c⁴σ⁴ − 2c²σ² + 1`), and the gradient one with the exponents `p_k − 1`.
    Poly(&'static [i32]),
    /// Anchored to `W₀`: the value is 2-homogeneous in `(W, W₀)` jointly, and unchanged when the
    /// same shift is added to `W` and `W₀` (any matrix `D`, or only a constant `t·1`).
    Anchored(Shift),
    /// Not a penalty: value and gradient identically 0.
    Zero,
    /// No scaling law, and why.
    No(&'static str),
}

/// The shifts `W → W + D`, `W₀ → W₀ + D` that leave an anchored regularizer unchanged.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shift {
    /// Any `D`: the value depends on `W − W₀` only.
    Any,
    /// Only `D = t·1` (sorted values shift together).
    Constant,
}

/// The invariances of one registry entry, from the formula in its documentation. Matrices are in
/// the mathematical orientation `[out, in]` (a kernel `[out, in, kh, kw]` read as
/// `[out, in·kh·kw]`), whatever the storage layout.
struct Invariances {
    name: &'static str,
    /// Permutations of the rows (output units, with their biases).
    rows: Holds,
    /// Permutations of the columns (inputs).
    cols: Holds,
    /// `W → QW` (and `b → Qb`), `Q` orthogonal.
    left: Holds,
    /// `W → WQ`, `Q` orthogonal.
    right: Holds,
    scale: Scale,
}

const ENTRYWISE_NORM: &str = "a sum over entries (|w|, ranks of |w|): a rotation changes the entries";
const ROW_POWERS: &str = "each row's ℓ is built from entrywise powers Σxᵢ⁴ (…) of that row: not rotation-invariant";

/// Every registry entry, classified (checked against [`ENTRIES`] by
/// `the_invariance_table_covers_the_registry`).
const INVARIANCES: &[Invariances] = &[
    // ½‖W‖²_F: orthogonally invariant on both sides, degree 2
    Invariances { name: "l2", rows: Holds::Yes, cols: Holds::Yes, left: Holds::Yes, right: Holds::Yes, scale: Scale::Poly(&[2]) },
    // Σ|W_ij|
    Invariances {
        name: "l1",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No(ENTRYWISE_NORM),
        right: Holds::No(ENTRYWISE_NORM),
        scale: Scale::Poly(&[1]),
    },
    // α‖W‖₁ + (1 − α)/2‖W‖²: degrees 1 and 2 mixed
    Invariances {
        name: "elastic-net",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("its ℓ1 part Σ|W_ij| is not rotation-invariant"),
        right: Holds::No("its ℓ1 part Σ|W_ij| is not rotation-invariant"),
        scale: Scale::Poly(&[1, 2]),
    },
    // Σ_r ‖W_r‖₂ over rows: W Q keeps every row norm, Q W mixes the groups
    Invariances {
        name: "group-lasso",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("mixes the rows, which are the groups: Σ_r ‖W_r‖ changes"),
        right: Holds::Yes,
        scale: Scale::Poly(&[1]),
    },
    // value ≡ 0 (stop-gradient); gradient sign(w)·A·s·sech²(s|w|) with τ, s, A permutation-
    // invariant statistics of |w|, and invariant under w → cw (s → s/c, A → cA) like ℓ1's sign(w)
    Invariances {
        name: "hypersparse",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("(value ≡ 0) the gradient is entrywise in |w| with a threshold ranked over |w|"),
        right: Holds::No("(value ≡ 0) the gradient is entrywise in |w| with a threshold ranked over |w|"),
        scale: Scale::Poly(&[1]),
    },
    // ½Σ_{|w| < τ} w², τ a magnitude rank: τ scales with W
    Invariances {
        name: "selective-decay",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No(ENTRYWISE_NORM),
        right: Holds::No(ENTRYWISE_NORM),
        scale: Scale::Poly(&[2]),
    },
    // ½‖W − W₀‖²_F
    Invariances {
        name: "l2-init",
        rows: Holds::WithReference,
        cols: Holds::WithReference,
        left: Holds::WithReference,
        right: Holds::WithReference,
        scale: Scale::Anchored(Shift::Any),
    },
    // a tensor outside the head (`layers.0.weight`): ½‖W − W₀‖²_F, as l2-init
    Invariances {
        name: "l2-sp",
        rows: Holds::WithReference,
        cols: Holds::WithReference,
        left: Holds::WithReference,
        right: Holds::WithReference,
        scale: Scale::Anchored(Shift::Any),
    },
    // Σ (sort(w) − sort(w₀))²: any permutation of W's entries alone keeps it
    Invariances {
        name: "wasserstein-init",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("a rotation changes the distribution of the entries"),
        right: Holds::No("a rotation changes the distribution of the entries"),
        scale: Scale::Anchored(Shift::Constant),
    },
    // not a penalty (value 0, no gradient; a post-step transform): everything holds vacuously
    Invariances { name: "shrink-perturb", rows: Holds::Yes, cols: Holds::Yes, left: Holds::Yes, right: Holds::Yes, scale: Scale::Zero },
    // (1/ν)Σ_rows ℓ(W_r), ℓ = N‖x‖₄⁴ − ‖x‖₂⁴: 4-homogeneous, symmetric in the entries of a row
    Invariances {
        name: "cs-binary",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No(ROW_POWERS),
        right: Holds::No(ROW_POWERS),
        scale: Scale::Poly(&[4]),
    },
    // ℓ = ‖x‖₂²‖x‖₄⁴ − (Σxᵢ³)²: 6-homogeneous
    Invariances {
        name: "cs-binary-pos",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No(ROW_POWERS),
        right: Holds::No(ROW_POWERS),
        scale: Scale::Poly(&[6]),
    },
    // ℓ = ‖x‖₂²‖x‖₆⁶ − ‖x‖₄⁸: 8-homogeneous
    Invariances {
        name: "cs-ternary",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No(ROW_POWERS),
        right: Holds::No(ROW_POWERS),
        scale: Scale::Poly(&[8]),
    },
    // (out‖WWᵀ‖²_F − ‖W‖⁴_F)/ν: invariant under W → QWP (documented), 4-homogeneous
    Invariances { name: "cs-orth", rows: Holds::Yes, cols: Holds::Yes, left: Holds::Yes, right: Holds::Yes, scale: Scale::Poly(&[4]) },
    // Σ_rows ‖x‖²‖Cx‖² − (xᵀCx)²: x → Qᵀx needs C → QᵀCQ; rows are separate quartics
    Invariances {
        name: "cs-eig",
        rows: Holds::Yes,
        cols: Holds::WithReference,
        left: Holds::No("mixes the rows, and the sum of per-row quartics ‖x‖²‖Cx‖² − (xᵀCx)² is not a function of WᵀW"),
        right: Holds::WithReference,
        scale: Scale::Poly(&[4]),
    },
    // (σ_max([W | b])² − 1)² (k = 2): [QW | Qb] = Q[W | b], [WQ | b] = [W | b]·diag(Q, 1)
    Invariances { name: "spectral", rows: Holds::Yes, cols: Holds::Yes, left: Holds::Yes, right: Holds::Yes, scale: Scale::Poly(&[0, 2, 4]) },
    // ‖WWᵀ − I‖²_F = c⁴‖G‖² − 2c²tr G + out at cW
    Invariances { name: "soft-orth", rows: Holds::Yes, cols: Holds::Yes, left: Holds::Yes, right: Holds::Yes, scale: Scale::Poly(&[0, 2, 4]) },
    // s(α(x − τ))·x, x = ‖WWᵀ − I‖_F: invariant under W → QWP (documented)
    Invariances {
        name: "lambda-orth",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::Yes,
        right: Holds::Yes,
        scale: Scale::No("a sigmoid gate s(α(x − τ)) of the unsquared x = ‖WWᵀ − I‖_F"),
    },
    // ‖(WWᵀ) ⊙ (1 − I)‖²: W → DWP (D signs and permutations, P orthogonal, documented), degree 4
    Invariances {
        name: "ortho-offdiag",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("QWWᵀQᵀ mixes the diagonal of the Gram matrix into the off-diagonal (only signs and permutations of rows keep it)"),
        right: Holds::Yes,
        scale: Scale::Poly(&[4]),
    },
    // Σ_g ‖W_gW_gᵀ − I‖² (or the tall form) over contiguous groups of rows (variant=inter)
    Invariances { name: "group-orth", rows: Holds::Groups, cols: Holds::Yes, left: Holds::Groups, right: Holds::Yes, scale: Scale::Poly(&[0, 2, 4]) },
    // ‖conv(K, K) − I_r0‖²: O(t) → QO(t)Qᵀ for mixed filters; channels summed out at every tap
    Invariances {
        name: "conv-orth",
        rows: Holds::Yes,
        cols: Holds::Channels,
        left: Holds::Yes,
        right: Holds::Channels,
        scale: Scale::Poly(&[0, 2, 4]),
    },
    // pairs of normalized rows: inner products and norms are kept by W → WQ, not by mixing rows
    Invariances {
        name: "mhe",
        rows: Holds::Yes,
        cols: Holds::Yes,
        left: Holds::No("mixes the rows: other points on the sphere"),
        right: Holds::Yes,
        scale: Scale::No("ŵ = w/√(‖w‖² + ε) with ε = 1e-4: scale-free only where ‖w‖² ≫ ε"),
    },
];

/// A layer in the mathematical orientation: `w` is `[rows, cols]` row-major (a kernel
/// `[out, in, kh, kw]` read as `[out, in·kh·kw]`), `b` the bias `[rows]`, `w0` the anchor `W₀`.
/// `transposed`: stored as burn's `Linear` `[in, out]` (2-D only) when evaluated.
#[derive(Debug, Clone)]
struct Layer {
    shape: Vec<usize>,
    transposed: bool,
    rows: usize,
    cols: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    w0: Vec<f32>,
    /// Seeds `cs-eig`'s matrix `C`.
    seed: u64,
}

/// Multiples of 2⁻¹⁶ in `[−0.5, 0.5]`: scaled by `k/16` (`k < 64`) or shifted by another such
/// value, they stay exact in f32, so the scaling tests see no rounding of their inputs.
fn quantize(v: Vec<f32>) -> Vec<f32> {
    v.into_iter().map(|x| (x * 65536.0).round() / 65536.0).collect()
}

fn random_layer(shape: &[usize], seed: u64, transposed: bool, quantized: bool) -> Layer {
    let rows = shape[0];
    let cols = shape[1..].iter().product();
    let q = |v: Vec<f32>| if quantized { quantize(v) } else { v };
    Layer {
        shape: shape.to_vec(),
        transposed: transposed && shape.len() == 2,
        rows,
        cols,
        w: q(random_vec(rows * cols, 0.5, seed)),
        b: q(random_vec(rows, 0.5, seed + 1)),
        w0: q(random_vec(rows * cols, 0.5, seed + 2)),
        seed,
    }
}

/// The regularizer as the registry builds it with its defaults (`NAME=1`); `cs-eig`, whose `C` is
/// required, from a random symmetric `C` of the layer's row length, mapped to `QᵀCQ` by `c_map = Q`.
fn build(name: &str, l: &Layer, c_map: Option<&[f64]>) -> Box<dyn Regularizer> {
    if name == "cs-eig" {
        let n = l.cols;
        let r = random_vec(n * n, 1.0, l.seed + 3);
        let mut c: Vec<f64> = (0..n * n).map(|ij| 0.5 * (r[ij] as f64 + r[(ij % n) * n + ij / n] as f64)).collect();
        if let Some(q) = c_map {
            c = mm(&mm(&tr(q, n, n), &c, n, n, n), q, n, n, n);
        }
        return Box::new(CsEig::from_matrix(&c, n, 1e-6, Norm::Numel).expect("a symmetric C"));
    }
    let e = ENTRIES.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name} is not in the registry"));
    (e.build)(&Spec::parse(&format!("{name}=1")).unwrap()).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// Value and gradient of a regularizer on a layer.
struct Eval {
    value: f64,
    /// `∇_W r` (`[rows, cols]`, mathematical orientation) followed by `∇_b r` (`[rows]`).
    grad: Vec<f64>,
}

/// `r` and its gradient on `l` (stored as `l.transposed` says, Exact mode, a fresh instance), or
/// `None` when the regularizer does not take this shape (it does not accept the tensor, or refuses
/// it with a shape error, e.g. `group-orth` when `G` does not divide `out`).
fn eval(name: &str, l: &Layer, c_map: Option<&[f64]>) -> Option<Eval> {
    let mut r = build(name, l, c_map);
    let mut c = Case {
        name: "layers.0.weight".into(),
        shape: l.shape.clone(),
        layout: Layout::RowMajor,
        weight: l.w.clone(),
        bias: Some(l.b.clone()),
        init: Some(l.w0.clone()),
    };
    if l.transposed {
        c = c.transposed();
    }
    if !r.accepts(&c.target().weight) {
        return None;
    }
    let (mut gw, mut gb) = (vec![0.0f32; l.w.len()], vec![0.0f32; l.rows]);
    let mut g = TargetGrad { weight: &mut gw, bias: Some(&mut gb) };
    let value = match r.eval(&c.target(), Some(&mut g), 1.0, Mode::Exact) {
        Ok(v) => v,
        Err(reglab_core::Error::Shape { .. }) => return None,
        Err(e) => panic!("{name} {:?}: {e}", l.shape),
    };
    if l.transposed {
        gw = transpose(&gw, l.cols, l.rows);
    }
    Some(Eval { value, grad: gw.iter().chain(&gb).map(|&x| x as f64).collect() })
}

/// `A B` for row-major `A [n, k]`, `B [k, m]`, in f64.
fn mm(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    (0..n * m).map(|ij| (0..k).map(|l| a[(ij / m) * k + l] * b[l * m + ij % m]).sum()).collect()
}

/// Transpose of a row-major `[n, m]` matrix.
fn tr(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    (0..n * m).map(|ji| a[(ji % n) * m + ji / n]).collect()
}

fn to64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

fn to32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

fn identity(n: usize) -> Vec<f64> {
    (0..n * n).map(|ij| if ij / n == ij % n { 1.0 } else { 0.0 }).collect()
}

/// A random permutation of `0..n`.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let keys = random_vec(n, 1.0, seed);
    let mut p: Vec<usize> = (0..n).collect();
    p.sort_by(|&i, &j| keys[i].total_cmp(&keys[j]));
    p
}

/// The permutation matrix `P` with `(PX)_i = X_{p(i)}`.
fn permutation_matrix(p: &[usize]) -> Vec<f64> {
    let n = p.len();
    let mut m = vec![0.0; n * n];
    for (i, &pi) in p.iter().enumerate() {
        m[i * n + pi] = 1.0;
    }
    m
}

/// A random orthogonal `n×n` matrix: the product of `n` Householder reflections `I − 2vvᵀ/vᵀv`
/// with random `v` (the form of the `Q` factor of a Householder QR of a random matrix).
fn orthogonal(n: usize, seed: u64) -> Vec<f64> {
    let mut q = identity(n);
    for k in 0..n as u64 {
        let v = to64(&random_vec(n, 1.0, seed.wrapping_mul(31).wrapping_add(k)));
        let vv: f64 = v.iter().map(|x| x * x).sum();
        if vv == 0.0 {
            continue;
        }
        let vq: Vec<f64> = (0..n).map(|j| (0..n).map(|i| v[i] * q[i * n + j]).sum()).collect();
        for i in 0..n {
            for j in 0..n {
                q[i * n + j] -= 2.0 * v[i] * vq[j] / vv;
            }
        }
    }
    q
}

/// Block-diagonal matrix of `blocks`, each `k×k`.
fn block_diagonal(blocks: &[Vec<f64>], k: usize) -> Vec<f64> {
    let n = blocks.len() * k;
    let mut m = vec![0.0; n * n];
    for (g, blk) in blocks.iter().enumerate() {
        for i in 0..k {
            for j in 0..k {
                m[(g * k + i) * n + g * k + j] = blk[i * k + j];
            }
        }
    }
    m
}

/// `A ⊗ I_k`.
fn kron_identity(a: &[f64], n: usize, k: usize) -> Vec<f64> {
    let nk = n * k;
    let mut m = vec![0.0; nk * nk];
    for i in 0..n {
        for j in 0..n {
            for t in 0..k {
                m[(i * k + t) * nk + j * k + t] = a[i * n + j];
            }
        }
    }
    m
}

/// `group-orth`'s group size with its defaults (`groups = 32`): `n = out/G`, `G = min(32, ⌊out/4⌋)`;
/// `None` when `G` is 0 or does not divide `out` (the shapes it refuses).
fn group_size(out: usize) -> Option<usize> {
    let g = 32.min(out / 4);
    (g > 0 && out.is_multiple_of(g)).then(|| out / g)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    /// `W → MW` (and `b → Mb`).
    Left,
    /// `W → WM`.
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Permutation,
    Orthogonal,
}

/// The map `M` of the size of `side` that `status` says keeps the regularizer, `general` for the
/// negative checks (any permutation or orthogonal matrix, ignoring the structure of `Groups` and
/// `Channels`); `None` when there is nothing to check (`No`, or a shape the structure does not fit).
fn map_for(status: Holds, side: Side, kind: Kind, l: &Layer, seed: u64) -> Option<Vec<f64>> {
    let n = if side == Side::Left { l.rows } else { l.cols };
    let full = |n: usize, seed: u64| match kind {
        Kind::Permutation => permutation_matrix(&permutation(n, seed)),
        Kind::Orthogonal => orthogonal(n, seed),
    };
    match status {
        Holds::No(_) => None,
        Holds::Yes | Holds::WithReference => Some(full(n, seed)),
        Holds::Groups => {
            assert_eq!(side, Side::Left, "groups are rows");
            let k = group_size(l.rows)?;
            let blocks: Vec<Vec<f64>> = (0..l.rows / k).map(|g| full(k, seed + 101 * g as u64)).collect();
            let within = block_diagonal(&blocks, k);
            Some(match kind {
                // and permute the groups themselves
                Kind::Permutation => mm(&kron_identity(&permutation_matrix(&permutation(l.rows / k, seed + 7)), l.rows / k, k), &within, n, n, n),
                Kind::Orthogonal => within,
            })
        }
        Holds::Channels => {
            assert_eq!(side, Side::Right, "channels are columns");
            assert_eq!(l.shape.len(), 4, "channels of a kernel [out, in, kh, kw]");
            let (ch, taps) = (l.shape[1], l.shape[2] * l.shape[3]);
            Some(kron_identity(&full(ch, seed), ch, taps))
        }
    }
}

/// The layer mapped by `m` on `side`; `reference`: `W₀` too. The bias follows the rows.
fn map_layer(l: &Layer, side: Side, m: &[f64], reference: bool) -> Layer {
    let (r, c) = (l.rows, l.cols);
    let apply = |x: &[f32]| match side {
        Side::Left => to32(&mm(m, &to64(x), r, r, c)),
        Side::Right => to32(&mm(&to64(x), m, r, c, c)),
    };
    Layer {
        w: apply(&l.w),
        b: if side == Side::Left { to32(&mm(m, &to64(&l.b), r, r, 1)) } else { l.b.clone() },
        w0: if reference { apply(&l.w0) } else { l.w0.clone() },
        ..l.clone()
    }
}

/// The gradient `[∇_W | ∇_b]` mapped as the weight was: `M∇_W`, `M∇_b` (left) or `∇_W M` (right).
fn map_grad(g: &[f64], l: &Layer, side: Side, m: &[f64]) -> Vec<f64> {
    let (r, c) = (l.rows, l.cols);
    let (gw, gb) = g.split_at(r * c);
    match side {
        Side::Left => [mm(m, gw, r, r, c), mm(m, gb, r, r, 1)].concat(),
        Side::Right => [mm(gw, m, r, c, c), gb.to_vec()].concat(),
    }
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The layer with every input (weight, bias, `W₀`) nudged by one ulp up or down at random.
fn nudged(l: &Layer, seed: u64) -> Layer {
    let nudge = |x: &[f32], seed: u64| -> Vec<f32> {
        let s = random_vec(x.len(), 1.0, seed);
        x.iter().zip(&s).map(|(&v, &r)| v * (1.0 + r.signum() * f32::EPSILON)).collect()
    };
    Layer { w: nudge(&l.w, seed), b: nudge(&l.b, seed + 1), w0: nudge(&l.w0, seed + 2), ..l.clone() }
}

/// How much value and gradient move when every input moves by one ulp: the rounding noise of the
/// computation at this point (its sensitivity to its inputs, and its own f32 arithmetic where the
/// formula is ill-conditioned: `spectral` with σ ≈ 1, `mhe`'s `1/(2 − 2c)` for nearly parallel
/// rows with `c` from an f32 Gram matrix, …). Two random nudges, the larger change.
fn noise(name: &str, l: &Layer, c_map: Option<&[f64]>, e: &Eval) -> (f64, f64) {
    let (mut dv, mut dg) = (0.0f64, 0.0f64);
    for k in 0..2 {
        let n = eval(name, &nudged(l, l.seed ^ (0x5eed + k)), c_map).expect("the same shape");
        dv = dv.max((n.value - e.value).abs());
        dg = dg.max(norm(&n.grad.iter().zip(&e.grad).map(|(a, b)| a - b).collect::<Vec<_>>()));
    }
    (dv, dg)
}

/// Compare the regularizer on `l` and on its image under `m`: the value must be unchanged and the
/// gradient mapped. Tolerances: relative (`1e-5` on values, `1e-4` on gradients), plus 8× the
/// rounding noise measured at both points by [`noise`] (a map rounds its result to f32, about
/// half an ulp per entry, and reorders the sums).
fn check_mapped(name: &str, what: &str, l: &Layer, side: Side, m: &[f64], reference: bool) -> Result<(), TestCaseError> {
    let c_map = (reference && side == Side::Right && name == "cs-eig").then_some(m);
    let Some(e0) = eval(name, l, None) else { return Ok(()) };
    let mapped = map_layer(l, side, m, reference);
    let e1 = eval(name, &mapped, c_map).unwrap_or_else(|| panic!("{name}: the mapped layer has the same shape"));
    let (n0, n1) = (noise(name, l, None, &e0), noise(name, &mapped, c_map, &e1));
    let gmax = norm(&e0.grad).max(norm(&e1.grad));
    let (v0, v1) = (e0.value, e1.value);
    let tol = 1e-5 * v0.abs().max(v1.abs()) + 8.0 * n0.0.max(n1.0) + 1e-12;
    prop_assert!((v0 - v1).abs() <= tol, "{name} {:?} transposed={} {what}: value {v0} → {v1} (tolerance {tol:e})", l.shape, l.transposed);
    let want = map_grad(&e0.grad, l, side, m);
    let d: f64 = norm(&want.iter().zip(&e1.grad).map(|(a, b)| a - b).collect::<Vec<_>>());
    let gtol = 1e-4 * gmax + 8.0 * n0.1.max(n1.1) + 1e-12;
    prop_assert!(
        d <= gtol,
        "{name} {:?} transposed={} {what}: gradient not mapped, ‖Δ‖ = {d:e} (‖∇‖ = {gmax:e}, tolerance {gtol:e})",
        l.shape,
        l.transposed
    );
    Ok(())
}

/// Every entry on the layer it takes (a 2-D `[out, in]`, else the kernel), `side`/`kind` as its
/// row of [`INVARIANCES`] says.
fn check_maps(side: Side, kind: Kind, layer: &Layer, kernel: &Layer, seed: u64) -> Result<(), TestCaseError> {
    for inv in INVARIANCES {
        let status = match (side, kind) {
            (Side::Left, Kind::Permutation) => inv.rows,
            (Side::Right, Kind::Permutation) => inv.cols,
            (Side::Left, Kind::Orthogonal) => inv.left,
            (Side::Right, Kind::Orthogonal) => inv.right,
        };
        let l = if takes_matrices(inv.name) { layer } else { kernel };
        let Some(m) = map_for(status, side, kind, l, seed) else { continue };
        check_mapped(inv.name, &format!("{kind:?} on the {side:?}"), l, side, &m, status == Holds::WithReference)?;
    }
    Ok(())
}

/// Whether the entry takes a 2-D layer (all but `conv-orth`, which takes 4-D kernels only).
fn takes_matrices(name: &str) -> bool {
    let l = random_layer(&[8, 6], 1, false, false);
    build(name, &l, None).accepts(&reglab_core::TensorRef::new(&l.shape, &l.w))
}

/// Weights `w_j` with `Σ_j w_j c_j^e = c^e` for each exponent `e` (as many nodes `c_j` as
/// exponents): then `f(c) = Σ_j w_j f(c_j)` for every `f(c) = Σ_e A_e c^e`.
fn interpolation_weights(nodes: &[f64], exps: &[f64], c: f64) -> Vec<f64> {
    let m = nodes.len();
    assert_eq!(m, exps.len());
    let mut a: Vec<Vec<f64>> = exps.iter().map(|&e| nodes.iter().map(|&x| x.powf(e)).chain([c.powf(e)]).collect()).collect();
    for col in 0..m {
        let p = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        a.swap(col, p);
        for i in 0..m {
            if i != col {
                let f = a[i][col] / a[col][col];
                let pivot = a[col].clone();
                a[i].iter_mut().zip(&pivot).for_each(|(x, y)| *x -= f * y);
            }
        }
    }
    (0..m).map(|j| a[j][m] / a[j][j]).collect()
}

/// The layer with every value (weight, bias, `W₀`) times `c`, and plus `shift` (`W` and `W₀`).
fn affine_layer(l: &Layer, c: f32, shift: Option<&[f32]>) -> Layer {
    let s = |x: &[f32], d: Option<&[f32]>| -> Vec<f32> { x.iter().enumerate().map(|(i, &v)| c * v + d.map_or(0.0, |d| d[i])).collect() };
    Layer { w: s(&l.w, shift), b: s(&l.b, None), w0: s(&l.w0, shift), ..l.clone() }
}

/// Nodes at which a polynomial scaling law is sampled (exact in f32 on quantized layers).
const NODES: [f64; 3] = [1.0, 0.5, 2.0];

fn check_scaling(name: &str, scale: Scale, l: &Layer, c: f64) -> Result<(), TestCaseError> {
    let Some(e1) = eval(name, l, None) else { return Ok(()) };
    let at = |c: f64| eval(name, &affine_layer(l, c as f32, None), None).expect("the same shape");
    let ec = at(c);
    let what = format!("{name} {:?} transposed={} at c = {c}", l.shape, l.transposed);
    match scale {
        Scale::Poly(exps) => {
            let nodes = &NODES[..exps.len()];
            let samples: Vec<Eval> = nodes.iter().map(|&x| if x == 1.0 { Eval { value: e1.value, grad: e1.grad.clone() } } else { at(x) }).collect();
            let ev: Vec<f64> = exps.iter().map(|&p| p as f64).collect();
            let w = interpolation_weights(nodes, &ev, c);
            let want: f64 = w.iter().zip(&samples).map(|(w, s)| w * s.value).sum();
            let size: f64 = w.iter().zip(&samples).map(|(w, s)| (w * s.value).abs()).sum::<f64>() + ec.value.abs();
            let tol = 1e-5 * size + 1e-12;
            prop_assert!((ec.value - want).abs() <= tol, "{what}: value {} but Σ c^p A_p = {want} (exponents {exps:?})", ec.value);
            // the gradient, with exponents p − 1
            let eg: Vec<f64> = ev.iter().map(|p| p - 1.0).collect();
            let wg = interpolation_weights(nodes, &eg, c);
            let mut want = vec![0.0; ec.grad.len()];
            let mut gsize = norm(&ec.grad);
            for (w, s) in wg.iter().zip(&samples) {
                want.iter_mut().zip(&s.grad).for_each(|(a, g)| *a += w * g);
                gsize += w.abs() * norm(&s.grad);
            }
            let d = norm(&want.iter().zip(&ec.grad).map(|(a, b)| a - b).collect::<Vec<_>>());
            prop_assert!(d <= 1e-4 * gsize + 1e-12, "{what}: gradient off its scaling law by ‖Δ‖ = {d:e} (scale {gsize:e})");
        }
        Scale::Anchored(_) => {
            // 2-homogeneous in (W, W₀) jointly; the gradient 1-homogeneous
            prop_assert!((ec.value - c * c * e1.value).abs() <= 1e-6 * ec.value.abs() + 1e-12, "{what}: {} vs c²·{}", ec.value, e1.value);
            let d = norm(&ec.grad.iter().zip(&e1.grad).map(|(a, b)| a - c * b).collect::<Vec<_>>());
            prop_assert!(d <= 1e-6 * norm(&ec.grad) + 1e-12, "{what}: gradient not c·∇r, ‖Δ‖ = {d:e}");
        }
        Scale::Zero => {
            for e in [&e1, &ec] {
                prop_assert!(e.value == 0.0 && e.grad.iter().all(|&g| g == 0.0), "{what}: not identically 0");
            }
        }
        Scale::No(_) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Row and column permutations, `W → QW` and `W → WQ` with random orthogonal `Q`: the value
    /// unchanged and the gradient mapped alike, where the table says so.
    #[test]
    fn permutations_and_orthogonal_maps_keep_values_and_map_gradients(
        out in 2usize..13, inp in 2usize..10, ch in 1usize..4, kh in 1usize..4, kw in 1usize..4, seed in 0u64..1_000_000, transposed in any::<bool>()
    ) {
        let (l, k) = (random_layer(&[out, inp], seed, transposed, false), random_layer(&[out, ch, kh, kw], seed + 10, false, false));
        for (side, kind) in [(Side::Left, Kind::Permutation), (Side::Right, Kind::Permutation), (Side::Left, Kind::Orthogonal), (Side::Right, Kind::Orthogonal)] {
            check_maps(side, kind, &l, &k, seed + 20)?;
        }
    }

    /// `c = k/16` and quantized layers: `cW` is exact in f32, so only the regularizer rounds.
    #[test]
    fn scaling_follows_each_homogeneity_law(
        out in 2usize..13, inp in 2usize..10, ch in 1usize..4, kh in 1usize..4, kw in 1usize..4, seed in 0u64..1_000_000, transposed in any::<bool>(), k in 3u32..49
    ) {
        let (l, kern) = (random_layer(&[out, inp], seed, transposed, true), random_layer(&[out, ch, kh, kw], seed + 10, false, true));
        for inv in INVARIANCES {
            check_scaling(inv.name, inv.scale, if takes_matrices(inv.name) { &l } else { &kern }, k as f64 / 16.0)?;
        }
    }

    /// `r(W + D; W₀ + D) = r(W; W₀)` for the anchored entries (exact shifts on quantized layers).
    #[test]
    fn anchored_values_depend_only_on_the_offset_from_the_anchor(
        out in 2usize..13, inp in 2usize..10, seed in 0u64..1_000_000, transposed in any::<bool>(), t in -64i32..64
    ) {
        let l = random_layer(&[out, inp], seed, transposed, true);
        for inv in INVARIANCES {
            let Scale::Anchored(shift) = inv.scale else { continue };
            let d: Vec<f32> = match shift {
                Shift::Any => quantize(random_vec(l.w.len(), 0.5, seed + 5)),
                Shift::Constant => vec![t as f32 / 128.0; l.w.len()],
            };
            let (e0, e1) = (eval(inv.name, &l, None).unwrap(), eval(inv.name, &affine_layer(&l, 1.0, Some(&d)), None).unwrap());
            prop_assert!((e0.value - e1.value).abs() <= 1e-9 * e0.value.abs(), "{}: {} → {} after the shift", inv.name, e0.value, e1.value);
            let dg = norm(&e0.grad.iter().zip(&e1.grad).map(|(a, b)| a - b).collect::<Vec<_>>());
            prop_assert!(dg <= 1e-9 * norm(&e0.grad), "{}: the gradient moved by {dg:e} after the shift", inv.name);
        }
    }
}

#[test]
fn the_invariance_table_covers_the_registry() {
    let table: Vec<&str> = INVARIANCES.iter().map(|i| i.name).collect();
    for e in ENTRIES {
        assert_eq!(table.iter().filter(|&&n| n == e.name).count(), 1, "{} must be in INVARIANCES exactly once", e.name);
    }
    assert_eq!(table.len(), ENTRIES.len(), "INVARIANCES names entries that are not in the registry");
    // and every entry is exercised: it evaluates on the layer the tests give it
    let (l, k) = (random_layer(&[8, 6], 3, false, false), random_layer(&[4, 3, 3, 3], 4, false, false));
    for inv in INVARIANCES {
        let layer = if takes_matrices(inv.name) { &l } else { &k };
        assert!(eval(inv.name, layer, None).is_some(), "{} refuses {:?}", inv.name, layer.shape);
        assert!(!matches!(inv.rows, Holds::Channels) && !matches!(inv.left, Holds::Channels), "{}: channels are columns", inv.name);
        assert!(!matches!(inv.cols, Holds::Groups) && !matches!(inv.right, Holds::Groups), "{}: groups are rows", inv.name);
    }
}

/// The table is not too pessimistic and the checks can fail: wherever it says an invariance does
/// not hold (or holds only with the reference mapped, or only for structured maps), a general map
/// of the weight alone changes the value or the gradient; where it says there is no scaling law,
/// the apparent degree `ln(r(cW)/r(W))/ln c` differs between `c = 0.01` and `c = 4`.
#[test]
fn the_exceptions_in_the_invariance_table_are_real() {
    let (l, k) = (random_layer(&[8, 6], 11, false, false), random_layer(&[4, 3, 3, 3], 12, false, false));
    let mut checked = 0;
    for inv in INVARIANCES {
        let layer = if takes_matrices(inv.name) { &l } else { &k };
        for (status, side, kind) in [
            (inv.rows, Side::Left, Kind::Permutation),
            (inv.cols, Side::Right, Kind::Permutation),
            (inv.left, Side::Left, Kind::Orthogonal),
            (inv.right, Side::Right, Kind::Orthogonal),
        ] {
            if status == Holds::Yes {
                continue;
            }
            let m = map_for(Holds::Yes, side, kind, layer, 99).unwrap();
            let (e0, e1) = (eval(inv.name, layer, None).unwrap(), eval(inv.name, &map_layer(layer, side, &m, false), None).unwrap());
            let dv = (e0.value - e1.value).abs() / e0.value.abs().max(e1.value.abs()).max(1e-300);
            let want = map_grad(&e0.grad, layer, side, &m);
            let dg = norm(&want.iter().zip(&e1.grad).map(|(a, b)| a - b).collect::<Vec<_>>()) / norm(&e0.grad).max(norm(&e1.grad)).max(1e-300);
            assert!(dv > 1e-3 || dg > 1e-3, "{} {kind:?} on the {side:?} ({status:?}): a general map of W alone leaves it unchanged", inv.name);
            checked += 1;
        }
        if let Scale::No(_) = inv.scale {
            let v = |c: f32| eval(inv.name, &affine_layer(layer, c, None), None).unwrap().value;
            let degree = |c: f32| (v(c) / v(1.0)).ln() / (c as f64).ln();
            let (d1, d2) = (degree(0.01), degree(4.0));
            assert!((d1 - d2).abs() > 1e-2, "{}: apparent degrees {d1} and {d2}: homogeneous after all?", inv.name);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} exceptions checked");
}

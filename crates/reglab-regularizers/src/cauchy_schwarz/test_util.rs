//! Checks shared by the tests of the five files (the general ones are in
//! [`reglab_core::testing`]).

use reglab_core::testing::{Case, assert_close, fixture_weights, rel, transpose};
use reglab_core::{Layout, Regularizer};

/// `(1/ν) Σ_rows ℓ(row)` by `per_row` on the dense rows of `c`; `ν = numel` or 1.
pub fn rows_naive(c: &Case, numel: bool, per_row: impl Fn(&[f64]) -> f64) -> f64 {
    let (rows, cols, m) = reglab_core::testing::dense(c);
    let s: f64 = m.chunks(cols).map(per_row).sum();
    if numel { s / (rows * cols) as f64 } else { s }
}

/// `∇r` of a per-row regularizer with `norm=numel`, row-major: `∇ℓ(row)` by `row_grad` on
/// each row of the dense `[rows, cols]` matrix `m`, over `ν = rows·cols`.
pub fn rows_grad(rows: usize, cols: usize, m: &[f64], row_grad: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let nu = (rows * cols) as f64;
    m.chunks(cols).flat_map(row_grad).map(|g| g / nu).collect()
}

/// Compare `r` with an official fixture on the layer `shape` filled with
/// [`fixture_weights`]: value within 1e-5 relative, gradient within 1e-5 of its largest entry;
/// a 2-D layer in both storage layouts (`fc.weight`), a conv kernel row-major
/// (`layer1.conv.weight`).
pub fn check_fixture(r: &mut dyn Regularizer, shape: &[usize], value: f64, grad: &[f64]) {
    let n: usize = shape.iter().product();
    let name = if shape.len() == 2 { "fc.weight" } else { "layer1.conv.weight" };
    let c = Case::from_weights(name, shape, fixture_weights(n));
    let layouts = if shape.len() == 2 { vec![c.clone(), c.transposed()] } else { vec![c] };
    for c in layouts {
        let (v, g, _) = c.value_and_grad(r);
        assert!(rel(v, value) < 1e-5, "{shape:?} {:?}: {v} vs {value}", c.layout);
        let g = if c.layout == Layout::Transposed { transpose(&g, shape[1], shape[0]) } else { g };
        assert_close(&g, grad, 1e-5, &format!("{shape:?} {:?} gradient", c.layout));
    }
}

/// Check a vector function `f(x, grad)` at `x`: its value against `reference(x)` within `tol`
/// (relative), the same value without a gradient buffer, and the gradient it writes against
/// central differences (step 1e-6). Returns the value and the gradient.
pub fn check_vector_fn(x: &[f64], tol: f64, f: impl Fn(&[f64], Option<&mut [f64]>) -> f64, reference: impl Fn(&[f64]) -> f64) -> (f64, Vec<f64>) {
    let mut g = vec![0.0; x.len()];
    let v = f(x, Some(&mut g));
    let want = reference(x);
    assert!(rel(v, want) < tol, "{v} vs {want}");
    assert_eq!(f(x, None), v);
    let h = 1e-6;
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
        xp[i] += h;
        xm[i] -= h;
        let fd = (f(&xp, None) - f(&xm, None)) / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()), "{i}: {fd} vs {}", g[i]);
    }
    (v, g)
}

/// Check `r(αW) = α^degree r(W)` on a random `[4, 6]` layer for a few `α` of either sign.
pub fn check_homogeneous(r: &mut dyn Regularizer, degree: i32, tol: f64) {
    let c = Case::random("fc.weight", &[4, 6], 13);
    let base = c.value(r);
    for a in [-3.0f32, 0.5, 20.0] {
        let s = Case { weight: c.weight.iter().map(|w| w * a).collect(), ..c.clone() };
        assert!(rel(s.value(r), (a as f64).powi(degree) * base) < tol, "α={a}");
    }
}

/// Check that a layer whose rows are `pattern` times different levels `α_r` (of either sign,
/// one tiny) has `r = 0` and a zero gradient, in both storage layouts.
pub fn check_zero_layer(r: &mut dyn Regularizer, pattern: &[f64]) {
    let levels = [0.3f32, -1.7, 4e-3];
    let k = pattern.len();
    let w: Vec<f32> = (0..3 * k).map(|i| levels[i / k] * pattern[i % k] as f32).collect();
    let c = Case::from_weights("fc.weight", &[3, k], w);
    for cc in [c.clone(), c.transposed()] {
        let (v, g, _) = cc.value_and_grad(r);
        assert!(v.abs() <= 1e-12, "{v}");
        assert!(g.iter().all(|&x| x.abs() <= 1e-7), "{g:?}");
    }
}

//! Helpers for the tests of regularizers: seeded random tensors and a finite-difference check
//! of `eval`'s gradient. Used by every regularizer's test module.

use crate::regularizer::{Mode, Regularizer, Target, TargetGrad};
use crate::select::role_from_name;
use crate::tensor::{Layout, TensorRef};
use rand::{Rng, SeedableRng};

/// `$REGLAB_DATA/path` if that file exists; otherwise `None` with a note on stderr — or a panic
/// when `CI` is set, where the data must be present (a test must not pass by skipping there).
pub fn shared_data(path: &str) -> Option<std::path::PathBuf> {
    let p = std::env::var_os("REGLAB_DATA").filter(|v| !v.is_empty()).map(|d| std::path::PathBuf::from(d).join(path));
    match p {
        Some(p) if p.exists() => Some(p),
        _ => {
            assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "no $REGLAB_DATA/{path}, and CI is set: the data must be present in CI");
            eprintln!("skipped: no $REGLAB_DATA/{path}");
            None
        }
    }
}

/// `n` values uniform in `[-scale, scale)` from a generator seeded by `seed`.
pub fn random_vec(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale).collect()
}

pub use crate::linalg::transpose;

/// An owned test case: a tensor, its layout, optional bias and init.
#[derive(Debug, Clone)]
pub struct Case {
    /// Name (decides the role).
    pub name: String,
    /// PyTorch shape.
    pub shape: Vec<usize>,
    /// Layout of `weight` and `init`.
    pub layout: Layout,
    /// Weight values.
    pub weight: Vec<f32>,
    /// Optional bias `[out]`.
    pub bias: Option<Vec<f32>>,
    /// Optional init, same layout as `weight`.
    pub init: Option<Vec<f32>>,
}

impl Case {
    /// A row-major case with random weights.
    pub fn random(name: &str, shape: &[usize], seed: u64) -> Self {
        let n = shape.iter().product();
        Self { name: name.to_string(), shape: shape.to_vec(), layout: Layout::RowMajor, weight: random_vec(n, 0.5, seed), bias: None, init: None }
    }

    /// A row-major case with the given weights (`shape` must match their number).
    pub fn from_weights(name: &str, shape: &[usize], weight: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), weight.len(), "{name}: shape {shape:?} for {} values", weight.len());
        Self { weight, ..Self::random(name, shape, 0) }
    }

    /// Add a random bias of length `shape[0]`.
    pub fn with_random_bias(mut self, seed: u64) -> Self {
        self.bias = Some(random_vec(self.shape[0], 0.5, seed));
        self
    }

    /// Add a random init.
    pub fn with_random_init(mut self, seed: u64) -> Self {
        self.init = Some(random_vec(self.weight.len(), 0.5, seed));
        self
    }

    /// The same case stored transposed (2-D only), as burn's `Linear` stores it.
    pub fn transposed(&self) -> Self {
        assert_eq!(self.shape.len(), 2);
        assert_eq!(self.layout, Layout::RowMajor);
        let (r, c) = (self.shape[0], self.shape[1]);
        Self {
            layout: Layout::Transposed,
            weight: transpose(&self.weight, r, c),
            init: self.init.as_ref().map(|i| transpose(i, r, c)),
            ..self.clone()
        }
    }

    /// Borrow as a [`Target`].
    pub fn target(&self) -> Target<'_> {
        Target {
            name: &self.name,
            role: role_from_name(&self.name, self.shape.len()),
            weight: TensorRef { shape: &self.shape, layout: self.layout, data: &self.weight },
            bias: self.bias.as_ref().map(|b| TensorRef { shape: std::slice::from_ref(&self.shape[0]), layout: Layout::RowMajor, data: b }),
            init: self.init.as_ref().map(|i| TensorRef { shape: &self.shape, layout: self.layout, data: i }),
        }
    }

    /// `r` in exact mode, and its gradient `(∇_W r, ∇_b r)` from `eval` with scale 1.
    pub fn value_and_grad(&self, reg: &mut dyn Regularizer) -> (f64, Vec<f32>, Option<Vec<f32>>) {
        let mut gw = vec![0.0; self.weight.len()];
        let mut gb = self.bias.as_ref().map(|b| vec![0.0; b.len()]);
        let mut g = TargetGrad { weight: &mut gw, bias: gb.as_deref_mut() };
        let v = reg.eval(&self.target(), Some(&mut g), 1.0, Mode::Exact).expect("eval");
        (v, gw, gb)
    }

    /// The weights after `reg`'s proximal step with step size `step` (the case is unchanged).
    pub fn prox(&self, reg: &mut dyn Regularizer, step: f32) -> crate::Result<Vec<f32>> {
        let mut w = self.weight.clone();
        let mut t = crate::regularizer::TargetMut {
            name: &self.name,
            role: role_from_name(&self.name, self.shape.len()),
            shape: &self.shape,
            layout: self.layout,
            weight: &mut w,
        };
        reg.prox(&mut t, step)?;
        Ok(w)
    }

    /// `r` in exact mode, no gradient.
    pub fn value(&self, reg: &mut dyn Regularizer) -> f64 {
        reg.eval(&self.target(), None, 1.0, Mode::Exact).expect("eval")
    }
}

/// Central finite differences of `r` over every weight (and bias) entry, compared with the
/// analytic gradient: returns `‖g_fd − g‖ / max(‖g‖, 1e-12)` over the concatenated vector.
/// The step actually taken in f32 is used in the quotient, so the rounding of `w ± h` does not
/// pollute the difference.
pub fn gradient_error(reg: &mut dyn Regularizer, case: &Case, h: f32) -> f64 {
    let (_, gw, gb) = case.value_and_grad(reg);
    let mut num = Vec::with_capacity(gw.len());
    let mut c = case.clone();
    for i in 0..c.weight.len() {
        let w = c.weight[i];
        let (wp, wm) = (w + h, w - h);
        c.weight[i] = wp;
        let fp = c.value(reg);
        c.weight[i] = wm;
        let fm = c.value(reg);
        c.weight[i] = w;
        num.push((fp - fm) / (wp as f64 - wm as f64));
    }
    let mut ana: Vec<f64> = gw.iter().map(|&x| x as f64).collect();
    if let (Some(gb), Some(_)) = (gb, c.bias.as_ref()) {
        for i in 0..gb.len() {
            let bias = c.bias.as_mut().unwrap();
            let b = bias[i];
            let (bp, bm) = (b + h, b - h);
            bias[i] = bp;
            let fp = c.value(reg);
            c.bias.as_mut().unwrap()[i] = bm;
            let fm = c.value(reg);
            c.bias.as_mut().unwrap()[i] = b;
            num.push((fp - fm) / (bp as f64 - bm as f64));
        }
        ana.extend(gb.iter().map(|&x| x as f64));
    }
    let diff: f64 = num.iter().zip(&ana).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let scale: f64 = ana.iter().map(|a| a * a).sum::<f64>().sqrt();
    diff / scale.max(1e-12)
}

/// Row-major `[rows, cols]` f64 copy of the case's matrix view (`rows = shape[0]`; a conv
/// kernel `[out, in, kh, kw]` is read as `[out, in·kh·kw]`), whatever its layout.
pub fn dense(c: &Case) -> (usize, usize, Vec<f64>) {
    let rows = c.shape[0];
    let cols = c.weight.len() / rows;
    let m = (0..rows * cols)
        .map(|ij| {
            let (r, j) = (ij / cols, ij % cols);
            match c.layout {
                Layout::RowMajor => c.weight[r * cols + j],
                Layout::Transposed => c.weight[j * rows + r],
            }
        })
        .map(|x| x as f64)
        .collect();
    (rows, cols, m)
}

/// An orthogonal `n×n` matrix, row-major: [`orthogonal_f64`] rounded to f32.
pub fn orthogonal(n: usize, seed: u64) -> Vec<f32> {
    orthogonal_f64(n, seed).into_iter().map(|x| x as f32).collect()
}

/// An orthogonal `n×n` matrix in f64, row-major: the product of two Householder reflections
/// with random vectors from `seed` and `seed + 1`.
pub fn orthogonal_f64(n: usize, seed: u64) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n).map(|ij| if ij / n == ij % n { 1.0 } else { 0.0 }).collect();
    for s in 0..2 {
        let h: Vec<f64> = random_vec(n, 1.0, seed + s).iter().map(|&x| x as f64).collect();
        let hh: f64 = h.iter().map(|x| x * x).sum();
        // q ← (I − 2hhᵀ/hh) q
        let hq: Vec<f64> = (0..n).map(|j| (0..n).map(|i| h[i] * q[i * n + j]).sum()).collect();
        for i in 0..n {
            for j in 0..n {
                q[i * n + j] -= 2.0 * h[i] * hq[j] / hh;
            }
        }
    }
    q
}

/// `A B` for row-major `A [n, k]` and `B [k, m]`, summed in f64, rounded to f32.
pub fn matmul(a: &[f32], b: &[f32], n: usize, k: usize, m: usize) -> Vec<f32> {
    (0..n * m).map(|ij| (0..k).map(|l| a[(ij / m) * k + l] as f64 * b[l * m + ij % m] as f64).sum::<f64>() as f32).collect()
}

/// The fixed input fed to official implementations for fixtures: entry `i` is
/// `((i·37 mod 19) − 9)/10`, rounded to f32.
pub fn fixture_weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| (((i * 37) % 19) as f32 - 9.0) / 10.0).collect()
}

/// Compare a gradient with a fixture: every entry within `tol·max|want|`.
pub fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let m = want.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * m, "{what}[{i}]: {g} vs {w}");
    }
}

/// The layers a matrix regularizer's value is checked on (row-major): wide `[5, 7]`, tall
/// `[7, 5]`, one row `[1, 9]` and a conv kernel `[4, 3, 2, 2]`.
pub fn value_cases() -> [Case; 4] {
    [
        Case::random("a.weight", &[5, 7], 1),
        Case::random("b.weight", &[7, 5], 2),
        Case::random("c.weight", &[1, 9], 3),
        Case::random("d.weight", &[4, 3, 2, 2], 4),
    ]
}

/// Check `reg(i, c)`'s value on each of [`value_cases`] `c` (index `i`), and on the transposed
/// storage of the 2-D ones, against the independent `naive(i, c)`: relative error below `tol`.
pub fn check_value<R: Regularizer>(tol: f64, mut reg: impl FnMut(usize, &Case) -> R, naive: impl Fn(usize, &Case) -> f64) {
    for (i, c) in value_cases().iter().enumerate() {
        let want = naive(i, c);
        let got = c.value(&mut reg(i, c));
        assert!(rel(got, want) < tol, "{}: {got} vs {want}", c.name);
        if c.shape.len() == 2 {
            let got = c.transposed().value(&mut reg(i, c));
            assert!(rel(got, want) < tol, "{} transposed: {got} vs {want}", c.name);
        }
    }
}

/// The layers of a finite-difference gradient check: wide and tall, row-major and transposed,
/// and a conv kernel.
pub fn gradient_cases() -> [Case; 5] {
    [
        Case::random("a.weight", &[3, 5], 5),
        Case::random("b.weight", &[5, 3], 6),
        Case::random("a.weight", &[3, 5], 7).transposed(),
        Case::random("b.weight", &[5, 3], 8).transposed(),
        Case::random("conv.weight", &[4, 3, 2, 2], 9),
    ]
}

/// Check `reg(i, c)`'s gradient on each of [`gradient_cases`] `c` (index `i`) by
/// [`gradient_error`] with step `h`: below `tol`.
pub fn check_gradient<R: Regularizer>(h: f32, tol: f64, mut reg: impl FnMut(usize, &Case) -> R) {
    for (i, c) in gradient_cases().iter().enumerate() {
        let e = gradient_error(&mut reg(i, c), c, h);
        assert!(e < tol, "{} {:?}: {e}", c.name, c.layout);
    }
}

/// Check that `eval` **adds** `scale·∇r` in the storage layout: on a `[3, 4]` layer stored
/// either way, into a buffer of ones with scale 0.25, entry `(r, k)` must be
/// `1 + 0.25·want[r·4 + k]` within `tol`, where `want(rows, cols, m)` is the independent `∇r`
/// (row-major) of the dense matrix `m` (see [`dense`]); `value_and_grad` (scale 1) must give
/// `want` too.
pub fn check_added_scaled<R: Regularizer>(tol: f64, mut reg: impl FnMut() -> R, want: impl Fn(usize, usize, &[f64]) -> Vec<f64>) {
    let c = Case::random("fc.weight", &[3, 4], 10);
    let (rows, cols, m) = dense(&c);
    let want = want(rows, cols, &m);
    for case in [c.clone(), c.transposed()] {
        let (_, g1, _) = case.value_and_grad(&mut reg());
        let mut gw = vec![1.0f32; case.weight.len()];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        reg().eval(&case.target(), Some(&mut g), 0.25, Mode::Step).unwrap();
        for r in 0..rows {
            for k in 0..cols {
                let idx = crate::tensor::index(case.layout, rows, cols, r, k);
                let w = want[r * cols + k];
                assert!((gw[idx] as f64 - (1.0 + 0.25 * w)).abs() < tol, "{:?} ({r},{k}): {} vs {}", case.layout, gw[idx], 1.0 + 0.25 * w);
                assert!((g1[idx] as f64 - w).abs() < tol, "{:?} ({r},{k}), scale 1: {} vs {w}", case.layout, g1[idx]);
            }
        }
    }
}

/// Check that `r(Q W P) = r(W)` (relative error below 1e-5) for orthogonal `Q` (4×4) and `P`
/// (6×6) on a random `[4, 6]` layer, and that a map that is not orthogonal changes it.
pub fn check_orthogonal_invariance(r: &mut dyn Regularizer) {
    let c = Case::random("fc.weight", &[4, 6], 13);
    let base = c.value(r);
    let q = orthogonal(4, 14);
    let qw = Case { weight: matmul(&q, &c.weight, 4, 4, 6), ..c.clone() };
    assert!(rel(qw.value(r), base) < 1e-5, "Q W");
    let p = orthogonal(6, 15);
    let wp = Case { weight: matmul(&c.weight, &p, 4, 6, 6), ..c.clone() };
    assert!(rel(wp.value(r), base) < 1e-5, "W P");
    // while a non-orthogonal map changes it (the checks above can fail)
    let mut a = q.clone();
    a[..4].iter_mut().for_each(|x| *x *= 1.5);
    let aw = Case { weight: matmul(&a, &c.weight, 4, 4, 6), ..c.clone() };
    assert!(rel(aw.value(r), base) > 1e-2, "A W");
}

/// Check that a regularizer on the rows of matrices rejects bad tensors with
/// [`crate::Error::Shape`] instead of panicking: a vector (which it does not accept either), a
/// gradient buffer of the wrong length, a shape that does not match the values.
pub fn check_bad_matrix_input(r: &mut dyn Regularizer) {
    let shape_error = |res: crate::Result<f64>| matches!(res, Err(crate::Error::Shape { .. }));
    let v = Case::random("norm.weight", &[5], 17);
    assert!(shape_error(r.eval(&v.target(), None, 1.0, Mode::Step)), "a vector");
    assert!(!r.accepts(&v.target().weight));
    let c = Case::random("fc.weight", &[3, 4], 18);
    assert!(r.accepts(&c.target().weight));
    let mut gw = vec![0.0; 11];
    let mut g = TargetGrad { weight: &mut gw, bias: None };
    assert!(shape_error(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step)), "a short gradient buffer");
    let bad = Case { shape: vec![4, 4], ..c.clone() };
    assert!(shape_error(r.eval(&bad.target(), None, 1.0, Mode::Step)), "shape [4, 4] for 12 values");
}

/// Check that scratch kept between calls does not leak: after a `[9, 4]` layer, a `[3, 4]` one
/// through the same instance has the value of a fresh instance, in both storage layouts.
pub fn check_scratch_reuse<R: Regularizer>(mut reg: impl FnMut() -> R) {
    let big = Case::random("a.weight", &[9, 4], 19);
    let small = Case::random("b.weight", &[3, 4], 20);
    for (big, small) in [(big.clone(), small.clone()), (big.transposed(), small.transposed())] {
        let mut r = reg();
        big.value(&mut r);
        assert_eq!(small.value(&mut r), small.value(&mut reg()), "{:?}", small.layout);
    }
}

/// Relative difference `|a − b| / max(|a|, |b|, tiny)`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

/// Central finite differences of an output regularizer's value with respect to the logits
/// against its analytic gradient: `‖g_fd − g‖ / max(‖g‖, 1e-12)`. The logits are perturbed
/// in f32 and the step actually taken is used in the quotient.
pub fn output_gradient_error(reg: &dyn crate::output::OutputRegularizer, batch: &crate::output::OutputBatch<'_>, h: f32) -> f64 {
    let mut g = vec![0.0f64; batch.logits.len()];
    reg.eval(batch, Some(&mut g), 1.0).expect("eval");
    let mut z = batch.logits.to_vec();
    let mut num = Vec::with_capacity(z.len());
    for i in 0..z.len() {
        let v = z[i];
        let (vp, vm) = (v + h, v - h);
        z[i] = vp;
        let fp = reg.eval(&crate::output::OutputBatch { logits: &z, ..*batch }, None, 1.0).expect("eval");
        z[i] = vm;
        let fm = reg.eval(&crate::output::OutputBatch { logits: &z, ..*batch }, None, 1.0).expect("eval");
        z[i] = v;
        num.push((fp - fm) / (vp as f64 - vm as f64));
    }
    let diff: f64 = num.iter().zip(&g).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let scale: f64 = g.iter().map(|a| a * a).sum::<f64>().sqrt();
    diff / scale.max(1e-12)
}

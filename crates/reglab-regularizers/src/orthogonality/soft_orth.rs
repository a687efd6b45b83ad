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

use reglab_core::linalg::gemm;
use reglab_core::{Error, Layout, MatRef, Mode, Regularizer, Result, Spec, Target, TargetGrad, TensorRef};

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
        let wt = &t.weight;
        let shape_err = |why: String| Error::Shape { tensor: t.name.to_string(), why };
        if !wt.is_matrix() {
            return Err(shape_err(format!("soft-orth needs a matrix, got shape {:?}", wt.shape)));
        }
        if wt.shape.iter().product::<usize>() != wt.len() {
            return Err(shape_err(format!("shape {:?} does not match {} values", wt.shape, wt.len())));
        }
        if let Some(g) = grad.as_deref()
            && g.weight.len() != wt.len()
        {
            return Err(shape_err(format!("gradient buffer has {} values, the weight {}", g.weight.len(), wt.len())));
        }
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
            let dm = MatRef::from_layout(d, n, n, Layout::RowMajor);
            let alpha = 4.0 * scale;
            match wt.layout {
                // row-major [out, in]: G += α D W
                Layout::RowMajor => gemm(alpha, dm, w, 1.0, g.weight),
                // stored [in, out]: Gᵀ += α Wᵀ D (D is symmetric)
                Layout::Transposed => gemm(alpha, w.t(), dm, 1.0, g.weight),
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{gradient_error, rel, transpose, Case};

    fn reg() -> SoftOrth {
        SoftOrth::from_spec(&Spec::parse("soft-orth=1").unwrap()).unwrap()
    }

    /// Row-major `[rows, cols]` f64 copy of the case's matrix.
    fn dense(c: &Case) -> (usize, usize, Vec<f64>) {
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

    /// An orthogonal `n×n` matrix: product of two Householder reflections.
    fn orthogonal(n: usize, seed: u64) -> Vec<f32> {
        let mut q: Vec<f64> = (0..n * n).map(|ij| if ij / n == ij % n { 1.0 } else { 0.0 }).collect();
        for s in 0..2 {
            let h: Vec<f64> = reglab_core::testing::random_vec(n, 1.0, seed + s).iter().map(|&x| x as f64).collect();
            let hh: f64 = h.iter().map(|x| x * x).sum();
            // q ← (I − 2hhᵀ/hh) q
            let hq: Vec<f64> = (0..n).map(|j| (0..n).map(|i| h[i] * q[i * n + j]).sum()).collect();
            for i in 0..n {
                for j in 0..n {
                    q[i * n + j] -= 2.0 * h[i] * hq[j] / hh;
                }
            }
        }
        q.into_iter().map(|x| x as f32).collect()
    }

    fn matmul(a: &[f32], b: &[f32], n: usize, k: usize, m: usize) -> Vec<f32> {
        (0..n * m).map(|ij| (0..k).map(|l| a[(ij / m) * k + l] as f64 * b[l * m + ij % m] as f64).sum::<f64>() as f32).collect()
    }

    #[test]
    fn value_matches_a_naive_triple_loop() {
        for c in [
            Case::random("a.weight", &[5, 7], 1),
            Case::random("b.weight", &[7, 5], 2),
            Case::random("c.weight", &[1, 9], 3),
            Case::random("d.weight", &[4, 3, 2, 2], 4),
        ] {
            let want = naive(&c);
            assert!(rel(c.value(&mut reg()), want) < 1e-5, "{}: {} vs {want}", c.name, c.value(&mut reg()));
            if c.shape.len() == 2 {
                assert!(rel(c.transposed().value(&mut reg()), want) < 1e-5, "{} transposed", c.name);
            }
        }
        // and a hand value: W = [[1, 1], [0, 1]], WWᵀ − I = [[1, 1], [1, 0]], r = 3
        let c = Case { weight: vec![1.0, 1.0, 0.0, 1.0], ..Case::random("e.weight", &[2, 2], 0) };
        assert_eq!(c.value(&mut reg()), 3.0);
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
            let e = gradient_error(&mut reg(), &c, 1e-2);
            assert!(e < 1e-3, "{} {:?}: {e}", c.name, c.layout);
        }
    }

    #[test]
    fn gradient_is_added_scaled_in_the_storage_layout() {
        let c = Case::random("fc.weight", &[3, 4], 10);
        let (rows, cols, m) = dense(&c);
        // independent: 4 (WWᵀ − I) W in f64
        let gram = |i: usize, j: usize| (0..cols).map(|k| m[i * cols + k] * m[j * cols + k]).sum::<f64>() - if i == j { 1.0 } else { 0.0 };
        let want = |i: usize, k: usize| 4.0 * (0..rows).map(|j| gram(i, j) * m[j * cols + k]).sum::<f64>();
        for case in [c.clone(), c.transposed()] {
            let mut gw = vec![1.0f32; case.weight.len()];
            let mut g = TargetGrad { weight: &mut gw, bias: None };
            reg().eval(&case.target(), Some(&mut g), 0.25, Mode::Step).unwrap();
            for i in 0..rows {
                for k in 0..cols {
                    let idx = match case.layout {
                        Layout::RowMajor => i * cols + k,
                        Layout::Transposed => k * rows + i,
                    };
                    let w = 1.0 + 0.25 * want(i, k);
                    assert!((gw[idx] as f64 - w).abs() < 1e-5, "{:?} ({i},{k}): {} vs {w}", case.layout, gw[idx]);
                }
            }
        }
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
        let c = Case::random("fc.weight", &[4, 6], 13);
        let base = c.value(&mut reg());
        let q = orthogonal(4, 14);
        let qw = Case { weight: matmul(&q, &c.weight, 4, 4, 6), ..c.clone() };
        assert!(rel(qw.value(&mut reg()), base) < 1e-5);
        let p = orthogonal(6, 15);
        let wp = Case { weight: matmul(&c.weight, &p, 4, 6, 6), ..c.clone() };
        assert!(rel(wp.value(&mut reg()), base) < 1e-5);
        // while a non-orthogonal map changes it (the checks above can fail)
        let mut a = q.clone();
        a[..4].iter_mut().for_each(|x| *x *= 1.5);
        let aw = Case { weight: matmul(&a, &c.weight, 4, 4, 6), ..c.clone() };
        assert!(rel(aw.value(&mut reg()), base) > 1e-2);
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
        let mut r = reg();
        let v = Case::random("norm.weight", &[5], 17);
        assert!(matches!(r.eval(&v.target(), None, 1.0, Mode::Step), Err(Error::Shape { .. })));
        let c = Case::random("fc.weight", &[3, 4], 18);
        let mut gw = vec![0.0; 11];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(r.eval(&c.target(), Some(&mut g), 1.0, Mode::Step), Err(Error::Shape { .. })));
        assert!(!r.accepts(&v.target().weight));
        assert!(r.accepts(&c.target().weight));
        assert!(SoftOrth::from_spec(&Spec::parse("soft-orth=1:k=2").unwrap()).is_err());
    }

    #[test]
    fn scratch_is_reused_across_shapes() {
        // a big then a small tensor through the same instance give the fresh-instance values
        let mut r = reg();
        let big = Case::random("a.weight", &[9, 4], 19);
        let small = Case::random("b.weight", &[3, 4], 20);
        big.value(&mut r);
        assert_eq!(small.value(&mut r), small.value(&mut reg()));
        assert!(rel(small.value(&mut r), naive(&small)) < 1e-5);
    }

    /// `cargo test --release -p reglab-regularizers -- --ignored --nocapture soft_orth_timing`
    #[test]
    #[ignore]
    fn soft_orth_timing() {
        let mut c = Case::random("layers.0.weight", &[400, 784], 21).transposed();
        c.weight = reglab_core::testing::random_vec(c.weight.len(), 0.05, 22);
        let mut gw = vec![0.0f32; c.weight.len()];
        let mut r = reg();
        let mut once = |r: &mut SoftOrth| {
            let mut g = TargetGrad { weight: &mut gw, bias: None };
            r.eval(&c.target(), Some(&mut g), 1e-4, Mode::Step).unwrap()
        };
        for _ in 0..3 {
            once(&mut r);
        }
        let n = 50;
        let t0 = std::time::Instant::now();
        let mut acc = 0.0;
        for _ in 0..n {
            acc += once(&mut r);
        }
        let dt = t0.elapsed().as_secs_f64() / n as f64;
        println!("soft-orth, 400x784 (transposed), value + gradient: {:.2} ms per call (sum {acc:.3})", dt * 1e3);
    }
}

//! `group-lasso=λ[:weight=none]`: the group lasso over output units (rows), applied by its
//! proximal step (block soft-thresholding), which removes whole units.
//!
//! ## Formula
//! Groups are the rows of the matrix view `W ∈ R^{out×in}` (whole output units: a linear layer's
//! neurons, a conv layer's filters, with a kernel `[out, in, kh, kw]` read as `[out, in·kh·kw]`).
//! `R(W) = λ · r(W)` with
//! `r(W) = Σ_r c · ‖W_r‖₂`,
//! where `W_r` is row `r` and `c` the group weight: by default `c = 1` (no weighting);
//! `weight=sqrt` sets `c = √in` (the square root of the group size, as in Yuan & Lin). This module
//! computes the bare `r`; the caller multiplies by λ (see `reglab_core::sum`). 1-D tensors
//! (biases, norms) are not matrices: [`Regularizer::accepts`] is false for them.
//!
//! Proximal step, with step `s = η·λ_t`, row by row (block soft-thresholding):
//! `prox_{s·r}(V)_r = max(0, 1 − s·c/‖V_r‖₂) · V_r`.
//! Rows with `‖V_r‖₂ ≤ s·c` become exactly zero (the whole unit); the others keep their direction
//! and lose exactly `s·c` of their norm. Training applies this step after the optimizer step
//! ([`Regularizer::has_prox`] is true) and adds no gradient.
//!
//! `eval` with a gradient buffer adds `scale · c · W_r/‖W_r‖₂` per row (`0` for a zero row, a
//! valid subgradient), for reports and callers that want plain (sub)gradient descent.
//!
//! Storage: burn's `Linear` stores `[in, out]` ([`Layout::Transposed`](reglab_core::Layout)), so
//! a row of the mathematical matrix is a strided column of the buffer; rows are read through
//! [`reglab_core::tensor::index`] and the value is layout-free.
//!
//! Symbols: `W` the weight, `out × in` its matrix view, `W_r` row `r`, `c ∈ {1, √in}` the group
//! weight, `λ ≥ 0` the strength, `η` the learning rate, `s = η·λ_t ≥ 0` the prox step.
//!
//! ## Paper
//! Yuan & Lin, "Model selection and estimation in regression with grouped variables", J. R.
//! Statist. Soc. B 68(1), 2006.

use reglab_core::{Error, Layout, Mode, Regularizer, Result, Spec, Target, TargetGrad, TargetMut, TensorRef};

/// The group lasso `Σ_r c·‖W_r‖₂` over rows with its block soft-threshold proximal step. See the
/// module documentation.
#[derive(Debug, Clone, Default)]
pub struct GroupLasso {
    /// `c = √(group size)` when true, `c = 1` otherwise.
    pub sqrt_weight: bool,
    /// Scratch: squared row norms (f64), kept between calls.
    norms: Vec<f64>,
    /// Scratch: one factor per row.
    factors: Vec<f32>,
}

impl GroupLasso {
    /// Build from a spec (`group-lasso=λ[:weight=none|sqrt]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let w = o.choice("weight", &["none", "sqrt"], "none")?;
        o.finish()?;
        Ok(Self { sqrt_weight: w == "sqrt", ..Self::default() })
    }

    fn group_weight(&self, cols: usize) -> f64 {
        if self.sqrt_weight { (cols as f64).sqrt() } else { 1.0 }
    }
}

/// `(rows, cols)` of the matrix view of a `len`-element tensor of `shape`, or why not.
fn dims(shape: &[usize], len: usize) -> std::result::Result<(usize, usize), String> {
    if shape.len() < 2 {
        return Err(format!("group-lasso needs a matrix (groups are rows), got shape {shape:?}"));
    }
    if shape.iter().product::<usize>() != len {
        return Err(format!("shape {shape:?} does not match {len} values"));
    }
    let rows = shape[0];
    Ok((rows, len.checked_div(rows).unwrap_or(0)))
}

/// Squared norm of every row into `out` (f64), in one pass in storage order.
fn row_sq_norms(data: &[f32], layout: Layout, rows: usize, cols: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(rows, 0.0);
    if rows == 0 || cols == 0 {
        return;
    }
    match layout {
        Layout::RowMajor => {
            for (n, row) in out.iter_mut().zip(data.chunks_exact(cols)) {
                *n = reglab_core::linalg::sum_sq(row);
            }
        }
        Layout::Transposed => {
            for col in data.chunks_exact(rows) {
                for (n, &x) in out.iter_mut().zip(col) {
                    *n += x as f64 * x as f64;
                }
            }
        }
    }
}

/// `y += k_r · x` (or `x ← k_r · x` when `add` is false) row by row, in storage order.
fn scale_rows(x: &[f32], y: &mut [f32], layout: Layout, rows: usize, cols: usize, k: &[f32], add: bool) {
    if rows == 0 || cols == 0 {
        return;
    }
    match layout {
        Layout::RowMajor => {
            for ((yr, xr), &kr) in y.chunks_exact_mut(cols).zip(x.chunks_exact(cols)).zip(k) {
                for (a, &b) in yr.iter_mut().zip(xr) {
                    *a = if add { *a + kr * b } else { kr * b };
                }
            }
        }
        Layout::Transposed => {
            for (yc, xc) in y.chunks_exact_mut(rows).zip(x.chunks_exact(rows)) {
                for ((a, &b), &kr) in yc.iter_mut().zip(xc).zip(k) {
                    *a = if add { *a + kr * b } else { kr * b };
                }
            }
        }
    }
}

impl Regularizer for GroupLasso {
    fn name(&self) -> &'static str {
        "group-lasso"
    }

    fn accepts(&self, tensor: &TensorRef<'_>) -> bool {
        tensor.is_matrix()
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let wt = &t.weight;
        let shape_err = |why: String| Error::Shape { tensor: t.name.to_string(), why };
        let (rows, cols) = dims(wt.shape, wt.len()).map_err(shape_err)?;
        let (w, layout) = (wt.data, wt.layout);
        let c = self.group_weight(cols);
        let mut grad = grad;
        if let Some(g) = grad.as_ref()
            && g.weight.len() != w.len()
        {
            return Err(shape_err(format!("gradient buffer has {} entries, the tensor {}", g.weight.len(), w.len())));
        }
        row_sq_norms(w, layout, rows, cols, &mut self.norms);
        let total: f64 = self.norms.iter().map(|&sq| c * sq.sqrt()).sum();
        if let Some(g) = grad.as_mut() {
            // ∇ = scale·c·W_r/‖W_r‖ (0 on a zero row)
            self.factors.clear();
            self.factors.extend(self.norms.iter().map(|&sq| if sq > 0.0 { (scale as f64 * c / sq.sqrt()) as f32 } else { 0.0 }));
            scale_rows(w, g.weight, layout, rows, cols, &self.factors, true);
        }
        Ok(total)
    }

    fn has_prox(&self) -> bool {
        true
    }

    fn prox(&mut self, target: &mut TargetMut<'_>, step: f32) -> Result<()> {
        reglab_core::regularizer::prox_step_ok(self.name(), target, step)?;
        let (rows, cols) = dims(target.shape, target.weight.len()).map_err(|why| Error::Shape { tensor: target.name.to_string(), why })?;
        if step == 0.0 {
            return Ok(());
        }
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let thr = step as f64 * self.group_weight(cols);
        let layout = target.layout;
        let w = &mut *target.weight;
        // One pass for the row norms, one for the scaling, both in storage order. NaN norm:
        // `n <= thr` is false and the factor is NaN, so a diverged row shows. A zeroed row gets
        // +0 exactly (0·x would keep the sign of x).
        row_sq_norms(w, layout, rows, cols, &mut self.norms);
        self.factors.clear();
        self.factors.extend(self.norms.iter().map(|&sq| {
            let n = sq.sqrt();
            if n <= thr { 0.0 } else { (1.0 - thr / n) as f32 }
        }));
        let k = &self.factors;
        match layout {
            Layout::RowMajor => {
                for (row, &kr) in w.chunks_exact_mut(cols).zip(k) {
                    if kr == 0.0 {
                        row.fill(0.0);
                    } else {
                        row.iter_mut().for_each(|x| *x *= kr);
                    }
                }
            }
            Layout::Transposed => {
                for col in w.chunks_exact_mut(rows) {
                    for (x, &kr) in col.iter_mut().zip(k) {
                        *x = if kr == 0.0 { 0.0 } else { *x * kr };
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, gradient_error, random_vec, rel};

    fn reg() -> GroupLasso {
        GroupLasso::from_spec(&Spec::parse("group-lasso=1").unwrap()).unwrap()
    }

    fn reg_sqrt() -> GroupLasso {
        GroupLasso::from_spec(&Spec::parse("group-lasso=1:weight=sqrt").unwrap()).unwrap()
    }

    fn prox_with(r: &mut GroupLasso, case: &Case, s: f32) -> Vec<f32> {
        case.prox(r, s).unwrap()
    }

    /// Row-major copy of the mathematical matrix, f64 (independent of the code under test).
    fn rows_of(case: &Case) -> Vec<Vec<f64>> {
        let rows = case.shape[0];
        let cols = case.weight.len() / rows;
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| match case.layout {
                        Layout::RowMajor => case.weight[r * cols + c],
                        Layout::Transposed => case.weight[c * rows + r],
                    } as f64)
                    .collect()
            })
            .collect()
    }

    fn rows_of_buf(case: &Case, buf: &[f32]) -> Vec<Vec<f64>> {
        rows_of(&Case { weight: buf.to_vec(), ..case.clone() })
    }

    fn norm(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// A case whose rows have norms spread around `s`: row r scaled to a chosen norm.
    fn spread_case(shape: &[usize], seed: u64, norms: &[f64]) -> Case {
        let mut c = Case::random("fc.weight", shape, seed);
        let rows = shape[0];
        let cols = c.weight.len() / rows;
        for r in 0..rows {
            let row = &mut c.weight[r * cols..(r + 1) * cols];
            let n = row.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
            for x in row.iter_mut() {
                *x = (*x as f64 * norms[r % norms.len()] / n) as f32;
            }
        }
        c
    }

    #[test]
    fn value_on_a_hand_example() {
        // rows (3, 4), (0, 0), (6, −8): norms 5, 0, 10
        let c = Case { weight: vec![3.0, 4.0, 0.0, 0.0, 6.0, -8.0], ..Case::random("fc.weight", &[3, 2], 0) };
        assert_eq!(c.value(&mut reg()), 15.0);
        assert_eq!(c.transposed().value(&mut reg()), 15.0);
        // weight=sqrt: √2 per group
        assert!(rel(c.value(&mut reg_sqrt()), 15.0 * 2f64.sqrt()) < 1e-15);
        assert!(rel(c.transposed().value(&mut reg_sqrt()), 15.0 * 2f64.sqrt()) < 1e-15);
        // groups are rows, not columns: columns would give ‖(3,0,6)‖ + ‖(4,0,−8)‖ ≠ 15
        // conv kernel [2, 1, 2, 2] read as [2, 4]: rows (1,1,1,1) and (0,0,0,2) → 2 + 2
        let k = Case { weight: vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0], ..Case::random("conv.weight", &[2, 1, 2, 2], 1) };
        assert_eq!(k.value(&mut reg()), 4.0);
        assert_eq!(k.value(&mut reg_sqrt()), 8.0);
        // random conv kernel vs the independent row sum
        let k = Case::random("conv.weight", &[4, 3, 3, 3], 2);
        let want: f64 = rows_of(&k).iter().map(|r| norm(r)).sum();
        assert!(rel(k.value(&mut reg()), want) < 1e-12);
    }

    #[test]
    fn gradient_is_the_unit_row_and_zero_on_zero_rows() {
        let c = Case { weight: vec![3.0, 4.0, 0.0, 0.0, 6.0, -8.0], ..Case::random("fc.weight", &[3, 2], 3) };
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, vec![0.6, 0.8, 0.0, 0.0, 0.6, -0.8]);
        let t = c.transposed();
        let (_, gt, _) = t.value_and_grad(&mut reg());
        // transposed buffer: [in, out] = columns (3, 0, 6) and (4, 0, −8)
        assert_eq!(gt, vec![0.6, 0.0, 0.6, 0.8, 0.0, -0.8]);
        // scale and accumulation
        let mut gw = vec![1.0; 6];
        let mut tg = TargetGrad { weight: &mut gw, bias: None };
        reg().eval(&c.target(), Some(&mut tg), 0.5, Mode::Exact).unwrap();
        assert_eq!(gw, vec![1.3, 1.4, 1.0, 1.0, 1.3, 0.6]);
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_kinks() {
        // random rows have norms ≫ h; the kink is only at a zero row
        let c = Case::random("fc.weight", &[7, 5], 4);
        for mut r in [reg(), reg_sqrt()] {
            assert!(gradient_error(&mut r, &c, 1e-3) < 1e-4);
            assert!(gradient_error(&mut r, &c.transposed(), 1e-3) < 1e-4);
        }
        let k = Case::random("conv.weight", &[4, 2, 3, 3], 5);
        assert!(gradient_error(&mut reg(), &k, 1e-3) < 1e-4);
        assert!(gradient_error(&mut reg_sqrt(), &k, 1e-3) < 1e-4);
    }

    #[test]
    fn prox_zeros_exactly_the_rows_with_norm_at_most_s_c() {
        let s = 0.5f32;
        let norms = [0.1, 0.3, 0.49, 0.51, 0.8, 1.5, 3.0];
        let c = spread_case(&[14, 6], 6, &norms);
        let k = Case { name: "conv.weight".into(), shape: vec![14, 2, 1, 3], ..c.clone() };
        let s_sqrt = 0.2f32; // c = √6 ≈ 2.449: threshold ≈ 0.49
        for (case, mut r, s) in [
            (c.clone(), reg(), s),
            (c.transposed(), reg(), s),
            (k.clone(), reg(), s),
            (c.clone(), reg_sqrt(), s_sqrt),
            (c.transposed(), reg_sqrt(), s_sqrt),
        ] {
            let cw = if r.sqrt_weight { 6f64.sqrt() } else { 1.0 };
            let thr = s as f64 * cw;
            let p = prox_with(&mut r, &case, s);
            let (vr, pr) = (rows_of(&case), rows_of_buf(&case, &p));
            let (mut zeros, mut kept) = (0, 0);
            for (v, x) in vr.iter().zip(&pr) {
                let nv = norm(v);
                if nv <= thr {
                    assert!(x.iter().all(|&e| e == 0.0), "row norm {nv} ≤ {thr} not zeroed: {x:?}");
                    zeros += 1;
                } else {
                    // direction kept, norm reduced by exactly s·c
                    assert!(x.iter().all(|&e| e != 0.0) || v.contains(&0.0));
                    let f = 1.0 - thr / nv;
                    for (a, b) in v.iter().zip(x) {
                        assert!((b - f * a).abs() <= 1e-6 * nv, "{a} {b} {f}");
                    }
                    assert!((norm(x) - (nv - thr)).abs() < 1e-6 * nv);
                    kept += 1;
                }
            }
            assert!(zeros >= 4 && kept >= 4, "{zeros} {kept}");
        }
        // boundary ‖V_r‖ = s·c exactly (all values exact in f32) → zero row
        let b = Case { weight: vec![0.375, 0.5, 3.0, 4.0], ..Case::random("fc.weight", &[2, 2], 7) };
        let p = prox_with(&mut reg(), &b, 0.625);
        // (3, 4)·(1 − 0.625/5) = (2.625, 3.5)
        assert_eq!(p, vec![0.0, 0.0, 2.625, 3.5]);
        let pt = prox_with(&mut reg(), &b.transposed(), 0.625);
        assert_eq!(pt, vec![0.0, 2.625, 0.0, 3.5]);
    }

    #[test]
    fn prox_satisfies_the_optimality_condition() {
        // (V_r − P_r)/s ∈ c·∂‖P_r‖: = c·P_r/‖P_r‖ if P_r ≠ 0, norm ≤ c if P_r = 0
        let s = 0.6f32;
        let c = Case { weight: random_vec(300, 0.3, 8), ..Case::random("fc.weight", &[30, 10], 8) };
        for (case, mut r) in [(c.clone(), reg()), (c.transposed(), reg()), (c.clone(), reg_sqrt())] {
            let cw = if r.sqrt_weight { 10f64.sqrt() } else { 1.0 };
            let s = if r.sqrt_weight { s / 3.0 } else { s };
            let p = prox_with(&mut r, &case, s);
            let s = s as f64;
            let (vr, pr) = (rows_of(&case), rows_of_buf(&case, &p));
            let (mut zeros, mut kept) = (0, 0);
            for (v, x) in vr.iter().zip(&pr) {
                let sub: Vec<f64> = v.iter().zip(x).map(|(a, b)| (a - b) / s).collect();
                let nx = norm(x);
                if nx == 0.0 {
                    assert!(norm(&sub) <= cw + 1e-6);
                    zeros += 1;
                } else {
                    for (g, b) in sub.iter().zip(x) {
                        assert!((g - cw * b / nx).abs() < 1e-5, "{g} {b} {nx}");
                    }
                    kept += 1;
                }
            }
            assert!(zeros > 3 && kept > 3, "{zeros} {kept}");
        }
    }

    #[test]
    fn prox_is_the_minimiser_against_perturbations() {
        // P minimises r(X) + ‖X − V‖²/(2s); r computed independently on the row view
        let s = 0.4f64;
        let c = spread_case(&[4, 3], 9, &[0.2, 0.39, 0.45, 1.0]);
        for case in [c.clone(), c.transposed()] {
            let v = rows_of(&case);
            let p = rows_of_buf(&case, &prox_with(&mut reg(), &case, s as f32));
            assert!(p.iter().any(|r| r.iter().all(|&e| e == 0.0)) && p.iter().any(|r| norm(r) > 0.0));
            let obj = |x: &[Vec<f64>]| {
                x.iter().map(|r| norm(r)).sum::<f64>()
                    + x.iter().zip(&v).flat_map(|(a, b)| a.iter().zip(b).map(|(a, b)| (a - b) * (a - b))).sum::<f64>() / (2.0 * s)
            };
            let f0 = obj(&p);
            for (k, scale) in [1e-4f32, 1e-3, 1e-2, 1e-1].iter().enumerate() {
                for t in 0..200u64 {
                    let d = random_vec(12, *scale, 5000 + 1000 * k as u64 + t);
                    let x: Vec<Vec<f64>> =
                        p.iter().enumerate().map(|(i, r)| r.iter().enumerate().map(|(j, e)| e + d[i * 3 + j] as f64).collect()).collect();
                    assert!(obj(&x) >= f0 - 1e-9, "scale={scale} t={t}: {} < {f0}", obj(&x));
                }
            }
        }
    }

    #[test]
    fn prox_step_zero_is_identity_and_bad_inputs_are_errors() {
        let c = Case::random("fc.weight", &[4, 4], 10);
        assert_eq!(prox_with(&mut reg(), &c, 0.0), c.weight);
        let mut w = c.weight.clone();
        let mut t = TargetMut { name: "fc.weight", role: c.target().role, shape: &c.shape, layout: Layout::RowMajor, weight: &mut w };
        assert!(reg().prox(&mut t, -0.1).is_err());
        assert!(reg().prox(&mut t, f32::NAN).is_err());
        assert_eq!(w, c.weight);
        // 1-D tensors are not accepted, and eval / prox on them are shape errors
        let v = Case::random("fc.bias", &[5], 11);
        assert!(!reg().accepts(&v.target().weight));
        assert!(reg().accepts(&c.target().weight));
        assert!(reg().accepts(&Case::random("conv.weight", &[2, 3, 3, 3], 12).target().weight));
        assert!(matches!(reg().eval(&v.target(), None, 1.0, Mode::Exact), Err(Error::Shape { .. })));
        let mut vw = v.weight.clone();
        let mut t = TargetMut { name: "fc.bias", role: v.target().role, shape: &v.shape, layout: Layout::RowMajor, weight: &mut vw };
        assert!(matches!(reg().prox(&mut t, 0.1), Err(Error::Shape { .. })));
        // wrong gradient buffer length
        let mut gw = vec![0.0; 15];
        let mut g = TargetGrad { weight: &mut gw, bias: None };
        assert!(matches!(reg().eval(&c.target(), Some(&mut g), 1.0, Mode::Exact), Err(Error::Shape { .. })));
    }

    #[test]
    fn option_validation() {
        assert!(!reg().sqrt_weight);
        assert!(reg_sqrt().sqrt_weight);
        assert!(!GroupLasso::from_spec(&Spec::parse("group-lasso=1:weight=none").unwrap()).unwrap().sqrt_weight);
        for bad in ["group-lasso=1:weight=log", "group-lasso=1:k=2", "group-lasso=1:groups=4"] {
            assert!(GroupLasso::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}

//! Conjugate gradients (Hestenes–Stiefel 1952) for `M x = b` with `M` symmetric positive
//! semidefinite and given by its product, one step at a time: the core that
//! [`crate::tikhonov::tikhonov_cg`] and the `‖Bx‖²` proximal step of
//! [`crate::regularizer`] share, each with its own stopping rule.

use crate::operator::dot;

/// Conjugate gradients for `M x = b`, `M` symmetric positive semidefinite, given by its product:
/// the iterate `x`, the residual `r = b − M x` and the search direction, one [`step`](Cg::step)
/// at a time, so that each caller keeps its own stopping rule.
pub(crate) struct Cg {
    /// The iterate.
    pub(crate) x: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    md: Vec<f64>,
    /// `‖r‖²`.
    pub(crate) rr: f64,
}

impl Cg {
    /// Start from `x0` with `mx0 = M x0` already computed.
    pub(crate) fn new(b: &[f64], x0: Vec<f64>, mx0: &[f64]) -> Self {
        let r: Vec<f64> = b.iter().zip(mx0).map(|(p, q)| p - q).collect();
        let rr = dot(&r, &r);
        Self { x: x0, d: r.clone(), md: vec![0.0; r.len()], r, rr }
    }

    /// One iteration, `apply(d, out)` writing `M d`; `false` (nothing changed) when the direction
    /// has no positive curvature (`d` in the null space of `M`: no further progress is possible).
    pub(crate) fn step(&mut self, mut apply: impl FnMut(&[f64], &mut [f64])) -> bool {
        apply(&self.d, &mut self.md);
        let curvature = dot(&self.d, &self.md);
        if !(curvature > 0.0 && curvature.is_finite()) {
            return false;
        }
        let alpha = self.rr / curvature;
        for k in 0..self.x.len() {
            self.x[k] += alpha * self.d[k];
            self.r[k] -= alpha * self.md[k];
        }
        let rr_new = dot(&self.r, &self.r);
        let beta = rr_new / self.rr;
        self.rr = rr_new;
        for (d, r) in self.d.iter_mut().zip(&self.r) {
            *d = r + beta * *d;
        }
        true
    }
}

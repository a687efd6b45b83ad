//! Generalized Tikhonov regularization by conjugate gradients:
//!
//! `x* = argmin_x ½‖Ax − y‖² + λ‖Bx‖²`,  `λ ≥ 0`,
//!
//! with `A : ℝⁿ → ℝᵐ` the forward operator, `y ∈ ℝᵐ` the data and `B : ℝⁿ → ℝᵖ` the
//! regularization operator: the identity (`‖x‖²`, classical Tikhonov), the finite-difference
//! gradient (`‖∇x‖²`, smoothness) or a graph Laplacian (`‖Lx‖²`, graphLa with `q = 2`, catalog #7).
//! The objective is a convex quadratic; its minimizers solve the normal equations
//!
//! `M x = Aᵀy`,  `M = AᵀA + 2λBᵀB`  (symmetric positive semidefinite),
//!
//! which [`tikhonov_cg`] solves by conjugate gradients (Hestenes–Stiefel 1952) from `x⁰`.
//! Where `M` is singular (e.g. `B = ∇` and constants in the null space of `A`), CG started at
//! `x⁰` converges to the minimizer closest to `x⁰` in the `M`-seminorm sense; from `x⁰ = 0` that
//! is the minimum-norm solution.
//!
//! **Stopping.** After CG iteration `k`, stop when the relative residual
//! `‖Aᵀy − M xᵏ‖ ≤ tol·‖Aᵀy‖` (the recursively updated residual), or at `max_iter`. The
//! [`SolverResult`]'s `rel_change` holds that relative residual (not a change of `x`), and its
//! history the objective every `history_every` iterations, as for the other solvers.

use crate::cg::Cg;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::operator::{LinearOperator, dot};
use crate::solver::{Run, SolverOptions, SolverResult, check_common, data_term};

/// `½‖Ax − y‖² + λ‖Bx‖²` minimized by conjugate gradients on `(AᵀA + 2λBᵀB) x = Aᵀy` from `x0`
/// (see the [module docs](self)). [`SolverOptions::lipschitz`] is ignored.
pub fn tikhonov_cg<A: LinearOperator, B: LinearOperator>(
    a: &A,
    y: &[f64],
    lambda: f64,
    b: &B,
    x0: &Image,
    opts: &SolverOptions,
) -> Result<SolverResult> {
    check_common(a, y, lambda, x0, opts)?;
    if b.input_len() != a.input_len() {
        return Err(Error::Length { what: "regularization operator input", expected: a.input_len(), len: b.input_len() });
    }
    let n = x0.len();
    let mut ax = vec![0.0; a.output_len()];
    let mut bx = vec![0.0; b.output_len()];
    let mut tmp = vec![0.0; n];
    let objective = |x: &[f64], ax: &mut [f64], bx: &mut [f64]| {
        b.apply(x, bx);
        data_term(a, x, y, ax) + lambda * dot(bx, bx)
    };
    // out = M z = Aᵀ(Az) + 2λ Bᵀ(Bz).
    let apply_m = |z: &[f64], out: &mut [f64], ax: &mut [f64], bx: &mut [f64], tmp: &mut [f64]| {
        a.apply(z, ax);
        a.adjoint(ax, out);
        b.apply(z, bx);
        b.adjoint(bx, tmp);
        for (o, t) in out.iter_mut().zip(tmp.iter()) {
            *o += 2.0 * lambda * t;
        }
    };
    let mut rhs = vec![0.0; n];
    a.adjoint(y, &mut rhs);
    let rhs_norm = dot(&rhs, &rhs).sqrt();
    let mut mx = vec![0.0; n];
    apply_m(&x0.data, &mut mx, &mut ax, &mut bx, &mut tmp);
    let mut cg = Cg::new(&rhs, x0.data.clone(), &mx);
    let rel = |rr: f64| if rhs_norm > 0.0 { rr.sqrt() / rhs_norm } else { rr.sqrt() };
    let mut run = Run::new(objective(&cg.x, &mut ax, &mut bx));
    if rel(cg.rr) <= opts.tol {
        run.converged = true;
        run.rel_change = rel(cg.rr);
    }
    while !run.converged && run.iterations < opts.max_iter {
        if !cg.step(|d, out| apply_m(d, out, &mut ax, &mut bx, &mut tmp)) {
            break;
        }
        let x = &cg.x;
        if run.step(rel(cg.rr), opts, || objective(x, &mut ax, &mut bx)) {
            break;
        }
    }
    let x = cg.x;
    if run.history.last().map(|h| h.0) != Some(run.iterations) {
        let o = objective(&x, &mut ax, &mut bx);
        run.history.push((run.iterations, o));
    }
    Ok(run.result(Image::new(x0.rows, x0.cols, x)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{Convolution, Gradient, Identity, Radon};
    use crate::phantom::{add_gaussian_noise, shepp_logan};

    fn opts() -> SolverOptions {
        SolverOptions { max_iter: 5000, tol: 1e-12, history_every: 10, lipschitz: None }
    }

    /// `‖Aᵀ(Ax − y) + 2λBᵀBx‖` relative to `‖Aᵀy‖`: the gradient of the objective.
    fn gradient_norm<A: LinearOperator, B: LinearOperator>(a: &A, b: &B, y: &[f64], lambda: f64, x: &[f64]) -> f64 {
        let mut ax = a.forward(x).unwrap();
        ax.iter_mut().zip(y).for_each(|(p, q)| *p -= q);
        let g1 = a.transpose(&ax).unwrap();
        let g2 = b.transpose(&b.forward(x).unwrap()).unwrap();
        let g: Vec<f64> = g1.iter().zip(&g2).map(|(p, q)| p + 2.0 * lambda * q).collect();
        let aty = a.transpose(y).unwrap();
        dot(&g, &g).sqrt() / dot(&aty, &aty).sqrt()
    }

    #[test]
    fn identity_penalty_with_identity_operator_is_the_closed_form() {
        // min ½‖x − y‖² + λ‖x‖²  ⇒  x = y / (1 + 2λ).
        let y = add_gaussian_noise(&shepp_logan(12, 10).unwrap(), 0.1, 3).unwrap();
        let id = Identity { n: y.len() };
        let r = tikhonov_cg(&id, &y.data, 0.7, &id, &Image::zeros(12, 10).unwrap(), &opts()).unwrap();
        assert!(r.converged);
        for (x, v) in r.image.data.iter().zip(&y.data) {
            assert!((x - v / 2.4).abs() < 1e-12);
        }
        // M = 2.4·I: CG is exact in one step.
        assert_eq!(r.iterations, 1);
    }

    #[test]
    fn gradient_penalty_on_a_few_view_problem_solves_the_normal_equations() {
        let truth = shepp_logan(24, 24).unwrap();
        let radon = Radon::new(24, 24, Radon::equispaced_angles(10)).unwrap();
        let clean = radon.forward(&truth.data).unwrap();
        let y: Vec<f64> = add_gaussian_noise(&Image::new(1, clean.len(), clean).unwrap(), 0.05, 4).unwrap().data;
        let grad = Gradient::new(24, 24).unwrap();
        let lambda = 0.5;
        let r = tikhonov_cg(&radon, &y, lambda, &grad, &Image::zeros(24, 24).unwrap(), &opts()).unwrap();
        assert!(r.converged, "{} iterations, residual {}", r.iterations, r.rel_change);
        assert!(gradient_norm(&radon, &grad, &y, lambda, &r.image.data) < 1e-10);
        // The objective decreases along the history and perturbations do not beat the result.
        assert!(r.history.windows(2).all(|w| w[1].1 <= w[0].1 * (1.0 + 1e-12)));
        let f = |x: &[f64]| {
            let ax = radon.forward(x).unwrap();
            let gx = grad.forward(x).unwrap();
            0.5 * ax.iter().zip(&y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>() + lambda * dot(&gx, &gx)
        };
        assert!((f(&r.image.data) - r.objective).abs() <= 1e-12 * r.objective);
        let mut rng = crate::phantom::Rng::new(5);
        for _ in 0..20 {
            let z: Vec<f64> = r.image.data.iter().map(|v| v + 1e-3 * rng.normal()).collect();
            assert!(f(&z) >= r.objective);
        }
    }

    #[test]
    fn lambda_zero_deblurs_by_least_squares() {
        let truth = shepp_logan(16, 16).unwrap();
        let kernel = Image::new(3, 3, vec![0.0, 0.1, 0.0, 0.1, 0.6, 0.1, 0.0, 0.1, 0.0]).unwrap();
        let conv = Convolution::new(16, 16, kernel).unwrap();
        let y = conv.forward(&truth.data).unwrap();
        let id = Identity { n: 256 };
        let r = tikhonov_cg(&conv, &y, 0.0, &id, &Image::zeros(16, 16).unwrap(), &opts()).unwrap();
        let err = r.image.data.iter().zip(&truth.data).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
        assert!(err < 1e-8, "noise-free, well-conditioned blur: exact recovery, got {err}");
    }

    #[test]
    fn errors() {
        let id = Identity { n: 4 };
        let x0 = Image::zeros(2, 2).unwrap();
        let big = Identity { n: 9 };
        assert!(matches!(tikhonov_cg(&id, &[0.0; 4], 0.1, &big, &x0, &opts()), Err(Error::Length { .. })));
        assert!(matches!(tikhonov_cg(&id, &[0.0; 4], -0.1, &id, &x0, &opts()), Err(Error::Option { .. })));
        assert!(matches!(tikhonov_cg(&id, &[0.0; 3], 0.1, &id, &x0, &opts()), Err(Error::Length { .. })));
        assert!(matches!(tikhonov_cg(&id, &[f64::NAN; 4], 0.1, &id, &x0, &opts()), Err(Error::NonFinite { .. })));
    }
}

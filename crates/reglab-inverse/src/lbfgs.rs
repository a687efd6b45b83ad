//! Limited-memory BFGS (Liu & Nocedal 1989) for smooth unconstrained minimization, the
//! lower-level solver of [`crate::bilevel`].
//!
//! From `x₀`, each iteration takes the direction `d = −H̃ ∇f(x)` of the two-loop recursion over
//! the last `m` pairs `(s, y) = (x_{k+1} − x_k, ∇f_{k+1} − ∇f_k)` (initial scaling
//! `γ = sᵀy / yᵀy`; a pair with `sᵀy ≤ 10⁻¹² ‖s‖‖y‖` is not stored), then backtracks on the
//! Armijo condition `f(x + t d) ≤ f(x) + 10⁻⁴ t ∇fᵀd` from `t = 1` (the very first step from
//! `t = 1/‖∇f(x₀)‖`), halving `t`; near the minimum, where `f` cannot resolve the decrease,
//! a step is also accepted when `f` stays within rounding (`10⁻¹³|f|`) and the slope shrinks
//! tenfold (Hager & Zhang's approximate Wolfe test). It stops when `‖∇f(x)‖ ≤ tol` (returns `converged`) or
//! after `max_iter` iterations, or when no step decreases `f` (rounding; returns as is).

use crate::operator::dot;

/// What [`minimize`] returns.
#[derive(Debug, Clone)]
pub(crate) struct Minimized {
    pub(crate) x: Vec<f64>,
    pub(crate) grad_norm: f64,
    /// Evaluations of `f` and `∇f` (each one call of `fg`).
    pub(crate) evaluations: usize,
    pub(crate) converged: bool,
}

/// Minimize `f` from `x0`; `fg(x, grad)` returns `f(x)` and writes `∇f(x)` into `grad`.
pub(crate) fn minimize(mut fg: impl FnMut(&[f64], &mut [f64]) -> f64, x0: Vec<f64>, tol: f64, max_iter: usize, memory: usize) -> Minimized {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut evaluations = 1;
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = std::collections::VecDeque::new();
    let mut gn = dot(&g, &g).sqrt();
    let mut iterations = 0;
    let (mut xn, mut gnew) = (vec![0.0; n], vec![0.0; n]);
    while gn > tol && iterations < max_iter {
        // Two-loop recursion: d = −H̃ g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = match pairs.back() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / gn,
        };
        for v in q.iter_mut() {
            *v *= gamma;
        }
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope.partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
            // Not a descent direction (rounding): restart from steepest descent.
            pairs.clear();
            d = g.iter().map(|v| -v / gn).collect();
            slope = -gn;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for k in 0..n {
                xn[k] = x[k] + t * d[k];
            }
            let fnew = fg(&xn, &mut gnew);
            evaluations += 1;
            // Armijo, or (near the minimum, where f cannot resolve the decrease) Hager–Zhang's
            // approximate Wolfe test: f within rounding and the slope shrunk by 10.
            let armijo = fnew <= f + 1e-4 * t * slope;
            let approx_wolfe = fnew <= f + 1e-13 * f.abs() && dot(&gnew, &d).abs() <= 0.1 * slope.abs();
            if armijo || approx_wolfe {
                let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
                    if pairs.len() == memory {
                        pairs.pop_front();
                    }
                    pairs.push_back((s, y, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut xn);
                std::mem::swap(&mut g, &mut gnew);
                f = fnew;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        iterations += 1;
        gn = dot(&g, &g).sqrt();
        if !accepted {
            break;
        }
    }
    Minimized { x, grad_norm: gn, evaluations, converged: gn <= tol }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic_and_the_rosenbrock_function() {
        // f(x) = ½ xᵀ diag(1..n) x − Σ x: minimum at x_i = 1/i.
        let n = 50;
        let r = minimize(
            |x, g| {
                let mut f = 0.0;
                for i in 0..n {
                    let a = (i + 1) as f64;
                    f += 0.5 * a * x[i] * x[i] - x[i];
                    g[i] = a * x[i] - 1.0;
                }
                f
            },
            vec![0.0; n],
            1e-10,
            500,
            8,
        );
        assert!(r.converged);
        for (i, v) in r.x.iter().enumerate() {
            assert!((v - 1.0 / (i + 1) as f64).abs() < 1e-9);
        }
        // Rosenbrock, minimum (1, 1).
        let r = minimize(
            |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            },
            vec![-1.2, 1.0],
            1e-9,
            1000,
            8,
        );
        assert!(r.converged && (r.x[0] - 1.0).abs() < 1e-6 && (r.x[1] - 1.0).abs() < 1e-6, "{r:?}");
    }
}

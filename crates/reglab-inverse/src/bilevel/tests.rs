use super::*;
use crate::operator::{Identity, Radon};
use crate::phantom::{add_gaussian_noise, random_ellipse_phantom};

/// Two 16×16 training pairs under a 10-view Radon transform, 2 % noise.
fn ct_problem(radon: &Radon) -> Vec<TrainingPair> {
    (0..2)
        .map(|s| {
            let truth = random_ellipse_phantom(16, 16, 10 + s).unwrap();
            let clean = radon.forward(&truth.data).unwrap();
            let rms = (dot(&clean, &clean) / clean.len() as f64).sqrt();
            let sino = crate::Image::new(1, clean.len(), clean).unwrap();
            let noisy = add_gaussian_noise(&sino, 0.02 * rms, 100 + s).unwrap();
            TrainingPair { data: noisy.data, truth: truth.data }
        })
        .collect()
}

fn radon16() -> Radon {
    Radon::new(16, 16, Radon::equispaced_angles(10)).unwrap()
}

/// `f(θ)` with the lower level solved to rounding accuracy.
fn exact_f<A: LinearOperator>(p: &TvBilevel<'_, A>, theta: f64) -> f64 {
    let sol = p.solve_lower(theta, None, 1e-13, 20_000);
    assert!(sol.converged, "lower level not solved: {:?}", sol.grad_norms);
    p.upper(&sol.xs)
}

#[test]
fn hypergradient_matches_central_differences_of_the_upper_loss() {
    let radon = radon16();
    let p = TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, ct_problem(&radon)).unwrap();
    for theta in [-1.0f64, 0.5] {
        let sol = p.solve_lower(theta, None, 1e-13, 20_000);
        let (h, _) = p.hypergradient(theta, &sol, 1e-12, 20_000, 1);
        let step = 1e-3;
        let fd = (exact_f(&p, theta + step) - exact_f(&p, theta - step)) / (2.0 * step);
        let rel = (h.value - fd).abs() / fd.abs();
        eprintln!("θ = {theta}: IFT {:.10e}, central differences {fd:.10e}, relative error {rel:.2e}", h.value);
        // Central differences with step 1e-3 have truncation error O(step²·f''') ≈ 1e-6 relative.
        assert!(rel < 1e-4, "θ = {theta}: IFT {} vs finite differences {fd} (relative error {rel:.2e})", h.value);
    }
}

#[test]
fn the_error_estimate_covers_the_error_of_a_loose_hypergradient() {
    let radon = radon16();
    let p = TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, ct_problem(&radon)).unwrap();
    let theta = 0.0;
    let exact = p.hypergradient(theta, &p.solve_lower(theta, None, 1e-13, 20_000), 1e-12, 20_000, 1).0.value;
    let mut bounds = Vec::new();
    for (eps, delta) in [(1e-2, 1e-2), (1e-3, 1e-3), (1e-4, 1e-4), (1e-5, 1e-6)] {
        let sol = p.solve_lower(theta, None, eps, 20_000);
        let (h, moduli) = p.hypergradient(theta, &sol, delta, 20_000, 2);
        let err = (h.value - exact).abs();
        assert!(err <= h.bound, "ε = {eps}, δ = {delta}: error {err:.3e} above the estimate {:.3e}", h.bound);
        assert!(moduli.iter().all(|&m| m >= 1e-3));
        bounds.push(h.bound);
    }
    // and the estimate shrinks with the accuracies
    assert!(bounds.windows(2).all(|w| w[1] < w[0]), "{bounds:?}");
    assert!(bounds[3] < bounds[0] / 100.0, "{bounds:?}");
}

/// On denoising (`A = I`) MAID reaches the minimizer of `f` that a fine golden-section search on
/// exact solves finds, and decreases `f` at every accepted step.
#[test]
fn maid_finds_the_best_lambda_of_a_denoising_problem() {
    let id = Identity { n: 256 };
    let pairs: Vec<TrainingPair> = (0..3)
        .map(|s| {
            let truth = random_ellipse_phantom(16, 16, 20 + s).unwrap();
            let noisy = add_gaussian_noise(&truth, 0.1, 200 + s).unwrap();
            TrainingPair { data: noisy.data, truth: truth.data }
        })
        .collect();
    let p = TvBilevel::new(&id, 16, 16, 0.01, 1e-3, pairs).unwrap();
    let opts = MaidOptions { theta0: -5.0, max_iter: 40, theta_tol: 1e-4, ..MaidOptions::default() };
    let r = maid(&p, &opts).unwrap();
    // Golden-section search of f over θ ∈ [−6, 1] with exact solves.
    let (mut a, mut b) = (-6.0f64, 1.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if exact_f(&p, c) < exact_f(&p, d) {
            b = d;
        } else {
            a = c;
        }
    }
    let best = 0.5 * (a + b);
    assert!(best > -5.9 && best < 0.9, "optimum {best} on the search interval's edge");
    let (f_best, f_maid) = (exact_f(&p, best), exact_f(&p, r.theta));
    eprintln!(
        "MAID θ {:.5} ({} iterations accepted, {} failed, {} operator pairs); golden section θ {best:.5}",
        r.theta,
        r.trajectory.len() - 1,
        r.failed_iterations,
        r.operator_pairs
    );
    assert!((r.theta - best).abs() < 0.01, "MAID θ {} vs golden section {best}", r.theta);
    assert!(f_maid <= f_best * (1.0 + 1e-4), "{f_maid} vs {f_best}");
    // Every accepted step decreases the exact upper loss (the inexact values f̃ may not, as
    // their accuracy changes between steps: the acceptance test corrects for that).
    let exact: Vec<f64> = r.trajectory.iter().map(|s| exact_f(&p, s.theta)).collect();
    for (w, s) in exact.windows(2).zip(r.trajectory.windows(2)) {
        assert!(w[1] <= w[0] * (1.0 + 1e-12), "exact loss rose: {:?} → {:?} ({} → {})", s[0], s[1], w[0], w[1]);
    }
    assert_eq!(r.operator_pairs, r.lower_evaluations + r.cg_iterations);
    // Deterministic.
    assert_eq!(maid(&p, &opts).unwrap(), r);
}

#[test]
fn bad_input_is_an_error() {
    let radon = radon16();
    let pairs = ct_problem(&radon);
    assert!(TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, vec![]).unwrap_err().to_string().contains("training pairs"));
    assert!(TvBilevel::new(&radon, 16, 16, 0.0, 1e-3, pairs.clone()).unwrap_err().to_string().contains("nu"));
    assert!(TvBilevel::new(&radon, 16, 16, 0.05, -1.0, pairs.clone()).unwrap_err().to_string().contains("mu"));
    assert!(TvBilevel::new(&radon, 8, 8, 0.05, 1e-3, pairs.clone()).is_err());
    let mut nan = pairs.clone();
    nan[1].data[3] = f64::NAN;
    assert!(TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, nan).unwrap_err().to_string().contains("non-finite"));
    let mut short = pairs.clone();
    short[0].truth.pop();
    assert!(TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, short).is_err());
    let p = TvBilevel::new(&radon, 16, 16, 0.05, 1e-3, pairs).unwrap();
    for o in [
        MaidOptions { eps0: -1.0, ..MaidOptions::default() },
        MaidOptions { rho: 1.0, ..MaidOptions::default() },
        MaidOptions { theta0: f64::NAN, ..MaidOptions::default() },
        MaidOptions { max_iter: 0, ..MaidOptions::default() },
        MaidOptions { nu_growth: 0.5, ..MaidOptions::default() },
        MaidOptions { theta_tol: -1.0, ..MaidOptions::default() },
    ] {
        assert!(maid(&p, &o).is_err(), "{o:?}");
    }
}

#[test]
fn random_phantoms_differ_by_seed_and_stay_in_range() {
    let a = random_ellipse_phantom(32, 32, 1).unwrap();
    let b = random_ellipse_phantom(32, 32, 2).unwrap();
    assert_ne!(a, b);
    assert_eq!(a, random_ellipse_phantom(32, 32, 1).unwrap());
    for img in [&a, &b] {
        assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
        // a rim of 1s and an interior with structure
        assert!(img.data.contains(&1.0));
        assert!(img.data.iter().filter(|&&v| v > 0.0 && v < 1.0).count() > 100);
    }
}

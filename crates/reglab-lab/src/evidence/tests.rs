//! Tests of the evidence module: the bound and its gradient against finite differences, the
//! posterior against independent computations, the invariants (κ = 1 bound = log evidence,
//! EM = MacKay = a golden-section search of the evidence, permutation invariance, monotone
//! bound), and bad input.

use super::bound::{Bound, QStats};
use super::data::{Dataset, generate};
use super::features::{FeatureMap, MapSpec};
use super::fit::{FitOptions, QFamily, fit_elbo, fit_type2_ml, q_step};
use super::grid::{fit_and_score, log_grid, split};
use super::posterior::Posterior;
use super::problem::Problem;
use super::spectral::Spectrum;
use nalgebra::{DMatrix, DVector};

/// A small problem: `n` examples of `sine` or `friedman1` in `map`, targets centred.
fn problem(ds: Dataset, n: usize, map: MapSpec, seed: u64) -> Problem {
    let data = generate(ds, n, 5, ds.default_noise_std(), seed).unwrap();
    let fm = FeatureMap::fit(&data.x_train, map, seed + 100).unwrap();
    let y = data.y_train.add_scalar(-data.y_train.mean());
    Problem::new(fm.apply(&data.x_train).unwrap(), y).unwrap()
}

fn opts(kappa: f64, q: QFamily, learn_noise: bool, sigma2: f64) -> FitOptions {
    FitOptions { kappa, q, learn_noise, tau2_init: 1.0, sigma2, max_iter: 200_000, tol: 1e-12 }
}

/// log N(y | 0, σ²I + τ²ΦΦᵀ) by a Cholesky factorisation of the N × N covariance.
fn log_evidence_direct(p: &Problem, tau2: f64, sigma2: f64) -> f64 {
    let n = p.n();
    let mut c = &p.phi * p.phi.transpose() * tau2;
    for i in 0..n {
        c[(i, i)] += sigma2;
    }
    let chol = nalgebra::Cholesky::new(c).unwrap();
    let logdet = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let quad = p.y.dot(&chol.solve(&p.y));
    -0.5 * (n as f64 * (2.0 * std::f64::consts::PI).ln() + logdet + quad)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn bound_gradient_matches_finite_differences() {
    let p = problem(Dataset::Friedman1, 30, MapSpec::Linear, 1);
    let d = p.d();
    // An arbitrary q, not an optimum.
    let mu = DVector::from_fn(d, |i, _| 0.3 * i as f64 - 1.0);
    let a = DMatrix::from_fn(d, d, |i, j| ((i * 7 + j * 3) % 5) as f64 * 0.05);
    let s = &a * a.transpose() + DMatrix::identity(d, d) * 0.2;
    let q = QStats::direct(&p, &mu, &s).unwrap();
    for kappa in [1.0, 3.7] {
        let b = Bound { n: p.n(), d, kappa };
        let (tau2, sigma2) = (0.8, 1.3);
        let (gt, gs) = b.grad(&q, tau2, sigma2);
        let h = 1e-6;
        let ft = (b.value(&q, tau2 + h, sigma2) - b.value(&q, tau2 - h, sigma2)) / (2.0 * h);
        let fs = (b.value(&q, tau2, sigma2 + h) - b.value(&q, tau2, sigma2 - h)) / (2.0 * h);
        assert!(rel(gt, ft) < 1e-6, "∂L/∂τ²: {gt} vs {ft}");
        assert!(rel(gs, fs) < 1e-6, "∂L/∂σ²: {gs} vs {fs}");
        // ∂L/∂μ by finite differences of the directly computed bound.
        let gmu = b.grad_mu(&p, &mu, tau2, sigma2);
        for i in [0, d / 2, d - 1] {
            let mut up = mu.clone();
            up[i] += h;
            let mut dn = mu.clone();
            dn[i] -= h;
            let f = (b.value(&QStats::direct(&p, &up, &s).unwrap(), tau2, sigma2) - b.value(&QStats::direct(&p, &dn, &s).unwrap(), tau2, sigma2))
                / (2.0 * h);
            assert!(rel(gmu[i], f) < 1e-5, "∂L/∂μ[{i}]: {} vs {f}", gmu[i]);
        }
        // ∂L/∂s² of the isotropic q.
        let s2 = 0.07;
        let tr = p.phi.norm_squared();
        let iso = |s2: f64| b.value(&QStats::direct(&p, &mu, &(DMatrix::identity(d, d) * s2)).unwrap(), tau2, sigma2);
        let f = (iso(s2 + 1e-8) - iso(s2 - 1e-8)) / 2e-8;
        let g = b.grad_iso_s2(tr, s2, tau2, sigma2);
        assert!(rel(g, f) < 1e-5, "∂L/∂s²: {g} vs {f}");
        // The evidence gradient too.
        let spec = Spectrum::new(&p).unwrap();
        let (et, es) = spec.log_evidence_grad(tau2, sigma2);
        let ft = (spec.log_evidence(tau2 + h, sigma2) - spec.log_evidence(tau2 - h, sigma2)) / (2.0 * h);
        let fs = (spec.log_evidence(tau2, sigma2 + h) - spec.log_evidence(tau2, sigma2 - h)) / (2.0 * h);
        assert!(rel(et, ft) < 1e-6 && rel(es, fs) < 1e-6, "evidence gradient ({et}, {es}) vs ({ft}, {fs})");
    }
}

#[test]
fn posterior_matches_normal_equations_and_the_spectral_form() {
    // D < N (primal) and D > N (dual), κ ≠ 1.
    for (p, kappa) in [
        (problem(Dataset::Friedman1, 40, MapSpec::Linear, 2), 1.0),
        (problem(Dataset::Friedman1, 25, MapSpec::Rff { dim: 60, lengthscale: 2.0 }, 3), 2.4),
        (problem(Dataset::Sine, 12, MapSpec::Rff { dim: 30, lengthscale: 1.0 }, 4), 2.5),
    ] {
        let (tau2, sigma2) = (0.7, 0.3);
        let post = Posterior::gaussian(&p, kappa, tau2, sigma2).unwrap();
        // Independent: the normal equations (κΦᵀΦ/σ² + I/τ²) μ = κΦᵀy/σ² by LU.
        let d = p.d();
        let prec = p.phi.transpose() * &p.phi * (kappa / sigma2) + DMatrix::identity(d, d) / tau2;
        let lu = prec.clone().lu();
        let mu = lu.solve(&(p.phi.transpose() * &p.y * (kappa / sigma2))).unwrap();
        assert!((&post.mean - &mu).norm() <= 1e-9 * mu.norm().max(1.0), "mean");
        let s = lu.try_inverse().unwrap();
        assert!((post.covariance() - &s).norm() <= 1e-9 * s.norm(), "covariance");
        let phi_star = DVector::from_fn(d, |i, _| (i as f64 * 0.37).sin());
        assert!(rel(post.variance_of(&phi_star), phi_star.dot(&(&s * &phi_star))) < 1e-8, "φᵀSφ");
        // The spectral mean and statistics.
        let spec = Spectrum::new(&p).unwrap();
        let (a, alpha) = (kappa / sigma2, 1.0 / tau2);
        let sm = spec.mean(&p.phi, a, alpha);
        assert!(
            (&sm - &mu).norm() <= 1e-8 * mu.norm().max(1.0),
            "spectral mean: N {} D {} rank {} err {}",
            p.n(),
            p.d(),
            spec.rank,
            (&sm - &mu).norm()
        );
        let direct = QStats::direct(&p, &mu, &s).unwrap();
        let fast = spec.full_q(a, alpha);
        for (x, y, what) in [
            (fast.mu_sq, direct.mu_sq, "‖μ‖²"),
            (fast.res, direct.res, "residual"),
            (fast.tr_ps, direct.tr_ps, "tr ΦᵀΦS"),
            (fast.tr_s, direct.tr_s, "tr S"),
            (fast.logdet_s, direct.logdet_s, "log det S"),
        ] {
            assert!(rel(x, y) < 1e-8, "{what}: spectral {x} vs direct {y}");
        }
    }
}

#[test]
fn elbo_at_its_optimal_q_is_the_log_evidence_and_de_elbo_its_profile() {
    for p in [problem(Dataset::Friedman1, 30, MapSpec::Linear, 5), problem(Dataset::Sine, 10, MapSpec::Rff { dim: 40, lengthscale: 1.0 }, 6)] {
        let spec = Spectrum::new(&p).unwrap();
        for (tau2, sigma2) in [(0.5, 0.2), (3.0, 1.0)] {
            let post = Posterior::gaussian(&p, 1.0, tau2, sigma2).unwrap();
            let q = QStats::direct(&p, &post.mean, &post.covariance()).unwrap();
            let elbo = Bound { n: p.n(), d: p.d(), kappa: 1.0 }.value(&q, tau2, sigma2);
            let ev = log_evidence_direct(&p, tau2, sigma2);
            assert!(rel(elbo, ev) < 1e-9, "ELBo at the posterior {elbo} vs log evidence {ev}");
            assert!(rel(spec.log_evidence(tau2, sigma2), ev) < 1e-10);
            // Any other q gives less.
            let other = QStats::direct(&p, &(&post.mean * 0.9), &(post.covariance() * 1.1)).unwrap();
            assert!(Bound { n: p.n(), d: p.d(), kappa: 1.0 }.value(&other, tau2, sigma2) < elbo);
            // κ > 1: the bound at the optimal q equals the closed-form profile.
            let kappa = 4.0;
            let post = Posterior::gaussian(&p, kappa, tau2, sigma2).unwrap();
            let q = QStats::direct(&p, &post.mean, &post.covariance()).unwrap();
            let v = Bound { n: p.n(), d: p.d(), kappa }.value(&q, tau2, sigma2);
            assert!(rel(v, spec.profile(kappa, tau2, sigma2)) < 1e-9, "DE-ELBo {v} vs profile {}", spec.profile(kappa, tau2, sigma2));
        }
    }
}

/// Golden-section search of `f` (unimodal) on [lo, hi].
fn golden_max(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if f(a) < f(b) { lo = a } else { hi = b }
    }
    0.5 * (lo + hi)
}

#[test]
fn elbo_em_mackay_and_a_direct_search_agree_on_type2_ml() {
    for p in [problem(Dataset::Friedman1, 40, MapSpec::Linear, 7), problem(Dataset::Friedman1, 30, MapSpec::Rff { dim: 90, lengthscale: 3.0 }, 8)] {
        let spec = Spectrum::new(&p).unwrap();
        let sigma2 = 1.0;
        let em = fit_elbo(&spec, &opts(1.0, QFamily::Full, false, sigma2)).unwrap();
        let mk = fit_type2_ml(&spec, &opts(1.0, QFamily::Full, false, sigma2)).unwrap();
        assert!(em.converged && mk.converged);
        let search = golden_max(|t| log_evidence_direct(&p, t.exp(), sigma2), -15.0, 15.0).exp();
        assert!(rel(em.tau2, mk.tau2) < 1e-6, "EM {} vs MacKay {}", em.tau2, mk.tau2);
        assert!(rel(mk.tau2, search) < 1e-5, "MacKay {} vs golden search {search}", mk.tau2);
        assert!(rel(em.objective, mk.objective) < 1e-9, "bound at the end = log evidence");
        // The fixed point is a zero of the bound's gradient (and of the evidence's).
        let (q, _) = q_step(&spec, QFamily::Full, 1.0, em.tau2, sigma2);
        let (gt, _) = Bound { n: p.n(), d: p.d(), kappa: 1.0 }.grad(&q, em.tau2, sigma2);
        assert!(gt.abs() * em.tau2 < 1e-6, "∂L/∂τ² = {gt} at the fixed point");
        assert!(spec.log_evidence_grad(mk.tau2, sigma2).0.abs() * mk.tau2 < 1e-6);
        // With σ² learned: both reach the same (τ², σ²).
        let em = fit_elbo(&spec, &opts(1.0, QFamily::Full, true, 2.0)).unwrap();
        let mk = fit_type2_ml(&spec, &opts(1.0, QFamily::Full, true, 2.0)).unwrap();
        assert!(rel(em.tau2, mk.tau2) < 1e-5 && rel(em.sigma2, mk.sigma2) < 1e-5, "({}, {}) vs ({}, {})", em.tau2, em.sigma2, mk.tau2, mk.sigma2);
        let (gt, gs) = spec.log_evidence_grad(mk.tau2, mk.sigma2);
        assert!(gt.abs() * mk.tau2 < 1e-5 && gs.abs() * mk.sigma2 < 1e-5, "evidence gradient ({gt}, {gs})");
    }
}

#[test]
fn coordinate_ascent_never_lowers_the_bound_and_stops_at_a_stationary_point() {
    let p = problem(Dataset::Sine, 15, MapSpec::Rff { dim: 120, lengthscale: 1.0 }, 9);
    let spec = Spectrum::new(&p).unwrap();
    let kappa = p.d() as f64 / p.n() as f64;
    for family in [QFamily::Full, QFamily::Isotropic] {
        for learn in [false, true] {
            if learn && family == QFamily::Full {
                continue; // unbounded, see the next test
            }
            let f = fit_elbo(&spec, &opts(kappa, family, learn, 0.05)).unwrap();
            assert!(f.converged, "{family:?} learn {learn}");
            for w in f.trajectory.windows(2) {
                assert!(
                    w[1].objective >= w[0].objective - 1e-9 * w[0].objective.abs(),
                    "{family:?}: bound fell {} → {}",
                    w[0].objective,
                    w[1].objective
                );
            }
            let (q, s2) = q_step(&spec, family, kappa, f.tau2, f.sigma2);
            let b = Bound { n: p.n(), d: p.d(), kappa };
            let (gt, gs) = b.grad(&q, f.tau2, f.sigma2);
            assert!(gt.abs() * f.tau2 < 1e-6 * f.objective.abs().max(1.0), "∂L/∂τ² = {gt}");
            if learn {
                assert!(gs.abs() * f.sigma2 < 1e-6 * f.objective.abs().max(1.0), "∂L/∂σ² = {gs}");
            }
            if let Some(s2) = s2 {
                assert!(b.grad_iso_s2(spec.trace(), s2, f.tau2, f.sigma2).abs() * s2 < 1e-8, "∂L/∂s²");
            }
        }
    }
}

#[test]
fn de_elbo_with_learned_noise_and_full_q_runs_to_the_floor_when_d_exceeds_n() {
    // Friedman #1 in 10-D: ΦΦᵀ of 10 points and 80 features is well conditioned.
    let p = problem(Dataset::Friedman1, 10, MapSpec::Rff { dim: 80, lengthscale: 3.0 }, 10);
    let spec = Spectrum::new(&p).unwrap();
    let f = fit_elbo(&spec, &FitOptions { max_iter: 5_000, ..opts(8.0, QFamily::Full, true, 1.0) }).unwrap();
    assert!(
        f.noise_at_floor || f.sigma2 < 1e-6,
        "σ² = {} τ² = {} it {} conv {} e_min {}",
        f.sigma2,
        f.tau2,
        f.iterations,
        f.converged,
        spec.e[spec.rank - 1]
    );
    // Why: the profile F_κ grows like −(N(κ−1)/2) log σ² as σ² → 0, while at κ = 1 (the log
    // evidence) it converges.
    let tau2 = 5.0;
    let step = |kappa: f64| spec.profile(kappa, tau2, 1e-8) - spec.profile(kappa, tau2, 1e-6);
    let want = 0.5 * p.n() as f64 * 7.0 * 100f64.ln();
    assert!(rel(step(8.0), want) < 1e-2, "κ = 8: {} vs {want}", step(8.0));
    assert!(step(1.0).abs() < 1e-2, "κ = 1: {}", step(1.0));
}

#[test]
fn learned_tau2_is_invariant_to_permuting_rows_and_scales_with_the_targets() {
    let p = problem(Dataset::Friedman1, 40, MapSpec::Rff { dim: 100, lengthscale: 3.0 }, 11);
    let perm: Vec<usize> = (0..p.n()).map(|i| (i * 17 + 5) % p.n()).collect();
    let (phi, y) = super::grid::rows(&p.phi, &p.y, &perm);
    let q = Problem::new(phi, y).unwrap();
    let kappa = p.d() as f64 / p.n() as f64;
    for family in [QFamily::Full, QFamily::Isotropic] {
        let a = fit_elbo(&Spectrum::new(&p).unwrap(), &opts(kappa, family, false, 1.0)).unwrap();
        let b = fit_elbo(&Spectrum::new(&q).unwrap(), &opts(kappa, family, false, 1.0)).unwrap();
        assert!(rel(a.tau2, b.tau2) < 1e-8, "{family:?}: {} vs {}", a.tau2, b.tau2);
    }
    // Scaling y by c and σ² by c² scales the learned τ² by c².
    let c = 3.0;
    let scaled = Problem::new(p.phi.clone(), &p.y * c).unwrap();
    let a = fit_type2_ml(&Spectrum::new(&p).unwrap(), &opts(1.0, QFamily::Full, false, 1.0)).unwrap();
    let b = fit_type2_ml(&Spectrum::new(&scaled).unwrap(), &opts(1.0, QFamily::Full, false, c * c)).unwrap();
    assert!(rel(b.tau2, c * c * a.tau2) < 1e-6, "{} vs {}", b.tau2, c * c * a.tau2);
}

#[test]
fn the_iso_elbo_learns_a_smaller_prior_variance_than_the_full_one_when_d_exceeds_n() {
    // The isotropic q pays for its D − N unconstrained directions; with κ = 1 its τ² is smaller.
    let p = problem(Dataset::Friedman1, 40, MapSpec::Rff { dim: 400, lengthscale: 3.0 }, 12);
    let spec = Spectrum::new(&p).unwrap();
    let full = fit_elbo(&spec, &opts(1.0, QFamily::Full, false, 1.0)).unwrap();
    let iso = fit_elbo(&spec, &opts(1.0, QFamily::Isotropic, false, 1.0)).unwrap();
    assert!(iso.objective <= full.objective, "the iso bound {} above the full one {}", iso.objective, full.objective);
    assert!(iso.tau2 < full.tau2, "iso τ² {} vs full {}", iso.tau2, full.tau2);
}

#[test]
fn same_seed_same_features_and_data_bit_for_bit() {
    let a = problem(Dataset::Friedman1, 20, MapSpec::Rff { dim: 50, lengthscale: 2.0 }, 13);
    let b = problem(Dataset::Friedman1, 20, MapSpec::Rff { dim: 50, lengthscale: 2.0 }, 13);
    assert_eq!(a, b);
    let c = problem(Dataset::Friedman1, 20, MapSpec::Rff { dim: 50, lengthscale: 2.0 }, 14);
    assert_ne!(a, c);
    // The RFF inner products approximate the RBF kernel.
    let data = generate(Dataset::Sine, 3, 1, 0.1, 0).unwrap();
    let fm = FeatureMap::fit(&data.x_train, MapSpec::Rff { dim: 20_000, lengthscale: 1.0 }, 0).unwrap();
    let f = fm.apply(&data.x_train).unwrap();
    let xs: Vec<f64> = {
        let c = data.x_train.column(0);
        let (m, s) = (c.mean(), (c.iter().map(|v| (v - c.mean()).powi(2)).sum::<f64>() / 3.0).sqrt());
        c.iter().map(|v| (v - m) / s).collect()
    };
    let k01 = (-(xs[0] - xs[1]).powi(2) / 2.0).exp();
    assert!((f.row(0).dot(&f.row(1)) - k01).abs() < 0.03, "{} vs {k01}", f.row(0).dot(&f.row(1)));
}

#[test]
fn grid_pieces() {
    let g = log_grid(1e-2, 1e2, 5).unwrap();
    assert!(rel(g[0], 1e-2) < 1e-12 && rel(g[2], 1.0) < 1e-12 && rel(g[4], 1e2) < 1e-12);
    let (fit, val) = split(50, 0.2, 3).unwrap();
    assert_eq!((fit.len(), val.len()), (40, 10));
    let mut all: Vec<usize> = fit.iter().chain(&val).copied().collect();
    all.sort();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    assert_eq!(split(50, 0.2, 3).unwrap(), (fit, val));
    // Scoring the fitting data with a tiny λ beats a huge λ on D < N data with signal.
    let p = problem(Dataset::Friedman1, 60, MapSpec::Linear, 15);
    let (good, _) = fit_and_score(&p.phi, &p.y, &p.phi, &p.y, 1e-3, Some(1.0)).unwrap();
    let (bad, _) = fit_and_score(&p.phi, &p.y, &p.phi, &p.y, 1e6, Some(1.0)).unwrap();
    assert!(good.loglik > bad.loglik && good.rmse < bad.rmse);
    // The profiled σ² is the evidence's maximiser along τ² = σ²/λ (a zero of its derivative).
    let spec = Spectrum::new(&p).unwrap();
    for lambda in [0.01, 1.0, 30.0] {
        let s2 = super::grid::profile_sigma2(&p, lambda).unwrap();
        let f = |s: f64| spec.log_evidence(s / lambda, s);
        let h = 1e-6 * s2;
        assert!(((f(s2 + h) - f(s2 - h)) / (2.0 * h)).abs() * s2 < 1e-5, "λ = {lambda}");
        assert!(f(s2) > f(1.1 * s2) && f(s2) > f(0.9 * s2));
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let p = problem(Dataset::Friedman1, 20, MapSpec::Linear, 16);
    let mut phi = p.phi.clone();
    phi[(3, 2)] = f64::NAN;
    assert!(Problem::new(phi, p.y.clone()).unwrap_err().contains("Φ[3, 2]"));
    let mut y = p.y.clone();
    y[4] = f64::INFINITY;
    assert!(Problem::new(p.phi.clone(), y).unwrap_err().contains("y[4]"));
    assert!(Problem::new(DMatrix::zeros(0, 3), DVector::zeros(0)).unwrap_err().contains("no training examples"));
    assert!(Problem::new(DMatrix::zeros(3, 0), DVector::zeros(3)).unwrap_err().contains("no features"));
    assert!(Problem::new(p.phi.clone(), DVector::zeros(3)).unwrap_err().contains("entries"));
    let spec = Spectrum::new(&p).unwrap();
    for (o, want) in [
        (FitOptions { tau2_init: -1.0, ..opts(1.0, QFamily::Full, false, 1.0) }, "τ²"),
        (FitOptions { tau2_init: f64::NAN, ..opts(1.0, QFamily::Full, false, 1.0) }, "τ²"),
        (opts(1.0, QFamily::Full, false, 0.0), "σ²"),
        (opts(-2.0, QFamily::Full, false, 1.0), "κ"),
        (opts(f64::NAN, QFamily::Full, false, 1.0), "κ"),
        (FitOptions { max_iter: 0, ..opts(1.0, QFamily::Full, false, 1.0) }, "max_iter"),
        (FitOptions { tol: -1.0, ..opts(1.0, QFamily::Full, false, 1.0) }, "tol"),
    ] {
        assert!(fit_elbo(&spec, &o).unwrap_err().contains(want), "{want}");
        assert!(fit_type2_ml(&spec, &o).unwrap_err().contains(want), "{want}");
    }
    assert!(Posterior::gaussian(&p, 1.0, -1.0, 1.0).unwrap_err().contains("τ²"));
    assert!(Posterior::gaussian(&p, 1.0, 1.0, f64::NAN).unwrap_err().contains("σ²"));
    assert!(fit_and_score(&p.phi, &p.y, &p.phi, &p.y, -1.0, Some(1.0)).unwrap_err().contains("λ"));
    assert!(log_grid(1.0, 0.5, 8).is_err() && log_grid(1e-3, 1.0, 1).is_err());
    assert!(split(2, 0.5, 0).is_err() && split(10, 1.0, 0).is_err());
    assert!(generate(Dataset::Sine, 1, 5, 0.1, 0).is_err() && generate(Dataset::Sine, 10, 5, -0.1, 0).is_err());
    assert!(FeatureMap::fit(&p.phi, MapSpec::Rff { dim: 0, lengthscale: 1.0 }, 0).is_err());
    assert!(FeatureMap::fit(&p.phi, MapSpec::Rff { dim: 5, lengthscale: f64::NAN }, 0).is_err());
    // Targets without signal: τ² goes to its floor and says so (no panic, no NaN).
    let zero = Problem::new(p.phi.clone(), DVector::zeros(p.n())).unwrap();
    let f = fit_type2_ml(&Spectrum::new(&zero).unwrap(), &opts(1.0, QFamily::Full, false, 1.0)).unwrap();
    assert!(f.tau2_at_floor && f.tau2 > 0.0 && f.objective.is_finite(), "{f:?}");
    // EM only creeps towards τ² = 0: an error or a τ² far below the one of the real targets.
    let real = fit_elbo(&spec, &opts(1.0, QFamily::Full, false, 1.0)).unwrap().tau2;
    if let Ok(f) = fit_elbo(&Spectrum::new(&zero).unwrap(), &FitOptions { max_iter: 20_000, ..opts(1.0, QFamily::Full, false, 1.0) }) {
        assert!(f.tau2 < 1e-3 * real, "τ² = {} without signal, {real} with", f.tau2);
    }
}

const SMALL: &str = r#"
kind = "evidence"
name = "small"
seeds = [0, 1]
methods = ["de-elbo", "de-elbo-iso", "elbo", "elbo-iso", "type2-ml", "grid"]

[[setting]]
dataset = "friedman1"
n_train = 30
n_test = 40
map = "rff"
dim = 120
lengthscale = 3.0

[[setting]]
dataset = "sine"
n_train = 12
n_test = 30
map = "linear"

[grid]
points = 9
lambda_min = 1e-3
lambda_max = 1e3
"#;

#[test]
fn a_run_writes_its_files_and_is_the_same_on_any_thread_count() {
    use crate::rundir::SweepOptions;
    let exp = super::EvidenceExperiment::parse(SMALL, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ra: super::sweep::EvidenceResults = crate::kind::run_solver(&exp, &SweepOptions { out: a.clone(), threads: 1 }).unwrap();
    let rb: super::sweep::EvidenceResults = crate::kind::run_solver(&exp, &SweepOptions { out: b.clone(), threads: 2 }).unwrap();
    assert_eq!(ra, rb);
    for f in ["results.json", "results.csv", "summary.csv", "grid.csv", "trajectories.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    for f in ["compute.csv", "report.html", "plots/trajectory-friedman1-n30-rff120.png", "plots/validation-sine-n12-linear.svg"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    // 2 settings × 2 seeds × 6 methods; the grid chose inside its range on these data.
    assert_eq!(ra.rows.len(), 24);
    assert_eq!(ra.grid.len(), 4);
    for r in &ra.rows {
        assert!(r.test_loglik.is_finite() && r.test_rmse > 0.0 && r.tau2 > 0.0, "{r:?}");
    }
    // Within a run, the ELBo with full q and type-II ML learn the same τ².
    for (e, t) in ra.rows.iter().filter(|r| r.method == "elbo").zip(ra.rows.iter().filter(|r| r.method == "type2-ml")) {
        assert!(rel(e.tau2, t.tau2) < 1e-5, "{} vs {}", e.tau2, t.tau2);
    }
    // With σ² learned the run also goes through (the grid profiles σ²).
    let noisy = super::EvidenceExperiment::parse(SMALL, &["fit.learn_noise=true".into(), "fit.sigma2_init=1.0".into()]).unwrap();
    let rn: super::sweep::EvidenceResults = crate::kind::run_solver(&noisy, &SweepOptions { out: dir.path().join("c"), threads: 2 }).unwrap();
    for (e, t) in rn.rows.iter().filter(|r| r.method == "elbo").zip(rn.rows.iter().filter(|r| r.method == "type2-ml")) {
        assert!(rel(e.sigma2, t.sigma2) < 1e-4, "σ²: {} vs {}", e.sigma2, t.sigma2);
        if t.tau2_at_floor {
            // The evidence peaks at τ² = 0 (a line cannot explain sin 3x): EM creeps there.
            assert!(e.tau2 < 1e-5, "{e:?}");
        } else {
            assert!(rel(e.tau2, t.tau2) < 1e-4, "τ²: {} vs {}", e.tau2, t.tau2);
        }
    }
    assert!(rn.rows.iter().filter(|r| r.method == "grid").all(|r| r.sigma2 != 1.0));
}

#[test]
fn a_bad_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = SMALL.replace("dim = 120", "dim = 0");
    let e = super::EvidenceExperiment::parse(&bad, &[]).unwrap_err();
    assert!(e.contains("`setting[0].dim`"), "{e}");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let req = crate::kind::RunRequest::quiet(out.clone());
    assert!(crate::kinds::run_file(&path, &[], &req).is_err());
    assert!(!out.exists());
}

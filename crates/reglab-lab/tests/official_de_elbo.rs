//! reglab's DE-ELBo (isotropic q, κ = D/N and κ = 1, closed-form coordinate ascent) and type-II ML
//! (MacKay's fixed point) against the official code's formulation optimised by gradient: the
//! fixture `tests/fixtures/de_elbo.json` is written by `bench/compare/de_elbo_torch.py`
//! (PyTorch float64, L-BFGS on μ and log s with the prior variance at its closed form, as
//! `src/losses.py` and `src/priors.py` of tufts-ml/data-emphasized-ELBo write the loss; the log
//! evidence by `torch.logdet`). Two independent routes to the same optimum.

use nalgebra::{DMatrix, DVector};
use reglab_lab::evidence::Problem;
use reglab_lab::evidence::bound::Bound;
use reglab_lab::evidence::fit::{FitOptions, QFamily, fit_elbo, fit_type2_ml, q_step};
use reglab_lab::evidence::spectral::Spectrum;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

#[test]
fn de_elbo_and_type2_ml_match_the_official_formulation_by_gradient() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/de_elbo.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (n, d) = (v["n"].as_u64().unwrap() as usize, v["d"].as_u64().unwrap() as usize);
    let sigma2 = v["sigma2"].as_f64().unwrap();
    let nums = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
    let p = Problem::new(DMatrix::from_row_slice(n, d, &nums("phi")), DVector::from_vec(nums("y"))).unwrap();
    let spec = Spectrum::new(&p).unwrap();
    for r in v["iso"].as_array().unwrap() {
        let kappa = r["kappa"].as_f64().unwrap();
        let o = FitOptions { kappa, q: QFamily::Isotropic, learn_noise: false, tau2_init: 1.0, sigma2, max_iter: 1_000_000, tol: 1e-13 };
        let f = fit_elbo(&spec, &o).unwrap();
        assert!(f.converged);
        let (q, s2) = q_step(&spec, QFamily::Isotropic, kappa, f.tau2, sigma2);
        let bound = Bound { n, d, kappa }.value(&q, f.tau2, sigma2);
        let want = |k: &str| r[k].as_f64().unwrap();
        assert!(rel(f.tau2, want("tau2")) < 1e-6, "κ = {kappa}: τ² {} vs torch {}", f.tau2, want("tau2"));
        assert!(rel(s2.unwrap(), want("s2")) < 1e-6, "κ = {kappa}: s² {:?} vs torch {}", s2, want("s2"));
        assert!(rel(q.mu_sq, want("mu_sq")) < 1e-6, "κ = {kappa}: ‖μ‖² {} vs torch {}", q.mu_sq, want("mu_sq"));
        assert!(rel(bound, want("bound")) < 1e-9, "κ = {kappa}: bound {bound} vs torch {}", want("bound"));
    }
    let ev = &v["evidence"];
    let o = FitOptions { kappa: 1.0, q: QFamily::Full, learn_noise: false, tau2_init: 1.0, sigma2, max_iter: 100_000, tol: 1e-13 };
    let f = fit_type2_ml(&spec, &o).unwrap();
    assert!(rel(f.tau2, ev["tau2"].as_f64().unwrap()) < 1e-6, "τ² {} vs torch {}", f.tau2, ev["tau2"]);
    assert!(rel(f.objective, ev["log_evidence"].as_f64().unwrap()) < 1e-10, "log evidence {} vs torch {}", f.objective, ev["log_evidence"]);
    // The full-q ELBo's EM lands on the same τ².
    let em = fit_elbo(&spec, &o).unwrap();
    assert!(rel(em.tau2, f.tau2) < 1e-6);
}

//! Tests of the recovery experiments (`cargo test -p reglab-lab recovery`).

use super::config::RecoveryExperiment;
use super::kind::run;
use super::problem::{Problem, Projector, dot, lbin_normalized, lbin_value_grad, method_stream, trial_rng};
use super::solve::{Method, MethodKind, Outcome, Start, penalized_value_grad, prox_linf, solve};
use super::sweep::{Crossing, crossing, sweep, to_csv};
use crate::rundir::SweepOptions;
use rand_distr::{Distribution, StandardNormal};

fn randn(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = trial_rng(seed, 99, 99, 99);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn method(kind: MethodKind) -> Method {
    Method { label: "m".into(), kind, max_iters: 10_000, tol: 1e-12, oracle: false }
}

fn cs(restarts: usize) -> MethodKind {
    MethodKind::Cs { lambda: 1e-3, restarts, start: Start::Random }
}

fn cs_affine(restarts: usize) -> MethodKind {
    MethodKind::CsAffine { restarts, start: Start::Random }
}

/// `method` on `trials` problems of size `n × round(n·ratio)` (seed 7).
fn outcomes(m: &Method, n: usize, ratio: f64, trials: usize) -> Vec<Outcome> {
    (0..trials)
        .map(|t| {
            let p = Problem::generate(n, super::config::m_of(n, ratio), &mut trial_rng(7, 0, t, 0));
            let proj = Projector::new(&p).unwrap();
            solve(m, &p, &proj, 1e-2, &mut trial_rng(7, 0, t, method_stream(&m.label)))
        })
        .collect()
}

fn successes(o: &[Outcome]) -> usize {
    o.iter().filter(|o| o.sign_ok).count()
}

#[test]
fn recovery_problem_generation_is_deterministic() {
    let p = Problem::generate(30, 12, &mut trial_rng(5, 1, 2, 0));
    assert_eq!(p, Problem::generate(30, 12, &mut trial_rng(5, 1, 2, 0)));
    for other in [trial_rng(5, 1, 3, 0), trial_rng(5, 2, 2, 0), trial_rng(6, 1, 2, 0), trial_rng(5, 1, 2, 1)] {
        assert_ne!(p.a, Problem::generate(30, 12, &mut other.clone()).a);
    }
    assert_eq!((p.a.len(), p.x.len(), p.b.len()), (360, 30, 12));
    assert!(p.x.iter().all(|v| *v == 1.0 || *v == -1.0));
    assert!(p.x.contains(&1.0) && p.x.contains(&-1.0));
    for i in 0..12 {
        let naive: f64 = (0..30).map(|j| p.a[i * 30 + j] * p.x[j]).sum();
        assert!((naive - p.b[i]).abs() < 1e-12);
    }
    // N(0, 1) entries
    let mean = p.a.iter().sum::<f64>() / 360.0;
    let var = p.a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 360.0;
    assert!(mean.abs() < 0.2 && (0.75..1.25).contains(&var), "mean {mean}, var {var}");
    // method streams: distinct, never the problem's
    let (a, b) = (method_stream("cs"), method_stream("cs-affine"));
    assert!(a != b && a != 0 && b != 0);
}

#[test]
fn recovery_projector_lands_on_the_affine_set() {
    for (n, m) in [(30, 12), (30, 29), (30, 30), (20, 35)] {
        let p = Problem::generate(n, m, &mut trial_rng(1, n, m, 0));
        let proj = Projector::new(&p).unwrap();
        let bn = dot(&p.b, &p.b).sqrt();
        let (mut u, mut v) = (randn(n, 1), randn(n, 2));
        let (u0, v0) = (u.clone(), v.clone());
        proj.project(&mut u);
        proj.project(&mut v);
        let mut r = vec![0.0; m];
        assert!(p.residual(&u, &mut r).sqrt() < 1e-10 * bn, "{n}×{m}: A P(z) = b");
        let mut uu = u.clone();
        proj.project(&mut uu);
        assert!(uu.iter().zip(&u).all(|(a, b)| (a - b).abs() < 1e-10), "idempotent");
        // z − P(z) is orthogonal to the set's directions (P(u) − P(v) ∈ null(A)).
        let moved: Vec<f64> = u0.iter().zip(&u).map(|(a, b)| a - b).collect();
        let along: Vec<f64> = u.iter().zip(&v).map(|(a, b)| a - b).collect();
        assert!(dot(&moved, &along).abs() < 1e-9 * (1.0 + dot(&moved, &moved).sqrt() * dot(&along, &along).sqrt()), "{n}×{m}");
        let _ = v0;
        if m >= n {
            // a single point: x itself
            assert!(u.iter().zip(&p.x).all(|(a, b)| (a - b).abs() < 1e-8), "{n}×{m}");
        } else {
            // the least-norm solution is orthogonal to null(A)
            let ln = proj.least_norm();
            assert!(dot(ln, &along).abs() < 1e-9 * (1.0 + dot(&along, &along).sqrt() * dot(ln, ln).sqrt()));
        }
    }
}

#[test]
fn recovery_lbin_value_zero_set_and_gradient() {
    let x = randn(17, 3);
    let n = 17.0;
    let naive = n * x.iter().map(|v| v.powi(4)).sum::<f64>() - x.iter().map(|v| v * v).sum::<f64>().powi(2);
    let mut g = vec![0.0; 17];
    let v = lbin_value_grad(&x, Some(&mut g));
    assert!((v - naive).abs() < 1e-12 * naive.abs().max(1.0) && v > 0.0);
    // zero exactly on {±α}^N, for any α; scale-free normalization
    let bin: Vec<f64> = x.iter().map(|v| 0.37 * v.signum()).collect();
    assert!(lbin_value_grad(&bin, None).abs() < 1e-14);
    assert!(lbin_normalized(&bin) < 1e-15);
    let scaled: Vec<f64> = x.iter().map(|v| 5.0 * v).collect();
    assert!((lbin_normalized(&scaled) - lbin_normalized(&x)).abs() < 1e-12);
    assert_eq!(lbin_normalized(&[0.0; 4]), 0.0);
    // gradient: central differences
    for i in 0..17 {
        let h = 1e-5;
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let fd = (lbin_value_grad(&xp, None) - lbin_value_grad(&xm, None)) / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()), "∂{i}: fd {fd}, grad {}", g[i]);
    }
}

#[test]
fn recovery_penalized_gradient_matches_finite_differences() {
    let p = Problem::generate(12, 5, &mut trial_rng(2, 0, 0, 0));
    let x = randn(12, 4);
    for lambda in [0.0, 0.3, 10.0] {
        let mut g = vec![0.0; 12];
        let v = penalized_value_grad(&p, lambda, &x, Some(&mut g));
        let mut r = vec![0.0; 5];
        let naive = p.residual(&x, &mut r) + lambda * lbin_value_grad(&x, None);
        assert!((v - naive).abs() < 1e-12 * naive);
        assert_eq!(v, penalized_value_grad(&p, lambda, &x, None));
        for i in 0..12 {
            let h = 1e-5;
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (penalized_value_grad(&p, lambda, &xp, None) - penalized_value_grad(&p, lambda, &xm, None)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()), "λ {lambda}, ∂{i}: fd {fd}, grad {}", g[i]);
        }
    }
}

#[test]
fn recovery_prox_linf_minimizes_its_objective() {
    let w = randn(8, 5);
    let h =
        |v: &[f64], t: f64| t * v.iter().fold(0.0f64, |m, x| m.max(x.abs())) + 0.5 * v.iter().zip(&w).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
    for t in [0.05, 0.7, 3.0] {
        let mut v = vec![0.0; 8];
        prox_linf(&w, t, &mut v);
        let hv = h(&v, t);
        for k in 0..200 {
            let d = randn(8, 100 + k);
            for eps in [1e-3, 1e-1] {
                let moved: Vec<f64> = v.iter().zip(&d).map(|(a, b)| a + eps * b).collect();
                assert!(hv <= h(&moved, t) + 1e-12, "t {t}: prox is not the minimum");
            }
        }
    }
    // t ≥ ‖w‖₁: the prox is 0
    let big = w.iter().map(|v| v.abs()).sum::<f64>() + 1.0;
    let mut v = vec![1.0; 8];
    prox_linf(&w, big, &mut v);
    assert!(v.iter().all(|x| *x == 0.0));
}

#[test]
fn recovery_every_method_recovers_at_full_and_high_ratio() {
    let kinds = [cs(10), cs_affine(10), MethodKind::Box, MethodKind::Linf { t: 10.0 }];
    for kind in kinds {
        let m = method(kind.clone());
        for ratio in [1.0, 0.75] {
            let o = outcomes(&m, 100, ratio, 20);
            assert!(successes(&o) >= 18, "{kind:?} at M/N = {ratio}: {} / 20", successes(&o));
            assert!(o.iter().filter(|o| o.sign_ok).all(|o| o.exact_ok && o.bit_errors == 0 && o.residual < 1e-5));
        }
    }
}

#[test]
fn recovery_every_method_fails_at_one_tenth() {
    let kinds = [cs(2), cs_affine(2), MethodKind::Box, MethodKind::Linf { t: 10.0 }];
    for kind in kinds {
        let m = Method { max_iters: 2000, ..method(kind.clone()) };
        let o = outcomes(&m, 100, 0.1, 10);
        assert!(successes(&o) <= 1, "{kind:?} at M/N = 0.1: {} / 10", successes(&o));
        assert!(o.iter().all(|o| o.iterations >= 1 && o.starts >= 1));
        // a failure of a `cs` method used every start
        if matches!(kind, MethodKind::Cs { .. } | MethodKind::CsAffine { .. }) {
            assert!(o.iter().filter(|o| !o.sign_ok).all(|o| o.starts == 2), "{kind:?}");
        }
    }
}

/// The certificate decides like the true x: with the same random starts (same label), the
/// oracle rule of the official script and the certificate rule succeed on the same trials.
#[test]
fn recovery_certificate_and_oracle_rules_agree() {
    for kind in [cs_affine(3), cs(3)] {
        let blind = method(kind.clone());
        let oracle = Method { oracle: true, ..blind.clone() };
        let (a, b) = (outcomes(&blind, 60, 0.5, 12), outcomes(&oracle, 60, 0.5, 12));
        let ok = |o: &[Outcome]| o.iter().map(|o| o.sign_ok).collect::<Vec<_>>();
        assert_eq!(ok(&a), ok(&b), "{kind:?}");
        assert!(successes(&a) >= 2 && successes(&a) <= 11, "{kind:?}: a grid point on the transition, {}", successes(&a));
        assert_eq!(a.iter().map(|o| o.starts).collect::<Vec<_>>(), b.iter().map(|o| o.starts).collect::<Vec<_>>());
    }
}

const SMALL: &str = r#"
kind = "cs-recovery"
name = "small"
seed = 11
[problem]
n = 40
ratios = [0.3, 0.5, 0.8]
trials = 6
[[method]]
name = "cs"
lambda = 1e-3
restarts = 3
max_iters = 3000
[[method]]
name = "cs-affine"
restarts = 3
[[method]]
name = "box"
[[method]]
name = "linf"
max_iters = 2000
"#;

#[test]
fn recovery_results_do_not_depend_on_the_thread_count() {
    let exp = RecoveryExperiment::parse(SMALL, &[]).unwrap();
    let count = std::sync::atomic::AtomicUsize::new(0);
    let one = sweep(&exp, 1, &|| {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(count.into_inner(), 18);
    let four = sweep(&exp, 4, &|| {}).unwrap();
    assert_eq!(one, four);
    assert_eq!(to_csv(&one), to_csv(&four));
    assert_eq!(one.rows.len(), 12);
    assert_eq!(one.methods, ["cs", "cs-affine", "box", "linf"]);
    // every method recovers at 0.8, none everywhere at 0.3
    for r in &one.rows {
        if r.ratio == 0.8 {
            assert!(r.successes >= 5, "{r:?}");
        }
        assert_eq!(r.trials, 6);
        assert_eq!(r.rate, r.successes as f64 / 6.0);
    }
    // a different seed gives different problems
    let other = sweep(&RecoveryExperiment::parse(SMALL, &["seed=12".into()]).unwrap(), 2, &|| {}).unwrap();
    assert_ne!(one.rows, other.rows);
}

#[test]
fn recovery_crossing_is_interpolated() {
    let c = crossing(&[(0.1, 0.0), (0.2, 0.4), (0.3, 0.8), (0.4, 0.3)]);
    assert!(matches!(c, Crossing::At(x) if (x - 0.225).abs() < 1e-12), "{c:?}");
    assert_eq!(crossing(&[(0.1, 0.6), (0.2, 1.0)]), Crossing::BelowGrid(0.1));
    assert_eq!(crossing(&[(0.1, 0.5), (0.2, 1.0)]), Crossing::At(0.1));
    assert_eq!(crossing(&[(0.1, 0.0), (0.2, 0.49)]), Crossing::AboveGrid(0.2));
    assert_eq!(crossing(&[(0.1, 0.0), (0.2, 0.5)]), Crossing::At(0.2));
    assert_eq!(Crossing::At(0.4567).text(), "0.457");
    assert_eq!(Crossing::BelowGrid(0.1).text(), "< 0.1");
    assert_eq!(Crossing::AboveGrid(1.0).text(), "> 1");
}

#[test]
fn recovery_run_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let exp = RecoveryExperiment::parse(SMALL, &["problem.trials=2".into(), "problem.ratios=[0.5, 1.0]".into()]).unwrap();
    let out = dir.path().join("run");
    let res = run(&exp, &SweepOptions { out: out.clone(), threads: 2 }).unwrap();
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/success.png",
        "plots/success.svg",
        "plots/exact.png",
        "plots/exact.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv, to_csv(&res));
    assert_eq!(csv.lines().count(), 1 + 4 * 2);
    assert!(csv.starts_with("method,ratio,m,successes,trials,rate,mean_iterations,mean_residual,"));
    let json: super::RecoveryResults = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json, res);
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert_eq!(RecoveryExperiment::parse(&config, &[]).unwrap(), exp);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("cs-affine") && html.contains("50 % crossing") && html.contains("plots/success.png"));
    let names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.starts_with('.') || n == ".lock"), "temporary files left: {names:?}");
}

/// Training experiments accept `kind = "train"` (or none) and nothing else.
#[test]
fn recovery_kind_key_of_training_experiments() {
    use crate::experiment::Experiment;
    let quick = include_str!("../../../../experiments/quickstart.toml");
    let plain = Experiment::parse(quick, &[]).unwrap();
    assert_eq!(plain.kind, None);
    assert!(!plain.to_toml().contains("kind = \"train\""));
    let train = Experiment::parse(&format!("kind = \"train\"\n{quick}"), &[]).unwrap();
    assert_eq!(train.kind.as_deref(), Some("train"));
    assert_eq!(Experiment::parse(&train.to_toml(), &[]).unwrap(), train);
    let e = Experiment::parse(&format!("kind = \"recovery\"\n{quick}"), &[]).unwrap_err();
    assert!(e.contains("`kind`") && e.contains("\"train\""), "{e}");
    // the kind list names every kind
    let e = crate::kinds::of_text(&format!("kind = \"recovery\"\n{quick}"), &[]).err().expect("unknown kind");
    assert!(e.contains("\"recovery\"") && e.contains("\"cs-recovery\""), "{e}");
    assert_eq!(crate::experiment_file::file_kind(quick, &[]), None);
    // a cs-recovery file is not a training experiment
    assert!(Experiment::parse(SMALL, &[]).is_err());
}

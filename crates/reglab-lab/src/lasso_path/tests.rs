//! Tests of the lasso-path experiments (`cargo test -p reglab-lab lasso_path`).

use super::config::LassoPathExperiment;
use super::kind::run;
use super::sweep::{LassoPathResults, REFERENCE_LABEL, sweep, to_csv};
use crate::rundir::SweepOptions;

const SMALL: &str = r#"
kind = "lasso-path"
name = "small-path"

[problem]
n = 20
d = 40
k = 4
noise = 0.1
seed = 5

[path]
lambda_min = 0.02
lambda_max = 5.0
points = 4

[[method]]
name = "subgradient"
iterations = 3000

[[method]]
name = "subgradient"
rule = "sqrt"
iterations = 3000

[[method]]
name = "ista"
iterations = 100000

[[method]]
name = "fista"
"#;

fn parse(overrides: &[&str]) -> LassoPathExperiment {
    LassoPathExperiment::parse(SMALL, &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

fn rows<'a>(res: &'a LassoPathResults, method: &str) -> Vec<&'a super::sweep::PathRow> {
    res.rows.iter().chain(&res.reference).filter(|r| r.method == method).collect()
}

#[test]
fn lasso_path_results_do_not_depend_on_the_thread_count() {
    let exp = parse(&[]);
    let count = std::sync::atomic::AtomicUsize::new(0);
    let one = sweep(&exp, 1, &|| {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(count.into_inner(), 5 * 4);
    let three = sweep(&exp, 3, &|| {}).unwrap();
    assert_eq!(one, three);
    assert_eq!(to_csv(&one), to_csv(&three));
    assert_eq!((one.rows.len(), one.reference.len(), one.summaries.len()), (16, 4, 5));
    assert_eq!(one.methods.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["subgradient", "subgradient-sqrt", "ista", "fista"]);
    assert!((one.methods[0].step - 1.0 / one.lipschitz).abs() < 1e-15);
    // another seed, another problem
    let other = sweep(&parse(&["problem.seed=6"]), 2, &|| {}).unwrap();
    assert_ne!(one.rows, other.rows);
}

/// What the experiment is about, on a small problem: the proximal methods land on the lasso
/// solution (exact zeros, KKT residual ~ f32 rounding, the reference's support), the
/// subgradient methods have no exact zeros at any λ (see
/// `linear::tests::linear_subgradient_descent_gives_no_exact_zeros` for why), and beyond
/// λ_max only the proximal methods give w = 0.
#[test]
fn lasso_path_proximal_methods_match_the_reference_and_subgradient_has_no_zeros() {
    let res = sweep(&parse(&[]), 2, &|| {}).unwrap();
    assert!(res.lambdas[3] > res.lambda_max, "the grid must reach past λ_max = {}", res.lambda_max);
    let reference = rows(&res, REFERENCE_LABEL);
    for r in &reference {
        assert_eq!(r.converged, Some(true));
        assert!(r.kkt < 1e-10, "{r:?}");
    }
    assert_eq!(reference[3].zeros, 40);
    for m in ["ista", "fista"] {
        for (r, want) in rows(&res, m).iter().zip(&reference) {
            assert_eq!(r.converged, Some(true), "{r:?}");
            assert_eq!(r.zeros, want.zeros, "{m} at λ = {}", r.lambda);
            assert!(r.kkt < 1e-4 * r.lambda.max(1.0), "{r:?}");
            assert!(r.objective_gap.abs() < 1e-6 * want.objective.max(1e-3), "{r:?}");
            assert!((r.l1_norm - want.l1_norm).abs() < 1e-4 * (1.0 + want.l1_norm), "{r:?}");
        }
    }
    for m in ["subgradient", "subgradient-sqrt"] {
        for r in rows(&res, m) {
            assert_eq!(r.zeros, 0, "{m}: {r:?}");
            assert_eq!(r.converged, None);
            assert_eq!(r.iterations, 3000);
        }
    }
    let s = &res.summaries;
    assert_eq!(s[4].method, REFERENCE_LABEL);
    assert_eq!(s[4].l1_rises, 0, "the lasso ‖w‖₁ does not rise with λ");
    assert_eq!((s[0].min_zeros, s[0].max_zeros), (0, 0));
    assert_eq!(s[3].max_zeros, 40);
}

#[test]
fn lasso_path_run_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let exp = parse(&["path.points=2", "method.0.iterations=200", "method.1.iterations=200"]);
    let out = dir.path().join("run");
    let res = run(&exp, &SweepOptions { out: out.clone(), threads: 2 }).unwrap();
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "timing.json",
        "report.html",
        "plots/l1_norm.png",
        "plots/l1_norm.svg",
        "plots/zeros.png",
        "plots/zeros.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv, to_csv(&res));
    assert_eq!(csv.lines().count(), 1 + 5 * 2);
    assert!(csv.starts_with("method,lambda,l1_norm,zeros,small,objective,objective_gap,iterations,converged,kkt,"));
    assert!(csv.contains("\nsubgradient,0.02,") && csv.contains("\nlasso (reference),5,"), "{csv}");
    let json: LassoPathResults = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json, res);
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert_eq!(LassoPathExperiment::parse(&config, &[]).unwrap(), exp);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("small-path") && html.contains("plots/l1_norm.png") && html.contains("subgradient-sqrt") && html.contains("KKT"));
    let names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.starts_with('.') || n == ".lock"), "temporary files left: {names:?}");
    // bad input: an error before anything is written
    let bad = dir.path().join("bad");
    assert!(run(&exp, &SweepOptions { out: bad.clone(), threads: 0 }).is_err());
    assert!(!bad.exists());
}

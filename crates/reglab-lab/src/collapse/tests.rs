//! The simulation against the closed form of OLS, ridge's limits, determinism and bad input.

use super::*;

fn setting(d: usize, t: usize, generations: usize) -> Setting {
    Setting { d, t, t0: t, sigma: 1.0, sigma0: 1.0, generations, generator: Fit::Ols, downstream: Fit::Ols }
}

/// Mean and standard error over `reps` seeds of `E_n`, per generation.
fn mean_and_se(s: &Setting, reps: u64) -> Vec<(f64, f64)> {
    let traces: Vec<Vec<f64>> = (0..reps).map(|r| simulate(s, 1000 + r).unwrap().excess).collect();
    (0..=s.generations)
        .map(|n| {
            let xs: Vec<f64> = traces.iter().map(|t| t[n]).collect();
            let m = xs.iter().sum::<f64>() / reps as f64;
            let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (reps as f64 - 1.0);
            (m, (var / reps as f64).sqrt())
        })
        .collect()
}

#[test]
fn ols_excess_grows_by_the_closed_form_per_generation() {
    // d = 10, T = T₀ = 40: slope = intercept = 10/29
    let s = setting(10, 40, 4);
    let stats = mean_and_se(&s, 400);
    for (n, (m, se)) in stats.iter().enumerate() {
        let expect = ols_expected_excess(&s, n).unwrap();
        eprintln!("n = {n}: simulated {m:.4} ± {se:.4}, closed form {expect:.4}");
        assert!((m - expect).abs() < 4.0 * se, "generation {n}: {m} ± {se} against {expect}");
    }
    assert!((ols_expected_excess(&s, 1).unwrap() - 2.0 * 10.0 / 29.0).abs() < 1e-12);
    // a different generator: T₀ = 100, σ₀ = 0.5 changes the slope, not the intercept
    let s2 = Setting { t0: 100, sigma0: 0.5, ..s.clone() };
    let stats = mean_and_se(&s2, 400);
    for (n, (m, se)) in stats.iter().enumerate() {
        let expect = ols_expected_excess(&s2, n).unwrap();
        assert!((m - expect).abs() < 4.0 * se, "T₀ = 100, generation {n}: {m} ± {se} against {expect}");
    }
    assert_eq!(ols_expected_excess(&setting(10, 11, 1), 0), None);
}

#[test]
fn ridge_interpolates_between_ols_and_zero() {
    let s = setting(8, 30, 3);
    let ols = simulate(&s, 7).unwrap();
    // λ = 0 is OLS (the same normal equations)
    let r0 = simulate(&Setting { downstream: Fit::Ridge { lambda: 0.0 }, generator: Fit::Ridge { lambda: 0.0 }, ..s.clone() }, 7).unwrap();
    for (a, b) in ols.excess.iter().zip(&r0.excess) {
        assert!((a - b).abs() <= 1e-12 * a.max(1.0), "{a} vs {b}");
    }
    // λ → ∞ shrinks ŵ to 0: E_n → ‖w₀‖², the same for every n
    let big = simulate(&Setting { downstream: Fit::Ridge { lambda: 1e12 }, ..s.clone() }, 7).unwrap();
    let w0_sq = big.excess[0];
    assert!(big.excess.iter().all(|e| (e - w0_sq).abs() < 1e-6 * w0_sq), "{:?}", big.excess);
    // and a moderate λ on the downstream fit lowers the mean error of a collapsed chain
    let chain = setting(20, 44, 10);
    let m = |s: &Setting| (0..60u64).map(|r| simulate(s, r).unwrap().excess[10]).sum::<f64>() / 60.0;
    let (e_ols, e_ridge) = (m(&chain), m(&Setting { downstream: Fit::Ridge { lambda: 0.5 }, ..chain.clone() }));
    assert!(e_ridge < e_ols, "ridge {e_ridge} vs OLS {e_ols}");
}

#[test]
fn same_seed_same_trace_and_generations_do_not_shift_the_draws() {
    let s = setting(6, 20, 5);
    assert_eq!(simulate(&s, 3).unwrap(), simulate(&s, 3).unwrap());
    assert_ne!(simulate(&s, 3).unwrap(), simulate(&s, 4).unwrap());
    let short = simulate(&Setting { generations: 2, ..s.clone() }, 3).unwrap();
    assert_eq!(short.excess[..], simulate(&s, 3).unwrap().excess[..3]);
}

#[test]
fn bad_settings_are_one_line_errors() {
    let ok = setting(5, 20, 2);
    for (s, what) in [
        (Setting { d: 0, ..ok.clone() }, "d must"),
        (Setting { sigma: -1.0, ..ok.clone() }, "σ must"),
        (Setting { sigma0: f64::NAN, ..ok.clone() }, "σ₀ must"),
        (Setting { t: 3, ..ok.clone() }, "at least d samples"),
        (Setting { t0: 0, ..ok.clone() }, "at least one sample"),
        (Setting { generator: Fit::Ridge { lambda: -0.1 }, ..ok.clone() }, "ridge λ"),
    ] {
        let e = simulate(&s, 1).unwrap_err();
        assert!(e.contains(what) && !e.contains('\n'), "{e}");
    }
    // ridge needs no more samples than dimensions
    assert!(simulate(&Setting { t: 3, downstream: Fit::Ridge { lambda: 0.1 }, ..ok }, 1).is_ok());
}

#[test]
fn the_rules_share_the_draws_and_a_fixed_ols_rule_is_simulate() {
    let s = setting(6, 20, 4);
    let rules = [Downstream::Fixed(Fit::Ols), Downstream::Fixed(Fit::Ridge { lambda: 0.3 }), Downstream::Adaptive];
    let t = simulate_rules(&s, &rules, 9, 0).unwrap();
    assert_eq!(t[0].excess, simulate(&s, 9).unwrap().excess);
    assert_eq!(t[1].excess, simulate(&Setting { downstream: Fit::Ridge { lambda: 0.3 }, ..s.clone() }, 9).unwrap().excess);
    // the adapted λ: σ²d/T + n σ₀²d/(T₀ − d − 1) = 0.3 + n·6/13
    for (n, l) in t[2].lambda.iter().enumerate() {
        assert!((l - (0.3 + n as f64 * 6.0 / 13.0)).abs() < 1e-12, "n = {n}: {l}");
    }
    assert_eq!(t[0].lambda, vec![0.0; 5]);
    // replicates are independent draws; replicate 0 is simulate's
    let r1 = simulate_rules(&s, &rules[..1], 9, 1).unwrap();
    assert_ne!(r1[0].excess, t[0].excess);
    assert_eq!(simulate_rules(&s, &rules[..1], 9, 1).unwrap(), r1);
    // a rule does not change the others' draws
    assert_eq!(simulate_rules(&s, &rules[1..2], 9, 0).unwrap()[0], t[1]);
}

#[test]
fn the_best_lambda_is_the_grid_point_closest_to_the_truth() {
    // the eigen-path fits equal the Cholesky fits, so best ≤ every fixed λ of its grid
    let s = setting(8, 24, 3);
    let grid: Vec<f64> = (0..13).map(|i| 10f64.powf(-3.0 + 0.5 * i as f64)).collect();
    let mut rules = vec![Downstream::Best { grid: grid.clone() }];
    rules.extend(grid.iter().map(|&lambda| Downstream::Fixed(Fit::Ridge { lambda })));
    let t = simulate_rules(&s, &rules, 2, 0).unwrap();
    for n in 0..=3 {
        let fixed: Vec<f64> = t[1..].iter().map(|r| r.excess[n]).collect();
        let min = fixed.iter().copied().fold(f64::INFINITY, f64::min);
        assert!((t[0].excess[n] - min).abs() <= 1e-9 * min, "n = {n}: best {} vs grid minimum {min}", t[0].excess[n]);
        let k = fixed.iter().position(|&e| e == min).unwrap();
        assert!((t[0].lambda[n] - grid[k]).abs() <= 1e-12 * grid[k] || (fixed[k] - t[0].excess[n]).abs() <= 1e-9 * min);
        assert_eq!(t[0].on_grid_edge[n], k == 0 || k + 1 == grid.len());
    }
    // a grid of one huge λ sits on its edge and gives ‖w₀‖²
    let one = simulate_rules(&s, &[Downstream::Best { grid: vec![1e12] }], 2, 0).unwrap();
    assert!(one[0].on_grid_edge.iter().all(|&e| e));
}

#[test]
fn the_adapted_lambda_keeps_the_error_bounded_and_near_the_best_ridge() {
    // T = 2d: OLS grows by d/(T − d − 1) ≈ 1.06 per generation past ‖w₀‖² ≈ 1
    let s = Setting { sigma: 1.0, sigma0: 1.0, ..setting(20, 40, 10) };
    let grid: Vec<f64> = (0..41).map(|i| 10f64.powf(-2.0 + 0.1 * i as f64)).collect();
    let rules =
        [Downstream::Fixed(Fit::Ols), Downstream::Fixed(Fit::Ridge { lambda: clean_lambda(&s) }), Downstream::Adaptive, Downstream::Best { grid }];
    let reps = 40;
    let mut mean = [[0.0f64; 11]; 4];
    for r in 0..reps {
        for (k, t) in simulate_rules(&s, &rules, 5, r).unwrap().iter().enumerate() {
            for (m, e) in mean[k].iter_mut().zip(&t.excess) {
                *m += e / reps as f64;
            }
        }
    }
    let [ols, fixed, adapted, best] = mean;
    eprintln!("n = 10: OLS {:.3}, fixed {:.3}, adapted {:.3}, best {:.3}", ols[10], fixed[10], adapted[10], best[10]);
    assert!(ols[10] > 8.0, "OLS collapses: {}", ols[10]);
    assert!(fixed[10] < ols[10] && fixed[10] > 2.0, "a fixed λ slows it but it still grows: {}", fixed[10]);
    assert!(adapted[10] < 1.0, "the adapted λ stays below the zero predictor's error: {}", adapted[10]);
    assert!(adapted[10] < 1.15 * best[10] && best[10] <= adapted[10], "adapted {} vs best in hindsight {}", adapted[10], best[10]);
    // at n = 0 the adapted λ is the clean one
    assert_eq!(adapted[0], fixed[0]);
    assert!((adaptive_lambda(&s, 3).unwrap() - (0.5 + 3.0 * 20.0 / 19.0)).abs() < 1e-12);
    assert_eq!(ols_generator_drift(&setting(10, 11, 1), 1), None);
}

#[test]
fn bad_rules_are_errors() {
    let s = Setting { generator: Fit::Ridge { lambda: 0.1 }, ..setting(5, 20, 2) };
    let e = simulate_rules(&s, &[Downstream::Adaptive], 1, 0).unwrap_err();
    assert!(e.contains("OLS generators"), "{e}");
    for grid in [vec![], vec![f64::NAN], vec![-1.0]] {
        let e = simulate_rules(&setting(5, 20, 2), &[Downstream::Best { grid }], 1, 0).unwrap_err();
        assert!(e.contains("grid"), "{e}");
    }
}

const SMALL: &str = r#"
kind = "collapse"
name = "collapse-small"
seeds = [0, 1]
replicates = 3
generations = 5

[best_grid]
min = 0.01
max = 100.0
points = 21

[[setting]]
d = 6
t = 24
sigma = 0.5

[[setting]]
d = 4
t = 40
t0 = 12
sigma = 0.5
sigma0 = 1.0

[[method]]
name = "OLS"
downstream = "ols"

[[method]]
name = "ridge λ₀"
downstream = "ridge:clean"

[[method]]
name = "ridge, adapted"
downstream = "ridge:adaptive"

[[method]]
name = "ridge best"
downstream = "ridge:best"

[[method]]
name = "ridge everywhere"
generator = "ridge:clean"
downstream = "ridge:clean"
"#;

#[test]
fn a_run_writes_its_files_and_is_the_same_on_any_thread_count() {
    use crate::rundir::SweepOptions;
    let exp = CollapseExperiment::parse(SMALL, &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ra: sweep::CollapseResults = crate::kind::run_solver(&exp, &SweepOptions { out: a.clone(), threads: 1 }).unwrap();
    let rb: sweep::CollapseResults = crate::kind::run_solver(&exp, &SweepOptions { out: b.clone(), threads: 3 }).unwrap();
    assert_eq!(ra, rb);
    for f in ["results.json", "results.csv", "summary.csv", "slopes.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    for f in ["report.html", "plots/excess-d6-t24.png", "plots/excess-d4-t40-t012.svg", "plots/lambda-d6-t24.png"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    // 2 settings × 2 seeds × 5 methods × 6 generations
    assert_eq!(ra.rows.len(), 120);
    assert_eq!(ra.summary.len(), 10);
    // a seed's value is the mean of its replicates, as simulate_rules gives them
    let s = exp.setting(1, 0).unwrap();
    let direct: f64 = (0..3).map(|r| simulate_rules(&s, &[Downstream::Fixed(Fit::Ols)], 1, r).unwrap()[0].excess[5]).sum::<f64>() / 3.0;
    let row = ra.rows.iter().find(|r| r.setting == exp.settings[1].label() && r.seed == 1 && r.method == "OLS" && r.generation == 5).unwrap();
    assert!((row.excess - direct).abs() <= 1e-12 * direct, "{} vs {direct}", row.excess);
    // OLS carries the closed form, its slope σ₀²d/(T₀ − d − 1) = 4/7 in setting 1
    let ols = ra.summary.iter().find(|r| r.setting == exp.settings[1].label() && r.method == "OLS").unwrap();
    assert!((ols.theory_slope.unwrap() - 4.0 / 7.0).abs() < 1e-12);
    assert!(ra.summary.iter().filter(|r| r.method != "OLS").all(|r| r.theory.is_none()));
    // a method name with a comma is one quoted CSV field
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("d=6 T=24 σ=0.5,0,\"ridge, adapted\",0,")), "{csv}");
    let summary = std::fs::read_to_string(a.join("slopes.csv")).unwrap();
    assert_eq!(summary.lines().count(), 11, "{summary}");
    assert!(sweep::slope(&[1.0, 3.0, 5.0, 7.0]) == 2.0);
}

#[test]
fn a_bad_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = SMALL.replace("t0 = 12", "t0 = 5");
    let e = CollapseExperiment::parse(&bad, &[]).unwrap_err();
    assert!(e.contains("`method[0].generator`") && e.contains("d + 2"), "{e}");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let req = crate::kind::RunRequest::quiet(out.clone());
    assert!(crate::kinds::run_file(&path, &[], &req).is_err());
    assert!(!out.exists());
}

//! Tests of the sparse-OT experiments (`cargo test -p reglab-lab ot_sparse`).

use super::config::OtSparseExperiment;
use super::kind::run;
use super::sweep::{OtSparseResults, clouds_csv, draw_clouds, exact_uniform_rect, sweep, to_csv};
use crate::RunError;
use crate::rundir::SweepOptions;
use reglab_ot::{EpsScaling, Matrix, SinkhornOptions, sinkhorn_log, uniform};

const SMALL: &str = r#"
kind = "ot-sparse"
name = "small-sparse-ot"

[data]
n = 20
m = 16
seed = 3

[solve]
gamma = 0.1
ks = [1, 2, 4, 8]
epsilon = 0.01
"#;

fn parse(overrides: &[&str]) -> OtSparseExperiment {
    OtSparseExperiment::parse(SMALL, &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn ot_sparse_exact_reference_matches_fine_sinkhorn() {
    // 6 × 4: lcm 12; a tiny entropic solve at small ε lands close to it from above
    let x = Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.3], [0.2, 1.1], [2.0, 2.0], [2.5, 1.4], [1.6, 2.7]]).unwrap();
    let y = Matrix::from_rows(&[[0.1, 0.2], [0.8, 0.9], [2.2, 2.1], [1.1, 2.0]]).unwrap();
    let c = reglab_ot::sq_euclidean(&x, &y).unwrap();
    let (plan, cost, l) = exact_uniform_rect(&c).unwrap().unwrap();
    assert_eq!(l, 12);
    let (rs, cs) = (plan.row_sums(), plan.col_sums());
    assert!(rs.iter().all(|v| (v - 1.0 / 6.0).abs() < 1e-12) && cs.iter().all(|v| (v - 0.25).abs() < 1e-12));
    let s = sinkhorn_log(
        &uniform(6),
        &uniform(4),
        &c,
        1e-3,
        &SinkhornOptions { max_iter: 100_000, ..Default::default() },
        Some(&EpsScaling::from_cost(&c)),
    )
    .unwrap();
    assert!(s.cost >= cost - 1e-9 && s.cost - cost < 1e-2, "exact {cost}, sinkhorn {}", s.cost);
    assert!(exact_uniform_rect(&Matrix::zeros(997, 991)).is_none(), "lcm too large: no exact reference");
}

#[test]
fn ot_sparse_results_do_not_depend_on_the_thread_count_and_respect_k() {
    let exp = parse(&[]);
    let count = std::sync::atomic::AtomicUsize::new(0);
    let one = sweep(&exp, 1, &|| {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(count.into_inner(), 4 + 3);
    let two = sweep(&exp, 2, &|| {}).unwrap();
    assert_eq!(one.results, two.results);
    assert_eq!(to_csv(&one.results), to_csv(&two.results));
    let res = &one.results;
    let methods: Vec<&str> = res.rows.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["sparse k=1", "sparse k=2", "sparse k=4", "sparse k=8", "quadratic", "entropic", "exact"]);
    assert!(res.reference.starts_with("exact"), "{}", res.reference);
    for (r, plan) in res.rows.iter().zip(&one.plans) {
        if let Some(k) = r.k {
            assert!(r.max_nonzeros_per_column <= k, "{r:?}");
            for j in 0..plan.cols {
                assert!((0..plan.rows).filter(|&i| plan.get(i, j) != 0.0).count() <= k);
            }
        }
        assert!(plan.data.iter().all(|&t| t >= 0.0));
    }
    let row = |m: &str| res.rows.iter().find(|r| r.method == m).unwrap();
    let exact = row("exact");
    assert_eq!(exact.cost_gap, 0.0);
    assert!(exact.row_error < 1e-12 && exact.col_error < 1e-12, "{exact:?}");
    // every feasible plan costs at least the exact OT cost
    for r in &res.rows {
        if r.row_error < 1e-6 && r.col_error < 1e-6 {
            assert!(r.cost >= exact.cost - 1e-9, "{r:?}");
        }
    }
    // the quadratic and entropic solves converge and satisfy the marginals; the entropic plan is dense
    for m in ["quadratic", "entropic", "sparse k=8"] {
        let r = row(m);
        assert!(r.converged && r.row_error < 1e-6 && r.col_error < 1e-6, "{r:?}");
    }
    assert!(row("entropic").nonzeros > row("quadratic").nonzeros, "the entropic plan is denser");
    // the sparse rows use the semi-dual: their columns meet b exactly, converged or not
    for r in res.rows.iter().filter(|r| r.k.is_some()) {
        assert!(r.col_error < 1e-12, "{r:?}");
    }
    // k = 8 with n = 20: the constraint is looser than the quadratic plan's columns, or equal
    assert!(row("quadratic").max_nonzeros_per_column >= row("sparse k=1").max_nonzeros_per_column);
    // another seed, another problem
    let other = sweep(&parse(&["data.seed=4"]), 2, &|| {}).unwrap();
    assert_ne!(one.results.rows, other.results.rows);
}

#[test]
fn ot_sparse_run_writes_its_files_and_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let exp = parse(&["solve.ks=[1, 4]"]);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let res = run(&exp, &SweepOptions { out: a.clone(), threads: 2 }).unwrap();
    for f in [
        "config.toml",
        "results.json",
        "results.csv",
        "clouds.csv",
        "timing.json",
        "report.html",
        "plots/cost.png",
        "plots/cost.svg",
        "plots/nonzeros.png",
        "plots/nonzeros.svg",
        "plots/plan-k1.png",
        "plots/plan-k1.svg",
        "plots/plan-k4.png",
        "plots/plan-k4.svg",
        "plots/plan-quadratic.png",
        "plots/plan-quadratic.svg",
        "plots/plan-entropic.png",
        "plots/plan-entropic.svg",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    assert_eq!(csv, to_csv(&res));
    assert_eq!(csv.lines().count(), 1 + 2 + 3);
    assert!(csv.starts_with("method,k,reg,cost,cost_gap,objective,nonzeros,max_nonzeros_per_column,mean_nonzeros_per_column,"));
    assert!(csv.contains("\nsparse k=4,4,0.1,") && csv.contains("\nexact,,,"), "{csv}");
    let json: OtSparseResults = serde_json::from_str(&std::fs::read_to_string(a.join("results.json")).unwrap()).unwrap();
    assert_eq!(json, res);
    let config = std::fs::read_to_string(a.join("config.toml")).unwrap();
    assert_eq!(OtSparseExperiment::parse(&config, &[]).unwrap(), exp);
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("small-sparse-ot") && html.contains("plots/cost.png") && html.contains("plots/plan-k1.png") && html.contains("sparse k=4"));
    // clouds.csv: the drawn problem, exact to the bit
    let clouds = std::fs::read_to_string(a.join("clouds.csv")).unwrap();
    let input = draw_clouds(&exp);
    assert_eq!(clouds, clouds_csv(&input));
    let lines: Vec<&str> = clouds.lines().collect();
    assert_eq!(lines[0], "side,index,x,y,weight");
    assert_eq!(lines.len(), 1 + 20 + 16);
    for (l, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let (side, pts, w, i) = if l < 20 { ("source", &input.source, &input.a, l) } else { ("target", &input.target, &input.b, l - 20) };
        assert_eq!((f[0], f[1].parse::<usize>().unwrap()), (side, i), "{line}");
        let v: Vec<f64> = f[2..].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!([v[0].to_bits(), v[1].to_bits(), v[2].to_bits()], [pts.get(i, 0).to_bits(), pts.get(i, 1).to_bits(), w[i].to_bits()], "{line}");
    }
    let names: Vec<String> = std::fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.starts_with('.') || n == ".lock"), "temporary files left: {names:?}");
    run(&exp, &SweepOptions { out: b.clone(), threads: 1 }).unwrap();
    for f in ["results.json", "results.csv", "clouds.csv", "config.toml"] {
        assert!(std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(), "{f} differs between runs");
    }
}

#[test]
fn ot_sparse_bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut exp = parse(&[]);
    exp.solve.ks = vec![];
    let out = dir.path().join("bad");
    assert!(matches!(run(&exp, &SweepOptions { out: out.clone(), threads: 1 }), Err(RunError::Input(e)) if e.contains("solve.ks")));
    exp.solve.ks = vec![0, 1];
    assert!(matches!(run(&exp, &SweepOptions { out: out.clone(), threads: 1 }), Err(RunError::Input(_))));
    exp.solve.ks = vec![1];
    exp.solve.gamma = -0.1;
    assert!(matches!(run(&exp, &SweepOptions { out: out.clone(), threads: 1 }), Err(RunError::Input(e)) if e.contains("solve.gamma")));
    exp.solve.gamma = 0.1;
    assert!(run(&exp, &SweepOptions { out: out.clone(), threads: 0 }).is_err());
    assert!(!out.exists());
}

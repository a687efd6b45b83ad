//! End-to-end tests of `reglab ot`: every method on a small problem written to CSV files, and
//! every bad input (exit code 2, one line naming the problem, no output file).

mod common;

use common::{assert_input_error, assert_input_error_all, reglab, stdout};
use std::path::PathBuf;
use std::process::Output;

/// A small problem in a temporary directory: 6 source points (two classes) and 5 target points
/// in 2-D, uneven source weights.
struct Problem {
    dir: tempfile::TempDir,
}

impl Problem {
    fn new() -> Self {
        let p = Self { dir: tempfile::tempdir().unwrap() };
        p.file("A.csv", "x,y\n0,0\n1,0.2\n0.3,1\n2,2\n2.5,1.5\n1.8,2.6\n");
        p.file("B.csv", "0.2,0.1\n0.9,0.8\n2.1,2.2\n2.6,1.9\n1,2\n");
        p.file("WA.csv", "weight\n0.1\n0.2\n0.1\n0.25\n0.15\n0.2\n");
        p.file("LA.csv", "0\n0\n0\n1\n1\n1\n");
        p
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `reglab ot --source A.csv --target B.csv` plus `args`.
    fn run(&self, args: &[&str]) -> Output {
        let (a, b) = (self.path("A.csv"), self.path("B.csv"));
        reglab().args(["ot", "--source", a.to_str().unwrap(), "--target", b.to_str().unwrap()]).args(args).output().expect("run reglab")
    }

    /// Only the input files are in the directory (nothing was written).
    fn assert_nothing_written(&self) {
        let mut names: Vec<String> =
            std::fs::read_dir(self.dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.retain(|n| !n.ends_with(".csv") || n == "plan.csv");
        assert!(names.is_empty() && !self.path("plan.csv").exists(), "written: {names:?}");
    }
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn every_method_solves_and_writes_plan_and_plot() {
    let p = Problem::new();
    let wa = p.path("WA.csv").display().to_string();
    let la = p.path("LA.csv").display().to_string();
    let out = p.path("plan.csv").display().to_string();
    let png = p.path("links.png").display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--method", "sinkhorn", "--reg", "0.5", "--max-iter", "100000"],
        vec!["--method", "sinkhorn-log", "--reg", "0.2", "--max-iter", "100000", "--eps-scaling"],
        vec!["--method", "smooth", "--reg", "0.5", "--metric", "euclidean"],
        vec!["--method", "sparse", "--reg", "0.5", "--k", "2"],
        vec!["--method", "class", "--reg", "0.1", "--labels-a", &la],
    ];
    for case in &cases {
        let _ = std::fs::remove_file(&out);
        let mut args = case.clone();
        args.extend(["--weights-a", &wa, "--out", &out, "--plot", &png, "--json"]);
        let v = json(&p.run(&args));
        assert_eq!(v["method"], case[1]);
        assert_eq!((v["n"].as_u64(), v["m"].as_u64(), v["d"].as_u64()), (Some(6), Some(5), Some(2)));
        for key in ["cost", "objective", "row_error", "col_error", "nonzeros", "max_nonzeros_per_column", "iterations", "converged", "seconds"] {
            assert!(v.get(key).is_some(), "{}: no {key} in {v}", case[1]);
        }
        assert_eq!(v["converged"], true, "{v}");
        assert!(v["row_error"].as_f64().unwrap() < 1e-6 && v["col_error"].as_f64().unwrap() < 1e-6, "{v}");
        if case[1] == "sparse" {
            assert!(v["max_nonzeros_per_column"].as_u64().unwrap() <= 2, "{v}");
        }
        let plan = std::fs::read_to_string(&out).unwrap();
        let rows: Vec<Vec<f64>> = plan.lines().map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect();
        assert_eq!(rows.len(), 6, "{plan}");
        assert!(rows.iter().all(|r| r.len() == 5 && r.iter().all(|&t| t >= 0.0)), "{plan}");
        let mass: f64 = rows.iter().flatten().sum();
        assert!((mass - 1.0).abs() < 1e-6, "{mass}");
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        assert!(p.path("links.svg").is_file());
    }
}

#[test]
fn human_summary_names_cost_errors_and_nonzeros() {
    let p = Problem::new();
    let o = p.run(&["--method", "smooth", "--reg", "0.5"]);
    assert!(o.status.success());
    let s = stdout(&o);
    for w in ["smooth (γ = 0.5, sqeuclidean): n = 6, m = 5, d = 2", "cost ⟨C,T⟩ = ", "marginal errors", "non-zeros: ", "converged: yes"] {
        assert!(s.contains(w), "expected `{w}` in:\n{s}");
    }
    // Without --out and --plot nothing is written.
    p.assert_nothing_written();
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_write_nothing() {
    let p = Problem::new();
    let out = p.path("plan.csv").display().to_string();
    let png = p.path("links.png").display().to_string();
    let w = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--out".into(), out.clone(), "--plot".into(), png.clone()]);
        v
    };
    let run = |args: Vec<String>| -> Output {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        p.run(&a)
    };
    let check = |o: Output, want: &[&str]| {
        assert_input_error_all(&o, want);
        p.assert_nothing_written();
    };

    // Ragged target file.
    let ragged = p.file("ragged.csv", "1,2\n3,4\n5,6\n7,8,9\n");
    let o = reglab()
        .args(["ot", "--source", p.path("A.csv").to_str().unwrap(), "--target", &ragged, "--method", "sinkhorn", "--reg", "1", "--out", &out])
        .output()
        .unwrap();
    check(o, &["ragged.csv line 4: 3 values, line 1 had 2"]);

    // Not a number.
    let nan = p.file("nan.csv", "1,2\nNaN,4\n");
    let o = reglab()
        .args(["ot", "--source", &nan, "--target", p.path("B.csv").to_str().unwrap(), "--method", "sinkhorn", "--reg", "1", "--out", &out])
        .output()
        .unwrap();
    check(o, &["nan.csv line 2, column 1", "not finite"]);

    // Dimension mismatch.
    let b3 = p.file("B3.csv", "1,2,3\n4,5,6\n");
    let o = reglab()
        .args(["ot", "--source", p.path("A.csv").to_str().unwrap(), "--target", &b3, "--method", "sinkhorn", "--reg", "1", "--out", &out])
        .output()
        .unwrap();
    check(o, &["dimension mismatch", "2 coordinates", "has 3"]);

    // Negative weight.
    let neg = p.file("neg.csv", "0.5\n-0.1\n0.1\n0.2\n0.2\n0.1\n");
    check(run(w(&["--method", "sinkhorn", "--reg", "1", "--weights-a", &neg])), &["neg.csv line 2: negative weight -0.1"]);

    // Weights that do not sum alike.
    let half = p.file("half.csv", "0.1\n0.1\n0.1\n0.1\n0.1\n");
    check(run(w(&["--method", "sinkhorn", "--reg", "1", "--weights-b", &half])), &["weights carry different mass", "half.csv sums to 0.5"]);

    // One weight per point.
    let short = p.file("short.csv", "0.5\n0.5\n");
    check(run(w(&["--method", "sinkhorn", "--reg", "1", "--weights-a", &short])), &["short.csv: 2 weights for 6 points"]);

    // Class without labels; sparse without k; unknown method and metric; bad reg.
    check(run(w(&["--method", "class", "--reg", "0.1"])), &["method class needs labels", "--labels-a"]);
    check(run(w(&["--method", "sparse", "--reg", "0.1"])), &["method sparse needs --k"]);
    check(run(w(&["--method", "emd", "--reg", "0.1"])), &["unknown method `emd`", "sinkhorn | sinkhorn-log | smooth | sparse | class"]);
    check(run(w(&["--method", "smooth", "--reg", "0.1", "--metric", "cosine"])), &["unknown metric `cosine`"]);
    check(run(w(&["--method", "sinkhorn", "--reg", "-1"])), &["--reg (ε) must be > 0"]);
    check(run(w(&["--method", "smooth", "--reg", "1", "--eps-scaling"])), &["--eps-scaling applies to method sinkhorn-log only"]);

    // Labels that do not fit.
    let labels = p.file("L3.csv", "0\n1\n-2\n");
    check(run(w(&["--method", "class", "--reg", "0.1", "--labels-a", &labels])), &["L3.csv line 3: `-2` is not a non-negative integer"]);

    // Output paths checked before solving.
    let bad_plot = p.path("links.jpg").display().to_string();
    let o = p.run(&["--method", "sinkhorn", "--reg", "1", "--out", &out, "--plot", &bad_plot]);
    check(o, &["--plot", "expected a .png file"]);
    let o = p.run(&["--method", "sinkhorn", "--reg", "1", "--out", p.path("no/such/plan.csv").to_str().unwrap()]);
    assert_input_error(&o, "does not exist");
}

#[test]
fn help_lists_the_methods() {
    let o = reglab().args(["ot", "--help"]).output().unwrap();
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("sinkhorn | sinkhorn-log | smooth | sparse | class") && s.contains("--labels-a"), "{s}");
}

//! Tests of `kind = "tune"`: config errors name their key and write nothing; a tiny run on the
//! embedded digits writes every file, the same bit for bit on 1 and 2 threads, with the compute
//! counted as the formulas say.

use super::TuneExperiment;
use super::sweep::TuneResults;
use crate::rundir::SweepOptions;

const SMALL: &str = r#"
kind = "tune"
name = "tune-small"
data = "digits"
n_train = 300
n_val = 200
seeds = [1, 2]

[train]
model = "mlp:16"
optim = { kind = "sgd", momentum = 0.9 }
lr = 0.05
batch = 32
steps = 40

[grid]
lambdas = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]

[tuned]
lambda0 = [1e-3]
steps_per_hyper = 10
hyper_lr = 0.2
neumann_terms = 3
hessian_batch = 64
val_batch = 100
"#;

#[test]
fn config_errors_name_the_key() {
    let e = |from: &str, to: &str| TuneExperiment::parse(&SMALL.replace(from, to), &[]).unwrap_err();
    assert!(e("steps_per_hyper = 10", "steps_per_hyper = 7").contains("`tuned.steps_per_hyper`"));
    assert!(e("lambdas = [0.0, 1e-4,", "lambdas = [1e-4,").contains("`grid.lambdas`"));
    assert!(e("lambdas = [0.0, 1e-4,", "lambdas = [0.0, -1e-4,").contains("`grid.lambdas`"));
    assert!(e("lambda0 = [1e-3]", "lambda0 = [0.0]").contains("`tuned.lambda0`"));
    assert!(e("lr = 0.05", "lr = -1.0").contains("`train.lr`"));
    assert!(e("model = \"mlp:16\"", "model = \"nope\"").contains("`train.model`"));
    assert!(e("n_val = 200", "n_val = 0").contains("`n_val`"));
    let unknown = e("hyper_lr = 0.2", "hyper_lr = 0.2\nhyper_rate = 1.0");
    assert!(unknown.contains("hyper_rate") && !unknown.contains('\n'), "{unknown}");
    let o = TuneExperiment::parse(SMALL, &["tuned.neumann_terms=5".into()]).unwrap();
    assert_eq!(o.tuned.neumann_terms, 5);
    let exp = TuneExperiment::parse(SMALL, &[]).unwrap();
    assert_eq!(TuneExperiment::parse(&exp.to_toml(), &[]).unwrap(), exp);
}

fn request(out: std::path::PathBuf) -> crate::kind::RunRequest {
    crate::kind::RunRequest::quiet(out)
}

#[test]
fn a_bad_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // caught when parsing
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, SMALL.replace("batch = 32", "batch = 0")).unwrap();
    let out = dir.path().join("run");
    let e = crate::kinds::run_file(&path, &[], &request(out.clone())).unwrap_err();
    assert!(e.to_string().contains("`train.batch`"), "{e}");
    assert!(!out.exists());
    // caught with the data: more examples than the digits have, and a λ per layer too many
    std::fs::write(&path, SMALL.replace("n_train = 300", "n_train = 1400")).unwrap();
    let e = crate::kinds::run_file(&path, &[], &request(out.clone())).unwrap_err();
    assert!(e.to_string().contains("`n_train`"), "{e}");
    std::fs::write(&path, SMALL.replace("lambda0 = [1e-3]", "lambda0 = [1e-3, 1e-3, 1e-3]")).unwrap();
    let e = crate::kinds::run_file(&path, &[], &request(out.clone())).unwrap_err();
    assert!(e.to_string().contains("`tuned.lambda0`"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_run_writes_its_files_and_is_the_same_on_any_thread_count() {
    let exp = super::kind::TuneRun::new(TuneExperiment::parse(SMALL, &[]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let ra: TuneResults = crate::kind::run_solver(&exp, &SweepOptions { out: a.clone(), threads: 1 }).unwrap();
    let rb: TuneResults = crate::kind::run_solver(&exp, &SweepOptions { out: b.clone(), threads: 2 }).unwrap();
    assert_eq!(ra, rb);
    for f in ["results.json", "results.csv", "summary.csv", "grid.csv", "trajectories.csv", "compute.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    for f in ["report.html", "timing.json", "compute_seconds.csv", "plots/lambda-trajectories.png", "plots/grid-accuracy.svg"] {
        assert!(a.join(f).exists(), "{f} missing");
    }
    // 2 tuned cells, then 8 λ × 2 seeds
    assert_eq!(ra.cells.len(), 2 + 16);
    let (k, h, t) = (3u64, 4u64, 10u64);
    for c in &ra.cells {
        assert_eq!(c.train_steps, 40);
        assert!((0.0..=1.0).contains(&c.test_accuracy) && c.val_loss.is_finite());
        if c.method == "tuned" {
            // H hypergradients of 1 + 2K gradient evaluations on top of the steps
            assert_eq!(c.grad_evals, h * t + h * (1 + 2 * k));
            assert_eq!(c.trajectory.len(), h as usize);
            assert_eq!(c.groups.len(), 2);
            // λ moved (Adam moves θ by about η per hyper-step)
            assert!(c.lambda.iter().all(|l| (l.ln() - 1e-3f64.ln()).abs() > 0.05), "{:?}", c.lambda);
            assert_eq!(c.examples, 4 * 300 + h * (100 + 2 * k * 64));
        } else {
            assert_eq!(c.grad_evals, 40);
            assert_eq!(c.examples, 4 * 300);
        }
    }
    let grid_evals = 8.0 * 40.0;
    assert!((ra.claim.compute_ratio - (40.0 + 4.0 * 7.0) / grid_evals).abs() < 1e-12);
    // the grid's choice is the best validation accuracy of its seed
    for g in &ra.grid_choice {
        let best = ra.cells.iter().filter(|c| c.method == "grid" && c.seed == g.seed).map(|c| c.val_accuracy).fold(0.0, f64::max);
        assert_eq!(g.val_accuracy, best);
    }
}

#[test]
fn spectral_penalty_runs_its_grid_and_its_learned_strengths() {
    // the key is optional and absent from a weight-decay file's resolved TOML (its hash is kept)
    let l2 = TuneExperiment::parse(SMALL, &[]).unwrap();
    assert!(!l2.to_toml().contains("penalty"));
    let text = SMALL.replace("kind = \"tune\"", "kind = \"tune\"\npenalty = \"spectral\"");
    let e = TuneExperiment::parse(&text.replace("\"spectral\"", "\"spectrall\""), &[]).unwrap_err();
    assert!(e.contains("penalty") && e.contains("spectrall"), "{e}");
    let exp = TuneExperiment::parse(&text, &[]).unwrap();
    assert!(exp.to_toml().contains("penalty = \"spectral\""));
    // the grid's runs carry `spectral=λ` on every layer, the tuned one learns one λ per layer
    let cfg = super::sweep::train_config(&exp, 1, Some(1e-3)).unwrap();
    assert_eq!(cfg.regs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["spectral=0.001"]);
    assert_eq!(super::sweep::tune_options(&exp).penalty, reglab_train::hypergrad::tune::TunedPenalty::Spectral);
    let exp = super::kind::TuneRun::new(TuneExperiment::parse(&text, &["seeds=[1]".into()]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let r: TuneResults = crate::kind::run_solver(&exp, &SweepOptions { out: dir.path().join("s"), threads: 2 }).unwrap();
    let tuned = r.cells.iter().find(|c| c.method == "tuned").unwrap();
    assert_eq!(tuned.groups, ["layers.0.weight", "layers.1.weight"]);
    assert!(tuned.lambda.iter().all(|l| l.is_finite() && (l.ln() - 1e-3f64.ln()).abs() > 0.05), "{:?}", tuned.lambda);
    // a spectral grid point differs from the weight-decay one at the same λ
    let l2r: TuneResults = crate::kind::run_solver(
        &super::kind::TuneRun::new(TuneExperiment::parse(SMALL, &["seeds=[1]".into()]).unwrap()),
        &SweepOptions { out: dir.path().join("l"), threads: 2 },
    )
    .unwrap();
    let at = |r: &TuneResults| r.cells.iter().find(|c| c.grid_lambda == Some(1e-1)).unwrap().val_loss;
    assert_ne!(at(&r), at(&l2r));
}

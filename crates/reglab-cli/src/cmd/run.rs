//! `reglab run`.

use crate::Failure;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reglab_lab::experiment::{self, Event, Experiment, RunError, RunOptions};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

/// Run an experiment file: several arms (regularizer sets) × seeds through a task stream.
///
/// Writes OUT/config.toml (resolved), OUT/results.json and OUT/results.csv (no timings: the same
/// seeds give the same files, whatever --jobs), OUT/timing.json, OUT/plots/*.png|svg,
/// OUT/report.html and OUT/checkpoints/ (one file per arm and seed, rewritten after each task).
/// See docs/experiments.md for the file format.
#[derive(clap::Args)]
pub struct Args {
    /// The experiment file (TOML).
    experiment: PathBuf,
    /// Run directory (default: runs/<experiment name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Jobs (arm × seed) trained at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Override a key, e.g. --set stream.tasks=10 --set arm.1.reg='["l2=1e-4"]'.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Continue the run in OUT from its checkpoints.
    #[arg(long)]
    resume: bool,
    /// cpu | gpu (gpu needs a build with `--features gpu`; training experiments only).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&a.experiment).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    match reglab_lab::recovery::file_kind(&text, &a.sets).as_deref() {
        Some(reglab_lab::recovery::config::KIND) => return run_recovery(&a, &text),
        Some(reglab_lab::lasso_path::config::KIND) => return run_lasso_path(&a, &text),
        Some(reglab_lab::ot_sparse::config::KIND) => return run_ot_sparse(&a, &text),
        Some(reglab_lab::inverse::config::KIND) => return run_inverse(&a, &text),
        Some(k) if k != "train" => {
            let kinds = format!(
                "\"train\", \"{}\", \"{}\", \"{}\" or \"{}\"",
                reglab_lab::recovery::config::KIND,
                reglab_lab::lasso_path::config::KIND,
                reglab_lab::ot_sparse::config::KIND,
                reglab_lab::inverse::config::KIND
            );
            return Err(Failure::input(format!("{}: `kind` = \"{k}\": expected {kinds}", a.experiment.display())));
        }
        _ => {}
    }
    let exp = Experiment::parse(&text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    if a.jobs == 0 {
        return Err(Failure::input("--jobs must be ≥ 1"));
    }
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&exp.name));
    let show = !a.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    if !show {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let n_jobs = exp.arms.len() * exp.seeds.len();
    let total_tasks = (n_jobs * exp.stream.tasks) as u64;
    let overall = multi.add(ProgressBar::new(total_tasks));
    overall.set_style(ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} tasks ({elapsed}, eta {eta})").expect("template").progress_chars("=> "));
    overall.set_prefix(exp.name.clone());
    let bars: Mutex<HashMap<usize, ProgressBar>> = Mutex::new(HashMap::new());
    let epochs = exp.stream.epochs_per_task as u64;
    let on_event = |e: Event| match e {
        Event::JobStart { job, arm, seed, first_task, tasks } => {
            overall.inc((first_task - 1) as u64);
            let b = multi.add(ProgressBar::new(epochs));
            b.set_style(ProgressStyle::with_template("{prefix:>12} [{bar:20}] {msg}").expect("template").progress_chars("=> "));
            b.set_prefix(format!("{arm} s{seed}"));
            b.set_message(format!("task {first_task}/{tasks}"));
            bars.lock().expect("bars").insert(job, b);
        }
        Event::Epoch { job, task, epoch, epochs } => {
            if let Some(b) = bars.lock().expect("bars").get(&job) {
                b.set_position(epoch as u64);
                b.set_message(format!("task {task}/{}, epoch {epoch}/{epochs}", exp.stream.tasks));
            }
        }
        Event::TaskEnd { job, task, train_accuracy } => {
            overall.inc(1);
            if let Some(b) = bars.lock().expect("bars").get(&job) {
                b.set_position(0);
                b.set_message(format!("task {task} done, train acc {train_accuracy:.3}"));
            }
        }
        Event::JobEnd { job } => {
            if let Some(b) = bars.lock().expect("bars").remove(&job) {
                b.finish_and_clear();
            }
        }
    };
    let device: reglab_train::device::DeviceKind = a.device.parse().map_err(Failure::input)?;
    let opts = RunOptions { out: out.clone(), jobs: a.jobs, resume: a.resume, device };
    let r = experiment::run(&exp, &opts, &on_event);
    overall.finish_and_clear();
    let results = r.map_err(|e| match e {
        RunError::Input(m) => Failure::input(m),
        RunError::Failed(m) => Failure::failed(m),
    })?;
    experiment::report::write(&exp, &results, &out).map_err(Failure::failed)?;
    // A short summary: per arm, the first and last task's mean train/test accuracy.
    println!("{:<20} {:>14} {:>14} {:>14} {:>14}", "arm", "train acc t1", "train acc last", "test acc t1", "test acc last");
    for arm in &results.arms {
        let s = |m: &str| reglab_lab::results::summarize(&results.rows, arm, m);
        let (tr, te) = (s("train_accuracy"), s("test_accuracy"));
        let f = |v: &[(usize, f64, f64, usize)], last: bool| {
            (if last { v.last() } else { v.first() }).map(|x| format!("{:.4}", x.1)).unwrap_or_default()
        };
        println!("{:<20} {:>14} {:>14} {:>14} {:>14}", arm, f(&tr, false), f(&tr, true), f(&te, false), f(&te, true));
    }
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

/// What every solver kind checks first: `--jobs ≥ 1` and no `--resume` (their runs have no
/// checkpoints); returns the run directory (`--out`, default `runs/NAME`).
fn solver_run_dir(a: &Args, kind: &str, name: &str) -> Result<PathBuf, Failure> {
    if a.jobs == 0 {
        return Err(Failure::input("--jobs must be ≥ 1"));
    }
    if a.resume {
        return Err(Failure::input(format!("--resume does not apply to kind = \"{kind}\" (a run has no checkpoints: run it again)")));
    }
    Ok(a.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(name)))
}

/// Run `run(tick)` under a progress bar of `total` `unit`s prefixed by `name` (hidden with
/// `--quiet` or when stderr is not a terminal), `tick` advancing it; a [`RunError`] becomes
/// the matching [`Failure`].
fn with_progress<R>(a: &Args, name: &str, total: u64, unit: &str, run: impl FnOnce(&(dyn Fn() + Sync)) -> Result<R, RunError>) -> Result<R, Failure> {
    let bar = if !a.quiet && std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    let template = format!("{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})");
    bar.set_style(ProgressStyle::with_template(&template).expect("template").progress_chars("=> "));
    bar.set_prefix(name.to_string());
    let r = run(&|| bar.inc(1));
    bar.finish_and_clear();
    r.map_err(|e| match e {
        RunError::Input(m) => Failure::input(m),
        RunError::Failed(m) => Failure::failed(m),
    })
}

/// `kind = "cs-recovery"`: the recovery sweep (see docs/experiments.md). `--jobs` is the number of
/// threads over the trials (the results do not depend on it); `--resume` does not apply.
fn run_recovery(a: &Args, text: &str) -> Result<(), Failure> {
    use reglab_lab::recovery::{RecoveryExperiment, RecoveryOptions};
    let exp = RecoveryExperiment::parse(text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let out = solver_run_dir(a, "cs-recovery", &exp.name)?;
    let total = (exp.problem.ratios.len() * exp.problem.trials) as u64;
    let opts = RecoveryOptions { out: out.clone(), threads: a.jobs };
    let res = with_progress(a, &exp.name, total, "trials", |tick| reglab_lab::recovery::run(&exp, &opts, tick))?;
    println!("{:<20} {:>22} {:>22}", "method", "50% at M/N (sign)", "50% at M/N (exact)");
    for c in &res.crossings {
        println!("{:<20} {:>22} {:>22}", c.method, c.sign.text(), c.exact.text());
    }
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

/// `kind = "ot-sparse"`: sparsity-constrained, quadratic, entropic and exact OT between two
/// drawn clouds (see docs/experiments.md). `--jobs` is the number of threads over the solves
/// (the results do not depend on it); `--resume` does not apply.
fn run_ot_sparse(a: &Args, text: &str) -> Result<(), Failure> {
    use reglab_lab::ot_sparse::{OtSparseExperiment, OtSparseOptions};
    let exp = OtSparseExperiment::parse(text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let out = solver_run_dir(a, "ot-sparse", &exp.name)?;
    let total = reglab_lab::ot_sparse::job_count(&exp) as u64;
    let opts = OtSparseOptions { out: out.clone(), threads: a.jobs };
    let res = with_progress(a, &exp.name, total, "solves", |tick| reglab_lab::ot_sparse::run(&exp, &opts, tick))?;
    println!("n = {}, m = {}, γ = {}, ε = {}; reference: {}", res.n, res.m, res.gamma, res.epsilon, res.reference);
    println!("{:<14} {:>12} {:>12} {:>10} {:>10} {:>12} {:>12} {:>10}", "method", "cost", "− exact", "max nz/col", "mean nz/col", "row error", "col error", "converged");
    for r in &res.rows {
        println!(
            "{:<14} {:>12.6} {:>12.3e} {:>10} {:>10.2} {:>12.2e} {:>12.2e} {:>10}",
            r.method, r.cost, r.cost_gap, r.max_nonzeros_per_column, r.mean_nonzeros_per_column, r.row_error, r.col_error, r.converged
        );
    }
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

/// `kind = "inverse"`: few-view CT reconstructions over λ grids (see docs/experiments.md).
/// `--jobs` is the number of threads over the (setting, λ) solves of each method (the results
/// do not depend on it); `--resume` does not apply.
fn run_inverse(a: &Args, text: &str) -> Result<(), Failure> {
    use reglab_lab::inverse::{InverseExperiment, InverseOptions};
    let exp = InverseExperiment::parse(text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let out = solver_run_dir(a, "inverse", &exp.name)?;
    let total = reglab_lab::inverse::job_count(&exp) as u64;
    let opts = InverseOptions { out: out.clone(), threads: a.jobs };
    let res = with_progress(a, &exp.name, total, "reconstructions", |tick| reglab_lab::inverse::run(&exp, &opts, tick))?;
    println!("{} phantom {}×{}; best PSNR (dB) / SSIM over each λ grid:", res.phantom, res.size, res.size);
    print!("{:<22}", "method");
    for s in &res.settings {
        print!(" {:>22}", s.title());
    }
    println!();
    for m in &res.methods {
        print!("{m:<22}");
        for s in &res.settings {
            match res.best(m, s.views, s.noise) {
                Some(r) => print!(" {:>22}", format!("{:.2} / {:.3}", r.psnr, r.ssim)),
                None => print!(" {:>22}", "—"),
            }
        }
        println!();
    }
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

/// `kind = "lasso-path"`: ℓ1 solvers over a λ grid (see docs/experiments.md). `--jobs` is the
/// number of threads over the (method, λ) jobs (the results do not depend on it); `--resume`
/// does not apply.
fn run_lasso_path(a: &Args, text: &str) -> Result<(), Failure> {
    use reglab_lab::lasso_path::{LassoPathExperiment, LassoPathOptions};
    let exp = LassoPathExperiment::parse(text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let out = solver_run_dir(a, "lasso-path", &exp.name)?;
    let total = reglab_lab::lasso_path::job_count(&exp).map_err(Failure::input)? as u64;
    let opts = LassoPathOptions { out: out.clone(), threads: a.jobs };
    let res = with_progress(a, &exp.name, total, "solves", |tick| reglab_lab::lasso_path::run(&exp, &opts, tick))?;
    let (first, last) = (res.lambdas[0], res.lambdas[res.lambdas.len() - 1]);
    println!("λ from {first} to {last} ({} points), λ_max = {:.4}", res.lambdas.len(), res.lambda_max);
    println!("{:<24} {:>14} {:>14} {:>10} {:>16} {:>12}", "method", "‖w‖₁ first λ", "‖w‖₁ last λ", "‖w‖₁ rises", "exact zeros", "max KKT");
    for s in &res.summaries {
        let mine: Vec<_> = res.rows.iter().chain(&res.reference).filter(|r| r.method == s.method).collect();
        let l1 = |i: usize| mine.get(i).map(|r| format!("{:.4}", r.l1_norm)).unwrap_or_default();
        println!(
            "{:<24} {:>14} {:>14} {:>10} {:>16} {:>12.3e}",
            s.method,
            l1(0),
            l1(mine.len().saturating_sub(1)),
            s.l1_rises,
            format!("{}–{}", s.min_zeros, s.max_zeros),
            s.max_kkt
        );
    }
    println!("wrote {}", out.join("report.html").display());
    Ok(())
}

//! The cells of a `kind = "tune"` experiment (one tuned run per seed, then one grid run per
//! `λ` × seed), their work and the merged outputs: `results.json`, `results.csv` (one row per
//! cell), `summary.csv`, `grid.csv`, `trajectories.csv`, `compute.csv`, the plots and
//! `report.html`.

use super::config::TuneExperiment;
use crate::RunError;
use crate::data::{DataSource, seeded_permutation};
use crate::report::html::{Cell, Figure, ReportInput, SummaryRow, format_number};
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
pub use crate::stats::MeanStd;
use reglab_core::Dataset;
use reglab_train::config::TrainConfig;
use reglab_train::hypergrad::tune::TunedPenalty;
use reglab_train::hypergrad::{DecayGroups, IftOptions, SpectralGroups, TuneOptions, TuneRecord, tune};
use reglab_train::trainer::Trainer;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

/// Which run a cell is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellKey {
    /// The learned decay, seed index.
    Tuned(usize),
    /// Grid point index, seed index.
    Grid(usize, usize),
}

/// The cells in order: the tuned run of every seed, then every grid point × seed.
pub fn cell_keys(exp: &TuneExperiment) -> Vec<CellKey> {
    let mut k: Vec<CellKey> = (0..exp.seeds.len()).map(CellKey::Tuned).collect();
    for g in 0..exp.grid.lambdas.len() {
        k.extend((0..exp.seeds.len()).map(|s| CellKey::Grid(g, s)));
    }
    k
}

/// A cell's label, e.g. `tuned s1`, `grid λ=0.001 s1`.
pub fn cell_label(exp: &TuneExperiment, k: &CellKey) -> String {
    match *k {
        CellKey::Tuned(s) => format!("tuned s{}", exp.seeds[s]),
        CellKey::Grid(g, s) => format!("grid λ={} s{}", exp.grid.lambdas[g], exp.seeds[s]),
    }
}

/// The three sets: training and validation parts of the source's training set, its test set.
#[derive(Debug)]
pub struct Parts {
    /// `n_train` examples.
    pub train: Dataset,
    /// `n_val` held-out examples.
    pub val: Dataset,
    /// The source's test set.
    pub test: Dataset,
}

/// Load the source and split it (errors name the key).
pub fn load_parts(exp: &TuneExperiment) -> Result<Parts, String> {
    let src: DataSource = exp.data.parse().map_err(|e| format!("`data` = {:?}: {e}", exp.data))?;
    let split = src.load().map_err(|e| format!("`data` = {:?}: {e}", exp.data))?;
    let n = split.train.len();
    if exp.n_train + exp.n_val > n {
        return Err(format!("`n_train` + `n_val` = {} + {} exceed the {n} training examples of {}", exp.n_train, exp.n_val, src.name()));
    }
    let perm = seeded_permutation(n, exp.split_seed);
    let name = src.name();
    Ok(Parts {
        train: split.train.subset(&perm[..exp.n_train], format!("{name}/train-part")),
        val: split.train.subset(&perm[exp.n_train..exp.n_train + exp.n_val], format!("{name}/validation")),
        test: split.test,
    })
}

/// The training configuration of seed `seed` with the uniform decay `lambda` (`None`: none,
/// the tuned runs add their own).
pub fn train_config(exp: &TuneExperiment, seed: u64, lambda: Option<f64>) -> Result<TrainConfig, String> {
    let t = &exp.train;
    let regs = match lambda {
        Some(l) if l > 0.0 => {
            let spec = format!("{}={l}", exp.penalty.reg_name());
            vec![reglab_core::Spec::parse(&spec).map_err(|e| format!("`grid.lambdas`: {spec}: {e}"))?]
        }
        _ => vec![],
    };
    let per_epoch = exp.n_train.div_ceil(t.batch);
    Ok(TrainConfig {
        model: t.model.parse().map_err(|e| format!("`train.model`: {e}"))?,
        optim: t.optim.clone(),
        lr: t.lr,
        batch: t.batch,
        epochs: t.steps.div_ceil(per_epoch).max(1),
        seed,
        regs,
        reparam: None,
        prune: None,
    })
}

/// The options of [`tune`] the file asks for.
pub fn tune_options(exp: &TuneExperiment) -> TuneOptions {
    let u = &exp.tuned;
    TuneOptions {
        lambda0: u.lambda0.clone(),
        anchor_init: false,
        penalty: exp.penalty,
        steps_per_hyper: u.steps_per_hyper,
        hyper_steps: exp.hyper_steps(),
        hyper_lr: u.hyper_lr,
        hyper_optim: u.hyper_optim,
        ift: IftOptions { alpha: u.alpha.unwrap_or(exp.train.lr), k: u.neumann_terms, eps_rel: u.eps_rel },
        hessian_batch: u.hessian_batch,
        val_batch: u.val_batch,
    }
}

/// What can be checked with the data: the split's sizes, the model on the data and the
/// number of starting strengths against its layers.
pub fn check(exp: &TuneExperiment, parts: &Parts, device: &burn::tensor::Device) -> Result<(), String> {
    let cfg = train_config(exp, exp.seeds[0], None)?;
    let t = Trainer::new(&cfg, &parts.train.example_shape, parts.train.classes, device, None, 1).map_err(|e| format!("[train]: {e}"))?;
    match exp.penalty {
        TunedPenalty::L2 => DecayGroups::per_layer(&t.net, &exp.tuned.lambda0).map(|_| ()),
        TunedPenalty::Spectral => SpectralGroups::per_layer(&t.net, &exp.tuned.lambda0, reglab_train::hypergrad::spectral::DEFAULT_K).map(|_| ()),
    }
    .map_err(|e| format!("`tuned.lambda0`: {e}"))?;
    tune_options(exp).validate().map_err(|e| format!("[tuned]: {e}"))?;
    Ok(())
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// `tuned` or `grid`.
    pub method: String,
    /// The run's seed.
    pub seed: u64,
    /// The grid point's λ (tuned: `None`).
    pub grid_lambda: Option<f64>,
    /// Names of the decayed groups (layer weights).
    pub groups: Vec<String>,
    /// λ per group at the end (grid: the grid λ for every group).
    pub lambda: Vec<f64>,
    /// Validation cross-entropy and accuracy of the final model.
    pub val_loss: f64,
    /// Validation accuracy (fraction).
    pub val_accuracy: f64,
    /// Test cross-entropy.
    pub test_loss: f64,
    /// Test accuracy (fraction).
    pub test_accuracy: f64,
    /// Optimizer steps.
    pub train_steps: u64,
    /// Gradient evaluations (steps + hypergradients).
    pub grad_evals: u64,
    /// Examples through a forward and backward pass.
    pub examples: u64,
    /// The tuned run's hyper-steps (grid: empty).
    pub trajectory: Vec<TuneRecord>,
}

/// Run cell `index` on the loaded `parts`.
pub fn run_cell(exp: &TuneExperiment, parts: &Parts, index: usize, device: &burn::tensor::Device) -> Result<CellResult, String> {
    let keys = cell_keys(exp);
    let key = *keys.get(index).ok_or_else(|| format!("cell {index} is not in the plan (0..{})", keys.len()))?;
    let groups_of = |net: &reglab_train::model::Net| net.layers().iter().map(|l| l.weight_name()).collect::<Vec<_>>();
    match key {
        CellKey::Tuned(s) => {
            let seed = exp.seeds[s];
            let cfg = train_config(exp, seed, None)?;
            let (t, r) = tune(&cfg, &parts.train, &parts.val, &tune_options(exp), device).map_err(|e| e.to_string())?;
            let last = r.records.last().ok_or("no hyper-step")?;
            let (val_loss, val_accuracy) = t.evaluate(&parts.val);
            let (test_loss, test_accuracy) = t.evaluate(&parts.test);
            Ok(CellResult {
                method: "tuned".into(),
                seed,
                grid_lambda: None,
                groups: r.groups.clone(),
                lambda: last.lambda.clone(),
                val_loss,
                val_accuracy,
                test_loss,
                test_accuracy,
                train_steps: last.train_steps,
                grad_evals: last.grad_evals,
                examples: last.examples,
                trajectory: r.records,
            })
        }
        CellKey::Grid(g, s) => {
            let (seed, lambda) = (exp.seeds[s], exp.grid.lambdas[g]);
            let cfg = train_config(exp, seed, Some(lambda))?;
            let steps = exp.train.steps;
            let mut t = Trainer::new(&cfg, &parts.train.example_shape, parts.train.classes, device, None, steps as u64).map_err(|e| e.to_string())?;
            let per_epoch = t.steps_per_epoch(parts.train.len());
            let (mut left, mut epoch, mut examples) = (steps, 1usize, 0u64);
            while left > 0 {
                let end = left.min(per_epoch);
                t.train_steps(&parts.train, epoch, 0..end, &mut |_| {}).map_err(|e| e.to_string())?;
                examples += (0..end).map(|i| (parts.train.len() - i * cfg.batch).min(cfg.batch) as u64).sum::<u64>();
                left -= end;
                epoch += 1;
            }
            let (val_loss, val_accuracy) = t.evaluate(&parts.val);
            let (test_loss, test_accuracy) = t.evaluate(&parts.test);
            let groups = groups_of(&t.net);
            Ok(CellResult {
                method: "grid".into(),
                seed,
                grid_lambda: Some(lambda),
                lambda: vec![lambda; groups.len()],
                groups,
                val_loss,
                val_accuracy,
                test_loss,
                test_accuracy,
                train_steps: t.steps_done(),
                grad_evals: steps as u64,
                examples,
                trajectory: vec![],
            })
        }
    }
}

/// The grid's choice for one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridChoice {
    /// Seed.
    pub seed: u64,
    /// The chosen λ (highest validation accuracy; ties: lower validation loss).
    pub lambda: f64,
    /// Whether it is the smallest or the largest λ of the grid.
    pub on_edge: bool,
    /// Its validation accuracy.
    pub val_accuracy: f64,
    /// Its test accuracy.
    pub test_accuracy: f64,
    /// Gradient evaluations of the whole grid for this seed.
    pub grad_evals: u64,
    /// Examples of the whole grid for this seed.
    pub examples: u64,
}

/// One row of the summary (per method, over seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryLine {
    /// `tuned`, `grid best` or `grid λ=…`.
    pub method: String,
    /// log10 λ per group, mean ± std over seeds (`None` where a seed's λ is 0).
    pub log10_lambda: Vec<Option<MeanStd>>,
    /// Validation accuracy (fraction).
    pub val_accuracy: MeanStd,
    /// Test accuracy (fraction).
    pub test_accuracy: MeanStd,
    /// Gradient evaluations per seed (the grid's best: the whole grid's).
    pub grad_evals: f64,
    /// Examples per seed.
    pub examples: f64,
    /// Gradient evaluations over those of the whole grid.
    pub ratio_to_grid: f64,
}

/// The claim of issue 18: the tuned run within 0.2 points of the grid's best validation accuracy
/// at ≤ 1/5 of the grid's compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Tuned − grid best, validation accuracy in points, paired by seed.
    pub val_gap_points: MeanStd,
    /// Tuned − grid best, test accuracy in points, paired by seed.
    pub test_gap_points: MeanStd,
    /// Tuned gradient evaluations over the grid's, mean over seeds.
    pub compute_ratio: f64,
    /// Mean validation gap ≥ −0.2 points.
    pub within_0_2_points: bool,
    /// Compute ratio ≤ 0.2.
    pub at_most_a_fifth: bool,
    /// Seeds whose grid choice is at an edge of the grid.
    pub grid_choice_on_edge: usize,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneResults {
    /// Every cell, in plan order.
    pub cells: Vec<CellResult>,
    /// The grid's choice per seed.
    pub grid_choice: Vec<GridChoice>,
    /// Per method.
    pub summary: Vec<SummaryLine>,
    /// Issue 18's claim.
    pub claim: Claim,
}

/// Aggregate the cells (in plan order).
pub fn aggregate(exp: &TuneExperiment, cells: Vec<CellResult>) -> Result<TuneResults, String> {
    let keys = cell_keys(exp);
    if cells.len() != keys.len() {
        return Err(format!("{} cell results for {} cells", cells.len(), keys.len()));
    }
    let lambdas = &exp.grid.lambdas;
    let grid_of = |g: usize, s: usize| &cells[keys.iter().position(|k| *k == CellKey::Grid(g, s)).expect("a grid cell")];
    let tuned_of = |s: usize| &cells[keys.iter().position(|k| *k == CellKey::Tuned(s)).expect("a tuned cell")];
    let mut grid_choice = Vec::new();
    for (s, &seed) in exp.seeds.iter().enumerate() {
        let mut best = 0;
        for g in 1..lambdas.len() {
            let (c, b) = (grid_of(g, s), grid_of(best, s));
            if c.val_accuracy > b.val_accuracy || (c.val_accuracy == b.val_accuracy && c.val_loss < b.val_loss) {
                best = g;
            }
        }
        let b = grid_of(best, s);
        grid_choice.push(GridChoice {
            seed,
            lambda: lambdas[best],
            on_edge: best == 0 || best + 1 == lambdas.len(),
            val_accuracy: b.val_accuracy,
            test_accuracy: b.test_accuracy,
            grad_evals: (0..lambdas.len()).map(|g| grid_of(g, s).grad_evals).sum(),
            examples: (0..lambdas.len()).map(|g| grid_of(g, s).examples).sum(),
        });
    }
    let n_seeds = exp.seeds.len();
    let grid_evals = grid_choice.iter().map(|c| c.grad_evals as f64).sum::<f64>() / n_seeds as f64;
    let log10s = |rows: &[&CellResult]| -> Vec<Option<MeanStd>> {
        let groups = rows.first().map_or(0, |r| r.lambda.len());
        (0..groups)
            .map(|i| rows.iter().all(|r| r.lambda[i] > 0.0).then(|| MeanStd::of(&rows.iter().map(|r| r.lambda[i].log10()).collect::<Vec<_>>())))
            .collect()
    };
    let line = |method: String, rows: &[&CellResult], evals: f64, examples: f64| SummaryLine {
        method,
        log10_lambda: log10s(rows),
        val_accuracy: MeanStd::of(&rows.iter().map(|r| r.val_accuracy).collect::<Vec<_>>()),
        test_accuracy: MeanStd::of(&rows.iter().map(|r| r.test_accuracy).collect::<Vec<_>>()),
        grad_evals: evals,
        examples,
        ratio_to_grid: evals / grid_evals,
    };
    let tuned: Vec<&CellResult> = (0..n_seeds).map(tuned_of).collect();
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let mut summary = vec![line(
        "tuned (IFT, per layer)".into(),
        &tuned,
        mean(tuned.iter().map(|r| r.grad_evals as f64).collect()),
        mean(tuned.iter().map(|r| r.examples as f64).collect()),
    )];
    let best: Vec<&CellResult> =
        (0..n_seeds).map(|s| grid_of(lambdas.iter().position(|l| *l == grid_choice[s].lambda).expect("a grid λ"), s)).collect();
    summary.push(line(
        "grid best (by validation)".into(),
        &best,
        grid_evals,
        grid_choice.iter().map(|c| c.examples as f64).sum::<f64>() / n_seeds as f64,
    ));
    for (g, l) in lambdas.iter().enumerate() {
        let rows: Vec<&CellResult> = (0..n_seeds).map(|s| grid_of(g, s)).collect();
        summary.push(line(
            format!("grid λ={l}"),
            &rows,
            mean(rows.iter().map(|r| r.grad_evals as f64).collect()),
            mean(rows.iter().map(|r| r.examples as f64).collect()),
        ));
    }
    let val_gap: Vec<f64> = (0..n_seeds).map(|s| 100.0 * (tuned[s].val_accuracy - grid_choice[s].val_accuracy)).collect();
    let test_gap: Vec<f64> = (0..n_seeds).map(|s| 100.0 * (tuned[s].test_accuracy - grid_choice[s].test_accuracy)).collect();
    let compute_ratio = summary[0].ratio_to_grid;
    let val_gap_points = MeanStd::of(&val_gap);
    let claim = Claim {
        val_gap_points,
        test_gap_points: MeanStd::of(&test_gap),
        compute_ratio,
        within_0_2_points: val_gap_points.mean >= -0.2,
        at_most_a_fifth: compute_ratio <= 0.2,
        grid_choice_on_edge: grid_choice.iter().filter(|c| c.on_edge).count(),
    };
    Ok(TuneResults { cells, grid_choice, summary, claim })
}

fn results_csv(r: &TuneResults) -> String {
    let mut s = String::from("method,seed,grid_lambda,lambda,val_loss,val_accuracy,test_loss,test_accuracy,train_steps,grad_evals,examples\n");
    for c in &r.cells {
        let lam = c.lambda.iter().map(|l| format!("{l:e}")).collect::<Vec<_>>().join(";");
        let _ = writeln!(
            s,
            "{},{},{},{lam},{:.6},{:.6},{:.6},{:.6},{},{},{}",
            c.method,
            c.seed,
            c.grid_lambda.map_or(String::new(), |l| format!("{l:e}")),
            c.val_loss,
            c.val_accuracy,
            c.test_loss,
            c.test_accuracy,
            c.train_steps,
            c.grad_evals,
            c.examples
        );
    }
    s
}

fn summary_csv(r: &TuneResults) -> String {
    let groups = r.cells.first().map_or(0, |c| c.groups.len());
    let mut s = String::from("method");
    for g in 0..groups {
        let _ = write!(s, ",log10_lambda_{g}_mean,log10_lambda_{g}_std");
    }
    s.push_str(",val_accuracy_mean,val_accuracy_std,test_accuracy_mean,test_accuracy_std,grad_evals,examples,ratio_to_grid\n");
    for l in &r.summary {
        let _ = write!(s, "{}", l.method);
        for m in &l.log10_lambda {
            match m {
                Some(m) => {
                    let _ = write!(s, ",{:.4},{:.4}", m.mean, m.std);
                }
                None => s.push_str(",,"),
            }
        }
        let _ = writeln!(
            s,
            ",{:.6},{:.6},{:.6},{:.6},{:.0},{:.0},{:.4}",
            l.val_accuracy.mean, l.val_accuracy.std, l.test_accuracy.mean, l.test_accuracy.std, l.grad_evals, l.examples, l.ratio_to_grid
        );
    }
    s
}

fn grid_csv(r: &TuneResults) -> String {
    let mut s = String::from("lambda,seed,val_loss,val_accuracy,test_loss,test_accuracy,chosen\n");
    for c in r.cells.iter().filter(|c| c.method == "grid") {
        let l = c.grid_lambda.unwrap_or(f64::NAN);
        let chosen = r.grid_choice.iter().any(|g| g.seed == c.seed && g.lambda == l);
        let _ = writeln!(s, "{l:e},{},{:.6},{:.6},{:.6},{:.6},{chosen}", c.seed, c.val_loss, c.val_accuracy, c.test_loss, c.test_accuracy);
    }
    s
}

fn trajectories_csv(r: &TuneResults) -> String {
    let mut s = String::from("seed,hyper_step,train_steps,group,lambda,hypergrad,lambda_next,val_loss,val_accuracy,grad_evals,examples\n");
    for c in r.cells.iter().filter(|c| c.method == "tuned") {
        for rec in &c.trajectory {
            for (i, g) in c.groups.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{},{},{},{g},{:e},{:e},{:e},{:.6},{:.6},{},{}",
                    c.seed,
                    rec.hyper_step,
                    rec.train_steps,
                    rec.lambda[i],
                    rec.hypergrad[i],
                    rec.lambda_next[i],
                    rec.val_loss,
                    rec.val_accuracy,
                    rec.grad_evals,
                    rec.examples
                );
            }
        }
    }
    s
}

fn compute_csv(r: &TuneResults) -> String {
    let mut s = String::from("method,seed,grid_lambda,train_steps,grad_evals,examples\n");
    for c in &r.cells {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            c.method,
            c.seed,
            c.grid_lambda.map_or(String::new(), |l| format!("{l:e}")),
            c.train_steps,
            c.grad_evals,
            c.examples
        );
    }
    s
}

/// Write every file of the run into `out`.
pub fn write_outputs(exp: &TuneExperiment, cells: Vec<CellResult>, out: &Path) -> Result<TuneResults, RunError> {
    let res = aggregate(exp, cells).map_err(RunError::Failed)?;
    crate::rundir::write_results(out, &res, &results_csv(&res), || {
        for (name, text) in [
            ("summary.csv", summary_csv(&res)),
            ("grid.csv", grid_csv(&res)),
            ("trajectories.csv", trajectories_csv(&res)),
            ("compute.csv", compute_csv(&res)),
        ] {
            crate::rundir::write_text(&out.join(name), &text).map_err(|e| e.to_string())?;
        }
        write_plots_and_report(exp, &res, out)
    })?;
    Ok(res)
}

fn write_plots_and_report(exp: &TuneExperiment, res: &TuneResults, out: &Path) -> Result<(), String> {
    let plots = out.join("plots");
    let mut figures = Vec::new();
    // λ per layer against training steps, every seed; dashed: the grid's choice of each seed.
    let mut curves: Vec<PathCurve> = Vec::new();
    for c in res.cells.iter().filter(|c| c.method == "tuned") {
        for (i, g) in c.groups.iter().enumerate() {
            let mut points: Vec<(f64, f64)> = vec![(0.0, c.trajectory.first().map_or(f64::NAN, |r| r.lambda[i].log10()))];
            points.extend(c.trajectory.iter().map(|r| (r.train_steps as f64, r.lambda_next[i].log10())));
            // the x axis is logarithmic: start at the first hyper-step's T
            points[0].0 = exp.tuned.steps_per_hyper as f64 / 2.0;
            curves.push(PathCurve { label: format!("{g}, seed {}", c.seed), points, reference: false });
        }
    }
    let steps = exp.train.steps as f64;
    for g in &res.grid_choice {
        if g.lambda > 0.0 {
            let y = g.lambda.log10();
            curves.push(PathCurve {
                label: format!("grid choice, seed {}", g.seed),
                points: vec![(exp.tuned.steps_per_hyper as f64 / 2.0, y), (steps, y)],
                reference: true,
            });
        }
    }
    let ys: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).filter(|v| v.is_finite()).collect();
    if !ys.is_empty() {
        let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let notes = vec![
            format!(
                "λ₀ = {}; T = {}, K = {}",
                exp.tuned.lambda0.iter().map(|l| format_number(*l)).collect::<Vec<_>>().join(", "),
                exp.tuned.steps_per_hyper,
                exp.tuned.neumann_terms
            ),
            format!("hyper-optimizer {:?}, η = {}", exp.tuned.hyper_optim, format_number(exp.tuned.hyper_lr)),
        ];
        let opts = PathPlot {
            title: &format!("Learned {} per layer", penalty_words(exp.penalty)),
            y_label: "log10 λ",
            notes: &notes,
            y_min: Some(lo - 0.2),
            y_max: Some(hi + 0.2),
            x_label: Some("training steps (log scale)"),
            ..Default::default()
        };
        plot_path(&curves, &opts, &plots.join("lambda-trajectories.png"), &plots.join("lambda-trajectories.svg"))?;
        figures.push(Figure {
            png: "plots/lambda-trajectories.png".into(),
            svg: Some("plots/lambda-trajectories.svg".into()),
            caption: "λ of every layer weight after each hyper-step, every seed; dashed: the uniform λ the grid chose for each seed (by validation accuracy).".into(),
        });
    }
    // The grid's validation (and, dashed, test) accuracy against λ > 0.
    let mut curves = Vec::new();
    for &seed in &exp.seeds {
        let rows: Vec<&CellResult> =
            res.cells.iter().filter(|c| c.method == "grid" && c.seed == seed && c.grid_lambda.unwrap_or(0.0) > 0.0).collect();
        curves.push(PathCurve {
            label: format!("validation, seed {seed}"),
            points: rows.iter().map(|c| (c.grid_lambda.unwrap_or(f64::NAN), 100.0 * c.val_accuracy)).collect(),
            reference: false,
        });
        curves.push(PathCurve {
            label: format!("test (not used), seed {seed}"),
            points: rows.iter().map(|c| (c.grid_lambda.unwrap_or(f64::NAN), 100.0 * c.test_accuracy)).collect(),
            reference: true,
        });
    }
    let ys: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).filter(|v| v.is_finite()).collect();
    if !ys.is_empty() {
        let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let mut notes: Vec<String> = Vec::new();
        if let Some(z) = res.summary.iter().find(|l| l.method == "grid λ=0") {
            notes.push(format!("λ = 0: validation {:.2} ± {:.2} %", 100.0 * z.val_accuracy.mean, 100.0 * z.val_accuracy.std));
        }
        let t = &res.summary[0];
        notes.push(format!("tuned: validation {:.2} ± {:.2} %", 100.0 * t.val_accuracy.mean, 100.0 * t.val_accuracy.std));
        let opts = PathPlot {
            title: &format!("Grid: accuracy against the uniform {}", penalty_words(exp.penalty)),
            y_label: "accuracy (%)",
            notes: &notes,
            y_min: Some(lo - 0.1 * (hi - lo).max(0.1)),
            y_max: Some(hi + 0.1 * (hi - lo).max(0.1)),
            ..Default::default()
        };
        plot_path(&curves, &opts, &plots.join("grid-accuracy.png"), &plots.join("grid-accuracy.svg"))?;
        figures.push(Figure {
            png: "plots/grid-accuracy.png".into(),
            svg: Some("plots/grid-accuracy.svg".into()),
            caption: "The grid's validation accuracy (chooses λ) against λ, every seed; dashed: test accuracy at each λ (shown only, never used to choose).".into(),
        });
    }
    let groups = res.cells.first().map_or(0, |c| c.groups.len());
    let mut columns: Vec<String> = (0..groups).map(|g| format!("log10 λ layer {g}")).collect();
    columns.extend(["validation acc. (%)", "test acc. (%)", "gradient evals", "ratio to grid"].iter().map(|s| s.to_string()));
    let rows: Vec<SummaryRow> = res
        .summary
        .iter()
        .map(|l| {
            let mut cells: Vec<Cell> = l
                .log10_lambda
                .iter()
                .map(|m| m.map_or(Cell::Text("λ = 0 (≥ 1 seed)".into()), |m| Cell::MeanStd { mean: m.mean, std: m.std }))
                .collect();
            cells.push(Cell::MeanStd { mean: 100.0 * l.val_accuracy.mean, std: 100.0 * l.val_accuracy.std });
            cells.push(Cell::MeanStd { mean: 100.0 * l.test_accuracy.mean, std: 100.0 * l.test_accuracy.std });
            cells.push(Cell::Num(l.grad_evals));
            cells.push(Cell::Num(l.ratio_to_grid));
            SummaryRow { arm: l.method.clone(), cells }
        })
        .collect();
    let c = &res.claim;
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!(
                "Does the per-layer {} learned by IFT hypergradients reach the best grid point's validation accuracy at a fraction of the grid's compute?",
                penalty_words(exp.penalty)
            )
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seeds. Tuned − grid best (paired by seed): validation {:+.2} ± {:.2} points, test {:+.2} ± {:.2} points; compute ratio {:.3} (gradient evaluations). Grid choices on an edge of the grid: {}. Wall time per cell: timing.json (not in results.json).",
            exp.seeds.len(),
            c.val_gap_points.mean,
            c.val_gap_points.std,
            c.test_gap_points.mean,
            c.test_gap_points.std,
            c.compute_ratio,
            c.grid_choice_on_edge
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

/// The penalty in words, for titles.
fn penalty_words(p: TunedPenalty) -> &'static str {
    match p {
        TunedPenalty::L2 => "weight decay",
        TunedPenalty::Spectral => "spectral strength",
    }
}

//! The cells of a `grokking` experiment (one per ξ × arm × seed), their merge and the files of
//! a run: `results.json`, `results.csv` (one row per probe of every run), `summary.csv` (the last
//! probe, mean ± std over the seeds, with the target `1 − ξ`), `neurons.csv` (every hidden
//! neuron's final IPR), `plots/` and `report.html`.
//!
//! Seed `s` draws the corrupted labels from `s` (so the corrupted examples at a smaller ξ are
//! among those at a larger one) and the initial weights and dropout masks from a stream of `s`:
//! the arms of a seed start from the same weights on the same labels.

use super::config::GrokkingExperiment;
use super::data::modular_addition;
use super::train::{Probe, RunResult, train};
use crate::RunError;
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
use crate::results::csv_field;
pub use crate::stats::MeanStd;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The cells in order: `(ξ index, arm, seed index)`.
pub fn cell_keys(exp: &GrokkingExperiment) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for x in 0..exp.corrupted.len() {
        for a in 0..exp.arms.len() {
            for s in 0..exp.seeds.len() {
                v.push((x, a, s));
            }
        }
    }
    v
}

/// A cell's label, e.g. `ξ=0.3 wd 5 s0`.
pub fn cell_label(exp: &GrokkingExperiment, k: (usize, usize, usize)) -> String {
    format!("ξ={} {} s{}", exp.corrupted[k.0], exp.arms[k.1].name, exp.seeds[k.2])
}

/// The seed of the initial weights and dropout masks of run seed `seed`.
pub fn weight_seed(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// ξ.
    pub xi: f64,
    /// The arm's name.
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// The run.
    pub run: RunResult,
}

/// Run cell `index` on `device` (autodiff), calling `tick` after every step.
pub fn run_cell(exp: &GrokkingExperiment, index: usize, device: &Device, tick: &dyn Fn()) -> Result<CellResult, String> {
    let keys = cell_keys(exp);
    let &(x, a, s) = keys.get(index).ok_or_else(|| format!("no cell {index}"))?;
    let (xi, seed) = (exp.corrupted[x], exp.seeds[s]);
    let data = modular_addition(exp.p, exp.train_fraction, xi, exp.split_seed, seed)?;
    let run = train(&data, &exp.train_config(a), weight_seed(seed), device, tick)?;
    Ok(CellResult { xi, arm: exp.arms[a].name.clone(), seed, run })
}

/// One arm at one ξ at the last step, over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// ξ.
    pub xi: f64,
    /// The arm.
    pub arm: String,
    /// Seeds.
    pub seeds: usize,
    /// Test accuracy.
    pub test_acc: MeanStd,
    /// Accuracy on all training labels as trained on; full unlearning of the corrupted ones
    /// gives `1 − ξ`.
    pub train_acc: MeanStd,
    /// Accuracy on the clean training examples.
    pub train_acc_clean: MeanStd,
    /// Corrupted examples predicted as their corrupted label (memorised); `None` at ξ = 0.
    pub memorised: Option<MeanStd>,
    /// Corrupted examples predicted as their true label.
    pub corrupted_true: Option<MeanStd>,
    /// Mean neuron IPR.
    pub ipr_mean: MeanStd,
    /// Share of neurons with IPR ≥ 0.5.
    pub ipr_high: MeanStd,
    /// First probed step with test accuracy ≥ 0.95, over the seeds that reached it.
    pub steps_to_test95: Option<MeanStd>,
    /// Seeds whose test accuracy reached 0.95.
    pub reached_test95: usize,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrokkingResults {
    /// Experiment name.
    pub name: String,
    /// Per ξ and arm.
    pub summary: Vec<Summary>,
    /// Every run, in cell order.
    pub runs: Vec<CellResult>,
}

fn first_step(probes: &[Probe], test: impl Fn(&Probe) -> bool) -> Option<usize> {
    probes.iter().find(|p| test(p)).map(|p| p.step)
}

/// The summaries from the cells.
pub fn aggregate(exp: &GrokkingExperiment, cells: &[CellResult]) -> Result<GrokkingResults, String> {
    let mut summary = Vec::new();
    for &xi in &exp.corrupted {
        for arm in &exp.arms {
            let mine: Vec<&CellResult> = cells.iter().filter(|c| c.xi == xi && c.arm == arm.name).collect();
            if mine.len() != exp.seeds.len() {
                return Err(format!("ξ = {xi}, {}: {} of {} seeds", arm.name, mine.len(), exp.seeds.len()));
            }
            let last: Vec<&Probe> = mine.iter().map(|c| c.run.probes.last().ok_or("a run without probes")).collect::<Result<_, _>>()?;
            let col = |f: &dyn Fn(&Probe) -> f64| MeanStd::of(&last.iter().map(|p| f(p)).collect::<Vec<_>>());
            let opt = |f: &dyn Fn(&Probe) -> Option<f64>| last.iter().map(|p| f(p)).collect::<Option<Vec<f64>>>().map(|v| MeanStd::of(&v));
            let reached: Vec<f64> = mine.iter().filter_map(|c| first_step(&c.run.probes, |p| p.test_acc >= 0.95)).map(|s| s as f64).collect();
            summary.push(Summary {
                xi,
                arm: arm.name.clone(),
                seeds: mine.len(),
                test_acc: col(&|p| p.test_acc),
                train_acc: col(&|p| p.train_acc),
                train_acc_clean: col(&|p| p.train_acc_clean),
                memorised: opt(&|p| p.train_acc_corrupted),
                corrupted_true: opt(&|p| p.corrupted_true_acc),
                ipr_mean: col(&|p| p.ipr_mean),
                ipr_high: col(&|p| p.ipr_high),
                steps_to_test95: (!reached.is_empty()).then(|| MeanStd::of(&reached)),
                reached_test95: reached.len(),
            });
        }
    }
    Ok(GrokkingResults { name: exp.name.clone(), summary, runs: cells.to_vec() })
}

fn opt6(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

/// `results.csv`: every probe of every run.
pub fn rows_csv(res: &GrokkingResults) -> String {
    let mut s = String::from(
        "xi,arm,seed,step,train_loss,train_acc,train_acc_clean,train_acc_corrupted,corrupted_true_acc,test_acc,ipr_mean,ipr_high,weight_norm2\n",
    );
    for c in &res.runs {
        for p in &c.run.probes {
            let _ = writeln!(
                s,
                "{},{},{},{},{:e},{:.6},{:.6},{},{},{:.6},{:.6},{:.6},{:e}",
                c.xi,
                csv_field(&c.arm),
                c.seed,
                p.step,
                p.train_loss,
                p.train_acc,
                p.train_acc_clean,
                opt6(p.train_acc_corrupted),
                opt6(p.corrupted_true_acc),
                p.test_acc,
                p.ipr_mean,
                p.ipr_high,
                p.weight_norm2
            );
        }
    }
    s
}

/// `summary.csv`: the last probe per ξ and arm.
pub fn summary_csv(res: &GrokkingResults) -> String {
    let mut s = String::from(
        "xi,arm,seeds,target_train_acc,test_acc_mean,test_acc_std,train_acc_mean,train_acc_std,train_acc_clean_mean,train_acc_clean_std,memorised_mean,memorised_std,corrupted_true_mean,corrupted_true_std,ipr_mean_mean,ipr_mean_std,ipr_high_mean,ipr_high_std,steps_to_test95_mean,steps_to_test95_std,reached_test95\n",
    );
    for r in &res.summary {
        let pair = |m: Option<MeanStd>| m.map_or(",".to_string(), |m| format!("{:.6},{:.6}", m.mean, m.std));
        let _ = writeln!(
            s,
            "{},{},{},{:.6},{},{},{},{},{},{},{},{},{}",
            r.xi,
            csv_field(&r.arm),
            r.seeds,
            1.0 - r.xi,
            pair(Some(r.test_acc)),
            pair(Some(r.train_acc)),
            pair(Some(r.train_acc_clean)),
            pair(r.memorised),
            pair(r.corrupted_true),
            pair(Some(r.ipr_mean)),
            pair(Some(r.ipr_high)),
            pair(r.steps_to_test95),
            r.reached_test95
        );
    }
    s
}

fn neurons_csv(res: &GrokkingResults) -> String {
    let mut s = String::from("xi,arm,seed,neuron,ipr\n");
    for c in &res.runs {
        for (n, v) in c.run.final_ipr.iter().enumerate() {
            let _ = writeln!(s, "{},{},{},{n},{v:.6}", c.xi, csv_field(&c.arm), c.seed);
        }
    }
    s
}

/// Write every file of the run into `out` (results last, each through a temporary file).
pub fn write_outputs(exp: &GrokkingExperiment, cells: &[CellResult], out: &Path) -> Result<GrokkingResults, RunError> {
    let res = aggregate(exp, cells).map_err(RunError::Failed)?;
    crate::rundir::write_results(out, &res, &rows_csv(&res), || {
        for (name, text) in [("summary.csv", summary_csv(&res)), ("neurons.csv", neurons_csv(&res))] {
            crate::rundir::write_text(&out.join(name), &text).map_err(|e| e.to_string())?;
        }
        write_plots_and_report(exp, &res, out)
    })?;
    Ok(res)
}

/// The mean over seeds of `f` at each probed step of the runs of `xi` and `arm`.
fn mean_curve(res: &GrokkingResults, xi: f64, arm: &str, f: &dyn Fn(&Probe) -> Option<f64>) -> Vec<(f64, f64)> {
    let runs: Vec<&CellResult> = res.runs.iter().filter(|c| c.xi == xi && c.arm == arm).collect();
    let Some(first) = runs.first() else { return Vec::new() };
    (0..first.run.probes.len())
        .filter_map(|i| {
            let v: Option<Vec<f64>> = runs.iter().map(|c| c.run.probes.get(i).and_then(f)).collect();
            v.map(|v| (first.run.probes[i].step as f64, v.iter().sum::<f64>() / v.len() as f64))
        })
        .collect()
}

fn write_plots_and_report(exp: &GrokkingExperiment, res: &GrokkingResults, out: &Path) -> Result<(), String> {
    let plots = out.join("plots");
    let mut figures = Vec::new();
    let seeds_note = vec![format!("mean over {} seeds", exp.seeds.len()), format!("p = {}, N = {}, full batch", exp.p, exp.width)];
    type Metric<'a> = (&'a str, &'a str, &'a dyn Fn(&Probe) -> Option<f64>);
    let metrics: [Metric<'_>; 4] = [
        ("test", "test accuracy", &|p| Some(p.test_acc)),
        ("train", "training accuracy (labels as trained on)", &|p| Some(p.train_acc)),
        ("memorised", "corrupted examples predicted as their corrupted label", &|p| p.train_acc_corrupted),
        ("ipr", "mean neuron IPR (Fourier, r = 2)", &|p| Some(p.ipr_mean)),
    ];
    for &xi in &exp.corrupted {
        for (stem, y_label, f) in &metrics {
            let mut curves: Vec<PathCurve> = exp
                .arms
                .iter()
                .map(|a| PathCurve { label: a.name.clone(), points: mean_curve(res, xi, &a.name, *f), reference: false })
                .filter(|c| !c.points.is_empty())
                .collect();
            if curves.is_empty() {
                continue;
            }
            if *stem == "train" && xi > 0.0 {
                curves.push(PathCurve {
                    label: format!("1 − ξ = {}", format_number(1.0 - xi)),
                    points: vec![(0.0, 1.0 - xi), (exp.steps as f64, 1.0 - xi)],
                    reference: true,
                });
            }
            let title = format!("{y_label}: ξ = {}", format_number(xi));
            let opts = PathPlot {
                title: &title,
                y_label,
                notes: &seeds_note,
                y_min: Some(0.0),
                y_max: Some(1.0),
                linear_x: true,
                x_label: Some("full-batch step"),
                ..Default::default()
            };
            let name = format!("{stem}-xi{}", format_number(xi).replace('.', "p"));
            plot_path(&curves, &opts, &plots.join(format!("{name}.png")), &plots.join(format!("{name}.svg")))?;
            figures.push(Figure { png: format!("plots/{name}.png"), svg: Some(format!("plots/{name}.svg")), caption: title });
        }
    }
    if exp.corrupted.len() > 1 {
        let mut curves: Vec<PathCurve> = exp
            .arms
            .iter()
            .map(|a| PathCurve {
                label: a.name.clone(),
                points: exp
                    .corrupted
                    .iter()
                    .filter_map(|&xi| res.summary.iter().find(|r| r.xi == xi && r.arm == a.name).map(|r| (xi, r.train_acc.mean)))
                    .collect(),
                reference: false,
            })
            .collect();
        let (lo, hi) = exp.corrupted.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        curves
            .push(PathCurve { label: "1 − ξ (corrupted labels unlearned)".into(), points: vec![(lo, 1.0 - lo), (hi, 1.0 - hi)], reference: true });
        let title = "Final training accuracy against the corrupted fraction ξ".to_string();
        let opts = PathPlot {
            title: &title,
            y_label: "training accuracy",
            notes: &seeds_note,
            y_min: Some(0.0),
            y_max: Some(1.0),
            linear_x: true,
            x_label: Some("ξ"),
            ..Default::default()
        };
        plot_path(&curves, &opts, &plots.join("train-vs-xi.png"), &plots.join("train-vs-xi.svg"))?;
        figures.push(Figure { png: "plots/train-vs-xi.png".into(), svg: Some("plots/train-vs-xi.svg".into()), caption: title });
    }
    let columns: Vec<String> = ["test acc", "train acc", "1 − ξ", "clean train acc", "memorised", "mean IPR", "steps to test ≥ 0.95"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ms_cell = |m: Option<MeanStd>| m.map_or(Cell::Missing, |m| Cell::MeanStd { mean: m.mean, std: m.std });
    let rows: Vec<SummaryRow> = res
        .summary
        .iter()
        .map(|r| SummaryRow {
            arm: format!("ξ = {} · {}", format_number(r.xi), r.arm),
            cells: vec![
                ms_cell(Some(r.test_acc)),
                ms_cell(Some(r.train_acc)),
                Cell::Num(1.0 - r.xi),
                ms_cell(Some(r.train_acc_clean)),
                ms_cell(r.memorised),
                ms_cell(Some(r.ipr_mean)),
                if r.reached_test95 < r.seeds {
                    Cell::Text(format!("{} of {} seeds", r.reached_test95, r.seeds))
                } else {
                    ms_cell(r.steps_to_test95)
                },
            ],
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            "Grokking modular addition with corrupted training labels, with and without weight decay and dropout.".into()
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "After {} full-batch steps, mean ± std over {} seeds; memorised: corrupted training examples predicted as their corrupted label. Accuracies in evaluation mode (no dropout).",
            exp.steps,
            exp.seeds.len()
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

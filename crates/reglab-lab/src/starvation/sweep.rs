//! The cells of a `starvation` experiment (one per Δ × arm × seed), their merge and the files
//! of a run: `results.json`, `results.csv` (one row per run), `summary.csv` (mean ± std over the
//! seeds), `plots/boundary-*` (the decision function averaged over the seeds, as the paper
//! draws it) and `report.html`.
//!
//! Seed `s` draws the training points (`s`), the test points (a stream of `s`) and the initial
//! weights: every arm of a seed trains on the same points from the same weights.

use super::config::StarvationExperiment;
use super::data::{Moons, starvation_toy};
use super::plot::{Boundary, plot_boundary};
use super::train::{ToyRun, train_toy};
use crate::RunError;
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
use crate::results::csv_field;
pub use crate::stats::MeanStd;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The cells in order: `(Δ index, arm, seed index)`.
pub fn cell_keys(exp: &StarvationExperiment) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for m in 0..exp.margins.len() {
        for a in 0..exp.arms.len() {
            for s in 0..exp.seeds.len() {
                v.push((m, a, s));
            }
        }
    }
    v
}

/// A cell's label, e.g. `Δ=0.1 cross-entropy s0`.
pub fn cell_label(exp: &StarvationExperiment, k: (usize, usize, usize)) -> String {
    format!("Δ={} {} s{}", exp.margins[k.0], exp.arms[k.1].name, exp.seeds[k.2])
}

fn test_seed(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7E57
}

/// The training and test points of seed `seed` at margin `margin`.
pub fn points(exp: &StarvationExperiment, margin: f64, seed: u64) -> (Moons, Moons) {
    (starvation_toy(exp.points, exp.noise, margin, seed), starvation_toy(exp.test_points, exp.noise, margin, test_seed(seed)))
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Δ.
    pub margin: f64,
    /// The arm.
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// The run.
    pub run: ToyRun,
}

/// Run cell `index` on `device` (autodiff), calling `tick` after every step.
pub fn run_cell(exp: &StarvationExperiment, index: usize, device: &Device, tick: &dyn Fn()) -> Result<CellResult, String> {
    let keys = cell_keys(exp);
    let &(m, a, s) = keys.get(index).ok_or_else(|| format!("no cell {index}"))?;
    let (margin, seed) = (exp.margins[m], exp.seeds[s]);
    let (train, test) = points(exp, margin, seed);
    let run = train_toy(&train, &test, &exp.toy_config(), &exp.arms[a].reg, seed, device, tick)?;
    Ok(CellResult { margin, arm: exp.arms[a].name.clone(), seed, run })
}

/// One arm at one Δ over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Δ.
    pub margin: f64,
    /// The arm.
    pub arm: String,
    /// Seeds.
    pub seeds: usize,
    /// Training accuracy.
    pub train_acc: MeanStd,
    /// Test accuracy.
    pub test_acc: MeanStd,
    /// Test accuracy with the linear feature permuted.
    pub shuffled_linear_acc: MeanStd,
    /// Test accuracy with the moons' feature permuted.
    pub shuffled_moons_acc: MeanStd,
    /// Input-space margin.
    pub margin_to_boundary: MeanStd,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StarvationResults {
    /// Experiment name.
    pub name: String,
    /// Per Δ and arm.
    pub summary: Vec<Summary>,
    /// Every run without its lattice, in cell order.
    pub runs: Vec<CellResult>,
}

/// The summaries from the cells (the lattices are dropped from `runs`; the plots use them).
pub fn aggregate(exp: &StarvationExperiment, cells: &[CellResult]) -> Result<StarvationResults, String> {
    let mut summary = Vec::new();
    for &margin in &exp.margins {
        for arm in &exp.arms {
            let mine: Vec<&ToyRun> = cells.iter().filter(|c| c.margin == margin && c.arm == arm.name).map(|c| &c.run).collect();
            if mine.len() != exp.seeds.len() {
                return Err(format!("Δ = {margin}, {}: {} of {} seeds", arm.name, mine.len(), exp.seeds.len()));
            }
            let col = |f: &dyn Fn(&ToyRun) -> f64| MeanStd::of(&mine.iter().map(|r| f(r)).collect::<Vec<_>>());
            summary.push(Summary {
                margin,
                arm: arm.name.clone(),
                seeds: mine.len(),
                train_acc: col(&|r| r.train_acc),
                test_acc: col(&|r| r.test_acc),
                shuffled_linear_acc: col(&|r| r.shuffled_linear_acc),
                shuffled_moons_acc: col(&|r| r.shuffled_moons_acc),
                margin_to_boundary: col(&|r| r.margin),
            });
        }
    }
    let runs = cells.iter().map(|c| CellResult { run: ToyRun { lattice: Vec::new(), ..c.run.clone() }, ..c.clone() }).collect();
    Ok(StarvationResults { name: exp.name.clone(), summary, runs })
}

/// `results.csv`: one row per run.
pub fn rows_csv(res: &StarvationResults) -> String {
    let mut s = String::from("margin,arm,seed,train_loss,train_acc,test_acc,shuffled_linear_acc,shuffled_moons_acc,margin_to_boundary\n");
    for c in &res.runs {
        let r = &c.run;
        let _ = writeln!(
            s,
            "{},{},{},{:e},{:.6},{:.6},{:.6},{:.6},{:.6}",
            c.margin,
            csv_field(&c.arm),
            c.seed,
            r.train_loss,
            r.train_acc,
            r.test_acc,
            r.shuffled_linear_acc,
            r.shuffled_moons_acc,
            r.margin
        );
    }
    s
}

/// `summary.csv`: per Δ and arm.
pub fn summary_csv(res: &StarvationResults) -> String {
    let mut s = String::from(
        "margin,arm,seeds,train_acc_mean,train_acc_std,test_acc_mean,test_acc_std,shuffled_linear_acc_mean,shuffled_linear_acc_std,shuffled_moons_acc_mean,shuffled_moons_acc_std,margin_to_boundary_mean,margin_to_boundary_std\n",
    );
    for r in &res.summary {
        let _ = write!(s, "{},{},{}", r.margin, csv_field(&r.arm), r.seeds);
        for m in [r.train_acc, r.test_acc, r.shuffled_linear_acc, r.shuffled_moons_acc, r.margin_to_boundary] {
            let _ = write!(s, ",{:.6},{:.6}", m.mean, m.std);
        }
        s.push('\n');
    }
    s
}

/// Write every file of the run into `out` (results last, each through a temporary file).
pub fn write_outputs(exp: &StarvationExperiment, cells: &[CellResult], out: &Path) -> Result<StarvationResults, RunError> {
    let res = aggregate(exp, cells).map_err(RunError::Failed)?;
    crate::rundir::write_results(out, &res, &rows_csv(&res), || {
        crate::rundir::write_text(&out.join("summary.csv"), &summary_csv(&res)).map_err(|e| e.to_string())?;
        write_plots_and_report(exp, cells, &res, out)
    })?;
    Ok(res)
}

fn write_plots_and_report(exp: &StarvationExperiment, cells: &[CellResult], res: &StarvationResults, out: &Path) -> Result<(), String> {
    let plots = out.join("plots");
    let mut figures = Vec::new();
    for &margin in &exp.margins {
        let (train, _) = points(exp, margin, exp.seeds[0]);
        for arm in &exp.arms {
            let runs: Vec<&ToyRun> = cells.iter().filter(|c| c.margin == margin && c.arm == arm.name).map(|c| &c.run).collect();
            let g2 = exp.grid * exp.grid;
            let mean: Vec<f32> = (0..g2).map(|i| runs.iter().map(|r| r.lattice[i]).sum::<f32>() / runs.len() as f32).collect();
            let title = format!("{} · Δ = {}", arm.name, format_number(margin));
            let stem = format!(
                "boundary-{}-{}",
                if margin < 0.0 { format!("m{}", format_number(-margin)) } else { format_number(margin) }.replace('.', "p"),
                slug(&arm.name)
            );
            let b = Boundary { title: &title, lattice: &mean, grid: exp.grid, extent: exp.extent, points: &train.x, labels: &train.y };
            plot_boundary(&b, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure {
                png: format!("plots/{stem}.png"),
                svg: Some(format!("plots/{stem}.svg")),
                caption: format!(
                    "{title}: the logit averaged over {} seeds (red: class +1, blue: −1; black: the boundary), seed {}'s training points.",
                    exp.seeds.len(),
                    exp.seeds[0]
                ),
            });
        }
    }
    let columns: Vec<String> =
        ["train acc", "test acc", "test acc, x₁ permuted", "test acc, x₂ permuted", "margin"].iter().map(|s| s.to_string()).collect();
    let rows: Vec<SummaryRow> = res
        .summary
        .iter()
        .map(|r| SummaryRow {
            arm: format!("Δ = {} · {}", format_number(r.margin), r.arm),
            cells: [r.train_acc, r.test_acc, r.shuffled_linear_acc, r.shuffled_moons_acc, r.margin_to_boundary]
                .iter()
                .map(|m| Cell::MeanStd { mean: m.mean, std: m.std })
                .collect(),
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            "Gradient starvation on the two-moons toy: which features does the boundary use?".into()
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seeds. x₁ is the linear feature (margin Δ), x₂ the moons'; a permuted feature keeps its values but loses its link to the label. Margin: the smallest distance of a training point to the boundary, on a lattice of spacing {}.",
            exp.seeds.len(),
            format_number(2.0 * exp.extent / (exp.grid - 1) as f64)
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

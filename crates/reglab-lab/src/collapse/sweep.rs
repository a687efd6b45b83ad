//! The cells of a `collapse` experiment (one per setting × seed, every method inside so that
//! they share the draws), their merge and the files of a run: `results.json`, `results.csv`
//! (one row per setting × seed × method × generation: the mean over the seed's replicates),
//! `summary.csv` (mean ± std over the seeds per generation, with the OLS closed form),
//! `slopes.csv` (growth per generation), `plots/` and `report.html`.
//!
//! Replicate `r` of seed `s` is [`simulate_rules`] with `(s, r)`: methods with the same
//! generator see the same generators, and every method the same downstream inputs and noise.

use super::config::CollapseExperiment;
use super::sim::{Downstream, RuleTrace, Setting, ols_expected_excess, simulate_rules};
use crate::RunError;
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
use crate::results::csv_field;
pub use crate::stats::MeanStd;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The cells in order: `(setting, seed index)`.
pub fn cell_keys(exp: &CollapseExperiment) -> Vec<(usize, usize)> {
    (0..exp.settings.len()).flat_map(|s| (0..exp.seeds.len()).map(move |k| (s, k))).collect()
}

/// A cell's label, e.g. `d50-t100 s0`.
pub fn cell_label(exp: &CollapseExperiment, k: (usize, usize)) -> String {
    format!("{} s{}", exp.settings[k.0].slug(), exp.seeds[k.1])
}

/// One method's result in one cell: per generation `n = 0..=G`, over the seed's replicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodTrace {
    /// The method's name.
    pub method: String,
    /// Mean `E_n`.
    pub excess: Vec<f64>,
    /// Its standard error over the replicates (0 for one replicate).
    pub excess_se: Vec<f64>,
    /// Mean λ of the downstream fit (0 for OLS).
    pub lambda: Vec<f64>,
    /// Share of the replicates whose best λ was an end of the grid (`ridge:best` only, else 0).
    pub on_grid_edge: Vec<f64>,
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Index of the setting.
    pub setting: usize,
    /// The seed.
    pub seed: u64,
    /// The replicates averaged.
    pub replicates: u32,
    /// One per method, in the file's order.
    pub methods: Vec<MethodTrace>,
}

/// Run cell `index`; `tick` is called once per replicate.
pub fn run_cell(exp: &CollapseExperiment, index: usize, tick: &(dyn Fn() + Sync)) -> Result<CellResult, String> {
    let keys = cell_keys(exp);
    let &(si, ki) = keys.get(index).ok_or_else(|| format!("no cell {index}"))?;
    let seed = exp.seeds[ki];
    // methods grouped by generator: one chain per distinct generator
    let mut groups: Vec<(Setting, Vec<(usize, Downstream)>)> = Vec::new();
    for m in 0..exp.methods.len() {
        let s = exp.setting(si, m)?;
        let rule = exp.downstream(si, m)?;
        match groups.iter_mut().find(|(g, _)| g.generator == s.generator) {
            Some((_, rules)) => rules.push((m, rule)),
            None => groups.push((s, vec![(m, rule)])),
        }
    }
    let per_replicate: Vec<Result<Vec<RuleTrace>, String>> = (0..exp.replicates)
        .into_par_iter()
        .map(|r| {
            let mut traces: Vec<Option<RuleTrace>> = vec![None; exp.methods.len()];
            for (s, rules) in &groups {
                let only: Vec<Downstream> = rules.iter().map(|(_, d)| d.clone()).collect();
                for ((m, _), t) in rules.iter().zip(simulate_rules(s, &only, seed, r)?) {
                    traces[*m] = Some(t);
                }
            }
            tick();
            Ok(traces.into_iter().map(|t| t.expect("every method is in a group")).collect())
        })
        .collect();
    let per_replicate: Vec<Vec<RuleTrace>> = per_replicate.into_iter().collect::<Result<_, _>>()?;
    let reps = per_replicate.len() as f64;
    let g = exp.generations + 1;
    let methods = exp
        .methods
        .iter()
        .enumerate()
        .map(|(m, meth)| {
            let col = |n: usize, f: &dyn Fn(&RuleTrace, usize) -> f64| per_replicate.iter().map(|t| f(&t[m], n)).collect::<Vec<f64>>();
            let mut t = MethodTrace { method: meth.name.clone(), excess: vec![], excess_se: vec![], lambda: vec![], on_grid_edge: vec![] };
            for n in 0..g {
                let e = col(n, &|t, n| t.excess[n]);
                let m = MeanStd::of(&e);
                t.excess.push(m.mean);
                t.excess_se.push(m.std / reps.sqrt());
                t.lambda.push(col(n, &|t, n| t.lambda[n]).iter().sum::<f64>() / reps);
                t.on_grid_edge.push(col(n, &|t, n| f64::from(u8::from(t.on_grid_edge[n]))).iter().sum::<f64>() / reps);
            }
            t
        })
        .collect();
    Ok(CellResult { setting: si, seed, replicates: exp.replicates, methods })
}

/// The least-squares slope of `y` against `0, 1, …`.
pub fn slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let xm = (n - 1.0) / 2.0;
    let ym = y.iter().sum::<f64>() / n;
    let (num, den) = y.iter().enumerate().fold((0.0, 0.0), |(a, b), (i, v)| (a + (i as f64 - xm) * (v - ym), b + (i as f64 - xm).powi(2)));
    num / den
}

/// One row of `results.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Setting label.
    pub setting: String,
    /// Seed.
    pub seed: u64,
    /// Method.
    pub method: String,
    /// Generation n.
    pub generation: usize,
    /// Mean `E_n` over the seed's replicates.
    pub excess: f64,
    /// Its standard error.
    pub excess_se: f64,
    /// Mean downstream λ.
    pub lambda: f64,
    /// Share of best-λ choices at an end of the grid.
    pub on_grid_edge: f64,
}

/// One method in one setting, over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Setting label.
    pub setting: String,
    /// Method.
    pub method: String,
    /// Seeds.
    pub seeds: usize,
    /// `E_n` per generation.
    pub excess: Vec<MeanStd>,
    /// Mean downstream λ per generation (mean over seeds).
    pub lambda: Vec<f64>,
    /// The closed form `E[E_n]` where it applies (OLS generators and downstream), per generation.
    pub theory: Option<Vec<f64>>,
    /// Least-squares growth of `E_n` per generation.
    pub slope: MeanStd,
    /// The closed-form slope `σ₀²d/(T₀ − d − 1)` where it applies.
    pub theory_slope: Option<f64>,
    /// The largest share of best-λ choices at an end of the grid over the generations.
    pub on_grid_edge: f64,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollapseResults {
    /// Experiment name.
    pub name: String,
    /// Replicates per seed.
    pub replicates: u32,
    /// Setting labels.
    pub settings: Vec<String>,
    /// Per seed and generation.
    pub rows: Vec<Row>,
    /// Per setting and method.
    pub summary: Vec<Summary>,
}

/// Rows and summaries from the cells.
pub fn aggregate(exp: &CollapseExperiment, cells: &[CellResult]) -> Result<CollapseResults, String> {
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for (si, s) in exp.settings.iter().enumerate() {
        let mine: Vec<&CellResult> = cells.iter().filter(|c| c.setting == si).collect();
        if mine.len() != exp.seeds.len() {
            return Err(format!("{}: {} of {} seeds", s.label(), mine.len(), exp.seeds.len()));
        }
        for (m, meth) in exp.methods.iter().enumerate() {
            let traces: Vec<(u64, &MethodTrace)> = mine
                .iter()
                .map(|c| {
                    c.methods
                        .get(m)
                        .filter(|t| t.method == meth.name)
                        .map(|t| (c.seed, t))
                        .ok_or_else(|| format!("{} seed {}: no method {}", s.label(), c.seed, meth.name))
                })
                .collect::<Result<_, _>>()?;
            for (seed, t) in &traces {
                for n in 0..t.excess.len() {
                    rows.push(Row {
                        setting: s.label(),
                        seed: *seed,
                        method: meth.name.clone(),
                        generation: n,
                        excess: t.excess[n],
                        excess_se: t.excess_se[n],
                        lambda: t.lambda[n],
                        on_grid_edge: t.on_grid_edge[n],
                    });
                }
            }
            let g = exp.generations + 1;
            let sim = exp.setting(si, m)?;
            let ols = sim.generator == super::sim::Fit::Ols && meth.downstream == "ols";
            let theory = if ols { (0..g).map(|n| ols_expected_excess(&sim, n)).collect::<Option<Vec<f64>>>() } else { None };
            summary.push(Summary {
                setting: s.label(),
                method: meth.name.clone(),
                seeds: traces.len(),
                excess: (0..g).map(|n| MeanStd::of(&traces.iter().map(|(_, t)| t.excess[n]).collect::<Vec<_>>())).collect(),
                lambda: (0..g).map(|n| traces.iter().map(|(_, t)| t.lambda[n]).sum::<f64>() / traces.len() as f64).collect(),
                theory_slope: theory.as_ref().map(|th| th[1] - th[0]),
                theory,
                slope: MeanStd::of(&traces.iter().map(|(_, t)| slope(&t.excess)).collect::<Vec<_>>()),
                on_grid_edge: traces.iter().flat_map(|(_, t)| t.on_grid_edge.iter().copied()).fold(0.0, f64::max),
            });
        }
    }
    Ok(CollapseResults {
        name: exp.name.clone(),
        replicates: exp.replicates,
        settings: exp.settings.iter().map(|s| s.label()).collect(),
        rows,
        summary,
    })
}

/// `results.csv`.
pub fn rows_csv(res: &CollapseResults) -> String {
    let mut s = String::from("setting,seed,method,generation,excess,excess_se,lambda,on_grid_edge\n");
    for r in &res.rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{:e},{:e},{:e},{}",
            csv_field(&r.setting),
            r.seed,
            csv_field(&r.method),
            r.generation,
            r.excess,
            r.excess_se,
            r.lambda,
            r.on_grid_edge
        );
    }
    s
}

/// `summary.csv`: per setting, method and generation.
pub fn summary_csv(res: &CollapseResults) -> String {
    let mut s = String::from("setting,method,seeds,generation,excess_mean,excess_std,lambda_mean,ols_closed_form\n");
    for r in &res.summary {
        for (n, e) in r.excess.iter().enumerate() {
            let th = r.theory.as_ref().map_or(String::new(), |t| format!("{:.6}", t[n]));
            let _ =
                writeln!(s, "{},{},{},{n},{:.6},{:.6},{:.6},{th}", csv_field(&r.setting), csv_field(&r.method), r.seeds, e.mean, e.std, r.lambda[n]);
        }
    }
    s
}

/// `slopes.csv`: per setting and method.
pub fn slopes_csv(res: &CollapseResults) -> String {
    let mut s = String::from(
        "setting,method,seeds,excess_first_mean,excess_first_std,excess_last_mean,excess_last_std,slope_mean,slope_std,closed_form_slope,best_lambda_on_grid_edge\n",
    );
    for r in &res.summary {
        let (a, b) = (r.excess[0], r.excess[r.excess.len() - 1]);
        let th = r.theory_slope.map_or(String::new(), |v| format!("{v:.6}"));
        let _ = writeln!(
            s,
            "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{th},{}",
            csv_field(&r.setting),
            csv_field(&r.method),
            r.seeds,
            a.mean,
            a.std,
            b.mean,
            b.std,
            r.slope.mean,
            r.slope.std,
            r.on_grid_edge
        );
    }
    s
}

/// Write every file of the run into `out` (results last, each through a temporary file).
pub fn write_outputs(exp: &CollapseExperiment, cells: &[CellResult], out: &Path) -> Result<CollapseResults, RunError> {
    let res = aggregate(exp, cells).map_err(RunError::Failed)?;
    crate::rundir::write_results(out, &res, &rows_csv(&res), || {
        for (name, text) in [("summary.csv", summary_csv(&res)), ("slopes.csv", slopes_csv(&res))] {
            crate::rundir::write_text(&out.join(name), &text).map_err(|e| e.to_string())?;
        }
        write_plots_and_report(exp, &res, out)
    })?;
    Ok(res)
}

fn write_plots_and_report(exp: &CollapseExperiment, res: &CollapseResults, out: &Path) -> Result<(), String> {
    let plots = out.join("plots");
    let mut figures = Vec::new();
    for s in &exp.settings {
        let label = s.label();
        let mine: Vec<&Summary> = res.summary.iter().filter(|r| r.setting == label).collect();
        let gens = |v: &[f64]| -> Vec<(f64, f64)> { v.iter().enumerate().map(|(n, y)| (n as f64, *y)).collect() };
        let mut curves: Vec<PathCurve> = mine
            .iter()
            .map(|r| PathCurve { label: r.method.clone(), points: gens(&r.excess.iter().map(|e| e.mean).collect::<Vec<_>>()), reference: false })
            .collect();
        if let Some(th) = mine.iter().find_map(|r| r.theory.as_ref()) {
            curves.push(PathCurve { label: "OLS closed form".into(), points: gens(th), reference: true });
        }
        let hi = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
        let notes =
            vec![format!("mean over {} seeds × {} replicates", exp.seeds.len(), exp.replicates), "‖w₀‖² ≈ 1: the zero predictor's error".to_string()];
        let title = format!("Excess risk ‖ŵ_n − w₀‖² per generation: {label}");
        let opts = PathPlot {
            title: &title,
            y_label: "‖ŵ_n − w₀‖²",
            notes: &notes,
            y_max: Some(hi * 1.02),
            linear_x: true,
            x_label: Some("generation n (models trained on the previous one's labels)"),
            ..Default::default()
        };
        let stem = format!("excess-{}", s.slug());
        plot_path(&curves, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
        figures.push(Figure {
            png: format!("plots/{stem}.png"),
            svg: Some(format!("plots/{stem}.svg")),
            caption: format!("{label}: the downstream model's distance to the true weights after n generations of self-labelled data; dashed: E[E_n] = σ²d/(T − d − 1) + nσ₀²d/(T₀ − d − 1)."),
        });
        let varying: Vec<PathCurve> = mine
            .iter()
            .filter(|r| r.lambda.iter().any(|l| (l - r.lambda[0]).abs() > 1e-12 * r.lambda[0].abs().max(1e-300)))
            .map(|r| PathCurve { label: r.method.clone(), points: gens(&r.lambda), reference: false })
            .collect();
        if !varying.is_empty() {
            let hi = varying.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
            let title = format!("Downstream ridge λ per generation: {label}");
            let notes = vec![format!("λ₀ = σ²d/T = {}", format_number(s.sigma * s.sigma * s.d as f64 / s.t as f64))];
            let opts = PathPlot {
                title: &title,
                y_label: "λ",
                notes: &notes,
                y_max: Some(hi * 1.05),
                linear_x: true,
                x_label: Some("generation n"),
                ..Default::default()
            };
            let stem = format!("lambda-{}", s.slug());
            plot_path(&varying, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure {
                png: format!("plots/{stem}.png"),
                svg: Some(format!("plots/{stem}.svg")),
                caption: format!("{label}: the λ of the rules that change it per generation (mean over seeds and replicates)."),
            });
        }
    }
    let last = exp.generations;
    let columns: Vec<String> = ["E₀".to_string(), format!("E_{last}"), "growth per generation".into(), "closed-form growth".into()].to_vec();
    let rows: Vec<SummaryRow> = res
        .summary
        .iter()
        .map(|r| SummaryRow {
            arm: format!("{} · {}", r.setting, r.method),
            cells: vec![
                Cell::MeanStd { mean: r.excess[0].mean, std: r.excess[0].std },
                Cell::MeanStd { mean: r.excess[last].mean, std: r.excess[last].std },
                Cell::MeanStd { mean: r.slope.mean, std: r.slope.std },
                r.theory_slope.map_or(Cell::Missing, Cell::Num),
            ],
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            "Model collapse in linear regression: the error of models trained on labels of the previous generation.".into()
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "E_n = ‖ŵ_n − w₀‖², the test excess risk of isotropic Gaussian inputs; each seed's value is the mean over {} replicates; mean ± std over {} seeds. Growth: the least-squares slope over generations 0–{last}.",
            exp.replicates,
            exp.seeds.len()
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

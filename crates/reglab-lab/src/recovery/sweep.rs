//! The sweep over M/N × trials (in parallel, deterministic), its aggregation, the 50 % crossings
//! and the files of a run.

use super::config::{RecoveryExperiment, m_of};
use super::plot::{Curve, plot_rates};
use super::problem::{Problem, Projector, method_stream, trial_rng};
use super::solve::{Method, Outcome, solve};
use crate::RunError;
use crate::report::{Cell, Figure, ReportInput, SummaryRow};
use crate::results::csv_field;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One method at one M/N: counts and means over the trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateRow {
    /// Method label.
    pub method: String,
    /// M/N as given.
    pub ratio: f64,
    /// Rows M = round(N · ratio).
    pub m: usize,
    /// Trials with `sign(x̂) = x`.
    pub successes: usize,
    /// Trials.
    pub trials: usize,
    /// `successes / trials`.
    pub rate: f64,
    /// Mean iterations (summed over the starts of a trial).
    pub mean_iterations: f64,
    /// Mean `‖A x̂ − b‖ / ‖b‖`.
    pub mean_residual: f64,
    /// Trials with `‖x̂ − x‖ / ‖x‖ < threshold`.
    pub exact_successes: usize,
    /// `exact_successes / trials`.
    pub exact_rate: f64,
    /// Mean starts.
    pub mean_starts: f64,
    /// Mean fraction of entries with the wrong sign.
    pub mean_bit_error_rate: f64,
}

/// Where a success-rate curve crosses 50 %.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    /// At this M/N, interpolated linearly between the two grid points around the first
    /// rise from below 50 % to 50 % or more.
    At(f64),
    /// Already above 50 % at the first grid point (this one).
    BelowGrid(f64),
    /// Below 50 % at every grid point (the last one given).
    AboveGrid(f64),
}

impl Crossing {
    /// For tables: `0.432`, `< 0.1`, `> 1`.
    pub fn text(&self) -> String {
        match self {
            Crossing::At(x) => format!("{x:.3}"),
            Crossing::BelowGrid(r) => format!("< {r}"),
            Crossing::AboveGrid(r) => format!("> {r}"),
        }
    }

    /// The M/N when it is inside the grid.
    pub fn inside(&self) -> Option<f64> {
        match self {
            Crossing::At(x) => Some(*x),
            _ => None,
        }
    }
}

/// The 50 % crossing of `(ratio, rate)` points sorted by ratio (non-empty).
pub fn crossing(points: &[(f64, f64)]) -> Crossing {
    for (i, &(r, p)) in points.iter().enumerate() {
        if p >= 0.5 {
            if i == 0 {
                return if p == 0.5 { Crossing::At(r) } else { Crossing::BelowGrid(r) };
            }
            let (r0, p0) = points[i - 1];
            return Crossing::At(r0 + (0.5 - p0) / (p - p0) * (r - r0));
        }
    }
    Crossing::AboveGrid(points.last().map_or(f64::NAN, |p| p.0))
}

/// A method's crossings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodCrossing {
    /// Method label.
    pub method: String,
    /// Of the sign success rate.
    pub sign: Crossing,
    /// Of the exact success rate.
    pub exact: Crossing,
}

/// Everything a run computes (no timings: the same file and seed give the same results, whatever
/// the thread count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryResults {
    /// Experiment name.
    pub name: String,
    /// N.
    pub n: usize,
    /// Seed.
    pub seed: u64,
    /// Trials per ratio.
    pub trials: usize,
    /// Exact-recovery threshold.
    pub threshold: f64,
    /// Method labels, in file order.
    pub methods: Vec<String>,
    /// One row per method and ratio (method order, then ratio).
    pub rows: Vec<RateRow>,
    /// One per method.
    pub crossings: Vec<MethodCrossing>,
}

/// One trial: the problem of `(seed, ratio index, trial)`, then every method on it.
fn run_trial(exp: &RecoveryExperiment, methods: &[Method], ri: usize, trial: usize) -> Result<Vec<Outcome>, String> {
    let p = &exp.problem;
    let ratio = p.ratios[ri];
    let m = m_of(p.n, ratio);
    let mut rng = trial_rng(exp.seed, ri, trial, 0);
    let problem = Problem::generate(p.n, m, &mut rng);
    let proj = Projector::new(&problem).map_err(|e| format!("M/N = {ratio}, trial {trial}: {e}"))?;
    Ok(methods
        .iter()
        .map(|meth| {
            let mut r = trial_rng(exp.seed, ri, trial, method_stream(&meth.label));
            solve(meth, &problem, &proj, p.threshold, &mut r)
        })
        .collect())
}

/// The trials of ratio `ri` (one cell: every trial, every method), in parallel on the current
/// rayon pool (each trial seeded by itself, so the results do not depend on the threads),
/// calling `progress` after each trial. `outcome[trial][method]`.
pub fn run_ratio(exp: &RecoveryExperiment, methods: &[Method], ri: usize, progress: &(dyn Fn() + Sync)) -> Result<Vec<Vec<Outcome>>, String> {
    (0..exp.problem.trials)
        .into_par_iter()
        .map(|t| {
            let r = run_trial(exp, methods, ri, t);
            progress();
            r
        })
        .collect()
}

/// Run every trial on `threads` threads (each trial seeded by itself, so the results do not
/// depend on `threads`), calling `progress` after each, and aggregate.
pub fn sweep(exp: &RecoveryExperiment, threads: usize, progress: &(dyn Fn() + Sync)) -> Result<RecoveryResults, String> {
    let methods = exp.methods()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| e.to_string())?;
    let per_ratio: Vec<Vec<Vec<Outcome>>> = pool.install(|| {
        (0..exp.problem.ratios.len()).into_par_iter().map(|ri| run_ratio(exp, &methods, ri, progress)).collect::<Result<Vec<_>, String>>()
    })?;
    aggregate(exp, &per_ratio)
}

/// The results from every ratio's outcomes (`per_ratio[ratio][trial][method]`, as
/// [`run_ratio`] returns them).
pub fn aggregate(exp: &RecoveryExperiment, per_ratio: &[Vec<Vec<Outcome>>]) -> Result<RecoveryResults, String> {
    let methods = exp.methods()?;
    let p = &exp.problem;
    if per_ratio.len() != p.ratios.len() || per_ratio.iter().any(|t| t.len() != p.trials || t.iter().any(|o| o.len() != methods.len())) {
        return Err(format!("the outcomes are not {} ratios × {} trials × {} methods", p.ratios.len(), p.trials, methods.len()));
    }
    let mut rows = Vec::new();
    let mut crossings = Vec::new();
    for (k, meth) in methods.iter().enumerate() {
        let mut sign_pts = Vec::new();
        let mut exact_pts = Vec::new();
        for (ri, &ratio) in p.ratios.iter().enumerate() {
            let trials: Vec<&Outcome> = per_ratio[ri].iter().map(|o| &o[k]).collect();
            let t = trials.len() as f64;
            let mean = |f: &dyn Fn(&Outcome) -> f64| trials.iter().map(|o| f(o)).sum::<f64>() / t;
            let successes = trials.iter().filter(|o| o.sign_ok).count();
            let exact = trials.iter().filter(|o| o.exact_ok).count();
            let row = RateRow {
                method: meth.label.clone(),
                ratio,
                m: m_of(p.n, ratio),
                successes,
                trials: trials.len(),
                rate: successes as f64 / t,
                mean_iterations: mean(&|o| o.iterations as f64),
                mean_residual: mean(&|o| o.residual),
                exact_successes: exact,
                exact_rate: exact as f64 / t,
                mean_starts: mean(&|o| o.starts as f64),
                mean_bit_error_rate: mean(&|o| o.bit_errors as f64 / p.n as f64),
            };
            sign_pts.push((ratio, row.rate));
            exact_pts.push((ratio, row.exact_rate));
            rows.push(row);
        }
        crossings.push(MethodCrossing { method: meth.label.clone(), sign: crossing(&sign_pts), exact: crossing(&exact_pts) });
    }
    Ok(RecoveryResults {
        name: exp.name.clone(),
        n: p.n,
        seed: exp.seed,
        trials: p.trials,
        threshold: p.threshold,
        methods: methods.iter().map(|m| m.label.clone()).collect(),
        rows,
        crossings,
    })
}

/// `results.csv`: one line per row, numbers in Rust's shortest round-trip form.
pub fn to_csv(res: &RecoveryResults) -> String {
    let mut s = String::from(
        "method,ratio,m,successes,trials,rate,mean_iterations,mean_residual,exact_successes,exact_rate,mean_starts,mean_bit_error_rate\n",
    );
    for r in &res.rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.method),
            r.ratio,
            r.m,
            r.successes,
            r.trials,
            r.rate,
            r.mean_iterations,
            r.mean_residual,
            r.exact_successes,
            r.exact_rate,
            r.mean_starts,
            r.mean_bit_error_rate
        ));
    }
    s
}

/// Write `results.json`, `results.csv`, the plots and `report.html` of `res` into `out`.
pub fn write_outputs(exp: &RecoveryExperiment, res: &RecoveryResults, out: &Path) -> Result<(), RunError> {
    crate::rundir::write_results(out, res, &to_csv(res), || write_plots_and_report(exp, res, out))
}

/// The plots and `report.html`.
fn write_plots_and_report(exp: &RecoveryExperiment, res: &RecoveryResults, out: &Path) -> Result<(), String> {
    let t = res.trials as f64;
    let curves = |exact: bool| -> Vec<Curve> {
        res.methods
            .iter()
            .zip(&res.crossings)
            .map(|(m, c)| {
                let points = res
                    .rows
                    .iter()
                    .filter(|r| &r.method == m)
                    .map(|r| {
                        let p = if exact { r.exact_rate } else { r.rate };
                        (r.ratio, p, (p * (1.0 - p) / t).sqrt())
                    })
                    .collect();
                Curve { label: m.clone(), points, crossing: if exact { c.exact.inside() } else { c.sign.inside() } }
            })
            .collect()
    };
    let notes = vec![
        format!("N = {}, {} trials per point", res.n, res.trials),
        "band: ± 1 binomial standard error".to_string(),
        "tick: 50 % crossing (linear interpolation)".to_string(),
    ];
    let plots = out.join("plots");
    plot_rates(
        &curves(false),
        "Recovery of x ∈ {±1}^N: sign(x̂) = x",
        "success rate",
        &notes,
        &plots.join("success.png"),
        &plots.join("success.svg"),
    )?;
    let exact_title = format!("Exact recovery: ‖x̂ − x‖ / ‖x‖ < {}", res.threshold);
    plot_rates(&curves(true), &exact_title, "success rate", &notes, &plots.join("exact.png"), &plots.join("exact.svg"))?;

    let first = exp.problem.ratios[0];
    let last = exp.problem.ratios[exp.problem.ratios.len() - 1];
    let columns = vec![
        "50 % crossing M/N, sign(x̂) = x".to_string(),
        format!("50 % crossing M/N, ‖x̂ − x‖/‖x‖ < {}", res.threshold),
        format!("rate at M/N = {first}"),
        format!("rate at M/N = {last}"),
        "mean iterations".into(),
        "mean starts".into(),
    ];
    let rows = res
        .methods
        .iter()
        .zip(&res.crossings)
        .map(|(m, c)| {
            let mine: Vec<&RateRow> = res.rows.iter().filter(|r| &r.method == m).collect();
            let mean = |f: &dyn Fn(&RateRow) -> f64| mine.iter().map(|r| f(r)).sum::<f64>() / mine.len().max(1) as f64;
            SummaryRow {
                arm: m.clone(),
                cells: vec![
                    Cell::Text(c.sign.text()),
                    Cell::Text(c.exact.text()),
                    mine.first().map_or(Cell::Missing, |r| Cell::Num(r.rate)),
                    mine.last().map_or(Cell::Missing, |r| Cell::Num(r.rate)),
                    Cell::Num(mean(&|r| r.mean_iterations)),
                    Cell::Num(mean(&|r| r.mean_starts)),
                ],
            }
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!("Recovery of binary x from b = A x, N = {}, {} trials per M/N.", res.n, res.trials)
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "N = {}, {} trials per M/N (seed {}). A crossing is interpolated linearly between the two grid points around the first rise of the \
             success rate from below 50 % to 50 % or more; \"< r\": already at or above 50 % at the first point; \"> r\": below 50 % everywhere. \
             Means are over every grid point. Every rate is in results.csv.",
            res.n, res.trials, res.seed
        ),
        figures: vec![
            Figure {
                png: "plots/success.png".into(),
                svg: Some("plots/success.svg".into()),
                caption: "Success rate, sign(x̂) = x, against M/N".into(),
            },
            Figure { png: "plots/exact.png".into(), svg: Some("plots/exact.svg".into()), caption: exact_title },
        ],
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

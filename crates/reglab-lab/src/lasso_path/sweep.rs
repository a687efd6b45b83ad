//! The path: every method at every λ on one drawn problem (in parallel, deterministic), the
//! `f64` coordinate-descent reference at every λ, and the files of a run.

use super::config::{LassoPathExperiment, Method, MethodKind};
use crate::RunError;
use crate::linear::{self, LeastSquares, StepRule};
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow};
use crate::results::csv_field;
use crate::synthetic::Regression;
use rayon::prelude::*;
use reglab_core::{Regularizer, Spec};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Entries with `|w_j|` below this count as "small" (beside the exact zeros).
pub const SMALL: f64 = 1e-6;
/// Tolerance of the coordinate-descent reference (`max |Δw_j| ≤ tol · max |w_j|` over a sweep).
pub const REFERENCE_TOL: f64 = 1e-13;
/// Most sweeps of the reference.
pub const REFERENCE_MAX_SWEEPS: usize = 1_000_000;
/// A rise of ‖w‖₁ from one λ to the next counts when it exceeds this, relative.
pub const RISE_TOL: f64 = 1e-9;

/// One method at one λ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    /// Method label.
    pub method: String,
    /// λ.
    pub lambda: f64,
    /// ‖w‖₁.
    pub l1_norm: f64,
    /// Entries exactly 0.
    pub zeros: usize,
    /// Entries with `|w_j| < 10⁻⁶` (the exact zeros included).
    pub small: usize,
    /// `f(w) + λ‖w‖₁`.
    pub objective: f64,
    /// `objective −` the reference's.
    pub objective_gap: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Whether the stopping rule was met (`None`: the method has none).
    pub converged: Option<bool>,
    /// The lasso KKT residual (0 at the solution).
    pub kkt: f64,
    /// Non-zeros on the support of w*.
    pub true_positives: usize,
    /// Non-zeros off the support of w*.
    pub false_positives: usize,
    /// The non-zeros are exactly the support of w*.
    pub support_recovered: bool,
}

/// One method's summary over the path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathSummary {
    /// Method label (or `lasso (reference)`).
    pub method: String,
    /// Steps of the grid where ‖w‖₁ rose (by more than 10⁻⁹ relative) as λ rose.
    pub l1_rises: usize,
    /// Fewest exact zeros over the grid.
    pub min_zeros: usize,
    /// Most exact zeros over the grid.
    pub max_zeros: usize,
    /// Largest KKT residual over the grid.
    pub max_kkt: f64,
    /// Largest objective gap over the grid (0 for the reference).
    pub max_objective_gap: f64,
}

/// A method as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// Label.
    pub label: String,
    /// `subgradient`, `ista` or `fista`.
    pub name: String,
    /// Step rule of `subgradient`.
    pub rule: Option<String>,
    /// The step η used.
    pub step: f64,
    /// Iterations (exact for `subgradient`, most for the others).
    pub iterations: usize,
    /// Tolerance of `ista` and `fista`.
    pub tol: Option<f64>,
}

/// Everything a run computes (no timings: the same file gives the same results, whatever the
/// thread count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LassoPathResults {
    /// Experiment name.
    pub name: String,
    /// Examples n.
    pub n: usize,
    /// Features d.
    pub d: usize,
    /// Non-zeros of w*.
    pub k: usize,
    /// Noise σ.
    pub noise: f64,
    /// Column correlation ρ.
    pub rho: f64,
    /// Seed.
    pub seed: u64,
    /// `L = σ_max(X)²/n`.
    pub lipschitz: f64,
    /// `λ_max = ‖Xᵀy‖_∞/n`.
    pub lambda_max: f64,
    /// The support of w*.
    pub support: Vec<usize>,
    /// ‖w*‖₁.
    pub w_star_l1: f64,
    /// The grid.
    pub lambdas: Vec<f64>,
    /// The methods, in file order.
    pub methods: Vec<MethodInfo>,
    /// One row per method and λ (method order, then λ).
    pub rows: Vec<PathRow>,
    /// The `f64` coordinate-descent lasso solution at every λ (method `lasso (reference)`;
    /// `iterations` are sweeps).
    pub reference: Vec<PathRow>,
    /// One per method, then the reference.
    pub summaries: Vec<PathSummary>,
}

/// Label of the reference rows.
pub const REFERENCE_LABEL: &str = "lasso (reference)";

fn l1_reg() -> Result<Box<dyn Regularizer>, String> {
    let spec = Spec::parse("l1=1").map_err(|e| e.to_string())?;
    reglab_regularizers::registry::build(&spec).map_err(|e| e.to_string())
}

/// The η a method uses on a problem with Lipschitz constant `l`.
fn step_of(m: &Method, l: f64) -> f64 {
    m.step.unwrap_or(match m.kind {
        MethodKind::Subgradient(rule) => rule.default_step(l),
        _ => 1.0 / l,
    })
}

/// The problem a row is measured on.
struct Data<'a> {
    ls: &'a LeastSquares,
    p: &'a Regression,
}

fn row(data: &Data<'_>, label: &str, lambda: f64, w: &[f64], objective: f64, iterations: usize, converged: Option<bool>) -> PathRow {
    let (ls, p) = (data.ls, data.p);
    let nz = |j: usize| w[j] != 0.0;
    let tp = p.support.iter().filter(|&&j| nz(j)).count();
    let nonzeros = (0..w.len()).filter(|&j| nz(j)).count();
    PathRow {
        method: label.to_string(),
        lambda,
        l1_norm: linear::l1_norm(w),
        zeros: linear::exact_zeros(w),
        small: linear::below(w, SMALL),
        objective,
        objective_gap: 0.0,
        iterations,
        converged,
        kkt: linear::l1_kkt_residual(ls, w, lambda),
        true_positives: tp,
        false_positives: nonzeros - tp,
        support_recovered: tp == p.support.len() && nonzeros == tp,
    }
}

/// One job: a method (`Some(index)`) or the reference (`None`) at one λ.
fn run_job(data: &Data<'_>, l: f64, methods: &[Method], method: Option<usize>, lambda: f64) -> Result<PathRow, String> {
    let ls = data.ls;
    let Some(mi) = method else {
        let r = linear::lasso_cd(ls, lambda, REFERENCE_TOL, REFERENCE_MAX_SWEEPS);
        return Ok(row(data, REFERENCE_LABEL, lambda, &r.w, r.objective, r.sweeps, Some(r.converged)));
    };
    let m = &methods[mi];
    let mut reg = l1_reg()?;
    let step = step_of(m, l);
    let s = match m.kind {
        MethodKind::Subgradient(rule) => linear::subgradient(ls, reg.as_mut(), lambda, rule, step, m.iterations),
        MethodKind::Ista => linear::proximal(ls, reg.as_mut(), lambda, false, step, m.iterations, m.tol),
        MethodKind::Fista => linear::proximal(ls, reg.as_mut(), lambda, true, step, m.iterations, m.tol),
    }
    .map_err(|e| format!("{} at λ = {lambda}: {e}", m.label))?;
    let w: Vec<f64> = s.w.iter().map(|&v| v as f64).collect();
    Ok(row(data, &m.label, lambda, &w, s.objective, s.iterations, s.converged))
}

fn summarize(label: &str, rows: &[&PathRow]) -> PathSummary {
    let l1_rises = rows.windows(2).filter(|w| w[1].l1_norm > w[0].l1_norm * (1.0 + RISE_TOL)).count();
    PathSummary {
        method: label.to_string(),
        l1_rises,
        min_zeros: rows.iter().map(|r| r.zeros).min().unwrap_or(0),
        max_zeros: rows.iter().map(|r| r.zeros).max().unwrap_or(0),
        max_kkt: rows.iter().map(|r| r.kkt).fold(0.0, f64::max),
        max_objective_gap: rows.iter().map(|r| r.objective_gap).fold(0.0, f64::max),
    }
}

/// The number of jobs of a run: (methods + the reference) × λ values.
pub fn job_count(exp: &LassoPathExperiment) -> Result<usize, String> {
    Ok((exp.methods()?.len() + 1) * exp.lambdas()?.len())
}

/// The drawn problem of an experiment, its least squares and Lipschitz constant.
struct Drawn {
    spec: crate::synthetic::RegressionSpec,
    p: Regression,
    ls: LeastSquares,
    l: f64,
}

fn draw(exp: &LassoPathExperiment) -> Result<Drawn, String> {
    let spec = exp.regression_spec()?;
    let p = spec.generate().map_err(|e| format!("`problem.{}` {}", e.key, e.why))?;
    let ls = LeastSquares::from_regression(&p);
    let l = ls.lipschitz();
    if !(l > 0.0 && l.is_finite()) {
        return Err(format!("the Lipschitz constant of the problem is {l}: X is zero?"));
    }
    Ok(Drawn { spec, p, ls, l })
}

/// One cell: method `cell` of the file (the reference when `cell` is the number of methods)
/// at every λ, in parallel on the current rayon pool (each solve depends only on the problem,
/// so the results do not depend on the threads), calling `progress` after each λ.
pub fn run_method(exp: &LassoPathExperiment, cell: usize, progress: &(dyn Fn() + Sync)) -> Result<Vec<PathRow>, String> {
    let methods = exp.methods()?;
    let lambdas = exp.lambdas()?;
    let d = draw(exp)?;
    let method = (cell < methods.len()).then_some(cell);
    lambdas
        .par_iter()
        .map(|&lambda| {
            let r = run_job(&Data { ls: &d.ls, p: &d.p }, d.l, &methods, method, lambda);
            progress();
            r
        })
        .collect()
}

/// Draw the problem and run every job on `threads` threads (each job depends only on the
/// problem, so the results do not depend on `threads`), calling `progress` after each.
pub fn sweep(exp: &LassoPathExperiment, threads: usize, progress: &(dyn Fn() + Sync)) -> Result<LassoPathResults, String> {
    let nm = exp.methods()?.len();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| e.to_string())?;
    let per_method: Vec<Vec<PathRow>> =
        pool.install(|| (0..=nm).into_par_iter().map(|c| run_method(exp, c, progress)).collect::<Result<Vec<_>, String>>())?;
    aggregate(exp, per_method)
}

/// The results from every cell's rows (`per_method[method][λ]`, the reference last, as
/// [`run_method`] returns them).
pub fn aggregate(exp: &LassoPathExperiment, mut per_method: Vec<Vec<PathRow>>) -> Result<LassoPathResults, String> {
    let methods = exp.methods()?;
    let lambdas = exp.lambdas()?;
    if per_method.len() != methods.len() + 1 || per_method.iter().any(|r| r.len() != lambdas.len()) {
        return Err(format!("the rows are not ({} methods + the reference) × {} λ", methods.len(), lambdas.len()));
    }
    let Drawn { spec, p, ls, l } = draw(exp)?;
    let reference: Vec<PathRow> = per_method.pop().expect("the reference");
    let mut rows: Vec<PathRow> = per_method.into_iter().flatten().collect();
    for (k, r) in rows.iter_mut().enumerate() {
        r.objective_gap = r.objective - reference[k % lambdas.len()].objective;
    }
    let mut summaries: Vec<PathSummary> =
        methods.iter().map(|m| summarize(&m.label, &rows.iter().filter(|r| r.method == m.label).collect::<Vec<_>>())).collect();
    summaries.push(summarize(REFERENCE_LABEL, &reference.iter().collect::<Vec<_>>()));
    Ok(LassoPathResults {
        name: exp.name.clone(),
        n: p.n,
        d: p.d,
        k: p.support.len(),
        noise: spec.noise,
        rho: spec.rho,
        seed: spec.seed,
        lipschitz: l,
        lambda_max: ls.lambda_max(),
        w_star_l1: linear::l1_norm(&p.w_star),
        support: p.support.clone(),
        lambdas,
        methods: methods
            .iter()
            .map(|m| MethodInfo {
                label: m.label.clone(),
                name: m.name().into(),
                rule: match m.kind {
                    MethodKind::Subgradient(r) => Some(r.name().into()),
                    _ => None,
                },
                step: step_of(m, l),
                iterations: m.iterations,
                tol: (!matches!(m.kind, MethodKind::Subgradient(_))).then_some(m.tol),
            })
            .collect(),
        rows,
        reference,
        summaries,
    })
}

/// `results.csv`: the methods' rows, then the reference's; numbers in Rust's shortest
/// round-trip form, `converged` empty where the method has no stopping rule.
pub fn to_csv(res: &LassoPathResults) -> String {
    let mut s = String::from(
        "method,lambda,l1_norm,zeros,small,objective,objective_gap,iterations,converged,kkt,true_positives,false_positives,support_recovered\n",
    );
    for r in res.rows.iter().chain(&res.reference) {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.method),
            r.lambda,
            r.l1_norm,
            r.zeros,
            r.small,
            r.objective,
            r.objective_gap,
            r.iterations,
            r.converged.map_or(String::new(), |c| c.to_string()),
            r.kkt,
            r.true_positives,
            r.false_positives,
            r.support_recovered
        ));
    }
    s
}

/// Write `results.json`, `results.csv`, the plots and `report.html` of `res` into `out`.
pub fn write_outputs(exp: &LassoPathExperiment, res: &LassoPathResults, out: &Path) -> Result<(), RunError> {
    crate::rundir::write_results(out, res, &to_csv(res), || write_plots_and_report(exp, res, out))
}

fn rule_text(m: &MethodInfo) -> String {
    let step = crate::report::format_number(m.step);
    match m.rule.as_deref().and_then(StepRule::parse) {
        Some(StepRule::Constant) => format!("η = {step}"),
        Some(StepRule::Sqrt) => format!("η_t = {step}/√(t+1)"),
        Some(StepRule::Adam) => format!("Adam, lr = {step}"),
        None => format!("η = {step}"),
    }
}

/// The plots and `report.html`.
fn write_plots_and_report(exp: &LassoPathExperiment, res: &LassoPathResults, out: &Path) -> Result<(), String> {
    let curves = |value: &dyn Fn(&PathRow) -> f64| -> Vec<PathCurve> {
        let mut c: Vec<PathCurve> = res
            .methods
            .iter()
            .map(|m| PathCurve {
                label: format!("{} ({})", m.label, rule_text(m)),
                points: res.rows.iter().filter(|r| r.method == m.label).map(|r| (r.lambda, value(r))).collect(),
                reference: false,
            })
            .collect();
        c.push(PathCurve {
            label: "lasso solution (coordinate descent, f64)".into(),
            points: res.reference.iter().map(|r| (r.lambda, value(r))).collect(),
            reference: true,
        });
        c
    };
    let notes = vec![
        format!("n = {}, d = {}, k = {}, σ = {}, seed {}", res.n, res.d, res.k, res.noise, res.seed),
        format!("L = σ_max(X)²/n = {}", crate::report::format_number(res.lipschitz)),
        format!("λ_max = ‖Xᵀy‖∞/n = {}", crate::report::format_number(res.lambda_max)),
        format!("‖w*‖₁ = {}", crate::report::format_number(res.w_star_l1)),
    ];
    let plots = out.join("plots");
    let l1_opts = PathPlot {
        title: "‖w‖₁ of the result against λ",
        y_label: "‖w‖₁",
        notes: &notes,
        y_max: None,
        lambda_max: Some(res.lambda_max),
        ..Default::default()
    };
    plot_path(&curves(&|r| r.l1_norm), &l1_opts, &plots.join("l1_norm.png"), &plots.join("l1_norm.svg"))?;
    let zeros_opts = PathPlot { title: "Entries exactly 0 against λ", y_label: "exact zeros", y_max: Some(res.d as f64), ..l1_opts };
    plot_path(&curves(&|r| r.zeros as f64), &zeros_opts, &plots.join("zeros.png"), &plots.join("zeros.svg"))?;

    let first = res.lambdas[0];
    let last = res.lambdas[res.lambdas.len() - 1];
    let fmt = crate::report::format_number;
    let columns = vec![
        "step".to_string(),
        "iterations".into(),
        format!("‖w‖₁ at λ = {}", fmt(first)),
        format!("‖w‖₁ at λ = {}", fmt(last)),
        "grid steps where ‖w‖₁ rose".into(),
        format!("exact zeros at λ = {}", fmt(first)),
        format!("exact zeros at λ = {}", fmt(last)),
        "largest KKT residual".into(),
        "largest objective gap".into(),
    ];
    let labels: Vec<(String, String, String)> = res
        .methods
        .iter()
        .map(|m| {
            let its =
                if m.name == "subgradient" { m.iterations.to_string() } else { format!("≤ {} (tol {})", m.iterations, fmt(m.tol.unwrap_or(0.0))) };
            (m.label.clone(), rule_text(m), its)
        })
        .chain(std::iter::once((REFERENCE_LABEL.to_string(), "coordinate descent, f64".to_string(), format!("tol {REFERENCE_TOL}"))))
        .collect();
    let rows = labels
        .iter()
        .zip(&res.summaries)
        .map(|((label, step, its), s)| {
            let mine: Vec<&PathRow> = res.rows.iter().chain(&res.reference).filter(|r| &r.method == label).collect();
            SummaryRow {
                arm: label.clone(),
                cells: vec![
                    Cell::Text(step.clone()),
                    Cell::Text(its.clone()),
                    mine.first().map_or(Cell::Missing, |r| Cell::Num(r.l1_norm)),
                    mine.last().map_or(Cell::Missing, |r| Cell::Num(r.l1_norm)),
                    Cell::Num(s.l1_rises as f64),
                    mine.first().map_or(Cell::Missing, |r| Cell::Num(r.zeros as f64)),
                    mine.last().map_or(Cell::Missing, |r| Cell::Num(r.zeros as f64)),
                    Cell::Num(s.max_kkt),
                    Cell::Num(s.max_objective_gap),
                ],
            }
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!("‖w‖₁ and exact zeros of lasso solvers over λ, synthetic problem n = {}, d = {}, k = {}.", res.n, res.d, res.k)
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "{} λ values from {} to {} (λ_max = {}). The objective is f(w) + λ‖w‖₁ with f(w) = ‖Xw − y‖²/(2n); the gap is measured against \
             the f64 coordinate-descent solution; the KKT residual is the ∞-norm of the smallest element of ∇f(w) + λ∂‖w‖₁ (0 at the \
             solution). A rise is a grid step where ‖w‖₁ grew by more than 10⁻⁹ relative as λ grew. Every value at every λ is in results.csv.",
            res.lambdas.len(),
            fmt(first),
            fmt(last),
            fmt(res.lambda_max)
        ),
        figures: vec![
            Figure { png: "plots/l1_norm.png".into(), svg: Some("plots/l1_norm.svg".into()), caption: "‖w‖₁ against λ (log scale)".into() },
            Figure { png: "plots/zeros.png".into(), svg: Some("plots/zeros.svg".into()), caption: "Entries exactly 0 against λ (log scale)".into() },
        ],
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

//! The cells of an `evidence` experiment (one per setting × seed × method, and one per grid
//! point so that `--jobs` runs the grid in parallel), their merge and the files of a run:
//! `results.json`, `results.csv` (one row per setting × seed × method), `summary.csv` (mean ±
//! std over the seeds), `grid.csv` (the validation curves), `trajectories.csv` (τ² per
//! iteration, thinned), `compute.csv` (iterations and wall seconds: the only file that differs
//! between two runs of the same file), `plots/` and `report.html`.
//!
//! Seeds: each seed `s` draws the data (stream 0), the random features (stream 1) and the
//! validation split (stream 2) — the same for every method of that seed.

use super::config::EvidenceExperiment;
use super::data::generate;
use super::features::FeatureMap;
use super::fit::{Fit, FitOptions, QFamily, Step, fit_elbo, fit_type2_ml};
use super::grid::{fit_and_score, log_grid, rows, split};
use super::posterior::Posterior;
use super::problem::Problem;
use super::spectral::Spectrum;
use crate::RunError;
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
pub use crate::stats::MeanStd;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The work of one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// A learning method (not `grid`).
    Method(String),
    /// Grid point `i` of λ.
    GridPoint(usize),
}

/// One cell: setting, seed (index into `seeds`) and job.
#[derive(Debug, Clone, PartialEq)]
pub struct CellKey {
    /// Index of the setting.
    pub setting: usize,
    /// Index of the seed.
    pub seed: usize,
    /// What it does.
    pub job: Job,
}

/// The cells in order: setting, seed, method (the grid's points in place of `grid`).
pub fn cell_keys(exp: &EvidenceExperiment) -> Vec<CellKey> {
    let mut v = Vec::new();
    for setting in 0..exp.settings.len() {
        for seed in 0..exp.seeds.len() {
            for m in &exp.methods {
                if m == "grid" {
                    v.extend((0..exp.grid.points).map(|i| CellKey { setting, seed, job: Job::GridPoint(i) }));
                } else {
                    v.push(CellKey { setting, seed, job: Job::Method(m.clone()) });
                }
            }
        }
    }
    v
}

/// A cell's label.
pub fn cell_label(exp: &EvidenceExperiment, k: &CellKey) -> String {
    let job = match &k.job {
        Job::Method(m) => m.clone(),
        Job::GridPoint(i) => format!("grid λ[{i}]"),
    };
    format!("{} s{} {job}", exp.settings[k.setting].slug(), exp.seeds[k.seed])
}

/// The seed of stream `stream` of seed `seed`.
pub fn derive(seed: u64, stream: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ stream
}

/// Keep at most ~`MAX_TRAJECTORY` entries of a trajectory: the first 50, then log-spaced, and the last.
pub const MAX_TRAJECTORY: usize = 200;

fn thin(t: &[Step]) -> Vec<(usize, Step)> {
    let n = t.len();
    let mut idx: Vec<usize> = (0..n.min(50)).collect();
    if n > 50 {
        let (a, b) = ((50f64).ln(), ((n - 1) as f64).ln());
        let k = MAX_TRAJECTORY - 50;
        for j in 0..=k {
            let i = (a + (b - a) * j as f64 / k as f64).exp().round() as usize;
            if i > *idx.last().unwrap_or(&0) && i < n {
                idx.push(i);
            }
        }
        if *idx.last().unwrap_or(&0) != n - 1 {
            idx.push(n - 1);
        }
    }
    idx.into_iter().map(|i| (i, t[i])).collect()
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Index of the setting.
    pub setting: usize,
    /// The seed.
    pub seed: u64,
    /// The method (`grid` for a grid point; its σ² is the refit's).
    pub method: String,
    /// The grid point (grid only).
    pub grid_index: Option<usize>,
    /// N.
    pub n: usize,
    /// D.
    pub d: usize,
    /// κ used (1 for ELBo, type-II ML and the grid).
    pub kappa: f64,
    /// τ².
    pub tau2: f64,
    /// σ².
    pub sigma2: f64,
    /// Isotropic q's s².
    pub s2: Option<f64>,
    /// The objective at the end (bound or log evidence; the grid: validation log-likelihood).
    pub objective: f64,
    /// Iterations (the grid: 1 fit).
    pub iterations: usize,
    /// Stopping rule met.
    pub converged: bool,
    /// σ² at its floor.
    pub noise_at_floor: bool,
    /// τ² at its floor.
    pub tau2_at_floor: bool,
    /// Grid: mean validation log-likelihood.
    pub val_loglik: Option<f64>,
    /// Mean test predictive log-likelihood (the grid: of the refit on all training data).
    pub test_loglik: f64,
    /// Test RMSE.
    pub test_rmse: f64,
    /// (iteration, step), thinned.
    pub trajectory: Vec<(usize, Step)>,
    /// Wall seconds of the learning (grid: the fit on the fitting part and the validation score).
    pub seconds: f64,
    /// Grid: wall seconds of the refit on all training data.
    pub refit_seconds: f64,
}

/// Run cell `index`.
pub fn run_cell(exp: &EvidenceExperiment, index: usize) -> Result<CellResult, String> {
    let keys = cell_keys(exp);
    let k = keys.get(index).ok_or_else(|| format!("no cell {index}"))?;
    let s = &exp.settings[k.setting];
    let seed = exp.seeds[k.seed];
    let data = generate(s.dataset, s.n_train, s.n_test, s.noise(), derive(seed, 0))?;
    let fm = FeatureMap::fit(&data.x_train, s.map_spec(), derive(seed, 1))?;
    let (phi, phi_test) = (fm.apply(&data.x_train)?, fm.apply(&data.x_test)?);
    let sigma2 = if exp.fit.learn_noise { exp.fit.sigma2_init.unwrap_or(s.noise() * s.noise()) } else { s.noise() * s.noise() };
    let (n, d) = (phi.nrows(), phi.ncols());
    let base = |method: &str| CellResult {
        setting: k.setting,
        seed,
        method: method.to_string(),
        grid_index: None,
        n,
        d,
        kappa: 1.0,
        tau2: f64::NAN,
        sigma2,
        s2: None,
        objective: f64::NAN,
        iterations: 0,
        converged: true,
        noise_at_floor: false,
        tau2_at_floor: false,
        val_loglik: None,
        test_loglik: f64::NAN,
        test_rmse: f64::NAN,
        trajectory: Vec::new(),
        seconds: 0.0,
        refit_seconds: 0.0,
    };
    match &k.job {
        Job::Method(m) => {
            let t0 = Instant::now();
            let offset = data.y_train.mean();
            let p = Problem::new(phi, data.y_train.add_scalar(-offset))?;
            let spec = Spectrum::new(&p)?;
            let de_kappa = exp.fit.kappa.unwrap_or(d as f64 / n as f64);
            let (kappa, q) = match m.as_str() {
                "de-elbo" => (de_kappa, Some(QFamily::Full)),
                "de-elbo-iso" => (de_kappa, Some(QFamily::Isotropic)),
                "elbo" => (1.0, Some(QFamily::Full)),
                "elbo-iso" => (1.0, Some(QFamily::Isotropic)),
                "type2-ml" => (1.0, None),
                other => return Err(format!("unknown method {other}")),
            };
            let o = FitOptions {
                kappa,
                q: q.unwrap_or(QFamily::Full),
                learn_noise: exp.fit.learn_noise,
                tau2_init: exp.fit.tau2_init,
                sigma2,
                max_iter: exp.fit.max_iter,
                tol: exp.fit.tol,
            };
            let fit: Fit = if q.is_some() { fit_elbo(&spec, &o)? } else { fit_type2_ml(&spec, &o)? };
            let post = match q {
                Some(QFamily::Isotropic) => Posterior::isotropic(&p, kappa, fit.tau2, fit.sigma2)?,
                _ => Posterior::gaussian(&p, kappa, fit.tau2, fit.sigma2)?,
            };
            let seconds = t0.elapsed().as_secs_f64();
            let metrics = post.evaluate(&phi_test, &data.y_test, offset, fit.sigma2)?;
            Ok(CellResult {
                kappa,
                tau2: fit.tau2,
                sigma2: fit.sigma2,
                s2: fit.s2,
                objective: fit.objective,
                iterations: fit.iterations,
                converged: fit.converged,
                noise_at_floor: fit.noise_at_floor,
                tau2_at_floor: fit.tau2_at_floor,
                test_loglik: metrics.loglik,
                test_rmse: metrics.rmse,
                trajectory: thin(&fit.trajectory),
                seconds,
                ..base(m)
            })
        }
        Job::GridPoint(i) => {
            let lambdas = log_grid(exp.grid.lambda_min, exp.grid.lambda_max, exp.grid.points)?;
            let lambda = lambdas[*i];
            let t0 = Instant::now();
            let (fit_idx, val_idx) = split(n, exp.grid.validation_fraction, derive(seed, 2))?;
            let (pf, yf) = rows(&phi, &data.y_train, &fit_idx);
            let (pv, yv) = rows(&phi, &data.y_train, &val_idx);
            let known = if exp.fit.learn_noise { None } else { Some(sigma2) };
            let (val, _) = fit_and_score(&pf, &yf, &pv, &yv, lambda, known)?;
            let seconds = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let (test, sigma2) = fit_and_score(&phi, &data.y_train, &phi_test, &data.y_test, lambda, known)?;
            let refit_seconds = t1.elapsed().as_secs_f64();
            Ok(CellResult {
                grid_index: Some(*i),
                tau2: sigma2 / lambda,
                sigma2,
                objective: val.loglik,
                iterations: 1,
                val_loglik: Some(val.loglik),
                test_loglik: test.loglik,
                test_rmse: test.rmse,
                seconds,
                refit_seconds,
                ..base("grid")
            })
        }
    }
}

/// One row of the results: a setting, a seed and a method (the grid: its chosen point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The setting's label.
    pub setting: String,
    /// The seed.
    pub seed: u64,
    /// The method.
    pub method: String,
    /// N.
    pub n: usize,
    /// D.
    pub d: usize,
    /// κ.
    pub kappa: f64,
    /// The learned (or chosen) τ².
    pub tau2: f64,
    /// σ².
    pub sigma2: f64,
    /// `σ²/τ²`.
    pub lambda: f64,
    /// `σ²/(κ τ²)`: the ridge strength of the predictive mean.
    pub lambda_eff: f64,
    /// Isotropic q's s².
    pub s2: Option<f64>,
    /// The objective at the end.
    pub objective: f64,
    /// Iterations (grid: fits, the points and the refit).
    pub iterations: usize,
    /// Every fit met its stopping rule.
    pub converged: bool,
    /// σ² at its floor.
    pub noise_at_floor: bool,
    /// τ² at its floor.
    pub tau2_at_floor: bool,
    /// Grid: the chosen point is the first or the last.
    pub on_grid_edge: Option<bool>,
    /// Mean test predictive log-likelihood.
    pub test_loglik: f64,
    /// Test RMSE.
    pub test_rmse: f64,
}

/// A method in a setting over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The setting's label.
    pub setting: String,
    /// The method.
    pub method: String,
    /// Seeds.
    pub seeds: usize,
    /// κ (mean).
    pub kappa: f64,
    /// log10 τ².
    pub log10_tau2: MeanStd,
    /// log10 λ_eff.
    pub log10_lambda_eff: MeanStd,
    /// Test log-likelihood.
    pub test_loglik: MeanStd,
    /// Test RMSE.
    pub test_rmse: MeanStd,
    /// Iterations.
    pub iterations: MeanStd,
    /// Every seed converged.
    pub converged: bool,
    /// Grid: seeds whose choice is on an edge.
    pub on_grid_edge: usize,
    /// Seeds whose σ² or τ² ended at its floor.
    pub at_floor: usize,
}

/// The validation curve of one setting and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridCurve {
    /// The setting's label.
    pub setting: String,
    /// The seed.
    pub seed: u64,
    /// λ.
    pub lambda: Vec<f64>,
    /// Validation mean log-likelihood per λ.
    pub val_loglik: Vec<f64>,
    /// Test mean log-likelihood of the refit per λ (shown, never used to choose).
    pub test_loglik: Vec<f64>,
    /// The chosen index.
    pub best: usize,
}

/// Everything a run computes (no timings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceResults {
    /// Experiment name.
    pub name: String,
    /// The settings' labels.
    pub settings: Vec<String>,
    /// Rows.
    pub rows: Vec<Row>,
    /// Summaries.
    pub summary: Vec<Summary>,
    /// Validation curves.
    pub grid: Vec<GridCurve>,
}

/// The timings of a run (setting, seed, method, iterations, seconds).
pub struct Compute {
    rows: Vec<(String, u64, String, usize, f64)>,
}

/// Merge the cells' results.
pub fn aggregate(exp: &EvidenceExperiment, cells: &[CellResult]) -> Result<(EvidenceResults, Compute, Vec<CellResult>), String> {
    let mut rows = Vec::new();
    let mut grid = Vec::new();
    let mut compute = Vec::new();
    let mut learned = Vec::new();
    for (si, s) in exp.settings.iter().enumerate() {
        for &seed in &exp.seeds {
            for m in &exp.methods {
                let mine: Vec<&CellResult> = cells.iter().filter(|c| c.setting == si && c.seed == seed && &c.method == m).collect();
                if m == "grid" {
                    if mine.len() != exp.grid.points {
                        return Err(format!("{} seed {seed}: {} of {} grid points", s.label(), mine.len(), exp.grid.points));
                    }
                    let val: Vec<f64> = mine.iter().map(|c| c.val_loglik.unwrap_or(f64::NEG_INFINITY)).collect();
                    let best = (0..val.len()).fold(0, |b, i| if val[i] > val[b] { i } else { b });
                    let c = mine[best];
                    grid.push(GridCurve {
                        setting: s.label(),
                        seed,
                        lambda: mine.iter().map(|c| c.sigma2 / c.tau2).collect(),
                        val_loglik: val.clone(),
                        test_loglik: mine.iter().map(|c| c.test_loglik).collect(),
                        best,
                    });
                    rows.push(Row {
                        setting: s.label(),
                        seed,
                        method: m.clone(),
                        n: c.n,
                        d: c.d,
                        kappa: 1.0,
                        tau2: c.tau2,
                        sigma2: c.sigma2,
                        lambda: c.sigma2 / c.tau2,
                        lambda_eff: c.sigma2 / c.tau2,
                        s2: None,
                        objective: c.objective,
                        iterations: mine.len() + 1,
                        converged: true,
                        noise_at_floor: false,
                        tau2_at_floor: false,
                        on_grid_edge: Some(best == 0 || best + 1 == mine.len()),
                        test_loglik: c.test_loglik,
                        test_rmse: c.test_rmse,
                    });
                    compute.push((s.label(), seed, m.clone(), mine.len() + 1, mine.iter().map(|c| c.seconds).sum::<f64>() + c.refit_seconds));
                } else {
                    let [c] = mine.as_slice() else { return Err(format!("{} seed {seed} {m}: {} cells", s.label(), mine.len())) };
                    rows.push(Row {
                        setting: s.label(),
                        seed,
                        method: m.clone(),
                        n: c.n,
                        d: c.d,
                        kappa: c.kappa,
                        tau2: c.tau2,
                        sigma2: c.sigma2,
                        lambda: c.sigma2 / c.tau2,
                        lambda_eff: c.sigma2 / (c.kappa * c.tau2),
                        s2: c.s2,
                        objective: c.objective,
                        iterations: c.iterations,
                        converged: c.converged,
                        noise_at_floor: c.noise_at_floor,
                        tau2_at_floor: c.tau2_at_floor,
                        on_grid_edge: None,
                        test_loglik: c.test_loglik,
                        test_rmse: c.test_rmse,
                    });
                    compute.push((s.label(), seed, m.clone(), c.iterations, c.seconds));
                    learned.push((*c).clone());
                }
            }
        }
    }
    let mut summary = Vec::new();
    for s in &exp.settings {
        for m in &exp.methods {
            let r: Vec<&Row> = rows.iter().filter(|r| r.setting == s.label() && &r.method == m).collect();
            let col = |f: &dyn Fn(&Row) -> f64| MeanStd::of(&r.iter().map(|r| f(r)).collect::<Vec<_>>());
            summary.push(Summary {
                setting: s.label(),
                method: m.clone(),
                seeds: r.len(),
                kappa: col(&|r| r.kappa).mean,
                log10_tau2: col(&|r| r.tau2.log10()),
                log10_lambda_eff: col(&|r| r.lambda_eff.log10()),
                test_loglik: col(&|r| r.test_loglik),
                test_rmse: col(&|r| r.test_rmse),
                iterations: col(&|r| r.iterations as f64),
                converged: r.iter().all(|r| r.converged),
                on_grid_edge: r.iter().filter(|r| r.on_grid_edge == Some(true)).count(),
                at_floor: r.iter().filter(|r| r.noise_at_floor || r.tau2_at_floor).count(),
            });
        }
    }
    let res = EvidenceResults { name: exp.name.clone(), settings: exp.settings.iter().map(|s| s.label()).collect(), rows, summary, grid };
    Ok((res, Compute { rows: compute }, learned))
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:e}"))
}

/// `results.csv`.
pub fn rows_csv(res: &EvidenceResults) -> String {
    let mut s = String::from(
        "setting,seed,method,n,d,kappa,tau2,sigma2,lambda,lambda_eff,s2,objective,iterations,converged,noise_at_floor,tau2_at_floor,on_grid_edge,test_loglik,test_rmse\n",
    );
    for r in &res.rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{:e},{:e},{:e},{:e},{:e},{},{:e},{},{},{},{},{},{:e},{:e}",
            r.setting,
            r.seed,
            r.method,
            r.n,
            r.d,
            r.kappa,
            r.tau2,
            r.sigma2,
            r.lambda,
            r.lambda_eff,
            opt(r.s2),
            r.objective,
            r.iterations,
            r.converged,
            r.noise_at_floor,
            r.tau2_at_floor,
            r.on_grid_edge.map_or(String::new(), |b| b.to_string()),
            r.test_loglik,
            r.test_rmse
        );
    }
    s
}

/// `summary.csv`.
pub fn summary_csv(res: &EvidenceResults) -> String {
    let mut s = String::from(
        "setting,method,seeds,kappa,log10_tau2_mean,log10_tau2_std,log10_lambda_eff_mean,log10_lambda_eff_std,test_loglik_mean,test_loglik_std,test_rmse_mean,test_rmse_std,iterations_mean,iterations_std,converged,on_grid_edge,at_floor\n",
    );
    for r in &res.summary {
        let _ = writeln!(
            s,
            "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.1},{:.1},{},{},{}",
            r.setting,
            r.method,
            r.seeds,
            r.kappa,
            r.log10_tau2.mean,
            r.log10_tau2.std,
            r.log10_lambda_eff.mean,
            r.log10_lambda_eff.std,
            r.test_loglik.mean,
            r.test_loglik.std,
            r.test_rmse.mean,
            r.test_rmse.std,
            r.iterations.mean,
            r.iterations.std,
            r.converged,
            r.on_grid_edge,
            r.at_floor
        );
    }
    s
}

fn grid_csv(res: &EvidenceResults) -> String {
    let mut s = String::from("setting,seed,lambda,val_loglik,test_loglik,chosen\n");
    for g in &res.grid {
        for i in 0..g.lambda.len() {
            let _ = writeln!(s, "{},{},{:e},{:e},{:e},{}", g.setting, g.seed, g.lambda[i], g.val_loglik[i], g.test_loglik[i], i == g.best);
        }
    }
    s
}

fn trajectories_csv(exp: &EvidenceExperiment, learned: &[CellResult]) -> String {
    let mut s = String::from("setting,seed,method,iteration,tau2,sigma2,objective\n");
    for c in learned {
        for (i, st) in &c.trajectory {
            let _ = writeln!(s, "{},{},{},{},{:e},{:e},{:e}", exp.settings[c.setting].label(), c.seed, c.method, i, st.tau2, st.sigma2, st.objective);
        }
    }
    s
}

fn compute_csv(c: &Compute) -> String {
    let mut s = String::from("setting,seed,method,iterations,seconds\n");
    for (setting, seed, m, it, sec) in &c.rows {
        let _ = writeln!(s, "{setting},{seed},{m},{it},{sec:.6}");
    }
    s
}

/// Write every file of the run into `out`.
pub fn write_outputs(exp: &EvidenceExperiment, cells: &[CellResult], out: &Path) -> Result<EvidenceResults, RunError> {
    let (res, compute, learned) = aggregate(exp, cells).map_err(RunError::Failed)?;
    crate::rundir::write_results(out, &res, &rows_csv(&res), || {
        for (name, text) in [
            ("summary.csv", summary_csv(&res)),
            ("grid.csv", grid_csv(&res)),
            ("trajectories.csv", trajectories_csv(exp, &learned)),
            ("compute.csv", compute_csv(&compute)),
        ] {
            crate::rundir::write_text(&out.join(name), &text).map_err(|e| e.to_string())?;
        }
        write_plots_and_report(exp, &res, &learned, &compute, out)
    })?;
    Ok(res)
}

fn write_plots_and_report(
    exp: &EvidenceExperiment,
    res: &EvidenceResults,
    learned: &[CellResult],
    compute: &Compute,
    out: &Path,
) -> Result<(), String> {
    let plots = out.join("plots");
    let mut figures = Vec::new();
    let seed0 = exp.seeds[0];
    for (si, s) in exp.settings.iter().enumerate() {
        let label = s.label();
        // τ² per iteration (first seed), the grid's choice as the reference.
        let mut curves: Vec<PathCurve> = learned
            .iter()
            .filter(|c| c.setting == si && c.seed == seed0)
            .map(|c| PathCurve {
                label: format!("{} (κ = {})", c.method, format_number(c.kappa)),
                points: c.trajectory.iter().map(|(i, st)| ((*i + 1) as f64, st.tau2.log10())).collect(),
                reference: false,
            })
            .collect();
        let max_it = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)).fold(2.0f64, f64::max);
        if let Some(g) = res.rows.iter().find(|r| r.setting == label && r.seed == seed0 && r.method == "grid") {
            curves.push(PathCurve { label: "grid choice".into(), points: vec![(1.0, g.tau2.log10()), (max_it, g.tau2.log10())], reference: true });
        }
        if !curves.is_empty() {
            let (lo, hi) =
                curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            let notes = vec![
                format!("seed {seed0}; start τ² = {}", format_number(exp.fit.tau2_init)),
                format!("σ² = {} known", format_number(s.noise() * s.noise())),
            ];
            let title = format!("τ² per iteration: {label}");
            let opts = PathPlot {
                title: &title,
                y_label: "log10 τ²",
                notes: &notes,
                y_min: Some(lo - 0.1),
                y_max: Some(hi + 0.1),
                x_label: Some("iteration + 1 (log scale)"),
                ..Default::default()
            };
            let stem = format!("trajectory-{}", s.slug());
            plot_path(&curves, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure {
                png: format!("plots/{stem}.png"),
                svg: Some(format!("plots/{stem}.svg")),
                caption: format!("{label}: the learned prior variance τ² per iteration (seed {seed0}); dashed: the validation grid's choice."),
            });
        }
        // Validation curves.
        let curves: Vec<PathCurve> = res
            .grid
            .iter()
            .filter(|g| g.setting == label)
            .flat_map(|g| {
                [
                    PathCurve {
                        label: format!("validation, seed {}", g.seed),
                        points: g.lambda.iter().copied().zip(g.val_loglik.iter().map(|v| -v)).collect(),
                        reference: false,
                    },
                    PathCurve {
                        label: format!("test (not used), seed {}", g.seed),
                        points: g.lambda.iter().copied().zip(g.test_loglik.iter().map(|v| -v)).collect(),
                        reference: true,
                    },
                ]
            })
            .collect();
        let vals: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).filter(|v| v.is_finite()).collect();
        if !vals.is_empty() {
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            let hi = sorted[(sorted.len() * 3) / 4].max(lo + 1e-6);
            let learned_notes: Vec<String> = exp
                .methods
                .iter()
                .filter(|m| *m != "grid")
                .filter_map(|m| {
                    res.summary
                        .iter()
                        .find(|r| r.setting == label && &r.method == m)
                        .map(|r| format!("{m}: λ_eff = 10^{:.2}", r.log10_lambda_eff.mean))
                })
                .collect();
            let title = format!("Held-out NLL against λ: {label}");
            let opts = PathPlot {
                title: &title,
                y_label: "mean negative log-likelihood",
                notes: &learned_notes,
                y_min: Some(lo - 0.05 * (hi - lo)),
                y_max: Some(hi),
                ..Default::default()
            };
            let stem = format!("validation-{}", s.slug());
            plot_path(&curves, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure {
                png: format!("plots/{stem}.png"),
                svg: Some(format!("plots/{stem}.svg")),
                caption: format!("{label}: validation NLL of the grid (chooses λ) and, dashed, the test NLL of the refit at each λ (shown only); y clipped at the upper quartile."),
            });
        }
    }
    let columns: Vec<String> =
        ["κ", "log10 τ²", "log10 λ_eff", "test log-lik", "test RMSE", "iterations", "seconds (mean)"].iter().map(|s| s.to_string()).collect();
    let rows: Vec<SummaryRow> = res
        .summary
        .iter()
        .map(|r| {
            let secs: Vec<f64> = compute.rows.iter().filter(|c| c.0 == r.setting && c.2 == r.method).map(|c| c.4).collect();
            SummaryRow {
                arm: format!("{} · {}", r.setting, r.method),
                cells: vec![
                    Cell::Num(r.kappa),
                    Cell::MeanStd { mean: r.log10_tau2.mean, std: r.log10_tau2.std },
                    Cell::MeanStd { mean: r.log10_lambda_eff.mean, std: r.log10_lambda_eff.std },
                    Cell::MeanStd { mean: r.test_loglik.mean, std: r.test_loglik.std },
                    Cell::MeanStd { mean: r.test_rmse.mean, std: r.test_rmse.std },
                    Cell::MeanStd { mean: r.iterations.mean, std: r.iterations.std },
                    Cell::Num(secs.iter().sum::<f64>() / secs.len().max(1) as f64),
                ],
            }
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            "The prior variance of Bayesian linear and RFF regression: DE-ELBo, ELBo, type-II ML and a validation grid.".into()
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seeds. λ_eff = σ²/(κτ²), the ridge strength of the predictive mean. Grid: {} λ from {} to {}, {}% of the training set held out; iterations = fits. Seconds: wall time of the learning (not in results.json).",
            exp.seeds.len(),
            exp.grid.points,
            format_number(exp.grid.lambda_min),
            format_number(exp.grid.lambda_max),
            format_number(100.0 * exp.grid.validation_fraction)
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

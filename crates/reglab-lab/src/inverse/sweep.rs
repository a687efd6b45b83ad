//! The reconstructions of every setting (in parallel, deterministic) and the files of a run.

use super::config::{InverseExperiment, MethodConfig, setting_seed};
use crate::RunError;
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
use rayon::prelude::*;
use reglab_inverse::{
    BalancedSteps, Filter, Gradient, GraphLaplacian, Identity, Image, LinearOperator, PngBits, Radon, SolverOptions, SolverResult, WeightedTv,
    add_gaussian_noise, chambolle_pock_with_steps, fbp, graph_laplacian_l1_with_steps, piecewise_constant, psnr, shepp_logan, ssim, tikhonov_cg,
    write_png,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::OnceLock;

/// One measurement setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Number of equispaced views in `[0, π)`.
    pub views: usize,
    /// Relative noise level.
    pub noise: f64,
    /// The noise standard deviation `σ = noise · ‖Ax‖₂ / √m`.
    pub sigma: f64,
    /// The seed of the noise.
    pub seed: u64,
    /// Sinogram entries `m` (views × detector bins).
    pub measurements: usize,
    /// The calibration problem's noise standard deviation (`noise` · rms of its clean sinogram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_sigma: Option<f64>,
    /// The calibration problem's noise seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_seed: Option<u64>,
}

/// Which problem and λ rule a row belongs to (only with `[calibration]`; without it every row
/// is an oracle row and carries none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The test problem, every λ, estimates from the oracle chain; `best` = the oracle's λ.
    Oracle,
    /// The calibration problem, every λ, PSNR against the calibration phantom, estimates from
    /// the calibration problem's best; `best` = the calibrated λ.
    Calibration,
    /// The test problem at the calibrated λ, estimates from the calibrated chain on the test
    /// problem (one row per method and setting).
    Calibrated,
    /// The test problem at the λ learned by MAID from random training phantoms (`[learned]`; one
    /// row per learned method and setting).
    Learned,
}

impl Stage {
    /// `"oracle"`, `"calibration"`, `"calibrated"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Oracle => "oracle",
            Stage::Calibration => "calibration",
            Stage::Calibrated => "calibrated",
            Stage::Learned => "learned",
        }
    }
}

impl Setting {
    /// `"20 views, 1 % noise"`.
    pub fn title(&self) -> String {
        format!("{} views, {} % noise", self.views, format_number(100.0 * self.noise))
    }

    /// `"20v-1pct"`: the directory and file stem of the setting.
    pub fn stem(&self) -> String {
        format!("{}v-{}pct", self.views, format_number(100.0 * self.noise).replace('.', "p"))
    }
}

/// One reconstruction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseRow {
    /// Number of views of the setting.
    pub views: usize,
    /// Noise level of the setting.
    pub noise: f64,
    /// The method's label.
    pub method: String,
    /// λ (none for FBP).
    pub lambda: Option<f64>,
    /// PSNR against the phantom (data range 1), dB.
    pub psnr: f64,
    /// Mean SSIM against the phantom (data range 1).
    pub ssim: f64,
    /// `‖x − x_true‖ / ‖x_true‖`.
    pub rel_error: f64,
    /// Solver iterations (0 for FBP).
    pub iterations: usize,
    /// Whether the solver met its stopping rule (FBP: true).
    pub converged: bool,
    /// The objective at the result (none for FBP).
    pub objective: Option<f64>,
    /// Whether this λ gives the method's best PSNR in this setting (of its stage).
    pub best: bool,
    /// The stage (with `[calibration]` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
}

/// Everything a run computes (no timings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InverseResults {
    /// Experiment name.
    pub name: String,
    /// The phantom.
    pub phantom: String,
    /// Image side.
    pub size: usize,
    /// The settings, views-major.
    pub settings: Vec<Setting>,
    /// The method labels, in file order.
    pub methods: Vec<String>,
    /// Every reconstruction: setting-major, then method, then λ.
    pub rows: Vec<InverseRow>,
    /// With `[learned]`: what MAID did per setting and learned method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<super::learned::LearnedTrace>,
}

impl InverseResults {
    /// The best row (highest PSNR against the test phantom: the oracle rule) of `method` in
    /// setting (`views`, `noise`).
    pub fn best(&self, method: &str, views: usize, noise: f64) -> Option<&InverseRow> {
        self.find(method, views, noise, Stage::Oracle)
    }

    /// The row of `method` in setting (`views`, `noise`) at the λ chosen on the calibration
    /// problem (none without `[calibration]`).
    pub fn calibrated(&self, method: &str, views: usize, noise: f64) -> Option<&InverseRow> {
        self.find(method, views, noise, Stage::Calibrated)
    }

    /// The row of `method` in setting (`views`, `noise`) at the λ learned by MAID (none without
    /// `[learned]` or for a method not learned).
    pub fn learned(&self, method: &str, views: usize, noise: f64) -> Option<&InverseRow> {
        self.find(method, views, noise, Stage::Learned)
    }

    /// The best row of `stage` (a row without a stage is an oracle row).
    fn find(&self, method: &str, views: usize, noise: f64, stage: Stage) -> Option<&InverseRow> {
        self.rows.iter().find(|r| r.best && r.stage.unwrap_or(Stage::Oracle) == stage && r.method == method && r.views == views && r.noise == noise)
    }

    /// Whether the run has the calibrated rule.
    pub fn has_calibration(&self) -> bool {
        self.rows.iter().any(|r| matches!(r.stage, Some(Stage::Calibration | Stage::Calibrated)))
    }

    /// Whether the run has rows of any stage but the oracle (the CSV's `stage` column).
    pub fn has_stages(&self) -> bool {
        self.rows.iter().any(|r| r.stage.is_some())
    }
}

/// A run's results with the images (for the files; not in `results.json`).
#[derive(Debug, Clone)]
pub struct InverseRun {
    /// The results.
    pub results: InverseResults,
    /// The phantom.
    pub truth: Image,
    /// Per setting: the noisy sinogram (views × detector bins) and the best reconstruction of
    /// each method (method order).
    pub images: Vec<(Image, Vec<Image>)>,
    /// With `[calibration]`: the calibration phantom and, per setting, each method's
    /// reconstruction of the test problem at its calibrated λ (method order).
    pub calibrated: Option<(Image, Vec<Vec<Image>>)>,
}

impl Serialize for InverseRun {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.results.serialize(s)
    }
}

/// The phantom of the experiment.
pub fn phantom(exp: &InverseExperiment) -> Result<Image, String> {
    named_phantom(&exp.problem.phantom, exp.problem.size)
}

/// The phantom `name` (one of `config::PHANTOMS`), `n × n`.
pub fn named_phantom(name: &str, n: usize) -> Result<Image, String> {
    match name {
        "piecewise-constant" => piecewise_constant(n, n),
        _ => shepp_logan(n, n),
    }
    .map_err(|e| e.to_string())
}

/// The number of reconstructions of a run (with `[calibration]`: the calibration sweep, and one
/// calibrated solve per method with an estimate and setting — an upper bound, as a calibrated
/// solve that repeats an oracle one is not redone).
pub fn job_count(exp: &InverseExperiment) -> usize {
    let per_setting: usize = exp.method.iter().map(|m| m.lambdas().len().max(1)).sum();
    let settings = exp.problem.views.len() * exp.problem.noise.len();
    let learned = exp.learned.as_ref().map_or(0, |l| l.methods.len());
    match exp.calibration {
        None => (per_setting + learned) * settings,
        Some(_) => (2 * per_setting + exp.method.iter().filter(|m| m.estimate.is_some()).count() + learned) * settings,
    }
}

struct Problem {
    setting: Setting,
    /// The phantom: 0 the test one, 1 the calibration one.
    truth: usize,
    radon: Radon,
    y: Vec<f64>,
    /// Chambolle–Pock's steps for `[A; ∇]`, shared by the TV methods of this setting (estimated
    /// on first use).
    tv_steps: OnceLock<BalancedSteps>,
}

/// The problem of setting (`views[vi]`, `noise[k]`) of phantom `truth` (index `t`), noise from
/// `seed`.
fn problem_at(exp: &InverseExperiment, truth: &Image, t: usize, seed: u64, vi: usize, k: usize) -> Result<Problem, String> {
    let n = exp.problem.size;
    let (views, noise) = (exp.problem.views[vi], exp.problem.noise[k]);
    let radon = Radon::new(n, n, Radon::equispaced_angles(views)).map_err(|e| e.to_string())?;
    let seed = setting_seed(seed, views, k);
    let (y, sigma) = measure(&radon, truth, noise, seed)?;
    let setting = Setting { views, noise, sigma, seed, measurements: y.len(), calibration_sigma: None, calibration_seed: None };
    Ok(Problem { setting, truth: t, radon, y, tv_steps: OnceLock::new() })
}

/// The noisy sinogram of `truth` under `radon` and its noise level: `y = A x + σ z`,
/// `σ = noise ·` the root-mean-square of `A x`, `z` from `seed`. Returns `(y, σ)`.
pub(super) fn measure(radon: &Radon, truth: &Image, noise: f64, seed: u64) -> Result<(Vec<f64>, f64), String> {
    let clean = radon.forward(&truth.data).map_err(|e| e.to_string())?;
    let rms = (clean.iter().map(|v| v * v).sum::<f64>() / clean.len() as f64).sqrt();
    let sigma = noise * rms;
    let sino = Image::new(radon.angles().len(), radon.n_det(), clean).map_err(|e| e.to_string())?;
    Ok((add_gaussian_noise(&sino, sigma, seed).map_err(|e| e.to_string())?.data, sigma))
}

/// The settings' (views index, noise index), views-major: cell `c` of the experiment is setting
/// `settings(exp)[c]`.
pub fn settings(exp: &InverseExperiment) -> Vec<(usize, usize)> {
    (0..exp.problem.views.len()).flat_map(|vi| (0..exp.problem.noise.len()).map(move |k| (vi, k))).collect()
}

/// The phantoms: the test one, and with `[calibration]` the calibration one.
fn truths(exp: &InverseExperiment) -> Result<Vec<Image>, String> {
    let mut t = vec![phantom(exp)?];
    if let Some(c) = &exp.calibration {
        t.push(named_phantom(&c.phantom, exp.problem.size)?);
    }
    Ok(t)
}

/// One method's reconstruction at one λ.
struct Solved {
    image: Image,
    iterations: usize,
    converged: bool,
    objective: Option<f64>,
}

fn from_solver(r: SolverResult) -> Solved {
    Solved { iterations: r.iterations, converged: r.converged, objective: Some(r.objective), image: r.image }
}

/// What a method needs in a setting whatever λ is: the TV weights or the graph built from the
/// estimate, and Chambolle–Pock's steps (they depend only on the operators), made once per
/// setting and shared by every λ.
enum Prepared {
    /// FBP and Tikhonov: nothing.
    Nothing,
    /// TV (no weights), weighted and space-variant TV.
    Tv { steps: BalancedSteps, weights: Option<WeightedTv> },
    /// graphLa: the graph, and the steps of its ℓ1 solver.
    Graph { lap: GraphLaplacian, steps: Option<BalancedSteps> },
}

fn prepare(exp: &InverseExperiment, m: &MethodConfig, p: &Problem, estimate: Option<&Image>) -> Result<Prepared, String> {
    let n = exp.problem.size;
    let e = |e: reglab_inverse::Error| e.to_string();
    let estimate = || estimate.ok_or_else(|| format!("{}: no estimate", m.label()));
    let tv_steps = || -> Result<BalancedSteps, String> {
        if let Some(s) = p.tv_steps.get() {
            return Ok(*s);
        }
        let s = BalancedSteps::tv(&p.radon, n, n).map_err(e)?;
        Ok(*p.tv_steps.get_or_init(|| s))
    };
    let eta = m.eta.unwrap_or(super::config::DEFAULT_ETA);
    Ok(match m.name.as_str() {
        "tv" => Prepared::Tv { steps: tv_steps()?, weights: None },
        "weighted-tv" => Prepared::Tv { steps: tv_steps()?, weights: Some(WeightedTv::from_estimate(estimate()?, eta).map_err(e)?) },
        "space-variant-tv" => {
            let w = WeightedTv::space_variant(estimate()?, eta, m.p.unwrap_or(super::config::DEFAULT_P)).map_err(e)?;
            Prepared::Tv { steps: tv_steps()?, weights: Some(w) }
        }
        "graph-la" => {
            let sigma = m.sigma.unwrap_or(super::config::DEFAULT_SIGMA);
            let lap = GraphLaplacian::from_estimate(estimate()?, sigma, m.radius.unwrap_or(super::config::DEFAULT_RADIUS)).map_err(e)?;
            let steps = if m.norm.as_deref() == Some("l2") { None } else { Some(BalancedSteps::new(&p.radon, &lap).map_err(e)?) };
            Prepared::Graph { lap, steps }
        }
        _ => Prepared::Nothing,
    })
}

fn solve(exp: &InverseExperiment, m: &MethodConfig, p: &Problem, lambda: Option<f64>, prep: &Prepared) -> Result<Solved, String> {
    let n = exp.problem.size;
    let e = |e: reglab_inverse::Error| e.to_string();
    let opts = SolverOptions {
        max_iter: exp.solve.max_iter.unwrap_or(super::config::DEFAULT_MAX_ITER),
        tol: exp.solve.tol.unwrap_or(super::config::DEFAULT_TOL),
        history_every: usize::MAX,
        lipschitz: None,
    };
    let x0 = Image::zeros(n, n).map_err(e)?;
    let lambda = lambda.unwrap_or(0.0);
    Ok(match (m.name.as_str(), prep) {
        ("fbp", _) => {
            let filter = Filter::parse(m.filter.as_deref().unwrap_or("ram-lak")).map_err(e)?;
            let image = fbp(&p.radon, &p.y, n, n, filter).map_err(e)?;
            Solved { image, iterations: 0, converged: true, objective: None }
        }
        ("tikhonov", _) => {
            let r = if m.penalty.as_deref() == Some("identity") {
                tikhonov_cg(&p.radon, &p.y, lambda, &Identity { n: n * n }, &x0, &opts)
            } else {
                tikhonov_cg(&p.radon, &p.y, lambda, &Gradient::new(n, n).map_err(e)?, &x0, &opts)
            };
            from_solver(r.map_err(e)?)
        }
        (_, Prepared::Tv { steps, weights }) => {
            from_solver(chambolle_pock_with_steps(&p.radon, &p.y, lambda, weights.as_ref(), &x0, &opts, steps).map_err(e)?)
        }
        (_, Prepared::Graph { lap, steps: Some(steps) }) => {
            from_solver(graph_laplacian_l1_with_steps(&p.radon, &p.y, lambda, lap, &x0, &opts, steps).map_err(e)?)
        }
        (_, Prepared::Graph { lap, steps: None }) => from_solver(tikhonov_cg(&p.radon, &p.y, lambda, lap, &x0, &opts).map_err(e)?),
        (name, Prepared::Nothing) => return Err(format!("method `{name}`: nothing prepared")),
    })
}

fn rel_error(x: &Image, truth: &Image) -> f64 {
    let d: f64 = x.data.iter().zip(&truth.data).map(|(a, b)| (a - b) * (a - b)).sum();
    let t: f64 = truth.data.iter().map(|b| b * b).sum();
    (d / t).sqrt()
}

/// One setting's reconstructions (one cell): its rows and the images the files show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingRun {
    /// The setting.
    pub setting: Setting,
    /// Its rows on the test problem (oracle stage), method then λ.
    pub oracle: Vec<InverseRow>,
    /// With `[calibration]`: its rows on the calibration problem, method then λ.
    pub calibration: Vec<InverseRow>,
    /// With `[calibration]`: its calibrated rows, one per method.
    pub calibrated: Vec<InverseRow>,
    /// With `[learned]`: its learned-λ rows, one per learned method.
    #[serde(default)]
    pub learned: Vec<InverseRow>,
    /// With `[learned]`: what MAID did, one per learned method.
    #[serde(default)]
    pub learned_traces: Vec<super::learned::LearnedTrace>,
    /// The noisy sinogram (views × detector bins).
    #[serde(with = "image_serde")]
    pub sinogram: Image,
    /// Each method's best reconstruction of the test problem (method order).
    #[serde(with = "image_serde::list")]
    pub best: Vec<Image>,
    /// With `[calibration]`: each method's reconstruction of the test problem at its
    /// calibrated λ (method order).
    #[serde(with = "image_serde::list")]
    pub calibrated_images: Vec<Image>,
}

/// Solve every (method, λ) of setting `cell` (see [`settings`]), in parallel on the current
/// rayon pool, calling `progress` after each solve. Methods run in file order (a method's
/// estimate is an earlier method's best image); within a method, every (problem, λ) is
/// independent, so the results do not depend on the threads.
///
/// With `[calibration]`, the setting also has a calibration problem (its own phantom and
/// noise), swept the same way in the same pass; a method's calibrated λ is the best on the
/// calibration problem — chosen from the calibration rows alone, never from the test phantom —
/// and its calibrated reconstruction of the test problem is the one at that λ with the estimate
/// also from the calibrated chain (the estimate method's reconstruction at its calibrated λ). It
/// is solved anew only where that chain differs from the oracle one; otherwise it is the oracle
/// sweep's reconstruction at that λ.
pub fn run_setting(exp: &InverseExperiment, cell: usize, progress: &(dyn Fn() + Sync)) -> Result<SettingRun, String> {
    exp.validate()?;
    let truths = truths(exp)?;
    let &(vi, k) = settings(exp).get(cell).ok_or_else(|| format!("setting {cell} is not in the experiment"))?;
    let mut probs = vec![problem_at(exp, &truths[0], 0, exp.problem.seed, vi, k)?];
    if let Some(c) = &exp.calibration {
        let q = problem_at(exp, &truths[1], 1, c.seed, vi, k)?;
        (probs[0].setting.calibration_sigma, probs[0].setting.calibration_seed) = (Some(q.setting.sigma), Some(q.setting.seed));
        probs.push(q);
    }
    let calibrating = probs.len() > 1;
    let stage = |s: usize| match (calibrating, s == 0) {
        (false, _) => None,
        (true, true) => Some(Stage::Oracle),
        (true, false) => Some(Stage::Calibration),
    };
    // rows[s][method] = that method's rows on problem s; best[s][method] = its best image.
    let mut rows: Vec<Vec<Vec<InverseRow>>> = vec![Vec::new(); probs.len()];
    let mut best: Vec<Vec<Image>> = vec![Vec::new(); probs.len()];
    // The calibrated chain on the test problem: per method, the row and image at the
    // calibrated λ, and whether the image equals the oracle's best (then a method built on it
    // needs no solve of its own).
    let mut cal_rows: Vec<InverseRow> = Vec::new();
    let mut cal_images: Vec<Image> = Vec::new();
    let mut cal_is_oracle: Vec<bool> = Vec::new();
    let row_of = |m: &MethodConfig, p: &Problem, l: Option<f64>, r: &Solved, stage: Option<Stage>| -> Result<InverseRow, String> {
        let (setting, truth) = (&p.setting, &truths[p.truth]);
        Ok(InverseRow {
            views: setting.views,
            noise: setting.noise,
            method: m.label().to_string(),
            lambda: l,
            psnr: psnr(&r.image, truth, 1.0).map_err(|e| format!("{} ({}): {e}", m.label(), setting.title()))?,
            ssim: ssim(&r.image, truth, 1.0).map_err(|e| format!("{} ({}): {e}", m.label(), setting.title()))?,
            rel_error: rel_error(&r.image, truth),
            iterations: r.iterations,
            converged: r.converged,
            objective: r.objective,
            best: false,
            stage,
        })
    };
    for (mi, m) in exp.method.iter().enumerate() {
        let est_index = m.estimate.as_deref().map(|e| exp.method.iter().position(|o| o.label() == e).expect("validated: an earlier label"));
        let lambdas: Vec<Option<f64>> = if m.name == "fbp" { vec![None] } else { m.lambdas().iter().map(|&l| Some(l)).collect() };
        let jobs: Vec<(usize, Option<f64>)> = (0..probs.len()).flat_map(|s| lambdas.iter().map(move |&l| (s, l))).collect();
        let prepared = (0..probs.len())
            .into_par_iter()
            .map(|s| {
                prepare(exp, m, &probs[s], est_index.map(|k| &best[s][k])).map_err(|e| format!("{} ({}): {e}", m.label(), probs[s].setting.title()))
            })
            .collect::<Result<Vec<Prepared>, String>>()?;
        let solved: Vec<Solved> = jobs
            .par_iter()
            .map(|&(s, l)| {
                let r = solve(exp, m, &probs[s], l, &prepared[s]).map_err(|e| {
                    let lam = l.map_or(String::new(), |l| format!(", λ = {l}"));
                    format!("{} ({}{lam}): {e}", m.label(), probs[s].setting.title())
                });
                progress();
                r
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut per_problem: Vec<Vec<(InverseRow, Image)>> = (0..probs.len()).map(|_| Vec::new()).collect();
        for ((s, l), r) in jobs.into_iter().zip(solved) {
            let row = row_of(m, &probs[s], l, &r, stage(s))?;
            per_problem[s].push((row, r.image));
        }
        // The first λ with the highest PSNR, per problem.
        let best_index: Vec<usize> =
            per_problem.iter().map(|list| (0..list.len()).fold(0, |b, i| if list[i].0.psnr > list[b].0.psnr { i } else { b })).collect();
        // The calibrated chain: λ from the calibration problem's rows only.
        if calibrating {
            let c = best_index[1];
            let chain_same = est_index.is_none_or(|k| cal_is_oracle[k]);
            if chain_same {
                let (row, image) = &per_problem[0][c];
                cal_rows.push(InverseRow { best: true, stage: Some(Stage::Calibrated), ..row.clone() });
                cal_images.push(image.clone());
                cal_is_oracle.push(c == best_index[0]);
                if est_index.is_some() {
                    progress();
                }
            } else {
                let (p, l, k) = (&probs[0], lambdas[c], est_index.expect("a chain differs only through an estimate"));
                let ctx = |e: String| format!("{} ({}, calibrated λ): {e}", m.label(), p.setting.title());
                let prep = prepare(exp, m, p, Some(&cal_images[k])).map_err(ctx)?;
                let r = solve(exp, m, p, l, &prep).map_err(ctx)?;
                cal_rows.push(InverseRow { best: true, ..row_of(m, p, l, &r, Some(Stage::Calibrated))? });
                cal_images.push(r.image);
                cal_is_oracle.push(false);
                progress();
            }
        }
        for (s, (mut list, b)) in per_problem.into_iter().zip(best_index).enumerate() {
            list[b].0.best = true;
            best[s].push(list[b].1.clone());
            rows[s].push(list.into_iter().map(|(r, _)| r).collect());
        }
        debug_assert!(best.iter().all(|b| b.len() == mi + 1));
        debug_assert!(!calibrating || cal_rows.len() == mi + 1);
    }
    // The learned chain: λ from MAID on the training phantoms, applied to the test problem.
    let (mut learned_rows, mut traces) = (Vec::new(), Vec::new());
    if let Some(l) = &exp.learned {
        let p = &probs[0];
        let pairs = super::learned::training_pairs(exp, l, &p.radon, p.setting.views, k)?;
        for label in &l.methods {
            let m = exp.method.iter().find(|m| m.label() == label).expect("validated: a tv label");
            let ctx = |e: String| format!("{} ({}, learned λ): {e}", m.label(), p.setting.title());
            let trace = super::learned::learn(exp, l, &p.radon, pairs.clone(), p.setting.views, k, m.label()).map_err(ctx)?;
            let prep = prepare(exp, m, p, None).map_err(ctx)?;
            let r = solve(exp, m, p, Some(trace.lambda), &prep).map_err(ctx)?;
            learned_rows.push(InverseRow { best: true, ..row_of(m, p, Some(trace.lambda), &r, Some(Stage::Learned))? });
            traces.push(trace);
            progress();
        }
    }
    let mut rows = rows.into_iter();
    let oracle = rows.next().expect("the test problem").into_iter().flatten().collect();
    let calibration = rows.next().map(|r| r.into_iter().flatten().collect()).unwrap_or_default();
    let test = probs.swap_remove(0);
    Ok(SettingRun {
        sinogram: Image::new(test.setting.views, test.radon.n_det(), test.y).expect("shape"),
        setting: test.setting,
        oracle,
        calibration,
        calibrated: cal_rows,
        learned: learned_rows,
        learned_traces: traces,
        best: best.swap_remove(0),
        calibrated_images: cal_images,
    })
}

/// Solve every (setting, method, λ) on `threads` threads, calling `progress` after each (see
/// [`run_setting`]; the settings are independent, so the results do not depend on `threads`).
pub fn sweep(exp: &InverseExperiment, threads: usize, progress: &(dyn Fn() + Sync)) -> Result<InverseRun, String> {
    exp.validate()?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| e.to_string())?;
    let cells: Vec<SettingRun> =
        pool.install(|| (0..settings(exp).len()).into_par_iter().map(|c| run_setting(exp, c, progress)).collect::<Result<Vec<_>, String>>())?;
    aggregate(exp, cells)
}

/// The run from every setting's cell (in [`settings`] order). Rows: the oracle sweep (as
/// without `[calibration]`), then the calibration sweep, then the calibrated rows, each
/// setting-major, then method, then λ.
pub fn aggregate(exp: &InverseExperiment, cells: Vec<SettingRun>) -> Result<InverseRun, String> {
    exp.validate()?;
    if cells.len() != settings(exp).len() {
        return Err(format!("{} settings' results for {} settings", cells.len(), settings(exp).len()));
    }
    let mut truths = truths(exp)?;
    let mut all_rows: Vec<InverseRow> = cells.iter().flat_map(|c| c.oracle.iter().cloned()).collect();
    all_rows.extend(cells.iter().flat_map(|c| c.calibration.iter().cloned()));
    all_rows.extend(cells.iter().flat_map(|c| c.calibrated.iter().cloned()));
    all_rows.extend(cells.iter().flat_map(|c| c.learned.iter().cloned()));
    let learned = cells.iter().flat_map(|c| c.learned_traces.iter().cloned()).collect();
    let settings: Vec<Setting> = cells.iter().map(|c| c.setting.clone()).collect();
    let calibrated: Vec<Vec<Image>> = cells.iter().map(|c| c.calibrated_images.clone()).collect();
    let images = cells.into_iter().map(|c| (c.sinogram, c.best)).collect();
    let truth = truths.swap_remove(0);
    Ok(InverseRun {
        results: InverseResults {
            name: exp.name.clone(),
            phantom: exp.problem.phantom.clone(),
            size: exp.problem.size,
            settings,
            methods: exp.method.iter().map(|m| m.label().to_string()).collect(),
            rows: all_rows,
            learned,
        },
        truth,
        images,
        calibrated: truths.pop().map(|t| (t, calibrated)),
    })
}

/// Images in a cell: shape and pixels.
mod image_serde {
    use reglab_inverse::Image;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Plain {
        rows: usize,
        cols: usize,
        data: Vec<f64>,
    }

    fn plain(i: &Image) -> Plain {
        Plain { rows: i.rows, cols: i.cols, data: i.data.clone() }
    }

    fn image<E: serde::de::Error>(p: Plain) -> Result<Image, E> {
        Image::new(p.rows, p.cols, p.data).map_err(E::custom)
    }

    pub fn serialize<S: Serializer>(i: &Image, s: S) -> Result<S::Ok, S::Error> {
        plain(i).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Image, D::Error> {
        image(Plain::deserialize(d)?)
    }

    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[Image], s: S) -> Result<S::Ok, S::Error> {
            v.iter().map(plain).collect::<Vec<_>>().serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Image>, D::Error> {
            Vec::<Plain>::deserialize(d)?.into_iter().map(image).collect()
        }
    }
}

fn opt_num(v: Option<impl std::fmt::Display>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// `results.csv`: one line per reconstruction, numbers in Rust's shortest round-trip form.
/// With `[calibration]` or `[learned]`, a last column `stage` (`oracle`, `calibration`,
/// `calibrated`, `learned`).
pub fn to_csv(res: &InverseResults) -> String {
    let staged = res.has_stages();
    let mut s = String::from("views,noise,method,lambda,psnr,ssim,rel_error,iterations,converged,objective,best");
    s.push_str(if staged { ",stage\n" } else { "\n" });
    for r in &res.rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}{}\n",
            r.views,
            r.noise,
            r.method,
            opt_num(r.lambda),
            r.psnr,
            r.ssim,
            r.rel_error,
            r.iterations,
            r.converged,
            opt_num(r.objective),
            r.best,
            if staged { format!(",{}", r.stage.unwrap_or(Stage::Oracle).as_str()) } else { String::new() }
        ));
    }
    s
}

/// A file-name form of a label: lower case, runs of other characters as one `-`.
pub fn file_stem(label: &str) -> String {
    let mut s = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// Write `results.json`, `results.csv`, the plots, the images and `report.html` of `run` into
/// `out`.
pub fn write_outputs(exp: &InverseExperiment, run: &InverseRun, out: &Path) -> Result<(), RunError> {
    crate::rundir::write_results(out, &run.results, &to_csv(&run.results), || write_images_plots_and_report(exp, run, out))
}

/// Gap between the montage's panels, in pixels.
const GAP: usize = 4;

/// The panels side by side on a white background, `GAP` pixels apart.
fn montage(panels: &[&Image]) -> Image {
    let rows = panels.iter().map(|p| p.rows).max().unwrap_or(1);
    let cols = panels.iter().map(|p| p.cols).sum::<usize>() + GAP * panels.len().saturating_sub(1);
    let mut m = Image::new(rows, cols, vec![1.0; rows * cols]).expect("shape");
    let mut c0 = 0;
    for p in panels {
        for i in 0..p.rows {
            for j in 0..p.cols {
                m.data[i * cols + c0 + j] = p.data[i * p.cols + j].clamp(0.0, 1.0);
            }
        }
        c0 += p.cols + GAP;
    }
    m
}

/// The sinogram scaled to `[0, 1]` by its range.
fn normalized(sino: &Image) -> Image {
    let (lo, hi) = sino.data.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    Image::new(sino.rows, sino.cols, sino.data.iter().map(|v| (v - lo) / span).collect()).expect("shape")
}

/// Each method's label with its PSNR from the row `pick` gives it (the label alone without one).
fn labelled<'r>(methods: &[String], pick: impl Fn(&str) -> Option<&'r InverseRow>) -> Vec<String> {
    methods
        .iter()
        .map(|m| match pick(m) {
            Some(r) => format!("{m} ({} dB)", format_number(r.psnr)),
            None => m.clone(),
        })
        .collect()
}

fn write_images_plots_and_report(exp: &InverseExperiment, run: &InverseRun, out: &Path) -> Result<(), String> {
    let res = &run.results;
    if !res.learned.is_empty() {
        crate::rundir::write_text(&out.join("learned.csv"), &super::learned::to_csv(&res.learned)).map_err(|e| e.to_string())?;
    }
    let png = |path: &Path, img: &Image| write_png(path, img, PngBits::Sixteen).map_err(|e| e.to_string());
    let mut figures = Vec::new();
    // Best PSNR against the number of views, one plot per noise level.
    // With `[calibration]`, the same at the calibrated λ.
    type Pick = for<'a> fn(&'a InverseResults, &str, usize, f64) -> Option<&'a InverseRow>;
    let mut rules: Vec<(&str, &str, String, Pick)> =
        vec![("best-psnr", "Best PSNR", "λ: the best PSNR of each method's grid".into(), InverseResults::best)];
    if let Some(c) = &exp.calibration {
        let note = format!("λ: the best PSNR on the calibration problem ({} phantom, seed {})", c.phantom, c.seed);
        rules.push(("calibrated-psnr", "PSNR at the calibrated λ", note, InverseResults::calibrated));
    }
    for &noise in &exp.problem.noise {
        for (prefix, what, rule_note, pick) in &rules {
            let notes = vec![format!("{} phantom, {0}×{0}", res.size), rule_note.clone()];
            let curves: Vec<PathCurve> = res
                .methods
                .iter()
                .map(|m| PathCurve {
                    label: m.clone(),
                    points: exp.problem.views.iter().filter_map(|&v| pick(res, m, v, noise).map(|r| (v as f64, r.psnr))).collect(),
                    reference: m == &res.methods[0] && exp.method[0].name == "fbp",
                })
                .collect();
            let stem = format!("{prefix}-{}pct", format_number(100.0 * noise).replace('.', "p"));
            let title = format!("{what} against the number of views, {} % noise", format_number(100.0 * noise));
            let (lo, hi) =
                curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            let span = (hi - lo).max(1e-9);
            let opts = PathPlot {
                title: &title,
                y_label: "PSNR (dB)",
                notes: &notes,
                y_max: Some(hi + 0.1 * span),
                y_min: Some(lo - 0.1 * span),
                x_label: Some("views (log scale)"),
                lambda_max: None,
                linear_x: false,
            };
            let plots = out.join("plots");
            plot_path(&curves, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title });
        }
    }
    if let Some((cal_truth, _)) = &run.calibrated {
        let dir = out.join("images");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        png(&dir.join("calibration-truth.png"), cal_truth)?;
    }
    for (s, setting) in res.settings.iter().enumerate() {
        let (sino, best) = &run.images[s];
        let dir = out.join("images").join(setting.stem());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        png(&dir.join("truth.png"), &run.truth)?;
        png(&dir.join("sinogram.png"), &normalized(sino))?;
        for (label, img) in res.methods.iter().zip(best) {
            png(&dir.join(format!("{}.png", file_stem(label))), &clamped(img))?;
        }
        let mut panels: Vec<&Image> = vec![&run.truth];
        panels.extend(best.iter());
        png(&dir.join("montage.png"), &montage(&panels))?;
        if let Some((_, cal)) = &run.calibrated {
            let mut panels: Vec<&Image> = vec![&run.truth];
            panels.extend(cal[s].iter());
            png(&dir.join("montage-calibrated.png"), &montage(&panels))?;
        }
        let order = labelled(&res.methods, |m| res.best(m, setting.views, setting.noise));
        figures.push(Figure {
            png: format!("images/{}/sinogram.png", setting.stem()),
            svg: None,
            caption: format!(
                "{}: the data, the noisy sinogram ({} views × {} detector bins, one row per view), scaled to its range",
                setting.title(),
                sino.rows,
                sino.cols
            ),
        });
        figures.push(Figure {
            png: format!("images/{}/montage.png", setting.stem()),
            svg: None,
            caption: format!(
                "{}: left to right, the phantom, then {} (each at its best λ; shown clipped to [0, 1])",
                setting.title(),
                order.join(", ")
            ),
        });
        if run.calibrated.is_some() {
            let order = labelled(&res.methods, |m| res.calibrated(m, setting.views, setting.noise));
            figures.push(Figure {
                png: format!("images/{}/montage-calibrated.png", setting.stem()),
                svg: None,
                caption: format!("{}: the phantom, then {} (each at its calibrated λ; clipped to [0, 1])", setting.title(), order.join(", ")),
            });
        }
        // PSNR against λ.
        let curves: Vec<PathCurve> = exp
            .method
            .iter()
            .map(|m| {
                let pts: Vec<(f64, f64)> = res
                    .rows
                    .iter()
                    .filter(|r| r.method == m.label() && r.views == setting.views && r.noise == setting.noise)
                    .filter_map(|r| r.lambda.map(|l| (l, r.psnr)))
                    .collect();
                (m, pts)
            })
            .filter(|(_, p)| !p.is_empty())
            .map(|(m, points)| PathCurve { label: m.label().to_string(), points, reference: false })
            .collect();
        if !curves.is_empty() {
            let mut notes = vec![format!("σ = {} (noise · rms of the clean sinogram)", format_number(setting.sigma))];
            if let Some(f) = exp.method.iter().find(|m| m.name == "fbp").and_then(|m| res.best(m.label(), setting.views, setting.noise)) {
                notes.push(format!("{}: {} dB", f.method, format_number(f.psnr)));
            }
            let title = format!("PSNR against λ, {}", setting.title());
            let (lo, hi) =
                curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            let span = (hi - lo).max(1e-9);
            let opts = PathPlot {
                title: &title,
                y_label: "PSNR (dB)",
                notes: &notes,
                y_max: Some(hi + 0.1 * span),
                y_min: Some(lo - 0.1 * span),
                ..Default::default()
            };
            let stem = format!("psnr-{}", setting.stem());
            let plots = out.join("plots");
            plot_path(&curves, &opts, &plots.join(format!("{stem}.png")), &plots.join(format!("{stem}.svg")))?;
            figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title });
        }
    }
    let columns: Vec<String> = res.settings.iter().map(|s| s.title()).collect();
    let mut rows: Vec<SummaryRow> = rules
        .iter()
        .enumerate()
        .flat_map(|(k, rule)| res.methods.iter().map(move |m| (k, rule.3, m)))
        .map(|(k, pick, m)| SummaryRow {
            arm: if k == 0 { m.clone() } else { format!("{m} (calibrated λ)") },
            cells: res
                .settings
                .iter()
                .map(|s| match pick(res, m, s.views, s.noise) {
                    Some(r) => Cell::Text(format!(
                        "{} dB · SSIM {} · {}",
                        format_number(r.psnr),
                        format_number(r.ssim),
                        r.lambda.map_or("no λ".into(), |l| format!("λ = {}", format_number(l)))
                    )),
                    None => Cell::Missing,
                })
                .collect(),
        })
        .collect();
    // Rows "(learned λ)": each learned method's test reconstruction at the λ MAID learned.
    let mut learned_methods: Vec<&str> = res.learned.iter().map(|t| t.method.as_str()).collect();
    learned_methods.dedup();
    for m in learned_methods {
        let cells = res
            .settings
            .iter()
            .map(|s| {
                let trace = res.learned.iter().find(|t| t.method == m && t.views == s.views && t.noise == s.noise);
                match (res.learned(m, s.views, s.noise), trace) {
                    (Some(r), Some(t)) => Cell::Text(format!(
                        "{} dB · SSIM {} · λ = {} · {} operator pairs",
                        format_number(r.psnr),
                        format_number(r.ssim),
                        format_number(t.lambda),
                        t.operator_pairs
                    )),
                    _ => Cell::Missing,
                }
            })
            .collect();
        rows.push(SummaryRow { arm: format!("{m} (learned λ)"), cells });
    }
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!("Few-view CT of the {} phantom ({}×{}) by {}.", res.phantom, res.size, res.size, res.methods.join(", "))
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: "Each cell: the best PSNR over the method's λ grid, the SSIM of that reconstruction and its λ. PSNR and SSIM \
                     (Gaussian window σ = 1.5, as scikit-image) against the phantom with data range 1, on the unclipped reconstruction. \
                     Every (λ, PSNR, SSIM) is in results.csv."
            .to_string()
            + if run.calibrated.is_some() {
                " Rows \"(calibrated λ)\": the λ with the best PSNR on the calibration problem (an independent phantom and noise \
                 draw, same geometry; estimates from the calibration problem), applied to the test problem with estimates from the \
                 calibrated chain; the test phantom plays no part in that choice."
            } else {
                ""
            }
            + if res.learned.is_empty() {
                ""
            } else {
                " Rows \"(learned λ)\": λ learned by MAID (bilevel learning with inexact hypergradients, catalog #14) from \
                 random ellipse phantoms measured like the test problem, minimizing their mean squared error (learned.csv: the \
                 λ trajectories), applied to the test problem; operator pairs: applications of A and Aᵀ that MAID took (one \
                 Chambolle–Pock iteration of the grid applies each once)."
            },
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}

/// A copy clipped to `[0, 1]` (what an 8- or 16-bit PNG holds).
fn clamped(img: &Image) -> Image {
    Image::new(img.rows, img.cols, img.data.iter().map(|v| v.clamp(0.0, 1.0)).collect()).expect("shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32 × 32, 8 views, two noise levels; FBP, TV, weighted TV on TV and graphLa on FBP, short
    /// solves, and a calibration problem on the piecewise-constant phantom.
    const EXP: &str = r#"
kind = "inverse"
name = "t"

[problem]
size = 32
views = [8]
noise = [0.01, 0.05]

[solve]
max_iter = 40

[[method]]
name = "fbp"
label = "FBP"

[[method]]
name = "tv"
label = "TV"
lambdas = [0.03, 0.1, 0.3, 1.0]

[[method]]
name = "weighted-tv"
label = "wTV"
estimate = "TV"
lambdas = [0.1, 1.0, 10.0]

[[method]]
name = "graph-la"
label = "graphLa+FBP"
estimate = "FBP"
lambdas = [1.0, 100.0]

[calibration]
phantom = "piecewise-constant"
seed = 3
"#;

    fn exp(overrides: &[&str]) -> InverseExperiment {
        InverseExperiment::parse(EXP, &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn rows(r: &InverseResults, stage: Stage) -> Vec<InverseRow> {
        r.rows.iter().filter(|x| x.stage == Some(stage)).cloned().collect()
    }

    #[test]
    fn inverse_learned_lambda_never_sees_the_test_truth() {
        // MAID on two training phantoms of 32×32, 8 views; the same under two test phantoms.
        let learned = "[learned]\nmethods = [\"TV\"]\nphantoms = 2\nseed = 7\nmax_iter = 4\nsmoothing = 0.05";
        let text = format!("{}\n{learned}\n", EXP.replace("noise = [0.01, 0.05]", "noise = [0.05]"));
        let run = |over: &[&str]| {
            let e = InverseExperiment::parse(&text, &over.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            sweep(&e, 2, &|| {}).unwrap().results
        };
        let (a, b) = (run(&[]), run(&["problem.phantom=\"piecewise-constant\""]));
        assert_eq!(a.learned, b.learned, "the learned λ depends only on the training phantoms");
        assert_eq!(a.learned.len(), 1);
        let t = &a.learned[0];
        assert!(t.trajectory.len() >= 2 && t.lambda != 0.1, "MAID moved λ: {t:?}");
        assert!(t.trajectory.windows(2).all(|w| w[1].loss < w[0].loss));
        let row = a.learned("TV", 8, 0.05).unwrap();
        assert_eq!(row.lambda, Some(t.lambda));
        assert!(a.learned("wTV", 8, 0.05).is_none());
        assert!(to_csv(&a).lines().any(|l| l.ends_with(",learned")));
        assert_eq!(super::super::learned::to_csv(&a.learned).lines().count(), 1 + t.trajectory.len());
    }

    #[test]
    fn inverse_calibrated_lambda_never_sees_the_test_truth() {
        // The same calibration problem under two different test phantoms (so a different test
        // truth and test data): the calibration sweep and every calibrated λ are the same.
        let a = sweep(&exp(&[]), 2, &|| {}).unwrap().results;
        let b = sweep(&exp(&["problem.phantom=\"piecewise-constant\""]), 2, &|| {}).unwrap().results;
        assert_ne!(rows(&a, Stage::Oracle), rows(&b, Stage::Oracle), "the test problems differ");
        assert_eq!(rows(&a, Stage::Calibration), rows(&b, Stage::Calibration));
        let lambdas =
            |r: &InverseResults| rows(r, Stage::Calibrated).iter().map(|x| (x.views, x.noise, x.method.clone(), x.lambda)).collect::<Vec<_>>();
        assert_eq!(lambdas(&a), lambdas(&b));
        // Each calibrated λ is the calibration problem's best.
        for c in rows(&a, Stage::Calibrated) {
            let cal = rows(&a, Stage::Calibration)
                .into_iter()
                .find(|x| x.best && x.method == c.method && x.views == c.views && x.noise == c.noise)
                .unwrap();
            assert_eq!(c.lambda, cal.lambda, "{}", c.method);
        }
        // Changing the test truth again, with the calibration seed changed, can move the λ: the
        // choice does depend on the calibration problem.
        let c = sweep(&exp(&["calibration.seed=4"]), 1, &|| {}).unwrap().results;
        assert_ne!(rows(&a, Stage::Calibration), rows(&c, Stage::Calibration));
        assert_eq!(rows(&a, Stage::Oracle), rows(&c, Stage::Oracle), "the calibration does not touch the oracle sweep");
    }

    #[test]
    fn inverse_calibrated_run_end_to_end() {
        let e = exp(&[]);
        let one = sweep(&e, 1, &|| {}).unwrap();
        let two = sweep(&e, 2, &|| {}).unwrap();
        let csv = to_csv(&one.results);
        assert_eq!(csv, to_csv(&two.results), "byte-identical across threads");
        assert_eq!(serde_json::to_string(&one.results).unwrap(), serde_json::to_string(&two.results).unwrap());
        // The oracle rows are those of the run without `[calibration]`, plus the stage column.
        let mut plain = e.clone();
        plain.calibration = None;
        let p = sweep(&plain, 2, &|| {}).unwrap();
        let plain_csv = to_csv(&p.results);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "views,noise,method,lambda,psnr,ssim,rel_error,iterations,converged,objective,best,stage");
        for (i, l) in plain_csv.lines().enumerate().skip(1) {
            assert_eq!(lines[i], format!("{l},oracle"));
        }
        assert!(!plain_csv.contains("stage") && !serde_json::to_string(&p.results).unwrap().contains("calibration"));
        let n_sweep = plain_csv.lines().count() - 1;
        let n_cal = lines.len() - 1 - 2 * n_sweep;
        assert_eq!(n_cal, e.method.len() * 2, "one calibrated row per method and setting");
        assert!(lines[1 + n_sweep..1 + 2 * n_sweep].iter().all(|l| l.ends_with(",calibration")));
        assert!(lines[1 + 2 * n_sweep..].iter().all(|l| l.ends_with(",true,calibrated")));
        let res = &one.results;
        for s in &res.settings {
            assert!(s.calibration_sigma.is_some() && s.calibration_seed.is_some() && s.calibration_seed != Some(s.seed));
            for m in &res.methods {
                let c = res.calibrated(m, s.views, s.noise).unwrap();
                let o = res.best(m, s.views, s.noise).unwrap();
                assert!(c.psnr <= o.psnr, "{m}: the oracle is the best of the grid");
                if m == "TV" || m == "FBP" {
                    // No estimate: the calibrated row is the oracle sweep's row at that λ.
                    let same = res
                        .rows
                        .iter()
                        .find(|r| {
                            r.stage == Some(Stage::Oracle) && &r.method == m && r.views == s.views && r.noise == s.noise && r.lambda == c.lambda
                        })
                        .unwrap();
                    assert_eq!(InverseRow { best: true, stage: Some(Stage::Calibrated), ..same.clone() }, *c);
                }
            }
        }
        // Where TV's calibrated λ is not its oracle λ, weighted TV's weights come from a different
        // TV image: its calibrated row is a solve of its own, not an oracle row.
        let mut solved_anew = 0;
        for s in &res.settings {
            let (c, o) = (res.calibrated("TV", s.views, s.noise).unwrap(), res.best("TV", s.views, s.noise).unwrap());
            let w = res.calibrated("wTV", s.views, s.noise).unwrap();
            let copy = res.rows.iter().any(|r| {
                r.stage == Some(Stage::Oracle)
                    && r.method == "wTV"
                    && r.views == s.views
                    && r.noise == s.noise
                    && r.lambda == w.lambda
                    && r.psnr == w.psnr
            });
            assert_eq!(copy, c.lambda == o.lambda, "{}", s.title());
            solved_anew += usize::from(!copy);
        }
        assert!(solved_anew > 0, "the test covers a calibrated chain that differs from the oracle's");
        assert_eq!(job_count(&e), (2 * (1 + 4 + 3 + 2) + 2) * 2);
        // The files.
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::rundir::SweepOptions { out: dir.path().join("r"), threads: 2 };
        crate::inverse::run(&e, &opts).unwrap();
        for f in
            ["results.csv", "images/calibration-truth.png", "images/8v-1pct/montage-calibrated.png", "plots/calibrated-psnr-5pct.png", "report.html"]
        {
            assert!(opts.out.join(f).is_file(), "{f}");
        }
        assert_eq!(std::fs::read_to_string(opts.out.join("results.csv")).unwrap(), csv);
        assert!(std::fs::read_to_string(opts.out.join("report.html")).unwrap().contains("(calibrated λ)"));
    }
}

//! `kind = "tune"` as an [`ExperimentKind`]: one cell per seed for the learned decay and one per
//! grid point × seed, so `--jobs` runs the grid in parallel (the results do not depend on it,
//! the wall times in `timing.json` and `compute_seconds.csv` do); no checkpoints, so no
//! `--resume` of a whole run.

use super::TuneExperiment;
use super::config::KIND;
use super::sweep::{CellResult, Parts, cell_keys, cell_label, load_parts};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared, RunContext};
use reglab_train::device::{DeviceKind, autodiff_device};
use std::fmt::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Learned per-layer weight decay (IFT hypergradients) against a grid of uniform weight decays.
pub struct TuneKind;

/// A parsed experiment and its data, loaded once for all cells.
pub struct TuneRun {
    /// The file.
    pub exp: TuneExperiment,
    data: OnceLock<Result<Arc<Parts>, String>>,
}

impl TuneRun {
    /// A run of `exp`.
    pub fn new(exp: TuneExperiment) -> Self {
        Self { exp, data: OnceLock::new() }
    }

    fn parts(&self) -> Result<Arc<Parts>, RunError> {
        self.data.get_or_init(|| load_parts(&self.exp).map(Arc::new)).clone().map_err(RunError::Input)
    }
}

impl ExperimentKind for TuneKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "per-layer weight decay or spectral strength (`penalty`) learned by IFT hypergradients (Lorraine, Vicol & Duvenaud, Optimizing Millions of Hyperparameters by Implicit Differentiation) against a grid of uniform strengths (validation and test accuracy, compute)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(TuneRun::new(TuneExperiment::parse(text, overrides)?)))
    }
}

impl Prepared for TuneRun {
    fn name(&self) -> &str {
        &self.exp.name
    }
    fn work(&self) -> (u64, &'static str) {
        ((cell_keys(&self.exp).len() as u64).saturating_mul(self.exp.train.steps as u64), "steps")
    }
    fn config_toml(&self) -> String {
        self.exp.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.exp.validate()?;
        Ok(cells::sweep_specs(&self.exp.to_toml(), cell_keys(&self.exp).iter().map(|k| cell_label(&self.exp, k)), self.exp.train.steps as u64))
    }
    fn check(&self, device: DeviceKind) -> Result<(), RunError> {
        let parts = self.parts()?;
        let dev = autodiff_device(device).map_err(RunError::Input)?;
        super::sweep::check(&self.exp, &parts, &dev).map_err(RunError::Input)
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let parts = self.parts()?;
        let dev = autodiff_device(cx.device).map_err(RunError::Input)?;
        let r = super::sweep::run_cell(&self.exp, &parts, index, &dev)
            .map_err(|e| cells::cell_failed(index, cell_keys(&self.exp).get(index).map(|k| cell_label(&self.exp, k)), e))?;
        cx.progress.inc(self.exp.train.steps as u64);
        cells::encode(&r)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let cells: Vec<CellResult> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::write_outputs(&self.exp, cells, out)?;
        let mut s = String::new();
        let _ = writeln!(s, "{:<28} {:>18} {:>18} {:>12} {:>8}  log10 λ per layer", "method", "val acc (%)", "test acc (%)", "grad evals", "ratio");
        for l in &res.summary {
            let lam: Vec<String> = l.log10_lambda.iter().map(|m| m.map_or("λ=0".to_string(), |m| format!("{:.2}±{:.2}", m.mean, m.std))).collect();
            let _ = writeln!(
                s,
                "{:<28} {:>9.2} ± {:<6.2} {:>9.2} ± {:<6.2} {:>12.0} {:>8.3}  {}",
                l.method,
                100.0 * l.val_accuracy.mean,
                100.0 * l.val_accuracy.std,
                100.0 * l.test_accuracy.mean,
                100.0 * l.test_accuracy.std,
                l.grad_evals,
                l.ratio_to_grid,
                lam.join(" ")
            );
        }
        let c = &res.claim;
        let _ = writeln!(
            s,
            "tuned − grid best: validation {:+.2} ± {:.2} points, test {:+.2} ± {:.2}; compute ratio {:.3}; claim (≥ −0.2 points at ≤ 0.2): {}{}",
            c.val_gap_points.mean,
            c.val_gap_points.std,
            c.test_gap_points.mean,
            c.test_gap_points.std,
            c.compute_ratio,
            if c.within_0_2_points && c.at_most_a_fifth { "holds" } else { "does not hold" },
            if c.grid_choice_on_edge > 0 { format!(" ({} grid choices on an edge: widen the grid)", c.grid_choice_on_edge) } else { String::new() }
        );
        Ok(s)
    }
    /// Every cell on `ctx.jobs` threads, each timed; then [`Prepared::merge`], `timing.json`
    /// (with every cell's seconds) and `compute_seconds.csv`.
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        use rayon::prelude::*;
        let t0 = std::time::Instant::now();
        self.check(ctx.device)?;
        let specs = self.cells().map_err(RunError::Input)?;
        let _lock = ctx.open_out()?;
        crate::rundir::write_text(&ctx.out.join("config.toml"), &self.config_toml())?;
        let jobs = ctx.jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|e| RunError::Failed(e.to_string()))?;
        let cx = CellContext { dir: ctx.out, threads: jobs, device: ctx.device, progress: ctx.progress, times: None };
        let timed: Vec<(CellValue, f64)> = pool.install(|| {
            (0..specs.len())
                .into_par_iter()
                .map(|i| {
                    let t = std::time::Instant::now();
                    self.run_cell(i, &cx).map(|v| (v, t.elapsed().as_secs_f64()))
                })
                .collect::<Result<Vec<_>, RunError>>()
        })?;
        let seconds: Vec<f64> = timed.iter().map(|t| t.1).collect();
        let summary = self.merge(timed.into_iter().map(|t| Some(t.0)).collect(), ctx.out)?;
        let keys = cell_keys(&self.exp);
        let mut csv = String::from("method,seed,grid_lambda,seconds\n");
        for (k, secs) in keys.iter().zip(&seconds) {
            let (m, seed, l) = match *k {
                super::sweep::CellKey::Tuned(s) => ("tuned", self.exp.seeds[s], String::new()),
                super::sweep::CellKey::Grid(g, s) => ("grid", self.exp.seeds[s], format!("{:e}", self.exp.grid.lambdas[g])),
            };
            let _ = writeln!(csv, "{m},{seed},{l},{secs:.3}");
        }
        crate::rundir::write_text(&ctx.out.join("compute_seconds.csv"), &csv)?;
        let cell_seconds: Vec<serde_json::Value> =
            specs.iter().zip(&seconds).enumerate().map(|(i, (c, s))| serde_json::json!({ "index": i, "label": c.label, "seconds": s })).collect();
        let timing = serde_json::json!({ "total_seconds": t0.elapsed().as_secs_f64(), "threads": jobs, "cell_seconds": cell_seconds });
        crate::rundir::write_json(&ctx.out.join("timing.json"), &timing)?;
        let tuned: Vec<f64> = keys.iter().zip(&seconds).filter(|(k, _)| matches!(k, super::sweep::CellKey::Tuned(_))).map(|(_, s)| *s).collect();
        let grid: f64 = keys.iter().zip(&seconds).filter(|(k, _)| matches!(k, super::sweep::CellKey::Grid(..))).map(|(_, s)| *s).sum();
        let per_seed_grid = grid / self.exp.seeds.len() as f64;
        let tuned_mean = tuned.iter().sum::<f64>() / tuned.len().max(1) as f64;
        Ok(format!(
            "{summary}wall time: tuned {tuned_mean:.1} s per seed, grid {per_seed_grid:.1} s per seed (all points), ratio {:.3}\n",
            tuned_mean / per_seed_grid
        ))
    }
}

//! `kind = "lasso-path"` as an [`ExperimentKind`]: one cell per method (and one for the
//! coordinate-descent reference) over the whole λ grid; `--jobs` threads over the (method, λ)
//! solves (the results do not depend on it); no checkpoints, so no `--resume` of a whole run.

use super::sweep::PathRow;
use super::{LassoPathExperiment, config::KIND};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use crate::rundir::SweepOptions;
use std::fmt::Write;
use std::path::Path;

/// ℓ1 solvers (subgradient, ISTA, FISTA) over a λ grid against a coordinate-descent reference.
pub struct LassoPathKind;

impl ExperimentKind for LassoPathKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "the lasso over a λ grid by subgradient and proximal solvers against a coordinate-descent reference (‖w‖₁, exact zeros, KKT)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(Lasso::new(LassoPathExperiment::parse(text, overrides)?)?))
    }
}

/// A parsed lasso-path experiment with its job count.
pub struct Lasso {
    exp: LassoPathExperiment,
    jobs: usize,
}

impl Lasso {
    /// `exp` (valid) with its job count.
    pub fn new(exp: LassoPathExperiment) -> Result<Self, String> {
        let jobs = super::job_count(&exp)?;
        Ok(Self { exp, jobs })
    }
}

impl Prepared for Lasso {
    fn name(&self) -> &str {
        &self.exp.name
    }
    fn work(&self) -> (u64, &'static str) {
        (self.jobs as u64, "solves")
    }
    fn config_toml(&self) -> String {
        self.exp.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        let methods = self.exp.methods()?;
        let n_lambda = self.exp.lambdas()?.len() as u64;
        let config = cells::toml_as_json(&self.exp.to_toml());
        let mut labels: Vec<String> = methods.iter().map(|m| m.label.clone()).collect();
        labels.push(super::sweep::REFERENCE_LABEL.to_string());
        Ok(labels
            .into_iter()
            .enumerate()
            .map(|(i, label)| CellSpec { label, work: n_lambda, config: serde_json::json!({ "experiment": config, "method_index": i }) })
            .collect())
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        cells::encode(&super::sweep::run_method(&self.exp, index, &|| cx.progress.tick()).map_err(RunError::Failed)?)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let per_method: Vec<Vec<PathRow>> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::aggregate(&self.exp, per_method).map_err(RunError::Input)?;
        super::sweep::write_outputs(&self.exp, &res, out)?;
        let mut s = String::new();
        let (first, last) = (res.lambdas[0], res.lambdas[res.lambdas.len() - 1]);
        let _ = writeln!(s, "λ from {first} to {last} ({} points), λ_max = {:.4}", res.lambdas.len(), res.lambda_max);
        let _ =
            writeln!(s, "{:<24} {:>14} {:>14} {:>10} {:>16} {:>12}", "method", "‖w‖₁ first λ", "‖w‖₁ last λ", "‖w‖₁ rises", "exact zeros", "max KKT");
        for m in &res.summaries {
            let mine: Vec<_> = res.rows.iter().chain(&res.reference).filter(|r| r.method == m.method).collect();
            let l1 = |i: usize| mine.get(i).map(|r| format!("{:.4}", r.l1_norm)).unwrap_or_default();
            let _ = writeln!(
                s,
                "{:<24} {:>14} {:>14} {:>10} {:>16} {:>12.3e}",
                m.method,
                l1(0),
                l1(mine.len().saturating_sub(1)),
                m.l1_rises,
                format!("{}–{}", m.min_zeros, m.max_zeros),
                m.max_kkt
            );
        }
        Ok(s)
    }
}

/// Run the experiment into `opts.out` as `reglab run` does: `config.toml` first, then the
/// cells (one per method and the reference), then `results.json`, `results.csv`,
/// `timing.json`, `plots/l1_norm.png|svg`, `plots/zeros.png|svg` and `report.html`, every file
/// written atomically. Returns the results as written.
pub fn run(exp: &LassoPathExperiment, opts: &SweepOptions) -> Result<super::LassoPathResults, RunError> {
    exp.validate().map_err(RunError::Input)?;
    crate::kind::run_solver(&Lasso::new(exp.clone()).map_err(RunError::Input)?, opts)
}

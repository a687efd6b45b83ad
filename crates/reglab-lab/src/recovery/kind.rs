//! `kind = "cs-recovery"` as an [`ExperimentKind`]: one cell per M/N (every trial and method
//! at that ratio); `--jobs` threads over the trials (the results do not depend on it); no
//! checkpoints, so no `--resume` of a whole run.

use super::solve::Outcome;
use super::{RecoveryExperiment, config::KIND};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use crate::rundir::SweepOptions;
use std::fmt::Write;
use std::path::Path;

/// The binary-recovery sweep with the Cauchy–Schwarz regularizer.
pub struct RecoveryKind;

impl ExperimentKind for RecoveryKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "binary signals from Gaussian measurements over a grid of M/N: Cauchy–Schwarz regularizer against convex relaxations (success rates, 50 % crossings)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(RecoveryExperiment::parse(text, overrides)?))
    }
}

impl Prepared for RecoveryExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        ((self.problem.ratios.len() as u64).saturating_mul(self.problem.trials as u64), "trials")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        let config = cells::toml_as_json(&self.to_toml());
        Ok(self
            .problem
            .ratios
            .iter()
            .enumerate()
            .map(|(i, r)| CellSpec {
                label: format!("M/N = {r}"),
                work: self.problem.trials as u64,
                config: serde_json::json!({ "experiment": config, "ratio_index": i }),
            })
            .collect())
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let methods = self.methods().map_err(RunError::Input)?;
        let out = super::sweep::run_ratio(self, &methods, index, &|| cx.progress.tick()).map_err(RunError::Failed)?;
        cells::encode(&out)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let per_ratio: Vec<Vec<Vec<Outcome>>> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::aggregate(self, &per_ratio).map_err(RunError::Input)?;
        super::sweep::write_outputs(self, &res, out)?;
        let mut s = String::new();
        let _ = writeln!(s, "{:<20} {:>22} {:>22}", "method", "50% at M/N (sign)", "50% at M/N (exact)");
        for c in &res.crossings {
            let _ = writeln!(s, "{:<20} {:>22} {:>22}", c.method, c.sign.text(), c.exact.text());
        }
        Ok(s)
    }
}

/// Run the experiment into `opts.out` as `reglab run` does: `config.toml` first, then the
/// cells (one per ratio), then `results.json`, `results.csv`, `timing.json`,
/// `plots/success.png|svg`, `plots/exact.png|svg` and `report.html`, every file written
/// atomically. Returns the results as written.
pub fn run(exp: &RecoveryExperiment, opts: &SweepOptions) -> Result<super::RecoveryResults, RunError> {
    crate::kind::run_solver(exp, opts)
}

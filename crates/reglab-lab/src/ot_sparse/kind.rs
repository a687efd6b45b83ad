//! `kind = "ot-sparse"` as an [`ExperimentKind`]: one cell per solve; `--jobs` threads over
//! them (the results do not depend on it); no checkpoints, so no `--resume` of a whole run.

use super::sweep::Solved;
use super::{OtSparseExperiment, config::KIND};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use crate::rundir::SweepOptions;
use std::fmt::Write;
use std::path::Path;

/// Sparsity-constrained, quadratic, entropic and exact OT between two drawn clouds.
pub struct OtSparseKind;

impl ExperimentKind for OtSparseKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "sparsity-constrained OT for several k against quadratic, entropic and exact OT between two drawn point clouds (cost, non-zeros, marginal errors)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(OtSparseExperiment::parse(text, overrides)?))
    }
}

impl Prepared for OtSparseExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        (super::job_count(self) as u64, "solves")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        let config = cells::toml_as_json(&self.to_toml());
        Ok(super::sweep::jobs(self)
            .iter()
            .enumerate()
            .map(|(i, j)| CellSpec { label: j.label(), work: 1, config: serde_json::json!({ "experiment": config, "solve_index": i }) })
            .collect())
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let solved = super::sweep::run_solve(self, index).map_err(RunError::Failed)?;
        cx.progress.tick();
        cells::encode(&solved)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let solved: Vec<Solved> = cells::all(&outcomes, KIND)?;
        let run = super::sweep::aggregate(self, solved).map_err(RunError::Input)?;
        super::sweep::write_outputs(self, &run, out)?;
        let res = &run.results;
        let mut s = String::new();
        let _ = writeln!(s, "n = {}, m = {}, γ = {}, ε = {}; reference: {}", res.n, res.m, res.gamma, res.epsilon, res.reference);
        let _ = writeln!(
            s,
            "{:<14} {:>12} {:>12} {:>10} {:>10} {:>12} {:>12} {:>10}",
            "method", "cost", "− exact", "max nz/col", "mean nz/col", "row error", "col error", "converged"
        );
        for r in &res.rows {
            let _ = writeln!(
                s,
                "{:<14} {:>12.6} {:>12.3e} {:>10} {:>10.2} {:>12.2e} {:>12.2e} {:>10}",
                r.method, r.cost, r.cost_gap, r.max_nonzeros_per_column, r.mean_nonzeros_per_column, r.row_error, r.col_error, r.converged
            );
        }
        Ok(s)
    }
}

/// Run the experiment into `opts.out` as `reglab run` does: `config.toml` first, then the
/// cells (one per solve), then `results.json`, `results.csv`, `clouds.csv` (the problem), the
/// plots (`plots/cost`, `plots/nonzeros`, `plots/plan-*`, PNG and SVG), `report.html` and
/// `timing.json`, every file written atomically. Returns the results as written.
pub fn run(exp: &OtSparseExperiment, opts: &SweepOptions) -> Result<super::OtSparseResults, RunError> {
    exp.validate().map_err(RunError::Input)?;
    crate::kind::run_solver(exp, opts)
}

//! `kind = "ot-sparse"` as an [`ExperimentKind`]: `--jobs` threads over the solves (the
//! results do not depend on it); no checkpoints, so no `--resume`.

use super::{OtSparseExperiment, config::KIND};
use crate::RunError;
use crate::kind::{ExperimentKind, Prepared, RunContext};
use std::fmt::Write;

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
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let _lock = ctx.open_out()?;
        let res = super::run(self, &ctx.sweep_options(), &|| ctx.progress.tick())?;
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

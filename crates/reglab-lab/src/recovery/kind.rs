//! `kind = "cs-recovery"` as an [`ExperimentKind`]: `--jobs` threads over the trials (the
//! results do not depend on it); no checkpoints, so no `--resume`.

use super::{RecoveryExperiment, config::KIND};
use crate::RunError;
use crate::kind::{ExperimentKind, Prepared, RunContext};
use std::fmt::Write;

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
        ((self.problem.ratios.len() * self.problem.trials) as u64, "trials")
    }
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let _lock = ctx.open_out()?;
        let res = super::run(self, &ctx.sweep_options(), &|| ctx.progress.tick())?;
        let mut s = String::new();
        let _ = writeln!(s, "{:<20} {:>22} {:>22}", "method", "50% at M/N (sign)", "50% at M/N (exact)");
        for c in &res.crossings {
            let _ = writeln!(s, "{:<20} {:>22} {:>22}", c.method, c.sign.text(), c.exact.text());
        }
        Ok(s)
    }
}

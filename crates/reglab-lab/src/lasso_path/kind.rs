//! `kind = "lasso-path"` as an [`ExperimentKind`]: `--jobs` threads over the (method, λ) jobs
//! (the results do not depend on it); no checkpoints, so no `--resume`.

use super::{LassoPathExperiment, config::KIND};
use crate::RunError;
use crate::kind::{ExperimentKind, Prepared, RunContext};
use std::fmt::Write;

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
        let exp = LassoPathExperiment::parse(text, overrides)?;
        let jobs = super::job_count(&exp)?;
        Ok(Box::new(Lasso { exp, jobs }))
    }
}

struct Lasso {
    exp: LassoPathExperiment,
    jobs: usize,
}

impl Prepared for Lasso {
    fn name(&self) -> &str {
        &self.exp.name
    }
    fn work(&self) -> (u64, &'static str) {
        (self.jobs as u64, "solves")
    }
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let _lock = ctx.open_out()?;
        let res = super::run(&self.exp, &ctx.sweep_options(), &|| ctx.progress.tick())?;
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

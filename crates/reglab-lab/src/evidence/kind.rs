//! `kind = "evidence"` as an [`ExperimentKind`]: one cell per setting × seed × method and per
//! grid point; `--jobs` threads over them (the results do not depend on it, the timings in
//! `compute.csv` do); no checkpoints, so no `--resume` of a whole run.

use super::EvidenceExperiment;
use super::config::KIND;
use super::sweep::{CellResult, cell_keys, cell_label};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use std::fmt::Write;
use std::path::Path;

/// DE-ELBo, ELBo, type-II ML and a validation grid for the prior variance of Bayesian regression.
pub struct EvidenceKind;

impl ExperimentKind for EvidenceKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "the prior variance (L2 strength) of Bayesian linear and random-Fourier-feature regression learned by DE-ELBo (Harvey, Petrov & Hughes, data-emphasized ELBo), ELBo and type-II ML, against a validation grid (test log-likelihood, RMSE, compute)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(EvidenceExperiment::parse(text, overrides)?))
    }
}

impl Prepared for EvidenceExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        (cell_keys(self).len() as u64, "fits")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        Ok(cells::sweep_specs(&self.to_toml(), cell_keys(self).iter().map(|k| cell_label(self, k)), 1))
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let r =
            super::sweep::run_cell(self, index).map_err(|e| cells::cell_failed(index, cell_keys(self).get(index).map(|k| cell_label(self, k)), e))?;
        cx.progress.tick();
        cells::encode(&r)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let cells: Vec<CellResult> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::write_outputs(self, &cells, out)?;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<28} {:<12} {:>8} {:>16} {:>16} {:>16} {:>16}",
            "setting", "method", "κ", "log10 τ²", "log10 λ_eff", "test log-lik", "test RMSE"
        );
        for r in &res.summary {
            let _ = writeln!(
                s,
                "{:<28} {:<12} {:>8.3} {:>8.3} ± {:<5.3} {:>8.3} ± {:<5.3} {:>8.4} ± {:<5.4} {:>8.4} ± {:<5.4}{}{}",
                r.setting,
                r.method,
                r.kappa,
                r.log10_tau2.mean,
                r.log10_tau2.std,
                r.log10_lambda_eff.mean,
                r.log10_lambda_eff.std,
                r.test_loglik.mean,
                r.test_loglik.std,
                r.test_rmse.mean,
                r.test_rmse.std,
                if r.on_grid_edge > 0 { format!("  ({} on the grid's edge)", r.on_grid_edge) } else { String::new() },
                if r.at_floor > 0 { format!("  ({} at a variance floor)", r.at_floor) } else { String::new() }
            );
        }
        Ok(s)
    }
}

//! `kind = "starvation"` as an [`ExperimentKind`]: one cell per Δ × arm × seed (a whole run);
//! `--jobs` runs cells in parallel (the results do not depend on it).

use super::StarvationExperiment;
use super::config::KIND;
use super::sweep::{CellResult, cell_keys, cell_label};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use std::fmt::Write;
use std::path::Path;

/// Gradient starvation on the two-moons toy.
pub struct StarvationKind;

impl ExperimentKind for StarvationKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "gradient starvation on the two-moons toy (Pezeshki et al., Gradient Starvation): which features the decision boundary uses with cross-entropy and with spectral decoupling — boundaries, margins, accuracy with either feature permuted"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(StarvationExperiment::parse(text, overrides)?))
    }
}

impl Prepared for StarvationExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        ((cell_keys(self).len() as u64).saturating_mul(self.steps as u64), "steps")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        Ok(cells::sweep_specs(&self.to_toml(), cell_keys(self).iter().map(|k| cell_label(self, *k)), self.steps as u64))
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let device = reglab_train::device::autodiff_device(cx.device).map_err(RunError::Input)?;
        let r = super::sweep::run_cell(self, index, &device, &|| cx.progress.tick())
            .map_err(|e| cells::cell_failed(index, cell_keys(self).get(index).map(|k| cell_label(self, *k)), e))?;
        cells::encode(&r)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let cells: Vec<CellResult> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::write_outputs(self, &cells, out)?;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<6} {:<24} {:>16} {:>16} {:>20} {:>20} {:>16}",
            "Δ", "arm", "train acc", "test acc", "test, x₁ permuted", "test, x₂ permuted", "margin"
        );
        for r in &res.summary {
            let f = |m: super::sweep::MeanStd| format!("{:.3} ± {:.3}", m.mean, m.std);
            let _ = writeln!(
                s,
                "{:<6} {:<24} {:>16} {:>16} {:>20} {:>20} {:>16}",
                r.margin,
                r.arm,
                f(r.train_acc),
                f(r.test_acc),
                f(r.shuffled_linear_acc),
                f(r.shuffled_moons_acc),
                f(r.margin_to_boundary)
            );
        }
        Ok(s)
    }
}

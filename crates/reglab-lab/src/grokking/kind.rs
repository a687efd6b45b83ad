//! `kind = "grokking"` as an [`ExperimentKind`]: one cell per ξ × arm × seed (a whole run);
//! `--jobs` runs cells in parallel (the results do not depend on it). A cell is the unit of
//! resumption: a shard (`--cell`/`--cells … --out`) run again with `--resume` skips its finished
//! cells.

use super::GrokkingExperiment;
use super::config::KIND;
use super::sweep::{CellResult, cell_keys, cell_label};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use std::fmt::Write;
use std::path::Path;

/// Grokking modular addition with corrupted labels.
pub struct GrokkingKind;

impl ExperimentKind for GrokkingKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "grokking (a + b) mod p with a fraction of corrupted training labels (Doshi et al., To Grok or Not to Grok): weight decay and dropout arms, test accuracy, memorisation of the corrupted labels and the neurons' Fourier IPR per step"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(GrokkingExperiment::parse(text, overrides)?))
    }
}

impl Prepared for GrokkingExperiment {
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
        let _ = writeln!(s, "{:<6} {:<20} {:>16} {:>16} {:>7} {:>16} {:>16}", "ξ", "arm", "test acc", "train acc", "1 − ξ", "memorised", "mean IPR");
        for r in &res.summary {
            let _ = writeln!(
                s,
                "{:<6} {:<20} {:>7.3} ± {:<6.3} {:>7.3} ± {:<6.3} {:>7.3} {:>16} {:>7.3} ± {:<6.3}",
                r.xi,
                r.arm,
                r.test_acc.mean,
                r.test_acc.std,
                r.train_acc.mean,
                r.train_acc.std,
                1.0 - r.xi,
                r.memorised.map_or("—".to_string(), |m| format!("{:.3} ± {:.3}", m.mean, m.std)),
                r.ipr_mean.mean,
                r.ipr_mean.std
            );
        }
        Ok(s)
    }
}

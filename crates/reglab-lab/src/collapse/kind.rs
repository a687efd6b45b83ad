//! `kind = "collapse"` as an [`ExperimentKind`]: one cell per setting × seed; `--jobs` threads
//! over the cells and, inside a cell, over its replicates (the results do not depend on it); no
//! checkpoints, so no `--resume` of a whole run.

use super::CollapseExperiment;
use super::config::KIND;
use super::sweep::{CellResult, cell_keys, cell_label};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use std::fmt::Write;
use std::path::Path;

/// Model collapse: linear regression trained recursively on the previous generation's labels.
pub struct CollapseKind;

impl ExperimentKind for CollapseKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "model collapse in regression (Dohmatob, Feng & Kempe): OLS and ridge trained recursively on the previous generation's labels, fixed, adapted and best-in-hindsight λ, against the closed form of OLS (error per generation)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(CollapseExperiment::parse(text, overrides)?))
    }
}

impl Prepared for CollapseExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        (cell_keys(self).len() as u64 * u64::from(self.replicates), "replicates")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        Ok(cells::sweep_specs(&self.to_toml(), cell_keys(self).iter().map(|k| cell_label(self, *k)), u64::from(self.replicates)))
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        let r = super::sweep::run_cell(self, index, &|| cx.progress.tick())
            .map_err(|e| cells::cell_failed(index, cell_keys(self).get(index).map(|k| cell_label(self, *k)), e))?;
        cells::encode(&r)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let cells: Vec<CellResult> = cells::all(&outcomes, KIND)?;
        let res = super::sweep::write_outputs(self, &cells, out)?;
        let last = self.generations;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<24} {:<36} {:>16} {:>16} {:>22} {:>10}",
            "setting",
            "method",
            "E_0",
            format!("E_{last}"),
            "growth / generation",
            "closed form"
        );
        for r in &res.summary {
            let _ = writeln!(
                s,
                "{:<24} {:<36} {:>7.4} ± {:<6.4} {:>7.4} ± {:<6.4} {:>9.5} ± {:<10.5} {:>10}",
                r.setting,
                r.method,
                r.excess[0].mean,
                r.excess[0].std,
                r.excess[last].mean,
                r.excess[last].std,
                r.slope.mean,
                r.slope.std,
                r.theory_slope.map_or("—".to_string(), |v| format!("{v:.5}"))
            );
        }
        Ok(s)
    }
}

//! `kind = "inverse"` as an [`ExperimentKind`]: one cell per setting (views × noise: every
//! method and λ, with its calibration problem); `--jobs` threads over the settings and the λ
//! solves (the results do not depend on it); no checkpoints, so no `--resume` of a whole run.

use super::sweep::SettingRun;
use super::{InverseExperiment, config::KIND};
use crate::RunError;
use crate::kind::cells::{self, CellContext, CellSpec, CellValue};
use crate::kind::{ExperimentKind, Prepared};
use crate::rundir::SweepOptions;
use std::fmt::Write;
use std::path::Path;

/// Few-view CT reconstructions over λ grids.
pub struct InverseKind;

impl ExperimentKind for InverseKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "few-view CT of a phantom: FBP, Tikhonov, TV, weighted and space-variant TV, graphLa+Ψ over λ grids; λ by oracle, calibration or learned by MAID (Salehi, Mukherjee, Roberts & Ehrhardt, bilevel learning) from training phantoms (PSNR/SSIM tables, images)"
    }
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String> {
        Ok(Box::new(InverseExperiment::parse(text, overrides)?))
    }
}

impl Prepared for InverseExperiment {
    fn name(&self) -> &str {
        &self.name
    }
    fn work(&self) -> (u64, &'static str) {
        (super::job_count(self) as u64, "reconstructions")
    }
    fn config_toml(&self) -> String {
        self.to_toml()
    }
    fn cells(&self) -> Result<Vec<CellSpec>, String> {
        self.validate()?;
        let config = cells::toml_as_json(&self.to_toml());
        let settings = super::sweep::settings(self);
        let work = super::job_count(self) as u64 / settings.len() as u64;
        Ok(settings
            .iter()
            .enumerate()
            .map(|(i, &(vi, k))| CellSpec {
                label: format!("{} views, noise {}", self.problem.views[vi], self.problem.noise[k]),
                work,
                config: serde_json::json!({ "experiment": config, "setting_index": i }),
            })
            .collect())
    }
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError> {
        cells::encode(&super::sweep::run_setting(self, index, &|| cx.progress.tick()).map_err(RunError::Failed)?)
    }
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError> {
        let settings: Vec<SettingRun> = cells::all(&outcomes, KIND)?;
        let run = super::sweep::aggregate(self, settings).map_err(RunError::Input)?;
        super::sweep::write_outputs(self, &run, out)?;
        let res = &run.results;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} phantom {}×{}; best PSNR (dB) / SSIM over each λ grid{}:",
            res.phantom,
            res.size,
            res.size,
            if res.has_calibration() { "; (cal. λ): at the λ chosen on the calibration problem" } else { "" }
        );
        let _ = write!(s, "{:<22}", "method");
        for st in &res.settings {
            let _ = write!(s, " {:>22}", st.title());
        }
        let _ = writeln!(s);
        type Pick = for<'a> fn(&'a super::InverseResults, &str, usize, f64) -> Option<&'a super::sweep::InverseRow>;
        let mut rules: Vec<(&str, Pick)> = vec![("", super::InverseResults::best)];
        if res.has_calibration() {
            rules.push((" (cal. λ)", super::InverseResults::calibrated));
        }
        if !res.learned.is_empty() {
            rules.push((" (learned λ)", super::InverseResults::learned));
        }
        for (suffix, pick) in rules {
            for m in &res.methods {
                if res.settings.iter().all(|st| pick(res, m, st.views, st.noise).is_none()) {
                    continue;
                }
                let _ = write!(s, "{:<22}", format!("{m}{suffix}"));
                for st in &res.settings {
                    let cell = match pick(res, m, st.views, st.noise) {
                        Some(r) => format!("{:.2} / {:.3}", r.psnr, r.ssim),
                        None => "—".to_string(),
                    };
                    let _ = write!(s, " {cell:>22}");
                }
                let _ = writeln!(s);
            }
        }
        for t in &res.learned {
            let _ = writeln!(
                s,
                "learned {} ({} views, noise {}): λ = {:.4} after {} iterations, {} operator pairs",
                t.method,
                t.views,
                t.noise,
                t.lambda,
                t.trajectory.len() - 1,
                t.operator_pairs
            );
        }
        Ok(s)
    }
}

/// Run the experiment into `opts.out` as `reglab run` does: `config.toml` first, then the
/// cells (one per setting), then `results.json`, `results.csv`, the plots
/// (`plots/psnr-SETTING`, `plots/best-psnr-NOISE`, PNG and SVG), the images
/// (`images/SETTING/*.png`, 16-bit, and a montage), `report.html` and `timing.json`, every file
/// written atomically. Returns the results as written.
pub fn run(exp: &InverseExperiment, opts: &SweepOptions) -> Result<super::InverseResults, RunError> {
    exp.validate().map_err(RunError::Input)?;
    crate::kind::run_solver(exp, opts)
}

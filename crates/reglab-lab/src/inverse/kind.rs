//! `kind = "inverse"` as an [`ExperimentKind`]: `--jobs` threads over the (setting, λ) solves
//! of each method (the results do not depend on it); no checkpoints, so no `--resume`.

use super::{InverseExperiment, config::KIND};
use crate::RunError;
use crate::kind::{ExperimentKind, Prepared, RunContext};
use std::fmt::Write;

/// Few-view CT reconstructions over λ grids.
pub struct InverseKind;

impl ExperimentKind for InverseKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn about(&self) -> &'static str {
        "few-view CT of a phantom: FBP, Tikhonov, TV, weighted and space-variant TV, graphLa+Ψ over λ grids (PSNR/SSIM tables, images)"
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
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let _lock = ctx.open_out()?;
        let res = super::run(self, &ctx.sweep_options(), &|| ctx.progress.tick())?;
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
        for (suffix, pick) in rules {
            for m in &res.methods {
                let _ = write!(s, "{:<22}", format!("{m}{suffix}"));
                for st in &res.settings {
                    let cell = match pick(&res, m, st.views, st.noise) {
                        Some(r) => format!("{:.2} / {:.3}", r.psnr, r.ssim),
                        None => "—".to_string(),
                    };
                    let _ = write!(s, " {cell:>22}");
                }
                let _ = writeln!(s);
            }
        }
        Ok(s)
    }
}

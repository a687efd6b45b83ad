//! The list of experiment kinds and `reglab run` / `reglab report` over it: find a file's kind
//! ([`of_text`]), check the request, run it ([`run_file`]) or merge runs ([`report_file`]). The
//! interface the kinds implement is [`crate::kind`].

use crate::RunError;
use crate::experiment_file::file_kind;
use crate::kind::cells;
use crate::kind::{Cell, ExperimentKind, Outcome, Progress, RunContext, RunRequest};
use std::path::{Path, PathBuf};

/// Every experiment kind, `"train"` first (the default).
pub const KINDS: &[&dyn ExperimentKind] = &[
    &crate::experiment::kind::TrainKind,
    &crate::recovery::kind::RecoveryKind,
    &crate::lasso_path::kind::LassoPathKind,
    &crate::ot_sparse::kind::OtSparseKind,
    &crate::inverse::kind::InverseKind,
    &crate::evidence::kind::EvidenceKind,
    &crate::tune::kind::TuneKind,
    &crate::collapse::kind::CollapseKind,
    &crate::grokking::kind::GrokkingKind,
    &crate::starvation::kind::StarvationKind,
];

/// The default kind of a file without `kind`.
pub const DEFAULT_KIND: &str = "train";

/// The kind named `name`, or an error that lists the kinds.
pub fn by_name(name: &str) -> Result<&'static dyn ExperimentKind, String> {
    KINDS.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
        let names: Vec<String> = KINDS.iter().map(|k| format!("\"{}\"", k.name())).collect();
        format!("`kind` = \"{name}\": expected one of {}", names.join(", "))
    })
}

/// The kind of an experiment file's text (after the overrides).
pub fn of_text(text: &str, overrides: &[String]) -> Result<&'static dyn ExperimentKind, String> {
    by_name(file_kind(text, overrides).as_deref().unwrap_or(DEFAULT_KIND))
}

/// The text of the experiment file at `path` and its kind; errors name the file.
fn read(path: &Path, overrides: &[String]) -> Result<(String, &'static dyn ExperimentKind), RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    let kind = of_text(&text, overrides).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    Ok((text, kind))
}

/// `reglab run FILE`: read the file, find its kind, parse and check it, check the request, run.
/// Bad input (file, kind, keys, flags) is [`RunError::Input`] and nothing is written.
pub fn run_file(path: &Path, overrides: &[String], req: &RunRequest) -> Result<Outcome, RunError> {
    let (text, kind) = read(path, overrides)?;
    let prepared = kind.prepare(&text, overrides).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    if req.jobs == 0 {
        return Err(RunError::Input("--jobs must be ≥ 1".into()));
    }
    let cells_asked = !req.cell.is_empty() || !req.cell_ranges.is_empty();
    if req.resume && !kind.resumable() && !cells_asked {
        return Err(RunError::Input(format!("--resume does not apply to kind = \"{}\" (a run has no checkpoints: run it again)", kind.name())));
    }
    if !req.cell.is_empty() || !req.cell_ranges.is_empty() {
        let plan = cells::plan(kind.name(), prepared.as_ref()).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
        let which = cells::select(&req.cell, &req.cell_ranges, plan.len()).map_err(RunError::Input)?;
        let Some(out) = req.out.clone() else {
            return Err(RunError::Input(
                "--cell/--cells write a shard: name it with --out (`reglab report FILE --from SHARD …` merges shards)".into(),
            ));
        };
        let total = which.iter().fold(0u64, |t, &i| t.saturating_add(plan[i].work));
        let progress = Progress::new(req.show_progress, prepared.name(), total, prepared.work().1);
        let ctx = RunContext { out: &out, jobs: req.jobs, resume: req.resume, device: req.device, progress: &progress };
        let r = cells::run_shard(kind.name(), prepared.as_ref(), &plan, &which, &ctx);
        progress.finish();
        return Ok(Outcome { summary: r?, out });
    }
    let out = req.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(prepared.name()));
    let (total, unit) = prepared.work();
    let progress = Progress::new(req.show_progress, prepared.name(), total, unit);
    let ctx = RunContext { out: &out, jobs: req.jobs, resume: req.resume, device: req.device, progress: &progress };
    let r = prepared.run(&ctx);
    progress.finish();
    Ok(Outcome { summary: r?, out })
}

/// `reglab plan FILE`: the file's kind and name and its cells (index, label, hash, work).
pub fn plan_file(path: &Path, overrides: &[String]) -> Result<(String, String, Vec<Cell>), RunError> {
    let (text, kind) = read(path, overrides)?;
    let prepared = kind.prepare(&text, overrides).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    let plan = cells::plan(kind.name(), prepared.as_ref()).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    Ok((kind.name().to_string(), prepared.name().to_string(), plan))
}

/// `reglab report FILE --from RUN …`: the file's kind merges the runs into `out`.
pub fn report_file(path: &Path, overrides: &[String], from: &[PathBuf], out: &Path, allow_missing: bool) -> Result<Outcome, RunError> {
    let (text, kind) = read(path, overrides)?;
    let summary = kind.report(&text, overrides, from, out, allow_missing)?;
    Ok(Outcome { summary, out: out.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_and_train_is_the_default() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(names[0], DEFAULT_KIND);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len(), "two kinds share a name");
        assert!(KINDS.iter().all(|k| !k.about().trim().is_empty()));
    }

    #[test]
    fn the_kind_of_a_file_and_an_unknown_kind() {
        assert_eq!(of_text("name = \"x\"", &[]).unwrap().name(), "train");
        assert_eq!(of_text("kind = \"inverse\"", &[]).unwrap().name(), "inverse");
        assert_eq!(of_text("name = \"x\"", &["kind=lasso-path".into()]).unwrap().name(), "lasso-path");
        let e = of_text("kind = \"nope\"", &[]).err().expect("unknown kind");
        assert!(e.contains("\"nope\"") && e.contains("\"train\"") && e.contains("\"inverse\""), "{e}");
    }
}

//! The experiment kinds of `reglab run` and `reglab report`: one interface, one list.
//!
//! An experiment file names its `kind` (absent: `"train"`). Each kind is one folder of this
//! crate holding its typed config (serde), its work and its report, and one value implementing
//! [`ExperimentKind`]; [`KINDS`] lists them. What every kind shares is done once, here and in
//! [`crate::rundir`]: reading the file, finding its kind, the `--jobs` / `--resume` checks, the
//! run directory (created and locked against a second run by [`RunContext::open_out`] once the
//! kind has checked everything, written atomically) and the progress bars ([`Progress`]). The
//! command line names no kind.
//!
//! Adding a kind: a folder with its config, its run and a `kind.rs` implementing
//! [`ExperimentKind`], and one line in [`KINDS`].

pub mod progress;

pub use progress::Progress;

use crate::RunError;
use crate::experiment_file::file_kind;
use reglab_train::device::DeviceKind;
use std::path::{Path, PathBuf};

/// Every experiment kind, `"train"` first (the default).
pub const KINDS: &[&dyn ExperimentKind] = &[
    &crate::experiment::kind::TrainKind,
    &crate::recovery::kind::RecoveryKind,
    &crate::lasso_path::kind::LassoPathKind,
    &crate::ot_sparse::kind::OtSparseKind,
    &crate::inverse::kind::InverseKind,
];

/// The default kind of a file without `kind`.
pub const DEFAULT_KIND: &str = "train";

/// One kind of experiment file.
pub trait ExperimentKind: Sync {
    /// The `kind` value of its files.
    fn name(&self) -> &'static str;
    /// What it runs, in one line (for `reglab list --kinds` and the docs).
    fn about(&self) -> &'static str;
    /// Whether its runs checkpoint and so continue with `--resume`.
    fn resumable(&self) -> bool {
        false
    }
    /// Parse the file with the `--set` overrides and check every value, before anything is
    /// written. Errors are one line and name the key.
    fn prepare(&self, text: &str, overrides: &[String]) -> Result<Box<dyn Prepared>, String>;
    /// `reglab report`: one experiment's results and report from the results of runs that each
    /// did part of it, written into `out`. Returns what to print.
    fn report(&self, text: &str, overrides: &[String], from: &[PathBuf], out: &Path) -> Result<String, RunError> {
        let _ = (text, overrides, from, out);
        Err(RunError::Input(format!(
            "`reglab report` does not apply to kind = \"{}\" (its runs are not split into parts: run the whole file)",
            self.name()
        )))
    }
}

/// A parsed, checked experiment, ready to run.
pub trait Prepared: Send + Sync {
    /// The experiment's `name` (the default run directory is `runs/NAME`).
    fn name(&self) -> &str;
    /// The amount of work and its unit, for the progress bar (e.g. `(306, "reconstructions")`).
    fn work(&self) -> (u64, &'static str);
    /// Run into `ctx.out`, advancing `ctx.progress` by one per unit of [`Prepared::work`].
    /// Everything that can be checked is checked first; then [`RunContext::open_out`] creates
    /// and locks the run directory, and only then is anything written. Returns the summary to
    /// print.
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError>;
}

/// How `reglab run` was asked to run a file.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Run directory (`None`: `runs/<experiment name>`).
    pub out: Option<PathBuf>,
    /// Work done at once (jobs, threads); the results do not depend on it.
    pub jobs: usize,
    /// Continue the run in the run directory.
    pub resume: bool,
    /// Where networks train (training kinds).
    pub device: DeviceKind,
    /// Draw progress bars.
    pub show_progress: bool,
}

/// What a kind's [`Prepared::run`] gets.
pub struct RunContext<'a> {
    /// The run directory (created and locked by [`RunContext::open_out`]).
    pub out: &'a Path,
    /// Work done at once (≥ 1).
    pub jobs: usize,
    /// Continue a previous run (only for [`ExperimentKind::resumable`] kinds).
    pub resume: bool,
    /// Where networks train.
    pub device: DeviceKind,
    /// The progress bars.
    pub progress: &'a Progress,
}

impl RunContext<'_> {
    /// Create the run directory and lock it against a second run until the guard is dropped
    /// (an advisory lock on `OUT/.lock`, released by the system if the process dies).
    pub fn open_out(&self) -> Result<crate::rundir::RunLock, RunError> {
        std::fs::create_dir_all(self.out).map_err(|e| RunError::Input(format!("{}: {e}", self.out.display())))?;
        crate::rundir::RunLock::acquire(self.out)
    }
}

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

/// What a finished run or report leaves: the text to print and the report's path.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary table.
    pub summary: String,
    /// The run (or report) directory.
    pub out: PathBuf,
}

/// `reglab run FILE`: read the file, find its kind, parse and check it, check the request, run.
/// Bad input (file, kind, keys, flags) is [`RunError::Input`] and nothing is written.
pub fn run_file(path: &Path, overrides: &[String], req: &RunRequest) -> Result<Outcome, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    let input = |e: String| RunError::Input(format!("{}: {e}", path.display()));
    let kind = of_text(&text, overrides).map_err(input)?;
    let prepared = kind.prepare(&text, overrides).map_err(input)?;
    if req.jobs == 0 {
        return Err(RunError::Input("--jobs must be ≥ 1".into()));
    }
    if req.resume && !kind.resumable() {
        return Err(RunError::Input(format!(
            "--resume does not apply to kind = \"{}\" (a run has no checkpoints: run it again)",
            kind.name()
        )));
    }
    let out = req.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(prepared.name()));
    let (total, unit) = prepared.work();
    let progress = Progress::new(req.show_progress, prepared.name(), total, unit);
    let ctx = RunContext { out: &out, jobs: req.jobs, resume: req.resume, device: req.device, progress: &progress };
    let r = prepared.run(&ctx);
    progress.finish();
    Ok(Outcome { summary: r?, out })
}

/// `reglab report FILE --from RUN …`: the file's kind merges the runs into `out`.
pub fn report_file(path: &Path, overrides: &[String], from: &[PathBuf], out: &Path) -> Result<Outcome, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    let kind = of_text(&text, overrides).map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
    let summary = kind.report(&text, overrides, from, out)?;
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

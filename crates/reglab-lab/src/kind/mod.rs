//! The experiment kinds of `reglab run` and `reglab report`: one interface, one list.
//!
//! An experiment file names its `kind` (absent: `"train"`). Each kind is one folder of this
//! crate holding its typed config (serde), its work and its report, and one value implementing
//! [`ExperimentKind`]; [`crate::kinds::KINDS`] lists them. What every kind shares is done once, here and in
//! [`crate::rundir`]: reading the file, finding its kind, the `--jobs` / `--resume` checks, the
//! run directory (created and locked against a second run by [`RunContext::open_out`] once the
//! kind has checked everything, written atomically) and the progress bars ([`Progress`]). The
//! command line names no kind.
//!
//! Adding a kind: a folder with its config, its run and a `kind.rs` implementing
//! [`ExperimentKind`], and one line in [`crate::kinds::KINDS`], which also finds a file's kind
//! and runs it ([`crate::kinds::run_file`]).

pub mod progress;

pub use progress::Progress;

use crate::RunError;
use reglab_train::device::DeviceKind;
use std::path::{Path, PathBuf};

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
    /// The run directory and thread count, as the solver kinds' sweeps take them.
    pub fn sweep_options(&self) -> crate::rundir::SweepOptions {
        crate::rundir::SweepOptions { out: self.out.to_path_buf(), threads: self.jobs }
    }

    /// Create the run directory and lock it against a second run until the guard is dropped
    /// (an advisory lock on `OUT/.lock`, released by the system if the process dies).
    pub fn open_out(&self) -> Result<crate::rundir::RunLock, RunError> {
        std::fs::create_dir_all(self.out).map_err(|e| RunError::Input(format!("{}: {e}", self.out.display())))?;
        crate::rundir::RunLock::acquire(self.out)
    }
}

/// What a finished run or report leaves: the text to print and the report's path.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary table.
    pub summary: String,
    /// The run (or report) directory.
    pub out: PathBuf,
}

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

pub mod cells;
pub mod progress;

pub use cells::{Cell, CellContext, CellSpec, CellValue};
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
    /// `reglab report`: one experiment's results and report from runs that each did part of
    /// it, written into `out`. Returns what to print. The default merges shards (`reglab run
    /// --cell`, see [`cells`]); with `allow_missing`, cells no shard holds are listed instead of
    /// refused, for kinds whose [`Prepared::merge`] can do without them.
    fn report(&self, text: &str, overrides: &[String], from: &[PathBuf], out: &Path, allow_missing: bool) -> Result<String, RunError> {
        let prepared = self.prepare(text, overrides).map_err(RunError::Input)?;
        merge_shards(self.name(), prepared.as_ref(), from, out, allow_missing)
    }
}

/// Merge the shards `from` of `prepared` (kind `kind`) into `out` (see [`cells`]).
pub fn merge_shards(kind: &str, prepared: &dyn Prepared, from: &[PathBuf], out: &Path, allow_missing: bool) -> Result<String, RunError> {
    if let Some(p) = from.iter().find(|p| !cells::is_shard(p)) {
        return Err(RunError::Input(format!(
            "--from {}: not a shard of `reglab run --cell` (no cells/ directory){}",
            p.display(),
            if kind == "train" { "; training runs' results.json/csv merge only with each other" } else { "" }
        )));
    }
    if out.join("cells").exists() || out.join("checkpoints").exists() {
        return Err(RunError::Input(format!("{} holds a run or a shard; write the merged report elsewhere", out.display())));
    }
    let plan = cells::plan(kind, prepared).map_err(RunError::Input)?;
    let outcomes = cells::read_shards(kind, &plan, from)?;
    let missing = cells::missing(&plan, &outcomes);
    if !missing.is_empty() && !allow_missing {
        return Err(RunError::Input(format!(
            "{} of {} cells are in no shard: {}; run them (`reglab run FILE --cell I --out SHARD`) or report without them (--allow-missing, training experiments)",
            missing.len(),
            plan.len(),
            missing.join(", ")
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| RunError::Input(format!("{}: {e}", out.display())))?;
    crate::rundir::write_text(&out.join("config.toml"), &prepared.config_toml())?;
    let mut s = prepared.merge(outcomes, out)?;
    s.push_str(&format!("{} of {} cells from {} shards\n", plan.len() - missing.len(), plan.len(), from.len()));
    if !missing.is_empty() {
        s.push_str(&format!("missing {} cells: {}\n", missing.len(), missing.join(", ")));
    }
    Ok(s)
}

/// A parsed, checked experiment, ready to run.
pub trait Prepared: Send + Sync {
    /// The experiment's `name` (the default run directory is `runs/NAME`).
    fn name(&self) -> &str;
    /// The amount of work and its unit, for the progress bar (e.g. `(306, "reconstructions")`).
    fn work(&self) -> (u64, &'static str);
    /// The resolved experiment file (`config.toml` of a run).
    fn config_toml(&self) -> String;
    /// The experiment expanded into its cells, in a stable order (see [`cells`]).
    fn cells(&self) -> Result<Vec<CellSpec>, String>;
    /// What can only be checked with the data or the device (before a shard is written).
    fn check(&self, device: DeviceKind) -> Result<(), RunError> {
        let _ = device;
        Ok(())
    }
    /// Run cell `index` of [`Prepared::cells`] and return its result, advancing `cx.progress` by
    /// one per unit of its work. Parallel work inside the cell runs on the current rayon pool.
    fn run_cell(&self, index: usize, cx: &CellContext<'_>) -> Result<CellValue, RunError>;
    /// Write the results, plots and report of the experiment into `out` from its cells' results
    /// (one per cell, in order; `None` for a cell no shard holds — a kind that needs every cell
    /// says so, see [`cells::all`]). Returns the summary to print.
    fn merge(&self, outcomes: Vec<Option<CellValue>>, out: &Path) -> Result<String, RunError>;
    /// Run the whole experiment into `ctx.out`, advancing `ctx.progress` by one per unit of
    /// [`Prepared::work`]. Everything that can be checked is checked first; then
    /// [`RunContext::open_out`] creates and locks the run directory, and only then is anything
    /// written. Returns the summary to print.
    ///
    /// The default: `config.toml`, every cell on `ctx.jobs` threads, [`Prepared::merge`] and
    /// `timing.json` — the same files as its shards merged.
    fn run(&self, ctx: &RunContext<'_>) -> Result<String, RunError> {
        let t0 = std::time::Instant::now();
        self.check(ctx.device)?;
        let n = self.cells().map_err(RunError::Input)?.len();
        let _lock = ctx.open_out()?;
        crate::rundir::write_text(&ctx.out.join("config.toml"), &self.config_toml())?;
        let outcomes = cells::run_all(self, n, ctx.out, ctx.jobs, ctx.device, ctx.progress)?;
        let summary = self.merge(outcomes.into_iter().map(Some).collect(), ctx.out)?;
        let timing = serde_json::json!({ "total_seconds": t0.elapsed().as_secs_f64(), "threads": ctx.jobs });
        crate::rundir::write_json(&ctx.out.join("timing.json"), &timing)?;
        Ok(summary)
    }
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
    /// `--cell I`: run only these cells into a shard (see [`cells`]).
    pub cell: Vec<usize>,
    /// `--cells A..B`: run only these ranges of cells into a shard.
    pub cell_ranges: Vec<String>,
}

impl RunRequest {
    /// A whole run into `out` on one thread, on the CPU, without progress bars (what the tests
    /// and library callers usually want; set the fields for more).
    pub fn quiet(out: PathBuf) -> Self {
        Self { out: Some(out), jobs: 1, resume: false, device: DeviceKind::Cpu, show_progress: false, cell: vec![], cell_ranges: vec![] }
    }
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

/// Run a solver kind's experiment `p` into `opts.out` as `reglab run` does (without progress
/// bars) and read its `results.json` back: the library entry point of the solver kinds.
pub fn run_solver<R: serde::de::DeserializeOwned>(p: &dyn Prepared, opts: &crate::rundir::SweepOptions) -> Result<R, RunError> {
    if opts.threads == 0 {
        return Err(RunError::Input("threads must be ≥ 1".into()));
    }
    let progress = Progress::new(false, p.name(), 0, "");
    let ctx = RunContext { out: &opts.out, jobs: opts.threads, resume: false, device: reglab_train::device::DeviceKind::Cpu, progress: &progress };
    p.run(&ctx)?;
    let path = opts.out.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| RunError::Failed(format!("{}: {e}", path.display())))
}

/// What a finished run or report leaves: the text to print and the report's path.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary table.
    pub summary: String,
    /// The run (or report) directory.
    pub out: PathBuf,
}

//! `reglab run`.

use crate::Failure;
use reglab_lab::kind::RunRequest;
use reglab_lab::kinds;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Run an experiment file. Its `kind` (default `train`) says what it runs; `reglab list --kinds`
/// lists them, docs/experiments.md describes each file format.
///
/// Writes OUT/config.toml (resolved), OUT/results.json and OUT/results.csv (no timings: the same
/// seeds give the same files, whatever --jobs), OUT/timing.json, OUT/plots/*.png|svg and
/// OUT/report.html; training experiments also OUT/checkpoints/ (one file per arm and seed,
/// rewritten after each task), from which a killed run continues with --resume.
///
/// With --cell/--cells, runs only those cells into the shard --out: OUT/config.toml,
/// OUT/plan.json, OUT/cells/NNNNN.cbor (one per finished cell) and what a cell needs to resume;
/// --resume runs the cells it lacks. `reglab report FILE --from SHARD …` merges shards into
/// the same files as a whole run.
#[derive(clap::Args)]
pub struct Args {
    /// The experiment file (TOML).
    experiment: PathBuf,
    /// Run directory (default: runs/<experiment name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Work done at once: jobs (arm × seed) for training, threads for the solver kinds.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Override a key, e.g. --set stream.tasks=10 --set arm.1.reg='["l2=1e-4"]'.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Continue the run in OUT from its checkpoints (kinds that checkpoint).
    #[arg(long)]
    resume: bool,
    /// cpu | gpu (gpu needs a build with `--features gpu`; training experiments only).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Run only cell I (repeat for more; `reglab plan` lists them) into the shard --out.
    #[arg(long, value_name = "I")]
    cell: Vec<usize>,
    /// Run only the cells A..B (half-open) or A..=B into the shard --out (repeat for more).
    #[arg(long, value_name = "A..B")]
    cells: Vec<String>,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let device: reglab_train::device::DeviceKind = a.device.parse().map_err(Failure::input)?;
    let req = RunRequest {
        out: a.out,
        jobs: a.jobs,
        resume: a.resume,
        device,
        show_progress: !a.quiet && std::io::stderr().is_terminal(),
        cell: a.cell,
        cell_ranges: a.cells,
    };
    let done = kinds::run_file(&a.experiment, &a.sets, &req)?;
    print!("{}", done.summary);
    if done.out.join("report.html").exists() {
        println!("wrote {}", done.out.join("report.html").display());
    }
    Ok(())
}

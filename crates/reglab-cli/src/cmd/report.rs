//! `reglab report`.

use crate::Failure;
use reglab_lab::kinds;
use std::path::PathBuf;

/// Rebuild an experiment's results and report from the results of runs that each did part of it.
///
/// For an experiment split across machines (e.g. some arms on a GPU, the others on a CPU, each
/// run from a file holding only its arms): every row must belong to EXPERIMENT (its arms, seeds
/// and tasks) and no job may come from two runs. Writes OUT/results.json, OUT/results.csv,
/// OUT/plots/ and OUT/report.html as `reglab run` would; jobs without rows are listed. For the
/// kinds whose runs can be split (training experiments).
#[derive(clap::Args)]
pub struct Args {
    /// The full experiment file (TOML).
    experiment: PathBuf,
    /// A run's results: a run directory, its results.json or its results.csv (repeat).
    #[arg(long = "from", value_name = "PATH", required = true)]
    from: Vec<PathBuf>,
    /// Override a key, as for `reglab run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Directory of the merged results and report (not a run directory).
    #[arg(long)]
    out: PathBuf,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let done = kinds::report_file(&a.experiment, &a.sets, &a.from, &a.out)?;
    print!("{}", done.summary);
    println!("wrote {}", done.out.join("report.html").display());
    Ok(())
}

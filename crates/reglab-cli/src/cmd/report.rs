//! `reglab report`.

use crate::Failure;
use reglab_lab::kinds;
use std::path::PathBuf;

/// Rebuild an experiment's results and report from shards of cells, or (training experiments)
/// from the results of runs that each did part of it.
///
/// Shards (`reglab run FILE --cell I --out SHARD`, any kind): every cell must be a cell of
/// EXPERIMENT's plan with the same content hash (a shard of another configuration is refused),
/// no cell may be in two shards, and every cell must be there (--allow-missing: training
/// experiments report without them and list them). The files are byte-identical to a whole
/// `reglab run` of EXPERIMENT.
///
/// Runs of training files that each hold some of the arms (e.g. some on a GPU, the others on a
/// CPU): every row must belong to EXPERIMENT (its arms, seeds and tasks) and no job may come
/// from two runs; jobs without rows are listed.
///
/// Writes OUT/results.json, OUT/results.csv, OUT/plots/ and OUT/report.html as `reglab run`
/// would.
#[derive(clap::Args)]
pub struct Args {
    /// The full experiment file (TOML).
    experiment: PathBuf,
    /// A shard (`reglab run --cell … --out SHARD`), or a training run's directory, results.json or results.csv (repeat).
    #[arg(long = "from", value_name = "PATH", required = true)]
    from: Vec<PathBuf>,
    /// Override a key, as for `reglab run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Directory of the merged results and report (not a run directory).
    #[arg(long)]
    out: PathBuf,
    /// Report from the shards' cells even if some cells are in no shard (training experiments).
    #[arg(long)]
    allow_missing: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let done = kinds::report_file(&a.experiment, &a.sets, &a.from, &a.out, a.allow_missing)?;
    print!("{}", done.summary);
    println!("wrote {}", done.out.join("report.html").display());
    Ok(())
}

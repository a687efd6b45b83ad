//! `reglab report`.

use crate::Failure;
use reglab_lab::experiment::{merge, Experiment};
use std::path::PathBuf;

/// Rebuild the results and report of an experiment from the results of one or more runs.
///
/// For an experiment split across machines (e.g. some arms on a GPU, the others on a CPU, each
/// run from a file holding only its arms): every row must belong to EXPERIMENT (its arms, seeds
/// and tasks) and no job may come from two runs. Writes OUT/results.json, OUT/results.csv,
/// OUT/plots/ and OUT/report.html as `reglab run` would; jobs without rows are listed.
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
    let text = std::fs::read_to_string(&a.experiment).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let exp = Experiment::parse(&text, &a.sets).map_err(|e| Failure::input(format!("{}: {e}", a.experiment.display())))?;
    let mut parts = Vec::new();
    for p in &a.from {
        parts.push((p.display().to_string(), merge::read_rows(p).map_err(Failure::input)?));
    }
    let results = merge::merge(&exp, &parts).map_err(Failure::input)?;
    merge::write(&exp, &results, &a.out).map_err(Failure::failed)?;
    let missing = merge::missing_jobs(&exp, &results);
    println!("{} rows of {} jobs from {} runs", results.rows.len(), exp.arms.len() * exp.seeds.len() - missing.len(), a.from.len());
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(arm, s)| format!("{arm} s{s}")).collect();
        println!("no rows for {} jobs: {}", missing.len(), list.join(", "));
    }
    println!("wrote {}", a.out.join("report.html").display());
    Ok(())
}

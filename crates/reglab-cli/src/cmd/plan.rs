//! `reglab plan`.

use crate::Failure;
use reglab_lab::kind::cells::plan_json;
use reglab_lab::kinds;
use std::path::PathBuf;

/// List an experiment's cells: the units `reglab run FILE --cell I --out SHARD` runs one at a
/// time (on a cluster: one array task per cell or per range of cells) and `reglab report FILE
/// --from SHARD …` merges.
///
/// Each cell has a stable index, a label and the SHA-256 of everything that determines its
/// result (the same file and --set values give the same plan on any machine; a shard whose
/// cells have other hashes is refused when merging).
#[derive(clap::Args)]
pub struct Args {
    /// The experiment file (TOML).
    experiment: PathBuf,
    /// Override a key, as for `reglab run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print JSON (kind, experiment, total work and every cell) on standard output.
    #[arg(long)]
    json: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let (kind, name, cells) = kinds::plan_file(&a.experiment, &a.sets)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan_json(&kind, &name, &cells)).map_err(Failure::failed)?);
        return Ok(());
    }
    println!("{name} (kind = \"{kind}\"): {} cell{}", cells.len(), if cells.len() == 1 { "" } else { "s" });
    let w = cells.iter().map(|c| c.label.chars().count()).max().unwrap_or(5).max(5);
    println!("{:>5}  {:<w$}  {:>6}  hash", "cell", "label", "work");
    for c in &cells {
        println!("{:>5}  {:<w$}  {:>6}  {}", c.index, c.label, c.work, &c.hash[..16]);
    }
    Ok(())
}

//! `reglab list`.

use crate::Failure;

/// List the regularizers.
#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let entries = reglab_regularizers::ENTRIES;
    if a.json {
        let v: Vec<_> = entries
            .iter()
            .map(|e| serde_json::json!({"name": e.name, "family": e.family, "formula": e.formula, "options": e.options, "paper": e.paper}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).map_err(Failure::failed)?);
        return Ok(());
    }
    let w = entries.iter().map(|e| e.name.len()).max().unwrap_or(4);
    let f = entries.iter().map(|e| e.family.chars().count()).max().unwrap_or(6);
    for e in entries {
        println!("{:w$}  {:f$}  {}", e.name, e.family, e.formula, w = w, f = f);
        if !e.options.is_empty() {
            println!("{:w$}  {:f$}  options: {}", "", "", e.options, w = w, f = f);
        }
        println!("{:w$}  {:f$}  {}", "", "", e.paper, w = w, f = f);
    }
    println!("\nSpec syntax: NAME=λ[:key=value,...]; every regularizer also takes select=PATTERN, schedule=constant|warmup|cosine, warmup=STEPS, schedule=exp:factor=F[:every=STEPS][:max=L], until=STEPS.");
    println!("\nReparameterizations (--reparam SPEC, or reparam = \"SPEC\" in experiment files):");
    let r = reglab_train::reparam::CATALOG.iter().map(|c| c.0.len()).max().unwrap_or(4);
    for (spec, formula, paper) in reglab_train::reparam::CATALOG {
        println!("{spec:r$}  {formula}");
        println!("{:r$}  {paper}", "");
    }
    Ok(())
}

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
    // (name, family, formula, options, paper, acts on)
    let entries: Vec<(&str, &str, &str, &str, &str, &str)> = reglab_regularizers::ENTRIES
        .iter()
        .map(|e| (e.name, e.family, e.formula, e.options, e.paper, "weights"))
        .chain(reglab_regularizers::OUTPUT_ENTRIES.iter().map(|e| (e.name, e.family, e.formula, e.options, e.paper, "logits")))
        .chain(reglab_regularizers::BATCH_ENTRIES.iter().map(|e| (e.name, e.family, e.formula, e.options, e.paper, "inputs")))
        .chain(reglab_regularizers::PERTURB_ENTRIES.iter().map(|e| (e.name, e.family, e.formula, e.options, e.paper, "forward pass")))
        .collect();
    if a.json {
        let v: Vec<_> = entries
            .iter()
            .map(|e| serde_json::json!({"name": e.0, "family": e.1, "formula": e.2, "options": e.3, "paper": e.4, "acts_on": e.5}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).map_err(Failure::failed)?);
        return Ok(());
    }
    let w = entries.iter().map(|e| e.0.len()).max().unwrap_or(4);
    let f = entries.iter().map(|e| e.1.chars().count()).max().unwrap_or(6);
    for e in &entries {
        println!("{:w$}  {:f$}  {}", e.0, e.1, e.2, w = w, f = f);
        if !e.3.is_empty() {
            println!("{:w$}  {:f$}  options: {}", "", "", e.3, w = w, f = f);
        }
        println!("{:w$}  {:f$}  {}", "", "", e.4, w = w, f = f);
    }
    println!("\nSpec syntax: NAME=λ[:key=value,...]; every regularizer also takes schedule=constant|warmup|cosine, warmup=STEPS, schedule=exp:factor=F[:every=STEPS][:max=L], until=STEPS, and those on weights select=PATTERN. Family `output` acts on the logits of each batch, through the loss; family `data` transforms each training batch, family `stochastic` acts in the forward pass (none of these with `reglab penalty`; `data` and `stochastic` take no common option).");
    println!("\nReparameterizations (--reparam SPEC, or reparam = \"SPEC\" in experiment files):");
    let r = reglab_train::reparam::CATALOG.iter().map(|c| c.0.len()).max().unwrap_or(4);
    for (spec, formula, paper) in reglab_train::reparam::CATALOG {
        println!("{spec:r$}  {formula}");
        println!("{:r$}  {paper}", "");
    }
    Ok(())
}

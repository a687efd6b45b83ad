//! `reglab list`.

use crate::Failure;
use reglab_train::catalog::{self, Technique};

/// List every technique (regularizers, output terms, data and stochastic perturbations,
/// reparameterizations, pruning methods) with its family, formula, options and paper; or the
/// experiment kinds of `reglab run`.
#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// List the experiment kinds (`kind = …` in experiment files) instead.
    #[arg(long)]
    kinds: bool,
    /// Only the techniques whose name, family or paper contains this text (case-insensitive);
    /// when none does, the experiment kinds whose description does.
    filter: Option<String>,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    if a.kinds {
        let kinds = reglab_lab::kinds::KINDS;
        if a.json {
            let v: Vec<_> = kinds.iter().map(|k| serde_json::json!({"kind": k.name(), "about": k.about(), "resumable": k.resumable()})).collect();
            println!("{}", serde_json::to_string_pretty(&v).map_err(Failure::failed)?);
        } else {
            let w = kinds.iter().map(|k| k.name().len()).max().unwrap_or(4);
            for k in kinds {
                println!("{:w$}  {}", k.name(), k.about());
            }
        }
        return Ok(());
    }
    let needle = a.filter.as_deref().map(str::to_lowercase);
    let keep = |t: &Technique| needle.as_ref().is_none_or(|n| [t.name, t.family, t.paper].iter().any(|s| s.to_lowercase().contains(n.as_str())));
    let entries: Vec<Technique> = catalog::all().into_iter().filter(keep).collect();
    // With a filter, also the experiment kinds whose name or description contains it (the
    // methods that are whole procedures rather than terms, e.g. MAID or DE-ELBo).
    let kinds: Vec<&dyn reglab_lab::kind::ExperimentKind> = match &needle {
        Some(n) => reglab_lab::kinds::KINDS
            .iter()
            .copied()
            .filter(|k| k.name().to_lowercase().contains(n.as_str()) || k.about().to_lowercase().contains(n.as_str()))
            .collect(),
        None => Vec::new(),
    };
    if let Some(n) = &needle
        && entries.is_empty()
        && kinds.is_empty()
    {
        return Err(Failure::input(format!(
            "no technique's name, family or paper, and no experiment kind's description, contains `{n}` (run `reglab list` for all)"
        )));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries).map_err(Failure::failed)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("Experiment kinds (kind = \"…\" in experiment files; `reglab list --kinds` for all):\n");
        let w = kinds.iter().map(|k| k.name().len()).max().unwrap_or(4);
        for k in &kinds {
            println!("{:w$}  {}", k.name(), k.about());
        }
        return Ok(());
    }
    let w = entries.iter().map(|e| e.name.len()).max().unwrap_or(4);
    let f = entries.iter().map(|e| e.family.chars().count()).max().unwrap_or(6);
    let mut flag = "";
    for e in &entries {
        if e.flag != flag {
            let what = match e.flag {
                "--reparam" => "Reparameterizations: --reparam SPEC (reparam = \"SPEC\" in experiment files)",
                "--prune" => "Pruning: --prune SPEC (prune = \"SPEC\" per arm in experiment files)",
                "--model" => "Activations: --model mlp:H,act=NAME[:key=value...] (activation = \"NAME\" in experiment files, per model or arm)",
                _ => "Regularizers: --reg NAME=λ[:key=value,...] (reg = [...] in experiment files)",
            };
            println!("{}{what}\n", if flag.is_empty() { "" } else { "\n" });
            flag = e.flag;
        }
        println!("{:w$}  {:f$}  {}", e.name, e.family, e.formula, w = w, f = f);
        if !e.options.is_empty() {
            println!("{:w$}  {:f$}  options: {}", "", "", e.options, w = w, f = f);
        }
        println!("{:w$}  {:f$}  {}", "", "", e.paper, w = w, f = f);
    }
    if !kinds.is_empty() {
        // a paper can give both a term and an experiment (spectral decoupling and its toy)
        println!("\nExperiment kinds (kind = \"…\" in experiment files):\n");
        let wk = kinds.iter().map(|k| k.name().len()).max().unwrap_or(4);
        for k in &kinds {
            println!("{:wk$}  {}", k.name(), k.about());
        }
    }
    if needle.is_none() {
        println!(
            "\nEvery --reg term also takes schedule=constant|warmup|cosine, warmup=STEPS, schedule=exp:factor=F[:every=STEPS][:max=L], until=STEPS, and those on weights select=PATTERN. Family `output` acts on the logits of each batch, through the loss; family `data` transforms each training batch, family `stochastic` acts in the forward pass or on how the step's gradient is taken (none of these with `reglab penalty`; `data` and `stochastic` take no common option). `reglab list --kinds` lists the experiment kinds."
        );
    }
    Ok(())
}

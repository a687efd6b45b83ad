//! `reglab inspect`.

use crate::Failure;
use reglab_lab::probes::{self, WeightProbe};
use reglab_train::tensorfile;
use std::path::PathBuf;

/// The command's help after the options: what is computed and the JSON keys.
const HELP: &str = "\
2-D tensors are matrices [out, in]; conv kernels [out, in, kh, kw] are read as
[out, in·kh·kw]; 1-D tensors get only sparsity, norm and distance to init.
Singular values: square roots of the eigenvalues of the smaller Gram matrix
(W Wᵀ or WᵀW), in f64. Effective rank: Roy & Vetterli 2007, exp(−Σ pᵢ ln pᵢ)
with pᵢ = σᵢ/Σσⱼ. Orthogonality gap: ‖W Wᵀ − I‖_F / √out (0 for orthonormal
rows, 1 for W = 0).

--json prints an array with one object per tensor, in name order, with these keys:
  name                 tensor name
  shape                shape as stored
  matrix               [rows, cols] of the matrix view
  sigma_max            largest singular value
  top_singular_values  the five largest singular values, descending
  effective_rank       Roy–Vetterli effective rank
  orthogonality_gap    ‖W Wᵀ − I‖_F / √out
  sparsity             fraction of entries exactly 0
  frobenius_norm       ‖W‖_F
  distance_to_init     ‖W − W₀‖_F (needs --init; tensors matched by name)
  non_finite           number of NaN or infinite entries
A key that does not apply is null: matrix quantities of 1-D tensors, the
distance without --init or for a tensor absent from it, spectral quantities
when non_finite > 0.

The table ends with one line: the entries exactly 0 over every tensor of
rank ≥ 2 (the weights; biases excluded), their count and fraction.";

/// Health probes of every tensor of a checkpoint (reglab's or PyTorch's safetensors); see
/// [`HELP`] and [`reglab_lab::probes`].
#[derive(clap::Args)]
#[command(after_help = HELP)]
pub struct Args {
    /// The checkpoint (safetensors; F32, F64, F16 or BF16).
    checkpoint: PathBuf,
    /// Initial weights W₀, matched by name, for the distance to init.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Print a JSON array (keys below) instead of the table.
    #[arg(long)]
    json: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let w = tensorfile::read(&a.checkpoint).map_err(Failure::input)?;
    if w.is_empty() {
        return Err(Failure::input(format!("{}: the file holds no tensor", a.checkpoint.display())));
    }
    let init = match &a.init {
        Some(p) => Some(tensorfile::read(p).map_err(Failure::input)?),
        None => None,
    };
    let rows = probes::probe_weights(&w, init.as_deref()).map_err(Failure::input)?;
    if a.json {
        println!("{}", serde_json::to_string(&rows).map_err(Failure::failed)?);
    } else {
        print_table(&rows, a.init.is_some());
    }
    Ok(())
}

fn opt(x: Option<f64>, prec: usize) -> String {
    match x {
        Some(v) => format!("{v:.prec$}"),
        None => "-".into(),
    }
}

fn print_table(rows: &[WeightProbe], with_init: bool) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            let shape = p.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
            let top = match &p.top_singular_values {
                Some(v) => v.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(","),
                None => "-".into(),
            };
            let mut r = vec![
                p.name.clone(),
                shape,
                opt(p.sigma_max, 4),
                top,
                opt(p.effective_rank, 2),
                opt(p.orthogonality_gap, 4),
                format!("{:.4}", p.sparsity),
                format!("{:.4}", p.frobenius_norm),
            ];
            if with_init {
                r.push(opt(p.distance_to_init, 4));
            }
            if p.non_finite > 0 {
                r.push(format!("({} NaN/inf)", p.non_finite));
            }
            r
        })
        .collect();
    let mut head: Vec<String> =
        ["tensor", "shape", "sigma_max", "top_singular_values", "eff_rank", "orth_gap", "sparsity", "norm"].map(String::from).to_vec();
    if with_init {
        head.push("dist_init".into());
    }
    let width = |i: usize| cells.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).chain([head[i].chars().count()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |r: &[String]| {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(c.chars().count());
            // names left-aligned, numbers right-aligned
            if i < 2 || i == 3 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string()
    };
    println!("{}", line(&head));
    for r in &cells {
        println!("{}", line(r));
    }
    // footer: the zeros over every weight of rank ≥ 2 (what pruning and ℓ1 make)
    let (zeros, n) = rows.iter().filter(|p| p.shape.len() >= 2).fold((0usize, 0usize), |(z, n), p| {
        let len: usize = p.shape.iter().product();
        (z + (p.sparsity * len as f64).round() as usize, n + len)
    });
    if n > 0 {
        println!("weights (rank ≥ 2): {zeros} of {n} entries are 0, sparsity {:.4}", zeros as f64 / n as f64);
    }
}

//! `reglab penalty`.

use crate::Failure;
use reglab_train::tensorfile;
use std::path::PathBuf;

/// Evaluate regularizers on the tensors of a safetensors file.
///
/// Every tensor is evaluated unless --select narrows them (biases included). 2-D tensors are
/// matrices [out, in], 4-D tensors conv kernels read as [out, in·kh·kw]; matrix regularizers
/// skip 1-D tensors, except that `spectral` joins P.bias to P.weight as the extra column when
/// the file holds both. σ_max runs to convergence (relative changes of σ and of its singular
/// vector below 1e-12).
#[derive(clap::Args)]
pub struct Args {
    /// The tensors (safetensors; F32, F64, F16 or BF16).
    #[arg(long)]
    weights: PathBuf,
    /// Initial weights W₀ for anchored regularizers (l2-init, wasserstein-init), matched by name.
    #[arg(long)]
    init: Option<PathBuf>,
    /// A regularizer, NAME=λ[:key=value,...]; repeat for a sum.
    #[arg(long = "reg", required = true)]
    regs: Vec<String>,
    /// Only tensors whose name matches this glob (`|` between alternatives).
    #[arg(long)]
    select: Option<String>,
    /// Write the gradient of the total here, under the same tensor names.
    #[arg(long)]
    grad_out: Option<PathBuf>,
    /// Print {"total": x, "terms": [{"reg", "tensor", "value"}]}.
    #[arg(long)]
    json: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let w = tensorfile::read(&a.weights).map_err(Failure::input)?;
    let init = match &a.init {
        Some(p) => Some(tensorfile::read(p).map_err(Failure::input)?),
        None => None,
    };
    let (report, grads) =
        reglab_lab::penalty::evaluate(&w, init.as_deref(), &a.regs, a.select.as_deref(), a.grad_out.is_some()).map_err(Failure::input)?;
    if let (Some(p), Some(g)) = (&a.grad_out, grads) {
        tensorfile::write(p, &g).map_err(Failure::failed)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report).map_err(Failure::failed)?);
    } else {
        let rw = report.terms.iter().map(|t| t.reg.len()).max().unwrap_or(3).max(3);
        let tw = report.terms.iter().map(|t| t.tensor.len()).max().unwrap_or(6).max(6);
        println!("{:rw$}  {:tw$}  value", "reg", "tensor");
        for t in &report.terms {
            println!("{:rw$}  {:tw$}  {:.9e}", t.reg, t.tensor, t.value);
        }
        println!("total={:.9e}", report.total);
    }
    Ok(())
}

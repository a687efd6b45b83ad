//! `reglab denoise`.

use crate::Failure;
use reglab_lab::RunError;
use reglab_lab::denoise::{self, DenoiseOptions, PngBits, TvOptions};
use std::path::PathBuf;

/// Denoise a grayscale PNG: argmin_x ½‖x − y‖² + λ TV(x) (isotropic total variation,
/// Chambolle's projection algorithm), pixel values in [0, 1].
///
/// Input: 8- or 16-bit PNG, grayscale (gray+alpha: alpha dropped; RGB: converted to luma with the
/// ITU-R BT.601 weights 0.299 R + 0.587 G + 0.114 B). Output: grayscale PNG, values clamped to
/// [0, 1] and rounded, written atomically. Nothing is written when the input is bad.
/// To match scikit-image's denoise_tv_chambolle(weight=w, eps=0, max_num_iter=N):
/// --reg tv=w --tau 0.25 --tol 0 --iters N-1.
#[derive(clap::Args)]
pub struct Args {
    /// The noisy image (PNG).
    #[arg(value_name = "IN.png")]
    input: PathBuf,
    /// Regularizer and weight: tv=λ (λ > 0).
    #[arg(long, value_name = "tv=λ")]
    reg: String,
    /// Most iterations (updates of the dual field).
    #[arg(long, default_value_t = 500)]
    iters: usize,
    /// Stop when ‖x_k − x_{k−1}‖ ≤ tol·‖x_k‖ (0: run all --iters).
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Step τ of the dual update, 0 < τ ≤ 1/4 (convergence proved for τ ≤ 1/8).
    #[arg(long, default_value_t = 0.125)]
    tau: f64,
    /// Bit depth of the output PNG: 8 or 16.
    #[arg(long, default_value_t = 8)]
    bits: u32,
    /// Write the denoised image here (.png).
    #[arg(long, value_name = "OUT.png")]
    out: PathBuf,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let reg = denoise::parse_reg(&a.reg).map_err(Failure::input)?;
    let bits = PngBits::from_bits(a.bits).ok_or_else(|| Failure::input(format!("--bits {}: expected 8 or 16", a.bits)))?;
    let opts = DenoiseOptions { reg, tv: TvOptions { tau: a.tau, max_iter: a.iters, tol: a.tol }, bits };
    let r = denoise::denoise(&a.input, &a.out, &opts).map_err(|e| match e {
        RunError::Input(m) => Failure::input(m),
        RunError::Failed(m) => Failure::failed(m),
    })?;
    println!("{} ({}×{}), {}", a.input.display(), r.rows, r.cols, a.reg);
    println!("iterations: {}", r.iterations);
    println!("objective:  {}", r.objective);
    println!("gap:        {:.3e}", r.gap);
    println!("converged:  {}", if r.converged { "yes" } else { "no" });
    println!("seconds:    {:.6}", r.seconds);
    println!("wrote {} ({}-bit)", a.out.display(), a.bits);
    Ok(())
}

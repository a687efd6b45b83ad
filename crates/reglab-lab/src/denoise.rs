//! Denoise a grayscale PNG (`reglab denoise`): read it into `[0, 1]`, solve
//! `min_x ½‖x − y‖² + λ R(x)` with the solvers of [`reglab_inverse`], write the result as an 8- or
//! 16-bit grayscale PNG (atomically). The only regularizer so far is isotropic total variation
//! (`tv=λ`, [`reglab_inverse::tv_denoise`], Chambolle's projection algorithm). Bad input (the
//! spec, the options, the input file, the output path) is found before anything is written.

use crate::RunError;
pub use reglab_inverse::{PngBits, TvOptions};
use reglab_inverse::{read_png, tv_denoise, write_png};
use std::path::Path;
use std::time::Instant;

/// The regularizer names `--reg` accepts.
pub const REGULARIZERS: [&str; 1] = ["tv"];

/// A denoising regularizer with its weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DenoiseReg {
    /// Isotropic total variation with weight `λ > 0`.
    Tv(f64),
}

/// Parse `NAME=λ` (`tv=0.1`); `λ` must be finite and `> 0`.
pub fn parse_reg(spec: &str) -> Result<DenoiseReg, String> {
    let (name, value) =
        spec.split_once('=').ok_or_else(|| format!("--reg `{spec}`: expected NAME=λ, e.g. tv=0.1 (regularizers: {})", REGULARIZERS.join(", ")))?;
    let name = name.trim();
    let lambda: f64 = value.trim().parse().map_err(|_| format!("--reg `{spec}`: λ `{}` is not a number", value.trim()))?;
    match name {
        "tv" => {
            if !(lambda.is_finite() && lambda > 0.0) {
                return Err(format!("--reg `{spec}`: λ must be finite and > 0"));
            }
            Ok(DenoiseReg::Tv(lambda))
        }
        _ => Err(format!("--reg `{spec}`: unknown regularizer `{name}` (regularizers: {})", REGULARIZERS.join(", "))),
    }
}

/// Options of [`denoise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenoiseOptions {
    /// The regularizer and its weight.
    pub reg: DenoiseReg,
    /// Maximum iterations, step and relative-change tolerance of the solver.
    pub tv: TvOptions,
    /// Bit depth of the output PNG.
    pub bits: PngBits,
}

/// What [`denoise`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseReport {
    /// Rows of the image.
    pub rows: usize,
    /// Columns of the image.
    pub cols: usize,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the stopping rule fired before the maximum number of iterations.
    pub converged: bool,
    /// The final objective `½‖x − y‖² + λ R(x)` (on the unquantized `x`).
    pub objective: f64,
    /// The duality gap at the end.
    pub gap: f64,
    /// The last relative change of `x`.
    pub rel_change: f64,
    /// Seconds spent in the solver (not reading or writing).
    pub seconds: f64,
}

/// `Err` (bad input) unless `path` ends in `.png`, its directory exists, and it is not a directory.
pub fn check_output(path: &Path) -> Result<(), String> {
    crate::rundir::check_output_path(path, Some("png"), "--out")
}

/// Read `input`, denoise, write `output`. Errors: [`RunError::Input`] for a bad option, a
/// missing/unreadable/unsupported input or an unusable output path (nothing written);
/// [`RunError::Failed`] if the solver or the write fails.
pub fn denoise(input: &Path, output: &Path, opts: &DenoiseOptions) -> Result<DenoiseReport, RunError> {
    check_output(output).map_err(RunError::Input)?;
    let DenoiseReg::Tv(lambda) = opts.reg;
    // (checked before the input is read, so a bad option writes nothing)
    opts.tv.validate().map_err(|e| RunError::Input(e.to_string()))?;
    let y = read_png(input).map_err(|e| RunError::Input(e.to_string()))?;
    let t = Instant::now();
    let r = tv_denoise(&y, lambda, &opts.tv).map_err(|e| RunError::Failed(e.to_string()))?;
    let seconds = t.elapsed().as_secs_f64();
    write_png(output, &r.image, opts.bits).map_err(|e| RunError::Failed(e.to_string()))?;
    Ok(DenoiseReport {
        rows: y.rows,
        cols: y.cols,
        iterations: r.iterations,
        converged: r.converged,
        objective: r.objective,
        gap: r.gap,
        rel_change: r.rel_change,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reg_accepts_tv_and_refuses_the_rest() {
        assert_eq!(parse_reg("tv=0.1"), Ok(DenoiseReg::Tv(0.1)));
        assert_eq!(parse_reg(" tv = 2 "), Ok(DenoiseReg::Tv(2.0)));
        for bad in ["tv=-0.1", "tv=0", "tv=nan", "tv=inf", "tv=x", "tv", "l1=0.1"] {
            assert!(parse_reg(bad).is_err(), "{bad}");
        }
        assert!(parse_reg("l1=0.1").unwrap_err().contains("tv"));
    }
}

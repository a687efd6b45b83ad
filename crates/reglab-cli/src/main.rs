//! `reglab`: the command line. Parsing and printing only; the work is in the library crates.
// The argument docs are clap help text (`mnist[:DIR]`), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

// burn allocates fresh buffers for every op; mimalloc reuses them instead of page-faulting
// new ones (measured: the MLP training step is ~1.5× faster than with the system allocator).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Regularization in machine learning: train under regularizers, evaluate penalties, list them.
#[derive(Parser)]
#[command(name = "reglab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on real data under regularizers and write a run directory.
    Train(cmd::train::Args),
    /// Run an experiment file: arms × seeds through a task stream, with results, plots and a report.
    Run(cmd::run::Args),
    /// Rebuild an experiment's results and report from shards of cells (or runs that each did part of it).
    Report(cmd::report::Args),
    /// List an experiment's cells (index, label, content hash), the units of `reglab run --cell`.
    Plan(cmd::plan::Args),
    /// Hand an experiment's cells to a cluster scheduler: a Slurm job array or a Kubernetes Indexed Job, and a merge.
    Submit(cmd::submit::Args),
    /// Evaluate regularizers (and their gradients) on the tensors of a safetensors file.
    Penalty(cmd::penalty::Args),
    /// Health probes of every tensor of a checkpoint: spectrum, effective rank, orthogonality gap, sparsity, norms.
    Inspect(cmd::inspect::Args),
    /// Regularized optimal transport between two point clouds (CSV): entropic, quadratic, sparse, class-based.
    Ot(cmd::ot::Args),
    /// Sentence embeddings of a text file (one sentence per line) with a pretrained BERT sentence encoder.
    Embed(cmd::embed::Args),
    /// Denoise a grayscale PNG with total variation (Chambolle's projection algorithm).
    Denoise(cmd::denoise::Args),
    /// List every technique (regularizers, perturbations, reparameterizations, pruning) with its formula and paper, or the experiment kinds.
    List(cmd::list::Args),
}

/// A failure: its message and exit code (2: bad input; 1: failure while working).
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Bad input (exit code 2).
    pub fn input(m: impl std::fmt::Display) -> Self {
        Self { code: 2, message: m.to_string() }
    }
    /// Failure while working (exit code 1).
    pub fn failed(m: impl std::fmt::Display) -> Self {
        Self { code: 1, message: m.to_string() }
    }
}

impl From<reglab_lab::RunError> for Failure {
    fn from(e: reglab_lab::RunError) -> Self {
        match e {
            reglab_lab::RunError::Input(m) => Self::input(m),
            reglab_lab::RunError::Failed(m) => Self::failed(m),
        }
    }
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`reglab embed … | head`) would panic;
    // restore the default action: the process ends quietly, as other Unix tools do.
    // SAFETY: called first, before any other thread exists; SIG_DFL is a valid action.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Train(a) => cmd::train::run(a),
        Command::Penalty(a) => cmd::penalty::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Submit(a) => cmd::submit::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Ot(a) => cmd::ot::run(a),
        Command::Denoise(a) => cmd::denoise::run(a),
        Command::Embed(a) => cmd::embed::run(a),
        Command::List(a) => cmd::list::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

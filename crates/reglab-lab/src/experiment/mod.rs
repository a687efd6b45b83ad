//! Experiments: `reglab run EXPERIMENT.toml`. See `docs/experiments.md` for the file format.

pub mod config;
pub mod kind;
pub mod merge;
pub mod report;
mod rowlog;
pub mod runner;
pub mod stream;

pub use crate::RunError;
pub use config::Experiment;
pub use runner::{Event, Results, RunOptions, run};

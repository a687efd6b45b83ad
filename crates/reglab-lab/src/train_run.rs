//! `reglab train`: one training run written to a run directory.
//!
//! Files (each written atomically):
//! - `config.toml`: the resolved configuration (data, device and the training config).
//! - `init.safetensors`: the weights at initialisation (W₀), PyTorch layout and names.
//! - `model.safetensors`: the weights after the last finished epoch (the last good checkpoint
//!   when a run stops on a non-finite loss), PyTorch layout and names.
//! - `regularizers.safetensors`: the regularizers' persistent state at that checkpoint (e.g.
//!   `reg.0.spectral/layers.0.weight/u` and `/v`, the power-iteration vectors), written beside
//!   `model.safetensors` when some regularizer has state.
//! - `metrics.json`: per epoch train loss and accuracy, test loss and accuracy, each
//!   regularizer's value; at the top level the final `test_accuracy`. No timings or dates, so
//!   the same seed gives the same file byte for byte. Written once, when the run finishes.
//! - `timing.json`: wall-clock seconds per epoch and steps per second.

pub use crate::RunError;
use crate::data::DataSource;
use crate::rundir::write_json;
use reglab_core::Split;
use reglab_train::device::DeviceKind;
use reglab_train::tensorfile;
use reglab_train::trainer::{EpochMetrics, Progress, TrainConfig, TrainError, Trainer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything `reglab train` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `digits`, `mnist[:DIR]`, `fashion[:DIR]`.
    pub data: String,
    /// Where to compute.
    #[serde(default)]
    pub device: DeviceKind,
    /// Anchor checkpoint for anchored regularizers (default: the initial weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<PathBuf>,
    /// The training configuration.
    pub train: TrainConfig,
}

/// `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Data source.
    pub data: String,
    /// Model spec.
    pub model: String,
    /// Regularizer specs.
    pub regs: Vec<String>,
    /// Seed.
    pub seed: u64,
    /// Training / test examples.
    pub train_examples: usize,
    /// Test examples.
    pub test_examples: usize,
    /// Per epoch.
    pub epochs: Vec<EpochMetrics>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
}

/// `timing.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Seconds per epoch (training and evaluation).
    pub epoch_seconds: Vec<f64>,
    /// Seconds in total, including data loading.
    pub total_seconds: f64,
    /// Optimizer steps per second over the training phases.
    pub steps_per_second: f64,
}

/// Load the data of a run.
pub fn load_data(spec: &str) -> Result<Split, RunError> {
    let src: DataSource = spec.parse().map_err(|e: crate::data::DataError| RunError::Input(e.to_string()))?;
    src.load().map_err(|e| RunError::Input(e.to_string()))
}

/// Train as configured, writing the run directory `out`. `progress` sees every step.
pub fn run(cfg: &RunConfig, out: &Path, progress: &mut dyn FnMut(Progress<'_>)) -> Result<Metrics, RunError> {
    let t0 = Instant::now();
    // Everything that can be checked is checked before anything is written.
    let split = load_data(&cfg.data)?;
    let device = reglab_train::device::autodiff_device(cfg.device).map_err(RunError::Input)?;
    let anchor = match &cfg.anchor {
        Some(p) => Some(tensorfile::read(p).map_err(|e| RunError::Input(e.to_string()))?),
        None => None,
    };
    let steps = (split.train.len().div_ceil(cfg.train.batch.max(1)) * cfg.train.epochs) as u64;
    let mut trainer = Trainer::new(&cfg.train, &split.train.example_shape, split.train.classes, &device, anchor.as_deref(), steps)
        .map_err(|e| RunError::Input(e.to_string()))?;

    std::fs::create_dir_all(out).map_err(|e| RunError::Input(format!("{}: {e}", out.display())))?;
    for stale in ["metrics.json", "timing.json", "regularizers.safetensors"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let toml = toml::to_string(cfg).map_err(|e| RunError::Failed(e.to_string()))?;
    crate::rundir::write_text(&out.join("config.toml"), &toml)?;
    let ckpt = out.join("model.safetensors");
    tensorfile::write(&out.join("init.safetensors"), &trainer.reg().anchor_pytorch()).map_err(|e| RunError::Failed(e.to_string()))?;
    tensorfile::write(&ckpt, &trainer.net.to_pytorch()).map_err(|e| RunError::Failed(e.to_string()))?;

    let mut epoch_seconds = Vec::new();
    let mut train_seconds = 0.0;
    let mut last_good = 0usize;
    let mut te = Instant::now();
    let reg_ckpt = out.join("regularizers.safetensors");
    let result = trainer.fit(&split.train, &split.test, progress, &mut |t: &Trainer, m: &EpochMetrics| {
        tensorfile::write(&ckpt, &t.net.to_pytorch()).map_err(|e| TrainError::Other(e.to_string()))?;
        let state = t.reg().set().state();
        if !state.is_empty() {
            tensorfile::write(&reg_ckpt, &state).map_err(|e| TrainError::Other(e.to_string()))?;
        }
        last_good = m.epoch;
        let s = te.elapsed().as_secs_f64();
        epoch_seconds.push(s);
        train_seconds += s;
        te = Instant::now();
        Ok(())
    });
    let epochs = match result {
        Ok(e) => e,
        Err(e @ TrainError::NonFinite { .. }) => {
            let kept = if last_good == 0 { "the initial weights".to_string() } else { format!("epoch {last_good}") };
            return Err(RunError::Failed(format!("{e}; stopped, the last good checkpoint ({kept}) is in {}", ckpt.display())));
        }
        Err(TrainError::Config(m)) => return Err(RunError::Input(m)),
        Err(e) => return Err(RunError::Failed(e.to_string())),
    };
    let metrics = Metrics {
        data: cfg.data.clone(),
        model: cfg.train.model.to_string(),
        regs: cfg.train.regs.iter().map(|s| s.raw().to_string()).collect(),
        seed: cfg.train.seed,
        train_examples: split.train.len(),
        test_examples: split.test.len(),
        test_accuracy: epochs.last().map(|m| m.test_accuracy).unwrap_or(0.0),
        epochs,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    write_json(
        &out.join("timing.json"),
        &Timing { steps_per_second: trainer.steps_done() as f64 / train_seconds.max(1e-9), epoch_seconds, total_seconds: t0.elapsed().as_secs_f64() },
    )?;
    Ok(metrics)
}

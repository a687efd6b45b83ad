//! `reglab train`.

use crate::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use reglab_lab::train_run::{self, RunConfig, RunError};
use reglab_train::device::DeviceKind;
use reglab_train::model::ModelSpec;
use reglab_train::optim::OptimSpec;
use reglab_train::prune::PruneSpec;
use reglab_train::reparam::ReparamSpec;
use reglab_train::trainer::{Progress, TrainConfig};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Train a classifier under regularizers and write a run directory.
///
/// Writes OUT/config.toml, OUT/init.safetensors, OUT/model.safetensors (PyTorch layout,
/// `layers.{i}.weight` [out, in]), OUT/metrics.json (no timings: same seed, same bytes) and
/// OUT/timing.json, and ends with `test_accuracy=<value>`.
#[derive(clap::Args)]
pub struct Args {
    /// digits (embedded, fixed 80/20 split) | mnist[:DIR] | fashion[:DIR] | synthetic[:OPTIONS] | sst2[:train=N,max_len=L,dir=DIR,tokenizer=FILE]; DIR defaults to $REGLAB_DATA/mnist, $REGLAB_DATA/fashion-mnist or $REGLAB_DATA/sst2 (sst2: token ids for bert, tokenizer $REGLAB_DATA/minilm/tokenizer.json).
    #[arg(long, default_value = "digits")]
    data: String,
    /// mlp:H1,H2,... or cnn[:C1,C2,...] or bert[:dir=DIR][,train=all|head|topK] (a pretrained BERT folder, default $REGLAB_DATA/minilm, with a linear head on the mean-pooled last hidden state; train=all fine-tunes every parameter, head is a linear probe on the frozen encoder, topK trains the top K layers and the head).
    #[arg(long, default_value = "mlp:128")]
    model: String,
    /// A regularizer NAME=λ[:key=value,...] (see `reglab list`); repeat for a sum.
    #[arg(long = "reg")]
    regs: Vec<String>,
    /// sgd[:MOMENTUM] | adam | adamw[:WEIGHT_DECAY] | adagrad[:EPS].
    #[arg(long, default_value = "adam")]
    optim: String,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Seed of the initialisation and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Anchor checkpoint W₀ for l2-init / wasserstein-init (default: the initial weights).
    #[arg(long)]
    anchor: Option<PathBuf>,
    /// Reparameterize every layer's weight: weight-norm[:init=data|none], spectral-norm,
    /// multipliers[:scalar|rowcol], lawn[:free=E:layers=K]. Checkpoints hold the effective
    /// weights under PyTorch names.
    #[arg(long)]
    reparam: Option<String>,
    /// Prune the layer weights (biases stay, except with fish): magnitude:sparsity=S:at=E (one-shot at the end of
    /// epoch E, then fine-tuning), magnitude:sparsity=S:schedule=gradual:start=E0:end=E1 (cubic
    /// schedule), options scope=global|layer; random:sparsity=S[:density=uniform|er|erk] (fixed
    /// mask from the seed at initialisation); skip_last=true keeps the last layer dense. Exactly
    /// round(S·n) of the n pruned entries are 0. fish:keep=K[:samples=N][:at=E][:biases=false]
    /// trains only the round(K·n) entries (weights and biases) of largest empirical Fisher on N
    /// (default 1024) training examples, computed before the first step (at=0) or after epoch E;
    /// the others are frozen at their value, not zeroed. Not with --reparam.
    #[arg(long)]
    prune: Option<String>,
    /// cpu | gpu (gpu needs a build with `--features gpu`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Run directory.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let model: ModelSpec = a.model.parse().map_err(Failure::input)?;
    let optim: OptimSpec = a.optim.parse().map_err(Failure::input)?;
    let device: DeviceKind = a.device.parse().map_err(Failure::input)?;
    let reparam: Option<ReparamSpec> = a.reparam.as_deref().map(str::parse).transpose().map_err(Failure::input)?;
    let prune: Option<PruneSpec> = a.prune.as_deref().map(str::parse).transpose().map_err(Failure::input)?;
    // Specs are parsed once, here, and checked, so a typo fails before the data is loaded.
    let mut regs = Vec::new();
    for r in &a.regs {
        let spec = reglab_core::Spec::parse(r).map_err(Failure::input)?;
        reglab_train::hook::registry::check(&spec).map_err(Failure::input)?;
        regs.push(spec);
    }
    let cfg = RunConfig {
        data: a.data.clone(),
        device,
        anchor: a.anchor.clone(),
        train: TrainConfig { model, optim, lr: a.lr, batch: a.batch, epochs: a.epochs, seed: a.seed, regs, reparam, prune },
    };
    let show = !a.quiet && std::io::stderr().is_terminal();
    let bar = if show { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})").expect("template").progress_chars("=> "),
    );
    let epochs = a.epochs;
    let mut progress = |p: Progress<'_>| match p {
        Progress::EpochStart { epoch, steps } => {
            bar.reset();
            bar.set_length(steps as u64);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        }
        Progress::Step { loss, step, .. } => {
            bar.set_position(step as u64);
            if step % 10 == 0 {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
        Progress::EpochEnd(m) => {
            let regs: String = m.reg.iter().map(|(k, v)| format!(" {k}={v:.4e}")).collect();
            bar.println(format!(
                "epoch {:>3}  train_loss={:.4}  train_acc={:.4}  test_loss={:.4}  test_acc={:.4}{regs}",
                m.epoch, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy
            ));
        }
    };
    let r = train_run::run(&cfg, &a.out, &mut progress);
    bar.finish_and_clear();
    let m = r.map_err(|e| match e {
        RunError::Input(m) => Failure::input(m),
        RunError::Failed(m) => Failure::failed(m),
    })?;
    if !show {
        // Without a terminal, print the per-epoch lines plainly (they went to the bar above).
        for e in &m.epochs {
            let regs: String = e.reg.iter().map(|(k, v)| format!(" {k}={v:.4e}")).collect();
            println!(
                "epoch {:>3}  train_loss={:.4}  train_acc={:.4}  test_loss={:.4}  test_acc={:.4}{regs}",
                e.epoch, e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy
            );
        }
    }
    println!("wrote {}", a.out.display());
    println!("test_accuracy={}", m.test_accuracy);
    Ok(())
}

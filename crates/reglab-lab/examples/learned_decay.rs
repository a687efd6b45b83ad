//! A demonstration of learned per-layer weight decay by IFT hypergradients
//! ([`reglab_train::hypergrad::tune`], Lorraine, Vicol & Duvenaud 2020, Algorithm 1) on MNIST:
//! an MLP 256-256 trained on `N_TRAIN` examples of MNIST's training set, the decay learned on
//! the next `N_VAL` (a fixed seeded permutation of the 60,000; the test set is untouched until
//! the end). Prints one row per hyper-step and the compute spent, in gradient evaluations and
//! examples, beside that of a grid of 8 runs of the same length. Not the experiment of issue 18
//! (no grid is run here).
//!
//! `cargo run --release -p reglab-lab --example learned_decay -- [N_TRAIN N_VAL HYPER_STEPS T K]`
//! (defaults 10000 5000 20 100 20; MNIST from `$REGLAB_DATA/mnist`).

use reglab_lab::data::{DataSource, seeded_permutation};
use reglab_train::hypergrad::{HyperOptim, IftOptions, TuneOptions, tune};
use reglab_train::optim::OptimSpec;
use reglab_train::trainer::TrainConfig;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<usize> =
        std::env::args().skip(1).map(|a| a.parse::<usize>().map_err(|_| format!("`{a}` is not a count"))).collect::<Result<_, _>>()?;
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (n_train, n_val, hyper_steps, t, k) = (arg(0, 10_000), arg(1, 5_000), arg(2, 20), arg(3, 100), arg(4, 20));
    let split = DataSource::Mnist(None).load().map_err(|e| e.to_string())?;
    if n_train + n_val > split.train.len() {
        return Err(format!("{n_train} + {n_val} examples asked of {} training examples", split.train.len()));
    }
    let perm = seeded_permutation(split.train.len(), 18);
    let train = split.train.subset(&perm[..n_train], "mnist/train-part");
    let val = split.train.subset(&perm[n_train..n_train + n_val], "mnist/validation");
    let cfg = TrainConfig {
        model: "mlp:256,256".parse()?,
        optim: OptimSpec::Sgd { momentum: 0.9 },
        lr: 0.05,
        batch: 128,
        epochs: 1,
        seed: 1,
        regs: vec![],
        reparam: None,
        prune: None,
    };
    let o = TuneOptions {
        lambda0: vec![1e-3],
        anchor_init: false,
        penalty: reglab_train::hypergrad::tune::TunedPenalty::L2,
        steps_per_hyper: t,
        hyper_steps,
        hyper_lr: 0.1,
        hyper_optim: HyperOptim::Adam,
        ift: IftOptions { alpha: cfg.lr, k, eps_rel: reglab_train::hypergrad::hvp::DEFAULT_EPS_REL },
        hessian_batch: Some(256),
        val_batch: Some(1000),
    };
    let dev = burn::tensor::Device::flex().autodiff();
    let start = std::time::Instant::now();
    let (trainer, r) = tune(&cfg, &train, &val, &o, &dev).map_err(|e| e.to_string())?;
    println!("hyper-step\tsteps\tval_loss\tval_acc\tλ ({})\tdL_V/dθ", r.groups.join(", "));
    for rec in &r.records {
        let f = |v: &[f64]| v.iter().map(|x| format!("{x:.3e}")).collect::<Vec<_>>().join(" ");
        println!("{}\t{}\t{:.4}\t{:.4}\t{}\t{}", rec.hyper_step, rec.train_steps, rec.val_loss, rec.val_accuracy, f(&rec.lambda), f(&rec.hypergrad));
    }
    let last = r.records.last().ok_or("no hyper-step")?;
    let (test_loss, test_acc) = trainer.evaluate(&split.test);
    let steps = last.train_steps;
    println!(
        "test loss {test_loss:.4}, accuracy {test_acc:.4}; {:.0} s; compute: {} gradient evaluations, {} examples; \
         a grid of 8 runs of {steps} steps: {} evaluations, {} examples (ratio {:.2})",
        start.elapsed().as_secs_f64(),
        last.grad_evals,
        last.examples,
        8 * steps,
        8 * steps * cfg.batch as u64,
        last.examples as f64 / (8 * steps * cfg.batch as u64) as f64
    );
    Ok(())
}

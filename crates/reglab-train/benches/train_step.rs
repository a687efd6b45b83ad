//! One regularized training step of the MLP 784-400-400-10, without a regularizer and with
//! each registry entry, so the report lists `step/none`, `step/l2`, ... side by side.
//!
//! `Trainer::step` on one fixed mini-batch of 128 random inputs in [0, 1] with random labels:
//! forward, cross-entropy, backward, the regularizers' analytic gradients, Adam (lr 1e-3) and
//! the proximal steps, on `Device::flex().autodiff()`. Each regularizer acts on the three layer
//! weights (the default selection) at strength 1e-4. Every trainer takes one step before
//! measuring (Adam's moments and the regularizers' state exist from then on). The `prune …`
//! runs hold a 90 % mask on every layer weight (gradients and weights masked each step), or a
//! FISH mask that freezes 99.5 % of the parameters (made from the batch's 128 examples before
//! timing; gradients masked and frozen entries written back each step).
//!
//! `prune/…`: the pruning masks' own work, on the same MLP. `mask-gradients/<spec>` and
//! `apply/<spec>` are the two per-step operations that `step/prune …` contains (`g ← g ⊙ M`
//! on the gradients of one backward pass; `W ← W ⊙ M` or, for FISH, `θ ← θ ⊙ M + F`);
//! `fisher/128-samples` is FISH's one-off empirical Fisher, one batch-1 forward and backward
//! pass per sample (throughput in samples per second).
//!
//! `batch/…`: the output terms (on the logits), the data perturbations and dropout, through
//! `Trainer::train_batch` on the same 128 examples read as 1×28×28 images, against `batch/none`.
//!
//! Run: `RAYON_NUM_THREADS=1 cargo bench -p reglab-train --bench train_step`
//! (or `bench/run.sh` for both benches and the overhead of each regularizer over `step/none`).

use burn::optim::GradientsParams;
use burn::tensor::Device;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reglab_core::Dataset;
use reglab_core::testing::random_vec;
use reglab_regularizers::ENTRIES;
use reglab_train::hook::prune::PruneHook;
use reglab_train::model::Net;
use reglab_train::optim::OptimSpec;
use reglab_train::prune::{Masks, PruneSpec, fish};
use reglab_train::trainer::{TrainConfig, Trainer};
use std::hint::black_box;
use std::time::Duration;

// As in the CLI: mimalloc makes burn's step ~1.5× faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 128;
const INPUT: usize = 784;
const CLASSES: usize = 10;
const STRENGTH: &str = "1e-4";

/// One fixed mini-batch: inputs uniform in [0, 1], labels uniform in 0..10.
fn batch() -> Dataset {
    let features = random_vec(BATCH * INPUT, 0.5, 11).into_iter().map(|v| v + 0.5).collect();
    let labels = random_vec(BATCH, 0.5, 12).into_iter().map(|v| (((v + 0.5) * CLASSES as f32) as u8).min(CLASSES as u8 - 1)).collect();
    Dataset { name: "bench".into(), example_shape: vec![INPUT], features, labels, classes: CLASSES }
}

/// The benched model: MLP 784-400-400-10, Adam lr 1e-3, batch 128.
fn mlp_config(regs: Vec<String>, reparam: Option<reglab_train::reparam::ReparamSpec>, prune: Option<reglab_train::prune::PruneSpec>) -> TrainConfig {
    let regs = regs.iter().map(|r| reglab_core::Spec::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"))).collect();
    TrainConfig { model: "mlp:400,400".parse().unwrap(), optim: OptimSpec::Adam, lr: 1e-3, batch: BATCH, epochs: 1, seed: 0, regs, reparam, prune }
}

fn bench_step(c: &mut Criterion) {
    let dev = Device::flex().autodiff();
    let data = batch();
    let idx: Vec<usize> = (0..BATCH).collect();
    let mut group = c.benchmark_group("step");
    group.sample_size(30).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(5));
    // Entries that cannot build from defaults (a required option, e.g. a matrix file) are
    // benched per layer in `regularizers.rs` only.
    let runs = std::iter::once(("none".to_string(), Vec::new(), None, None))
        .chain(ENTRIES.iter().filter(|e| !e.options.contains("(required)")).map(|e| {
            // group-orth: 16 groups divide the 400-unit layers (the default 32 do not)
            let opts = if e.name == "group-orth" { ":groups=16" } else { "" };
            (e.name.to_string(), vec![format!("{}={STRENGTH}{opts}", e.name)], None, None)
        }))
        .chain(
            ["weight-norm", "spectral-norm", "multipliers:scalar", "multipliers:rowcol", "lawn:free=0:layers=2"]
                .into_iter()
                .map(|r| (format!("reparam {r}"), Vec::new(), Some(r.parse::<reglab_train::reparam::ReparamSpec>().unwrap()), None)),
        )
        // masks on every layer weight: the magnitude and FISH masks are made below (`make_mask`)
        .chain(PRUNE.into_iter().map(|p| (format!("prune {p}"), Vec::new(), None, Some(p.parse::<reglab_train::prune::PruneSpec>().unwrap()))));
    for (name, regs, reparam, prune) in runs {
        let name = name.as_str();
        let cfg = mlp_config(regs, reparam, prune);
        let mut t = Trainer::new(&cfg, &[INPUT], CLASSES, &dev, None, 1_000_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some((h, net)) = t.hook_and_net_mut::<PruneHook>() {
            make_mask(&mut h.masks, net, &data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let (x, y) = t.batch_tensors(&data, &idx);
        t.step(x.clone(), y.clone()).unwrap_or_else(|e| panic!("{name}: {e}")); // warm-up
        group.bench_function(name, |b| b.iter(|| black_box(t.step(x.clone(), y.clone()).unwrap_or_else(|e| panic!("{name}: {e}")))));
    }
    group.finish();
}

/// The benched pruning specs: a magnitude mask (made at the end of epoch 1), a random ERK mask
/// (drawn when the trainer is built), a FISH mask (made before the first step).
const PRUNE: [&str; 3] = ["magnitude:sparsity=0.9:at=1", "random:sparsity=0.9:density=erk", "fish:keep=0.005:samples=128"];

/// Make the masks of `p` as training would by the end of epoch 1, on `data`.
fn make_mask(p: &mut Masks, net: &mut Net, data: &Dataset) -> Result<(), String> {
    p.start_of_epoch(net, data, 1)?;
    p.end_of_epoch(net, 1, data)
}

/// The masks' per-step operations alone, and FISH's Fisher estimate.
fn bench_prune(c: &mut Criterion) {
    let dev = Device::flex().autodiff();
    let data = batch();
    let idx: Vec<usize> = (0..BATCH).collect();
    let mut group = c.benchmark_group("prune");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for p in PRUNE {
        let cfg = mlp_config(Vec::new(), None, Some(p.parse::<PruneSpec>().unwrap()));
        let mut t = Trainer::new(&cfg, &[INPUT], CLASSES, &dev, None, 1_000_000).unwrap_or_else(|e| panic!("{p}: {e}"));
        let (h, net) = t.hook_and_net_mut::<PruneHook>().expect("a pruning spec gives masks");
        make_mask(&mut h.masks, net, &data).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(h.masks.made(), "{p}: no mask");
        let (x, _) = t.batch_tensors(&data, &idx);
        let out = t.net.forward(x);
        let mut grads = GradientsParams::from_grads((out.clone() * out).sum().backward(), &t.net);
        let masks = t.prune().unwrap();
        group.bench_function(BenchmarkId::new("mask-gradients", p), |b| {
            b.iter(|| masks.mask_gradients(black_box(&t.net), &mut grads).unwrap_or_else(|e| panic!("{p}: {e}")))
        });
        let mut net = t.net.clone();
        group.bench_function(BenchmarkId::new("apply", p), |b| b.iter(|| masks.apply(black_box(&mut net)).unwrap_or_else(|e| panic!("{p}: {e}"))));
    }
    // the Fisher of FISH on every example of the batch, one at a time
    let spec: PruneSpec = "fish:keep=0.005:samples=128".parse().unwrap();
    let t = Trainer::new(&mlp_config(Vec::new(), None, Some(spec)), &[INPUT], CLASSES, &dev, None, 1_000_000).unwrap();
    let layers = t.prune().unwrap().selected();
    let order = fish::sample_indices(data.len(), BATCH, 0);
    group.sample_size(10).measurement_time(Duration::from_secs(5)).throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("fisher", format!("{BATCH}-samples")), |b| {
        b.iter(|| fish::empirical_fisher(black_box(&t.net), &data, &order, &layers, true).unwrap())
    });
    group.finish();
}

/// Terms that act on the batch, the logits or the forward pass, through `Trainer::train_batch`
/// (the batch is built from the data set each step, so `batch/none` is their baseline, not
/// `step/none`). Images: the 128 inputs read as 1×28×28 for cutout.
fn bench_batch(c: &mut Criterion) {
    let dev = Device::flex().autodiff();
    let data = Dataset { example_shape: vec![1, 28, 28], ..batch() };
    let idx: Vec<usize> = (0..BATCH).collect();
    let mut group = c.benchmark_group("batch");
    group.sample_size(30).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(5));
    let runs: Vec<(&str, Vec<String>)> = std::iter::once(("none", Vec::new()))
        .chain(
            [
                ("label-smoothing", "label-smoothing=0.1"),
                ("confidence-penalty", "confidence-penalty=0.1"),
                ("spectral-decoupling", "spectral-decoupling=0.1"),
                ("elr", "elr=3:beta=0.7"),
                ("cutout", "cutout=12"),
                ("mixup", "mixup=1"),
                ("input-noise", "input-noise=0.1"),
                ("dropout", "dropout=0.5"),
                ("mixout", "mixout=0.1"),
                ("sam", "sam=0.05"),
                ("amp", "amp=0.5"),
                ("grad-norm", "grad-norm=0.01"),
            ]
            .into_iter()
            .map(|(n, s)| (n, vec![s.to_string()])),
        )
        // the baseline again, last: the drift of the machine over the group
        .chain(std::iter::once(("none-again", Vec::new())))
        .collect();
    for (name, regs) in runs {
        let cfg = mlp_config(regs, None, None);
        let mut t = Trainer::new(&cfg, &[1, 28, 28], CLASSES, &dev, None, 1_000_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        t.train_batch(&data, &idx).unwrap_or_else(|e| panic!("{name}: {e}")); // warm-up
        group.bench_function(name, |b| b.iter(|| black_box(t.train_batch(&data, &idx).unwrap_or_else(|e| panic!("{name}: {e}")))));
    }
    group.finish();
}

criterion_group!(benches, bench_step, bench_prune, bench_batch);
criterion_main!(benches);

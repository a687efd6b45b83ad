//! What adversarial training costs: one `Trainer::train_batch` step of the small CNN (3×3 conv
//! 16 → pool → 3×3 conv 32 → pool → linear, as in `experiments/catastrophic-overfitting.toml`)
//! on 100 fixed 1×28×28 inputs in [0, 1] with random labels, Adam lr 1e-3, ε = 0.3, for each
//! method of the `adversarial` family, against the plain step (`adv/none`, measured first and
//! again last for the drift of the machine) and against PGD-10-AT, in one run.
//!
//! Run: `RAYON_NUM_THREADS=1 cargo bench -p reglab-train --bench adversarial`
//! (or `bench/run.sh adv/` for the table with both ratios).

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use reglab_core::Dataset;
use reglab_core::testing::random_vec;
use reglab_train::optim::OptimSpec;
use reglab_train::trainer::{TrainConfig, Trainer};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 100;
const CLASSES: usize = 10;

/// One fixed mini-batch: 1×28×28 inputs uniform in [0, 1], labels uniform in 0..10.
fn batch() -> Dataset {
    let features = random_vec(BATCH * 784, 0.5, 11).into_iter().map(|v| v + 0.5).collect();
    let labels = random_vec(BATCH, 0.5, 12).into_iter().map(|v| (((v + 0.5) * CLASSES as f32) as u8).min(CLASSES as u8 - 1)).collect();
    Dataset { name: "bench".into(), example_shape: vec![1, 28, 28], features, labels, classes: CLASSES }
}

/// The benched methods at ε = 0.3 with the experiment's strengths.
const RUNS: [(&str, &[&str]); 10] = [
    ("none", &[]),
    ("fgsm-at", &["fgsm-at=0.3"]),
    ("fgsm-rs-at", &["fgsm-rs-at=0.3"]),
    ("aaer", &["aaer=1:eps=0.3"]),
    ("fgsm-at+elle", &["fgsm-at=0.3", "elle=10000"]),
    ("fgsm-at+elle-a", &["fgsm-at=0.3", "elle-a=4000"]),
    ("trades", &["trades=6:eps=0.3"]),
    ("arow", &["arow=6:eps=0.3"]),
    ("pgd-at", &["pgd-at=0.3"]),
    ("none-again", &[]),
];

fn bench_adversarial(c: &mut Criterion) {
    let dev = Device::flex().autodiff();
    let data = batch();
    let idx: Vec<usize> = (0..BATCH).collect();
    let mut group = c.benchmark_group("adv");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6));
    for (name, regs) in RUNS {
        let regs = regs.iter().map(|r| reglab_core::Spec::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"))).collect();
        let cfg = TrainConfig {
            model: "cnn:16,32".parse().unwrap(),
            optim: OptimSpec::Adam,
            lr: 1e-3,
            batch: BATCH,
            epochs: 1,
            seed: 0,
            regs,
            reparam: None,
            prune: None,
        };
        let mut t = Trainer::new(&cfg, &[1, 28, 28], CLASSES, &dev, None, 1_000_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        t.train_batch(&data, &idx).unwrap_or_else(|e| panic!("{name}: {e}")); // warm-up
        group.bench_function(name, |b| b.iter(|| black_box(t.train_batch(&data, &idx).unwrap_or_else(|e| panic!("{name}: {e}")))));
    }
    group.finish();
}

criterion_group!(benches, bench_adversarial);
criterion_main!(benches);

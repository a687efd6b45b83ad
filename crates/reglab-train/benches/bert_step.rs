//! One fine-tuning step of the BERT classifier (all-MiniLM-L6-v2: 6 layers, hidden 384, 22.7 M
//! parameters, and a linear head): forward, cross-entropy, backward and AdamW (lr 5e-5, weight
//! decay 0.01) on a fixed batch of 32 sequences of exactly 64 tokens (`[CLS]`, 62 word pieces of
//! real sentences, `[SEP]`; no padding), through `Trainer::step` on `Device::flex().autodiff()`.
//! Throughput in tokens (32 × 64 per step). `bench/compare/bert_step_torch.py` times the same
//! step in PyTorch (`--batch 32 --seq 64`); `bench/compare/bert_step.sh` runs both.
//!
//! Needs `$REGLAB_DATA/minilm`; without it the bench prints why and measures nothing.
//! Run: `RAYON_NUM_THREADS=1 REGLAB_DATA=… cargo bench -p reglab-train --bench bert_step`.

use burn::tensor::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reglab_core::Dataset;
use reglab_train::model::ModelSpec;
use reglab_train::optim::OptimSpec;
use reglab_train::trainer::{TrainConfig, Trainer};
use std::hint::black_box;
use std::time::Duration;

// As in the CLI.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 32;
const SEQ: usize = 64;

/// 32 × 64 token ids: the fixture's word pieces (without [CLS]/[SEP]) in a cycle, each row
/// `[CLS] … [SEP]`.
fn batch_ids() -> Vec<f32> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minilm_reference.json")).expect("fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let pieces: Vec<f32> = v["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .flat_map(|s| {
            let ids: Vec<f32> = s["ids"].as_array().expect("ids").iter().map(|x| x.as_u64().expect("id") as f32).collect();
            ids[1..ids.len() - 1].to_vec()
        })
        .collect();
    let mut out = Vec::with_capacity(BATCH * SEQ);
    let mut k = 0;
    for _ in 0..BATCH {
        out.push(101.0);
        for _ in 0..SEQ - 2 {
            out.push(pieces[k % pieces.len()]);
            k += 1;
        }
        out.push(102.0);
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(root) = std::env::var_os("REGLAB_DATA").filter(|v| !v.is_empty()) else {
        eprintln!("bert_step: REGLAB_DATA is not set; nothing measured");
        return;
    };
    let dir = std::path::PathBuf::from(root).join("minilm");
    if !dir.join("model.safetensors").is_file() {
        eprintln!("bert_step: no {}; nothing measured", dir.display());
        return;
    }
    let cfg = TrainConfig {
        model: ModelSpec::Bert { dir: Some(dir), train: Default::default() },
        optim: OptimSpec::Adamw { weight_decay: 0.01 },
        lr: 5e-5,
        batch: BATCH,
        epochs: 1,
        seed: 0,
        regs: vec![],
        reparam: None,
        prune: None,
    };
    let dev = Device::flex().autodiff();
    let mut t = Trainer::new(&cfg, &[SEQ], 2, &dev, None, 1_000_000).expect("trainer");
    let data = Dataset {
        name: "bench".into(),
        example_shape: vec![SEQ],
        features: batch_ids(),
        labels: (0..BATCH).map(|i| (i % 2) as u8).collect(),
        classes: 2,
    };
    let idx: Vec<usize> = (0..BATCH).collect();
    let (x, y) = t.batch_tensors(&data, &idx);
    t.step(x.clone(), y.clone()).expect("warm-up step");
    let mut group = c.benchmark_group("bert_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(3)).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements((BATCH * SEQ) as u64));
    group.bench_function("minilm-l6/b32-s64/adamw", |b| b.iter(|| black_box(t.step(x.clone(), y.clone()).expect("step"))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cost of every regularizer in the registry on one layer, as training calls it.
//!
//! For each entry of [`reglab_regularizers::ENTRIES`] (a new regularizer gets its rows here
//! without touching this file) and for the weights of burn's 400→400 and 784→400 `Linear`
//! (PyTorch shapes `[400, 400]` and `[400, 784]`, stored transposed as burn stores them, with
//! a bias `[400]` and an initial-value tensor beside them):
//!
//! - `reg-grad/<name>/<shape>`: one `Regularizer::eval` in `Mode::Step` with scale 1 and a
//!   gradient buffer (value and (sub)gradient, weight and bias);
//! - `reg-prox/<name>/<shape>`: for regularizers with a proximal step, one `Regularizer::prox`
//!   with step `η·λ` (η = 1e-3, λ = 1e-3), each on a fresh copy of the same weights.
//!
//! Entries with a required option get one here: `cs-eig` a matrix `C = I + small symmetric
//! noise` of the row length (400 or 784), written to a temporary CSV.
//!
//! - `reg-rows/<name>/<out>x784`: `mhe` and `soft-orth` on 400 and 4,000 rows (pairwise cost).
//!
//! Every regularizer is called once before measuring, so those with persistent state (the
//! power-iteration vectors of `spectral`) are measured in steady state.
//!
//! These rows are the measurements of record for one layer at default options, e.g.
//! `reg-grad/soft-orth/400x784`, `reg-grad/ortho-offdiag/400x784`, `reg-grad/cs-binary/400x784`,
//! `reg-grad/cs-eig/400x784` (a 784×784 `C`; its cost, two GEMMs with `C`, does not depend on
//! `C`'s values) and `reg-rows/mhe/…` (`s=2`, full space). Other option sets and settings
//! (group-orth's variants with 25 groups, mhe `s=a0` in half space, conv-orth's strides and
//! paddings on a conv kernel, wasserstein-init and spectral on the whole MLP, hypersparse's global
//! threshold through a `RegSet`) are in `cargo bench -p reglab-regularizers --bench variants`.
//!
//! Run: `RAYON_NUM_THREADS=1 cargo bench -p reglab-train --bench regularizers`
//! (or `bench/run.sh` for both benches and a table of medians).

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use reglab_core::testing::{Case, random_vec};
use reglab_core::{Layout, Mode, Regularizer, Spec, TargetGrad, TargetMut};
use reglab_regularizers::{ENTRIES, Entry};
use std::hint::black_box;
use std::time::Duration;

// As in the CLI: burn and the regularizers allocate, and the allocator changes the timings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Strength in the spec (the regularizers themselves compute the bare `r`; it only matters to
/// builders that validate it).
const LAMBDA: &str = "1e-3";
/// Learning rate times λ: the step training passes to `prox`.
const PROX_STEP: f32 = 1e-3 * 1e-3;
/// PyTorch shapes `[out, in]` of the benched weights.
const SHAPES: [[usize; 2]; 2] = [[400, 400], [400, 784]];

/// A layer as training hands it to a regularizer: weight and init stored transposed
/// (`Layout::Transposed`, burn's `[in, out]`), bias `[out]`, PyTorch-default init scale.
fn layer(shape: [usize; 2], seed: u64) -> Case {
    let [out, inp] = shape;
    let k = 1.0 / (inp as f32).sqrt();
    Case {
        name: "layers.0.weight".into(),
        shape: shape.to_vec(),
        layout: Layout::RowMajor,
        weight: random_vec(out * inp, k, seed),
        bias: Some(random_vec(out, k, seed + 1)),
        init: Some(random_vec(out * inp, k, seed + 2)),
    }
    .transposed()
}

/// Build `e` for a weight with rows of length `cols`, from `NAME=λ` with its default options.
/// Entries with a required option (`(required)` in their options) get a value here, or are
/// skipped (`None`) when the bench does not know one.
fn build(e: &Entry, cols: usize) -> Option<Box<dyn Regularizer>> {
    let name = e.name;
    let mut spec = format!("{name}={LAMBDA}{}", bench_options(name));
    let mut file = None;
    if e.options.contains("(required)") {
        match name {
            // C [in, in]: identity plus a small random symmetric matrix, written as a CSV
            "cs-eig" => {
                let path = eig_matrix_csv(cols);
                spec += &format!(":c={}", path.display());
                file = Some(path);
            }
            _ => {
                eprintln!("{name}: has a required option this bench does not provide, skipped");
                return None;
            }
        }
    }
    let spec = Spec::parse(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
    let reg = reglab_regularizers::build(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
    if let Some(path) = file {
        let _ = std::fs::remove_file(path); // read at build time
    }
    Some(reg)
}

/// Options for entries whose defaults do not fit the benched 400-row layers: `group-orth`'s
/// default 32 groups do not divide 400 (the official code refuses that too), 16 do.
fn bench_options(name: &str) -> &'static str {
    match name {
        "group-orth" => ":groups=16",
        _ => "",
    }
}

/// A CSV file holding `I + (R + Rᵀ)/2` with `R` uniform in `[-0.01, 0.01)`, `n×n`.
fn eig_matrix_csv(n: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("reglab-bench-cs-eig-{}-{n}.csv", std::process::id()));
    let r = random_vec(n * n, 0.01, 7);
    let mut text = String::with_capacity(n * n * 12);
    for i in 0..n {
        let row: Vec<String> = (0..n).map(|j| format!("{:e}", 0.5 * (r[i * n + j] + r[j * n + i]) + if i == j { 1.0 } else { 0.0 })).collect();
        text += &row.join(",");
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    path
}

fn label(shape: [usize; 2]) -> String {
    format!("{}x{}", shape[0], shape[1])
}

fn bench_grad(c: &mut Criterion) {
    let mut group = c.benchmark_group("reg-grad");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for (s, &shape) in SHAPES.iter().enumerate() {
        let case = layer(shape, 100 * s as u64);
        let target = case.target();
        assert_eq!(target.weight.layout, Layout::Transposed);
        for e in ENTRIES {
            let Some(mut reg) = build(e, shape[1]) else { continue };
            if !reg.accepts(&target.weight) {
                eprintln!("reg-grad/{}: does not act on a {shape:?} weight, skipped", e.name);
                continue;
            }
            let mut gw = vec![0.0f32; case.weight.len()];
            let mut gb = vec![0.0f32; shape[0]];
            let mut eval = |reg: &mut dyn Regularizer| {
                let mut g = TargetGrad { weight: &mut gw, bias: Some(&mut gb) };
                reg.eval(black_box(&target), Some(&mut g), 1.0, Mode::Step).unwrap_or_else(|err| panic!("{}: {err}", e.name))
            };
            let v = eval(reg.as_mut()); // warm-up: persistent state reaches its steady state
            assert!(v.is_finite(), "{}: r = {v}", e.name);
            group.bench_function(BenchmarkId::new(e.name, label(shape)), |b| b.iter(|| black_box(eval(reg.as_mut()))));
        }
    }
    group.finish();
}

fn bench_prox(c: &mut Criterion) {
    let mut group = c.benchmark_group("reg-prox");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for (s, &shape) in SHAPES.iter().enumerate() {
        let case = layer(shape, 100 * s as u64);
        for e in ENTRIES {
            let Some(mut reg) = build(e, shape[1]) else { continue };
            if !reg.has_prox() || !reg.accepts(&case.target().weight) {
                continue;
            }
            let prox = |reg: &mut dyn Regularizer, w: &mut [f32]| {
                let mut t = TargetMut { name: &case.name, role: case.target().role, shape: &case.shape, layout: case.layout, weight: w };
                reg.prox(&mut t, PROX_STEP).unwrap_or_else(|err| panic!("{}: {err}", e.name))
            };
            prox(reg.as_mut(), &mut case.weight.clone()); // warm-up
            group.bench_function(BenchmarkId::new(e.name, label(shape)), |b| {
                b.iter_batched_ref(|| case.weight.clone(), |w| prox(reg.as_mut(), black_box(w)), BatchSize::LargeInput)
            });
        }
    }
    group.finish();
}

/// `reg-rows/<name>/<out>x784`: the pairwise regularizers (O(out²·in)) against the number of
/// rows, 400 and 4,000, with soft-orth (also a Gram matrix) beside them.
fn bench_rows(c: &mut Criterion) {
    let mut group = c.benchmark_group("reg-rows");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    for out in [400usize, 4000] {
        let case = layer([out, 784], 7 + out as u64);
        let target = case.target();
        for name in ["mhe", "soft-orth"] {
            let e = ENTRIES.iter().find(|e| e.name == name).expect("registered");
            let mut reg = build(e, 784).expect("builds");
            let mut gw = vec![0.0f32; case.weight.len()];
            let mut gb = vec![0.0f32; out];
            group.bench_with_input(BenchmarkId::new(name, format!("{out}x784")), &(), |b, _| {
                b.iter(|| {
                    let mut g = TargetGrad { weight: &mut gw, bias: Some(&mut gb) };
                    black_box(reg.eval(&target, Some(&mut g), 1.0, Mode::Step).unwrap())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_grad, bench_prox, bench_rows);
criterion_main!(benches);

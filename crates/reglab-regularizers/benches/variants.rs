//! Cost of the regularizers' option sets and settings that the registry-wide bench
//! (`reglab-train`'s `regularizers.rs`: every entry with its default options, `eval` and `prox`
//! on one `[400, 400]` and one `[400, 784]` layer, plus `reg-rows` for `mhe` and `soft-orth` at
//! 400 and 4,000 rows) does not measure. One group per regularizer; each id is an option set
//! and a shape:
//!
//! - `group-orth/<variant>:groups=25/400x784`: `inter` and `intra` with 25 groups of 16 rows
//!   (the registry bench uses 16 groups of 25 rows, `inter`).
//! - `mhe/s=a0:half=true/<out>x784`: the angular energy in half space (`2N` points, one
//!   `arccos` per pair), 400 and 4,000 rows; the default `s=2`, full space, at the same shapes
//!   is `reg-rows/mhe/…` in the registry bench.
//! - `conv-orth/<options>/32x16x3x3`: stride 1 with the default full padding, stride 1 with
//!   padding 1, stride 2 with padding 1, on a `[32, 16, 3, 3]` kernel (on the benched `Linear`
//!   layers `conv-orth` is a no-op).
//! - `wasserstein-init/default/784-400-400-10`: one training step's calls on the three weights of the
//!   MLP (477,600 entries, each sorted per call; `sort(W₀)` cached per tensor), weights `W₀`
//!   plus small noise.
//! - `hypersparse/global/400x784+400x400`: the default global scope through a `RegSet` (its
//!   `prepare` pass finds the threshold over both weights, then each weight's gradient).
//! - `spectral/step-<layout>/784-400-400-10`: `spectral=…:k=2` in `Mode::Step` (one power
//!   iteration per call) on the MLP's three weights with their biases, in burn's transposed
//!   storage and in row-major storage.
//!
//! Every call is `Regularizer::eval` (or `RegSet::eval`) with a gradient buffer, in
//! `Mode::Step`, on weights as training stores them (`Layout::Transposed` for `Linear`, uniform
//! in `±1/√in`) after one warm-up call, so persistent state (scratch buffers, sorted inits,
//! power-iteration vectors) is in its steady state.
//!
//! Run: `cargo bench -p reglab-regularizers --bench variants` (a filter such as `-- mhe`
//! selects groups).

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use reglab_core::testing::{Case, random_vec};
use reglab_core::{Layout, Mode, Regularizer, Selection, Spec, TargetGrad};
use std::hint::black_box;
use std::time::Duration;

/// The MLP 784-400-400-10's weights, PyTorch shapes `[out, in]`.
const MLP: [[usize; 2]; 3] = [[400, 784], [400, 400], [10, 400]];

/// Build a registry entry from a spec string.
fn build(spec: &str) -> Box<dyn Regularizer> {
    let spec = Spec::parse(spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
    reglab_regularizers::build(&spec).unwrap_or_else(|err| panic!("{}: {err}", spec.raw()))
}

/// A `Linear` weight `name` of PyTorch shape `[out, in]`, uniform in `±1/√in`, no bias, in
/// row-major (PyTorch) storage.
fn row_major(name: &str, shape: [usize; 2], seed: u64) -> Case {
    let [out, inp] = shape;
    Case::from_weights(name, &shape, random_vec(out * inp, 1.0 / (inp as f32).sqrt(), seed))
}

/// The same weight as training hands it over: stored transposed, as burn stores it.
fn linear(name: &str, shape: [usize; 2], seed: u64) -> Case {
    row_major(name, shape, seed).transposed()
}

/// `eval` with a gradient, in `Mode::Step`, of `reg` on every case, summed.
fn step(reg: &mut dyn Regularizer, cases: &[Case], grads: &mut [(Vec<f32>, Option<Vec<f32>>)]) -> f64 {
    let mut total = 0.0;
    for (c, (gw, gb)) in cases.iter().zip(grads.iter_mut()) {
        let mut g = TargetGrad { weight: gw, bias: gb.as_deref_mut() };
        total += reg.eval(&c.target(), Some(&mut g), 1.0, Mode::Step).unwrap_or_else(|err| panic!("{}: {err}", c.name));
    }
    total
}

/// Gradient buffers for `cases`.
fn buffers(cases: &[Case]) -> Vec<(Vec<f32>, Option<Vec<f32>>)> {
    cases.iter().map(|c| (vec![0.0; c.weight.len()], c.bias.as_ref().map(|b| vec![0.0; b.len()]))).collect()
}

/// Bench `reg` on `cases` as `<group>/<options>/<shape>` after one warm-up call.
fn bench_eval(group: &mut BenchmarkGroup<'_, WallTime>, options: &str, shape: &str, mut reg: Box<dyn Regularizer>, cases: &[Case]) {
    let mut grads = buffers(cases);
    let v = step(reg.as_mut(), cases, &mut grads);
    assert!(v.is_finite(), "{options}/{shape}: r = {v}");
    group.bench_function(BenchmarkId::new(options, shape), |b| b.iter(|| black_box(step(reg.as_mut(), black_box(cases), &mut grads))));
}

fn group_orth(c: &mut Criterion) {
    let mut group = c.benchmark_group("group-orth");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    let case = [linear("layers.0.weight", [400, 784], 1)];
    for variant in ["inter", "intra"] {
        let reg = build(&format!("group-orth=1e-3:groups=25:variant={variant}"));
        bench_eval(&mut group, &format!("{variant}:groups=25"), "400x784", reg, &case);
    }
    group.finish();
}

fn mhe(c: &mut Criterion) {
    let mut group = c.benchmark_group("mhe");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    for out in [400usize, 4000] {
        let case = [linear("layers.0.weight", [out, 784], 2 + out as u64)];
        bench_eval(&mut group, "s=a0:half=true", &format!("{out}x784"), build("mhe=1e-3:s=a0:half=true"), &case);
    }
    group.finish();
}

fn conv_orth(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv-orth");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let shape = [32usize, 16, 3, 3];
    let n = shape.iter().product();
    let case = [Case::from_weights("convs.0.weight", &shape, random_vec(n, 1.0 / (16.0f32 * 9.0).sqrt(), 3))];
    for opts in ["stride=1", "stride=1:padding=1", "stride=2:padding=1"] {
        bench_eval(&mut group, opts, "32x16x3x3", build(&format!("conv-orth=1e-3:{opts}")), &case);
    }
    group.finish();
}

fn wasserstein_init(c: &mut Criterion) {
    let mut group = c.benchmark_group("wasserstein-init");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    // W = W₀ + noise of 1e-2: a network some steps away from its initialization
    let layers: Vec<Case> = MLP
        .iter()
        .enumerate()
        .map(|(i, &[out, inp])| {
            let init = random_vec(out * inp, 1.0 / (inp as f32).sqrt(), 60 + i as u64);
            let weight = init.iter().zip(random_vec(out * inp, 0.01, 70 + i as u64)).map(|(x, e)| x + e).collect();
            Case { init: Some(init), ..Case::from_weights(&format!("layers.{i}.weight"), &[out, inp], weight) }.transposed()
        })
        .collect();
    bench_eval(&mut group, "default", "784-400-400-10", build("wasserstein-init=1e-3"), &layers);
    group.finish();
}

fn hypersparse(c: &mut Criterion) {
    let mut group = c.benchmark_group("hypersparse");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    let cases = [linear("layers.0.weight", [400, 784], 13), linear("layers.1.weight", [400, 400], 14)];
    let mut set = reglab_regularizers::build_set(&["hypersparse=1e-4".to_string()], Selection::LayerWeights).expect("hypersparse builds");
    let targets = [cases[0].target(), cases[1].target()];
    let (mut ga, mut gb) = (vec![0.0f32; cases[0].weight.len()], vec![0.0f32; cases[1].weight.len()]);
    let mut eval = || {
        let mut grads = [TargetGrad { weight: &mut ga, bias: None }, TargetGrad { weight: &mut gb, bias: None }];
        set.eval(black_box(&targets), Some(&mut grads), 0, 1, Mode::Step, false).expect("eval").total()
    };
    let v = eval(); // (in Step mode hypersparse reports 0 and only adds its gradient)
    assert!(v.is_finite(), "r = {v}");
    group.bench_function(BenchmarkId::new("global", "400x784+400x400"), |b| b.iter(|| black_box(eval())));
    group.finish();
    assert!(ga.iter().chain(&gb).any(|&g| g != 0.0), "no gradient");
}

fn spectral(c: &mut Criterion) {
    let mut group = c.benchmark_group("spectral");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for layout in [Layout::Transposed, Layout::RowMajor] {
        let cases: Vec<Case> = MLP
            .iter()
            .enumerate()
            .map(|(i, &[out, inp])| {
                let bias = random_vec(out, 1.0 / (inp as f32).sqrt(), 200 + i as u64);
                let c = Case { bias: Some(bias), ..row_major(&format!("layers.{i}.weight"), [out, inp], 100 + i as u64) };
                match layout {
                    Layout::Transposed => c.transposed(),
                    Layout::RowMajor => c,
                }
            })
            .collect();
        let name = match layout {
            Layout::Transposed => "step-transposed",
            Layout::RowMajor => "step-row-major",
        };
        bench_eval(&mut group, name, "784-400-400-10", build("spectral=1e-3:k=2"), &cases);
    }
    group.finish();
}

criterion_group!(benches, group_orth, mhe, conv_orth, wasserstein_init, hypersparse, spectral);
criterion_main!(benches);

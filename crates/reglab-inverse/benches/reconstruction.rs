//! What each regularizer costs inside a few-view CT reconstruction, against the data term.
//!
//! Problem: the modified Shepp–Logan phantom at 128 × 128, 40 equispaced views, 1 % noise (the
//! middle setting of `experiments/ct-few-view.toml`). Every solver runs exactly 100 iterations
//! from `x = 0` (`tol = 0`), including its set-up (the Chambolle–Pock solvers estimate `‖K‖²` by
//! 200 power iterations, the weighted TVs and graphLa build their weights or graph from a TV
//! estimate computed once outside the timing). The reference, `radon/pair×100`, is 100
//! forward-and-adjoint Radon pairs, what any of these solvers pays for its data term; the
//! ratios to it are the regularizers' price; `tv-cp-given-steps/100` is TV with its step sizes
//! estimated once outside the timing, as a λ sweep does. Also timed: FBP (one reconstruction), building the
//! graph Laplacian from the TV estimate (`graph-laplacian/build`, radius 2, 24 neighbours;
//! `graph-laplacian/build-r3`, radius 3, 48 neighbours) and one product `L x` with the radius-3
//! graph (`graph-laplacian/apply-r3`), one TV-denoising iteration at 512 × 512 (`tv_denoise/512`, 20
//! iterations).
//!
//! Run: `cargo bench -p reglab-inverse --bench reconstruction` (one thread: the crate has none).

use criterion::{Criterion, criterion_group, criterion_main};
use reglab_inverse::{
    BalancedSteps, Filter, Gradient, GraphLaplacian, Image, LinearOperator, Radon, SolverOptions, TvOptions, WeightedTv, add_gaussian_noise,
    chambolle_pock, chambolle_pock_with_steps, fbp, graph_laplacian_l1, shepp_logan, tikhonov_cg, tv_denoise,
};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 128;
const VIEWS: usize = 40;
const ITERS: usize = 100;

fn problem() -> (Radon, Vec<f64>) {
    let truth = shepp_logan(N, N).unwrap();
    let radon = Radon::new(N, N, Radon::equispaced_angles(VIEWS)).unwrap();
    let clean = radon.forward(&truth.data).unwrap();
    let rms = (clean.iter().map(|v| v * v).sum::<f64>() / clean.len() as f64).sqrt();
    let sino = Image::new(VIEWS, radon.n_det(), clean).unwrap();
    let y = add_gaussian_noise(&sino, 0.01 * rms, 1).unwrap().data;
    (radon, y)
}

fn opts() -> SolverOptions {
    SolverOptions { max_iter: ITERS, tol: 0.0, history_every: usize::MAX, lipschitz: None }
}

fn bench(c: &mut Criterion) {
    let (radon, y) = problem();
    let x0 = Image::zeros(N, N).unwrap();
    let estimate = chambolle_pock(&radon, &y, 1.0, None, &x0, &SolverOptions { max_iter: 300, ..opts() }).unwrap().image;
    let mut g = c.benchmark_group("inverse");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    let mut sino = vec![0.0; radon.output_len()];
    let mut back = vec![0.0; N * N];
    g.bench_function("radon/pair×100", |b| {
        b.iter(|| {
            for _ in 0..ITERS {
                radon.apply(black_box(&estimate.data), &mut sino);
                radon.adjoint(&sino, &mut back);
            }
            black_box(&back);
        })
    });
    let grad = Gradient::new(N, N).unwrap();
    g.bench_function("tikhonov-cg/100", |b| b.iter(|| tikhonov_cg(&radon, black_box(&y), 0.1, &grad, &x0, &opts()).unwrap()));
    g.bench_function("tv-cp/100", |b| b.iter(|| chambolle_pock(&radon, black_box(&y), 1.0, None, &x0, &opts()).unwrap()));
    let steps = BalancedSteps::tv(&radon, N, N).unwrap();
    g.bench_function("tv-cp-given-steps/100", |b| {
        b.iter(|| chambolle_pock_with_steps(&radon, black_box(&y), 1.0, None, &x0, &opts(), &steps).unwrap())
    });
    g.bench_function("weighted-tv-cp/100", |b| {
        b.iter(|| {
            let w = WeightedTv::from_estimate(&estimate, 0.05).unwrap();
            chambolle_pock(&radon, black_box(&y), 1.0, Some(&w), &x0, &opts()).unwrap()
        })
    });
    g.bench_function("space-variant-tv-cp/100", |b| {
        b.iter(|| {
            let w = WeightedTv::space_variant(&estimate, 0.05, 0.5).unwrap();
            chambolle_pock(&radon, black_box(&y), 1.0, Some(&w), &x0, &opts()).unwrap()
        })
    });
    g.bench_function("graphla-l1-cp/100", |b| {
        b.iter(|| {
            let lap = GraphLaplacian::from_estimate(&estimate, 1e-3, 2).unwrap();
            graph_laplacian_l1(&radon, black_box(&y), 30.0, &lap, &x0, &opts()).unwrap()
        })
    });
    g.bench_function("graph-laplacian/build", |b| b.iter(|| GraphLaplacian::from_estimate(black_box(&estimate), 1e-3, 2).unwrap()));
    g.bench_function("graph-laplacian/build-r3", |b| b.iter(|| GraphLaplacian::from_estimate(black_box(&estimate), 1e-3, 3).unwrap()));
    let lap = GraphLaplacian::from_estimate(&estimate, 1e-3, 3).unwrap();
    let mut lx = vec![0.0; lap.output_len()];
    g.bench_function("graph-laplacian/apply-r3", |b| {
        b.iter(|| {
            lap.apply(black_box(&estimate.data), &mut lx);
            black_box(&lx);
        })
    });
    g.bench_function("fbp/ram-lak", |b| b.iter(|| fbp(&radon, black_box(&y), N, N, Filter::RamLak).unwrap()));
    let big = add_gaussian_noise(&shepp_logan(512, 512).unwrap(), 0.1, 2).unwrap();
    let tv = TvOptions { tau: 0.25, max_iter: 20, tol: 0.0 };
    g.bench_function("tv_denoise/512×20", |b| b.iter(|| tv_denoise(black_box(&big), 0.1, &tv).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

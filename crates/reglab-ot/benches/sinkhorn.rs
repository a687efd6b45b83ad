//! reglab's Sinkhorn–Knopp against POT's `ot.sinkhorn` (issue 7): the counterpart of
//! `bench/compare/sinkhorn_pot.py`, which runs POT on the same problems and prints the table.
//!
//! For n = m = 500, 2,000 and 5,000 (`SINKHORN_SIZES=500,2000` to choose):
//!
//! - points: X = `cloud(1, n)`, Y = `cloud(2, n)` in [0,1)², drawn by the splitmix64 generator
//!   below (the same constants as `crates/reglab-ot/src/test_util.rs`; f64 = top 53 bits / 2⁵³,
//!   exact), coordinates row by row (x₀, y₀, x₁, y₁, …). `sinkhorn_pot.py` implements the same
//!   generator and gets bit-identical points;
//! - cost `‖x − y‖²`, not normalised, uniform weights, ε = 0.05 (`SINKHORN_EPS` to change it),
//!   `tol = 1e-9`, `check_every = 10`, `max_iter = 10,000`;
//! - timed (`sinkhorn/reglab/<n>`): the whole [`sinkhorn`] call — validation, building
//!   K = exp(−C/ε), the iterations, the plan and its cost/entropy/marginal errors — but not the
//!   cost matrix, which POT gets as its input `M` too.
//!
//! **Aligning with POT.** POT's `sinkhorn_knopp` updates `v ← b/(Kᵀu)` first and `u ← a/(Kv)`
//! second, and after iterations 1, 11, 21, … (its `ii % 10 == 0`, `niter = ii`) tests the
//! column marginal in the *2-norm*, `‖Tᵀ1 − b‖₂ < stopThr`. reglab updates `u` first and tests
//! the row marginal in the 1-norm after iterations 10, 20, … . So the bench solves the
//! transposed problem (weights swapped, cost `C(Y, X) = C(X, Y)ᵀ`): reglab's `u, v` are then
//! POT's `v, u` (up to the constant factor n of POT's start `u = 1/n`, i.e. up to rounding) and
//! reglab's row error is POT's column error. The stopping rules still differ (norm and check
//! offset), so `sinkhorn_pot.py` runs POT first and passes its iteration count `niter + 1` per n
//! in `SINKHORN_POT_ITERS="500:71,2000:61"`; the bench then uses it as `max_iter` (tol stays
//! 1e-9: as ‖·‖₁ ≥ ‖·‖₂, reglab's own test does not fire earlier, which the printed iteration
//! count checks). Without that variable reglab stops by its own rule.
//!
//! Before timing, each size is solved once and `n, iterations, converged, ‖T1 − a‖₁,
//! ‖T1 − a‖₂` are printed and written to `target/sinkhorn-compare/reglab-<n>.json` (the
//! target dir is `$CARGO_TARGET_DIR` or the workspace's `target/`).
//!
//! Run: `cargo bench -p reglab-ot --bench sinkhorn` (single-threaded: reglab-ot has no threads),
//! or the whole comparison with `bench/compare/sinkhorn_pot.py`.

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use reglab_ot::{Matrix, SinkhornOptions, sinkhorn, sq_euclidean, uniform};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

/// splitmix64, as in `test_util.rs` and `sinkhorn_pot.py`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` points in [0,1)², seeded, coordinates drawn row by row.
fn cloud(seed: u64, n: usize) -> Matrix {
    let mut rng = SplitMix64(seed);
    Matrix::new(n, 2, (0..2 * n).map(|_| rng.next_f64()).collect()).unwrap()
}

fn env_list(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn sizes() -> Vec<usize> {
    env_list("SINKHORN_SIZES")
        .map(|s| s.split(',').map(|x| x.trim().parse().expect("SINKHORN_SIZES: n,n,…")).collect())
        .unwrap_or_else(|| vec![500, 2000, 5000])
}

fn eps() -> f64 {
    env_list("SINKHORN_EPS").map(|s| s.trim().parse().expect("SINKHORN_EPS: a number")).unwrap_or(0.05)
}

/// POT's iteration count for `n` from `SINKHORN_POT_ITERS="n:iters,…"`.
fn pot_iters(n: usize) -> Option<usize> {
    env_list("SINKHORN_POT_ITERS")?.split(',').find_map(|kv| {
        let (k, v) = kv.trim().split_once(':').expect("SINKHORN_POT_ITERS: n:iters,…");
        (k.parse::<usize>().ok()? == n).then(|| v.parse().expect("SINKHORN_POT_ITERS: n:iters,…"))
    })
}

fn out_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("sinkhorn-compare")
}

fn bench_sinkhorn(c: &mut Criterion) {
    let eps = eps();
    let mut group = c.benchmark_group("sinkhorn");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    for n in sizes() {
        let (x, y) = (cloud(1, n), cloud(2, n));
        // The transposed problem (see the module docs): POT's (a, b, C(X, Y)) as (b, a, C(Y, X)).
        let cost = sq_euclidean(&y, &x).unwrap();
        let (a, b) = (uniform(n), uniform(n));
        let opts = SinkhornOptions { max_iter: pot_iters(n).unwrap_or(10_000), tol: 1e-9, check_every: 10 };

        let r = sinkhorn(&b, &a, &cost, eps, &opts).unwrap();
        let rows = r.plan.row_sums();
        let l2 = rows.iter().zip(&b).map(|(s, w)| (s - w) * (s - w)).sum::<f64>().sqrt();
        println!(
            "sinkhorn n={n} eps={eps} max_iter={} iterations={} converged={} row_err_l1={:e} row_err_l2={l2:e} cost={}",
            opts.max_iter, r.iterations, r.converged, r.row_error, r.cost
        );
        let dir = out_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let json = format!(
            "{{\"n\": {n}, \"eps\": {eps:e}, \"max_iter\": {}, \"iterations\": {}, \"converged\": {}, \
             \"row_err_l1\": {:e}, \"row_err_l2\": {l2:e}, \"cost\": {:e}}}\n",
            opts.max_iter, r.iterations, r.converged, r.row_error, r.cost
        );
        std::fs::write(dir.join(format!("reglab-{n}.json")), json).unwrap();

        // A 5,000² solve takes seconds: give criterion time for its 10 samples.
        group.measurement_time(Duration::from_secs(match n {
            0..=1000 => 5,
            1001..=3000 => 15,
            _ => 60,
        }));
        group.bench_with_input(BenchmarkId::new("reglab", n), &n, |bch, _| {
            bch.iter(|| sinkhorn(black_box(&b), black_box(&a), black_box(&cost), eps, &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_sinkhorn);
criterion_main!(benches);

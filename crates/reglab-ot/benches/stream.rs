//! What one core can stream: the plain sum of an n × n f64 matrix (n = 2,000: 32 MB, the size of
//! the L3 cache here; n = 5,000: 200 MB, from memory), as the ceiling for Sinkhorn's pass over
//! the kernel (`benches/sinkhorn.rs`), which reads the same bytes once per iteration and also
//! multiplies and accumulates. Bandwidth = n²·8 bytes / median time.
//!
//! Also the two parts of building Sinkhorn's kernel `K = exp(−C/ε)` at n = 5,000: the 25 M
//! exponentials into a buffer already touched (`stream/exp-into/5000`) and the same collected into
//! a new buffer, as `sinkhorn` does (`stream/exp-collect/5000`: plus first-touch page faults).
//!
//! Run: `cargo bench -p reglab-ot --bench stream`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// Σ x over sixteen partial sums (enough independent additions to keep the loads busy).
#[inline(always)]
fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 16];
    let chunks = x.chunks_exact(16);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..16 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f64>() + rest
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_avx2(x: &[f64]) -> f64 {
    sum(x)
}

fn stream(x: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { sum_avx2(x) };
    }
    sum(x)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for n in [2000usize, 5000] {
        let x: Vec<f64> = (0..n * n).map(|i| (i % 1000) as f64 * 1e-3).collect();
        g.throughput(Throughput::Bytes((n * n * 8) as u64));
        g.bench_with_input(BenchmarkId::new("sum", n), &x, |b, x| b.iter(|| stream(black_box(x))));
    }
    let n = 5000;
    let c: Vec<f64> = (0..n * n).map(|i| (i % 1000) as f64 * 1e-3).collect();
    let mut k = vec![0.0; n * n];
    g.throughput(Throughput::Elements((n * n) as u64));
    g.bench_function(BenchmarkId::new("exp-into", n), |b| {
        b.iter(|| {
            for (kij, &cij) in k.iter_mut().zip(black_box(&c)) {
                *kij = (-cij * 20.0).exp();
            }
        })
    });
    g.bench_function(BenchmarkId::new("exp-collect", n), |b| b.iter(|| black_box(&c).iter().map(|&cij| (-cij * 20.0).exp()).collect::<Vec<f64>>()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

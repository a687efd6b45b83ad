//! Property tests of entropic optimal transport over random histograms, costs and ε: the plan
//! is non-negative, has the form `T_ij = exp((f_i + g_j − C_ij)/ε)` of its potentials, meets both
//! marginals (the column marginal exactly after the last update, the row marginal to the
//! stopping tolerance), and its reported cost is `⟨C, T⟩`; and the log-domain solver finds the
//! same plan.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use reglab_ot::{Matrix, SinkhornOptions, sinkhorn, sinkhorn_log};

fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0.0..1.0)).collect()
}

fn histogram(n: usize, seed: u64) -> Vec<f64> {
    let v: Vec<f64> = values(n, seed).iter().map(|x| x + 0.05).collect();
    let s: f64 = v.iter().sum();
    v.iter().map(|x| x / s).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sinkhorn_plans_meet_the_marginals_and_match_their_potentials(n in 1usize..9, m in 1usize..9, reg in 0.05f64..1.0, seed in 0u64..1_000_000) {
        let (a, b) = (histogram(n, seed), histogram(m, seed + 1));
        let cost = Matrix::new(n, m, values(n * m, seed + 2)).unwrap();
        let opts = SinkhornOptions { max_iter: 100_000, tol: 1e-10, check_every: 1 };
        let r = sinkhorn(&a, &b, &cost, reg, &opts).unwrap();
        let t = &r.plan.data;
        prop_assert!(t.iter().all(|&x| x >= 0.0 && x.is_finite()));
        for i in 0..n {
            let row: f64 = (0..m).map(|j| t[i * m + j]).sum();
            prop_assert!((row - a[i]).abs() < 1e-9, "row {i}: {row} vs {}", a[i]);
            for j in 0..m {
                let form = ((r.f[i] + r.g[j] - cost.data[i * m + j]) / reg).exp();
                prop_assert!((form - t[i * m + j]).abs() <= 1e-9 * (1.0 + form), "T[{i},{j}]");
            }
        }
        for j in 0..m {
            let col: f64 = (0..n).map(|i| t[i * m + j]).sum();
            prop_assert!((col - b[j]).abs() < 1e-12, "column {j}: {col} vs {}", b[j]);
        }
        let c: f64 = t.iter().zip(&cost.data).map(|(t, c)| t * c).sum();
        prop_assert!((c - r.cost).abs() < 1e-12);
        // the log-domain solver finds the same plan
        let l = sinkhorn_log(&a, &b, &cost, reg, &opts, None).unwrap();
        for (x, y) in t.iter().zip(&l.plan.data) {
            prop_assert!((x - y).abs() < 1e-7, "{x} vs {y}");
        }
    }
}

//! Property tests of every parameter regularizer of the registry, on random shapes and values
//! (proptest, fixed seed: the same cases on every run):
//!
//! - the value is finite, and ≥ 0 for the regularizers that are sums of squares or norms;
//! - the analytic gradient matches central finite differences (the smooth ones);
//! - the proximal step is optimal: `p = prox_{ηr}(v)` minimizes `½‖x − v‖² + η·r(x)`, so no
//!   small perturbation of `p` lowers it, and 0 is a fixed point;
//! - both storage layouts (PyTorch row-major, burn's transposed) give the same value.
//!
//! Each regularizer's own file has the tests against independent values and its invariants;
//! these check the registry as a whole, including entries added later (with their defaults).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use reglab_core::testing::{Case, gradient_error};
use reglab_core::{Mode, Regularizer, Spec};
use reglab_regularizers::ENTRIES;

/// Regularizers whose value is a sum of squares, norms or Cauchy–Schwarz gaps: never negative.
const NON_NEGATIVE: &[&str] = &[
    "l2",
    "l1",
    "elastic-net",
    "group-lasso",
    "selective-decay",
    "l2-init",
    "wasserstein-init",
    "spectral",
    "soft-orth",
    "ortho-offdiag",
    "cs-binary",
    "cs-binary-pos",
    "cs-ternary",
    "cs-orth",
];

/// Smooth in the weights at random points (the others have thresholds that move with the
/// weights, a kink at the data, a singular pair energy or no value): checked by finite
/// differences.
const SMOOTH: &[&str] = &["l2", "l2-init", "soft-orth", "ortho-offdiag", "cs-binary", "cs-binary-pos", "cs-ternary", "cs-orth", "spectral"];

/// Each registry entry that builds with its defaults (`NAME=1`) and accepts a `[out, in]` layer.
fn entries(case: &Case) -> Vec<(&'static str, Box<dyn Regularizer>)> {
    ENTRIES
        .iter()
        .filter_map(|e| {
            let spec = Spec::parse(&format!("{}=1", e.name)).ok()?;
            let r = (e.build)(&spec).ok()?;
            r.accepts(&case.target().weight).then_some((e.name, r))
        })
        .collect()
}

/// A layer `[out, in]` with bias and initial values, from a seed.
fn layer(out: usize, inp: usize, seed: u64, transposed: bool) -> Case {
    let c = Case::random("layers.0.weight", &[out, inp], seed).with_random_bias(seed + 1).with_random_init(seed + 2);
    if transposed { c.transposed() } else { c }
}

fn config() -> Config {
    Config { cases: 24, rng_seed: RngSeed::Fixed(2025), failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn values_are_finite_non_negative_and_layout_free(out in 2usize..9, inp in 2usize..9, seed in 0u64..1_000_000) {
        let (row, tr) = (layer(out, inp, seed, false), layer(out, inp, seed, true));
        let mut others = entries(&tr);
        for ((name, mut r), (_, r2)) in entries(&row).into_iter().zip(others.iter_mut()) {
            // a shape the regularizer cannot take is a named error, never a panic
            let v = match r.eval(&row.target(), None, 1.0, Mode::Exact) {
                Ok(v) => v,
                Err(e) => {
                    prop_assert!(matches!(e, reglab_core::Error::Shape { .. }), "{name} [{out}, {inp}]: {e}");
                    continue;
                }
            };
            prop_assert!(v.is_finite(), "{name} [{out}, {inp}]: {v}");
            if NON_NEGATIVE.contains(&name) {
                prop_assert!(v >= -1e-9 * (1.0 + v.abs()), "{name} [{out}, {inp}]: {v} < 0");
            }
            let v2 = r2.eval(&tr.target(), None, 1.0, Mode::Exact).expect("the same shape, transposed");
            prop_assert!((v - v2).abs() <= 1e-5 * (1.0 + v.abs()), "{name} [{out}, {inp}]: row-major {v}, transposed {v2}");
        }
    }

    #[test]
    fn gradients_match_finite_differences(out in 2usize..7, inp in 2usize..7, seed in 0u64..1_000_000, transposed in any::<bool>()) {
        let c = layer(out, inp, seed, transposed);
        for (name, mut r) in entries(&c) {
            if !SMOOTH.contains(&name) {
                continue;
            }
            let e = gradient_error(r.as_mut(), &c, 2e-3);
            prop_assert!(e < 2e-2, "{name} [{out}, {inp}] transposed={transposed}: relative gradient error {e}");
        }
    }

    #[test]
    fn proximal_steps_are_optimal(out in 2usize..7, inp in 2usize..7, seed in 0u64..1_000_000, eta in 0.01f32..0.5) {
        let c = layer(out, inp, seed, false);
        for (name, mut r) in entries(&c) {
            if !r.has_prox() {
                continue;
            }
            let p = c.prox(r.as_mut(), eta).unwrap();
            let objective = |x: &[f32], r: &mut dyn Regularizer| -> f64 {
                let q = Case { weight: x.to_vec(), ..c.clone() };
                let d: f64 = x.iter().zip(&c.weight).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
                0.5 * d + eta as f64 * q.value(r)
            };
            let best = objective(&p, r.as_mut());
            for k in 0..8u64 {
                let delta = reglab_core::testing::random_vec(p.len(), 1e-2, seed ^ ((k + 1) * 7919));
                let moved: Vec<f32> = p.iter().zip(&delta).map(|(a, b)| a + b).collect();
                let f = objective(&moved, r.as_mut());
                prop_assert!(best <= f + 1e-9, "{name}: prox point {best} > a perturbation's {f}");
            }
            let zero = Case { weight: vec![0.0; c.weight.len()], ..c.clone() };
            prop_assert!(zero.prox(r.as_mut(), eta).unwrap().iter().all(|&v| v == 0.0), "{name}: 0 is not a fixed point");
        }
    }
}

#[test]
fn the_property_tests_cover_the_registry() {
    let c = layer(4, 5, 1, false);
    let names: Vec<&str> = entries(&c).into_iter().map(|(n, _)| n).collect();
    for n in NON_NEGATIVE.iter().chain(SMOOTH) {
        assert!(names.contains(n), "{n} is not built with its defaults on a [4, 5] layer");
    }
    assert!(entries(&c).iter().filter(|(_, r)| r.has_prox()).count() >= 3, "l1, elastic-net, group-lasso have a prox");
}

//! Property tests of the linear operators over random sizes, kernels, angles and vectors:
//! adjointness `⟨A x, y⟩ = ⟨x, Aᵀ y⟩` (the identity every solver's step relies on) and
//! linearity `A(αx + z) = αAx + Az`.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use reglab_inverse::{Convolution, Gradient, Image, LinearOperator, Radon, dot};

/// Values in [−1, 1) drawn from a seed, so a failure reproduces from its case.
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// `|⟨Ax, y⟩ − ⟨x, Aᵀy⟩|` relative to `‖Ax‖‖y‖ + ‖x‖‖Aᵀy‖`, and the linearity error, for one draw.
fn errors(a: &dyn LinearOperator, seed: u64) -> (f64, f64) {
    let (x, y, z) = (values(a.input_len(), seed), values(a.output_len(), seed + 1), values(a.input_len(), seed + 2));
    let (mut ax, mut aty) = (vec![0.0; a.output_len()], vec![0.0; a.input_len()]);
    a.apply(&x, &mut ax);
    a.adjoint(&y, &mut aty);
    let scale = dot(&ax, &ax).sqrt() * dot(&y, &y).sqrt() + dot(&x, &x).sqrt() * dot(&aty, &aty).sqrt();
    let adj = (dot(&ax, &y) - dot(&x, &aty)).abs() / scale.max(1e-300);
    let alpha = 0.37;
    let comb: Vec<f64> = x.iter().zip(&z).map(|(x, z)| alpha * x + z).collect();
    let (mut ac, mut az) = (vec![0.0; a.output_len()], vec![0.0; a.output_len()]);
    a.apply(&comb, &mut ac);
    a.apply(&z, &mut az);
    let lin = ac.iter().zip(&ax).zip(&az).map(|((c, x), z)| (c - alpha * x - z).abs()).fold(0.0, f64::max);
    (adj, lin)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn convolution_is_linear_and_its_adjoint_is_exact(rows in 1usize..12, cols in 1usize..12, kr in 1usize..5, kc in 1usize..5, seed in 0u64..1_000_000) {
        let k = Image::new(kr, kc, values(kr * kc, seed + 7)).unwrap();
        let a = Convolution::new(rows, cols, k).unwrap();
        let (adj, lin) = errors(&a, seed);
        prop_assert!(adj < 1e-12, "adjoint error {adj}");
        prop_assert!(lin < 1e-12, "linearity error {lin}");
    }

    #[test]
    fn gradient_is_linear_and_its_adjoint_is_exact(rows in 1usize..16, cols in 1usize..16, seed in 0u64..1_000_000) {
        let a = Gradient::new(rows, cols).unwrap();
        let (adj, lin) = errors(&a, seed);
        prop_assert!(adj < 1e-12, "adjoint error {adj}");
        prop_assert!(lin < 1e-12, "linearity error {lin}");
    }

    #[test]
    fn radon_is_linear_and_its_adjoint_is_exact(n in 2usize..20, views in 1usize..12, seed in 0u64..1_000_000) {
        let angles: Vec<f64> = values(views, seed + 9).iter().map(|v| (v + 1.0) * 90.0).collect();
        let a = Radon::new(n, n, angles).unwrap();
        let (adj, lin) = errors(&a, seed);
        prop_assert!(adj < 1e-12, "adjoint error {adj}");
        prop_assert!(lin < 1e-10, "linearity error {lin}");
    }
}

//! The two-moons toy of gradient starvation: two features, a linear one whose margin is set
//! (`Δ`) and the curved structure of the moons.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Points `[x₁, x₂]` with labels `±1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Moons {
    /// The points.
    pub x: Vec<[f64; 2]>,
    /// Their labels, `+1` or `−1`.
    pub y: Vec<f64>,
}

/// Two interleaved half circles (the usual "two moons"): `n/2` points `(cos t, sin t)` of class
/// −1 and `n − n/2` points `(1 − cos t, 1/2 − sin t)` of class +1, `t` evenly spaced in `[0, π]`,
/// each coordinate plus `N(0, noise²)`, drawn from `seed`.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> Moons {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise.max(0.0)).expect("finite noise");
    let (n_out, n_in) = (n / 2, n - n / 2);
    let t = |i: usize, m: usize| if m > 1 { std::f64::consts::PI * i as f64 / (m - 1) as f64 } else { 0.0 };
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n_out {
        x.push([t(i, n_out).cos(), t(i, n_out).sin()]);
        y.push(-1.0);
    }
    for i in 0..n_in {
        x.push([1.0 - t(i, n_in).cos(), 0.5 - t(i, n_in).sin()]);
        y.push(1.0);
    }
    for p in &mut x {
        p[0] += normal.sample(&mut rng);
        p[1] += normal.sample(&mut rng);
    }
    Moons { x, y }
}

/// The toy of Pezeshki et al. (official code `Figure_1/moon_fig_1.py`, read at `bc5c296`): the
/// moons moved apart vertically (`x₂ −= 0.3·y`, then centred), each point's `x₂` reflected to
/// its class's side (`y·x₂ ≤ 0`) and pushed by `Δ` (`x₂ −= y·Δ`), the coordinates then swapped.
/// So the first feature separates the classes linearly — class +1 at `x₁ ≤ −Δ`, class −1 at
/// `x₁ ≥ Δ`: a gap of `2Δ` for `Δ > 0`, an overlap for `Δ < 0` — and the second holds the moons'
/// curved structure (their horizontal coordinate minus 1/2).
pub fn starvation_toy(n: usize, noise: f64, margin: f64, seed: u64) -> Moons {
    let Moons { mut x, y } = two_moons(n, noise, seed);
    for (p, &l) in x.iter_mut().zip(&y) {
        p[0] -= 0.5;
        p[1] -= 0.3 * l;
    }
    let mean = x.iter().map(|p| p[1]).sum::<f64>() / x.len().max(1) as f64;
    for (p, &l) in x.iter_mut().zip(&y) {
        p[1] -= mean;
        if p[1] * l > 0.0 {
            p[1] = -p[1];
        }
        p[1] -= l * margin;
        p.swap(0, 1);
    }
    Moons { x, y }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linear_feature_has_the_set_margin_and_the_moons_the_other() {
        for margin in [0.1, -0.1] {
            let m = starvation_toy(300, 0.1, margin, 0);
            assert_eq!(m.x.len(), 300);
            assert_eq!(m.y.iter().filter(|&&l| l > 0.0).count(), 150);
            for (p, &l) in m.x.iter().zip(&m.y) {
                // class +1 at x₁ ≤ −Δ, class −1 at x₁ ≥ Δ
                assert!(l * p[0] <= -margin + 1e-12, "Δ = {margin}: {p:?} of class {l}");
            }
            let gap = m.x.iter().zip(&m.y).map(|(p, &l)| -l * p[0]).fold(f64::INFINITY, f64::min);
            assert!((gap - margin).abs() < 0.05, "the closest point sits near the margin: {gap} vs {margin}");
        }
        // the second feature is the moons' horizontal coordinate minus 1/2: class −1 (outer moon)
        // spans about [−1.5, 0.5], class +1 about [−0.5, 1.5]
        let m = starvation_toy(300, 0.1, 0.1, 0);
        let span = |cls: f64| {
            m.x.iter()
                .zip(&m.y)
                .filter(|(_, l)| **l == cls)
                .map(|(p, _)| p[1])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
        };
        let (lo, hi) = span(-1.0);
        assert!((lo + 1.5).abs() < 0.35 && (hi - 0.5).abs() < 0.35, "{lo} {hi}");
        let (lo, hi) = span(1.0);
        assert!((lo + 0.5).abs() < 0.35 && (hi - 1.5).abs() < 0.35, "{lo} {hi}");
        assert_eq!(starvation_toy(300, 0.1, 0.1, 0), m);
        assert_ne!(starvation_toy(300, 0.1, 0.1, 1), m);
    }

    #[test]
    fn noise_free_moons_lie_on_their_circles() {
        let m = two_moons(20, 0.0, 3);
        for (p, &l) in m.x.iter().zip(&m.y) {
            let c = if l < 0.0 { [0.0, 0.0] } else { [1.0, 0.5] };
            assert!(((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) - 1.0).abs() < 1e-12, "{p:?}");
        }
    }
}

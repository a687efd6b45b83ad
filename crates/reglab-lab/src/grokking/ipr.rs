//! The inverse participation ratio of a neuron's Fourier spectrum: how concentrated its weights
//! over the p residues are on few frequencies (Doshi et al. 2024 §3; their code's
//! `utils/data_processing.py`).
//!
//! For a weight vector `w ∈ R^p` indexed by residue, `a_k = |Σ_j w_j e^{−2πi jk/p}|` for
//! `k = 0, …, ⌊p/2⌋` (the bins of a real FFT) and
//!
//! ```text
//! IPR_r(w) = Σ_k a_k^{2r} / (Σ_k a_k²)^r        (r = 2 here, as in the paper)
//! ```
//!
//! 1 when one frequency carries all the weight (a periodic, "generalizing" neuron), `1/(⌊p/2⌋+1)`
//! when the spectrum is flat (e.g. one residue only: a "memorizing" neuron). A hidden neuron n
//! of the MLP has three such vectors — its input weights from `a` (`U[n]`), from `b` (`V[n]`)
//! and its output weights (`W[:, n]`) — and its score is their mean, as in the paper's code.

/// `cos` and `sin` of `2π jk/p` for the bins `k = 0..=⌊p/2⌋`, rows by `k`.
pub struct Dft {
    p: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Dft {
    /// The tables for modulus `p`.
    pub fn new(p: usize) -> Self {
        let bins = p / 2 + 1;
        let mut cos = Vec::with_capacity(bins * p);
        let mut sin = Vec::with_capacity(bins * p);
        for k in 0..bins {
            for j in 0..p {
                // (j·k) mod p keeps the angle exact for large products
                let t = 2.0 * std::f64::consts::PI * ((j * k) % p) as f64 / p as f64;
                cos.push(t.cos());
                sin.push(t.sin());
            }
        }
        Self { p, cos, sin }
    }

    /// `a_k` for `k = 0..=⌊p/2⌋`; `w` has `p` entries, read with stride `stride` from `w[0]`.
    pub fn magnitudes(&self, w: &[f32], stride: usize) -> Vec<f64> {
        let p = self.p;
        (0..p / 2 + 1)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for j in 0..p {
                    let v = f64::from(w[j * stride]);
                    re += v * self.cos[k * p + j];
                    im -= v * self.sin[k * p + j];
                }
                (re * re + im * im).sqrt()
            })
            .collect()
    }
}

/// `IPR_r` of the magnitudes `a` (0 for an all-zero vector).
pub fn ipr(a: &[f64], r: i32) -> f64 {
    let s2: f64 = a.iter().map(|x| x * x).sum();
    if s2 == 0.0 {
        return 0.0;
    }
    a.iter().map(|x| (x * x / s2).powi(r)).sum()
}

/// Every hidden neuron's score `(IPR(U[n]) + IPR(V[n]) + IPR(W[:, n]))/3` with r = 2, from the
/// weights in burn layout: `w1` `[2p, N]` (rows 0..p read `a`, rows p..2p read `b`) and `w2`
/// `[N, p]`, both row-major.
pub fn neuron_iprs(w1: &[f32], w2: &[f32], p: usize, width: usize) -> Vec<f64> {
    let dft = Dft::new(p);
    (0..width)
        .map(|n| {
            let u = ipr(&dft.magnitudes(&w1[n..], width), 2);
            let v = ipr(&dft.magnitudes(&w1[p * width + n..], width), 2);
            let w = ipr(&dft.magnitudes(&w2[n * p..], 1), 2);
            (u + v + w) / 3.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frequency_gives_one_and_one_residue_gives_the_flat_value() {
        let p = 13;
        let dft = Dft::new(p);
        let cosine: Vec<f32> = (0..p).map(|j| (2.0 * std::f64::consts::PI * 3.0 * j as f64 / p as f64 + 0.4).cos() as f32).collect();
        assert!((ipr(&dft.magnitudes(&cosine, 1), 2) - 1.0).abs() < 1e-9);
        let mut delta = vec![0.0f32; p];
        delta[5] = 2.0;
        let a = dft.magnitudes(&delta, 1);
        assert!(a.iter().all(|&x| (x - 2.0).abs() < 1e-9), "{a:?}");
        assert!((ipr(&a, 2) - 1.0 / 7.0).abs() < 1e-12);
        assert_eq!(ipr(&[0.0; 4], 2), 0.0);
    }

    #[test]
    fn magnitudes_satisfy_parseval_and_ipr_ignores_scale_and_shifts() {
        // Σ_j w_j² = (a_0² + 2 Σ_{k≥1} a_k²) / p for odd p (the other bins mirror these)
        let p = 97;
        let dft = Dft::new(p);
        let w: Vec<f32> = (0..p).map(|j| ((j * 37 % 11) as f32 - 5.0) * 0.1).collect();
        let a = dft.magnitudes(&w, 1);
        let energy: f64 = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let spectral = (a[0] * a[0] + 2.0 * a[1..].iter().map(|x| x * x).sum::<f64>()) / p as f64;
        assert!((energy - spectral).abs() < 1e-9 * energy, "{energy} vs {spectral}");
        // cyclic shift of residues changes phases only; scaling changes nothing
        let shifted: Vec<f32> = (0..p).map(|j| w[(j + 17) % p]).collect();
        let scaled: Vec<f32> = w.iter().map(|v| 3.0 * v).collect();
        let base = ipr(&a, 2);
        assert!((ipr(&dft.magnitudes(&shifted, 1), 2) - base).abs() < 1e-9);
        assert!((ipr(&dft.magnitudes(&scaled, 1), 2) - base).abs() < 1e-6, "f32 rounding of 3w only");
    }

    #[test]
    fn neuron_scores_read_the_burn_layout() {
        // p = 5, width 2: neuron 0 periodic everywhere, neuron 1 a one-residue neuron
        let (p, width) = (5usize, 2usize);
        let wave = |j: usize| (2.0 * std::f64::consts::PI * j as f64 / p as f64).cos() as f32;
        let mut w1 = vec![0.0f32; 2 * p * width];
        let mut w2 = vec![0.0f32; width * p];
        for j in 0..p {
            w1[j * width] = wave(j);
            w1[(p + j) * width] = wave(j);
            w2[j] = wave(j);
        }
        w1[width + 1] = 1.0; // U[1] at residue 1
        w1[(p + 2) * width + 1] = 1.0; // V[1] at residue 2
        w2[p + 4] = 1.0; // W[4, 1]
        let s = neuron_iprs(&w1, &w2, p, width);
        assert!((s[0] - 1.0).abs() < 1e-9, "{s:?}");
        assert!((s[1] - 1.0 / 3.0).abs() < 1e-9, "{s:?}");
    }
}

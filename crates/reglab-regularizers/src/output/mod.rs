//! Output-level (function-space) regularizers: terms on the logits of a mini-batch (see
//! [`reglab_core::output`] for how they enter the training step).
//!
//! | name | file | `r(z)` (mean over the batch) |
//! |---|---|---|
//! | `label-smoothing` | [`label_smoothing`] | `z_y − mean_k z_k` (CE + ε·r = PyTorch's `label_smoothing=ε`) |
//! | `confidence-penalty` | [`confidence_penalty`] | `Σ_k p_k log p_k = −H(p)` |
//! | `spectral-decoupling` | [`spectral_decoupling`] | `½‖z − γ‖²` |
//! | `elr` | [`elr`] | `log(1 − ⟨t_i, p_i⟩)`, `t_i` a running mean of the model's predictions for example `i` |
//! | `feasible` | [`feasible`] | `Σ_i λ_i(ℓ_i − ε)` in place of the cross-entropy, `λ_i` per-example multipliers by dual ascent |

pub mod confidence_penalty;
pub mod elr;
pub mod feasible;
pub mod label_smoothing;
pub mod spectral_decoupling;

#[cfg(test)]
pub(crate) mod test_util {
    use reglab_core::OutputBatch;

    /// A random batch: logits of scale `scale`, labels and indices.
    pub struct Fixture {
        pub logits: Vec<f32>,
        pub labels: Vec<usize>,
        pub index: Vec<usize>,
        pub n: usize,
        pub classes: usize,
    }

    impl Fixture {
        pub fn new(n: usize, classes: usize, scale: f32, seed: u64) -> Self {
            let logits = reglab_core::testing::random_vec(n * classes, scale, seed);
            let labels = (0..n).map(|i| (i * 7 + seed as usize) % classes).collect();
            let index = (0..n).map(|i| (3 * i + 1) % (2 * n)).collect();
            Self { logits, labels, index, n, classes }
        }

        pub fn batch(&self) -> OutputBatch<'_> {
            OutputBatch { logits: &self.logits, n: self.n, classes: self.classes, labels: &self.labels, index: &self.index }
        }
    }

    /// Mean cross-entropy of a batch, from the definition (f64).
    pub fn cross_entropy(b: &OutputBatch<'_>) -> f64 {
        (0..b.n)
            .map(|i| {
                let z = b.row(i);
                let s: f64 = z.iter().map(|&v| (v as f64).exp()).sum();
                s.ln() - z[b.labels[i]] as f64
            })
            .sum::<f64>()
            / b.n as f64
    }
}

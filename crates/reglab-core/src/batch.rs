//! Data perturbations: transforms of a training mini-batch before the forward pass (Cutout,
//! Mixup, input noise), with randomness from the run's seed.
//!
//! A transform changes the inputs in place and may mix the labels (Mixup): it then returns a
//! [`LabelMix`], and the loss becomes `λ·CE(z, y) + (1 − λ)·CE(z, y_b)`. The trainer adds the
//! difference to the plain cross-entropy as an output term, whose gradient with respect to the
//! logits is linear: `(1 − λ)/B · (e_y − e_{y_b})` (the softmax parts cancel).
//!
//! The generator is seeded from `(run seed, optimizer step, term)`: nothing to save in
//! checkpoints, and a resumed run draws the same numbers.

use crate::error::Result;
use crate::spec::Spec;

/// A mini-batch of inputs, mutable.
pub struct BatchMut<'a> {
    /// Inputs, `[n, example]` row-major (an example is `example_shape`, e.g. `[C, H, W]`).
    pub x: &'a mut [f32],
    /// Examples in the batch.
    pub n: usize,
    /// The shape of one example.
    pub example_shape: &'a [usize],
    /// The training labels.
    pub labels: &'a [usize],
}

impl BatchMut<'_> {
    /// Numbers per example.
    pub fn example_len(&self) -> usize {
        self.example_shape.iter().product()
    }
}

/// Mixed labels: the loss is `λ·CE(z, y) + (1 − λ)·CE(z, y_b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMix {
    /// The second label of each example, `y_b`.
    pub labels_b: Vec<usize>,
    /// `λ ∈ [0, 1]`, the weight of the example's own label.
    pub lam: f64,
}

/// A transform of the training batch (see the module documentation).
pub trait BatchTransform: Send {
    /// Command-line name, e.g. `cutout`.
    fn name(&self) -> &'static str;

    /// Check the transform fits examples of `shape` (e.g. Cutout needs images).
    fn check_shape(&self, _shape: &[usize]) -> Result<()> {
        Ok(())
    }

    /// Transform the batch in place, drawing from `rng`; a label mix if the labels are mixed.
    fn apply(&self, batch: &mut BatchMut<'_>, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Option<LabelMix>>;
}

/// One transform with its spec.
pub struct BatchTerm {
    /// The spec.
    pub spec: Spec,
    /// The transform.
    pub transform: Box<dyn BatchTransform>,
}

/// The generator of term `term` at optimizer step `step` of a run with seed `seed`.
pub fn batch_rng(seed: u64, step: u64, term: usize) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let h =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (term as u64 + 1).wrapping_mul(0x94D0_49BB_1331_11EB);
    rand_chacha::ChaCha8Rng::seed_from_u64(h)
}

/// Apply every term in order to the batch at step `step`; the label mix of the last term that
/// mixes, if any (two mixing transforms are refused when the set is built).
pub fn apply_all(terms: &[BatchTerm], batch: &mut BatchMut<'_>, seed: u64, step: u64) -> Result<Option<LabelMix>> {
    let mut mix = None;
    for (j, t) in terms.iter().enumerate() {
        let mut rng = batch_rng(seed, step, j);
        if let Some(m) = t.transform.apply(batch, &mut rng)? {
            mix = Some(m);
        }
    }
    Ok(mix)
}

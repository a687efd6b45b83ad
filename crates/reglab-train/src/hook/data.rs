//! Data perturbations as a hook: cutout, mixup and input noise transform each training batch
//! in place, seeded by `(seed, step, term)` ([`reglab_core::batch`]), so a run repeats and
//! resumes bit for bit. Mixup also mixes the labels: its label part of the loss,
//! `(1 − λ)·mean_i[CE(z_i, y_π(i)) − CE(z_i, y_i)]`, is a loss term on the logits here.

use super::{LossCx, StepHook};
use crate::error::TrainError;
use reglab_core::batch::{BatchMut, BatchTerm, LabelMix};

/// The data perturbations of a run, applied in order.
pub struct DataPerturbations {
    /// The terms.
    pub terms: Vec<BatchTerm>,
}

impl StepHook for DataPerturbations {
    fn perturb_batch(&mut self, batch: &mut BatchMut<'_>, seed: u64, step: u64) -> Result<Option<LabelMix>, TrainError> {
        reglab_core::batch::apply_all(&self.terms, batch, seed, step).map_err(|e| TrainError::Other(e.to_string()))
    }

    fn loss_terms(&mut self, cx: &LossCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        if let Some(m) = cx.mix {
            values.push(("mixup".into(), mix_term(cx.batch, m, grad)));
        }
        Ok(())
    }
}

/// Mixup's label part added to `CE(z, y)`: `(1 − λ)·mean_i[CE(z_i, y_b,i) − CE(z_i, y_i)]`, its
/// value returned and its logit gradient `(1 − λ)/B·(e_{y_i} − e_{y_b,i})` added into `g`.
fn mix_term(b: &reglab_core::OutputBatch<'_>, m: &LabelMix, g: &mut [f64]) -> f64 {
    let (n, c, w) = (b.n as f64, b.classes, 1.0 - m.lam);
    let mut v = 0.0;
    for i in 0..b.n {
        let (ya, yb) = (b.labels[i], m.labels_b[i]);
        let z = b.row(i);
        v += z[ya] as f64 - z[yb] as f64; // CE_b − CE_a = (lse − z_b) − (lse − z_a)
        g[i * c + ya] += w / n;
        g[i * c + yb] -= w / n;
    }
    w * v / n
}

//! `neural-collapse=λ₁`: the step hook of [`reglab_regularizers::feature::neural_collapse`] —
//! within-class compactness of the penultimate features to learnable class means, and the
//! means' separation toward a simplex ETF (Liu et al., AISTATS 2023). The formula, the means'
//! SGD step and the paper are in that module; here the features and labels of each training
//! batch go in, `λ₁·∂L₁/∂h` comes out (entering the backward pass as `Σ G ⊙ h`), and the means
//! are checkpointed so a resumed run continues from them.

use super::{FeatureCx, StepHook};
use crate::error::TrainError;
use crate::model::Net;
use reglab_core::{NamedTensor, Spec};
use reglab_regularizers::feature::neural_collapse::NeuralCollapse;

/// The hook: the term and its class means, bound to the model's head.
pub struct NeuralCollapseHook {
    nc: NeuralCollapse,
}

impl NeuralCollapseHook {
    /// From the spec and the model: `C` and `d` are the head's output and input widths; the
    /// means are drawn from `seed`.
    pub fn new(spec: &Spec, net: &Net, seed: u64) -> Result<Self, TrainError> {
        let mut nc = NeuralCollapse::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?;
        let layers = net.layers();
        let head = layers.last().ok_or_else(|| TrainError::Config("neural-collapse needs a model with a last layer".into()))?;
        if layers.len() < 2 {
            return Err(TrainError::Config("neural-collapse acts on hidden features: a linear model has none (give hidden layers)".into()));
        }
        let (classes, dim) = (head.shape[0], head.shape[1..].iter().product());
        nc.bind(classes, dim, seed).map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Self { nc })
    }

    /// The current class means, `[C, d]` row-major.
    pub fn means(&self) -> &[f64] {
        &self.nc.means
    }
}

impl StepHook for NeuralCollapseHook {
    fn needs_features(&self) -> bool {
        true
    }

    fn feature_terms(&mut self, cx: &FeatureCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        if cx.d != self.nc.dim {
            return Err(TrainError::Other(format!("neural-collapse: features of width {}, the head reads {}", cx.d, self.nc.dim)));
        }
        let v = self.nc.step(cx.features, cx.labels, cx.n, grad).map_err(|e| TrainError::Other(e.to_string()))?;
        values.push(("neural-collapse".into(), v));
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.nc.state())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with("neural-collapse.")
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        self.nc.load_state(state).map_err(|e| TrainError::Config(format!("checkpoint: {e}")))
    }
}

//! `ridg=λ`: the step hook of [`reglab_regularizers::feature::ridg`] — rationale invariance
//! (Chen et al., ICCV 2023). The formula, the bank's update and the paper are in that module.
//! Here the head's weights are read before the forward pass, the batch's features and labels go
//! in, `λ·∂L/∂h` enters the backward pass as `Σ G ⊙ h`, and `λ·∂L/∂W` is added to the head
//! weight's gradient after the backward pass (the rationale `W ⊙ h` depends on both, and the
//! official code lets the gradient reach both). The bank is checkpointed.

use super::{FeatureCx, StepCx, StepHook};
use crate::error::TrainError;
use crate::model::{LayerInfo, LayerKind, Net};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::TensorData;
use reglab_core::{NamedTensor, Spec};
use reglab_regularizers::feature::ridg::Ridg;

/// The hook: the term, the head layer, its weights at this step and the pending head gradient.
pub struct RidgHook {
    ridg: Ridg,
    head: usize,
    info: LayerInfo,
    /// The head weight `[C, d]`, PyTorch layout, read before the forward pass.
    w: Vec<f32>,
    /// `λ·∂L/∂W` of this step, `[C, d]`, added after the backward pass.
    pending: Option<Vec<f64>>,
}

impl RidgHook {
    /// From the spec and the model: the last layer, linear, is the head `W ∈ R^{C×d}`.
    pub fn new(spec: &Spec, net: &Net) -> Result<Self, TrainError> {
        let mut ridg = Ridg::from_spec(spec).map_err(|e| TrainError::Config(e.to_string()))?;
        let layers = net.layers();
        if layers.len() < 2 {
            return Err(TrainError::Config("ridg acts on hidden features: a linear model has none (give hidden layers)".into()));
        }
        let head = layers.len() - 1;
        let info = layers[head].clone();
        if info.kind != LayerKind::Linear || info.shape.len() != 2 {
            return Err(TrainError::Config(format!("ridg needs a linear last layer, `{}` is not", info.name)));
        }
        ridg.bind(info.shape[0], info.shape[1]).map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Self { ridg, head, info, w: Vec::new(), pending: None })
    }
}

impl StepHook for RidgHook {
    fn before_forward(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        let (w, _) = cx.net.layer_data(self.head);
        let stored = w.convert::<f32>().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("head weight: {e:?}")))?;
        self.w = self.info.weight_to_pytorch(&stored);
        Ok(())
    }

    fn needs_features(&self) -> bool {
        true
    }

    fn feature_terms(&mut self, cx: &FeatureCx<'_>, grad: &mut [f64], values: &mut Vec<(String, f64)>) -> Result<(), TrainError> {
        if cx.d != self.ridg.dim {
            return Err(TrainError::Other(format!("ridg: features of width {}, the head reads {}", cx.d, self.ridg.dim)));
        }
        let mut gw = vec![0.0; self.w.len()];
        let v = self.ridg.step(cx.features, cx.labels, cx.n, &self.w, grad, &mut gw).map_err(|e| TrainError::Other(e.to_string()))?;
        self.pending = Some(gw);
        values.push(("ridg".into(), v));
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        let Some(gw) = self.pending.take() else { return Ok(()) };
        let (wid, _) = cx.net.param_ids(self.head);
        let extra = self.info.weight_from_pytorch(&gw.iter().map(|&v| v as f32).collect::<Vec<_>>());
        let dims = self.info.storage_dims();
        let (base, dev) = match crate::model::remove_grad(grads, wid, 2) {
            Some((g, dev)) => (g.convert::<f32>().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("head gradient: {e:?}")))?, dev),
            None => (
                vec![0.0; extra.len()],
                cx.net.devices().into_iter().next().ok_or_else(|| TrainError::Other("the model has no device".into()))?.inner(),
            ),
        };
        let sum: Vec<f32> = base.iter().zip(&extra).map(|(a, b)| a + b).collect();
        crate::model::register_grad(grads, wid, TensorData::new(sum, dims), &dev);
        Ok(())
    }

    fn state(&self) -> Result<Vec<NamedTensor>, TrainError> {
        Ok(self.ridg.state())
    }

    fn owns(&self, name: &str) -> bool {
        name.starts_with("ridg.")
    }

    fn load_state(&mut self, _net: &mut Net, state: &[NamedTensor]) -> Result<(), TrainError> {
        self.ridg.load_state(state).map_err(|e| TrainError::Config(format!("checkpoint: {e}")))
    }
}

//! Mixout as a hook ([`reglab_regularizers::stochastic::mixout`]): before the forward pass each
//! linear layer's weight becomes `W̃ = ((1 − M)⊙U + M⊙W − p·U)/(1 − p)`, `M` a Bernoulli mask
//! per input column from `(seed, step, layer)` and `U` the anchor (the initial weights or a
//! checkpoint's); after the backward pass `W` is put back and its gradient scaled by the mask
//! (`M/(1 − p)`, or `M` with `grad=official`).

use super::{StepCx, StepHook};
use crate::error::TrainError;
use crate::model::{LayerKind, Net};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use reglab_core::NamedTensor;
use reglab_regularizers::stochastic::mixout::Mixout;

/// Mixout and its anchor per layer (linear layers; burn layout).
pub struct MixoutHook {
    mixout: Mixout,
    anchors: Vec<Option<Vec<f32>>>,
    /// `(layer, W, column mask)` of the layers mixed in this step.
    saved: Vec<(usize, Vec<f32>, Vec<f32>)>,
}

impl MixoutHook {
    /// Mixout on `net`, anchored at `anchor`'s weights (PyTorch names and layout, e.g. a
    /// pretrained checkpoint) or else at the current (initial) weights.
    pub fn new(mixout: Mixout, net: &Net, anchor: Option<&[NamedTensor]>) -> Result<Self, TrainError> {
        let mut anchors = Vec::new();
        for (i, l) in net.layers().iter().enumerate() {
            if l.kind != LayerKind::Linear {
                anchors.push(None);
                continue;
            }
            let u = match anchor.and_then(|a| a.iter().find(|t| t.name == l.weight_name())) {
                Some(t) if t.shape == l.shape => reglab_core::linalg::transpose(&t.data, l.shape[0], l.shape[1]),
                Some(t) => return Err(TrainError::Config(format!("mixout anchor `{}` has shape {:?}, the layer {:?}", t.name, t.shape, l.shape))),
                None => net.layer_data(i).0.try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?,
            };
            anchors.push(Some(u));
        }
        Ok(Self { mixout, anchors, saved: Vec::new() })
    }
}

impl MixoutHook {
    /// The anchors `U` per layer (burn layout; `None` for layers mixout leaves alone).
    pub fn anchors_mut(&mut self) -> &mut Vec<Option<Vec<f32>>> {
        &mut self.anchors
    }
}

impl StepHook for MixoutHook {
    fn before_forward(&mut self, cx: &mut StepCx<'_>) -> Result<(), TrainError> {
        self.saved.clear();
        for (i, u) in self.anchors.iter().enumerate() {
            let Some(u) = u else { continue };
            let (w, _) = cx.net.layer_data(i);
            let shape = w.shape().to_vec(); // burn [in, out]
            let w: Vec<f32> = w.try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?;
            let out = shape[1];
            let mask = self.mixout.mask(shape[0], cx.seed, cx.step, i);
            let mixed = self.mixout.mix(&w, u, &mask, |k| k / out);
            cx.net.set_weight(i, TensorData::new(mixed, shape));
            self.saved.push((i, w, mask));
        }
        Ok(())
    }

    fn after_backward(&mut self, cx: &mut StepCx<'_>, grads: &mut GradientsParams) -> Result<(), TrainError> {
        for (i, w, mask) in std::mem::take(&mut self.saved) {
            let (wid, _) = cx.net.param_ids(i);
            let (in_dim, out) = (mask.len(), w.len() / mask.len());
            cx.net.set_weight(i, TensorData::new(w, [in_dim, out]));
            let factor = self.mixout.grad_factor(&mask);
            let g: Tensor<2> = grads.remove::<2>(wid).ok_or_else(|| TrainError::Other("mixout: no gradient for a mixed weight".into()))?;
            let dev = g.device();
            let mut gv: Vec<f32> = g.into_data().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?;
            for (k, v) in gv.iter_mut().enumerate() {
                *v *= factor[k / out];
            }
            grads.register::<2>(wid, Tensor::<2>::from_data(TensorData::new(gv, [in_dim, out]), &dev));
        }
        Ok(())
    }
}

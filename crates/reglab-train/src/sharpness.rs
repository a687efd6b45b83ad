//! Flat views of the layer parameters and their gradients, for the steps that take the
//! gradient at perturbed weights (`amp`, `sam`, `grad-norm`; see
//! [`reglab_regularizers::stochastic::sharpness`]). Order: for each layer, its weight then its
//! bias; burn layout.

use crate::model::Net;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};

/// One parameter tensor: its values (flat) and its burn shape.
pub type Flat = (Vec<f32>, Vec<usize>);

/// The layer parameters as flat f32 vectors with their shapes.
pub fn params(net: &Net) -> Result<Vec<Flat>, String> {
    let mut out = Vec::new();
    for i in 0..net.layers().len() {
        let (w, b) = net.layer_data(i);
        for d in std::iter::once(w).chain(b) {
            let shape = d.shape().to_vec();
            out.push((d.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?, shape));
        }
    }
    Ok(out)
}

/// Set the layer parameters to `base + delta` (flat, in [`params`]'s order).
pub fn set_params(net: &mut Net, base: &[Flat], delta: Option<&[Vec<f32>]>) {
    let n = net.layers().len();
    let mut k = 0;
    for i in 0..n {
        let has_bias = net.param_ids(i).1.is_some();
        for part in 0..1 + has_bias as usize {
            let (v, shape) = &base[k];
            let v = match delta {
                Some(d) => v.iter().zip(&d[k]).map(|(a, b)| a + b).collect(),
                None => v.clone(),
            };
            let data = TensorData::new(v, shape.clone());
            if part == 0 {
                net.set_weight(i, data)
            } else {
                net.set_bias(i, data)
            }
            k += 1;
        }
    }
}

/// The gradients of the layer parameters, flat (0 where a gradient is missing).
pub fn grads(net: &Net, grads: &GradientsParams) -> Result<Vec<Vec<f32>>, String> {
    let infos = net.layers();
    let mut out = Vec::new();
    for (i, l) in infos.iter().enumerate() {
        let (wid, bid) = net.param_ids(i);
        let n: usize = l.shape.iter().product();
        let w = crate::model::get_grad(grads, wid, l.shape.len());
        out.push(match w {
            Some(d) => d.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?,
            None => vec![0.0; n],
        });
        if let Some(bid) = bid {
            let out_dim = l.shape[0];
            out.push(match grads.get::<1>(bid) {
                Some(t) => t.into_data().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?,
                None => vec![0.0; out_dim],
            });
        }
    }
    Ok(out)
}

/// Add `extra` (flat, in [`params`]'s order) to the gradients.
pub fn add_grads(net: &Net, grads: &mut GradientsParams, extra: &[Vec<f32>]) -> Result<(), String> {
    let infos = net.layers();
    let dev = net.devices().into_iter().next().ok_or("the model has no device")?.inner();
    let shapes = shapes(net);
    let mut k = 0;
    for (i, l) in infos.iter().enumerate() {
        let (wid, bid) = net.param_ids(i);
        let add = |g: Option<Vec<f32>>, e: &[f32]| -> Vec<f32> {
            match g {
                Some(g) => g.iter().zip(e).map(|(a, b)| a + b).collect(),
                None => e.to_vec(),
            }
        };
        let g = crate::model::remove_grad(grads, wid, l.shape.len()).map(|(t, _)| t.try_into_vec::<f32>().unwrap_or_default());
        let v = add(g, &extra[k]);
        crate::model::register_grad(grads, wid, TensorData::new(v, shapes[k].clone()), &dev);
        k += 1;
        if let Some(bid) = bid {
            let g = grads.remove::<1>(bid).map(|t| t.into_data().try_into_vec::<f32>().unwrap_or_default());
            let v = add(g, &extra[k]);
            grads.register::<1>(bid, Tensor::<1>::from_data(TensorData::new(v, shapes[k].clone()), &dev));
            k += 1;
        }
    }
    Ok(())
}

/// Flat values in [`params`]'s order (burn layout) as PyTorch-named, PyTorch-layout tensors,
/// as [`Net::to_pytorch`] names the parameters themselves.
pub fn to_pytorch(net: &Net, flat: &[Vec<f32>]) -> Vec<reglab_core::NamedTensor> {
    let mut out = Vec::new();
    let mut k = 0;
    for l in net.layers() {
        out.push(reglab_core::NamedTensor::new(l.weight_name(), l.shape.clone(), l.weight_to_pytorch(&flat[k])));
        k += 1;
        if l.has_bias {
            out.push(reglab_core::NamedTensor::new(l.bias_name(), vec![flat[k].len()], flat[k].clone()));
            k += 1;
        }
    }
    out
}

/// The burn-layout shapes of the layer parameters, in [`params`]'s order.
pub fn shapes(net: &Net) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for l in net.layers() {
        out.push(l.storage_dims());
        if l.has_bias {
            out.push(vec![l.shape[0]]);
        }
    }
    out
}

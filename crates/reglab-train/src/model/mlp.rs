//! Multi-layer perceptron with ReLU.

use super::{Ids, param, uniform_fan_in};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, activation::relu};
use rand::Rng;

/// `d_in → hidden… → classes`, ReLU between layers.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers, in order.
    pub layers: Vec<Linear>,
}

/// A linear layer with PyTorch's default initialisation, stored as burn wants (`[in, out]`).
pub(crate) fn linear(d_in: usize, d_out: usize, rng: &mut impl Rng, ids: &mut Ids, device: &Device) -> Linear {
    // Draw in PyTorch order ([out, in] row-major), then store transposed, so that a given seed
    // gives the same matrix whatever the storage.
    let w = uniform_fan_in(d_in * d_out, d_in, rng);
    let b = uniform_fan_in(d_out, d_in, rng);
    let wt = reglab_core::linalg::transpose(&w, d_out, d_in);
    let weight = param(ids, wt, [d_in, d_out], device);
    Linear { weight, bias: Some(param(ids, b, [d_out], device)) }
}

impl Mlp {
    /// A new MLP.
    pub(crate) fn new(d_in: usize, hidden: &[usize], classes: usize, rng: &mut impl Rng, ids: &mut Ids, device: &Device) -> Self {
        let mut dims = vec![d_in];
        dims.extend_from_slice(hidden);
        dims.push(classes);
        Self { layers: dims.windows(2).map(|w| linear(w[0], w[1], rng, ids, device)).collect() }
    }

    /// Logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = relu(h);
            }
        }
        h
    }

    /// Logits with `drop(i, h)` applied to the hidden activations `h` (after each ReLU) of
    /// hidden layer `i` (dropout).
    pub fn forward_with(&self, x: Tensor<2>, drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = drop(i, relu(h));
            }
        }
        h
    }

    /// The pre-activation (output before the ReLU) of layer `i`, `[batch, out]`.
    pub fn preactivation(&self, x: Tensor<2>, i: usize) -> Tensor<2> {
        let mut h = x;
        for l in &self.layers[..i] {
            h = relu(l.forward(h));
        }
        self.layers[i].forward(h)
    }

    /// The penultimate features (input of the last layer), for probes.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for l in &self.layers[..self.layers.len() - 1] {
            h = relu(l.forward(h));
        }
        h
    }
}

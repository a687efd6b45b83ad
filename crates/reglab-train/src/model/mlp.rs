//! Multi-layer perceptron, ReLU (or another [`Act`]) between layers.

use super::activation::Act;
use super::{Ids, param, uniform_fan_in};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use rand::Rng;

/// `d_in → hidden… → classes`, the activation `act` between layers.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers, in order.
    pub layers: Vec<Linear>,
    /// The hidden activation (ReLU by default).
    #[module(skip)]
    pub act: Act,
}

/// A linear layer with PyTorch's default initialisation, stored as burn wants (`[in, out]`).
pub(crate) fn linear(d_in: usize, d_out: usize, rng: &mut impl Rng, ids: &mut Ids, device: &Device) -> Linear {
    linear_with(d_in, d_out, true, rng, ids, device)
}

/// [`linear`], with or without the bias (without: the bias is not drawn either).
pub(crate) fn linear_with(d_in: usize, d_out: usize, bias: bool, rng: &mut impl Rng, ids: &mut Ids, device: &Device) -> Linear {
    // Draw in PyTorch order ([out, in] row-major), then store transposed, so that a given seed
    // gives the same matrix whatever the storage.
    let w = uniform_fan_in(d_in * d_out, d_in, rng);
    let b = bias.then(|| uniform_fan_in(d_out, d_in, rng));
    let wt = reglab_core::linalg::transpose(&w, d_out, d_in);
    let weight = param(ids, wt, [d_in, d_out], device);
    Linear { weight, bias: b.map(|b| param(ids, b, [d_out], device)) }
}

impl Mlp {
    /// A new MLP with activation `act`, with or without biases.
    #[allow(clippy::too_many_arguments)] // the architecture, then where it comes from
    pub(crate) fn new(
        d_in: usize,
        hidden: &[usize],
        classes: usize,
        act: Act,
        bias: bool,
        rng: &mut impl Rng,
        ids: &mut Ids,
        device: &Device,
    ) -> Self {
        let mut dims = vec![d_in];
        dims.extend_from_slice(hidden);
        dims.push(classes);
        Self { layers: dims.windows(2).map(|w| linear_with(w[0], w[1], bias, rng, ids, device)).collect(), act }
    }

    /// Logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = self.act.apply(h);
            }
        }
        h
    }

    /// Logits with `drop(i, h)` applied to the hidden activations `h` (after each activation) of
    /// hidden layer `i` (dropout).
    pub fn forward_with(&self, x: Tensor<2>, drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = drop(i, self.act.apply(h));
            }
        }
        h
    }

    /// The pre-activation (output before the activation) of layer `i`, `[batch, out]`.
    pub fn preactivation(&self, x: Tensor<2>, i: usize) -> Tensor<2> {
        let mut h = x;
        for l in &self.layers[..i] {
            h = self.act.apply(l.forward(h));
        }
        self.layers[i].forward(h)
    }

    /// The penultimate features (input of the last layer), for probes.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for l in &self.layers[..self.layers.len() - 1] {
            h = self.act.apply(l.forward(h));
        }
        h
    }
}

//! A small CNN: [conv 3×3 (pad 1) → ReLU → max-pool 2×2] × k → linear head.

use super::mlp::linear;
use super::{Ids, param, uniform_fan_in};
use burn::module::Module;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Tensor, activation::relu};
use rand::Rng;

/// The small CNN.
#[derive(Module, Debug)]
pub struct Cnn {
    /// Convolutions.
    pub convs: Vec<Conv2d>,
    /// 2×2 max-pooling after each convolution.
    pub pool: MaxPool2d,
    /// Classifier on the flattened features.
    pub head: Linear,
    /// Input `[c, h, w]`.
    pub input: [usize; 3],
}

impl Cnn {
    /// A new CNN for `[c, h, w]` inputs.
    pub(crate) fn new(
        input: [usize; 3],
        channels: &[usize],
        classes: usize,
        rng: &mut impl Rng,
        ids: &mut Ids,
        device: &Device,
    ) -> Result<Self, String> {
        let [mut c, mut h, mut w] = input;
        let mut convs = Vec::new();
        for &out in channels {
            if h < 2 || w < 2 {
                return Err(format!("cnn: {} pooling stages are too many for {input:?} inputs", channels.len()));
            }
            let mut conv = Conv2dConfig::new([c, out], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device);
            let fan_in = c * 9;
            conv.weight = param(ids, uniform_fan_in(out * fan_in, fan_in, rng), [out, c, 3, 3], device);
            conv.bias = Some(param(ids, uniform_fan_in(out, fan_in, rng), [out], device));
            convs.push(conv);
            c = out;
            h /= 2;
            w /= 2;
        }
        let head = linear(c * h * w, classes, rng, ids, device);
        Ok(Self { convs, pool: MaxPool2dConfig::new([2, 2]).init(), head, input })
    }

    fn trunk(&self, x: Tensor<2>) -> Tensor<2> {
        let [c, h, w] = self.input;
        let b = x.dims()[0];
        let mut z: Tensor<4> = x.reshape([b, c, h, w]);
        for conv in &self.convs {
            z = self.pool.forward(relu(conv.forward(z)));
        }
        z.flatten(1, 3)
    }

    /// The pre-activation of layer `i` (conv `i` before ReLU and pooling, `[batch, c, h, w]`;
    /// `i = convs.len()` is the head, `[batch, classes, 1, 1]`).
    pub fn preactivation(&self, x: Tensor<2>, i: usize) -> Tensor<4> {
        let [c, h, w] = self.input;
        let b = x.dims()[0];
        let mut z: Tensor<4> = x.clone().reshape([b, c, h, w]);
        for (k, conv) in self.convs.iter().enumerate() {
            let y = conv.forward(z);
            if k == i {
                return y;
            }
            z = self.pool.forward(relu(y));
        }
        let y = self.head.forward(z.flatten(1, 3));
        let [b, k] = y.dims();
        y.reshape([b, k, 1, 1])
    }

    /// Logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.trunk(x))
    }

    /// Logits with `drop(0, f)` applied to the flattened conv features `f` before the head
    /// (dropout before the classifier).
    pub fn forward_with(&self, x: Tensor<2>, drop: &mut dyn FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        self.head.forward(drop(0, self.trunk(x)))
    }

    /// The penultimate features (flattened conv output), for probes.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        self.trunk(x)
    }
}

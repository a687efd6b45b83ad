//! `--reparam lawn:free=E:layers=K`: logit-attenuating weight normalization.
//!
//! ## Formula
//! ```text
//! steps ≤ E·(steps per epoch):  W = P, trained freely
//! at the end of the free phase: c_l = ‖P_l‖_F for each of the last K layers (frozen)
//! afterwards, each step:        ∇_P ← ∇_W − (⟨∇_W, P⟩ / ‖P‖²_F) · P     (tangent to the sphere)
//!                               P ← c_l · P / ‖P‖_F                       (back onto it)
//! ```
//! Symbols and shapes: `P = W ∈ R^{out×in}` the weight of one of the last `K` layers (the final
//! homogeneous sub-network; a convolution is flattened), `c_l` its frozen Frobenius norm, `∇_W`
//! the gradient of the loss (and of any regularizer). The earlier layers are untouched. The paper
//! uses no weight decay in the constrained phase: do not add `l2` to a LAWN run. With `E = 0` the
//! norm is the one after the first step.
//!
//! ## Paper
//! Gupta, Ramanath, Shi, Ramachandran, Zhou, Zhou, Keerthi, "Logit Attenuating Weight
//! Normalization", arXiv 2108.05839, 2021.

use super::{Rule, Shape2};
use reglab_core::NamedTensor;

/// LAWN. See the module documentation.
#[derive(Debug, Clone)]
pub struct Lawn {
    free_epochs: usize,
    steps_per_epoch: usize,
    /// Frozen norm per layer, once the free phase is over.
    norms: Vec<Option<f64>>,
}

impl Lawn {
    /// For a model of `layers` layers.
    pub fn new(free_epochs: usize, layers: usize) -> Self {
        Self { free_epochs, steps_per_epoch: 0, norms: vec![None; layers] }
    }
    fn free_steps(&self) -> u64 {
        (self.free_epochs * self.steps_per_epoch) as u64
    }
}

fn norm(p: &[f32]) -> f64 {
    reglab_core::linalg::sum_sq(p).sqrt()
}

impl Rule for Lawn {
    fn extras_len(&self, _s: Shape2) -> usize {
        0
    }

    fn init_extras(&self, _s: Shape2, _p: &[f32], _e: &mut [f32]) {}

    fn forward(&mut self, _layer: usize, _s: Shape2, p: &[f32], _e: &[f32], w: &mut [f32], _advance: bool) {
        w.copy_from_slice(p);
    }

    fn backward(&mut self, layer: usize, _s: Shape2, p: &[f32], _e: &[f32], gw: &[f32], gp: &mut [f32], _ge: &mut [f32]) {
        gp.copy_from_slice(gw);
        if self.norms[layer].is_none() {
            return;
        }
        let pp = reglab_core::linalg::sum_sq(p);
        if pp == 0.0 {
            return;
        }
        let k = (gw.iter().zip(p).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>() / pp) as f32;
        for (g, &x) in gp.iter_mut().zip(p) {
            *g -= k * x;
        }
    }

    fn after_step(&mut self, layer: usize, _s: Shape2, p: &mut [f32], step: u64) {
        match self.norms[layer] {
            None => {
                if self.steps_per_epoch > 0 && step + 1 >= self.free_steps() {
                    // stored as f32 so that a resumed run (f32 checkpoints) continues bit for bit
                    self.norms[layer] = Some(norm(p) as f32 as f64);
                }
            }
            Some(c) => {
                let n = norm(p);
                if n > 0.0 {
                    let k = (c / n) as f32;
                    p.iter_mut().for_each(|x| *x *= k);
                }
            }
        }
    }

    fn set_steps_per_epoch(&mut self, n: usize) {
        self.steps_per_epoch = n;
    }

    fn state(&self) -> Vec<NamedTensor> {
        // −1: not frozen yet
        let v: Vec<f32> = self.norms.iter().map(|n| n.map(|x| x as f32).unwrap_or(-1.0)).collect();
        vec![NamedTensor::new("lawn/norms", vec![v.len()], v)]
    }

    fn load_state(&mut self, tensors: &[NamedTensor]) -> Result<(), String> {
        let t = tensors.iter().find(|t| t.name == "lawn/norms").ok_or("no reparam state `lawn/norms`")?;
        if t.data.len() != self.norms.len() {
            return Err(format!("reparam state `lawn/norms` has {} values, the model {} layers", t.data.len(), self.norms.len()));
        }
        self.norms = t.data.iter().map(|&x| if x < 0.0 { None } else { Some(x as f64) }).collect();
        Ok(())
    }
}

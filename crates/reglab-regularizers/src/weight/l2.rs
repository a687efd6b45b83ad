//! `l2=λ`: weight decay, λ/2·‖W‖²_F.
//!
//! ## Formula
//! `R(W) = λ/2 · Σ_ij W_ij²`, with `W` any selected tensor (by default the weights of linear
//! and conv layers). Gradient `∇R = λ W`, which is exactly PyTorch's `weight_decay=λ` added to
//! the gradient (coupled decay, as in SGD and Adam; AdamW's decoupled decay is the optimizer's
//! own `weight_decay`). Proximal step (not used in training, the gradient is exact and cheap):
//! `prox_{ηλR}(v) = v / (1 + ηλ)`.
//!
//! Symbols: `W` the tensor (any shape, layout irrelevant: the penalty is elementwise), `λ ≥ 0`.
//!
//! ## Paper
//! Krogh & Hertz, "A Simple Weight Decay Can Improve Generalization", NIPS 1991; the
//! convention λ/2 follows the architecture notes so that `l2=λ` ≡ `weight_decay=λ`.

use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad};

/// Weight decay `λ/2·‖W‖²_F`. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct L2;

impl L2 {
    /// Build from a spec (`l2=λ`, no options).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Self)
    }
}

impl Regularizer for L2 {
    fn name(&self) -> &'static str {
        "l2"
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, _mode: Mode) -> Result<f64> {
        let w = t.weight.data;
        if let Some(g) = grad {
            for (gi, &wi) in g.weight.iter_mut().zip(w) {
                *gi += scale * wi;
            }
        }
        Ok(0.5 * reglab_core::linalg::sum_sq(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, gradient_error, rel};

    fn reg() -> L2 {
        L2::from_spec(&Spec::parse("l2=1").unwrap()).unwrap()
    }

    #[test]
    fn value_is_half_the_squared_frobenius_norm() {
        let c = Case { weight: vec![1.0, -2.0, 3.0, 0.5, 0.0, -1.0], ..Case::random("fc.weight", &[2, 3], 0) };
        // independent: 1 + 4 + 9 + 0.25 + 0 + 1 = 15.25, halved
        assert_eq!(c.value(&mut reg()), 7.625);
    }

    #[test]
    fn gradient_is_w_and_matches_finite_differences() {
        let c = Case::random("fc.weight", &[7, 5], 1);
        let (_, g, _) = c.value_and_grad(&mut reg());
        assert_eq!(g, c.weight);
        assert!(gradient_error(&mut reg(), &c, 1e-2) < 1e-6);
    }

    #[test]
    fn invariants_zero_at_zero_and_layout_free() {
        let z = Case { weight: vec![0.0; 12], ..Case::random("fc.weight", &[3, 4], 2) };
        assert_eq!(z.value(&mut reg()), 0.0);
        let c = Case::random("fc.weight", &[6, 4], 3);
        assert!(rel(c.value(&mut reg()), c.transposed().value(&mut reg())) < 1e-12);
    }

    #[test]
    fn rejects_unknown_options() {
        assert!(L2::from_spec(&Spec::parse("l2=1:k=2").unwrap()).is_err());
    }
}

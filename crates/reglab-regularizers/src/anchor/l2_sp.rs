//! `l2-sp=α[:ratio=ρ][:head=PATTERN]`: L2-SP, the starting point as the reference when
//! fine-tuning — pull the pretrained parameters toward their pretrained values and, optionally,
//! shrink the new head toward 0.
//!
//! ## Formula
//! `Ω(w) = α/2 · ‖w_S − w_S⁰‖²₂ + β/2 · ‖w_S̄‖²₂` (Li, Grandvalet & Davoine, eq. 3), where `w_S`
//! are the parameters shared with the pretrained (source) network, `w_S⁰` their pretrained values,
//! and `w_S̄` the parameters new to the target task (the classification head). Here the spec's
//! strength is `λ = α` and `β = ρ·α`, so every selected tensor `W` contributes
//! - `λ · ½‖W − W₀‖²_F` (gradient `λ (W − W₀)`) if its name does not match the head pattern, with
//!   `W₀` the tensor in the pretrained checkpoint — the trainer's anchor: the model's weights when
//!   training starts, i.e. the loaded pretrained encoder (or an `--anchor` checkpoint);
//! - `λ · ρ · ½‖W‖²_F` (gradient `λ ρ W`) if it does (`head`, default `classifier.*|head.*`;
//!   `ρ` default 0: the head is not penalized — the paper's β = 0 variant and the default the
//!   fine-tuning literature uses for BERT; the paper's own experiments use α = 0.1, β = 0.01,
//!   i.e. `l2-sp=0.1:ratio=0.1`).
//!
//! This module computes the bare `r` (the caller multiplies by λ). Which tensors are selected is
//! the trainer's default (layer weights: embeddings, linear weights) unless `select=` says
//! otherwise (`select=*` for every parameter, biases and LayerNorm scales included).
//!
//! Symbols: `W`, `W₀` tensors of the same shape (any shape; the penalty is elementwise, so only
//! the entry-by-entry match matters, done across storage layouts), `α = λ ≥ 0`, `ρ ≥ 0`.
//!
//! ## Paper
//! Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with Convolutional
//! Networks", ICML 2018 (arXiv 1802.01483); catalog #102 (L2-SP as the default anchor with a
//! pretrained backbone) and #74. With `ρ = 0` and a selection that excludes the head it equals
//! `l2-init` anchored at the pretrained weights; the difference is that the head is recognised by
//! name, so the default selection cannot anchor a randomly initialised head to its random start.

use super::l2_init::{L2Init, check_grad_len};
use reglab_core::select::Selection;
use reglab_core::{Mode, Regularizer, Result, Spec, Target, TargetGrad};

/// The default head pattern.
pub const DEFAULT_HEAD: &str = "classifier.*|head.*";

/// L2-SP. See the module documentation.
#[derive(Debug, Clone)]
pub struct L2Sp {
    /// `ρ = β/α`.
    pub ratio: f64,
    /// Tensors of the new head.
    pub head: Selection,
    anchor: L2Init,
}

impl L2Sp {
    /// Build from a spec (`l2-sp=α[:ratio=ρ][:head=PATTERN]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let ratio = o.f64("ratio", 0.0)?;
        o.ensure(ratio >= 0.0, "option `ratio` must be ≥ 0")?;
        let pattern = o.string_opt("head")?.unwrap_or_else(|| DEFAULT_HEAD.to_string());
        let head = match Selection::pattern(&pattern) {
            Ok(h) => h,
            Err(e) => return Err(o.ensure(false, format!("option `head`: {e}")).expect_err("ensure(false) is an error")),
        };
        o.finish()?;
        Ok(Self { ratio, head, anchor: L2Init })
    }

    /// Whether `name` is a head tensor.
    pub fn is_head(&self, name: &str) -> bool {
        self.head.matches(name, reglab_core::select::Role::Other)
    }
}

impl Regularizer for L2Sp {
    fn name(&self) -> &'static str {
        "l2-sp"
    }

    fn needs_init(&self) -> bool {
        true
    }

    fn eval(&mut self, t: &Target<'_>, grad: Option<&mut TargetGrad<'_>>, scale: f32, mode: Mode) -> Result<f64> {
        if !self.is_head(t.name) {
            return self.anchor.eval(t, grad, scale, mode);
        }
        let w = t.weight.data;
        if let Some(g) = grad {
            check_grad_len(t, g)?;
            let s = scale * self.ratio as f32;
            for (gi, &wi) in g.weight.iter_mut().zip(w) {
                *gi += s * wi;
            }
        }
        Ok(self.ratio * 0.5 * w.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reglab_core::testing::{Case, gradient_error, rel};

    fn reg(s: &str) -> L2Sp {
        L2Sp::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn value_anchors_the_encoder_and_shrinks_the_head_by_ratio() {
        // independent values: encoder ½Σ(w − w₀)², head ρ·½Σw²
        let enc = Case {
            weight: vec![1.0, -2.0, 3.0, 0.5],
            init: Some(vec![0.5, -2.0, 1.0, 0.0]),
            ..Case::random("encoder.layer.0.output.dense.weight", &[2, 2], 0)
        };
        assert_eq!(enc.value(&mut reg("l2-sp=1:ratio=0.1")), 0.5 * (0.25 + 0.0 + 4.0 + 0.25));
        let head = Case { weight: vec![1.0, -2.0, 3.0, 0.5], init: Some(vec![9.0; 4]), ..Case::random("classifier.weight", &[2, 2], 0) };
        assert!(rel(head.value(&mut reg("l2-sp=1:ratio=0.1")), 0.1 * 0.5 * (1.0 + 4.0 + 9.0 + 0.25)) < 1e-12);
        // default ρ = 0: the head contributes nothing, its init is never read
        assert_eq!(head.value(&mut reg("l2-sp=1")), 0.0);
        // another head pattern
        let h2 = Case { name: "out_proj.weight".into(), ..head.clone() };
        assert_eq!(h2.value(&mut reg("l2-sp=1:ratio=0.1")), 0.5 * (64.0 + 121.0 + 36.0 + 72.25));
        assert!(rel(h2.value(&mut reg("l2-sp=1:ratio=0.1:head=out_proj.*")), 0.1 * 0.5 * 14.25) < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences_for_both_parts_and_layouts() {
        for name in ["encoder.layer.1.attention.self.query.weight", "classifier.weight"] {
            let c = Case { name: name.into(), ..Case::random(name, &[6, 5], 1).with_random_init(2) };
            for case in [c.clone(), c.transposed()] {
                let mut r = reg("l2-sp=1:ratio=0.3");
                assert!(gradient_error(&mut r, &case, 1e-2) < 1e-6, "{name}");
                let (_, g, _) = case.value_and_grad(&mut r);
                let want: Vec<f32> = if name.starts_with("classifier") {
                    case.weight.iter().map(|w| 0.3 * w).collect()
                } else {
                    case.weight.iter().zip(case.init.as_ref().unwrap()).map(|(w, o)| w - o).collect()
                };
                for (a, b) in g.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-6, "{name}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn invariants_zero_at_the_pretrained_weights_with_a_zero_head_and_equal_to_l2_init_off_the_head() {
        let enc = Case { name: "embeddings.word_embeddings.weight".into(), ..Case::random("e", &[7, 4], 3).with_random_init(4) };
        let at_start = Case { weight: enc.init.clone().unwrap(), ..enc.clone() };
        assert_eq!(at_start.value(&mut reg("l2-sp=1:ratio=0.5")), 0.0);
        assert!(enc.value(&mut reg("l2-sp=1:ratio=0.5")) > 0.0);
        assert_eq!(enc.value(&mut reg("l2-sp=1")), enc.value(&mut L2Init));
        let zero_head = Case { name: "classifier.bias".into(), weight: vec![0.0; 28], ..enc.clone() };
        assert_eq!(zero_head.value(&mut reg("l2-sp=1:ratio=0.5")), 0.0);
    }

    #[test]
    fn bad_options_are_errors() {
        for (s, want) in [("l2-sp=1:ratio=-1", "ratio"), ("l2-sp=1:head=", "head="), ("l2-sp=1:k=2", "unknown option"), ("l2-sp=1:head=[", "pattern")]
        {
            let e = Spec::parse(s).and_then(|sp| L2Sp::from_spec(&sp)).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
        assert!(reg("l2-sp=1").needs_init());
        // without an init the encoder part is an error, the head part is not
        let c = Case::random("encoder.x.weight", &[2, 2], 5);
        assert!(reg("l2-sp=1").eval(&c.target(), None, 1.0, Mode::Exact).is_err());
        let h = Case::random("classifier.weight", &[2, 2], 5);
        assert!(reg("l2-sp=1:ratio=1").eval(&h.target(), None, 1.0, Mode::Exact).is_ok());
    }
}

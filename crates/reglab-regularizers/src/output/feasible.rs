//! `feasible=1[:eps=ε][:dual_lr=η][:decay=w]`: feasible learning — train so that every
//! training example's loss is at most `ε`, by gradient descent–ascent on per-example Lagrange
//! multipliers, instead of minimizing the mean loss.
//!
//! ## Formula
//! The problem is `find θ with ℓ_i(θ) ≤ ε for every training example i` (no objective). On a
//! mini-batch `B`, with `ℓ_i = CE(z_i, y_i)` the example's cross-entropy at the current weights:
//! ```text
//! dual (first):  λ_i ← max(0, λ_i + η·(ℓ_i − ε − w·λ_i))        for i ∈ B
//! primal:        L(θ) = Σ_{i∈B} λ_i·(ℓ_i(θ) − ε),   ∂L/∂z_i = λ_i·(softmax(z_i) − e_{y_i})
//! ```
//! The primal step minimizes `L` **in place of** the cross-entropy
//! ([`reglab_core::OutputRegularizer::replaces_loss`]); the reported training loss is still the
//! mean cross-entropy. Symbols: `z` `[B, C]` logits, `i` the example's index in the training set,
//! `λ ∈ R^N_{≥0}` the multipliers (the state, initialised to 0, saved in checkpoints as
//! `feasible.multipliers`, kept at f32 precision so a resumed run continues bit for bit);
//! `ε` (option `eps`, default ln(1/0.6) ≈ 0.511: the loss of a 60 %-confident correct
//! prediction), `η` (option `dual_lr`, default 10⁻²), `w` (option `decay`, default 0).
//! `w = 1/α > 0` is **resilient** feasible learning: the constraints relaxed to
//! `ℓ_i ≤ ε + u_i` with cost `(α/2)‖u‖²`, whose dual ascent is the update above; its fixed point
//! for a constant loss is `λ = α·max(0, ℓ − ε)`. The strength multiplies `L` (1 in the paper).
//! The sum over the batch (no 1/B) is the paper's code's.
//!
//! An example that meets its constraint has its multiplier driven to 0 and stops contributing:
//! the primal step spends its gradient on the examples with the largest losses, which is what
//! improves the tail of the loss distribution over the mean (ERM).
//!
//! ## Paper
//! Ramirez, Hounie, Elenter, Gallego-Posada, Hashemizadeh, Ribeiro, Lacoste-Julien, "Feasible
//! Learning", AISTATS 2025 (arXiv 2501.14912). Checked against the official code
//! (juan43ramirez/feasible-learning 864a585 with cooper 9f94213): the Lagrangian summed over the
//! batch, multipliers indexed per example and initialised to 0, alternating updates (dual first,
//! then the primal step with the new multipliers on the same forward pass), plain projected
//! gradient ascent, the resilient variant as the dual optimizer's weight decay `w`, and
//! ε = ln(1/0.6). The paper's dual step sizes are for 200-epoch CIFAR-10 runs (10⁻⁴) and its
//! two-moons MLP (10⁻²); the default here is the latter.

use crate::adversarial::attack::cross_entropy_rows;
use reglab_core::{Error, NamedTensor, OutputBatch, OutputRegularizer, Result, Spec};

/// The name of the multipliers in checkpoints.
pub const MULTIPLIERS: &str = "feasible.multipliers";

/// Feasible learning. See the module documentation.
#[derive(Debug, Clone)]
pub struct Feasible {
    eps: f64,
    dual_lr: f64,
    decay: f64,
    /// `λ`, one per training example.
    multipliers: Vec<f32>,
}

impl Feasible {
    /// Build from a spec (`feasible=1[:eps=ε][:dual_lr=η][:decay=w]`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let eps = o.f64("eps", (1.0f64 / 0.6).ln())?;
        let dual_lr = o.f64("dual_lr", 1e-2)?;
        let decay = o.f64("decay", 0.0)?;
        o.ensure(eps >= 0.0, format!("eps = {eps}: the loss bound must be ≥ 0"))?;
        o.ensure(dual_lr > 0.0, format!("dual_lr = {dual_lr}: must be > 0"))?;
        o.ensure(decay >= 0.0 && dual_lr * decay <= 1.0, format!("decay = {decay}: must be ≥ 0 with dual_lr·decay ≤ 1"))?;
        o.finish()?;
        Ok(Self { eps, dual_lr, decay, multipliers: Vec::new() })
    }

    /// The multipliers `λ` (`[examples]`).
    pub fn multipliers(&self) -> &[f32] {
        &self.multipliers
    }

    fn check(&self, b: &OutputBatch<'_>) -> Result<()> {
        if self.multipliers.is_empty() {
            return Err(Error::Shape { tensor: "feasible".into(), why: "not bound to a training set (prepare was not called)".into() });
        }
        if let Some(&i) = b.index.iter().find(|&&i| i >= self.multipliers.len()) {
            return Err(Error::Shape {
                tensor: "feasible".into(),
                why: format!("example index {i} in a training set of {}", self.multipliers.len()),
            });
        }
        Ok(())
    }
}

impl OutputRegularizer for Feasible {
    fn name(&self) -> &'static str {
        "feasible"
    }

    fn prepare(&mut self, examples: usize, _classes: usize) -> Result<()> {
        if self.multipliers.len() != examples {
            self.multipliers = vec![0.0; examples];
        }
        Ok(())
    }

    fn replaces_loss(&self) -> bool {
        true
    }

    fn observe(&mut self, b: &OutputBatch<'_>) -> Result<()> {
        self.check(b)?;
        let (losses, _) = cross_entropy_rows(b.logits, b.labels, b.classes);
        for (i, &loss) in losses.iter().enumerate() {
            let lam = &mut self.multipliers[b.index[i]];
            let l = *lam as f64;
            *lam = (l + self.dual_lr * (loss - self.eps - self.decay * l)).max(0.0) as f32;
        }
        Ok(())
    }

    fn eval(&self, b: &OutputBatch<'_>, grad: Option<&mut [f64]>, scale: f64) -> Result<f64> {
        self.check(b)?;
        // ℓ_i and ∂ℓ_i/∂z_i = softmax(z_i) − e_{y_i}
        let (losses, dl) = cross_entropy_rows(b.logits, b.labels, b.classes);
        let c = b.classes;
        let mut value = 0.0;
        let mut grad = grad;
        for (i, &loss) in losses.iter().enumerate() {
            let lam = self.multipliers[b.index[i]] as f64;
            value += lam * (loss - self.eps);
            if let Some(g) = grad.as_deref_mut()
                && lam > 0.0
            {
                for (gk, &d) in g[i * c..(i + 1) * c].iter_mut().zip(&dl[i * c..(i + 1) * c]) {
                    *gk += scale * lam * d;
                }
            }
        }
        Ok(value)
    }

    fn state(&self) -> Vec<NamedTensor> {
        vec![NamedTensor::new(MULTIPLIERS, vec![self.multipliers.len()], self.multipliers.clone())]
    }

    fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        if let Some(t) = state.iter().find(|t| t.name == MULTIPLIERS) {
            if t.shape != [self.multipliers.len()] {
                return Err(Error::State(format!("{MULTIPLIERS} has shape {:?} for a training set of {}", t.shape, self.multipliers.len())));
            }
            self.multipliers = t.data.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_util::Fixture;
    use reglab_core::testing::output_gradient_error;

    fn fl(s: &str, examples: usize) -> Feasible {
        let mut f = Feasible::from_spec(&Spec::parse(s).unwrap()).unwrap();
        f.prepare(examples, 3).unwrap();
        f
    }

    /// A batch whose cross-entropies are the given losses: two classes, logits (0, ℓ') with
    /// label 0 give CE = ln(1 + e^{ℓ'}), so ℓ' = ln(e^ℓ − 1).
    fn batch_with_losses(losses: &[f64]) -> (Vec<f32>, Vec<usize>, Vec<usize>) {
        let z = losses.iter().flat_map(|&l| [0.0f32, (l.exp() - 1.0).ln() as f32]).collect();
        (z, vec![0; losses.len()], (0..losses.len()).collect())
    }

    #[test]
    fn dual_and_primal_by_hand() {
        // ε = ln(1/0.6), ℓ = (0.2, 0.9, 2.0), λ = (0, 0.5, 1), η = 0.1 → λ' = (0, 0.5 + 0.1·(0.9 − ε),
        // 1 + 0.1·(2 − ε)); with w = 1: λ' = (0, 0.5 + 0.1·(0.9 − ε − 0.5), 1 + 0.1·(2 − ε − 1))
        let eps = (1.0f64 / 0.6).ln();
        let (z, y, idx) = batch_with_losses(&[0.2, 0.9, 2.0]);
        let b = OutputBatch { logits: &z, n: 3, classes: 2, labels: &y, index: &idx };
        for (spec, want) in [
            ("feasible=1:dual_lr=0.1", [0.0, 0.5 + 0.1 * (0.9 - eps), 1.0 + 0.1 * (2.0 - eps)]),
            ("feasible=1:dual_lr=0.1:decay=1", [0.0, 0.5 + 0.1 * (0.9 - eps - 0.5), 1.0 + 0.1 * (2.0 - eps - 1.0)]),
        ] {
            let mut f = fl(spec, 3);
            f.multipliers = vec![0.0, 0.5, 1.0];
            f.observe(&b).unwrap();
            for (got, w) in f.multipliers().iter().zip(want) {
                assert!((*got as f64 - w).abs() < 1e-6, "{spec}: {got} vs {w}");
            }
            // the Lagrangian with the new multipliers: Σ λ'(ℓ − ε)
            let lag: f64 = f.multipliers().iter().zip([0.2, 0.9, 2.0]).map(|(&l, loss)| l as f64 * (loss - eps)).sum();
            assert!((f.eval(&b, None, 1.0).unwrap() - lag).abs() < 1e-5, "{spec}");
        }
        // the official worked numbers: λ' = (0, 0.53892, 1.14892), Σ λ'(ℓ − ε) = 1.92067
        let mut f = fl("feasible=1:dual_lr=0.1", 3);
        f.multipliers = vec![0.0, 0.5, 1.0];
        f.observe(&b).unwrap();
        assert!((f.eval(&b, None, 1.0).unwrap() - 1.920_671_266).abs() < 1e-5);
        assert!(f.replaces_loss());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for (scale, seed) in [(1.0, 1), (3.0, 2), (0.2, 3)] {
            let fx = Fixture::new(6, 4, scale, seed);
            let mut f = fl("feasible=1", 2 * 6);
            f.multipliers.iter_mut().enumerate().for_each(|(i, v)| *v = (i % 3) as f32 * 0.7);
            let e = output_gradient_error(&f, &fx.batch(), 1e-3);
            assert!(e < 1e-4, "scale {scale}: {e}");
        }
    }

    #[test]
    fn invariants() {
        // multipliers never go negative, and a satisfied constraint drives them to 0
        let mut f = fl("feasible=1:dual_lr=0.5", 2);
        let (z, y, idx) = batch_with_losses(&[0.05, 3.0]);
        let b = OutputBatch { logits: &z, n: 2, classes: 2, labels: &y, index: &idx };
        f.multipliers = vec![0.3, 0.0];
        for _ in 0..5 {
            f.observe(&b).unwrap();
        }
        assert_eq!(f.multipliers()[0], 0.0);
        assert!(f.multipliers()[1] > 5.0);
        // the gradient only touches the violated example, and the sum of each row's gradient is 0
        let mut g = vec![0.0; 4];
        f.eval(&b, Some(&mut g), 1.0).unwrap();
        assert_eq!(&g[..2], &[0.0, 0.0]);
        assert!((g[2] + g[3]).abs() < 1e-12 && g[2] < 0.0);
        // resilient: the constant-loss fixed point α·max(0, ℓ − ε)
        let mut r = fl("feasible=1:dual_lr=0.2:decay=2:eps=1", 2);
        for _ in 0..200 {
            r.observe(&b).unwrap();
        }
        let want = 0.5 * (3.0 - 1.0);
        assert!((r.multipliers()[1] as f64 - want).abs() < 1e-5, "{} vs {want}", r.multipliers()[1]);
        // state round trip
        let mut s = fl("feasible=1", 2);
        s.load_state(&r.state()).unwrap();
        assert_eq!(s.multipliers(), r.multipliers());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in ["feasible=1:eps=-1", "feasible=1:dual_lr=0", "feasible=1:decay=-1", "feasible=1:dual_lr=1:decay=2", "feasible=1:k=1"] {
            assert!(Feasible::from_spec(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
        let f = Feasible::from_spec(&Spec::parse("feasible=1").unwrap()).unwrap();
        let (z, y, idx) = batch_with_losses(&[1.0]);
        let b = OutputBatch { logits: &z, n: 1, classes: 2, labels: &y, index: &idx };
        assert!(f.eval(&b, None, 1.0).is_err(), "unbound");
        let f = fl("feasible=1", 1);
        let idx = [5];
        assert!(f.eval(&OutputBatch { index: &idx, ..b }, None, 1.0).is_err(), "index out of range");
        let mut f = fl("feasible=1", 2);
        assert!(f.load_state(&[NamedTensor::new(MULTIPLIERS, vec![3], vec![0.0; 3])]).is_err());
    }
}

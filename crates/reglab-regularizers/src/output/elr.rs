//! `elr=λ[:beta=β]`: early-learning regularization for noisy labels.
//!
//! ## Formula
//! Per training example `i` the term keeps a target `t_i ∈ ℝ^C`, a running mean of the model's
//! own predictions, initialised to 0 and kept across epochs. On a batch, first the targets of
//! its examples are updated with the current predictions (no gradient through them):
//!
//! `p̃_i = clamp(softmax(z_i), 1e-4, 1 − 1e-4)`,  `t_i ← β·t_i + (1 − β)·p̃_i / Σ_k p̃_{ik}`,
//!
//! then `R(z) = λ · (1/B)·Σ_i log(1 − ⟨t_i, p̃_i⟩)`. Minimizing `R` pushes `p̃_i` toward `t_i`:
//! toward what the network predicted early in training, before it memorized the noisy labels.
//! Gradient (the clamp passes the gradient where `1e-4 ≤ p_{ik} ≤ 1 − 1e-4`, as torch.clamp):
//! `∂R/∂z_{ij} = −(λ/B)·1/(1 − ⟨t_i, p̃_i⟩) · Σ_k t_{ik}·m_{ik}·p_{ik}(δ_{kj} − p_{ij})`, with
//! `m_{ik}` the clamp's pass mask. Symbols: `z` `[B, C]` logits, `i` the example's index in the
//! training set (the loader passes it with the batch), `t` `[N, C]` (state, saved with the
//! checkpoints as `elr.targets`), `β ∈ [0, 1)` the momentum, `λ ≥ 0`.
//!
//! Matches the official `elr_loss` (shengliu66/ELR, `ELR/model/loss.py`): same update order,
//! clamp and mean; defaults there: λ = 3, β = 0.7 (CIFAR-10).
//!
//! ## Paper
//! Liu, Niles-Weed, Razavian, Fernandez-Granda, "Early-Learning Regularization Prevents
//! Memorization of Noisy Labels", NeurIPS 2020.

use reglab_core::output::softmax;
use reglab_core::{Error, NamedTensor, OutputBatch, OutputRegularizer, Result, Spec};

const LO: f64 = 1e-4;
const HI: f64 = 1.0 - 1e-4;

/// Early-learning regularization. See the module documentation.
#[derive(Debug, Clone)]
pub struct Elr {
    beta: f32,
    /// `t`, `[examples, classes]` row-major.
    targets: Vec<f32>,
    examples: usize,
    classes: usize,
}

/// The name of the targets in checkpoints.
pub const TARGETS: &str = "elr.targets";

impl Elr {
    /// Build from a spec (`elr=λ[:beta=0.7]`, `β ∈ [0, 1)`).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let beta = o.f64("beta", 0.7)?;
        o.ensure((0.0..1.0).contains(&beta), format!("beta = {beta}: expected 0 ≤ β < 1"))?;
        o.finish()?;
        Ok(Self { beta: beta as f32, targets: Vec::new(), examples: 0, classes: 0 })
    }

    /// The targets `t` (`[examples, classes]`).
    pub fn targets(&self) -> &[f32] {
        &self.targets
    }

    fn clamped(z: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let p = softmax(z);
        let pc = p.iter().map(|&v| v.clamp(LO, HI)).collect();
        (p, pc)
    }

    fn check(&self, b: &OutputBatch<'_>) -> Result<()> {
        if self.examples == 0 {
            return Err(Error::Shape { tensor: "elr".into(), why: "not bound to a training set (prepare was not called)".into() });
        }
        if b.classes != self.classes {
            return Err(Error::Shape { tensor: "elr".into(), why: format!("{} classes, bound to {}", b.classes, self.classes) });
        }
        if let Some(&i) = b.index.iter().find(|&&i| i >= self.examples) {
            return Err(Error::Shape { tensor: "elr".into(), why: format!("example index {i} in a training set of {}", self.examples) });
        }
        Ok(())
    }
}

impl OutputRegularizer for Elr {
    fn name(&self) -> &'static str {
        "elr"
    }

    fn prepare(&mut self, examples: usize, classes: usize) -> Result<()> {
        if self.examples != examples || self.classes != classes {
            self.targets = vec![0.0; examples * classes];
            self.examples = examples;
            self.classes = classes;
        }
        Ok(())
    }

    fn observe(&mut self, b: &OutputBatch<'_>) -> Result<()> {
        self.check(b)?;
        let c = self.classes;
        for r in 0..b.n {
            let (_, pc) = Self::clamped(b.row(r));
            let s: f64 = pc.iter().sum();
            let t = &mut self.targets[b.index[r] * c..(b.index[r] + 1) * c];
            for (tk, pk) in t.iter_mut().zip(&pc) {
                // in f32, as the official code's float32 table
                *tk = self.beta * *tk + (1.0 - self.beta) * (pk / s) as f32;
            }
        }
        Ok(())
    }

    fn eval(&self, b: &OutputBatch<'_>, mut grad: Option<&mut [f64]>, scale: f64) -> Result<f64> {
        self.check(b)?;
        let c = self.classes;
        let n = b.n as f64;
        let mut r = 0.0;
        for row in 0..b.n {
            let (p, pc) = Self::clamped(b.row(row));
            let t = &self.targets[b.index[row] * c..(b.index[row] + 1) * c];
            let dot: f64 = t.iter().zip(&pc).map(|(&tk, pk)| tk as f64 * pk).sum();
            r += (1.0 - dot).ln();
            if let Some(g) = grad.as_deref_mut() {
                // a_k = t_k·m_k·p_k; ∂⟨t, p̃⟩/∂z_j = a_j − p_j·Σ_k a_k
                let a: Vec<f64> = (0..c).map(|k| if (LO..=HI).contains(&p[k]) { t[k] as f64 * p[k] } else { 0.0 }).collect();
                let sa: f64 = a.iter().sum();
                let f = -scale / (n * (1.0 - dot));
                for (j, gj) in g[row * c..(row + 1) * c].iter_mut().enumerate() {
                    *gj += f * (a[j] - p[j] * sa);
                }
            }
        }
        Ok(r / n)
    }

    fn state(&self) -> Vec<NamedTensor> {
        vec![NamedTensor::new(TARGETS, vec![self.examples, self.classes], self.targets.clone())]
    }

    fn load_state(&mut self, state: &[NamedTensor]) -> Result<()> {
        let t = state
            .iter()
            .find(|t| t.name == TARGETS)
            .ok_or_else(|| Error::Shape { tensor: TARGETS.into(), why: "missing from the checkpoint".into() })?;
        if self.examples == 0 && t.shape.len() == 2 && t.data.len() == t.shape[0] * t.shape[1] {
            // not bound yet (a trainer restored before its first epoch): the checkpoint binds it
            self.examples = t.shape[0];
            self.classes = t.shape[1];
        }
        if t.shape != [self.examples, self.classes] {
            return Err(Error::Shape {
                tensor: TARGETS.into(),
                why: format!("shape {:?}, the run has {} examples × {} classes", t.shape, self.examples, self.classes),
            });
        }
        self.targets = t.data.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_util::Fixture;
    use reglab_core::testing::output_gradient_error;

    fn reg(s: &str, examples: usize, classes: usize) -> Elr {
        let mut r = Elr::from_spec(&Spec::parse(s).unwrap()).unwrap();
        r.prepare(examples, classes).unwrap();
        r
    }

    #[test]
    fn first_update_sets_the_targets_to_a_third_of_the_normalized_predictions() {
        // t starts at 0: after one observe, t_i = (1 − β)·p̃_i/Σp̃_i
        let f = Fixture::new(4, 3, 2.0, 0);
        let mut r = reg("elr=3:beta=0.7", 8, 3);
        r.observe(&f.batch()).unwrap();
        for (row, &i) in f.index.iter().enumerate() {
            let p = softmax(&f.logits[row * 3..row * 3 + 3]);
            for (k, pk) in p.iter().enumerate() {
                assert!((r.targets()[i * 3 + k] as f64 - 0.3 * pk).abs() < 1e-6);
            }
        }
        let untouched: Vec<usize> = (0..8).filter(|i| !f.index.contains(i)).collect();
        assert!(untouched.iter().all(|&i| r.targets()[i * 3..i * 3 + 3] == [0.0; 3]));
    }

    #[test]
    fn value_by_hand_after_one_update() {
        // one example, z = [0, 0]: p = [½, ½], t = 0.3·[½, ½], ⟨t, p⟩ = 0.15, r = ln 0.85
        let (z, y, idx) = (vec![0.0f32, 0.0], vec![0], vec![0]);
        let b = OutputBatch { logits: &z, n: 1, classes: 2, labels: &y, index: &idx };
        let mut r = reg("elr=3", 1, 2);
        r.observe(&b).unwrap();
        assert!((r.eval(&b, None, 1.0).unwrap() - 0.85f64.ln()).abs() < 1e-7);
    }

    #[test]
    fn gradient_matches_finite_differences_with_and_without_clamping() {
        for (scale, seed) in [(1.0, 1), (3.0, 2), (14.0, 3)] {
            let f = Fixture::new(6, 4, scale, seed);
            let mut r = reg("elr=3", 12, 4);
            for _ in 0..3 {
                r.observe(&f.batch()).unwrap();
            }
            let e = output_gradient_error(&r, &f.batch(), 1e-3);
            assert!(e < 1e-3, "scale {scale}: {e}");
        }
    }

    #[test]
    // the fixture's numbers are torch's float32 values printed in full, as given
    #[allow(clippy::excessive_precision, clippy::type_complexity)]
    fn matches_the_official_elr_loss_on_two_steps() {
        // Fixture: the official `elr_loss` (shengliu66/ELR, ELR/model/loss.py, 513693eb) run
        // unchanged in torch 2.15 (float32): N = 10 examples, C = 4, β = 0.7, λ = 3, labels
        // [0, 1, 2, 3]; step 1 on examples [0, 3, 5, 7], step 2 on [3, 5, 9, 1] (3 and 5 seen
        // twice). Row 1's logit 14 puts its whole softmax outside [1e-4, 1 − 1e-4]: zero gradient.
        // `reg` is final_loss − F.cross_entropy; `grad` its autograd gradient w.r.t. the logits.
        let steps: [(&[usize], [f32; 16], f64, [f64; 16]); 2] = [
            (
                &[0, 3, 5, 7],
                [
                    0.0,
                    1.9326530694961548,
                    2.9563491344451904,
                    2.589627981185913,
                    2.890674591064453,
                    2.7278923988342285,
                    14.0,
                    -0.766623318195343,
                    1.5465041399002075,
                    -0.4732370972633362,
                    -2.2704074382781982,
                    -2.999769687652588,
                    -2.063298463821411,
                    -2.9810729026794434,
                    -2.49680233001709,
                    -0.8382465243339539,
                ],
                -0.6522026062011719,
                [
                    0.002118441043421626,
                    0.00833699107170105,
                    -0.01334398239850998,
                    0.0028885488864034414,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    -0.02698543854057789,
                    0.02102271094918251,
                    0.004005406051874161,
                    0.0019572980236262083,
                    0.012357274070382118,
                    0.0070297312922775745,
                    0.010001066140830517,
                    -0.02938806638121605,
                ],
            ),
            (
                &[3, 5, 9, 1],
                [
                    2.5244128704071045,
                    2.974994421005249,
                    2.0263895988464355,
                    0.12474198639392853,
                    2.2371156215667725,
                    0.42336001992225647,
                    14.0,
                    -2.8548061847686768,
                    -1.327561378479004,
                    -2.748497724533081,
                    -2.876772880554199,
                    -1.6520565748214722,
                    -2.9473578929901123,
                    -1.893799901008606,
                    0.05044170096516609,
                    1.9709597826004028,
                ],
                -0.660742998123169,
                [
                    0.014830511063337326,
                    0.0012080544838681817,
                    -0.01942257210612297,
                    0.0033840180840343237,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    -0.013393486849963665,
                    0.006461498327553272,
                    0.006010492332279682,
                    0.000921492581255734,
                    0.0013217463856562972,
                    0.003730541095137596,
                    0.022214263677597046,
                    -0.027266548946499825,
                ],
            ),
        ];
        let targets: [f32; 40] = [
            0.007414680905640125,
            0.05121922865509987,
            0.14256685972213745,
            0.09879924356937408,
            0.0018670468125492334,
            0.005354386288672686,
            0.037418216466903687,
            0.25536036491394043,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0918286070227623,
            0.1440877467393875,
            0.2657313346862793,
            0.008352336473762989,
            0.0,
            0.0,
            0.0,
            0.0,
            0.18024232983589172,
            0.023942328989505768,
            0.3038738965988159,
            0.001941444119438529,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0550258494913578,
            0.021977705880999565,
            0.035669613629579544,
            0.1873268485069275,
            0.0,
            0.0,
            0.0,
            0.0,
            0.13781727850437164,
            0.03328119218349457,
            0.029274513944983482,
            0.0996270403265953,
        ];
        let mut r = reg("elr=3:beta=0.7", 10, 4);
        let labels = [0, 1, 2, 3];
        for (idx, z, want, want_grad) in steps {
            let b = OutputBatch { logits: &z, n: 4, classes: 4, labels: &labels, index: idx };
            r.observe(&b).unwrap();
            let mut g = vec![0.0; 16];
            let v = 3.0 * r.eval(&b, Some(&mut g), 3.0).unwrap();
            assert!((v - want).abs() < 2e-6, "{v} vs {want}");
            for (a, w) in g.iter().zip(want_grad) {
                assert!((a - w).abs() < 2e-7, "{a} vs {w}");
            }
            assert!(g[4..8].iter().all(|&x| x == 0.0), "clamped row");
        }
        for (a, w) in r.targets().iter().zip(targets) {
            assert!((a - w).abs() < 1e-7, "target {a} vs {w}");
        }
    }

    #[test]
    fn state_round_trips_and_bad_input_is_an_error() {
        let f = Fixture::new(4, 3, 2.0, 0);
        let mut r = reg("elr=3", 8, 3);
        r.observe(&f.batch()).unwrap();
        let mut q = reg("elr=3", 8, 3);
        q.load_state(&r.state()).unwrap();
        assert_eq!(q.targets(), r.targets());
        assert!(reg("elr=3", 9, 3).load_state(&r.state()).unwrap_err().to_string().contains("shape"));
        assert!(reg("elr=3", 2, 3).observe(&f.batch()).unwrap_err().to_string().contains("example index"));
        assert!(Elr::from_spec(&Spec::parse("elr=3").unwrap()).unwrap().observe(&f.batch()).unwrap_err().to_string().contains("prepare"));
        assert!(Elr::from_spec(&Spec::parse("elr=3:beta=1").unwrap()).is_err());
    }
}

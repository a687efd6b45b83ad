//! `aaer=λ₁:eps=ε[:l2=λ₂][:l3=λ₃][:step=a][:init=r][:project=true][:ce_grad=false]`: abnormal
//! adversarial examples regularization, single-step adversarial training that penalises the
//! adversarial examples whose loss went *down* in the attack step.
//!
//! ## Formula
//! The attack is one FGSM step from a random start (RS-AAER: `init=1`, `step=1.25`, projected;
//! N-AAER: `init=2`, `step=1`, `project=false`), see [`super::attack`]. For example `i` of a
//! mini-batch of `n`: `z⁰_i`, `ℓ⁰_i` the logits and cross-entropy at the start `x_i + δ⁰_i` (from
//! the attack's own forward pass, constant), `z_i`, `ℓ_i` at the adversarial example
//! `x_i + δ_i`. The abnormal examples are `A = {i : ℓ⁰_i > ℓ_i}` (`m = |A|`), the normal ones
//! `N` the others, and
//! ```text
//! loss = (1/n) Σ_i ℓ_i + λ₁·(m/n)·(λ₂·CE_A + λ₃·max(V_A − V_N, 0))      (when 0 < m < n; else the first sum)
//! CE_A = (1/m) Σ_{i∈A} (ℓ⁰_i − ℓ_i)        V_A = (1/m) Σ_{i∈A} ‖z⁰_i − z_i‖²        V_N = (1/|N|) Σ_{i∈N} ‖z⁰_i − z_i‖²
//! ```
//! The official code holds `m/n`, `V_N` and — through `loss.detach()` — `CE_A` constant: the
//! gradient of the term is `λ₁(m/n)λ₃·(2/m)(z_i − z⁰_i)` on the abnormal rows while
//! `V_A > V_N`, and `CE_A` only enters the reported value. `ce_grad=true` differentiates `CE_A`
//! through `ℓ_i` too (`−λ₁(m/n)λ₂/m·(softmax(z_i) − e_y)`), the paper's formula read literally.
//!
//! Symbols: `λ₁ ≥ 0` (the strength, official 1), `λ₂, λ₃ ≥ 0` (defaults 2.5 and 1.5, the
//! official RS-AAER at ε = 8/255 on CIFAR-10), `ε > 0`, `a > 0`, `r ≥ 0`.
//!
//! ## Paper and official code
//! Lin, Yu, Liu, "Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples
//! Regularization", NeurIPS 2023 (arXiv 2404.08154; catalog #118). Checked against the official
//! code (tmllab/2023_NeurIPS_AAER, `CIFAR10/AAER.py`, `utils.py` `l2_square`): the abnormal test
//! `loss_before > loss_after`, the term above with its detached parts, and the README's settings.

use reglab_core::{Result, Spec};

/// AAER's settings. See the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Aaer {
    /// `λ₁`.
    pub lambda1: f64,
    /// `λ₂`.
    pub lambda2: f64,
    /// `λ₃`.
    pub lambda3: f64,
    /// Differentiate `CE_A` too.
    pub ce_grad: bool,
    /// The single-step attack.
    pub attack: super::attack::Attack,
}

/// The term on one batch: value, `∂/∂z`, the abnormal count `m`.
#[derive(Debug, Clone, PartialEq)]
pub struct AaerTerm {
    /// `λ₁(m/n)(λ₂·CE_A + λ₃·max(V_A − V_N, 0))` (0 unless `0 < m < n`).
    pub value: f64,
    /// Its gradient with respect to the adversarial logits (`[n, c]`).
    pub grad: Vec<f64>,
    /// `m`.
    pub abnormal: usize,
}

impl Aaer {
    /// From `aaer=λ₁:eps=ε[:…]`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let eps = o.f64_opt("eps")?;
        let lambda2 = o.f64("l2", 2.5)?;
        let lambda3 = o.f64("l3", 1.5)?;
        let step = o.f64("step", 1.25)?;
        let init = o.f64("init", 1.0)?;
        let project = o.choice("project", &["true", "false"], "true")? == "true";
        let ce_grad = o.choice("ce_grad", &["true", "false"], "false")? == "true";
        o.ensure(spec.strength >= 0.0 && spec.strength.is_finite(), "the strength λ₁ must be ≥ 0")?;
        o.ensure(eps.is_some_and(|e| e > 0.0), "option `eps` (the attack's radius, in data units, > 0) is required")?;
        o.ensure(lambda2 >= 0.0 && lambda3 >= 0.0, "options `l2`, `l3` must be ≥ 0")?;
        o.ensure(step > 0.0, "option `step` (α in units of ε) must be > 0")?;
        o.ensure(init >= 0.0, "option `init` must be ≥ 0")?;
        o.finish()?;
        let eps = eps.unwrap_or(1.0);
        let attack = super::attack::Attack { alpha: step * eps, init, project, ..super::attack::Attack::fgsm(eps) };
        Ok(Aaer { lambda1: spec.strength, lambda2, lambda3, ce_grad, attack })
    }

    /// The term from the start's logits `z0` and losses `l0`, the adversarial logits `z` and the
    /// labels `y` (`c` classes).
    pub fn term(&self, z0: &[f32], l0: &[f64], z: &[f32], y: &[usize], c: usize) -> AaerTerm {
        let n = y.len();
        let (l, gl) = super::attack::cross_entropy_rows(z, y, c);
        let abnormal: Vec<bool> = (0..n).map(|i| l0[i] > l[i]).collect();
        let m = abnormal.iter().filter(|a| **a).count();
        let mut grad = vec![0.0; z.len()];
        if m == 0 || m == n {
            return AaerTerm { value: 0.0, grad, abnormal: m };
        }
        let sq = |i: usize| (0..c).map(|j| (z0[i * c + j] as f64 - z[i * c + j] as f64).powi(2)).sum::<f64>();
        let (mut ce_a, mut v_a, mut v_n) = (0.0, 0.0, 0.0);
        for (i, &a) in abnormal.iter().enumerate() {
            if a {
                ce_a += (l0[i] - l[i]) / m as f64;
                v_a += sq(i) / m as f64;
            } else {
                v_n += sq(i) / (n - m) as f64;
            }
        }
        let w = self.lambda1 * m as f64 / n as f64;
        let gap = (v_a - v_n).max(0.0);
        let value = w * (self.lambda2 * ce_a + self.lambda3 * gap);
        for (i, &a) in abnormal.iter().enumerate() {
            if !a {
                continue;
            }
            for j in 0..c {
                let k = i * c + j;
                if gap > 0.0 {
                    grad[k] += w * self.lambda3 * 2.0 / m as f64 * (z[k] as f64 - z0[k] as f64);
                }
                if self.ce_grad {
                    grad[k] -= w * self.lambda2 / m as f64 * gl[k];
                }
            }
        }
        AaerTerm { value, grad, abnormal: m }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Aaer> {
        Aaer::from_spec(&Spec::parse(s)?)
    }

    // three examples, three classes: the start logits, the adversarial logits, the labels
    const Z0: [f32; 9] = [2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0];
    const Z: [f32; 9] = [3.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.2, 0.9, 0.1];
    const Y: [usize; 3] = [0, 1, 0];

    fn l0() -> Vec<f64> {
        super::super::attack::cross_entropy_rows(&Z0, &Y, 3).0
    }

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        let a = parse("aaer=1:eps=0.3").unwrap();
        assert_eq!((a.lambda2, a.lambda3, a.ce_grad, a.attack.init, a.attack.project), (2.5, 1.5, false, 1.0, true));
        assert!((a.attack.alpha - 0.375).abs() < 1e-12);
        let n = parse("aaer=1:eps=0.1,init=2,step=1,project=false,l2=1.5,l3=0.15").unwrap();
        assert_eq!((n.attack.init, n.attack.project, n.lambda3), (2.0, false, 0.15));
        for (s, want) in
            [("aaer=1", "eps"), ("aaer=1:eps=0.3,l2=-1", "l2"), ("aaer=-1:eps=0.3", "non-negative"), ("aaer=1:eps=0.3,ce_grad=yes", "ce_grad")]
        {
            let e = parse(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn term_against_a_direct_computation() {
        // example 0: the loss falls (3 vs −1 is more confident in class 0): abnormal;
        // example 1: 1 → 0 logit for its class: the loss rises: normal; example 2: 0.5 → 0.2: rises
        let a = parse("aaer=1:eps=0.3").unwrap();
        let l0 = l0();
        let t = a.term(&Z0, &l0, &Z, &Y, 3);
        let (l, _) = super::super::attack::cross_entropy_rows(&Z, &Y, 3);
        assert!(l0[0] > l[0] && l0[1] <= l[1] && l0[2] <= l[2]);
        assert_eq!(t.abnormal, 1);
        let sq = |i: usize| (0..3).map(|j| (Z0[i * 3 + j] as f64 - Z[i * 3 + j] as f64).powi(2)).sum::<f64>();
        let (v_a, v_n) = (sq(0), (sq(1) + sq(2)) / 2.0);
        let want = (1.0 / 3.0) * (2.5 * (l0[0] - l[0]) + 1.5 * (v_a - v_n).max(0.0));
        assert!((t.value - want).abs() < 1e-12, "{} vs {want}", t.value);
        // the normal rows get no gradient
        assert!(t.grad[3..].iter().all(|&g| g == 0.0));
    }

    #[test]
    fn gradients_against_finite_differences_of_the_differentiated_parts() {
        // official form: only λ₃·V_A moves with z (on the abnormal rows); ce_grad: CE_A too
        for spec in ["aaer=1:eps=0.3,l3=4", "aaer=2:eps=0.3,l3=4,ce_grad=true"] {
            let a = parse(spec).unwrap();
            let l0 = l0();
            let t = a.term(&Z0, &l0, &Z, &Y, 3);
            let h = 1.0f32 / 1024.0; // exact in f32 at these magnitudes
            for j in 0..3 {
                // perturb row 0 (abnormal) only, a small move that keeps the partition
                let (mut p, mut m) = (Z, Z);
                p[j] += h;
                m[j] -= h;
                let f = |z: &[f32]| {
                    let tt = a.term(&Z0, &l0, z, &Y, 3);
                    assert_eq!(tt.abnormal, 1);
                    if a.ce_grad {
                        tt.value
                    } else {
                        // the official term's differentiated part: λ₁(m/n)λ₃·V_A
                        let sq = (0..3).map(|k| (Z0[k] as f64 - z[k] as f64).powi(2)).sum::<f64>();
                        a.lambda1 / 3.0 * a.lambda3 * sq
                    }
                };
                let fd = (f(&p) - f(&m)) / (2.0 * h as f64);
                assert!((fd - t.grad[j]).abs() < 1e-4, "{spec} {j}: {fd} vs {}", t.grad[j]);
            }
        }
    }

    #[test]
    fn no_term_when_all_or_none_are_abnormal() {
        let a = parse("aaer=1:eps=0.3").unwrap();
        let l0 = l0();
        // z = z0: no loss falls, m = 0
        let t = a.term(&Z0, &l0, &Z0, &Y, 3);
        assert_eq!((t.value, t.abnormal), (0.0, 0));
        // every start loss huge: every example abnormal
        let t = a.term(&Z0, &[100.0; 3], &Z, &Y, 3);
        assert_eq!((t.value, t.abnormal), (0.0, 3));
        assert!(t.grad.iter().all(|&g| g == 0.0));
    }
}

//! Gradients taken at perturbed weights: `amp` (adversarial model perturbation), `sam`
//! (sharpness-aware minimization) and `grad-norm` (an explicit gradient-norm penalty by finite
//! differences). Parsed here; the trainer runs the extra forward/backward passes.
//!
//! ## `amp=ε[:lr=ζ][:steps=K]` — Zheng, Zhang, Mao, "Regularizing Neural Networks via
//! Adversarial Model Perturbation", CVPR 2021 (code: hiyouga/AMP-Regularizer)
//! `min_θ E_B max_{‖δ_p‖₂ ≤ ε ∀p} L_B(θ + δ)`, one ball per parameter tensor `p`. Per step:
//! `δ = 0`; `K` times: `g = ∇L_B(θ + δ)`, `δ_p ← Π_ε(δ_p + ζ·g_p)` for every tensor, where
//! `Π_ε` rescales `δ_p` to norm `ε` only if `‖δ_p‖₂ > ε` (the raw, un-normalized gradient); then
//! the gradient at `θ + δ` is the step's gradient, applied to `θ`. `K + 1` forward/backward
//! passes per step. Defaults as the official code: `ζ = 1`, `K = 1` (its global gradient
//! clipping at norm 50 is not reproduced). The ascent passes use the cross-entropy (with mixup's
//! labels when mixup is on, and the step's dropout masks); the final pass the full loss.
//!
//! ## `sam=ρ` — Foret, Kleiner, Mobahi, Neyshabur, "Sharpness-Aware Minimization for
//! Efficiently Improving Generalization", ICLR 2021
//! `δ = ρ·g/‖g‖₂` with `g = ∇L_B(θ)` and one global norm over all parameters; the gradient at
//! `θ + δ` is applied to `θ`. Two passes per step. (AMP with `K = 1` is this step with a
//! per-tensor ball and no normalization.)
//!
//! ## `grad-norm=λ[:h=0.01]` — Geiping, Goldblum, Pope, Moeller, Goldstein, "Stochastic
//! Training is Not Necessary for Generalization", ICLR 2022
//! The penalty `λ·‖∇L_B(θ)‖²` added to the loss, whose gradient `2λ·H g` (`H` the Hessian of the
//! cross-entropy, `g` its gradient) is taken by finite differences instead of double
//! backpropagation: `2λ·‖g‖·(∇L_B(θ + h·g/‖g‖) − g)/h`. Two extra passes per step (the
//! cross-entropy's gradient at `θ` and at `θ + h·ĝ`); `h` is the finite-difference step.

use reglab_core::{Error, Result, Spec};

/// The parsed sharpness term.
#[derive(Debug, Clone, PartialEq)]
pub enum Sharpness {
    /// AMP: ball radius `eps`, inner step `lr`, `steps` ascent steps.
    Amp {
        /// `ε`, the radius of every tensor's ball.
        eps: f64,
        /// `ζ`, the inner (ascent) step.
        lr: f64,
        /// `K ≥ 1`.
        steps: usize,
    },
    /// SAM with radius `rho`.
    Sam {
        /// `ρ`.
        rho: f64,
    },
    /// The gradient-norm penalty `λ‖∇L‖²` by finite differences of step `h`.
    GradNorm {
        /// `λ`.
        lambda: f64,
        /// `h > 0`.
        h: f64,
    },
}

impl Sharpness {
    /// `amp=ε[:lr=1][:steps=1]`.
    pub fn amp(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let lr = o.f64("lr", 1.0)?;
        let steps = o.usize("steps", 1)?;
        o.ensure(lr > 0.0, "lr (ζ) must be > 0")?;
        o.ensure(steps >= 1, "steps must be ≥ 1")?;
        o.finish()?;
        Ok(Sharpness::Amp { eps: spec.strength, lr, steps })
    }

    /// `sam=ρ`.
    pub fn sam(spec: &Spec) -> Result<Self> {
        spec.options().finish()?;
        Ok(Sharpness::Sam { rho: spec.strength })
    }

    /// `grad-norm=λ[:h=0.01]`.
    pub fn grad_norm(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let h = o.f64("h", 0.01)?;
        o.finish()?;
        if h <= 0.0 {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("h = {h}: the finite-difference step must be > 0") });
        }
        Ok(Sharpness::GradNorm { lambda: spec.strength, h })
    }
}

/// `Π_ε`: rescale `d` to norm `eps` if its norm exceeds it.
pub fn project_ball(d: &mut [f32], eps: f64) {
    let n = d.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
    if n > eps {
        let s = (eps / n) as f32;
        d.iter_mut().for_each(|v| *v *= s);
    }
}

/// One AMP ascent update of the per-tensor perturbations: `δ_p ← Π_ε(δ_p + ζ·g_p)`.
pub fn amp_update(delta: &mut [Vec<f32>], grads: &[Vec<f32>], eps: f64, lr: f64) {
    for (d, g) in delta.iter_mut().zip(grads) {
        for (dv, &gv) in d.iter_mut().zip(g) {
            *dv += (lr as f32) * gv;
        }
        project_ball(d, eps);
    }
}

/// SAM's perturbation `ρ·g/‖g‖₂` (one norm over all tensors; 0 if `g = 0`).
pub fn sam_delta(grads: &[Vec<f32>], rho: f64) -> Vec<Vec<f32>> {
    let n = grads.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
    let s = if n > 0.0 { (rho / n) as f32 } else { 0.0 };
    grads.iter().map(|g| g.iter().map(|&v| s * v).collect()).collect()
}

/// The finite-difference gradient of `λ‖g‖²`: `2λ‖g₀‖(g₁ − g₀)/h`, with `g₀` the gradient at `θ`
/// and `g₁` at `θ + h·g₀/‖g₀‖` (0 if `g₀ = 0`). Returns it and the step direction `h·g₀/‖g₀‖`
/// is [`grad_norm_step`].
pub fn grad_norm_gradient(g0: &[Vec<f32>], g1: &[Vec<f32>], lambda: f64, h: f64) -> Vec<Vec<f32>> {
    let n = g0.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
    let s = (2.0 * lambda * n / h) as f32;
    g0.iter().zip(g1).map(|(a, b)| a.iter().zip(b).map(|(&x, &y)| s * (y - x)).collect()).collect()
}

/// `h·g/‖g‖` (0 if `g = 0`).
pub fn grad_norm_step(g0: &[Vec<f32>], h: f64) -> Vec<Vec<f32>> {
    sam_delta(g0, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ball_projection_only_shrinks_what_is_outside() {
        let mut d = vec![3.0f32, 4.0];
        project_ball(&mut d, 10.0);
        assert_eq!(d, vec![3.0, 4.0]);
        project_ball(&mut d, 1.0);
        assert!((d[0] - 0.6).abs() < 1e-7 && (d[1] - 0.8).abs() < 1e-7);
    }

    #[test]
    fn amp_takes_raw_gradient_steps_in_per_tensor_balls() {
        // two tensors: the first step stays inside its ball, the second is cut to ε
        let mut delta = vec![vec![0.0f32; 2], vec![0.0f32; 1]];
        amp_update(&mut delta, &[vec![0.1, 0.0], vec![5.0]], 0.5, 1.0);
        assert_eq!(delta, vec![vec![0.1, 0.0], vec![0.5]]);
        amp_update(&mut delta, &[vec![0.3, 0.4], vec![-0.2]], 0.5, 1.0);
        // (0.4, 0.4) has norm 0.566 > 0.5: rescaled; (0.3) inside
        let n = (delta[0][0].powi(2) + delta[0][1].powi(2)).sqrt();
        assert!((n - 0.5).abs() < 1e-6 && (delta[1][0] - 0.3).abs() < 1e-6);
    }

    #[test]
    fn sam_moves_rho_along_the_global_gradient_direction() {
        let d = sam_delta(&[vec![3.0, 0.0], vec![4.0]], 0.05);
        assert!((d[0][0] - 0.03).abs() < 1e-8 && d[0][1] == 0.0 && (d[1][0] - 0.04).abs() < 1e-8);
        assert_eq!(sam_delta(&[vec![0.0]], 0.05), vec![vec![0.0]]);
    }

    #[test]
    fn grad_norm_difference_is_two_lambda_h_g_on_a_quadratic() {
        // L(θ) = ½θᵀAθ, A = diag(1, 3): g = Aθ, H g = A²θ; the difference quotient is exact
        let theta = [1.0f32, -2.0];
        let a = [1.0f32, 3.0];
        let g0: Vec<f32> = theta.iter().zip(&a).map(|(t, a)| a * t).collect();
        let step = grad_norm_step(std::slice::from_ref(&g0), 0.01);
        let g1: Vec<f32> = theta.iter().zip(&a).zip(&step[0]).map(|((t, a), s)| a * (t + s)).collect();
        let r = grad_norm_gradient(&[g0], &[g1], 0.5, 0.01);
        // 2λ·A²θ = (1, −18)
        assert!((r[0][0] - 1.0).abs() < 1e-3 && (r[0][1] + 18.0).abs() < 1e-2, "{r:?}");
    }

    #[test]
    fn specs_parse_and_reject_bad_values() {
        assert_eq!(Sharpness::amp(&Spec::parse("amp=0.5").unwrap()).unwrap(), Sharpness::Amp { eps: 0.5, lr: 1.0, steps: 1 });
        assert_eq!(Sharpness::amp(&Spec::parse("amp=0.1:lr=0.5:steps=3").unwrap()).unwrap(), Sharpness::Amp { eps: 0.1, lr: 0.5, steps: 3 });
        assert!(Sharpness::amp(&Spec::parse("amp=0.1:steps=0").unwrap()).is_err());
        assert!(Sharpness::amp(&Spec::parse("amp=0.1:lr=0").unwrap()).is_err());
        assert_eq!(Sharpness::sam(&Spec::parse("sam=0.05").unwrap()).unwrap(), Sharpness::Sam { rho: 0.05 });
        assert_eq!(Sharpness::grad_norm(&Spec::parse("grad-norm=0.1").unwrap()).unwrap(), Sharpness::GradNorm { lambda: 0.1, h: 0.01 });
        assert!(Sharpness::grad_norm(&Spec::parse("grad-norm=0.1:h=0").unwrap()).is_err());
        assert!(Sharpness::sam(&Spec::parse("sam=0.05:k=1").unwrap()).is_err());
    }
}

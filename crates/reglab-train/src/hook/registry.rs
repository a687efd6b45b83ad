//! Names → step hooks, and the chain of a run.
//!
//! [`HOOK_ENTRIES`] lists the techniques that act inside the training step itself — the
//! stochastic perturbations of the forward pass and of how the step's gradient is taken — one
//! line each, with what `reglab list` prints and a builder. The penalties, output terms and data
//! perturbations of `reglab-regularizers`' registries, the reparameterization and the pruning
//! masks become hooks too, in [`build_chain`].

use super::data::DataPerturbations;
use super::dropout::DropoutHook;
use super::mixout::MixoutHook;
use super::output::OutputTerms;
use super::penalties::Penalties;
use super::prune::PruneHook;
use super::reparam::ReparamHook;
use super::sharpness::SharpnessHook;
use super::{Chain, StepHook};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::model::Net;
use crate::prune::Masks;
use crate::reparam::Reparam;
use crate::step::Regularization;
use burn::tensor::Device;
use reglab_core::{NamedTensor, Selection, Spec};
use reglab_regularizers::adversarial::{aaer::Aaer, attack::Attack, elle::Elle};
use reglab_regularizers::feature::{neural_collapse::NeuralCollapse, ridg::Ridg};
use reglab_regularizers::registry::CatalogEntry;
use reglab_regularizers::stochastic::{dropout::Dropout, mixout::Mixout, sharpness::Sharpness};

/// What a hook's builder may read: the model (bound already) and the anchor weights.
pub struct BuildCx<'a> {
    /// The model.
    pub net: &'a Net,
    /// The run's seed.
    pub seed: u64,
    /// PyTorch-layout anchor weights (`--anchor`), if any.
    pub anchor: Option<&'a [NamedTensor]>,
    /// The radius ε of the run's adversarial training, if any (ELLE's default).
    pub attack_eps: Option<f64>,
}

/// Builds a step hook from its parsed spec.
pub type HookBuilder = fn(&Spec, &BuildCx<'_>) -> Result<Box<dyn StepHook>, TrainError>;

/// A catalog line for a step hook.
pub type HookEntry = CatalogEntry<HookBuilder>;

fn spec_error(e: reglab_core::Error) -> TrainError {
    TrainError::Config(e.to_string())
}

/// Every technique that acts inside the training step (`--reg NAME=VALUE`; family
/// `stochastic`).
pub const HOOK_ENTRIES: &[HookEntry] = &[
    CatalogEntry {
        name: "dropout",
        family: "stochastic",
        formula: "h ← h ⊙ m/(1 − p), m ~ Bernoulli(1 − p) per example and hidden unit, in training (MLP: every hidden layer; CNN: the features before the head; BERT: where BERT fine-tuning drops — embedding output, attention probabilities, each sub-layer output, pooled features)",
        paper: "Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, Dropout: A Simple Way to Prevent Neural Networks from Overfitting, JMLR 2014",
        options: "",
        build: |s, _| Ok(Box::new(DropoutHook(Dropout::from_spec(s).map_err(spec_error)?))),
    },
    CatalogEntry {
        name: "mixout",
        family: "stochastic",
        formula: "forward with W̃ = ((1 − M)⊙U + M⊙W − p·U)/(1 − p), M ~ Bernoulli(1 − p) per input column, U the anchor (initial or --anchor weights); linear layers",
        paper: "Lee, Cho, Kang, Mixout: Effective Regularization to Finetune Large-scale Pretrained Language Models, ICLR 2020 (code: bloodwass/mixout)",
        options: "grad=exact (M/(1 − p); official: M, the code's backward)",
        build: |s, cx| Ok(Box::new(MixoutHook::new(Mixout::from_spec(s).map_err(spec_error)?, cx.net, cx.anchor)?)),
    },
    CatalogEntry {
        name: "feature-distill",
        family: "anchor",
        formula: "λ·(1/n)Σᵢ‖f_θ(xᵢ) − f_θ₀(xᵢ)‖² on the mini-batch, f the features the last layer reads, θ₀ the initial (pretrained) weights; one more frozen forward pass per step",
        paper: "Smith et al., A Closer Look at Rehearsal-Free Continual Learning, CVPR Workshops 2023 (arXiv 2203.17269)",
        options: "",
        build: |s, cx| Ok(Box::new(super::distill::FeatureDistill::new(s, cx.net, cx.anchor)?)),
    },
    CatalogEntry {
        name: "neural-collapse",
        family: "output",
        formula: "λ₁·(1/C)Σ_c Σ_{y_i = c}‖h_i − m_c‖²/n_c + λ₂·L₂(M), h the penultimate features, M learnable class means (SGD, α = means_lr, on the gradient of R/λ₁), L₂ = −mean angle to the nearest other centred mean (variant=etf: ‖cosines with diagonal −1/(C − 1)‖_F)",
        paper: "Liu, Zhang, Hu, Cao, Pan, Yao, Inducing Neural Collapse in Deep Long-tailed Learning, AISTATS 2023 (arXiv 2302.12453; code: Pepper-lll/NCfeature)",
        options: "sep=0.1 (λ₂), means_lr=0.5 (α), variant=nearest|etf",
        build: |s, cx| Ok(Box::new(super::neural_collapse::NeuralCollapseHook::new(s, cx.net, cx.seed)?)),
    },
    CatalogEntry {
        name: "ridg",
        family: "output",
        formula: "λ·Σ_c 1/(C·n_c) Σ_{y_i = c} ‖R(x_i) − R̄_c‖²_F, R(x) = W ⊙ h(x) (C × d: each feature's contribution to each logit, W the head), R̄_c ← (1 − μ)R̄_c + μ·(batch class mean) before the loss (first time: the mean); gradient to h and W",
        paper: "Chen, Zhang, Li, Wang, Zhang, Domain Generalization via Rationale Invariance, ICCV 2023 (arXiv 2308.11158; code: liangchen527/RIDG)",
        options: "momentum=0.001 (μ)",
        build: |s, cx| Ok(Box::new(super::ridg::RidgHook::new(s, cx.net)?)),
    },
    CatalogEntry {
        name: "ewc",
        family: "anchor",
        formula: "λ/2·Σᵢ F̂ᵢ(θᵢ − θ⁰ᵢ)², F the diagonal Fisher of the anchor's features f (Gaussian likelihood: F = E_x diag(JᵀJ), J = ∂f/∂θ) on n reference inputs, F̂ = F/mean(F); the head is free",
        paper: "Kirkpatrick et al., Overcoming catastrophic forgetting in neural networks, PNAS 2017; online: Schwarz et al., Progress & Compress, ICML 2018; as a fine-tuning baseline: Smith et al., CVPR Workshops 2023",
        options: "n=256 (reference examples), probes=1 (Rademacher probes per example; exact: d passes), normalize=mean|none, head=classifier.*|head.*, fisher=features|labels (labels: the empirical Fisher of the cross-entropy, head included), consolidate=start|task (task: at each task end of a stream θ⁰ ← θ, F ← γF + F_t: online EWC), gamma=1",
        build: |s, cx| Ok(Box::new(super::ewc::EwcHook::new(s, cx.net, cx.anchor)?)),
    },
    CatalogEntry {
        name: "hft",
        family: "anchor",
        formula: "per round, freeze round(ρ·n) of the matrices of each category (per BERT layer: attention q/k/v/o, feed-forward, norms; other models: all layers but the last), ρ = the strength (0.5: half); embeddings and head train",
        paper: "Hui et al., HFT: Half Fine-Tuning for Large Language Models, ACL 2025 (arXiv 2404.18466)",
        options: "redraw=never|epoch (a new draw before every epoch)",
        build: |s, cx| Ok(Box::new(super::hft::HalfFineTuning::new(s, cx.net, cx.seed)?)),
    },
    CatalogEntry {
        name: "smart",
        family: "stochastic",
        formula: "λ_s·(1/n)Σᵢ symKL(f(xᵢ + δᵢ), f(xᵢ)), δ by K projected ∞-norm ascent steps in the ε-ball on BERT's embedding output (other models: the input), + μ·(1/n)Σᵢ symKL(f(xᵢ; θ), f(xᵢ; θ̃)), θ̃ ← (1 − β)θ + βθ̃ (momentum Bregman proximal point)",
        paper: "Jiang et al., SMART: Robust and Efficient Fine-Tuning for Pre-trained Natural Language Models through Principled Regularized Optimization, ACL 2020",
        options: "eps=1e-5, sigma=1e-5, eta=1e-3, steps=1, mu=1, beta=0.99, beta_late=0.999, warm=0.1",
        build: |s, cx| Ok(Box::new(super::smart::SmartHook::new(s, cx.net)?)),
    },
    CatalogEntry {
        name: "amp",
        family: "stochastic",
        formula: "gradient at θ + δ, δ_p ← Π_ε(δ_p + ζ·∇_p L(θ + δ)) K times, one ε-ball per tensor (ε = the strength); K + 1 passes per step",
        paper: "Zheng, Zhang, Mao, Regularizing Neural Networks via Adversarial Model Perturbation, CVPR 2021 (code: hiyouga/AMP-Regularizer)",
        options: "lr=1 (ζ), steps=1 (K)",
        build: |s, _| Ok(Box::new(SharpnessHook::new(Sharpness::amp(s).map_err(spec_error)?))),
    },
    CatalogEntry {
        name: "sam",
        family: "stochastic",
        formula: "gradient at θ + ρ·g/‖g‖₂, g = ∇L(θ) (ρ = the strength); 2 passes per step",
        paper: "Foret, Kleiner, Mobahi, Neyshabur, Sharpness-Aware Minimization for Efficiently Improving Generalization, ICLR 2021",
        options: "",
        build: |s, _| Ok(Box::new(SharpnessHook::new(Sharpness::sam(s).map_err(spec_error)?))),
    },
    CatalogEntry {
        name: "grad-norm",
        family: "stochastic",
        formula: "λ‖∇L‖² added to the loss; its gradient 2λHg ≈ 2λ‖g‖(∇L(θ + h·g/‖g‖) − g)/h by finite differences (no double backprop); 3 passes per step",
        paper: "Geiping, Goldblum, Pope, Moeller, Goldstein, Stochastic Training is Not Necessary for Generalization, ICLR 2022",
        options: "h=0.01",
        build: |s, _| Ok(Box::new(SharpnessHook::new(Sharpness::grad_norm(s).map_err(spec_error)?))),
    },
    CatalogEntry {
        name: "fgsm-at",
        family: "adversarial",
        formula: "train on x + δ, δ = ε·sign(∇ₓℓ(x, y)) (ε = the strength, data units), x + δ clipped to the data range; 1 attack pass per step",
        paper: "Goodfellow, Shlens, Szegedy, Explaining and Harnessing Adversarial Examples, ICLR 2015",
        options: "step=1 (α/ε), init=0 (random start radius/ε), steps=1, restarts=1, norm=linf|l2, project=true",
        build: |s, _| Ok(Box::new(super::adversarial::AdversarialTraining::new(s)?)),
    },
    CatalogEntry {
        name: "fgsm-rs-at",
        family: "adversarial",
        formula: "train on x + δ, δ = Π_ε(δ⁰ + α·sign(∇ℓ(x + δ⁰))), δ⁰ ~ U(−ε, ε), α = 1.25ε; clipped to the data range (N-FGSM: init=2,step=1,project=false)",
        paper: "Wong, Rice, Kolter, Fast is better than free: Revisiting adversarial training, ICLR 2020",
        options: "step=1.25 (α/ε), init=1, steps=1, restarts=1, norm=linf|l2, project=true",
        build: |s, _| Ok(Box::new(super::adversarial::AdversarialTraining::new(s)?)),
    },
    CatalogEntry {
        name: "pgd-at",
        family: "adversarial",
        formula: "train on x + δ, δ by K steps δ ← Π_ε(δ + α·sign(∇ℓ)) from δ⁰ ~ U(−ε, ε), α = 2.5ε/K; clipped to the data range; K attack passes per step",
        paper: "Madry, Makelov, Schmidt, Tsipras, Vladu, Towards Deep Learning Models Resistant to Adversarial Attacks, ICLR 2018",
        options: "steps=10 (K), step=2.5/K (α/ε), init=1, restarts=1, norm=linf|l2, project=true",
        build: |s, _| Ok(Box::new(super::adversarial::AdversarialTraining::new(s)?)),
    },
    CatalogEntry {
        name: "elle",
        family: "adversarial",
        formula: "λ·(1/n)Σᵢ(ℓ(x_c) − (1 − α)ℓ(x_a) − αℓ(x_b))², x_a, x_b ~ U(x ± ε), α ~ U[0, 1], x_c = (1 − α)x_a + αx_b; with adversarial training; 3n more forward and backward passes",
        paper: "Abad Rocamora, Liu, Chrysos, Olmos, Cevher, Efficient local linearity regularization to overcome catastrophic overfitting, ICLR 2024 (code: LIONS-EPFL/ELLE)",
        options: "eps=the run's adversarial-training ε",
        build: |s, cx| Ok(Box::new(super::elle::ElleHook::new(s, cx.net, cx.attack_eps)?)),
    },
    CatalogEntry {
        name: "elle-a",
        family: "adversarial",
        formula: "ELLE with λ_t: 0 at first; λ when E_lin > mean + s·std of the errors so far, else λ_t ← d·λ_{t−1}",
        paper: "Abad Rocamora, Liu, Chrysos, Olmos, Cevher, Efficient local linearity regularization to overcome catastrophic overfitting, ICLR 2024 (code: LIONS-EPFL/ELLE)",
        options: "eps=the run's adversarial-training ε, sensitivity=2 (s), decay=0.99 (d)",
        build: |s, cx| Ok(Box::new(super::elle::ElleHook::new(s, cx.net, cx.attack_eps)?)),
    },
    CatalogEntry {
        name: "arow",
        family: "adversarial",
        formula: "CE_s(f(x), y) + λ·(1/n)Σᵢ KL(p(xᵢ)‖p(x̂ᵢ))·(1 − p_y(x̂ᵢ)), x̂ by PGD-K on the KL in the ε-ball, CE_s label-smoothed (s = 0.2); K + 1 more passes per step",
        paper: "Yang, Kong, Kim, Improving Adversarial Robustness by Putting More Regularizations on Less Robust Samples, ICML 2023 (code: dyoony/ARoW)",
        options: "eps (required), steps=10 (K), step=0.25 (α/ε), ls=0.2 (s)",
        build: |s, _| Ok(Box::new(super::arow::ArowHook::new(s)?)),
    },
    CatalogEntry {
        name: "trades",
        family: "adversarial",
        formula: "CE(f(x), y) + λ·(1/n)Σᵢ KL(p(xᵢ)‖p(x̂ᵢ)), x̂ by PGD-K on the KL in the ε-ball; K + 1 more passes per step",
        paper: "Zhang, Yu, Jiao, Xing, El Ghaoui, Jordan, Theoretically Principled Trade-off between Robustness and Accuracy, ICML 2019",
        options: "eps (required), steps=10 (K), step=0.25 (α/ε)",
        build: |s, _| Ok(Box::new(super::arow::ArowHook::new(s)?)),
    },
    CatalogEntry {
        name: "aaer",
        family: "adversarial",
        formula: "FGSM-RS training + λ₁·(m/n)·(λ₂·CE_A + λ₃·max(V_A − V_N, 0)), A the m examples whose loss fell in the attack step, V the mean ‖z⁰ − z‖² (start vs adversarial logits)",
        paper: "Lin, Yu, Liu, Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization, NeurIPS 2023 (code: tmllab/2023_NeurIPS_AAER)",
        options: "eps (required), l2=2.5 (λ₂), l3=1.5 (λ₃), step=1.25, init=1, project=true, ce_grad=false",
        build: |s, _| Ok(Box::new(super::aaer::AaerHook::new(s)?)),
    },
];

/// The hooks that choose the inputs the step trains on (adversarial training); at most one per
/// run.
pub const ADVERSARIAL_TRAINING: &[&str] = &["fgsm-at", "fgsm-rs-at", "pgd-at", "aaer"];

/// The step-hook entry named `name`.
pub fn entry(name: &str) -> Option<&'static HookEntry> {
    HOOK_ENTRIES.iter().find(|e| e.name == name)
}

/// Whether the spec string names a step hook (a bad spec is not one).
pub fn is_step_hook(spec: &str) -> bool {
    Spec::parse(spec).is_ok_and(|s| entry(&s.name).is_some())
}

/// Every name `--reg` takes, for errors.
fn known_names() -> String {
    let r = &reglab_regularizers::registry::ENTRIES;
    r.iter()
        .map(|e| e.name)
        .chain(reglab_regularizers::OUTPUT_ENTRIES.iter().map(|e| e.name))
        .chain(reglab_regularizers::BATCH_ENTRIES.iter().map(|e| e.name))
        .chain(HOOK_ENTRIES.iter().map(|e| e.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check one `--reg` spec without a model: it parses, its name is known and its options are
/// valid. Errors name the spec.
pub fn check(spec: &Spec) -> Result<(), String> {
    if let Some(e) = entry(&spec.name) {
        check_hook_options(spec)?;
        return match e.name {
            // builders that need a model: parse the options alone
            "mixout" => Mixout::from_spec(spec).map(drop).map_err(|e| e.to_string()),
            "neural-collapse" => NeuralCollapse::from_spec(spec).map(drop).map_err(|e| e.to_string()),
            "ridg" => Ridg::from_spec(spec).map(drop).map_err(|e| e.to_string()),
            // ε may come from the run's adversarial training
            "elle" | "elle-a" => Elle::from_spec(spec).map(drop).map_err(|e| e.to_string()),
            _ => {
                let net = Net::Mlp(crate::model::Mlp { layers: Vec::new(), act: Default::default() });
                (e.build)(spec, &BuildCx { net: &net, seed: 0, anchor: None, attack_eps: None }).map(drop).map_err(|e| e.to_string())
            }
        };
    }
    reglab_regularizers::check(spec).map_err(|e| match e {
        reglab_core::Error::Unknown { name, .. } => reglab_core::Error::Unknown { name, known: known_names() }.to_string(),
        other => other.to_string(),
    })
}

/// A step hook takes no common option (schedule, until, select).
fn check_hook_options(spec: &Spec) -> Result<(), String> {
    match reglab_core::spec::Common::KEYS.iter().find(|k| spec.options.contains_key(**k)) {
        Some(k) => Err(reglab_core::Error::Spec { spec: spec.raw().into(), why: format!("`{k}` does not apply to `{}`", spec.name) }.to_string()),
        None => Ok(()),
    }
}

/// The chain of a run, built on `net` (which a reparameterization and random masks change):
/// output terms, data perturbations, the step hooks in the order given, the parameter
/// penalties, the reparameterization, the pruning masks. The specs come parsed (in
/// [`TrainConfig`]); each is built here, once; `anchor` (PyTorch layout) replaces the initial weights as the anchor of anchored terms
/// and mixout.
pub fn build_chain(
    cfg: &TrainConfig,
    example_shape: &[usize],
    net: &mut Net,
    device: &Device,
    anchor: Option<&[NamedTensor]>,
) -> Result<Chain, TrainError> {
    let mut step_specs: Vec<&Spec> = Vec::new();
    let (mut batch_specs, mut out_specs, mut param_specs) = (Vec::new(), Vec::new(), Vec::new());
    for spec in &cfg.regs {
        if entry(&spec.name).is_some() {
            check_hook_options(spec).map_err(TrainError::Config)?;
            if step_specs.iter().any(|s| s.name == spec.name) {
                return Err(spec_error(reglab_core::Error::Spec { spec: spec.raw().into(), why: format!("`{}` is given twice", spec.name) }));
            }
            step_specs.push(spec);
        } else if reglab_regularizers::BATCH_ENTRIES.iter().any(|e| e.name == spec.name) {
            batch_specs.push(spec.clone());
        } else if reglab_regularizers::OUTPUT_ENTRIES.iter().any(|e| e.name == spec.name) {
            out_specs.push(spec.clone());
        } else if reglab_regularizers::registry::entry(&spec.name).is_ok() {
            param_specs.push(spec.clone());
        } else {
            return Err(TrainError::Config(reglab_core::Error::Unknown { name: spec.name.clone(), known: known_names() }.to_string()));
        }
    }
    let sharp = step_specs.iter().filter(|s| matches!(s.name.as_str(), "amp" | "sam" | "grad-norm")).count();
    if sharp > 1 {
        return Err(TrainError::Config("amp, sam and grad-norm each change how the step's gradient is taken: give at most one".into()));
    }
    if sharp == 1 && step_specs.iter().any(|s| s.name == "mixout") {
        return Err(TrainError::Config("mixout with amp, sam or grad-norm is not supported: give one of them".into()));
    }
    let adversarial: Vec<&&Spec> = step_specs.iter().filter(|s| ADVERSARIAL_TRAINING.contains(&s.name.as_str())).collect();
    if adversarial.len() > 1 {
        return Err(TrainError::Config(format!(
            "`{}` and `{}` each choose the inputs the step trains on: give at most one of {}",
            adversarial[0].raw(),
            adversarial[1].raw(),
            ADVERSARIAL_TRAINING.join(", ")
        )));
    }
    if let (Some(a), Some(r)) = (adversarial.first(), step_specs.iter().find(|s| matches!(s.name.as_str(), "arow" | "trades"))) {
        return Err(TrainError::Config(format!(
            "`{}` trains on the clean batch with its own attack; it does not combine with `{}`",
            r.raw(),
            a.raw()
        )));
    }
    let attack_eps = match adversarial.first() {
        Some(s) if s.name == "aaer" => Some(Aaer::from_spec(s).map_err(spec_error)?.attack.eps),
        Some(s) => Some(Attack::from_spec(s).map_err(spec_error)?.eps),
        None => None,
    };
    let batch_terms = reglab_regularizers::build_batch_terms(&batch_specs).map_err(spec_error)?;
    for t in &batch_terms {
        t.transform.check_shape(example_shape).map_err(|e| TrainError::Config(format!("`{}`: {e}", t.spec.raw())))?;
    }
    let set = reglab_regularizers::build_set(&param_specs, Selection::LayerWeights).map_err(spec_error)?;
    let output = reglab_regularizers::build_output_set(&out_specs).map_err(spec_error)?;
    let reparam = match &cfg.reparam {
        Some(spec) => Some(Reparam::new(spec, net, &cfg.optim, device).map_err(TrainError::Config)?),
        None => None,
    };
    // (random masks zero their weights now, so the anchor snapshot is the pruned init)
    let prune = cfg.prune.as_ref().map(|p| Masks::new(p, net, cfg.seed)).transpose().map_err(TrainError::Config)?;
    let reg = Regularization::new(set, net, anchor).map_err(TrainError::Config)?;
    let mut hooks: Vec<Box<dyn StepHook>> = vec![Box::new(OutputTerms::new(output)), Box::new(DataPerturbations { terms: batch_terms })];
    // half fine-tuning removes the frozen layers' gradients once every other term has added its own
    let (last, step_specs): (Vec<&Spec>, Vec<&Spec>) = step_specs.into_iter().partition(|s| s.name == "hft");
    for spec in step_specs {
        let e = entry(&spec.name).expect("a step hook");
        hooks.push((e.build)(spec, &BuildCx { net, seed: cfg.seed, anchor, attack_eps })?);
    }
    hooks.push(Box::new(Penalties { reg }));
    if let Some(r) = reparam {
        hooks.push(Box::new(ReparamHook::new(r)));
    }
    if let Some(m) = prune {
        hooks.push(Box::new(PruneHook { masks: m }));
    }
    for spec in last {
        let e = entry(&spec.name).expect("a step hook");
        hooks.push((e.build)(spec, &BuildCx { net, seed: cfg.seed, anchor, attack_eps })?);
    }
    Ok(Chain::new(hooks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_that_need_a_model_are_checked_without_one() {
        // experiment files are checked before any model exists
        for ok in ["neural-collapse=0.01:sep=0.1", "ridg=0.01:momentum=0.1", "mixout=0.1", "feature-distill=1"] {
            check(&Spec::parse(ok).unwrap()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["neural-collapse=0.01:variant=x", "neural-collapse=0", "ridg=0.01:momentum=3", "ridg=1:k=1"] {
            assert!(check(&Spec::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}

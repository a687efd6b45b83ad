//! Names → regularizers. One line per regularizer in [`ENTRIES`]; `reglab list` prints it.

use reglab_core::batch::{BatchTerm, BatchTransform};
use reglab_core::{AsSpec, Error, OutputRegularizer, OutputSet, OutputTerm, RegSet, Regularizer, Result, Selection, Spec, Term};

/// A catalog entry: what `reglab list` prints and how to build the term from its spec. `B` is
/// the builder of the entry's kind (see the aliases [`Entry`], [`OutputEntry`], [`BatchEntry`];
/// `reglab-train` has the step hooks' entries, whose parsers live in [`crate::stochastic`]).
pub struct CatalogEntry<B> {
    /// Command-line name.
    pub name: &'static str,
    /// Family (as in the catalog).
    pub family: &'static str,
    /// The formula (or what it does) in one line, with the default options.
    pub formula: &'static str,
    /// The paper (authors, title, venue, year).
    pub paper: &'static str,
    /// Options, `key=default` (empty: none).
    pub options: &'static str,
    /// Builder.
    pub build: B,
}

/// A parameter-space regularizer (value, gradient, proximal step on the weights).
pub type Entry = CatalogEntry<fn(&Spec) -> Result<Box<dyn Regularizer>>>;
/// An output-level regularizer: a term on the logits of each batch (see [`crate::output`]).
pub type OutputEntry = CatalogEntry<fn(&Spec) -> Result<Box<dyn OutputRegularizer>>>;
/// A data perturbation: a transform of each training batch (see [`crate::data`]).
pub type BatchEntry = CatalogEntry<fn(&Spec) -> Result<Box<dyn BatchTransform>>>;

fn boxed<R: Regularizer + 'static>(r: Result<R>) -> Result<Box<dyn Regularizer>> {
    r.map(|r| Box::new(r) as Box<dyn Regularizer>)
}

/// Every regularizer reglab knows.
pub const ENTRIES: &[Entry] = &[
    CatalogEntry {
        name: "l2",
        family: "weight size",
        formula: "λ/2·‖W‖²_F  (gradient λW, = weight_decay=λ)",
        paper: "Krogh & Hertz, A Simple Weight Decay Can Improve Generalization, NIPS 1991",
        options: "",
        build: |s| boxed(crate::weight::l2::L2::from_spec(s)),
    },
    // -- sparsity and anchor entries (l1, l2-init, wasserstein-init) go here --
    CatalogEntry {
        name: "l1",
        family: "sparsity",
        formula: "λ·Σ|W_ij|  (proximal soft-threshold w ← sign(w)·max(|w| − ηλ, 0): exact zeros)",
        paper: "Tibshirani, Regression Shrinkage and Selection via the Lasso, JRSS B 1996; prox not subgradient: S. K. Kumar, GD doesn't make the cut, arXiv 2401.08426, 2024",
        options: "",
        build: |s| boxed(crate::sparsity::l1::L1::from_spec(s)),
    },
    CatalogEntry {
        name: "elastic-net",
        family: "sparsity",
        formula: "λ·(α·Σ|W_ij| + (1 − α)/2·‖W‖²_F)  (prox w ← soft_threshold(w, ηλα)/(1 + ηλ(1 − α)): exact zeros)",
        paper: "Zou & Hastie, Regularization and variable selection via the elastic net, JRSS B 2005",
        options: "alpha=0.5 (ℓ1 share, in [0, 1])",
        build: |s| boxed(crate::sparsity::elastic_net::ElasticNet::from_spec(s)),
    },
    CatalogEntry {
        name: "group-lasso",
        family: "sparsity",
        formula: "λ·Σ_r c·‖W_r‖₂ over rows of [out, in]  (prox W_r ← max(0, 1 − ηλc/‖W_r‖)·W_r: whole units zero; c = 1)",
        paper: "Yuan & Lin, Model selection and estimation in regression with grouped variables, JRSS B 2006",
        options: "weight=none (sqrt: c = √in)",
        build: |s| boxed(crate::sparsity::group_lasso::GroupLasso::from_spec(s)),
    },
    CatalogEntry {
        name: "hypersparse",
        family: "sparsity",
        formula: "gradient sign(w)·A·s·sech²(s|w|), s = 0.6585/τ, τ = sort(|w|)[⌊κn⌋], A = Σ|w|/Σtanh(s|w|) over all selected weights (value: 0, official stop-gradient loss); grow λ with schedule=exp:factor=1.05:every=STEPS_PER_EPOCH, then prune",
        paper: "Glandorf, Kaiser, Rosenhahn, HyperSparse Neural Networks: Shifting Exploration to Exploitation through Adaptive Regularization, ICCV 2023 Workshops (arXiv 2308.07163)",
        options: "sparsity=0.9 (κ), scope=global (layer: per tensor)",
        build: |s| boxed(crate::sparsity::hypersparse::HyperSparse::from_spec(s)),
    },
    CatalogEntry {
        name: "selective-decay",
        family: "sparsity",
        formula: "½·Σ_{|w_i| < τ} w_i², τ = the smallest of the top keep·n magnitudes  (gradient w on the irrelevant entries only: selective weight decay; then magnitude pruning)",
        paper: "Bonetta, Ribero, Cancelliere, Regularization-based pruning of irrelevant weights in deep neural architectures, Applied Intelligence 2023 (arXiv 2204.04977); magnitude score, not the paper's loss-based one",
        options: "keep=0.1, scope=global (layer: per tensor), score=magnitude (only)",
        build: |s| boxed(crate::sparsity::selective_decay::SelectiveDecay::from_spec(s)),
    },
    CatalogEntry {
        name: "l2-init",
        family: "anchor",
        formula: "λ/2·‖W − W₀‖²_F  (gradient λ(W − W₀); W₀ = init or anchor checkpoint)",
        paper: "Kumar, Marklund & Van Roy, Maintaining Plasticity in Continual Learning via Regenerative Regularization, arXiv 2308.11958, 2023",
        options: "",
        build: |s| boxed(crate::anchor::l2_init::L2Init::from_spec(s)),
    },
    CatalogEntry {
        name: "l2-sp",
        family: "anchor",
        formula: "α/2·‖W_S − W_S⁰‖² + β/2·‖W_head‖²  (W_S⁰ = the pretrained weights = the anchor; β = ratio·α, default 0; head = classifier.*|head.*)",
        paper: "Li, Grandvalet & Davoine, Explicit Inductive Bias for Transfer Learning with Convolutional Networks, ICML 2018 (arXiv 1802.01483)",
        options: "ratio=0, head=classifier.*|head.*",
        build: |s| boxed(crate::anchor::l2_sp::L2Sp::from_spec(s)),
    },
    CatalogEntry {
        name: "wasserstein-init",
        family: "anchor",
        formula: "λ·Σᵢ (sort(W)ᵢ − sort(W₀)ᵢ)²  (= n·W₂² of the entry distributions; mean: /n)",
        paper: "Lewandowski et al., Learning Continually by Spectral Regularization, arXiv 2406.06811 v1, 2024",
        options: "reduction=sum",
        build: |s| boxed(crate::anchor::wasserstein_init::WassersteinInit::from_spec(s)),
    },
    CatalogEntry {
        name: "shrink-perturb",
        family: "perturbation",
        formula: "after each step W ← (1 − λ)W + σ·ε, ε ~ N(0, I)  (not a penalty; weights and biases)",
        paper: "Ash & Adams, On Warm-Starting Neural Network Training, NeurIPS 2020; per-step form: Dohare et al., Loss of plasticity in deep continual learning, Nature 2024",
        options: "sigma=0 (noise scale, also σ)",
        build: |s| boxed(crate::perturbation::shrink_perturb::ShrinkPerturb::from_spec(s)),
    },
    // -- Cauchy–Schwarz entries (cs-binary, cs-binary-pos, cs-ternary, cs-orth, cs-eig) --
    CatalogEntry {
        name: "cs-binary",
        family: "cauchy-schwarz",
        formula: "(1/numel)·Σ_rows (N‖x‖₄⁴ − ‖x‖₂⁴), x a row of [out, in], N = in  (0 iff x ∈ {±α}^N, any α; gradient 4N x³ − 4‖x‖₂² x)",
        paper: "Taner & Studer, Cauchy–Schwarz Regularizers, ICLR 2025 (arXiv 2503.01639)",
        options: "norm=numel (none: no division)",
        build: |s| boxed(crate::cauchy_schwarz::binary::CsBinary::from_spec(s)),
    },
    CatalogEntry {
        name: "cs-binary-pos",
        family: "cauchy-schwarz",
        formula: "(1/numel)·Σ_rows (‖x‖₂²‖x‖₄⁴ − (Σᵢ xᵢ³)²)  (one-sided binary: 0 iff x ∈ {0, α}^N, α of either sign)",
        paper: "Taner & Studer, Cauchy–Schwarz Regularizers, ICLR 2025 (arXiv 2503.01639)",
        options: "norm=numel (none: no division)",
        build: |s| boxed(crate::cauchy_schwarz::binary_pos::CsBinaryPos::from_spec(s)),
    },
    CatalogEntry {
        name: "cs-ternary",
        family: "cauchy-schwarz",
        formula: "(1/numel)·Σ_rows (‖x‖₂²‖x‖₆⁶ − ‖x‖₄⁸)  (0 iff x ∈ {0, ±α}^N; 8-homogeneous)",
        paper: "Taner & Studer, Cauchy–Schwarz Regularizers, ICLR 2025 (arXiv 2503.01639)",
        options: "norm=numel (none: no division)",
        build: |s| boxed(crate::cauchy_schwarz::ternary::CsTernary::from_spec(s)),
    },
    CatalogEntry {
        name: "cs-orth",
        family: "cauchy-schwarz",
        formula: "(1/numel)·(out·‖W Wᵀ‖²_F − ‖W‖⁴_F)  (ℓ_orth(X) = K‖XᵀX‖²_F − ‖X‖⁴_F with X = Wᵀ, K = out: 0 iff W Wᵀ = α I)",
        paper: "Taner & Studer, Cauchy–Schwarz Regularizers, ICLR 2025 (arXiv 2503.01639)",
        options: "norm=numel (none: no division)",
        build: |s| boxed(crate::cauchy_schwarz::orth::CsOrth::from_spec(s)),
    },
    CatalogEntry {
        name: "cs-eig",
        family: "cauchy-schwarz",
        formula: "(1/numel)·Σ_rows (‖x‖₂²‖Cx‖₂² − (xᵀCx)²), C symmetric [in, in]  (0 iff each row is an eigenvector of C)",
        paper: "Taner & Studer, Cauchy–Schwarz Regularizers, ICLR 2025 (arXiv 2503.01639)",
        options: "c=PATH (required): C as CSV or a .safetensors file with one 2-D tensor; tol=1e-6 (symmetry, relative), norm=numel",
        build: |s| boxed(crate::cauchy_schwarz::eig::CsEig::from_spec(s)),
    },
    // -- spectral and orthogonality entries (spectral, soft-orth) go here --
    CatalogEntry {
        name: "spectral",
        family: "spectral",
        formula: "(σ_max([W | b])^k − 1)²  (σ by persistent power iteration, one step per update)",
        paper: "Lewandowski, Bortkiewicz, Kumar, György, Schuurmans, Ostaszewski, Machado, Learning Continually by Spectral Regularization, ICLR 2025",
        options: "k=2",
        build: |s| boxed(crate::spectral::spectral::Spectral::from_spec(s)),
    },
    CatalogEntry {
        name: "soft-orth",
        family: "orthogonality",
        formula: "‖W Wᵀ − I‖²_F  (rows of [out, in]; gradient 4(W Wᵀ − I)W)",
        paper: "Xie, Xiong, Pu, All You Need is Beyond a Good Init (Orthonormality and Modulation), CVPR 2017; named soft orthogonality by Bansal, Chen, Wang, NeurIPS 2018",
        options: "",
        build: |s| boxed(crate::orthogonality::soft_orth::SoftOrth::from_spec(s)),
    },
    CatalogEntry {
        name: "lambda-orth",
        family: "orthogonality",
        formula: "s(α(x − τ))·x, x = ‖W Wᵀ − I‖_F (unsquared), s the logistic sigmoid: free within τ of orthogonality, the distance beyond (gradient r'(x)·2(W Wᵀ − I)W/x)",
        paper: "Ricci, Biondi, Pernici, Patras, Del Bimbo, λ-Orthogonality Regularization for Compatible Representation Learning, NeurIPS 2025 (arXiv 2509.16664)",
        options: "threshold=12 (τ, the paper's λ), alpha=1 (α), gram=rows (cols: WᵀW − I)",
        build: |s| boxed(crate::orthogonality::lambda_orth::LambdaOrth::from_spec(s)),
    },
    CatalogEntry {
        name: "ortho-offdiag",
        family: "orthogonality",
        formula: "‖(W Wᵀ) ⊙ (1 − I)‖²_F  (rows of [out, in], norms free; gradient 4((W Wᵀ) ⊙ (1 − I))W; BigGAN code's β = 2λ, paper's β = λ)",
        paper: "Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image Synthesis (BigGAN), ICLR 2019",
        options: "",
        build: |s| boxed(crate::orthogonality::ortho_offdiag::OrthoOffdiag::from_spec(s)),
    },
    CatalogEntry {
        name: "group-orth",
        family: "orthogonality",
        formula: "G = min(groups, ⌊out/4⌋) groups of n = out/G contiguous rows; inter: Σ_g dist(W_g), intra: Σ_i dist(row i of every group); dist(S) = ‖SᵀS − I‖²_F if tall else ‖SSᵀ − I‖²_F  (official names; error unless G divides out)",
        paper: "Kurtz, Bar, Giryes, Group Orthogonalization Regularization for Vision Models Adaptation and Robustness (GOR), BMVC 2023",
        options: "groups=32, variant=inter (inter: within each group, intra: across groups)",
        build: |s| boxed(crate::orthogonality::group_orth::GroupOrth::from_spec(s)),
    },
    CatalogEntry {
        name: "conv-orth",
        family: "orthogonality",
        formula: "‖conv(K, K; stride S, padding P) − I_r0‖²_F  (kernels [out, in, kh, kw] only; identity at the centre shift; official code = √ of this)",
        paper: "Wang, Chen, Chakraborty, Yu, Orthogonal Convolutional Neural Networks, CVPR 2020; theory: Achour, Malgouyres, Mamalet, JMLR 2022",
        options: "stride=1, padding=⌊(k − 1)/S⌋·S (paper; official scripts use 1)",
        build: |s| boxed(crate::orthogonality::conv_orth::ConvOrth::from_spec(s)),
    },
    CatalogEntry {
        name: "mhe",
        family: "orthogonality",
        formula: "(1/#pairs)·Σ_{i<j} f(ŵ_iᵀŵ_j), ŵ = w/√(‖w‖²+1e-4) rows of [out, in]; s=2: f = 1/d², d² = 2 − 2c  (0: −ln d², 1: 1/d, a0/a1/a2: −ln a, 1/a, 1/a², a = arccos(c)/π + 1e-4; half: points ±w_i)",
        paper: "W. Liu, R. Lin, Z. Liu, L. Liu, Z. Yu, B. Dai, L. Song, Learning towards Minimum Hyperspherical Energy, NeurIPS 2018 (code: wy1iu/MHE)",
        options: "s=2 (0, 1, 2, a0, a1, a2), half=false",
        build: |s| boxed(crate::orthogonality::mhe::Mhe::from_spec(s)),
    },
];

fn boxed_output<R: OutputRegularizer + 'static>(r: Result<R>) -> Result<Box<dyn OutputRegularizer>> {
    r.map(|r| Box::new(r) as Box<dyn OutputRegularizer>)
}

/// Every output-level regularizer: terms on the logits, through the loss (see
/// [`crate::output`]).
pub const OUTPUT_ENTRIES: &[OutputEntry] = &[
    CatalogEntry {
        name: "label-smoothing",
        family: "output",
        formula: "ε·mean_i(z_{i,y} − mean_k z_{ik})  (CE + this = CE against (1 − ε)·onehot + ε/C, PyTorch's label_smoothing=ε)",
        paper: "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016",
        options: "",
        build: |s| boxed_output(crate::output::label_smoothing::LabelSmoothing::from_spec(s)),
    },
    CatalogEntry {
        name: "confidence-penalty",
        family: "output",
        formula: "β·mean_i Σ_k p_ik log p_ik = −β·mean H(p_i)",
        paper: "Pereyra, Tucker, Chorowski, Kaiser, Hinton, Regularizing Neural Networks by Penalizing Confident Output Distributions, ICLR 2017 workshop",
        options: "",
        build: |s| boxed_output(crate::output::confidence_penalty::ConfidencePenalty::from_spec(s)),
    },
    CatalogEntry {
        name: "spectral-decoupling",
        family: "output",
        formula: "λ/2·mean_i ‖z_i − γ‖²",
        paper: "Pezeshki et al., Gradient Starvation: A Learning Proclivity in Neural Networks, NeurIPS 2021",
        options: "gamma=0",
        build: |s| boxed_output(crate::output::spectral_decoupling::SpectralDecoupling::from_spec(s)),
    },
    CatalogEntry {
        name: "elr",
        family: "output",
        formula: "λ·mean_i log(1 − ⟨t_i, p̃_i⟩), p̃ = clamp(softmax(z), 1e-4, 1 − 1e-4), t_i ← β·t_i + (1 − β)·p̃_i/Σp̃_i first (per training example)",
        paper: "Liu, Niles-Weed, Razavian, Fernandez-Granda, Early-Learning Regularization Prevents Memorization of Noisy Labels, NeurIPS 2020 (code: shengliu66/ELR)",
        options: "beta=0.7",
        build: |s| boxed_output(crate::output::elr::Elr::from_spec(s)),
    },
    CatalogEntry {
        name: "feasible",
        family: "output",
        formula: "replaces the cross-entropy by Σ_{i∈B} λ_i(ℓ_i − ε), λ_i ← max(0, λ_i + η(ℓ_i − ε − w·λ_i)) first (per training example; w > 0: resilient): every example's loss ≤ ε instead of the mean",
        paper: "Ramirez, Hounie, Elenter, Gallego-Posada, Hashemizadeh, Ribeiro, Lacoste-Julien, Feasible Learning, AISTATS 2025 (arXiv 2501.14912; code: juan43ramirez/feasible-learning)",
        options: "eps=ln(1/0.6), dual_lr=0.01 (η), decay=0 (w = 1/α, resilient)",
        build: |s| boxed_output(crate::output::feasible::Feasible::from_spec(s)),
    },
];

fn boxed_batch<R: BatchTransform + 'static>(r: Result<R>) -> Result<Box<dyn BatchTransform>> {
    r.map(|r| Box::new(r) as Box<dyn BatchTransform>)
}

/// Every data perturbation.
pub const BATCH_ENTRIES: &[BatchEntry] = &[
    CatalogEntry {
        name: "cutout",
        family: "data",
        formula: "zero an L×L square (L = the strength, pixels) at a uniform centre of each training image, in every channel; may cross the border",
        paper: "DeVries & Taylor, Improved Regularization of Convolutional Neural Networks with Cutout, arXiv 1708.04552, 2017 (code: uoguelph-mlrg/Cutout)",
        options: "holes=1, extent=half (side L; full: 2L, the code's first version)",
        build: |s| boxed_batch(crate::data::cutout::Cutout::from_spec(s)),
    },
    CatalogEntry {
        name: "mixup",
        family: "data",
        formula: "x ← λx + (1 − λ)x_π, loss λ·CE(y) + (1 − λ)·CE(y_π), λ ~ Beta(α, α) per batch, π a random permutation (α = the strength)",
        paper: "Zhang, Cissé, Dauphin, Lopez-Paz, mixup: Beyond Empirical Risk Minimization, ICLR 2018",
        options: "",
        build: |s| boxed_batch(crate::data::mixup::Mixup::from_spec(s)),
    },
    CatalogEntry {
        name: "input-noise",
        family: "data",
        formula: "x ← x + σ·ε, ε ~ N(0, I), on training inputs (σ = the strength)",
        paper: "Bishop, Training with Noise is Equivalent to Tikhonov Regularization, Neural Computation 1995",
        options: "",
        build: |s| boxed_batch(crate::data::input_noise::InputNoise::from_spec(s)),
    },
];

/// Whether the spec string names a data perturbation.
pub fn is_batch(spec: &str) -> bool {
    Spec::parse(spec).is_ok_and(|s| BATCH_ENTRIES.iter().any(|e| e.name == s.name))
}

/// Build the data perturbations of `specs` (parsed, or strings parsed here), in order. The
/// common options do not apply (a transform has no schedule); two `mixup` are refused.
pub fn build_batch_terms<S: AsSpec>(specs: &[S]) -> Result<Vec<BatchTerm>> {
    let mut out: Vec<BatchTerm> = Vec::new();
    for s in specs {
        let spec = s.to_spec()?;
        let e = BATCH_ENTRIES.iter().find(|e| e.name == spec.name).ok_or_else(|| unknown(&spec.name))?;
        if let Some(k) = reglab_core::spec::Common::KEYS.iter().find(|k| spec.options.contains_key(**k)) {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("`{k}` does not apply to a data perturbation") });
        }
        if out.iter().any(|t| t.spec.name == spec.name) {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("`{}` is given twice", spec.name) });
        }
        let transform = (e.build)(&spec)?;
        out.push(BatchTerm { spec, transform });
    }
    Ok(out)
}

fn unknown(name: &str) -> Error {
    let known: Vec<&str> =
        ENTRIES.iter().map(|e| e.name).chain(OUTPUT_ENTRIES.iter().map(|e| e.name)).chain(BATCH_ENTRIES.iter().map(|e| e.name)).collect();
    Error::Unknown { name: name.to_string(), known: known.join(", ") }
}

/// The entry for `name`.
pub fn entry(name: &str) -> Result<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| unknown(name))
}

/// The output entry for `name`.
pub fn output_entry(name: &str) -> Result<&'static OutputEntry> {
    OUTPUT_ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| unknown(name))
}

/// Whether the spec string names an output-level regularizer (a bad spec is not one).
pub fn is_output(spec: &str) -> bool {
    Spec::parse(spec).is_ok_and(|s| OUTPUT_ENTRIES.iter().any(|e| e.name == s.name))
}

/// Check that a spec builds, as a parameter or an output regularizer (bad options, unknown
/// names: the error).
pub fn check(spec: &Spec) -> Result<()> {
    if BATCH_ENTRIES.iter().any(|e| e.name == spec.name) {
        return build_batch_terms(std::slice::from_ref(spec)).map(drop);
    }
    if OUTPUT_ENTRIES.iter().any(|e| e.name == spec.name) {
        let reg = (output_entry(&spec.name)?.build)(spec)?;
        OutputTerm::new(spec.clone(), reg).map(drop)
    } else {
        let reg = build(spec)?;
        Term::new(spec.clone(), reg).map(drop)
    }
}

/// Build a sum of output-level regularizers from specs (parsed, or strings parsed here).
pub fn build_output_set<S: AsSpec>(specs: &[S]) -> Result<OutputSet> {
    let mut terms = Vec::new();
    for s in specs {
        let spec = s.to_spec()?;
        let reg = (output_entry(&spec.name)?.build)(&spec)?;
        terms.push(OutputTerm::new(spec, reg)?);
    }
    Ok(OutputSet::new(terms))
}

/// Build one regularizer from a spec.
pub fn build(spec: &Spec) -> Result<Box<dyn Regularizer>> {
    (entry(&spec.name)?.build)(spec)
}

/// Build a sum of regularizers from specs (parsed, or strings parsed here).
pub fn build_set<S: AsSpec>(specs: &[S], default_selection: Selection) -> Result<RegSet> {
    let mut terms = Vec::new();
    for s in specs {
        let spec = s.to_spec()?;
        let reg = build(&spec)?;
        terms.push(Term::new(spec, reg)?);
    }
    Ok(RegSet::new(terms, default_selection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = build(&Spec::parse("l3=1").unwrap()).err().unwrap().to_string();
        assert!(e.contains("unknown regularizer `l3`") && e.contains("l2"), "{e}");
    }

    #[test]
    fn every_entry_builds_with_its_defaults_and_reports_its_name() {
        // entries with a required option (e.g. cs-eig's `c=PATH`) cannot build from defaults;
        // their own tests build them
        for e in ENTRIES.iter().filter(|e| !e.options.contains("(required)")) {
            let spec = Spec::parse(&format!("{}=0.5", e.name)).unwrap();
            let r = (e.build)(&spec).unwrap_or_else(|err| panic!("{}: {err}", e.name));
            assert_eq!(r.name(), e.name);
        }
    }

    #[test]
    fn entries_marked_required_do_not_build_from_defaults() {
        for e in ENTRIES.iter().filter(|e| e.options.contains("(required)")) {
            let spec = Spec::parse(&format!("{}=0.5", e.name)).unwrap();
            assert!(matches!((e.build)(&spec), Err(Error::Spec { .. })), "{}", e.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut n: Vec<_> =
            ENTRIES.iter().map(|e| e.name).chain(OUTPUT_ENTRIES.iter().map(|e| e.name)).chain(BATCH_ENTRIES.iter().map(|e| e.name)).collect();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), ENTRIES.len() + OUTPUT_ENTRIES.len() + BATCH_ENTRIES.len());
    }

    #[test]
    fn perturbations_parse_and_refuse_common_options_and_repeats() {
        assert!(check(&Spec::parse("dropout=1.5").unwrap()).is_err());
    }

    #[test]
    fn batch_entries_build_and_refuse_common_options_and_repeats() {
        for e in BATCH_ENTRIES {
            let t = (e.build)(&Spec::parse(&format!("{}=4", e.name)).unwrap()).unwrap();
            assert_eq!(t.name(), e.name);
            assert!(is_batch(&format!("{}=4", e.name)) && !is_output(&format!("{}=4", e.name)));
            assert!(check(&Spec::parse(&format!("{}=4", e.name)).unwrap()).is_ok());
        }
        assert!(build_batch_terms(&["mixup=1:schedule=cosine"]).err().unwrap().to_string().contains("does not apply"));
        assert!(build_batch_terms(&["mixup=1", "mixup=0.2"]).err().unwrap().to_string().contains("twice"));
        assert_eq!(build_batch_terms(&["cutout=8", "mixup=1"]).unwrap().len(), 2);
    }

    #[test]
    fn output_entries_build_and_are_told_apart() {
        for e in OUTPUT_ENTRIES {
            let r = (e.build)(&Spec::parse(&format!("{}=0.5", e.name)).unwrap()).unwrap();
            assert_eq!(r.name(), e.name);
            assert!(is_output(&format!("{}=0.5", e.name)));
            assert!(build(&Spec::parse(&format!("{}=0.5", e.name)).unwrap()).is_err());
        }
        assert!(!is_output("l2=1") && !is_output("elr"));
        let set = build_output_set(&["elr=3:beta=0.9", "label-smoothing=0.1"]).unwrap();
        assert_eq!(set.labels(), vec!["elr", "label-smoothing"]);
        assert!(build_output_set(&["elr=3:select=x"]).err().unwrap().to_string().contains("select"));
        assert!(build_output_set(&["l2=3"]).err().unwrap().to_string().contains("unknown regularizer `l2`"));
    }
}

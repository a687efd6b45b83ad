//! Experiment files of `kind = "inverse"`: the phantom, the few-view CT settings and the
//! reconstruction methods. Every key is documented in `docs/experiments.md`; unknown keys are
//! errors and every error names its key.

use crate::experiment_file::{self, check_increasing_list, check_kind_and_name, check_method_keys, check_method_label, unknown_method};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "inverse";

/// The method names of `[[method]]`.
pub const METHODS: [&str; 6] = ["fbp", "tikhonov", "tv", "weighted-tv", "space-variant-tv", "graph-la"];
/// The phantoms of `problem.phantom`.
pub const PHANTOMS: [&str; 2] = ["shepp-logan", "piecewise-constant"];

/// Default most iterations of the iterative solvers.
pub const DEFAULT_MAX_ITER: usize = 1000;
/// Default stopping tolerance: the relative change of `x` (Chambolle–Pock), the relative
/// residual of the normal equations (conjugate gradients).
pub const DEFAULT_TOL: f64 = 1e-5;
/// Default `η_w` of the weighted and space-variant TV weights.
pub const DEFAULT_ETA: f64 = 0.05;
/// Default exponent `p` of the space-variant TV weights.
pub const DEFAULT_P: f64 = 0.5;
/// Default `σ` of the graph-Laplacian weights `exp(−(x̃_p − x̃_q)²/σ)` (the authors' default).
pub const DEFAULT_SIGMA: f64 = 1e-3;
/// Default neighbourhood radius of the graph Laplacian (Chebyshev distance; the authors'
/// `R = 3` is radius 2).
pub const DEFAULT_RADIUS: usize = 2;

/// A whole inverse-problem experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseExperiment {
    /// Always `"inverse"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// The phantom and the measurement settings.
    pub problem: ProblemConfig,
    /// Solver limits.
    #[serde(default)]
    pub solve: SolveConfig,
    /// The reconstruction methods, in order (a method's `estimate` names an earlier one).
    pub method: Vec<MethodConfig>,
    /// The calibrated λ rule (absent: the oracle rule only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationConfig>,
    /// The learned λ rule (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedConfig>,
}

/// `[learned]`: λ of the named TV methods learned per setting by MAID (bilevel learning,
/// catalog #14, [`reglab_inverse::bilevel`]) from `phantoms` random ellipse phantoms
/// ([`reglab_inverse::random_ellipse_phantom`]; never the test phantom) measured with the
/// setting's geometry and relative noise level, then applied to the test problem. The lower
/// level is smoothed TV (`smoothing` ν) with a ridge `ridge` μ; the test reconstruction at the
/// learned λ uses the method's own solver (exact TV, as the grid rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedConfig {
    /// Labels of `tv` methods whose λ is learned.
    pub methods: Vec<String>,
    /// Number of training phantoms (≥ 1).
    pub phantoms: usize,
    /// Seed of the training phantoms and their noise (mixed per setting and phantom).
    pub seed: u64,
    /// Starting λ (> 0).
    #[serde(default = "default_lambda0")]
    pub lambda0: f64,
    /// MAID's upper-level iterations (≥ 1).
    #[serde(default = "default_learned_iter")]
    pub max_iter: usize,
    /// The TV smoothing ν of the lower level (> 0).
    #[serde(default = "default_smoothing")]
    pub smoothing: f64,
    /// The ridge μ of the lower level (> 0).
    #[serde(default = "default_ridge")]
    pub ridge: f64,
}

fn default_lambda0() -> f64 {
    0.1
}
fn default_learned_iter() -> usize {
    20
}
fn default_smoothing() -> f64 {
    0.01
}
fn default_ridge() -> f64 {
    1e-3
}

/// `[calibration]`: a second, independent problem per setting — the same geometry and relative
/// noise level, a phantom of its own and noise from its own seed — on which every method's λ is
/// chosen (best PSNR against the calibration phantom, estimates also from the calibration
/// problem) and then applied to the test problem, whose ground truth the choice never sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    /// The calibration phantom: one of [`PHANTOMS`].
    pub phantom: String,
    /// Seed of the calibration noise (mixed per setting as `problem.seed` is, by
    /// [`setting_seed`]); must differ from `problem.seed`.
    pub seed: u64,
}

/// `[problem]`: a `size × size` phantom, measured by a parallel-beam Radon transform with
/// `views` equispaced angles in `[0, π)`, plus Gaussian noise of standard deviation
/// `σ = noise · ‖Ax‖₂ / √m` (`m` sinogram entries: `noise` is the noise level relative to the
/// root-mean-square of the clean sinogram), one setting per (views, noise) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemConfig {
    /// `"shepp-logan"` (modified Shepp–Logan) or `"piecewise-constant"`.
    #[serde(default = "default_phantom")]
    pub phantom: String,
    /// Image side in pixels (≥ 16).
    pub size: usize,
    /// Numbers of views (each ≥ 1, increasing).
    pub views: Vec<usize>,
    /// Relative noise levels (each finite, ≥ 0, increasing).
    pub noise: Vec<f64>,
    /// Seed of the noise (each setting draws from its own stream, see [`setting_seed`]).
    #[serde(default)]
    pub seed: u64,
}

fn default_phantom() -> String {
    "shepp-logan".into()
}

/// `[solve]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SolveConfig {
    /// Most iterations of each iterative solve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<usize>,
    /// Stopping tolerance (relative change of `x` for Chambolle–Pock, relative residual for CG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
}

/// `[[method]]`: one reconstruction method with its λ grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// One of [`METHODS`].
    pub name: String,
    /// Display name and key for `estimate` (default: `name`); unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The λ grid (each finite, > 0, increasing); all methods but `fbp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambdas: Option<Vec<f64>>,
    /// `fbp`: `"ram-lak"` (default), `"shepp-logan"` or `"hann"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `tikhonov`: `"gradient"` (`‖∇x‖²`, default) or `"identity"` (`‖x‖²`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<String>,
    /// `weighted-tv`, `space-variant-tv`, `graph-la`: the label of an earlier method whose best
    /// reconstruction (highest PSNR over its λ grid, same setting) is the preliminary estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<String>,
    /// `weighted-tv`, `space-variant-tv`: `η_w > 0` of the weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// `space-variant-tv`: the exponent `p ∈ [0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// `graph-la`: `σ > 0` of the weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// `graph-la`: the neighbourhood radius (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<usize>,
    /// `graph-la`: `"l1"` (`‖Lx‖₁`, default) or `"l2"` (`‖Lx‖²`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<String>,
}

impl MethodConfig {
    /// The label (default: the name).
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// The λ grid (empty for `fbp`).
    pub fn lambdas(&self) -> &[f64] {
        self.lambdas.as_deref().unwrap_or(&[])
    }
}

/// The seed of the noise of setting (`views`, noise index `k`): `seed`, the number of views and
/// `k` mixed by SplitMix64 steps, so each setting has its own stream and adding a setting does
/// not change the others.
pub fn setting_seed(seed: u64, views: usize, k: usize) -> u64 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    mix(mix(mix(seed) ^ views as u64) ^ k as u64)
}

fn positive_finite(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl InverseExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize, check
    /// every value and fill in the defaults. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let mut exp: InverseExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        exp.solve.max_iter.get_or_insert(DEFAULT_MAX_ITER);
        exp.solve.tol.get_or_insert(DEFAULT_TOL);
        for m in &mut exp.method {
            match m.name.as_str() {
                "fbp" => {
                    m.filter.get_or_insert_with(|| "ram-lak".into());
                }
                "tikhonov" => {
                    m.penalty.get_or_insert_with(|| "gradient".into());
                }
                "weighted-tv" => {
                    m.eta.get_or_insert(DEFAULT_ETA);
                }
                "space-variant-tv" => {
                    m.eta.get_or_insert(DEFAULT_ETA);
                    m.p.get_or_insert(DEFAULT_P);
                }
                "graph-la" => {
                    m.sigma.get_or_insert(DEFAULT_SIGMA);
                    m.radius.get_or_insert(DEFAULT_RADIUS);
                    m.norm.get_or_insert_with(|| "l1".into());
                }
                _ => {}
            }
        }
        Ok(exp)
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        let p = &self.problem;
        if !PHANTOMS.contains(&p.phantom.as_str()) {
            return Err(format!("`problem.phantom` = \"{}\": expected \"shepp-logan\" or \"piecewise-constant\"", p.phantom));
        }
        if p.size < 16 {
            return Err(format!("`problem.size` must be ≥ 16, got {}", p.size));
        }
        check_increasing_list("problem.views", &p.views, "give at least one number of views", "must be ≥ 1", |v| v >= 1)?;
        check_increasing_list("problem.noise", &p.noise, "give at least one noise level (0 for none)", "must be finite and ≥ 0", |v: f64| {
            v >= 0.0 && v.is_finite()
        })?;
        if self.solve.max_iter == Some(0) {
            return Err("`solve.max_iter` must be ≥ 1".into());
        }
        if let Some(t) = self.solve.tol.filter(|t| !(*t >= 0.0 && t.is_finite())) {
            return Err(format!("`solve.tol` must be finite and ≥ 0, got {t}"));
        }
        if self.method.is_empty() {
            return Err("no `[[method]]`: give at least one".into());
        }
        for (i, m) in self.method.iter().enumerate() {
            self.validate_method(i, m)?;
        }
        if let Some(c) = &self.calibration {
            if !PHANTOMS.contains(&c.phantom.as_str()) {
                return Err(format!("`calibration.phantom` = \"{}\": expected \"shepp-logan\" or \"piecewise-constant\"", c.phantom));
            }
            if c.seed == p.seed {
                return Err(format!("`calibration.seed` = {} is `problem.seed`: the calibration noise must be an independent draw", c.seed));
            }
        }
        if let Some(l) = &self.learned {
            if l.methods.is_empty() {
                return Err("`learned.methods` is empty: name at least one `tv` method's label".into());
            }
            for name in &l.methods {
                match self.method.iter().find(|m| m.label() == name) {
                    Some(m) if m.name == "tv" => {}
                    Some(m) => return Err(format!("`learned.methods`: \"{name}\" is a `{}` method; only `tv` λ can be learned", m.name)),
                    None => return Err(format!("`learned.methods`: \"{name}\" is not the label of a method")),
                }
            }
            if l.phantoms == 0 {
                return Err("`learned.phantoms` must be ≥ 1".into());
            }
            if l.seed == p.seed {
                return Err(format!("`learned.seed` = {} is `problem.seed`: the training noise must be an independent draw", l.seed));
            }
            if l.max_iter == 0 {
                return Err("`learned.max_iter` must be ≥ 1".into());
            }
            for (key, v) in [("lambda0", l.lambda0), ("smoothing", l.smoothing), ("ridge", l.ridge)] {
                if !positive_finite(v) {
                    return Err(format!("`learned.{key}` must be finite and > 0, got {v}"));
                }
            }
        }
        Ok(())
    }

    fn validate_method(&self, i: usize, m: &MethodConfig) -> Result<(), String> {
        let name = m.name.as_str();
        if !METHODS.contains(&name) {
            return Err(unknown_method(i, name, &METHODS));
        }
        let allowed: &[&str] = match name {
            "fbp" => &["filter"],
            "tikhonov" => &["lambdas", "penalty"],
            "tv" => &["lambdas"],
            "weighted-tv" => &["lambdas", "estimate", "eta"],
            "space-variant-tv" => &["lambdas", "estimate", "eta", "p"],
            _ => &["lambdas", "estimate", "sigma", "radius", "norm"],
        };
        let given = [
            ("lambdas", m.lambdas.is_some()),
            ("filter", m.filter.is_some()),
            ("penalty", m.penalty.is_some()),
            ("estimate", m.estimate.is_some()),
            ("eta", m.eta.is_some()),
            ("p", m.p.is_some()),
            ("sigma", m.sigma.is_some()),
            ("radius", m.radius.is_some()),
            ("norm", m.norm.is_some()),
        ];
        check_method_keys(i, name, allowed, &given)?;
        let earlier: Vec<&str> = self.method[..i].iter().map(|e| e.label()).collect();
        check_method_label(i, m.label(), &earlier)?;
        if name != "fbp" {
            let l = m.lambdas.as_deref().ok_or_else(|| format!("`method[{i}].lambdas` is missing: method `{name}` needs a λ grid"))?;
            check_increasing_list(&format!("method[{i}].lambdas"), l, "give at least one λ", "must be finite and > 0", positive_finite)?;
        }
        if let Some(f) = &m.filter {
            reglab_inverse::Filter::parse(f).map_err(|e| format!("`method[{i}].filter`: {e}"))?;
        }
        if let Some(p) = m.penalty.as_deref().filter(|p| !matches!(*p, "gradient" | "identity")) {
            return Err(format!("`method[{i}].penalty` = \"{p}\": expected \"gradient\" or \"identity\""));
        }
        if let Some(n) = m.norm.as_deref().filter(|n| !matches!(*n, "l1" | "l2")) {
            return Err(format!("`method[{i}].norm` = \"{n}\": expected \"l1\" or \"l2\""));
        }
        if matches!(name, "weighted-tv" | "space-variant-tv" | "graph-la") {
            let e = m
                .estimate
                .as_deref()
                .ok_or_else(|| format!("`method[{i}].estimate` is missing: method `{name}` needs the label of an earlier method"))?;
            if !earlier.contains(&e) {
                return Err(format!(
                    "`method[{i}].estimate` = \"{e}\": not the label of an earlier method (earlier: {})",
                    if earlier.is_empty() { "none".into() } else { earlier.join(", ") }
                ));
            }
        }
        if let Some(v) = m.eta.filter(|v| !positive_finite(*v)) {
            return Err(format!("`method[{i}].eta` must be finite and > 0, got {v}"));
        }
        if let Some(v) = m.p.filter(|v| !(0.0..=1.0).contains(v)) {
            return Err(format!("`method[{i}].p` must be in [0, 1], got {v}"));
        }
        if let Some(v) = m.sigma.filter(|v| !positive_finite(*v)) {
            return Err(format!("`method[{i}].sigma` must be finite and > 0, got {v}"));
        }
        if m.radius == Some(0) {
            return Err(format!("`method[{i}].radius` must be ≥ 1"));
        }
        Ok(())
    }

    /// The resolved configuration as TOML (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const BASE: &str = r#"
kind = "inverse"
name = "t"

[problem]
size = 32
views = [8, 16]
noise = [0.01]

[[method]]
name = "fbp"

[[method]]
name = "tv"
lambdas = [0.1, 1.0]

[[method]]
name = "weighted-tv"
estimate = "tv"
lambdas = [0.1, 1.0]
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(InverseExperiment::parse, text, overrides, want);
    }

    #[test]
    fn inverse_config_parses_with_defaults_and_round_trips() {
        let e = InverseExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.problem.phantom.as_str(), e.problem.size, e.problem.seed), ("shepp-logan", 32, 0));
        assert_eq!((e.solve.max_iter, e.solve.tol), (Some(DEFAULT_MAX_ITER), Some(DEFAULT_TOL)));
        assert_eq!(e.method[0].filter.as_deref(), Some("ram-lak"));
        assert_eq!((e.method[2].eta, e.method[2].label()), (Some(DEFAULT_ETA), "weighted-tv"));
        let resolved = e.to_toml();
        assert!(resolved.contains("filter = \"ram-lak\"") && resolved.contains("max_iter = 1000"), "{resolved}");
        assert_eq!(InverseExperiment::parse(&resolved, &[]).unwrap(), e);
        let g = InverseExperiment::parse(
            &format!("{BASE}\n[[method]]\nname = \"graph-la\"\nlabel = \"graphLa+TV\"\nestimate = \"tv\"\nlambdas = [1.0]\n"),
            &["problem.views=[4]".into()],
        )
        .unwrap();
        assert_eq!(g.problem.views, [4]);
        let m = &g.method[3];
        assert_eq!((m.label(), m.sigma, m.radius, m.norm.as_deref()), ("graphLa+TV", Some(DEFAULT_SIGMA), Some(DEFAULT_RADIUS), Some("l1")));
    }

    #[test]
    fn learned_config_parses_and_errors_name_the_key() {
        let l = "\n[learned]\nmethods = [\"tv\"]\nphantoms = 3\nseed = 5\n";
        let e = InverseExperiment::parse(&format!("{BASE}{l}"), &[]).unwrap();
        let c = e.learned.as_ref().unwrap();
        assert_eq!((c.phantoms, c.lambda0, c.max_iter, c.smoothing, c.ridge), (3, 0.1, 20, 0.01, 1e-3));
        assert_eq!(InverseExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        err(&format!("{BASE}{l}"), &["learned.methods=[\"weighted-tv\"]"], &["learned.methods", "weighted-tv", "only `tv`"]);
        err(&format!("{BASE}{l}"), &["learned.methods=[\"cat\"]"], &["learned.methods", "cat", "not the label"]);
        err(&format!("{BASE}{l}"), &["learned.methods=[]"], &["learned.methods", "empty"]);
        err(&format!("{BASE}{l}"), &["learned.phantoms=0"], &["learned.phantoms"]);
        err(&format!("{BASE}{l}"), &["learned.seed=0"], &["learned.seed", "problem.seed"]);
        err(&format!("{BASE}{l}"), &["learned.max_iter=0"], &["learned.max_iter"]);
        err(&format!("{BASE}{l}"), &["learned.lambda0=-1.0"], &["learned.lambda0"]);
        err(&format!("{BASE}{l}"), &["learned.smoothing=0.0"], &["learned.smoothing"]);
        err(&format!("{BASE}{l}"), &["learned.ridge=nan"], &["learned.ridge"]);
        err(&format!("{BASE}{l}colour = 2\n"), &[], &["unknown field", "colour"]);
    }

    #[test]
    fn setting_seeds_differ() {
        let s: Vec<u64> = [(8, 0), (8, 1), (16, 0), (16, 1)].iter().map(|&(v, k)| setting_seed(0, v, k)).collect();
        for i in 0..s.len() {
            for j in 0..i {
                assert_ne!(s[i], s[j]);
            }
        }
        assert_ne!(setting_seed(1, 8, 0), s[0]);
    }

    #[test]
    fn inverse_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("kind = \"inverse\"", "kind = \"train\""), &[], &["`kind`", "inverse"]);
        err(&edited("size = 32", "size = 8"), &[], &["problem.size"]);
        err(&edited("size = 32", "size = 32\nphantom = \"cat\""), &[], &["problem.phantom", "cat"]);
        err(&edited("views = [8, 16]", "views = []"), &[], &["problem.views", "empty"]);
        err(&edited("views = [8, 16]", "views = [0, 16]"), &[], &["problem.views[0]"]);
        err(&edited("views = [8, 16]", "views = [16, 8]"), &[], &["problem.views", "increasing"]);
        err(&edited("noise = [0.01]", "noise = [-0.01]"), &[], &["problem.noise[0]"]);
        err(&edited("noise = [0.01]", "noise = [nan]"), &[], &["problem.noise[0]"]);
        err(&edited("name = \"fbp\"", "name = \"art\""), &[], &["method[0].name", "art", "graph-la"]);
        err(&edited("name = \"fbp\"", "name = \"fbp\"\nlambdas = [1.0]"), &[], &["method[0].lambdas", "not a key"]);
        err(&edited("name = \"fbp\"", "name = \"fbp\"\nfilter = \"cosine\""), &[], &["method[0].filter", "cosine"]);
        err(&edited("name = \"tv\"\nlambdas = [0.1, 1.0]", "name = \"tv\""), &[], &["method[1].lambdas", "missing"]);
        err(&edited("name = \"tv\"\nlambdas = [0.1, 1.0]", "name = \"tv\"\nlambdas = [1.0, 0.1]"), &[], &["method[1].lambdas", "increasing"]);
        err(&edited("name = \"tv\"\nlambdas = [0.1, 1.0]", "name = \"tv\"\nlambdas = [-0.1]"), &[], &["method[1].lambdas[0]"]);
        err(&edited("name = \"tv\"\nlambdas = [0.1, 1.0]", "name = \"tv\"\nlambdas = [0.1]\neta = 0.1"), &[], &["method[1].eta", "not a key"]);
        err(&edited("estimate = \"tv\"", "estimate = \"fbp2\""), &[], &["method[2].estimate", "fbp2", "earlier"]);
        err(&edited("estimate = \"tv\"\n", ""), &[], &["method[2].estimate", "missing"]);
        err(&edited("estimate = \"tv\"", "estimate = \"tv\"\neta = 0.0"), &[], &["method[2].eta"]);
        err(&edited("name = \"tv\"", "name = \"tv\"\nlabel = \"fbp\""), &[], &["method[1].label", "fbp"]);
        err(&format!("{BASE}\n[[method]]\nname = \"space-variant-tv\"\nestimate = \"tv\"\nlambdas = [1.0]\np = 2.0\n"), &[], &["method[3].p"]);
        err(&format!("{BASE}\n[[method]]\nname = \"graph-la\"\nestimate = \"tv\"\nlambdas = [1.0]\nradius = 0\n"), &[], &["method[3].radius"]);
        err(&format!("{BASE}\n[[method]]\nname = \"graph-la\"\nestimate = \"tv\"\nlambdas = [1.0]\nnorm = \"l3\"\n"), &[], &["method[3].norm", "l3"]);
        err(&format!("{BASE}\n[[method]]\nname = \"tikhonov\"\nlambdas = [1.0]\npenalty = \"l1\"\n"), &[], &["method[3].penalty"]);
        err(&format!("{BASE}\n[solve\n"), &[], &["TOML parse error", "line"]);
        err(&format!("{BASE}\n[solve]\nmax_iter = 0\n"), &[], &["solve.max_iter"]);
        err(BASE, &["problem.size=4"], &["problem.size"]);
        let cal = |t: &str| format!("{BASE}\n[calibration]\n{t}\n");
        err(&cal("phantom = \"cat\"\nseed = 1"), &[], &["calibration.phantom", "cat"]);
        err(&cal("phantom = \"piecewise-constant\"\nseed = 0"), &[], &["calibration.seed", "independent"]);
        err(&cal("phantom = \"piecewise-constant\""), &[], &["seed"]);
        err(&cal("phantom = \"piecewise-constant\"\nseed = 1\nshift = 2"), &[], &["unknown field", "`shift`"]);
    }

    #[test]
    fn calibration_parses_and_round_trips() {
        let e = InverseExperiment::parse(&format!("{BASE}\n[calibration]\nphantom = \"piecewise-constant\"\nseed = 1\n"), &[]).unwrap();
        assert_eq!(e.calibration, Some(CalibrationConfig { phantom: "piecewise-constant".into(), seed: 1 }));
        assert_eq!(InverseExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        let none = InverseExperiment::parse(BASE, &[]).unwrap();
        assert!(none.calibration.is_none() && !none.to_toml().contains("calibration"));
    }
}

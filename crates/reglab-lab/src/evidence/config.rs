//! Experiment files of `kind = "evidence"`: the settings (data set × feature map), the seeds,
//! the methods, the fit and the validation grid. Unknown keys are errors and every error names
//! its key.

use super::data::Dataset;
use super::features::MapSpec;
use crate::experiment_file::{self, check_kind_and_name};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "evidence";

/// The method names: DE-ELBo and ELBo with full and isotropic q, type-II ML, the validation grid.
pub const METHOD_NAMES: [&str; 6] = ["de-elbo", "de-elbo-iso", "elbo", "elbo-iso", "type2-ml", "grid"];

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceExperiment {
    /// Always `"evidence"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Seeds: each draws the data, the random features and the validation split.
    pub seeds: Vec<u64>,
    /// Methods, from [`METHOD_NAMES`].
    pub methods: Vec<String>,
    /// The settings.
    #[serde(rename = "setting")]
    pub settings: Vec<SettingConfig>,
    /// The learning of τ².
    #[serde(default)]
    pub fit: FitConfig,
    /// The validation grid.
    #[serde(default)]
    pub grid: GridConfig,
}

/// `[[setting]]`: one data set in one feature map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingConfig {
    /// `friedman1` or `sine`.
    pub dataset: Dataset,
    /// Training examples N (≥ 5).
    pub n_train: usize,
    /// Test examples (≥ 1).
    pub n_test: usize,
    /// Noise standard deviation σ (default: the data set's, 1 and 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_std: Option<f64>,
    /// `linear` or `rff`.
    pub map: String,
    /// RFF: the number of features D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// RFF: the length-scale ℓ (of the standardised inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengthscale: Option<f64>,
}

impl SettingConfig {
    /// The feature map.
    pub fn map_spec(&self) -> MapSpec {
        match self.map.as_str() {
            "rff" => MapSpec::Rff { dim: self.dim.unwrap_or(0), lengthscale: self.lengthscale.unwrap_or(f64::NAN) },
            _ => MapSpec::Linear,
        }
    }

    /// D.
    pub fn features(&self) -> usize {
        match self.map_spec() {
            MapSpec::Linear => self.dataset.inputs() + 1,
            MapSpec::Rff { dim, .. } => dim,
        }
    }

    /// σ.
    pub fn noise(&self) -> f64 {
        self.noise_std.unwrap_or(self.dataset.default_noise_std())
    }

    /// A short label, e.g. `friedman1 N=100 rff D=2000`.
    pub fn label(&self) -> String {
        match self.map_spec() {
            MapSpec::Linear => format!("{} N={} linear D={}", self.dataset.name(), self.n_train, self.features()),
            MapSpec::Rff { dim, .. } => format!("{} N={} rff D={dim}", self.dataset.name(), self.n_train),
        }
    }

    /// A file-name slug, e.g. `friedman1-n100-rff2000`.
    pub fn slug(&self) -> String {
        match self.map_spec() {
            MapSpec::Linear => format!("{}-n{}-linear", self.dataset.name(), self.n_train),
            MapSpec::Rff { dim, .. } => format!("{}-n{}-rff{dim}", self.dataset.name(), self.n_train),
        }
    }
}

/// `[fit]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// κ of the DE-ELBo methods (default D/N of each setting, the paper's rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kappa: Option<f64>,
    /// Initial τ² (> 0).
    #[serde(default = "default_tau2_init")]
    pub tau2_init: f64,
    /// Learn σ² too (the grid then profiles σ² at each λ, see [`super::grid`]).
    #[serde(default)]
    pub learn_noise: bool,
    /// Initial σ² when learned (default: the setting's known σ²).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma2_init: Option<f64>,
    /// Most iterations (≥ 1).
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    /// Stop when τ² (and σ²) change by less than this, relatively (≥ 0).
    #[serde(default = "default_tol")]
    pub tol: f64,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self { kappa: None, tau2_init: default_tau2_init(), learn_noise: false, sigma2_init: None, max_iter: default_max_iter(), tol: default_tol() }
    }
}

fn default_tau2_init() -> f64 {
    1.0
}
fn default_max_iter() -> usize {
    200_000
}
fn default_tol() -> f64 {
    1e-9
}

/// `[grid]`: λ = σ²/τ² log-spaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Smallest λ (> 0).
    #[serde(default = "default_lambda_min")]
    pub lambda_min: f64,
    /// Largest λ (> lambda_min).
    #[serde(default = "default_lambda_max")]
    pub lambda_max: f64,
    /// Points (≥ 8).
    #[serde(default = "default_points")]
    pub points: usize,
    /// Part of the training set held out for validation, in (0, 1).
    #[serde(default = "default_fraction")]
    pub validation_fraction: f64,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self { lambda_min: default_lambda_min(), lambda_max: default_lambda_max(), points: default_points(), validation_fraction: default_fraction() }
    }
}

fn default_lambda_min() -> f64 {
    1e-4
}
fn default_lambda_max() -> f64 {
    1e4
}
fn default_points() -> usize {
    17
}
fn default_fraction() -> f64 {
    0.2
}

fn positive_finite(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl EvidenceExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize and
    /// check every value. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: EvidenceExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        crate::experiment_file::check_seeds(&self.seeds)?;
        if self.methods.is_empty() {
            return Err(format!("`methods` is empty: give some of {}", METHOD_NAMES.join(", ")));
        }
        for (i, m) in self.methods.iter().enumerate() {
            if !METHOD_NAMES.contains(&m.as_str()) {
                return Err(format!("`methods[{i}]` = \"{m}\": expected one of {}", METHOD_NAMES.join(", ")));
            }
            if self.methods[..i].contains(m) {
                return Err(format!("`methods[{i}]` = \"{m}\" is listed twice"));
            }
        }
        if self.settings.is_empty() {
            return Err("no `[[setting]]`: give at least one".into());
        }
        for (i, s) in self.settings.iter().enumerate() {
            let key = |k: &str| format!("`setting[{i}].{k}`");
            if s.n_train < 5 {
                return Err(format!("{} must be ≥ 5, got {}", key("n_train"), s.n_train));
            }
            if s.n_test == 0 {
                return Err(format!("{} must be ≥ 1", key("n_test")));
            }
            if let Some(v) = s.noise_std.filter(|v| !positive_finite(*v)) {
                return Err(format!("{} must be finite and > 0, got {v}", key("noise_std")));
            }
            match s.map.as_str() {
                "linear" => {
                    if s.dim.is_some() || s.lengthscale.is_some() {
                        return Err(format!("{} and {} are for map = \"rff\", not \"linear\"", key("dim"), key("lengthscale")));
                    }
                }
                "rff" => {
                    match s.dim {
                        None => return Err(format!("{} is missing (map = \"rff\")", key("dim"))),
                        Some(0) => return Err(format!("{} must be ≥ 1", key("dim"))),
                        _ => {}
                    }
                    match s.lengthscale {
                        None => return Err(format!("{} is missing (map = \"rff\")", key("lengthscale"))),
                        Some(l) if !positive_finite(l) => return Err(format!("{} must be finite and > 0, got {l}", key("lengthscale"))),
                        _ => {}
                    }
                }
                other => return Err(format!("{} = \"{other}\": expected \"linear\" or \"rff\"", key("map"))),
            }
            if self.settings[..i].iter().any(|t| t.slug() == s.slug()) {
                return Err(format!("`setting[{i}]` repeats an earlier setting ({})", s.label()));
            }
        }
        let f = &self.fit;
        if let Some(k) = f.kappa.filter(|k| !positive_finite(*k)) {
            return Err(format!("`fit.kappa` must be finite and > 0, got {k}"));
        }
        if !positive_finite(f.tau2_init) {
            return Err(format!("`fit.tau2_init` must be finite and > 0, got {}", f.tau2_init));
        }
        if f.max_iter == 0 {
            return Err("`fit.max_iter` must be ≥ 1".into());
        }
        if !(f.tol >= 0.0 && f.tol.is_finite()) {
            return Err(format!("`fit.tol` must be finite and ≥ 0, got {}", f.tol));
        }
        if let Some(v) = f.sigma2_init.filter(|v| !positive_finite(*v)) {
            return Err(format!("`fit.sigma2_init` must be finite and > 0, got {v}"));
        }
        if f.sigma2_init.is_some() && !f.learn_noise {
            return Err("`fit.sigma2_init` is for `fit.learn_noise` = true (the known noise is the setting's `noise_std`)".into());
        }
        let g = &self.grid;
        if !positive_finite(g.lambda_min) {
            return Err(format!("`grid.lambda_min` must be finite and > 0, got {}", g.lambda_min));
        }
        if !(positive_finite(g.lambda_max) && g.lambda_max > g.lambda_min) {
            return Err(format!("`grid.lambda_max` must be finite and > `grid.lambda_min`, got {}", g.lambda_max));
        }
        if g.points < 8 {
            return Err(format!("`grid.points` must be ≥ 8, got {}", g.points));
        }
        crate::experiment_file::check_grid_points("grid.points", g.points)?;
        if !(g.validation_fraction > 0.0 && g.validation_fraction < 1.0) {
            return Err(format!("`grid.validation_fraction` must be in (0, 1), got {}", g.validation_fraction));
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
kind = "evidence"
name = "t"
seeds = [0, 1]
methods = ["de-elbo", "elbo", "type2-ml", "grid"]

[[setting]]
dataset = "friedman1"
n_train = 30
n_test = 50
map = "rff"
dim = 60
lengthscale = 3.0

[[setting]]
dataset = "sine"
n_train = 10
n_test = 20
map = "linear"
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(EvidenceExperiment::parse, text, overrides, want);
    }

    /// Found with the `experiment` fuzz target (fuzz/): `grid.points = 4000000000000` made
    /// the cell list (one cell per point) ask for ~160 TB (an abort, not an error).
    #[test]
    fn fuzz_huge_grid_points_is_an_error_not_an_allocation() {
        err(BASE, &["grid.points=4000000000000"], &["`grid.points`", "≤ 10000", "4000000000000"]);
    }

    #[test]
    fn evidence_config_parses_with_defaults_and_round_trips() {
        let e = EvidenceExperiment::parse(BASE, &[]).unwrap();
        assert_eq!(e.settings.len(), 2);
        assert_eq!(e.settings[0].map_spec(), MapSpec::Rff { dim: 60, lengthscale: 3.0 });
        assert_eq!((e.settings[1].features(), e.settings[1].noise()), (2, 0.1));
        assert_eq!(e.grid, GridConfig::default());
        assert_eq!(e.fit, FitConfig::default());
        assert_eq!(EvidenceExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        let o = EvidenceExperiment::parse(BASE, &["grid.points=9".into(), "fit.kappa=2.5".into()]).unwrap();
        assert_eq!((o.grid.points, o.fit.kappa), (9, Some(2.5)));
    }

    #[test]
    fn evidence_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("map = \"linear\"", "map = \"linear\"\nwidth = 3"), &[], &["unknown field", "`width`"]);
        err(&edited("kind = \"evidence\"", "kind = \"train\""), &[], &["`kind`", "evidence"]);
        err(&edited("seeds = [0, 1]", "seeds = []"), &[], &["`seeds`", "empty"]);
        err(&edited("seeds = [0, 1]", "seeds = [1, 1]"), &[], &["`seeds[1]`"]);
        err(&edited("\"type2-ml\"", "\"mackay\""), &[], &["`methods[2]`", "mackay"]);
        err(&edited("\"type2-ml\"", "\"elbo\""), &[], &["`methods[2]`", "twice"]);
        err(&edited("dataset = \"sine\"", "dataset = \"boston\""), &[], &["boston"]);
        err(&edited("n_train = 10", "n_train = 2"), &[], &["`setting[1].n_train`"]);
        err(&edited("n_test = 20", "n_test = 0"), &[], &["`setting[1].n_test`"]);
        err(&edited("map = \"linear\"", "map = \"poly\""), &[], &["`setting[1].map`", "poly"]);
        err(&edited("map = \"linear\"", "map = \"linear\"\ndim = 4"), &[], &["`setting[1].dim`"]);
        err(&edited("dim = 60\n", ""), &[], &["`setting[0].dim`", "missing"]);
        err(&edited("lengthscale = 3.0", "lengthscale = -1.0"), &[], &["`setting[0].lengthscale`"]);
        err(&edited("lengthscale = 3.0", "lengthscale = 3.0\nnoise_std = nan"), &[], &["`setting[0].noise_std`"]);
        err(BASE, &["fit.kappa=-1"], &["`fit.kappa`"]);
        err(BASE, &["fit.tau2_init=0"], &["`fit.tau2_init`"]);
        err(BASE, &["fit.max_iter=0"], &["`fit.max_iter`"]);
        err(BASE, &["fit.tol=-1"], &["`fit.tol`"]);
        err(BASE, &["fit.sigma2_init=0.5"], &["`fit.sigma2_init`", "learn_noise"]);
        err(BASE, &["fit.learn_noise=true", "fit.sigma2_init=-1"], &["`fit.sigma2_init`"]);
        err(BASE, &["grid.points=7"], &["`grid.points`", "≥ 8"]);
        err(BASE, &["grid.lambda_min=0"], &["`grid.lambda_min`"]);
        err(BASE, &["grid.lambda_max=1e-5"], &["`grid.lambda_max`"]);
        err(BASE, &["grid.validation_fraction=1"], &["`grid.validation_fraction`"]);
        err(&format!("{BASE}\n[fit]\nrate = 1"), &[], &["unknown field", "`rate`"]);
        err(&format!("{BASE}\n[[setting]]\ndataset = \"sine\"\nn_train = 10\nn_test = 5\nmap = \"linear\"\n"), &[], &["`setting[2]`", "repeats"]);
    }
}

//! Experiment files of `kind = "ot-sparse"`: the two point clouds and the solves. Every key is
//! documented in `docs/experiments.md`; unknown keys are errors and every error names its key.

use crate::experiment_file::{self, check_increasing_list, check_kind_and_name};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "ot-sparse";

/// Default most L-BFGS iterations of the smooth and sparse solves.
pub const DEFAULT_MAX_ITER: usize = 10_000;
/// Default tolerance of the smooth and sparse solves (largest marginal violation).
pub const DEFAULT_TOL: f64 = 1e-9;
/// Default most iterations of the entropic solve.
pub const DEFAULT_SINKHORN_MAX_ITER: usize = 100_000;
/// Default tolerance of the entropic solve (`‖T 1 − a‖₁`).
pub const DEFAULT_SINKHORN_TOL: f64 = 1e-9;

/// A whole sparse-OT experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtSparseExperiment {
    /// Always `"ot-sparse"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// The two clouds.
    pub data: DataConfig,
    /// The solves.
    pub solve: SolveConfig,
}

/// `[data]`: source = a mixture of Gaussian blobs, target = a noisy ring, both drawn from `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Source points (≥ 2).
    #[serde(default = "default_n")]
    pub n: usize,
    /// Target points (≥ 2).
    #[serde(default = "default_m")]
    pub m: usize,
    /// Seed of both clouds.
    #[serde(default)]
    pub seed: u64,
    /// Blobs of the source mixture (≥ 1).
    #[serde(default = "default_blobs")]
    pub blobs: usize,
    /// Standard deviation of each blob (> 0).
    #[serde(default = "default_blob_std")]
    pub blob_std: f64,
    /// Radius of the target ring (> 0).
    #[serde(default = "default_ring_radius")]
    pub ring_radius: f64,
    /// Standard deviation of the radial noise of the ring (≥ 0).
    #[serde(default = "default_ring_noise")]
    pub ring_noise: f64,
}

fn default_n() -> usize {
    100
}
fn default_m() -> usize {
    80
}
fn default_blobs() -> usize {
    3
}
fn default_blob_std() -> f64 {
    0.3
}
fn default_ring_radius() -> f64 {
    2.0
}
fn default_ring_noise() -> f64 {
    0.1
}

/// `[solve]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolveConfig {
    /// γ of the sparsity-constrained and quadratic solves (> 0).
    pub gamma: f64,
    /// The column budgets k of the sparsity-constrained solves (each ≥ 1, increasing).
    pub ks: Vec<usize>,
    /// ε of the entropic solve (> 0).
    pub epsilon: f64,
    /// Most L-BFGS iterations of the sparse and quadratic solves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<usize>,
    /// Tolerance of the sparse and quadratic solves (largest marginal violation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    /// Most iterations of the entropic solve (all ε-scaling stages together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sinkhorn_max_iter: Option<usize>,
    /// Tolerance of the entropic solve (`‖T 1 − a‖₁`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sinkhorn_tol: Option<f64>,
}

fn positive_finite(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl OtSparseExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize, check
    /// every value and fill in the defaults. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let mut exp: OtSparseExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        let s = &mut exp.solve;
        s.max_iter.get_or_insert(DEFAULT_MAX_ITER);
        s.tol.get_or_insert(DEFAULT_TOL);
        s.sinkhorn_max_iter.get_or_insert(DEFAULT_SINKHORN_MAX_ITER);
        s.sinkhorn_tol.get_or_insert(DEFAULT_SINKHORN_TOL);
        Ok(exp)
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        let d = &self.data;
        if d.n < 2 {
            return Err(format!("`data.n` must be ≥ 2, got {}", d.n));
        }
        if d.m < 2 {
            return Err(format!("`data.m` must be ≥ 2, got {}", d.m));
        }
        if d.blobs == 0 {
            return Err("`data.blobs` must be ≥ 1".into());
        }
        if !positive_finite(d.blob_std) {
            return Err(format!("`data.blob_std` must be finite and > 0, got {}", d.blob_std));
        }
        if !positive_finite(d.ring_radius) {
            return Err(format!("`data.ring_radius` must be finite and > 0, got {}", d.ring_radius));
        }
        if !(d.ring_noise >= 0.0 && d.ring_noise.is_finite()) {
            return Err(format!("`data.ring_noise` must be finite and ≥ 0, got {}", d.ring_noise));
        }
        let s = &self.solve;
        if !positive_finite(s.gamma) {
            return Err(format!("`solve.gamma` (γ) must be finite and > 0, got {}", s.gamma));
        }
        if !positive_finite(s.epsilon) {
            return Err(format!("`solve.epsilon` (ε) must be finite and > 0, got {}", s.epsilon));
        }
        check_increasing_list("solve.ks", &s.ks, "give at least one k ≥ 1", "must be ≥ 1 (each k)", |k| k >= 1)?;
        for (key, v) in [("max_iter", s.max_iter), ("sinkhorn_max_iter", s.sinkhorn_max_iter)] {
            if v == Some(0) {
                return Err(format!("`solve.{key}` must be ≥ 1"));
            }
        }
        for (key, v) in [("tol", s.tol), ("sinkhorn_tol", s.sinkhorn_tol)] {
            if let Some(t) = v.filter(|t| !(*t >= 0.0 && t.is_finite())) {
                return Err(format!("`solve.{key}` must be finite and ≥ 0, got {t}"));
            }
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
kind = "ot-sparse"
name = "t"

[data]
n = 20
m = 16
seed = 1

[solve]
gamma = 0.1
ks = [1, 2, 4]
epsilon = 0.01
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(OtSparseExperiment::parse, text, overrides, want);
    }

    #[test]
    fn ot_sparse_config_parses_with_defaults_and_round_trips() {
        let e = OtSparseExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.data.n, e.data.m, e.data.seed, e.data.blobs), (20, 16, 1, 3));
        assert_eq!((e.data.blob_std, e.data.ring_radius, e.data.ring_noise), (0.3, 2.0, 0.1));
        assert_eq!(e.solve.ks, [1, 2, 4]);
        assert_eq!((e.solve.max_iter, e.solve.tol), (Some(DEFAULT_MAX_ITER), Some(DEFAULT_TOL)));
        assert_eq!((e.solve.sinkhorn_max_iter, e.solve.sinkhorn_tol), (Some(DEFAULT_SINKHORN_MAX_ITER), Some(DEFAULT_SINKHORN_TOL)));
        let resolved = e.to_toml();
        assert!(resolved.contains("blobs = 3") && resolved.contains("max_iter = 10000"), "{resolved}");
        assert_eq!(OtSparseExperiment::parse(&resolved, &[]).unwrap(), e);
        let d = OtSparseExperiment::parse(&edited("n = 20\nm = 16\n", ""), &["solve.ks=[8]".into()]).unwrap();
        assert_eq!((d.data.n, d.data.m, d.solve.ks.as_slice()), (100, 80, &[8][..]));
    }

    #[test]
    fn ot_sparse_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("seed = 1", "seed = 1\nradius = 2"), &[], &["unknown field", "`radius`"]);
        err(&edited("epsilon = 0.01", "epsilon = 0.01\nk = 3"), &[], &["unknown field", "`k`"]);
        err(&edited("kind = \"ot-sparse\"", "kind = \"train\""), &[], &["`kind`", "ot-sparse"]);
        err(&edited("ks = [1, 2, 4]", "ks = []"), &[], &["solve.ks", "empty"]);
        err(&edited("ks = [1, 2, 4]", "ks = [0, 2]"), &[], &["solve.ks[0]", "≥ 1"]);
        err(&edited("ks = [1, 2, 4]", "ks = [2, 2]"), &[], &["solve.ks", "increasing"]);
        err(&edited("ks = [1, 2, 4]", "ks = [1, -2]"), &[], &["ks"]);
        err(&edited("gamma = 0.1", "gamma = 0.0"), &[], &["solve.gamma"]);
        err(&edited("gamma = 0.1", "gamma = -1.0"), &[], &["solve.gamma"]);
        err(&edited("gamma = 0.1", "gamma = nan"), &[], &["solve.gamma"]);
        err(&edited("epsilon = 0.01", "epsilon = 0.0"), &[], &["solve.epsilon"]);
        err(&edited("gamma = 0.1\n", ""), &[], &["missing field", "`gamma`"]);
        err(&edited("n = 20", "n = 1"), &[], &["data.n"]);
        err(&edited("m = 16", "m = 0"), &[], &["data.m"]);
        err(&edited("seed = 1", "seed = 1\nblobs = 0"), &[], &["data.blobs"]);
        err(&edited("seed = 1", "seed = 1\nblob_std = 0.0"), &[], &["data.blob_std"]);
        err(&edited("seed = 1", "seed = 1\nring_noise = -0.1"), &[], &["data.ring_noise"]);
        err(&edited("epsilon = 0.01", "epsilon = 0.01\nmax_iter = 0"), &[], &["solve.max_iter"]);
        err(&edited("epsilon = 0.01", "epsilon = 0.01\nsinkhorn_tol = -1.0"), &[], &["solve.sinkhorn_tol"]);
        err(&edited("[solve]", "[solve"), &[], &["TOML parse error", "line"]);
        err(BASE, &["solve.gamma=-1"], &["solve.gamma"]);
        err(BASE, &["solve.ks=[]"], &["solve.ks"]);
    }
}

//! Experiment files of `kind = "starvation"`: the toy's data, the network and its training,
//! the margins Δ of the linear feature, the seeds and the arms (output terms of the catalog).
//! Unknown keys are errors and every error names its key.

use super::train::ToyConfig;
use crate::experiment_file::{self, check_kind_and_name};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "starvation";

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarvationExperiment {
    /// Always `"starvation"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Seeds: each draws the training points, the test points and the initial weights.
    pub seeds: Vec<u64>,
    /// Training points (≥ 4).
    #[serde(default = "default_points")]
    pub points: usize,
    /// Test points (≥ 4).
    #[serde(default = "default_test_points")]
    pub test_points: usize,
    /// Standard deviation of the moons' noise (≥ 0).
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// The margins Δ of the linear feature (finite, distinct).
    pub margins: Vec<f64>,
    /// Hidden units.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Full-batch steps.
    pub steps: usize,
    /// SGD learning rate (> 0).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// SGD momentum in [0, 1).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// Lattice points per side for the decision function and the margin (≥ 3).
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Half-width of the lattice's square (> 0).
    #[serde(default = "default_extent")]
    pub extent: f64,
    /// The arms.
    #[serde(rename = "arm")]
    pub arms: Vec<ArmConfig>,
}

/// `[[arm]]`: the output terms added to the logistic loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmConfig {
    /// Its name.
    pub name: String,
    /// Output-level regularizers of the catalog (`spectral-decoupling=λ`, …); none: plain loss.
    #[serde(default)]
    pub reg: Vec<String>,
}

fn default_points() -> usize {
    300
}
fn default_test_points() -> usize {
    1000
}
fn default_noise() -> f64 {
    0.1
}
fn default_width() -> usize {
    500
}
fn default_lr() -> f64 {
    1e-2
}
fn default_momentum() -> f64 {
    0.9
}
fn default_grid() -> usize {
    201
}
fn default_extent() -> f64 {
    2.0
}

impl StarvationExperiment {
    /// Parse TOML text, apply `key=value` overrides, deserialize and check every value. Errors
    /// are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: StarvationExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// The training and measuring of every run.
    pub fn toy_config(&self) -> ToyConfig {
        ToyConfig { width: self.width, steps: self.steps, lr: self.lr, momentum: self.momentum, grid: self.grid, extent: self.extent }
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        crate::experiment_file::check_seeds(&self.seeds)?;
        for (k, v) in [("points", self.points), ("test_points", self.test_points)] {
            if v < 4 {
                return Err(format!("`{k}` must be ≥ 4, got {v}"));
            }
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(format!("`noise` must be finite and ≥ 0, got {}", self.noise));
        }
        if self.margins.is_empty() {
            return Err("`margins` is empty: give at least one Δ".into());
        }
        for (i, m) in self.margins.iter().enumerate() {
            if !m.is_finite() {
                return Err(format!("`margins[{i}]` must be finite, got {m}"));
            }
            if self.margins[..i].contains(m) {
                return Err(format!("`margins[{i}]` = {m} repeats an earlier value"));
            }
        }
        if self.width == 0 {
            return Err("`width` must be ≥ 1".into());
        }
        if self.steps == 0 {
            return Err("`steps` must be ≥ 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("`lr` must be finite and > 0, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("`momentum` must be in [0, 1), got {}", self.momentum));
        }
        if self.grid < 3 {
            return Err(format!("`grid` must be ≥ 3, got {}", self.grid));
        }
        if !(self.extent > 0.0 && self.extent.is_finite()) {
            return Err(format!("`extent` must be finite and > 0, got {}", self.extent));
        }
        if self.arms.is_empty() {
            return Err("no `[[arm]]`: give at least one".into());
        }
        crate::experiment_file::check_names("arm", self.arms.iter().map(|a| a.name.as_str()))?;
        for (i, a) in self.arms.iter().enumerate() {
            reglab_regularizers::registry::build_output_set(&a.reg).map_err(|e| format!("`arm[{i}].reg` (arm `{}`): {e}", a.name))?;
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

    const BASE: &str = r#"
kind = "starvation"
name = "t"
seeds = [0, 1]
margins = [-0.1, 0.1]
steps = 10

[[arm]]
name = "cross-entropy"

[[arm]]
name = "sd"
reg = ["spectral-decoupling=0.006"]
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(StarvationExperiment::parse, text, overrides, want);
    }

    #[test]
    fn starvation_config_parses_with_the_official_defaults_and_round_trips() {
        let e = StarvationExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.points, e.noise, e.width, e.lr, e.momentum), (300, 0.1, 500, 1e-2, 0.9));
        assert_eq!(StarvationExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        assert_eq!(e.toy_config().steps, 10);
    }

    #[test]
    fn starvation_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("kind = \"starvation\"", "kind = \"train\""), &[], &["`kind`", "starvation"]);
        err(&edited("seeds = [0, 1]", "seeds = [1, 1]"), &[], &["`seeds[1]`"]);
        err(BASE, &["points=2"], &["`points`"]);
        err(BASE, &["noise=-1"], &["`noise`"]);
        err(&edited("margins = [-0.1, 0.1]", "margins = []"), &[], &["`margins`"]);
        err(&edited("margins = [-0.1, 0.1]", "margins = [0.1, 0.1]"), &[], &["`margins[1]`", "repeats"]);
        err(BASE, &["width=0"], &["`width`"]);
        err(BASE, &["steps=0"], &["`steps`"]);
        err(BASE, &["lr=0"], &["`lr`"]);
        err(BASE, &["momentum=1"], &["`momentum`"]);
        err(BASE, &["grid=2"], &["`grid`"]);
        err(BASE, &["extent=0"], &["`extent`"]);
        err(&edited("spectral-decoupling=0.006", "spectral-decoupling=-1"), &[], &["`arm[1].reg`"]);
        err(&edited("spectral-decoupling=0.006", "l2=0.1"), &[], &["`arm[1].reg`", "l2"]);
        err(&edited("name = \"sd\"", "name = \"cross-entropy\""), &[], &["`arm[1].name`", "twice"]);
    }
}

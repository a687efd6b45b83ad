//! Experiment files of `kind = "grokking"`: the task (p, split, corrupted fractions), the
//! network and its training, the seeds and the arms (weight decay, dropout). Unknown keys are
//! errors and every error names its key.

use super::train::TrainConfig;
use crate::experiment_file::{self, check_kind_and_name};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "grokking";

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrokkingExperiment {
    /// Always `"grokking"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Seeds: each draws the corrupted labels, the initial weights and the dropout masks.
    pub seeds: Vec<u64>,
    /// The modulus p (≥ 3).
    pub p: usize,
    /// Share of the p² pairs used for training, in (0, 1).
    #[serde(default = "default_fraction")]
    pub train_fraction: f64,
    /// Seed of the split of the pairs (the same split for every run).
    #[serde(default)]
    pub split_seed: u64,
    /// The corrupted fractions ξ, each in [0, 1).
    pub corrupted: Vec<f64>,
    /// Hidden units N.
    #[serde(default = "default_width")]
    pub width: usize,
    /// Standard deviation of the initial weights (default `0.5/(2N)^{1/3}`, the official code's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    /// Full-batch steps.
    pub steps: usize,
    /// AdamW's learning rate.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// AdamW's β₁, β₂.
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    /// Probe every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// The arms.
    #[serde(rename = "arm")]
    pub arms: Vec<ArmConfig>,
}

/// `[[arm]]`: one regularization setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmConfig {
    /// Its name.
    pub name: String,
    /// AdamW's decoupled weight decay (≥ 0).
    #[serde(default)]
    pub weight_decay: f64,
    /// Dropout probability on the hidden units, in [0, 1).
    #[serde(default)]
    pub dropout: f64,
}

fn default_fraction() -> f64 {
    0.5
}
fn default_width() -> usize {
    500
}
fn default_lr() -> f64 {
    1e-2
}
fn default_betas() -> [f64; 2] {
    [0.9, 0.98]
}
fn default_log_every() -> usize {
    20
}

impl GrokkingExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize and
    /// check every value. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: GrokkingExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// The initial weights' standard deviation.
    pub fn init_std(&self) -> f64 {
        self.init_std.unwrap_or_else(|| 0.5 / (2.0 * self.width as f64).cbrt())
    }

    /// The training of arm `a`.
    pub fn train_config(&self, a: usize) -> TrainConfig {
        let arm = &self.arms[a];
        TrainConfig {
            width: self.width,
            init_std: self.init_std(),
            steps: self.steps,
            lr: self.lr,
            betas: (self.betas[0], self.betas[1]),
            weight_decay: arm.weight_decay,
            dropout: arm.dropout,
            log_every: self.log_every,
        }
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        crate::experiment_file::check_seeds(&self.seeds)?;
        if self.p < 3 {
            return Err(format!("`p` must be ≥ 3, got {}", self.p));
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(format!("`train_fraction` must be in (0, 1), got {}", self.train_fraction));
        }
        let n_train = (self.train_fraction * (self.p * self.p) as f64).floor() as usize;
        if n_train == 0 || n_train == self.p * self.p {
            return Err(format!("`train_fraction` = {} leaves no training or no test pair of {}", self.train_fraction, self.p * self.p));
        }
        if self.corrupted.is_empty() {
            return Err("`corrupted` is empty: give at least one ξ (0 for clean labels)".into());
        }
        for (i, &x) in self.corrupted.iter().enumerate() {
            if !(0.0..1.0).contains(&x) {
                return Err(format!("`corrupted[{i}]` = {x}: expected a fraction in [0, 1)"));
            }
            if self.corrupted[..i].contains(&x) {
                return Err(format!("`corrupted[{i}]` = {x} repeats an earlier value"));
            }
        }
        if self.width == 0 {
            return Err("`width` must be ≥ 1".into());
        }
        if let Some(s) = self.init_std.filter(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(format!("`init_std` must be finite and > 0, got {s}"));
        }
        if self.steps == 0 {
            return Err("`steps` must be ≥ 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("`lr` must be finite and > 0, got {}", self.lr));
        }
        for (i, b) in self.betas.iter().enumerate() {
            if !(0.0..1.0).contains(b) {
                return Err(format!("`betas[{i}]` must be in [0, 1), got {b}"));
            }
        }
        if self.log_every == 0 {
            return Err("`log_every` must be ≥ 1".into());
        }
        if self.arms.is_empty() {
            return Err("no `[[arm]]`: give at least one".into());
        }
        crate::experiment_file::check_names("arm", self.arms.iter().map(|a| a.name.as_str()))?;
        for (i, a) in self.arms.iter().enumerate() {
            if !(a.weight_decay >= 0.0 && a.weight_decay.is_finite()) {
                return Err(format!("`arm[{i}].weight_decay` must be finite and ≥ 0, got {}", a.weight_decay));
            }
            if a.weight_decay * self.lr >= 1.0 {
                return Err(format!(
                    "`arm[{i}].weight_decay` × `lr` = {} must be < 1 (each step multiplies the weights by 1 − lr·wd)",
                    a.weight_decay * self.lr
                ));
            }
            if !(0.0..1.0).contains(&a.dropout) {
                return Err(format!("`arm[{i}].dropout` must be in [0, 1), got {}", a.dropout));
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
kind = "grokking"
name = "t"
seeds = [0, 1]
p = 11
corrupted = [0.0, 0.3]
steps = 50

[[arm]]
name = "none"

[[arm]]
name = "wd"
weight_decay = 5.0

[[arm]]
name = "dropout"
dropout = 0.5
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(GrokkingExperiment::parse, text, overrides, want);
    }

    /// Found by review with the `experiment` fuzz target (fuzz/): the work total (cells × steps)
    /// overflowed u64 for `steps = 9223372036854775807` (a panic in builds with overflow checks).
    #[test]
    fn fuzz_huge_steps_saturate_the_work_total() {
        use crate::kind::Prepared;
        let e = GrokkingExperiment::parse(BASE, &["steps=9223372036854775807".into()]).unwrap();
        assert_eq!(e.work().0, (super::super::sweep::cell_keys(&e).len() as u64).saturating_mul(9223372036854775807));
    }

    #[test]
    fn grokking_config_parses_with_the_official_defaults_and_round_trips() {
        let e = GrokkingExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.train_fraction, e.width, e.lr, e.betas, e.log_every), (0.5, 500, 1e-2, [0.9, 0.98], 20));
        assert!((e.init_std() - 0.05).abs() < 1e-12, "0.5/(2·500)^(1/3) = 0.05: {}", e.init_std());
        let c = e.train_config(1);
        assert_eq!((c.weight_decay, c.dropout, c.steps, c.betas), (5.0, 0.0, 50, (0.9, 0.98)));
        assert_eq!(e.train_config(2).dropout, 0.5);
        assert_eq!(GrokkingExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        let o = GrokkingExperiment::parse(BASE, &["steps=7".into(), "init_std=0.1".into()]).unwrap();
        assert_eq!((o.steps, o.init_std()), (7, 0.1));
    }

    #[test]
    fn grokking_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("name = \"wd\"", "name = \"wd\"\nl2 = 1"), &[], &["unknown field", "`l2`"]);
        err(&edited("kind = \"grokking\"", "kind = \"train\""), &[], &["`kind`", "grokking"]);
        err(&edited("seeds = [0, 1]", "seeds = []"), &[], &["`seeds`", "empty"]);
        err(&edited("seeds = [0, 1]", "seeds = [1, 1]"), &[], &["`seeds[1]`"]);
        err(BASE, &["p=2"], &["`p`"]);
        err(BASE, &["train_fraction=1.0"], &["`train_fraction`"]);
        err(BASE, &["train_fraction=0.001"], &["`train_fraction`", "no training"]);
        err(&edited("corrupted = [0.0, 0.3]", "corrupted = []"), &[], &["`corrupted`", "empty"]);
        err(&edited("corrupted = [0.0, 0.3]", "corrupted = [0.0, 1.0]"), &[], &["`corrupted[1]`"]);
        err(&edited("corrupted = [0.0, 0.3]", "corrupted = [0.3, 0.3]"), &[], &["`corrupted[1]`", "repeats"]);
        err(&edited("corrupted = [0.0, 0.3]", "corrupted = [nan]"), &[], &["`corrupted[0]`"]);
        err(BASE, &["width=0"], &["`width`"]);
        err(BASE, &["init_std=-1"], &["`init_std`"]);
        err(BASE, &["steps=0"], &["`steps`"]);
        err(BASE, &["lr=0"], &["`lr`"]);
        err(BASE, &["betas=[0.9, 1.0]"], &["`betas[1]`"]);
        err(BASE, &["log_every=0"], &["`log_every`"]);
        err(&edited("weight_decay = 5.0", "weight_decay = -5.0"), &[], &["`arm[1].weight_decay`"]);
        err(&edited("weight_decay = 5.0", "weight_decay = 100.0"), &[], &["`arm[1].weight_decay`", "1 − lr·wd"]);
        err(&edited("dropout = 0.5", "dropout = 1.0"), &[], &["`arm[2].dropout`"]);
        err(&edited("name = \"wd\"", "name = \"none\""), &[], &["`arm[1].name`", "twice"]);
    }
}

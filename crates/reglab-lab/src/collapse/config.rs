//! Experiment files of `kind = "collapse"`: the settings `(d, T, T₀, σ, σ₀)`, the number of
//! generations, the seeds and replicates, and the methods (how the generators and the
//! downstream model fit). Unknown keys are errors and every error names its key.

use super::sim::{Downstream, Fit, Setting, clean_lambda};
use crate::experiment_file::{self, check_kind_and_name};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "collapse";

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollapseExperiment {
    /// Always `"collapse"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Seeds: each draws its own `w₀`, data and noise.
    pub seeds: Vec<u64>,
    /// Independent draws per seed (≥ 1); a seed's value is their mean.
    #[serde(default = "default_replicates")]
    pub replicates: u32,
    /// The last generation `G` (≥ 1): generations `0..=G` are measured.
    pub generations: usize,
    /// The candidate λ of `ridge:best`, log-spaced.
    #[serde(default)]
    pub best_grid: BestGrid,
    /// The settings.
    #[serde(rename = "setting")]
    pub settings: Vec<SettingConfig>,
    /// The methods.
    #[serde(rename = "method")]
    pub methods: Vec<MethodConfig>,
}

fn default_replicates() -> u32 {
    1
}

/// `[[setting]]`: one problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingConfig {
    /// Dimension d (≥ 1).
    pub d: usize,
    /// Samples of the downstream fit T.
    pub t: usize,
    /// Samples of each generator's fit T₀ (default T).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0: Option<usize>,
    /// Label noise of the downstream data σ (≥ 0).
    pub sigma: f64,
    /// Label noise of the generators' data σ₀ (default σ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma0: Option<f64>,
}

impl SettingConfig {
    /// T₀.
    pub fn t0(&self) -> usize {
        self.t0.unwrap_or(self.t)
    }
    /// σ₀.
    pub fn sigma0(&self) -> f64 {
        self.sigma0.unwrap_or(self.sigma)
    }
    /// A short label, e.g. `d=50 T=100 σ=0.5` (T₀, σ₀ shown when they differ).
    pub fn label(&self) -> String {
        let mut s = format!("d={} T={}", self.d, self.t);
        if self.t0() != self.t {
            s.push_str(&format!(" T₀={}", self.t0()));
        }
        s.push_str(&format!(" σ={}", self.sigma));
        if self.sigma0() != self.sigma {
            s.push_str(&format!(" σ₀={}", self.sigma0()));
        }
        s
    }
    /// A file-name slug, e.g. `d50-t100`.
    pub fn slug(&self) -> String {
        let mut s = format!("d{}-t{}", self.d, self.t);
        if self.t0() != self.t {
            s.push_str(&format!("-t0{}", self.t0()));
        }
        s
    }
}

/// `[[method]]`: how the generators and the downstream model fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// Its name in tables and plots.
    pub name: String,
    /// `ols` (default), `ridge:<λ>` or `ridge:clean` (λ = σ₀²d/T₀, the generator's own clean optimum).
    #[serde(default = "default_ols")]
    pub generator: String,
    /// `ols`, `ridge:<λ>`, `ridge:clean` (λ₀ = σ²d/T), `ridge:adaptive` (λ_n = λ₀ + nσ₀²d/(T₀ − d − 1))
    /// or `ridge:best` (the grid's λ closest to w₀: an oracle bound, not a method).
    pub downstream: String,
}

fn default_ols() -> String {
    "ols".into()
}

/// `[best_grid]`: λ log-spaced from `min` to `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BestGrid {
    /// Smallest λ (> 0).
    #[serde(default = "default_min")]
    pub min: f64,
    /// Largest λ (> min).
    #[serde(default = "default_max")]
    pub max: f64,
    /// Points (≥ 3).
    #[serde(default = "default_points")]
    pub points: usize,
}

fn default_min() -> f64 {
    1e-3
}
fn default_max() -> f64 {
    1e3
}
fn default_points() -> usize {
    61
}

impl Default for BestGrid {
    fn default() -> Self {
        Self { min: default_min(), max: default_max(), points: default_points() }
    }
}

impl BestGrid {
    /// The λ values.
    pub fn values(&self) -> Vec<f64> {
        let (a, b) = (self.min.ln(), self.max.ln());
        (0..self.points).map(|i| (a + (b - a) * i as f64 / (self.points - 1) as f64).exp()).collect()
    }
}

/// A generator's fit as written: `ols`, `ridge:<λ>`, `ridge:clean`.
fn parse_generator(text: &str, s: &SettingConfig) -> Result<Fit, String> {
    match text {
        "ols" => Ok(Fit::Ols),
        "ridge:clean" => Ok(Fit::Ridge { lambda: s.sigma0() * s.sigma0() * s.d as f64 / s.t0() as f64 }),
        _ => parse_ridge(text),
    }
}

fn parse_ridge(text: &str) -> Result<Fit, String> {
    let Some(v) = text.strip_prefix("ridge:") else {
        return Err(format!("\"{text}\": expected \"ols\", \"ridge:<λ>\", \"ridge:clean\", \"ridge:adaptive\" or \"ridge:best\""));
    };
    let lambda: f64 = v.trim().parse().map_err(|_| format!("\"{text}\": λ \"{v}\" is not a number (or clean, adaptive, best)"))?;
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(format!("\"{text}\": λ must be finite and ≥ 0"));
    }
    Ok(Fit::Ridge { lambda })
}

impl CollapseExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize and
    /// check every value. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let exp: CollapseExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        Ok(exp)
    }

    /// The simulation setting of setting `i` with method `m`'s generator (its `downstream` is
    /// unused: see [`Self::downstream`]).
    pub fn setting(&self, i: usize, m: usize) -> Result<Setting, String> {
        let s = &self.settings[i];
        let generator = parse_generator(&self.methods[m].generator, s).map_err(|e| format!("`method[{m}].generator` = {e}"))?;
        Ok(Setting { d: s.d, t: s.t, t0: s.t0(), sigma: s.sigma, sigma0: s.sigma0(), generations: self.generations, generator, downstream: Fit::Ols })
    }

    /// Method `m`'s downstream rule in setting `i`.
    pub fn downstream(&self, i: usize, m: usize) -> Result<Downstream, String> {
        let text = self.methods[m].downstream.as_str();
        let key = format!("`method[{m}].downstream`");
        let sim = self.setting(i, m)?;
        Ok(match text {
            "ols" => Downstream::Fixed(Fit::Ols),
            "ridge:clean" => Downstream::Fixed(Fit::Ridge { lambda: clean_lambda(&sim) }),
            "ridge:adaptive" => Downstream::Adaptive,
            "ridge:best" => Downstream::Best { grid: self.best_grid.values() },
            _ => Downstream::Fixed(parse_ridge(text).map_err(|e| format!("{key} = {e}"))?),
        })
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        crate::experiment_file::check_seeds(&self.seeds)?;
        if self.replicates == 0 {
            return Err("`replicates` must be ≥ 1".into());
        }
        if self.generations == 0 {
            return Err("`generations` must be ≥ 1".into());
        }
        let g = &self.best_grid;
        if !(g.min > 0.0 && g.min.is_finite()) {
            return Err(format!("`best_grid.min` must be finite and > 0, got {}", g.min));
        }
        if !(g.max > g.min && g.max.is_finite()) {
            return Err(format!("`best_grid.max` must be finite and > `best_grid.min`, got {}", g.max));
        }
        if g.points < 3 {
            return Err(format!("`best_grid.points` must be ≥ 3, got {}", g.points));
        }
        crate::experiment_file::check_grid_points("best_grid.points", g.points)?;
        if self.settings.is_empty() {
            return Err("no `[[setting]]`: give at least one".into());
        }
        for (i, s) in self.settings.iter().enumerate() {
            let key = |k: &str| format!("`setting[{i}].{k}`");
            if s.d == 0 {
                return Err(format!("{} must be ≥ 1", key("d")));
            }
            for (k, v) in [("sigma", s.sigma), ("sigma0", s.sigma0())] {
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(format!("{} must be finite and ≥ 0, got {v}", key(k)));
                }
            }
            if self.settings[..i].iter().any(|o| o.slug() == s.slug()) {
                return Err(format!("`setting[{i}]` repeats an earlier setting ({})", s.slug()));
            }
        }
        if self.methods.is_empty() {
            return Err("no `[[method]]`: give at least one".into());
        }
        crate::experiment_file::check_names("method", self.methods.iter().map(|m| m.name.as_str()))?;
        for (m, meth) in self.methods.iter().enumerate() {
            for i in 0..self.settings.len() {
                let sim = self.setting(i, m)?;
                let rule = self.downstream(i, m)?;
                let fits = [
                    ("generator", sim.generator, sim.t0),
                    ("downstream", if let Downstream::Fixed(f) = &rule { *f } else { Fit::Ridge { lambda: 0.0 } }, sim.t),
                ];
                for (what, f, n) in fits {
                    if f == Fit::Ols && n < sim.d + 2 {
                        return Err(format!(
                            "`method[{m}].{what}` = \"ols\" in `setting[{i}]` ({}): OLS needs at least d + 2 samples for a finite mean error; use ridge",
                            self.settings[i].label()
                        ));
                    }
                }
                if rule == Downstream::Adaptive && sim.generator != Fit::Ols {
                    return Err(format!(
                        "`method[{m}].downstream` = \"ridge:adaptive\" adapts to OLS generators; `method[{m}].generator` is \"{}\"",
                        meth.generator
                    ));
                }
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
kind = "collapse"
name = "t"
seeds = [0, 1]
generations = 4
replicates = 2

[[setting]]
d = 10
t = 40
sigma = 0.5

[[setting]]
d = 5
t = 10
t0 = 50
sigma = 1.0
sigma0 = 0.2

[[method]]
name = "OLS"
downstream = "ols"

[[method]]
name = "adaptive"
downstream = "ridge:adaptive"

[[method]]
name = "ridge everywhere"
generator = "ridge:0.1"
downstream = "ridge:clean"
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(CollapseExperiment::parse, text, overrides, want);
    }

    /// Found with the `experiment` fuzz target (fuzz/): a `ridge:best` method built a grid of
    /// `best_grid.points = 4000000000000` λ while the file was checked (an abort, not an error).
    #[test]
    fn fuzz_huge_best_grid_points_is_an_error_not_an_allocation() {
        err(BASE, &["best_grid.points=4000000000000"], &["`best_grid.points`", "≤ 10000", "4000000000000"]);
    }

    #[test]
    fn collapse_config_parses_with_defaults_and_round_trips() {
        let e = CollapseExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.settings[0].t0(), e.settings[0].sigma0()), (40, 0.5));
        assert_eq!((e.settings[1].t0(), e.settings[1].sigma0()), (50, 0.2));
        assert_eq!(e.settings[1].label(), "d=5 T=10 T₀=50 σ=1 σ₀=0.2");
        assert_eq!(e.best_grid, BestGrid::default());
        assert_eq!(CollapseExperiment::parse(&e.to_toml(), &[]).unwrap(), e);
        // the rules, with λ₀ = σ²d/T = 0.25·10/40
        assert_eq!(e.downstream(0, 0).unwrap(), Downstream::Fixed(Fit::Ols));
        assert_eq!(e.downstream(0, 1).unwrap(), Downstream::Adaptive);
        assert_eq!(e.downstream(0, 2).unwrap(), Downstream::Fixed(Fit::Ridge { lambda: 0.0625 }));
        assert_eq!(e.setting(0, 2).unwrap().generator, Fit::Ridge { lambda: 0.1 });
        let clean_gen = CollapseExperiment::parse(&edited("generator = \"ridge:0.1\"", "generator = \"ridge:clean\""), &[]).unwrap();
        let Fit::Ridge { lambda } = clean_gen.setting(1, 2).unwrap().generator else { panic!("ridge") };
        assert!((lambda - 0.04 * 5.0 / 50.0).abs() < 1e-15, "σ₀²d/T₀: {lambda}");
        let g = BestGrid { min: 0.01, max: 100.0, points: 5 }.values();
        assert!(g.iter().zip([0.01, 0.1, 1.0, 10.0, 100.0]).all(|(a, b)| (a - b).abs() < 1e-12 * b), "{g:?}");
        let o = CollapseExperiment::parse(BASE, &["generations=7".into(), "best_grid.points=9".into()]).unwrap();
        assert_eq!((o.generations, o.best_grid.points), (7, 9));
    }

    #[test]
    fn collapse_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("sigma = 0.5", "sigma = 0.5\nrho = 1"), &[], &["unknown field", "`rho`"]);
        err(&edited("kind = \"collapse\"", "kind = \"train\""), &[], &["`kind`", "collapse"]);
        err(&edited("seeds = [0, 1]", "seeds = []"), &[], &["`seeds`", "empty"]);
        err(&edited("seeds = [0, 1]", "seeds = [1, 1]"), &[], &["`seeds[1]`"]);
        err(BASE, &["replicates=0"], &["`replicates`"]);
        err(BASE, &["generations=0"], &["`generations`"]);
        err(BASE, &["best_grid.min=0"], &["`best_grid.min`"]);
        err(BASE, &["best_grid.min=1", "best_grid.max=0.5"], &["`best_grid.max`"]);
        err(BASE, &["best_grid.points=2"], &["`best_grid.points`"]);
        err(&edited("d = 10", "d = 0"), &[], &["`setting[0].d`"]);
        err(&edited("sigma = 0.5", "sigma = -0.5"), &[], &["`setting[0].sigma`"]);
        err(&edited("sigma0 = 0.2", "sigma0 = nan"), &[], &["`setting[1].sigma0`"]);
        err(&edited("d = 5\nt = 10\nt0 = 50", "d = 10\nt = 40\nt0 = 40"), &[], &["`setting[1]`", "repeats"]);
        err(&edited("downstream = \"ols\"", "downstream = \"lasso\""), &[], &["`method[0].downstream`", "lasso"]);
        err(&edited("downstream = \"ols\"", "downstream = \"ridge:-1\""), &[], &["`method[0].downstream`", "≥ 0"]);
        err(&edited("downstream = \"ols\"", "downstream = \"ridge:big\""), &[], &["`method[0].downstream`", "big"]);
        err(&edited("generator = \"ridge:0.1\"", "generator = \"ridge:adaptive\""), &[], &["`method[2].generator`", "adaptive"]);
        err(&edited("name = \"adaptive\"", "name = \"OLS\""), &[], &["`method[1].name`", "twice"]);
        // OLS downstream on T = 10 samples in d = 5 is fine (≥ d + 2), not on d + 1
        err(&edited("d = 5\nt = 10", "d = 5\nt = 6"), &[], &["`method[0].downstream`", "d + 2", "setting[1]"]);
        err(
            &edited("name = \"adaptive\"\ndownstream", "name = \"adaptive\"\ngenerator = \"ridge:1\"\ndownstream"),
            &[],
            &["`method[1].downstream`", "OLS generators"],
        );
    }
}

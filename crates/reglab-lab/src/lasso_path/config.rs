//! Experiment files of `kind = "lasso-path"`: the synthetic problem, the λ grid and the methods.
//! Every key is documented in `docs/experiments.md`; unknown keys are errors and every error
//! names its key.

use crate::experiment_file::{self, check_kind_and_name, check_method_keys, check_method_label, unknown_method};
use crate::linear::StepRule;
use crate::synthetic::{Amplitude, RegressionSpec};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "lasso-path";

/// The method names.
pub const METHOD_NAMES: [&str; 3] = ["subgradient", "ista", "fista"];

/// Default iterations of `subgradient` (exactly this many).
pub const DEFAULT_SUBGRADIENT_ITERATIONS: usize = 20_000;
/// Default most iterations of `ista`.
pub const DEFAULT_ISTA_ITERATIONS: usize = 200_000;
/// Default most iterations of `fista`.
pub const DEFAULT_FISTA_ITERATIONS: usize = 50_000;
/// Default tolerance of `ista` and `fista` (`‖w⁺ − y‖ ≤ tol ‖w⁺‖`).
pub const DEFAULT_TOL: f64 = 1e-6;

/// A whole lasso-path experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LassoPathExperiment {
    /// Always `"lasso-path"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// The synthetic regression problem.
    pub problem: ProblemConfig,
    /// The λ grid.
    pub path: PathConfig,
    /// The methods, each run at every λ.
    #[serde(rename = "method", default)]
    pub methods: Vec<MethodConfig>,
}

/// `[problem]`: see [`crate::synthetic`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemConfig {
    /// Examples n.
    pub n: usize,
    /// Features d.
    pub d: usize,
    /// Non-zeros of w*.
    pub k: usize,
    /// Noise standard deviation σ.
    pub noise: f64,
    /// Correlation of neighbouring columns of X (AR(1)).
    #[serde(default)]
    pub rho: f64,
    /// `sign` (±1) or `gaussian` amplitudes of w*.
    #[serde(default = "default_amplitude")]
    pub amplitude: String,
    /// Seed of the data.
    #[serde(default)]
    pub seed: u64,
}

fn default_amplitude() -> String {
    Amplitude::Sign.name().into()
}

/// `[path]`: either `lambdas`, or `lambda_min`, `lambda_max` and `points` (log-spaced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// The λ values, increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambdas: Option<Vec<f64>>,
    /// Smallest λ of a log-spaced grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_min: Option<f64>,
    /// Largest λ of a log-spaced grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_max: Option<f64>,
    /// Points of a log-spaced grid (≥ 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
}

/// `[[method]]`. Keys that do not apply to the method's `name` are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `subgradient`, `ista` or `fista`.
    pub name: String,
    /// Unique label (default: the name; `subgradient-sqrt` / `subgradient-adam` for those rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Step rule of `subgradient`: `constant` (default), `sqrt` or `adam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Step size η (absolute). Default `1/L` (`adam`: 10⁻³).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Iterations: exactly this many for `subgradient`, at most for `ista` and `fista`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Stopping tolerance of `ista` and `fista`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
}

/// What a method runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// Subgradient descent with a step rule.
    Subgradient(StepRule),
    /// Proximal gradient.
    Ista,
    /// Accelerated proximal gradient.
    Fista,
}

/// One resolved method.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// Unique label.
    pub label: String,
    /// What it runs.
    pub kind: MethodKind,
    /// η, or `None` for the default (`1/L`; `adam`: 10⁻³).
    pub step: Option<f64>,
    /// Iterations (exact for `subgradient`, most for the others).
    pub iterations: usize,
    /// Tolerance of `ista` and `fista` (unused by `subgradient`).
    pub tol: f64,
}

impl Method {
    /// `subgradient`, `ista` or `fista`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            MethodKind::Subgradient(_) => "subgradient",
            MethodKind::Ista => "ista",
            MethodKind::Fista => "fista",
        }
    }
}

fn positive_finite(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl LassoPathExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize, check
    /// every value and fill in the defaults. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let mut exp: LassoPathExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        exp.fill_defaults();
        Ok(exp)
    }

    /// The regression problem of `[problem]`.
    pub fn regression_spec(&self) -> Result<RegressionSpec, String> {
        let p = &self.problem;
        let amplitude =
            Amplitude::parse(&p.amplitude).ok_or_else(|| format!("`problem.amplitude` = \"{}\": expected \"sign\" or \"gaussian\"", p.amplitude))?;
        let spec = RegressionSpec { n: p.n, d: p.d, k: p.k, rho: p.rho, noise: p.noise, amplitude, seed: p.seed };
        spec.validate().map_err(|e| format!("`problem.{}` {}", e.key, e.why))?;
        Ok(spec)
    }

    /// The λ grid, increasing (call after [`LassoPathExperiment::parse`] or `validate`).
    pub fn lambdas(&self) -> Result<Vec<f64>, String> {
        let p = &self.path;
        match (&p.lambdas, p.lambda_min, p.lambda_max, p.points) {
            (Some(l), None, None, None) => {
                if l.is_empty() {
                    return Err("`path.lambdas` is empty: give at least one λ".into());
                }
                for (i, &v) in l.iter().enumerate() {
                    if !positive_finite(v) {
                        return Err(format!("`path.lambdas[{i}]` = {v}: each λ must be finite and > 0"));
                    }
                    if i > 0 && v <= l[i - 1] {
                        return Err(format!("`path.lambdas` must be increasing: [{i}] = {v} after {}", l[i - 1]));
                    }
                }
                Ok(l.clone())
            }
            (None, Some(lo), Some(hi), Some(points)) => {
                if !positive_finite(lo) {
                    return Err(format!("`path.lambda_min` must be finite and > 0, got {lo}"));
                }
                if !(positive_finite(hi) && hi > lo) {
                    return Err(format!("`path.lambda_max` must be finite and > `path.lambda_min` = {lo}, got {hi}"));
                }
                if points < 2 {
                    return Err(format!("`path.points` must be ≥ 2, got {points}"));
                }
                crate::experiment_file::check_grid_points("path.points", points)?;
                let ratio = (hi / lo).ln();
                Ok((0..points).map(|i| if i + 1 == points { hi } else { lo * (ratio * i as f64 / (points - 1) as f64).exp() }).collect())
            }
            (Some(_), ..) => Err("`path.lambdas` excludes `path.lambda_min`, `path.lambda_max` and `path.points`: give one form".into()),
            _ => Err("`path`: give `lambdas = [...]`, or all of `lambda_min`, `lambda_max` and `points`".into()),
        }
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        self.regression_spec()?;
        self.lambdas()?;
        if self.methods.is_empty() {
            return Err("no `[[method]]`: give at least one (name = \"subgradient\", \"ista\" or \"fista\")".into());
        }
        let mut labels: Vec<String> = Vec::new();
        for (i, m) in self.methods.iter().enumerate() {
            let key = |k: &str| format!("`method[{i}].{k}`");
            let allowed: &[&str] = match m.name.as_str() {
                "subgradient" => &["rule", "step", "iterations"],
                "ista" | "fista" => &["step", "iterations", "tol"],
                other => return Err(unknown_method(i, other, &METHOD_NAMES)),
            };
            let given = [("rule", m.rule.is_some()), ("tol", m.tol.is_some())];
            check_method_keys(i, &m.name, allowed, &given)?;
            if let Some(r) = &m.rule {
                StepRule::parse(r).ok_or_else(|| format!("{} = \"{r}\": expected \"constant\", \"sqrt\" or \"adam\"", key("rule")))?;
            }
            if let Some(s) = m.step.filter(|s| !positive_finite(*s)) {
                return Err(format!("{} must be finite and > 0, got {s}", key("step")));
            }
            if m.iterations == Some(0) {
                return Err(format!("{} must be ≥ 1", key("iterations")));
            }
            if let Some(t) = m.tol.filter(|t| !(*t >= 0.0 && t.is_finite())) {
                return Err(format!("{} must be finite and ≥ 0, got {t}", key("tol")));
            }
            let label = m.label.clone().unwrap_or_else(|| default_label(m));
            check_method_label(i, &label, &labels)?;
            labels.push(label);
        }
        Ok(())
    }

    /// Fill in every default that does not depend on the data, so that the resolved file
    /// (`config.toml`) says what ran; `step` stays absent when it is the default `1/L`.
    fn fill_defaults(&mut self) {
        for m in &mut self.methods {
            if m.label.is_none() {
                m.label = Some(default_label(m));
            }
            let default_iterations = match m.name.as_str() {
                "subgradient" => DEFAULT_SUBGRADIENT_ITERATIONS,
                "ista" => DEFAULT_ISTA_ITERATIONS,
                _ => DEFAULT_FISTA_ITERATIONS,
            };
            m.iterations.get_or_insert(default_iterations);
            if m.name == "subgradient" {
                m.rule.get_or_insert_with(|| StepRule::Constant.name().into());
            } else {
                m.tol.get_or_insert(DEFAULT_TOL);
            }
        }
    }

    /// The methods, in file order.
    pub fn methods(&self) -> Result<Vec<Method>, String> {
        self.validate()?;
        Ok(self
            .methods
            .iter()
            .map(|m| {
                let kind = match m.name.as_str() {
                    "subgradient" => MethodKind::Subgradient(m.rule.as_deref().and_then(StepRule::parse).unwrap_or(StepRule::Constant)),
                    "ista" => MethodKind::Ista,
                    _ => MethodKind::Fista,
                };
                let iterations = m.iterations.unwrap_or(match kind {
                    MethodKind::Subgradient(_) => DEFAULT_SUBGRADIENT_ITERATIONS,
                    MethodKind::Ista => DEFAULT_ISTA_ITERATIONS,
                    MethodKind::Fista => DEFAULT_FISTA_ITERATIONS,
                });
                Method {
                    label: m.label.clone().unwrap_or_else(|| default_label(m)),
                    kind,
                    step: m.step,
                    iterations,
                    tol: m.tol.unwrap_or(DEFAULT_TOL),
                }
            })
            .collect())
    }

    /// The resolved configuration as TOML (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serializes")
    }
}

/// `subgradient` (constant rule), `subgradient-sqrt`, `subgradient-adam`, `ista`, `fista`.
fn default_label(m: &MethodConfig) -> String {
    match (m.name.as_str(), m.rule.as_deref()) {
        ("subgradient", Some(r)) if r != "constant" => format!("subgradient-{r}"),
        (name, _) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
kind = "lasso-path"
name = "t"

[problem]
n = 20
d = 40
k = 4
noise = 0.1
seed = 3

[path]
lambda_min = 0.01
lambda_max = 1.0
points = 3

[[method]]
name = "subgradient"
iterations = 100

[[method]]
name = "subgradient"
rule = "sqrt"
step = 0.05

[[method]]
name = "ista"

[[method]]
name = "fista"
tol = 1e-8
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(LassoPathExperiment::parse, text, overrides, want);
    }

    /// Found with the `experiment` fuzz target (fuzz/): `points = 4000000000000` asked for a
    /// 32 TB grid while the file was checked (an abort, not an error).
    #[test]
    fn fuzz_huge_path_points_is_an_error_not_an_allocation() {
        err(BASE, &["path.points=4000000000000"], &["`path.points`", "≤ 10000", "4000000000000"]);
        assert!(LassoPathExperiment::parse(BASE, &["path.points=10000".into()]).is_ok());
    }

    #[test]
    fn lasso_path_config_parses_with_defaults_and_round_trips() {
        let e = LassoPathExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.problem.rho, e.problem.amplitude.as_str(), e.problem.seed), (0.0, "sign", 3));
        let l = e.lambdas().unwrap();
        assert_eq!(l.len(), 3);
        assert!((l[0] - 0.01).abs() < 1e-15 && (l[1] - 0.1).abs() < 1e-12 && l[2] == 1.0, "{l:?}");
        let m = e.methods().unwrap();
        assert_eq!(m.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["subgradient", "subgradient-sqrt", "ista", "fista"]);
        assert_eq!(m[0].kind, MethodKind::Subgradient(StepRule::Constant));
        assert_eq!((m[0].iterations, m[0].step), (100, None));
        assert_eq!((m[1].kind, m[1].step, m[1].iterations), (MethodKind::Subgradient(StepRule::Sqrt), Some(0.05), DEFAULT_SUBGRADIENT_ITERATIONS));
        assert_eq!((m[2].kind, m[2].iterations, m[2].tol), (MethodKind::Ista, DEFAULT_ISTA_ITERATIONS, DEFAULT_TOL));
        assert_eq!((m[3].kind, m[3].iterations, m[3].tol), (MethodKind::Fista, DEFAULT_FISTA_ITERATIONS, 1e-8));
        assert_eq!(m[3].name(), "fista");
        let resolved = e.to_toml();
        assert!(resolved.contains("rule = \"constant\"") && resolved.contains("amplitude = \"sign\""), "{resolved}");
        assert_eq!(LassoPathExperiment::parse(&resolved, &[]).unwrap(), e);
        let spec = e.regression_spec().unwrap();
        assert_eq!((spec.n, spec.d, spec.k, spec.noise, spec.seed), (20, 40, 4, 0.1, 3));
        // the explicit form, and overrides
        let both = LassoPathExperiment::parse(BASE, &["path.lambdas=[0.5, 2.0]".into()]).unwrap_err();
        assert!(both.contains("excludes"), "{both}");
        let t = edited("lambda_min = 0.01\nlambda_max = 1.0\npoints = 3", "lambdas = [0.5, 2.0]");
        let o = LassoPathExperiment::parse(&t, &["method.0.rule=adam".into(), "problem.amplitude=gaussian".into()]).unwrap();
        assert_eq!(o.lambdas().unwrap(), [0.5, 2.0]);
        assert_eq!(o.methods().unwrap()[0].label, "subgradient-adam");
        assert_eq!(o.regression_spec().unwrap().amplitude, Amplitude::Gaussian);
    }

    #[test]
    fn lasso_path_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("seed = 3", "seed = 3\nm = 3"), &[], &["unknown field", "`m`"]);
        err(&edited("points = 3", "points = 3\nlambda = 1"), &[], &["unknown field", "`lambda`"]);
        err(&edited("iterations = 100", "iterations = 100\nlr = 1"), &[], &["unknown field", "`lr`"]);
        err(&edited("kind = \"lasso-path\"", "kind = \"train\""), &[], &["`kind`", "lasso-path"]);
        err(&edited("n = 20", "n = 0"), &[], &["problem.n"]);
        err(&edited("d = 40", "d = 0"), &[], &["problem.d"]);
        err(&edited("k = 4", "k = 41"), &[], &["problem.k", "d = 40"]);
        err(&edited("noise = 0.1", "noise = -1.0"), &[], &["problem.noise"]);
        err(&edited("seed = 3", "seed = 3\nrho = 1.0"), &[], &["problem.rho"]);
        err(&edited("seed = 3", "seed = 3\namplitude = \"uniform\""), &[], &["problem.amplitude", "uniform"]);
        err(&edited("noise = 0.1\n", ""), &[], &["missing field", "`noise`"]);
        err(&edited("lambda_min = 0.01", "lambda_min = 0.0"), &[], &["path.lambda_min"]);
        err(&edited("lambda_max = 1.0", "lambda_max = 0.001"), &[], &["path.lambda_max"]);
        err(&edited("points = 3", "points = 1"), &[], &["path.points"]);
        err(&edited("points = 3\n", ""), &[], &["`path`", "lambda_min"]);
        err(&edited("points = 3", "points = 3\nlambdas = [1.0]"), &[], &["path.lambdas", "excludes"]);
        let explicit = |l: &str| edited("lambda_min = 0.01\nlambda_max = 1.0\npoints = 3", &format!("lambdas = {l}"));
        err(&explicit("[]"), &[], &["path.lambdas", "empty"]);
        err(&explicit("[0.1, -1.0]"), &[], &["path.lambdas[1]"]);
        err(&explicit("[0.1, nan]"), &[], &["path.lambdas[1]"]);
        err(&explicit("[0.1, 0.1]"), &[], &["path.lambdas", "increasing"]);
        err(&edited("name = \"ista\"", "name = \"lars\""), &[], &["method[2].name", "lars"]);
        err(&edited("name = \"ista\"", "name = \"ista\"\nrule = \"sqrt\""), &[], &["method[2].rule", "ista"]);
        err(&edited("iterations = 100", "iterations = 100\ntol = 1e-3"), &[], &["method[0].tol", "subgradient"]);
        err(&edited("rule = \"sqrt\"", "rule = \"cosine\""), &[], &["method[1].rule", "cosine"]);
        err(&edited("step = 0.05", "step = 0.0"), &[], &["method[1].step"]);
        err(&edited("step = 0.05", "step = inf"), &[], &["method[1].step"]);
        err(&edited("iterations = 100", "iterations = 0"), &[], &["method[0].iterations"]);
        err(&edited("tol = 1e-8", "tol = -1.0"), &[], &["method[3].tol"]);
        err(&edited("rule = \"sqrt\"", "rule = \"constant\""), &[], &["method[1].label", "`subgradient`"]);
        err(&edited("name = \"fista\"", "name = \"fista\"\nlabel = \"ista\""), &[], &["method[3].label", "`ista`"]);
        err(&BASE[..BASE.find("[[method]]").unwrap()], &[], &["[[method]]"]);
        err(&edited("[path]", "[path"), &[], &["TOML parse error", "line"]);
        err(BASE, &["problem.n=0"], &["problem.n"]);
        err(BASE, &["method.9.step=1"], &["out of range"]);
    }
}

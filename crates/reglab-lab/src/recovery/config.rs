//! Experiment files of `kind = "cs-recovery"`: the problem grid and the methods. Every key is
//! documented in `docs/experiments.md`; unknown keys are errors and every error names its key.

use super::solve::{Method, MethodKind, Start};
use crate::experiment_file::{self, check_kind_and_name, check_method_keys, check_method_label, unknown_method};
use serde::{Deserialize, Serialize};

/// The value of `kind` that selects this experiment type.
pub const KIND: &str = "cs-recovery";

/// The method names.
pub const METHOD_NAMES: [&str; 4] = ["cs", "cs-affine", "box", "linf"];

/// Defaults of the method keys.
pub const DEFAULT_RESTARTS: usize = 10;
/// Iterations per start (the official script's `opts.maxIters` and `Linf_max_iter`).
pub const DEFAULT_MAX_ITERS: usize = 10_000;
/// Stagnation tolerance.
pub const DEFAULT_TOL: f64 = 1e-12;
/// Douglas–Rachford step of `linf` (the official `Linf_t`).
pub const DEFAULT_T: f64 = 10.0;

/// A whole recovery experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryExperiment {
    /// Always `"cs-recovery"`.
    pub kind: String,
    /// Name: report title, default run directory.
    pub name: String,
    /// The question (a paragraph for the report).
    #[serde(default)]
    pub question: String,
    /// Seed of every random draw.
    #[serde(default)]
    pub seed: u64,
    /// The problem grid.
    pub problem: ProblemConfig,
    /// The methods, compared on the same trials.
    #[serde(rename = "method", default)]
    pub methods: Vec<MethodConfig>,
}

/// `[problem]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemConfig {
    /// Unknowns N.
    pub n: usize,
    /// M/N values; M = round(N · ratio).
    pub ratios: Vec<f64>,
    /// Trials per ratio.
    pub trials: usize,
    /// Relative error `‖x̂ − x‖ / ‖x‖` below which a result is exact (the official `thr_rec`).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    1e-2
}

/// `[[method]]`. Keys that do not apply to the method's `name` are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `cs`, `cs-affine`, `box` or `linf`.
    pub name: String,
    /// Unique label (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// λ of `cs` (required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// Starts of `cs` and `cs-affine`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<usize>,
    /// First start of `cs` and `cs-affine`: `random` or `least-norm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Douglas–Rachford step of `linf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// Iterations per start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iters: Option<usize>,
    /// Stagnation tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    /// Stop and restart with the official script's oracle rule (uses the true x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<bool>,
}

impl RecoveryExperiment {
    /// Parse TOML text, apply `key=value` overrides (as `reglab run --set`), deserialize, check
    /// every value and fill in the defaults. Errors are one line and name the key.
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self, String> {
        let mut exp: RecoveryExperiment = experiment_file::deserialize(text, overrides)?;
        exp.validate()?;
        exp.fill_defaults();
        Ok(exp)
    }

    /// Check values that types do not rule out, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        check_kind_and_name(&self.kind, &self.name, KIND)?;
        let p = &self.problem;
        if p.n == 0 {
            return Err("`problem.n` must be ≥ 1".into());
        }
        if p.trials == 0 {
            return Err("`problem.trials` must be ≥ 1".into());
        }
        if !(p.threshold > 0.0 && p.threshold.is_finite()) {
            return Err(format!("`problem.threshold` must be finite and > 0, got {}", p.threshold));
        }
        if p.ratios.is_empty() {
            return Err("`problem.ratios` is empty: give at least one M/N".into());
        }
        for (i, &r) in p.ratios.iter().enumerate() {
            if !(r > 0.0 && r <= 2.0) {
                return Err(format!("`problem.ratios[{i}]` = {r}: each M/N must be in (0, 2]"));
            }
            if m_of(p.n, r) == 0 {
                return Err(format!("`problem.ratios[{i}]` = {r} gives M = round({} · {r}) = 0 rows", p.n));
            }
            if i > 0 && r <= p.ratios[i - 1] {
                return Err(format!("`problem.ratios` must be increasing: [{i}] = {r} after {}", p.ratios[i - 1]));
            }
        }
        if self.methods.is_empty() {
            return Err("no `[[method]]`: give at least one (name = \"cs\", \"cs-affine\", \"box\" or \"linf\")".into());
        }
        for (i, m) in self.methods.iter().enumerate() {
            let key = |k: &str| format!("`method[{i}].{k}`");
            let label = m.label.as_ref().unwrap_or(&m.name);
            check_method_label(i, label, self.methods[..i].iter().map(|o| o.label.as_ref().unwrap_or(&o.name)))?;
            let allowed: &[&str] = match m.name.as_str() {
                "cs" => &["lambda", "restarts", "start"],
                "cs-affine" => &["restarts", "start"],
                "box" => &[],
                "linf" => &["t"],
                other => return Err(unknown_method(i, other, &METHOD_NAMES)),
            };
            let given = [("lambda", m.lambda.is_some()), ("restarts", m.restarts.is_some()), ("start", m.start.is_some()), ("t", m.t.is_some())];
            check_method_keys(i, &m.name, allowed, &given)?;
            if m.name == "cs" {
                match m.lambda {
                    None => return Err(format!("{} is required for name = \"cs\"", key("lambda"))),
                    Some(l) if !(l >= 0.0 && l.is_finite()) => return Err(format!("{} must be finite and ≥ 0, got {l}", key("lambda"))),
                    _ => {}
                }
            }
            if m.restarts == Some(0) {
                return Err(format!("{} must be ≥ 1", key("restarts")));
            }
            if let Some(s) = &m.start {
                parse_start(s).ok_or_else(|| format!("{} = \"{s}\": expected \"random\" or \"least-norm\"", key("start")))?;
            }
            if let Some(t) = m.t.filter(|t| !(*t > 0.0 && t.is_finite())) {
                return Err(format!("{} must be finite and > 0, got {t}", key("t")));
            }
            if m.max_iters == Some(0) {
                return Err(format!("{} must be ≥ 1", key("max_iters")));
            }
            if let Some(t) = m.tol.filter(|t| !(*t >= 0.0 && t.is_finite())) {
                return Err(format!("{} must be finite and ≥ 0, got {t}", key("tol")));
            }
        }
        Ok(())
    }

    /// Fill in every default, so that the resolved file (`config.toml`) says what ran.
    fn fill_defaults(&mut self) {
        for m in &mut self.methods {
            m.label.get_or_insert_with(|| m.name.clone());
            if m.name == "cs" || m.name == "cs-affine" {
                m.restarts.get_or_insert(DEFAULT_RESTARTS);
                m.start.get_or_insert_with(|| "random".into());
            }
            if m.name == "linf" {
                m.t.get_or_insert(DEFAULT_T);
            }
            m.max_iters.get_or_insert(DEFAULT_MAX_ITERS);
            m.tol.get_or_insert(DEFAULT_TOL);
            m.oracle.get_or_insert(false);
        }
    }

    /// The methods, in file order (call after [`RecoveryExperiment::parse`] or `validate`).
    pub fn methods(&self) -> Result<Vec<Method>, String> {
        self.validate()?;
        Ok(self
            .methods
            .iter()
            .map(|m| {
                let start = m.start.as_deref().and_then(parse_start).unwrap_or(Start::Random);
                let restarts = m.restarts.unwrap_or(DEFAULT_RESTARTS);
                let kind = match m.name.as_str() {
                    "cs" => MethodKind::Cs { lambda: m.lambda.unwrap_or(0.0), restarts, start },
                    "cs-affine" => MethodKind::CsAffine { restarts, start },
                    "box" => MethodKind::Box,
                    _ => MethodKind::Linf { t: m.t.unwrap_or(DEFAULT_T) },
                };
                Method {
                    label: m.label.clone().unwrap_or_else(|| m.name.clone()),
                    kind,
                    max_iters: m.max_iters.unwrap_or(DEFAULT_MAX_ITERS),
                    tol: m.tol.unwrap_or(DEFAULT_TOL),
                    oracle: m.oracle.unwrap_or(false),
                }
            })
            .collect())
    }

    /// The resolved configuration as TOML (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serializes")
    }
}

/// M = round(N · ratio) (MATLAB's `round`: halves away from zero).
pub fn m_of(n: usize, ratio: f64) -> usize {
    (n as f64 * ratio).round() as usize
}

fn parse_start(s: &str) -> Option<Start> {
    match s {
        "random" => Some(Start::Random),
        "least-norm" => Some(Start::LeastNorm),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
kind = "cs-recovery"
name = "t"
seed = 3

[problem]
n = 20
ratios = [0.2, 0.5, 1.0]
trials = 4

[[method]]
name = "cs"
lambda = 0.01

[[method]]
name = "cs-affine"
restarts = 2

[[method]]
name = "box"

[[method]]
name = "linf"
"#;

    fn edited(from: &str, to: &str) -> String {
        crate::experiment_file::testing::edited(BASE, from, to)
    }

    fn err(text: &str, overrides: &[&str], want: &[&str]) {
        crate::experiment_file::testing::assert_parse_error(RecoveryExperiment::parse, text, overrides, want);
    }

    /// Found by review with the `experiment` fuzz target (fuzz/): the work total (ratios × trials)
    /// overflowed for `trials = 9223372036854775807` (a panic in builds with overflow checks).
    #[test]
    fn fuzz_huge_trials_saturate_the_work_total() {
        use crate::kind::Prepared;
        let e = RecoveryExperiment::parse(BASE, &["problem.trials=9223372036854775807".into()]).unwrap();
        assert_eq!(e.work().0, u64::MAX);
    }

    #[test]
    fn recovery_config_parses_with_defaults_and_round_trips() {
        let e = RecoveryExperiment::parse(BASE, &[]).unwrap();
        assert_eq!((e.seed, e.problem.n, e.problem.trials, e.problem.threshold), (3, 20, 4, 1e-2));
        let m = e.methods().unwrap();
        assert_eq!(m.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["cs", "cs-affine", "box", "linf"]);
        assert_eq!(m[0].kind, MethodKind::Cs { lambda: 0.01, restarts: 10, start: Start::Random });
        assert_eq!(m[1].kind, MethodKind::CsAffine { restarts: 2, start: Start::Random });
        assert_eq!(m[3].kind, MethodKind::Linf { t: 10.0 });
        assert!(m.iter().all(|m| m.max_iters == 10_000 && m.tol == DEFAULT_TOL && !m.oracle));
        let resolved = e.to_toml();
        assert!(resolved.contains("restarts = 10") && resolved.contains("t = 10.0"), "{resolved}");
        assert_eq!(RecoveryExperiment::parse(&resolved, &[]).unwrap(), e);
        assert_eq!(crate::experiment_file::file_kind(BASE, &[]).as_deref(), Some(KIND));
        assert_eq!(crate::experiment_file::file_kind("name = \"x\"", &[]), None);
        assert_eq!(crate::experiment_file::file_kind("name = \"x\"", &["kind=cs-recovery".into()]).as_deref(), Some(KIND));
        let o = RecoveryExperiment::parse(BASE, &["problem.trials=9".into(), "method.1.start=least-norm".into()]).unwrap();
        assert_eq!(o.problem.trials, 9);
        assert_eq!(o.methods().unwrap()[1].kind, MethodKind::CsAffine { restarts: 2, start: Start::LeastNorm });
        assert_eq!(m_of(100, 0.125), 13);
        assert_eq!(m_of(100, 0.35), 35);
    }

    #[test]
    fn recovery_config_errors_name_the_key() {
        err(&format!("colour = 1\n{BASE}"), &[], &["unknown field", "`colour`"]);
        err(&edited("trials = 4", "trials = 4\nm = 3"), &[], &["unknown field", "`m`"]);
        err(&edited("restarts = 2", "restarts = 2\nlamda = 1"), &[], &["unknown field", "`lamda`"]);
        err(&edited("kind = \"cs-recovery\"", "kind = \"train\""), &[], &["`kind`", "cs-recovery"]);
        err(&edited("n = 20", "n = 0"), &[], &["problem.n"]);
        err(&edited("n = 20", "n = -1"), &[], &["problem.n"]);
        err(&edited("trials = 4", "trials = 0"), &[], &["problem.trials"]);
        err(&edited("[0.2, 0.5, 1.0]", "[]"), &[], &["problem.ratios", "empty"]);
        err(&edited("[0.2, 0.5, 1.0]", "[0.0, 0.5]"), &[], &["problem.ratios[0]", "(0, 2]"]);
        err(&edited("[0.2, 0.5, 1.0]", "[0.5, 2.5]"), &[], &["problem.ratios[1]", "(0, 2]"]);
        err(&edited("[0.2, 0.5, 1.0]", "[0.5, nan]"), &[], &["problem.ratios[1]"]);
        err(&edited("[0.2, 0.5, 1.0]", "[0.5, 0.2]"), &[], &["problem.ratios", "increasing"]);
        err(&edited("[0.2, 0.5, 1.0]", "[0.01, 0.5]"), &[], &["problem.ratios[0]", "M = round"]);
        err(&edited("trials = 4", "trials = 4\nthreshold = 0"), &[], &["problem.threshold"]);
        err(&edited("lambda = 0.01", "lambda = -1.0"), &[], &["method[0].lambda"]);
        err(&edited("lambda = 0.01", "lambda = inf"), &[], &["method[0].lambda"]);
        err(&edited("lambda = 0.01", "restarts = 3"), &[], &["method[0].lambda", "required"]);
        err(&edited("restarts = 2", "restarts = 0"), &[], &["method[1].restarts"]);
        err(&edited("restarts = 2", "lambda = 1.0"), &[], &["method[1].lambda", "cs-affine"]);
        err(&edited("name = \"box\"", "name = \"box\"\nrestarts = 1"), &[], &["method[2].restarts", "box"]);
        err(&edited("name = \"box\"", "name = \"boxx\""), &[], &["method[2].name", "boxx"]);
        err(&edited("name = \"box\"", "name = \"linf\""), &[], &["method[3].label", "`linf`"]);
        err(&edited("name = \"linf\"", "name = \"linf\"\nt = 0"), &[], &["method[3].t"]);
        err(&edited("name = \"linf\"", "name = \"linf\"\ntol = -1"), &[], &["method[3].tol"]);
        err(&edited("name = \"linf\"", "name = \"linf\"\nmax_iters = 0"), &[], &["method[3].max_iters"]);
        err(&edited("restarts = 2", "start = \"zero\""), &[], &["method[1].start", "zero"]);
        err(&BASE[..BASE.find("[[method]]").unwrap()], &[], &["[[method]]"]);
        err(BASE, &["problem.n=0"], &["problem.n"]);
        err(BASE, &["method.7.lambda=1"], &["out of range"]);
    }
}

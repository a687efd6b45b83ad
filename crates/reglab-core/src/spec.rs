//! Regularizer specs: `NAME=λ[:key=value,...]`.
//!
//! The same string names a regularizer on the command line, in experiment files, in `reglab
//! list` and in result files, e.g. `l2=1e-4`, `spectral=1e-2:k=2`,
//! `l1=1e-5:select=layers.0.weight`. Options are separated by `:` or `,`.
//!
//! A few options are common to every regularizer and are consumed by the core, not by the
//! regularizer itself (see [`Common`]): `select` (name pattern of the tensors it sees),
//! `schedule` (`constant`, `warmup`, `cosine`, `exp`), `warmup` (steps), and for `exp`
//! `factor`, `every` (steps) and `max` (a cap on λ_t).

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;

/// A parsed spec: name, strength λ and the options in the order given. In configuration files
/// it is the string as written (parsed when read, so a bad spec fails there).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Spec {
    /// Regularizer name, e.g. `spectral`.
    pub name: String,
    /// Strength λ ≥ 0, finite.
    pub strength: f64,
    /// Options `key=value`, sorted by key.
    pub options: BTreeMap<String, String>,
    raw: String,
}

impl Spec {
    /// Parse `NAME=λ[:key=value,...]`. λ must be finite and non-negative.
    pub fn parse(s: &str) -> Result<Self> {
        let raw = s.trim().to_string();
        let bad = |why: &str| Error::Spec { spec: raw.clone(), why: why.to_string() };
        let (name, rest) = raw.split_once('=').ok_or_else(|| bad("expected NAME=STRENGTH, e.g. `l2=1e-4`"))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(bad("the name must be letters, digits and `-`"));
        }
        let mut parts = rest.split([':', ',']);
        let lam_str = parts.next().unwrap_or("").trim();
        let strength: f64 = lam_str.parse().map_err(|_| bad(&format!("strength `{lam_str}` is not a number")))?;
        if !strength.is_finite() {
            return Err(bad(&format!("strength must be finite, got `{lam_str}`")));
        }
        if strength < 0.0 {
            return Err(bad(&format!("strength must be non-negative, got {strength}")));
        }
        let mut options = BTreeMap::new();
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').ok_or_else(|| bad(&format!("option `{part}` is not key=value")))?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return Err(bad(&format!("option `{part}` is not key=value")));
            }
            if options.insert(k.to_string(), v.to_string()).is_some() {
                return Err(bad(&format!("option `{k}` given twice")));
            }
        }
        Ok(Self { name: name.to_string(), strength, options, raw })
    }

    /// The spec as written by the user.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Take the options a regularizer understands. Build one with [`Spec::options`], read each
    /// key with [`Options::f64`] and friends, and finish with [`Options::finish`], which rejects
    /// keys nobody read.
    pub fn options(&self) -> Options<'_> {
        let mut remaining = self.options.clone();
        for k in Common::KEYS {
            remaining.remove(*k);
        }
        Options { spec: self, remaining }
    }

    /// The options common to every regularizer (selection, schedule).
    pub fn common(&self) -> Result<Common> {
        Common::from_spec(self)
    }

    fn err(&self, why: String) -> Error {
        Error::Spec { spec: self.raw.clone(), why }
    }
}

impl TryFrom<String> for Spec {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<Spec> for String {
    fn from(s: Spec) -> String {
        s.raw
    }
}

/// A spec, or a string to parse into one: what the builders of specs take, so a caller with
/// parsed specs does not parse them again.
pub trait AsSpec {
    /// The parsed spec.
    fn to_spec(&self) -> Result<Spec>;
}

impl AsSpec for Spec {
    fn to_spec(&self) -> Result<Spec> {
        Ok(self.clone())
    }
}

impl AsSpec for String {
    fn to_spec(&self) -> Result<Spec> {
        Spec::parse(self)
    }
}

impl AsSpec for &str {
    fn to_spec(&self) -> Result<Spec> {
        Spec::parse(self)
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.strength)?;
        for (k, v) in &self.options {
            write!(f, ":{k}={v}")?;
        }
        Ok(())
    }
}

/// The names of `specs` in order, made unique by the whole spec where a name repeats (the
/// labels of a sum's terms in results: `l2`, or `l2=0.1` and `l2=0.2` for two `l2` terms).
pub fn unique_labels(specs: &[&Spec]) -> Vec<String> {
    specs
        .iter()
        .map(|t| {
            let dup = specs.iter().filter(|u| u.name == t.name).count() > 1;
            if dup { t.to_string() } else { t.name.clone() }
        })
        .collect()
}

/// Reader of a spec's regularizer-specific options.
pub struct Options<'a> {
    spec: &'a Spec,
    remaining: BTreeMap<String, String>,
}

impl Options<'_> {
    fn take_parsed<T: std::str::FromStr>(&mut self, key: &str, what: &str) -> Result<Option<T>> {
        match self.remaining.remove(key) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| self.spec.err(format!("option `{key}={v}`: expected {what}"))),
        }
    }

    /// A finite real option, or `default`.
    pub fn f64(&mut self, key: &str, default: f64) -> Result<f64> {
        let v = self.take_parsed::<f64>(key, "a number")?.unwrap_or(default);
        if !v.is_finite() {
            return Err(self.spec.err(format!("option `{key}` must be finite")));
        }
        Ok(v)
    }

    /// A finite real option, if given.
    pub fn f64_opt(&mut self, key: &str) -> Result<Option<f64>> {
        let v = self.take_parsed::<f64>(key, "a number")?;
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(self.spec.err(format!("option `{key}` must be finite")));
        }
        Ok(v)
    }

    /// A non-negative integer option, or `default`.
    pub fn usize(&mut self, key: &str, default: usize) -> Result<usize> {
        Ok(self.take_parsed::<usize>(key, "a non-negative integer")?.unwrap_or(default))
    }

    /// A free string option (e.g. a glob pattern), if given; an empty value is an error.
    pub fn string_opt(&mut self, key: &str) -> Result<Option<String>> {
        match self.remaining.remove(key) {
            Some(v) if v.trim().is_empty() => Err(self.spec.err(format!("option `{key}` is empty"))),
            v => Ok(v),
        }
    }

    /// A string option restricted to `allowed`, or `default`.
    pub fn choice(&mut self, key: &str, allowed: &[&str], default: &str) -> Result<String> {
        match self.remaining.remove(key) {
            None => Ok(default.to_string()),
            Some(v) if allowed.contains(&v.as_str()) => Ok(v),
            Some(v) => Err(self.spec.err(format!("option `{key}={v}`: expected one of {}", allowed.join(", ")))),
        }
    }

    /// Fail if a check on a read value does not hold.
    pub fn ensure(&self, ok: bool, why: impl Into<String>) -> Result<()> {
        if ok { Ok(()) } else { Err(self.spec.err(why.into())) }
    }

    /// Reject every option that was not read.
    pub fn finish(self) -> Result<()> {
        if let Some(k) = self.remaining.keys().next() {
            return Err(self.spec.err(format!("unknown option `{k}` for `{}` (common options: {})", self.spec.name, Common::KEYS.join(", "))));
        }
        Ok(())
    }
}

/// Options every regularizer accepts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Common {
    /// `select=PATTERN`: glob over tensor names (`*` any run, `?` one char); `|` separates
    /// alternatives. `None`: the default selection of the caller.
    pub select: Option<String>,
    /// `schedule=constant|warmup|cosine` with `warmup=STEPS` (for `warmup`, and as a warm-up
    /// phase before `cosine`); `schedule=exp:factor=F[:every=STEPS][:max=Λ]` for
    /// `λ_t = min(λ·F^⌊t/every⌋, Λ)` (`F > 0`, `every ≥ 1`, default 1; `Λ ≥ λ`, default none). For a
    /// growth once per epoch, `every` is the number of optimizer steps per epoch.
    pub schedule: crate::schedule::Schedule,
    /// `until=STEPS`: the term acts on optimizer steps `0 .. STEPS` only (λ_t = 0 from step
    /// `STEPS` on, whatever the schedule), e.g. a sparsifying penalty stopped where pruning
    /// takes over.
    pub until: Option<u64>,
}

impl Common {
    /// Keys consumed by the core.
    pub const KEYS: &'static [&'static str] = &["select", "schedule", "warmup", "factor", "every", "max", "until"];

    fn from_spec(spec: &Spec) -> Result<Self> {
        let select = spec.options.get("select").cloned();
        if let Some(p) = &select {
            crate::select::Selection::pattern(p).map_err(|e| spec.err(e))?;
        }
        let warmup = match spec.options.get("warmup") {
            None => 0,
            Some(v) => v.parse::<u64>().map_err(|_| spec.err(format!("option `warmup={v}`: expected a number of steps")))?,
        };
        let kind = spec.options.get("schedule").map(String::as_str).unwrap_or(if warmup > 0 { "warmup" } else { "constant" });
        use crate::schedule::Schedule;
        if kind != "exp" {
            for k in ["factor", "every", "max"] {
                if spec.options.contains_key(k) {
                    return Err(spec.err(format!("`{k}` needs schedule=exp")));
                }
            }
        }
        let schedule = match kind {
            "constant" if warmup == 0 => Schedule::Constant,
            "constant" => return Err(spec.err("`warmup` needs schedule=warmup or cosine".into())),
            "warmup" if warmup == 0 => return Err(spec.err("schedule=warmup needs warmup=STEPS > 0".into())),
            "warmup" => Schedule::Warmup { steps: warmup },
            "cosine" => Schedule::Cosine { warmup },
            "exp" if warmup > 0 => return Err(spec.err("`warmup` needs schedule=warmup or cosine, not exp".into())),
            "exp" => Self::exp(spec)?,
            other => {
                return Err(spec.err(format!("option `schedule={other}`: expected constant, warmup, cosine or exp")));
            }
        };
        let until = match spec.options.get("until") {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(u) if u >= 1 => Some(u),
                _ => return Err(spec.err(format!("option `until={v}`: expected a number of steps ≥ 1"))),
            },
        };
        Ok(Self { select, schedule, until })
    }

    /// `schedule=exp`: `factor` (required, finite, > 0), `every` (≥ 1, default 1), `max`
    /// (finite, ≥ λ; stored as the cap `max/λ` on the factor).
    fn exp(spec: &Spec) -> Result<crate::schedule::Schedule> {
        let number = |k: &str| -> Result<Option<f64>> {
            match spec.options.get(k) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Some(x)),
                    _ => Err(spec.err(format!("option `{k}={v}`: expected a finite number"))),
                },
            }
        };
        let factor = number("factor")?.ok_or_else(|| spec.err("schedule=exp needs factor=F, e.g. factor=1.05".into()))?;
        if factor <= 0.0 {
            return Err(spec.err(format!("option `factor={factor}`: must be > 0")));
        }
        let every = match spec.options.get("every") {
            None => 1,
            Some(v) => match v.parse::<u64>() {
                Ok(e) if e >= 1 => e,
                _ => return Err(spec.err(format!("option `every={v}`: expected a number of steps ≥ 1"))),
            },
        };
        let cap = match number("max")? {
            None => f64::INFINITY,
            Some(m) if m < spec.strength => {
                return Err(spec.err(format!("option `max={m}`: the cap on λ_t must be ≥ λ = {}", spec.strength)));
            }
            // λ = 0: λ_t is 0 whatever the factor, the cap plays no role
            Some(_) if spec.strength == 0.0 => f64::INFINITY,
            Some(m) => m / spec.strength,
        };
        Ok(crate::schedule::Schedule::Exp { factor, every, cap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_strength_and_options() {
        let s = Spec::parse("spectral=1e-2:k=3").unwrap();
        assert_eq!(s.name, "spectral");
        assert_eq!(s.strength, 1e-2);
        assert_eq!(s.options.get("k").map(String::as_str), Some("3"));
        let s = Spec::parse("group-orth=0.5:groups=4,variant=intra").unwrap();
        assert_eq!(s.options.len(), 2);
        assert_eq!(s.to_string(), "group-orth=0.5:groups=4:variant=intra");
    }

    #[test]
    fn rejects_bad_strengths() {
        for bad in ["l2=-1", "l2=nan", "l2=inf", "l2=abc", "l2=", "l2", "=1", "l 2=1"] {
            let e = Spec::parse(bad).unwrap_err();
            assert!(matches!(e, Error::Spec { .. }), "{bad}: {e}");
        }
        let msg = Spec::parse("l2=-1").unwrap_err().to_string();
        assert!(msg.contains("non-negative"), "{msg}");
    }

    #[test]
    fn rejects_malformed_and_duplicate_options() {
        assert!(Spec::parse("spectral=1:k").is_err());
        assert!(Spec::parse("spectral=1:k=2:k=3").is_err());
        assert!(Spec::parse("spectral=1:=2").is_err());
    }

    #[test]
    fn options_reader_checks_types_and_unknown_keys() {
        let s = Spec::parse("spectral=1:k=two").unwrap();
        assert!(s.options().f64("k", 2.0).is_err());
        let s = Spec::parse("spectral=1:kk=2").unwrap();
        let mut o = s.options();
        assert_eq!(o.f64("k", 2.0).unwrap(), 2.0);
        let e = o.finish().unwrap_err().to_string();
        assert!(e.contains("unknown option `kk`"), "{e}");
        // common keys are not the regularizer's business
        let s = Spec::parse("l2=1:select=*.weight:warmup=10").unwrap();
        s.options().finish().unwrap();
    }

    #[test]
    fn common_options() {
        use crate::schedule::Schedule;
        let c = Spec::parse("l2=1:warmup=100").unwrap().common().unwrap();
        assert_eq!(c.schedule, Schedule::Warmup { steps: 100 });
        let c = Spec::parse("l2=1:schedule=cosine").unwrap().common().unwrap();
        assert_eq!(c.schedule, Schedule::Cosine { warmup: 0 });
        assert!(Spec::parse("l2=1:schedule=step").unwrap().common().is_err());
        assert!(Spec::parse("l2=1:schedule=warmup").unwrap().common().is_err());
        assert!(Spec::parse("l2=1:warmup=x").unwrap().common().is_err());
    }

    #[test]
    fn exp_schedule_options() {
        use crate::schedule::Schedule;
        let c = Spec::parse("hypersparse=5e-6:schedule=exp:factor=1.05:every=23").unwrap().common().unwrap();
        assert_eq!(c.schedule, Schedule::Exp { factor: 1.05, every: 23, cap: f64::INFINITY });
        // λ_t at steps: ×1.05 at the start of each period of 23 steps
        let s = c.schedule;
        assert_eq!(s.factor(22, 0), 1.0);
        assert_eq!(s.factor(23, 0), 1.05);
        assert_eq!(s.factor(46, 0), 1.05f64.powi(2));
        // every defaults to 1; max is a cap on λ_t, stored relative to λ
        let c = Spec::parse("l1=0.5:schedule=exp:factor=2:max=3").unwrap().common().unwrap();
        assert_eq!(c.schedule, Schedule::Exp { factor: 2.0, every: 1, cap: 6.0 });
        assert_eq!((0..5).map(|t| 0.5 * c.schedule.factor(t, 5)).collect::<Vec<_>>(), vec![0.5, 1.0, 2.0, 3.0, 3.0]);
        // the keys are common: a regularizer's own reader does not see them
        Spec::parse("l2=1:schedule=exp:factor=1.1:every=5:max=2").unwrap().options().finish().unwrap();
        // λ = 0 with a cap: fine, stays 0
        let c = Spec::parse("l2=0:schedule=exp:factor=2:max=1").unwrap().common().unwrap();
        assert_eq!(c.schedule.factor(3, 5) * 0.0, 0.0);
    }

    #[test]
    fn exp_schedule_bad_values_are_spec_errors() {
        for bad in [
            "l2=1:schedule=exp",          // no factor
            "l2=1:schedule=exp:factor=0", // factor must be > 0
            "l2=1:schedule=exp:factor=-1.05",
            "l2=1:schedule=exp:factor=inf",
            "l2=1:schedule=exp:factor=nan",
            "l2=1:schedule=exp:factor=x",
            "l2=1:schedule=exp:factor=1.05:every=0", // every ≥ 1
            "l2=1:schedule=exp:factor=1.05:every=-3",
            "l2=1:schedule=exp:factor=1.05:every=2.5",
            "l2=1:schedule=exp:factor=1.05:max=0.5", // cap below λ
            "l2=1:schedule=exp:factor=1.05:max=inf",
            "l2=1:schedule=exp:factor=1.05:warmup=10", // warm-up is not an exp option
            "l2=1:factor=1.05",                        // exp options without schedule=exp
            "l2=1:schedule=cosine:every=3",
            "l2=1:warmup=5:max=2",
        ] {
            let e = Spec::parse(bad).unwrap().common().unwrap_err();
            assert!(matches!(e, Error::Spec { .. }), "{bad}: {e}");
        }
        let msg = Spec::parse("l2=1:factor=2").unwrap().common().unwrap_err().to_string();
        assert!(msg.contains("needs schedule=exp"), "{msg}");
    }
}
